/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The container lifecycle: CreateContainer, StartContainer, StopContainer,
 * RemoveContainer, the lookups behind ContainerStatus and ListContainers,
 * ExecSync, UpdateContainerResources and ReopenContainerLog. A container
 * lives in a pod (lifecycle/pod.h), on a root file system from the storage
 * module, under a monitor started by its runtime handler's module.
 * docs/pods.md describes the behaviour. */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lifecycle/pod.h"
#include "runtime.h"
#include "server/cri-proto.h"

struct image_store;
struct ocid_error;

/* struct ctr_record, its states and its file are in lifecycle/records.h. */

struct lc_container {
        struct store_ref ref;
        pthread_mutex_t op_lock;  /* serialises start, stop, remove */
        pthread_mutex_t lock;     /* guards the mutable members of rec and `removed` */
        struct ctr_record rec;
        bool removed;
};

int ctr_create(struct lifecycle *lc, struct image_store *images, const char *pod_id,
               const Runtime__V1__ContainerConfig *cfg, const Runtime__V1__PodSandboxConfig *sandbox,
               char ret_id[65], struct ocid_error **err);
/* ctr_create for a caller that may go away (CreateContainer): a container
 * finished after its caller was cancelled is kept unclaimed, and a later
 * call with the same pod, config and sandbox config gets its ID
 * (lc_claim_reserve). */
int ctr_create_for(struct lifecycle *lc, struct image_store *images, const char *pod_id,
                   const Runtime__V1__ContainerConfig *cfg, const Runtime__V1__PodSandboxConfig *sandbox,
                   const struct lc_caller *caller, char ret_id[65], struct ocid_error **err);
int ctr_start(struct lifecycle *lc, const char *id, struct ocid_error **err);
/* timeout in seconds; 0 kills at once. A stopped container is success. */
int ctr_stop(struct lifecycle *lc, const char *id, int64_t timeout, struct ocid_error **err);
/* An unknown ID is success. */
int ctr_remove(struct lifecycle *lc, const char *id, struct ocid_error **err);

/* The runtime module's view of a container, pointing into r. */
void ctr_runtime_fill(const struct lifecycle *lc, const struct ctr_record *r, char *exit_dir,
                      struct ocid_runtime_container *rc);

struct lc_container *ctr_lookup(struct lifecycle *lc, const char *id, struct ocid_error **err);
void ctr_unref(struct lifecycle *lc, struct lc_container *c);
/* Reads the runtime's state into rec (exit code, reason...). */
void ctr_refresh(struct lifecycle *lc, struct lc_container *c);
bool ctr_matches_filter(const struct ctr_record *r, const Runtime__V1__ContainerFilter *f);
/* "Completed", "Error", "OOMKilled" for an exited container, else "". */
const char *ctr_reason(const struct ctr_record *r);

int ctr_exec_sync(struct lifecycle *lc, const char *id, char *const *cmd, size_t n_cmd, int64_t timeout_s,
                  struct ocid_runtime_exec_result *ret, struct ocid_error **err);
int ctr_update_resources(struct lifecycle *lc, const char *id, const Runtime__V1__LinuxContainerResources *res,
                         struct ocid_error **err);
int ctr_reopen_log(struct lifecycle *lc, const char *id, struct ocid_error **err);

/* Stops (timeout 0 kills) and removes every container of a pod; for
 * StopPodSandbox (remove = false) and RemovePodSandbox (remove = true). */
int ctr_stop_pod_containers(struct lifecycle *lc, const char *pod_id, bool remove, struct ocid_error **err);

/* The image store's in-use hook: the first container using image_id. */
int ctr_image_in_use(void *userdata, const char *image_id, char **ret_user, struct ocid_error **err);
