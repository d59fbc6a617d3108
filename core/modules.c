/* SPDX-License-Identifier: Apache-2.0 */
/* The set of modules the configuration selects. */

#define OCID_LOG_CATEGORY "module"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>

#include <ocid/error.h>
#include <ocid/host.h>
#include <ocid/json.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "config.h"
#include "module-loader.h"
#include "modules.h"
#include "runtime.h"

static void modules_append(struct ocid_module ***v, size_t *n, struct ocid_module *mod)
{
        *v = xreallocarray(*v, *n + 1, sizeof(**v));
        (*v)[(*n)++] = mod;
}

/* Loads one module of `kind` and records it in load order. */
static int modules_load_one(struct ocid_modules *set, const char *search_path, const char *name,
                            uint32_t kind, struct ocid_module **ret, struct ocid_error **err)
{
        struct ocid_module *mod = NULL;
        int r;

        r = module_load(search_path, name, kind, &mod, err);
        if (r < 0)
                return r;
        modules_append(&set->all, &set->n_all, mod);
        *ret = mod;
        return 0;
}

static struct ocid_module *modules_find_runtime(const struct ocid_modules *set, const char *name)
{
        for (size_t i = 0; i < set->n_runtimes; i++)
                if (streq(set->runtimes[i]->name, name))
                        return set->runtimes[i];
        return NULL;
}

/* Loads (without init) every module config selects and builds the
 * handlers. */
static int modules_collect(const struct ocid_config *config, struct ocid_modules **ret,
                           struct ocid_error **err)
{
        _cleanup_(modules_freep) struct ocid_modules *set = xzalloc(sizeof(*set));
        const char *path = config->modules_dir;
        struct ocid_module *mod;
        int r;

        if (!config->storage || !*config->storage)
                return ocid_error_msg(err, EINVAL, "no storage module configured");
        if (!config->network || !*config->network)
                return ocid_error_msg(err, EINVAL, "no network module configured");

        r = modules_load_one(set, path, config->storage, OCID_MODULE_KIND_STORAGE, &set->storage, err);
        if (r < 0)
                return r;
        r = modules_load_one(set, path, config->network, OCID_MODULE_KIND_NETWORK, &set->network, err);
        if (r < 0)
                return r;
        for (char **s = config->security; s && *s; s++) {
                r = modules_load_one(set, path, *s, OCID_MODULE_KIND_SECURITY, &mod, err);
                if (r < 0)
                        return r;
                modules_append(&set->security, &set->n_security, mod);
        }

        set->handlers = xcalloc(config->n_runtimes ? config->n_runtimes : 1, sizeof(*set->handlers));
        for (size_t i = 0; i < config->n_runtimes; i++) {
                const struct config_runtime *rt = &config->runtimes[i];
                struct modules_handler *h;

                if (!rt->module || !*rt->module)
                        return ocid_error_msg(err, EINVAL, "runtime handler '%s': no runtime module",
                                              rt->name ? rt->name : "");
                mod = modules_find_runtime(set, rt->module);
                if (!mod) {
                        r = modules_load_one(set, path, rt->module, OCID_MODULE_KIND_RUNTIME, &mod, err);
                        if (r < 0)
                                return ocid_error_prefix(err, "runtime handler '%s'",
                                                         rt->name ? rt->name : "");
                        modules_append(&set->runtimes, &set->n_runtimes, mod);
                }
                h = &set->handlers[set->n_handlers++];
                h->h.size = (uint32_t) sizeof(h->h);
                h->h.name = xstrdup(rt->name);
                h->h.path = xstrdup(rt->path);
                h->h.root = xstrdup(rt->root);
                h->h.monitor = xstrdup(config->conmon);
                h->module = mod;
        }

        if (config->default_runtime && *config->default_runtime) {
                const struct modules_handler *h = modules_find_handler(set, config->default_runtime);

                if (!h)
                        return ocid_error_msg(err, EINVAL, "default runtime '%s' is not defined",
                                              config->default_runtime);
                set->default_handler = h->h.name;
        }

        *ret = TAKE_PTR(set);
        return 0;
}

