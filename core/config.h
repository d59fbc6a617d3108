/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The effective configuration: crio.conf, then crio.conf.d/\*.conf in lexical
 * order, later settings winning; then command-line overrides. */

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ocid/cleanup.h>

struct ocid_error;

struct config_mirror {
        char *registry;         /* "docker.io" */
        char **locations;       /* tried in order before the registry itself; never NULL */
};

struct config_runtime {
        char *name;             /* handler name = RuntimeClass handler */
        char *module;           /* "oci-runc" */
        char *path;             /* runtime binary */
        char *root;             /* runtime state root */
        char *origin;           /* "file:line" of its group; NULL when built in */
};

/* A module's own group `modules.<name>`, as found in the last file that
 * defines it (groups are not merged across files, so the module sees the
 * operator's file and line numbers). */
struct config_module_group {
        char *name;
        const config_setting_t *setting;  /* owned by one of config->files */
};

/* Limits and defaults that callers (main, the CRI server) share. */
#define CONFIG_DEFAULT_PATH OCID_SYSCONFDIR "/ocid/crio.conf"
#define CONFIG_DROPIN_DIR "crio.conf.d"
#define CONFIG_MESSAGE_SIZE_MIN (INT64_C(1) << 20)
#define CONFIG_MESSAGE_SIZE_MAX (INT64_C(1) << 30)

struct ocid_config {
        char *root;
        char *runroot;
        char *listen;
        char *log_level;               /* "info" */
        char *modules_dir;             /* ':'-separated search path */
        char *conmon;
        char *cgroup_manager;          /* "cgroupfs" or "systemd" */
        char *storage;                 /* storage module name */
        char *network;                 /* network module name */
        char **security;               /* security module names, in order; never NULL */
        char *default_runtime;
        char *default_runtime_origin;  /* "file:line" that set it, or NULL */
        struct config_runtime *runtimes;
        size_t n_runtimes;
        struct {
                char **unqualified_search_registries;  /* never NULL */
                char **insecure_registries;            /* never NULL */
                struct config_mirror *mirrors;
                size_t n_mirrors;
                char *pause_image;     /* "" = ocid's own ocid-pause rootfs */
                char *infra;           /* "when-needed" or "always" */
                int64_t pull_progress_timeout;  /* seconds; 0 = never */
        } image;
        struct {
                char *address;
                int64_t port;          /* 0 = any free port */
        } stream;
        int64_t max_message_size;      /* gRPC receive and send limit, bytes */
        struct config_module_group *module_groups;
        size_t n_module_groups;

        /* The parsed files, in the order applied, kept so that module
         * settings stay valid. */
        config_t **files;
        char **file_names;
        size_t n_files;
};

/* Defaults only. */
struct ocid_config *config_new_default(void);

/* Loads `path` (default CONFIG_DEFAULT_PATH when NULL; a missing default
 * file means defaults) and the drop-ins in `<dir of path>/crio.conf.d`.
 * An unknown key, wrong type or bad value fails with "file:line: key:
 * what" and -EINVAL; a missing explicit file with -ENOENT. No global state:
 * it can run again (SIGHUP) while an older configuration is in use. */
int config_load(const char *path, struct ocid_config **ret, struct ocid_error **err);

/* config_load with flags: CONFIG_LOAD_MISSING_OK treats a missing `path` as
 * an empty file (the drop-ins are still read). A NULL path is the default
 * file, which may always be missing. */
#define CONFIG_LOAD_MISSING_OK (1u << 0)
int config_load_flags(const char *path, unsigned flags, struct ocid_config **ret,
                      struct ocid_error **err);

/* Checks cross-setting consistency (default runtime defined, paths
 * absolute...). config_load already calls it. */
int config_validate(const struct ocid_config *c, struct ocid_error **err);

/* Writes c as a valid crio.conf (what `ocid config` prints): every key,
 * module groups included; config_load of the output gives the same
 * configuration. (Not named config_write: libconfig owns that symbol.) */
int config_print(const struct ocid_config *c, FILE *f, struct ocid_error **err);

/* The module group `modules.<name>`, or NULL. */
const config_setting_t *config_module_setting(const struct ocid_config *c, const char *name);

const struct config_runtime *config_find_runtime(const struct ocid_config *c, const char *name);

/* A module name is a file stem: [a-z0-9][a-z0-9-]*. */
bool config_module_name_is_valid(const char *name);

/* The keys whose effective values differ between a and b, as a
 * NULL-terminated vector (empty when equal; never NULL): top-level keys by
 * name ("root"), members of image and stream as "image.pause_image",
 * handlers as "runtimes.<name>", module groups as "modules.<name>".
 * For SIGHUP: the daemon applies what it can and names the rest.
 * Free with ocid_strv_free. */
char **config_changed_keys(const struct ocid_config *a, const struct ocid_config *b);

struct ocid_config *config_free(struct ocid_config *c);
OCID_DEFINE_CLEANUP_FUNC(struct ocid_config *, config_free)
#define _cleanup_config_ _cleanup_(config_freep)
