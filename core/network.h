/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Dispatch to the network module: the only callers of its ops. A NULL op is
 * -EOPNOTSUPP with "module '<name>' does not support <op>"; a failing op's
 * error reads "module '<name>': <op>: <the module's message>". */

struct ocid_error;
struct ocid_module;
struct ocid_network_pod;

/* Readiness of the network module: 1 ready; 0 not ready with *ret_reason and
 * *ret_message set (owned by the caller); < 0 on error. */
int network_status(struct ocid_module *m, char **ret_reason, char **ret_message, struct ocid_error **err);

/* A pod's network as the module reported it at setup. */
struct network_result {
        char *json;     /* the module's result object, normalised (plain JSON) */
        char **ips;     /* the pod's addresses, IPv4 before IPv6, the primary
                         * first; an empty vector when the network gave none */
};

void network_result_done(struct network_result *r);

/* Reads a result object (as pod_setup returns it, or as the core stored
 * it): "ips" must be an array of IPv4/IPv6 addresses. */
int network_result_parse(const char *json, struct network_result *ret, struct ocid_error **err);

/* The wrappers below copy *pod and set its size themselves, so the caller
 * need not. */

/* ops->pod_setup. A result the module returns that does not parse is an
 * error (EPROTO); the pod is then torn down again, so nothing stays
 * attached. *ret is filled on success only. */
int network_pod_setup(struct ocid_module *m, const struct ocid_network_pod *pod, struct network_result *ret,
                      struct ocid_error **err);

/* ops->pod_teardown: idempotent. */
int network_pod_teardown(struct ocid_module *m, const struct ocid_network_pod *pod, struct ocid_error **err);

/* ops->pod_check: 1 verified, 0 not verifiable, < 0 on error. */
int network_pod_check(struct ocid_module *m, const struct ocid_network_pod *pod, struct ocid_error **err);
