/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The container methods of the CRI RuntimeService on the lifecycle
 * context of the server environment (docs/pods.md). */

#include <protobuf-c/protobuf-c.h>

struct ocid_error;
struct server_call;

int cri_ctr_create(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_ctr_start(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_ctr_stop(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_ctr_remove(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_ctr_status(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_ctr_list(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_ctr_exec_sync(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_ctr_update(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_ctr_reopen_log(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
