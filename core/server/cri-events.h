/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* GetContainerEvents: a server-streaming call that sends every container
 * event (CONTAINER_CREATED, _STARTED, _STOPPED, _DELETED) from the
 * lifecycle's event bus (lifecycle/events.h), each with the pod's status
 * and the statuses of the pod's containers, as the kubelet's evented PLEG
 * reads them (docs/restart.md). */

#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

struct event;
struct ocid_error;
struct server_call;

/* The event bus's build callback (userdata: struct lifecycle *): the
 * packed ContainerEventResponse. */
struct event *cri_events_build(void *lifecycle, int32_t type, const char *container_id, const char *pod_id,
                               int64_t created_at);

int cri_events_get(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
