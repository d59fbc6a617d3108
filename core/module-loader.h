/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Loading modules with libltdl and checking their descriptors. The only
 * file that includes <ltdl.h> is module-loader.c. */

#include <stdint.h>
#include <ocid/module.h>

struct ocid_module {
        char *name;                       /* "storage-overlay" */
        char *path;                       /* the file it came from */
        uint32_t kind;
        const struct ocid_module_info *info;
        const void *ops;                  /* kind-specific table; starts with struct ocid_module_ops */
        void *state;                      /* from ops->init */
        int initialised;
};

/* Finds `name` in the ':'-separated search path, loads it and checks the
 * descriptor (symbol, ABI, sizes, kind, name; expected_kind unless 0).
 * Does not call init. Loaded modules are never unloaded. */
int module_load(const char *search_path, const char *name, uint32_t expected_kind,
                struct ocid_module **ret, struct ocid_error **err);

/* Calls ops->init with the module's config group. */
int module_init(struct ocid_module *m, const config_setting_t *cfg, struct ocid_error **err);

/* Calls ops->fini (once) and frees m's bookkeeping. The shared object stays. */
void module_fini(struct ocid_module *m);

const char *module_kind_to_string(uint32_t kind);
