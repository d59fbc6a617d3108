/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Restore at start-up (docs/restart.md): every pod record, then every
 * container record, is loaded from <root>/pods and <root>/containers, its
 * name reserved again, its ID indexed and the object put in the store, in
 * the registry's create order. Containers are then asked about at their
 * runtime: running ones stay running (conmon holds them), gone or stopped
 * ones are recorded as exited with the status conmon left. A pod whose
 * pinned network namespace is gone (the runroot did not survive a reboot)
 * becomes NOTREADY. A record that cannot be restored is reported with its
 * ID and the reason, skipped and left on disk. What an interrupted
 * RunPodSandbox or CreateContainer left without a record (the record is
 * written last) is removed. Runs single-threaded, before the server
 * listens. */

#include <stddef.h>

#include "lifecycle/container.h"
#include "lifecycle/pod.h"

struct ocid_config;
struct ocid_error;
struct ocid_modules;

#define RESTORE_EXITS_DIR "exits"

/* Check only: load, validate and index the records, but ask no runtime
 * and change nothing on disk (`ocid check`). */
#define RESTORE_DRY_RUN (1u << 0)

struct restore_stats {
        size_t pods, containers;        /* restored */
        size_t bad_pods, bad_containers;   /* skipped */
        size_t exited;                  /* containers found exited at restore */
        size_t pods_notready;           /* pods found without their network namespace */
        size_t swept;                   /* remains of creations without a record, removed */
};

/* A record that is not restored: kind is "pod" or "container"; id is the
 * file's stem. */
typedef void (*restore_bad_fn)(void *userdata, const char *kind, const char *id, const char *path,
                               const char *reason);

/* Restores into lc's registry. `bad` NULL logs each skipped record at
 * warning. Fails only when a records directory cannot be read. */
int restore_run(struct lifecycle *lc, unsigned flags, restore_bad_fn bad, void *userdata,
                struct restore_stats *ret_stats, struct ocid_error **err);

/* restore_run(RESTORE_DRY_RUN) into a registry of its own. */
int restore_check(const struct ocid_config *config, const struct ocid_modules *modules, restore_bad_fn bad,
                  void *userdata, struct restore_stats *ret_stats, struct ocid_error **err);
