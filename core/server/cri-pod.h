/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The pod sandbox methods of the CRI RuntimeService: RunPodSandbox,
 * StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox, on
 * the lifecycle context of the server environment (docs/pods.md). */

#include <protobuf-c/protobuf-c.h>

struct ocid_error;
struct server_call;

int cri_pod_run(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_pod_stop(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_pod_remove(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_pod_status(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_pod_list(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
