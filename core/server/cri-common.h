/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the pod and container CRI methods (server/cri-pod.c,
 * server/cri-container.c) both need from a call. */

#include "lifecycle/pod.h"

struct ocid_error;
struct server_call;

/* The server's lifecycle in *ret, or -EAGAIN "the <what> lifecycle is not
 * available" when the server runs without one. */
int cri_lifecycle(struct server_call *call, const char *what, struct lifecycle **ret, struct ocid_error **err);

/* The lifecycle's view of call: cancelled with it, and its deadline. */
struct lc_caller cri_caller(struct server_call *call);