int modules_load(const struct ocid_config *config, struct ocid_modules **ret, struct ocid_error **err)
{
        _cleanup_(modules_freep) struct ocid_modules *set = NULL;
        int r;

        ocid_host_set_paths(config->root, config->runroot);

        r = modules_collect(config, &set, err);
        if (r < 0)
                return r;

        /* Every descriptor passed before any module code runs. On failure
         * the cleanup finalises the initialised ones in reverse. */
        for (size_t i = 0; i < set->n_all; i++) {
                struct ocid_module *mod = set->all[i];

                r = module_init(mod, config_module_setting(config, mod->name), err);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(set);
        return 0;
}

int modules_check(const struct ocid_config *config, struct ocid_error **err)
{
        _cleanup_(modules_freep) struct ocid_modules *set = NULL;
        int r;

        ocid_host_set_paths(config->root, config->runroot);

        r = modules_collect(config, &set, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < set->n_all; i++) {
                struct ocid_module *mod = set->all[i];

                if (!MODULE_OP(mod, struct ocid_module_ops, check))
                        continue;
                r = module_check(mod, config_module_setting(config, mod->name), err);
                if (r < 0)
                        return r;
        }
        return 0;
}

struct ocid_modules *modules_free(struct ocid_modules *m)
{
        if (!m)
                return NULL;
        for (size_t i = m->n_all; i > 0; i--)
                module_fini(m->all[i - 1]);
        for (size_t i = 0; i < m->n_handlers; i++) {
                free((char *) m->handlers[i].h.name);
                free((char *) m->handlers[i].h.path);
                free((char *) m->handlers[i].h.root);
                free((char *) m->handlers[i].h.monitor);
        }
        free(m->handlers);
        free(m->security);
        free(m->runtimes);
        free(m->all);
        free(m);
        return NULL;
}

const struct modules_handler *modules_find_handler(const struct ocid_modules *m, const char *name)
{
        if (!m)
                return NULL;
        if (!name || !*name)
                name = m->default_handler;
        if (!name)
                return NULL;
        for (size_t i = 0; i < m->n_handlers; i++)
                if (streq_ptr(m->handlers[i].h.name, name))
                        return &m->handlers[i];
        return NULL;
}

static struct json_object *json_string_or_null(const char *s)
{
        return s ? json_object_new_string(s) : NULL;
}

/* Adds ready, reason and message for a status-like result. */
static void modules_json_status(struct json_object *obj, int r, const char *reason,
                                const char *message, struct ocid_error *e)
{
        if (r < 0 && ocid_error_code(&e) == EOPNOTSUPP) {
                /* A module without a readiness condition is always ready. */
                r = 1;
                reason = message = NULL;
        } else if (r < 0) {
                reason = "StatusFailed";
                message = ocid_error_message(&e);
        }
        json_object_object_add(obj, "ready", json_object_new_boolean(r > 0));
        json_object_object_add(obj, "reason", json_string_or_null(r > 0 ? NULL : reason));
        json_object_object_add(obj, "message", json_string_or_null(r > 0 ? NULL : message));
}

static struct json_object *modules_json_one(const struct ocid_modules *set, const struct ocid_module *mod)
{
        struct json_object *obj = json_object_new_object();
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL, *info = NULL, *abi = NULL;
        int r;

        abi = xasprintf("%u.%u", mod->info->abi_major, mod->info->abi_minor);
        json_object_object_add(obj, "name", json_object_new_string(mod->name));
        json_object_object_add(obj, "kind", json_object_new_string(module_kind_to_string(mod->kind)));
        json_object_object_add(obj, "version", json_string_or_null(mod->info->version));
        json_object_object_add(obj, "abi", json_object_new_string(abi));
        json_object_object_add(obj, "path", json_object_new_string(mod->path));

        r = module_status(mod, &reason, &message, &e);
        modules_json_status(obj, r, reason, message, e);
        ocid_error_clear(&e);

        r = module_info(mod, &info, &e);
        if (r >= 0) {
                struct json_object *parsed = json_tokener_parse(info);

                if (!parsed)
                        json_object_object_add(obj, "info_error",
                                               json_object_new_string("the module's info is not valid JSON"));
                json_object_object_add(obj, "info", parsed);
        } else {
                if (ocid_error_code(&e) != EOPNOTSUPP)
                        json_object_object_add(obj, "info_error",
                                               json_object_new_string(ocid_error_message(&e)));
                json_object_object_add(obj, "info", NULL);
        }
        ocid_error_clear(&e);

        if (mod->kind == OCID_MODULE_KIND_RUNTIME) {
                struct json_object *handlers = json_object_new_array();

                for (size_t i = 0; i < set->n_handlers; i++) {
                        const struct modules_handler *h = &set->handlers[i];
                        struct json_object *ho;
                        _cleanup_free_ char *hreason = NULL, *hmessage = NULL;

                        if (h->module != mod)
                                continue;
                        ho = json_object_new_object();
                        json_object_object_add(ho, "name", json_string_or_null(h->h.name));
                        json_object_object_add(ho, "path", json_string_or_null(h->h.path));
                        json_object_object_add(ho, "default",
                                               json_object_new_boolean(streq_ptr(h->h.name, set->default_handler)));
                        r = runtime_handler_status(h, &hreason, &hmessage, &e);
                        modules_json_status(ho, r, hreason, hmessage, e);
                        ocid_error_clear(&e);
                        json_object_array_add(handlers, ho);
                }
                json_object_object_add(obj, "handlers", handlers);
        }
        return obj;
}

char *modules_info_json(const struct ocid_modules *m)
{
        _cleanup_json_ struct json_object *arr = json_object_new_array();

        for (size_t i = 0; m && i < m->n_all; i++)
                json_object_array_add(arr, modules_json_one(m, m->all[i]));
        return xstrdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}
