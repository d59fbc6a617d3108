/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to the network module. */

#define OCID_LOG_CATEGORY "network"

#include <arpa/inet.h> /* inet_pton */
#include <errno.h>
#include <string.h>

#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/util.h>

#include "module-loader.h"
#include "network.h"

typedef int (*network_pod_op)(void *state, const struct ocid_network_pod *pod, struct ocid_error **err);

int network_status(struct ocid_module *m, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        int r;

        r = module_check_callable(m, OCID_MODULE_KIND_NETWORK, "status", err);
        if (r < 0)
                return r;
        return module_status(m, ret_reason, ret_message, err);
}

void network_result_done(struct network_result *r)
{
        if (!r)
                return;
        free(r->json);
        ocid_strv_free(r->ips);
        r->json = NULL;
        r->ips = NULL;
}

int network_result_parse(const char *json, struct network_result *ret, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_strv_ char **v4 = NULL, **v6 = NULL, **all = xzalloc(sizeof(char *));
        struct json_object *ips;
        size_t n;

        o = json ? json_tokener_parse(json) : NULL;
        if (!o || !json_object_is_type(o, json_type_object))
                return ocid_error_msg(err, EPROTO, "network result is not a JSON object");
        if (!json_object_object_get_ex(o, "ips", &ips) || !json_object_is_type(ips, json_type_array))
                return ocid_error_msg(err, EPROTO, "network result has no \"ips\" array");
        n = json_object_array_length(ips);
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(ips, i);
                const char *ip = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
                unsigned char buf[sizeof(struct in6_addr)];

                if (ip && inet_pton(AF_INET, ip, buf) == 1)
                        ocid_strv_push(&v4, ip);
                else if (ip && inet_pton(AF_INET6, ip, buf) == 1)
                        ocid_strv_push(&v6, ip);
                else
                        return ocid_error_msg(err, EPROTO, "network result: ips[%zu] is not an IP address", i);
        }
        /* IPv4 first, each family in the module's order. */
        for (size_t i = 0; v4 && v4[i]; i++)
                ocid_strv_push(&all, v4[i]);
        for (size_t i = 0; v6 && v6[i]; i++)
                ocid_strv_push(&all, v6[i]);

        ret->json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        ret->ips = TAKE_PTR(all);
        return 0;
}

static int network_pod_copy(const struct ocid_network_pod *pod, const char *op, struct ocid_network_pod *ret,
                            struct ocid_error **err)
{
        if (!pod || !pod->id || !*pod->id)
                return ocid_error_msg(err, EINVAL, "%s: no pod ID", op);
        *ret = *pod;
        ret->size = (uint32_t) sizeof(*ret);
        return 0;
}

/* Calls fn, the op `op` of m (checked callable), for pod. */
static int network_pod_call(struct ocid_module *m, const struct ocid_network_pod *pod, const char *op,
                            network_pod_op fn, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_network_pod p;
        int r;

        if (!fn)
                return ocid_error_msg(err, EOPNOTSUPP, "module '%s' does not support %s", m->name, op);
        r = network_pod_copy(pod, op, &p, err);
        if (r < 0)
                return r;
        r = fn(m->state, &p, &e);
        return module_op_failed(m, op, r, &e, err);
}

int network_pod_teardown(struct ocid_module *m, const struct ocid_network_pod *pod, struct ocid_error **err)
{
        int r;

        r = module_check_callable(m, OCID_MODULE_KIND_NETWORK, "pod_teardown", err);
        if (r < 0)
                return r;
        return network_pod_call(m, pod, "pod_teardown", MODULE_OP(m, struct ocid_network_ops, pod_teardown), err);
}

int network_pod_check(struct ocid_module *m, const struct ocid_network_pod *pod, struct ocid_error **err)
{
        int r;

        r = module_check_callable(m, OCID_MODULE_KIND_NETWORK, "pod_check", err);
        if (r < 0)
                return r;
        return network_pod_call(m, pod, "pod_check", MODULE_OP(m, struct ocid_network_ops, pod_check), err);
}

int network_pod_setup(struct ocid_module *m, const struct ocid_network_pod *pod, struct network_result *ret,
                      struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL, *undo = NULL;
        _cleanup_free_ char *json = NULL;
        struct ocid_network_pod p;
        struct network_result res = { 0 };
        int (*fn)(void *, const struct ocid_network_pod *, char **, struct ocid_error **);
        int r;

        r = module_check_callable(m, OCID_MODULE_KIND_NETWORK, "pod_setup", err);
        if (r < 0)
                return r;
        fn = MODULE_OP(m, struct ocid_network_ops, pod_setup);
        if (!fn)
                return ocid_error_msg(err, EOPNOTSUPP, "module '%s' does not support pod_setup", m->name);
        r = network_pod_copy(pod, "pod_setup", &p, err);
        if (r < 0)
                return r;
        r = fn(m->state, &p, &json, &e);
        if (r < 0)
                return module_op_failed(m, "pod_setup", r, &e, err);

        r = network_result_parse(json, &res, &e);
        if (r >= 0) {
                *ret = res;
                return 0;
        }
        /* The pod is attached, but its result is unusable: detach it again
         * so that nothing leaks, and report the module's bug. */
        if (network_pod_teardown(m, &p, &undo) < 0)
                ocid_log(OCID_LOG_WARNING, "pod '%s': teardown after an invalid network result failed: %s",
                         p.id, ocid_error_message(&undo));
        r = ocid_error_prefix(&e, "module '%s': pod_setup: invalid result", m->name);
        if (err)
                *err = TAKE_PTR(e);
        return r;
}
