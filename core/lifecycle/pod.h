/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The pod sandbox lifecycle: RunPodSandbox, StopPodSandbox,
 * RemovePodSandbox and the lookups behind PodSandboxStatus and
 * ListPodSandbox. A pod owns pinned network, IPC and UTS namespaces
 * (core/sandbox/ns.h), its files (core/sandbox/podfiles.h), its network
 * attachment (core/network.h) and a record on disk (lifecycle/records.h).
 * docs/pods.md describes the behaviour. */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lifecycle/records.h"
#include "registry/registry.h"
#include "server/cri-proto.h"

struct event_bus;
struct ocid_config;
struct ocid_error;
struct ocid_modules;

/* The lifecycle context: what every pod and container call reaches. */
struct lifecycle {
        const struct ocid_config *config;
        const struct ocid_modules *modules;
        struct ocid_registry *reg;
        /* Container events (lifecycle/events.h); NULL: none are published.
         * The daemon sets it and frees it. */
        struct event_bus *events;
        /* Creations in flight and resources whose creator went away
         * (docs/pods.md, "Slow creations and kubelet retries"); NULL in a
         * lifecycle not made by lifecycle_new: none are tracked. */
        struct lc_claims *claims;
};

/* What a creation knows of the call that asked for it; NULL members mean
 * no deadline and no cancellation. */
struct lc_caller {
        bool (*is_cancelled)(void *userdata);
        int64_t deadline_ns;     /* CLOCK_MONOTONIC; 0: none */
        void *userdata;
};

/* How long a finished pod or container whose creator went away waits for
 * the retry that claims it before it is stopped and removed. */
#define LC_UNCLAIMED_TTL_NS (INT64_C(300) * 1000000000)

/* Removes an unclaimed resource (pod_remove, or stop and remove of a
 * container). */
typedef int (*lc_reap_fn)(struct lifecycle *lc, const char *id, struct ocid_error **err);

struct lc_claim;
struct names;

/* Reserves `name` for `id` in `names` for a creation identified by `hash`
 * (records_request_hash). When the name is held by another creation with
 * the same hash: while that one runs, waits for it (up to the caller's
 * deadline, -ETIMEDOUT, or its cancellation, -ECANCELED); if it finished
 * but its caller went away, claims its resource: returns 1 with its ID in
 * ret_id. A name held otherwise is the reservation's -EEXIST naming the
 * holder. Returns 0 when the name is reserved for `id`: *ret_claim then
 * tracks the creation (NULL when lc tracks none), which the creator ends
 * with lc_claim_end() after it released the name on failure. */
int lc_claim_reserve(struct lifecycle *lc, struct names *names, const char *name, const char *id,
                     const char *hash, lc_reap_fn reap, const struct lc_caller *caller,
                     struct lc_claim **ret_claim, char ret_id[65], struct ocid_error **err);

/* Ends a creation: result < 0 failed; else a caller that is cancelled
 * leaves the resource unclaimed, to a retry or, after the TTL
 * (LC_UNCLAIMED_TTL_NS), to `reap` on a thread of the lifecycle. NULL
 * claim is a no-op. */
void lc_claim_end(struct lifecycle *lc, struct lc_claim *claim, int result, const struct lc_caller *caller);

/* Resources that are currently unclaimed. */
size_t lc_unclaimed_count(struct lifecycle *lc);

/* Sets how long resources stay unclaimed (tests); LC_UNCLAIMED_TTL_NS by
 * default. */
void lc_claims_set_ttl(struct lifecycle *lc, int64_t ttl_ns);

/* A pod in the registry. `op_lock` serialises stop and remove of the pod
 * (held across slow steps such as a network teardown); `lock` is held
 * briefly and guards rec.state and `removed`, which readers (Status, List)
 * read under it. The other members of rec do not change once the pod is
 * published. */
struct lc_pod {
        struct store_ref ref;
        pthread_mutex_t op_lock;
        pthread_mutex_t lock;
        struct pod_record rec;
        bool removed;
};

/* Creates <root>/pods and an empty registry. */
int lifecycle_new(const struct ocid_config *config, const struct ocid_modules *modules, struct lifecycle **ret,
                  struct ocid_error **err);
struct lifecycle *lifecycle_free(struct lifecycle *lc);

/* Validates a PodSandboxConfig as RunPodSandbox needs it: errors are
 * -EINVAL naming the field ("config.metadata.name"). systemd_cgroups says
 * which cgroup parent syntax applies. */
int pod_config_check(const Runtime__V1__PodSandboxConfig *cfg, bool systemd_cgroups, struct ocid_error **err);

/* k8s_<name>_<namespace>_<uid>_<attempt> */
char *pod_name_from_metadata(const Runtime__V1__PodSandboxMetadata *m);

/* RunPodSandbox. On success ret_id holds the new pod's ID. On failure
 * everything made so far is undone. */
int pod_run(struct lifecycle *lc, const Runtime__V1__PodSandboxConfig *cfg, const char *runtime_handler,
            char ret_id[65], struct ocid_error **err);

/* pod_run for a caller that may go away (RunPodSandbox): a pod finished
 * after its caller was cancelled is kept unclaimed, and a later call with
 * the same config and handler gets its ID (lc_claim_reserve). */
int pod_run_for(struct lifecycle *lc, const Runtime__V1__PodSandboxConfig *cfg, const char *runtime_handler,
                const struct lc_caller *caller, char ret_id[65], struct ocid_error **err);

/* StopPodSandbox: tears the network down, unmounts /dev/shm and unpins the
 * namespaces; the pod becomes NOTREADY. Idempotent; an unknown ID is
 * success (the kubelet retries stops of pods that are gone). */
int pod_stop(struct lifecycle *lc, const char *id, struct ocid_error **err);

/* RemovePodSandbox: stops the pod, then removes its record, its directory
 * and its registry entries. An unknown ID is success. */
int pod_remove(struct lifecycle *lc, const char *id, struct ocid_error **err);

/* The pod with that ID or unique ID prefix, with a reference the caller
 * drops with pod_unref(); NULL with -ENOENT (or -EINVAL / -ENOTUNIQ for a
 * bad or ambiguous prefix) in *err. */
struct lc_pod *pod_lookup(struct lifecycle *lc, const char *id, struct ocid_error **err);
void pod_unref(struct lifecycle *lc, struct lc_pod *pod);

/* Whether a pod record matches a ListPodSandbox filter (NULL: all). The
 * caller holds the pod's lock. */
bool pod_matches_filter(const struct pod_record *r, const Runtime__V1__PodSandboxFilter *f);
