/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The set of modules the configuration selects, loaded and initialised. */

#include <stddef.h>
#include <ocid/module.h>

struct ocid_config;
struct ocid_module;

struct modules_handler {
        struct ocid_runtime_handler h;   /* strings owned by the set (copies of the config's) */
        struct ocid_module *module;
};

struct ocid_modules {
        struct ocid_module *storage;
        struct ocid_module *network;
        struct ocid_module **security;   /* in configured order */
        size_t n_security;
        struct ocid_module **runtimes;   /* each runtime module once */
        size_t n_runtimes;
        struct modules_handler *handlers;
        size_t n_handlers;
        const char *default_handler;     /* the default handler's name, or NULL */
        /* Every module above, in load order, which is also init order;
         * fini runs in reverse. */
        struct ocid_module **all;
        size_t n_all;
};

/* Sets the host paths (ocid_host_set_paths(config->root, config->runroot)),
 * loads every module config selects, in the order storage, network,
 * security, runtime (each runtime module once, however many handlers use
 * it), checks every descriptor, then initialises each with its group
 * `modules.<name>` (or NULL). A failure names the module and the step; the
 * modules already initialised are finalised in reverse order. */
int modules_load(const struct ocid_config *config, struct ocid_modules **ret, struct ocid_error **err);

/* Loads every module and runs its ops->check on its group, without init:
 * for `ocid check`. A module without check only has its descriptor checked. */
int modules_check(const struct ocid_config *config, struct ocid_error **err);

struct ocid_modules *modules_free(struct ocid_modules *m);   /* calls fini in reverse order */
OCID_DEFINE_CLEANUP_FUNC(struct ocid_modules *, modules_free)

/* The handler `name`; NULL or "" is the default handler. NULL when there
 * is no such handler. */
const struct modules_handler *modules_find_handler(const struct ocid_modules *m, const char *name);

/* A JSON array describing every loaded module, for verbose Status: one
 * object per module with name, kind, version, abi, path, ready, reason,
 * message (null when ready) and info (the module's ops->info as JSON, or
 * null; "info_error" says why when the module failed to give it). A
 * runtime module's object also lists its handlers with their readiness.
 * Caller frees. */
char *modules_info_json(const struct ocid_modules *m);
