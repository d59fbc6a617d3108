/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The infra container of a pod that shares one PID namespace between its
 * containers: ocid-pause as PID 1 of that namespace, in the pod's pinned
 * network, IPC and UTS namespaces, on a rootfs that holds only the pause
 * binary (no image pull). Its runtime ID is the pod's ID; its bundle is
 * <pod_dir>/infra. docs/pods.md, "The infra container". */

#include <stdint.h>

struct lifecycle;
struct pod_record;
struct ocid_error;

#define INFRA_DIR "infra"

/* Creates and starts the infra container; sets rec->infra_pid. On failure
 * nothing of it is left. */
int infra_create(struct lifecycle *lc, struct pod_record *rec, struct ocid_error **err);

/* Kills and deletes the infra container (idempotent); clears
 * rec->infra_pid. */
int infra_remove(struct lifecycle *lc, struct pod_record *rec, struct ocid_error **err);

/* The infra container's PID namespace as a path ("/proc/<pid>/ns/pid"),
 * after checking with the runtime that it is running; -EBUSY when not. */
int infra_pidns(struct lifecycle *lc, const struct pod_record *rec, char **ret, struct ocid_error **err);
