/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Loading modules with libltdl and checking their descriptors. The only
 * file that includes <ltdl.h> is module-loader.c. docs/modules.md lists the
 * checks and their messages. */

#include <stddef.h>
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

/* True when the module's ops table, as the module was built, is large
 * enough to hold `member` of `type` (a member appended by a later minor is
 * absent from a module built against an older one: treat it as NULL). */
#define MODULE_OPS_HAS(m, type, member)                                       \
        ((size_t) (m)->info->ops_size >=                                       \
         offsetof(type, member) + sizeof(((type *) NULL)->member))

/* The member `member` of the module's `type` ops table, or NULL when the
 * module's table is too short to have it. */
#define MODULE_OP(m, type, member)                                            \
        (MODULE_OPS_HAS(m, type, member) ? ((const type *) (m)->ops)->member : NULL)

/* The search path actually used: $OCID_MODULE_DIR when set and non-empty,
 * else search_path, else the compiled-in module directory. */
const char *module_search_path(const char *search_path);

/* Finds `name` in the ':'-separated search path (as `<dir>/<name>.so`, then
 * `<dir>/<name>.la`), loads it and checks the descriptor (symbol, ABI, sizes,
 * reserved members, kind, expected_kind unless 0, name, not already loaded,
 * init present). Does not call init. A module that passed is never unloaded;
 * a module is "loaded" from this call until module_fini. */
int module_load(const char *search_path, const char *name, uint32_t expected_kind,
                struct ocid_module **ret, struct ocid_error **err);

/* Calls ops->init with the module's config group (NULL when none). On
 * failure the error reads "module '<name>': init: <module's message>". */
int module_init(struct ocid_module *m, const config_setting_t *cfg, struct ocid_error **err);

/* Calls ops->fini (once, when initialised) and frees m's bookkeeping; the
 * name may then be loaded again. The shared object stays. NULL is a no-op. */
void module_fini(struct ocid_module *m);
OCID_DEFINE_CLEANUP_FUNC(struct ocid_module *, module_fini)

const char *module_kind_to_string(uint32_t kind);

/* Dispatch of the base ops (every kind has them). A NULL op is -EOPNOTSUPP
 * with "module '<name>' does not support <op>". */

/* ops->check on cfg (NULL: no group). Needs no init. */
int module_check(const struct ocid_module *m, const config_setting_t *cfg, struct ocid_error **err);

/* ops->status: 1 ready; 0 not ready with *ret_reason and *ret_message set
 * (both owned by the caller); < 0 on error. */
int module_status(const struct ocid_module *m, char **ret_reason, char **ret_message,
                  struct ocid_error **err);

/* ops->info: a JSON object text, owned by the caller. */
int module_info(const struct ocid_module *m, char **ret_json, struct ocid_error **err);

/* For the kind wrappers (core/storage.c, ...), the only other callers of
 * ops: checks that m is initialised and of `kind`, naming `op` in the error. */
int module_check_callable(const struct ocid_module *m, uint32_t kind, const char *op,
                          struct ocid_error **err);

/* After an op returned r: r >= 0 is passed through. r < 0 must come with an
 * error in *op_err (asserted; synthesised under NDEBUG); the error is moved
 * to *err prefixed with nothing, and -code is returned. */
int module_op_failed(const struct ocid_module *m, const char *op, int r,
                     struct ocid_error **op_err, struct ocid_error **err);

/* Normalises the result of a status-like op: 1 with reason and message
 * freed, or 0 with both set (synthesised when the module forgot). */
int module_status_result(const struct ocid_module *m, const char *op, int r,
                         char **reason, char **message);
