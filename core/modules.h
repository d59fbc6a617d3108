/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The set of modules the configuration selects, loaded and initialised. */

#include <stddef.h>
#include <ocid/module.h>

struct ocid_config;
struct ocid_module;

struct modules_handler {
        struct ocid_runtime_handler h;   /* strings point into the config */
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
        const char *default_handler;
};

/* Loads and initialises every module config selects, in the order storage,
 * network, security, runtime. A failure names the module and the step. */
int modules_load(const struct ocid_config *config, struct ocid_modules **ret, struct ocid_error **err);

/* Loads every module and runs its ops->check on its group, without init:
 * for `ocid check`. */
int modules_check(const struct ocid_config *config, struct ocid_error **err);

struct ocid_modules *modules_free(struct ocid_modules *m);   /* calls fini in reverse order */

const struct modules_handler *modules_find_handler(const struct ocid_modules *m, const char *name);

/* A JSON array describing every loaded module (name, kind, version, path,
 * ready/reason/message, and ops->info), for verbose Status. Caller frees. */
char *modules_info_json(const struct ocid_modules *m);
