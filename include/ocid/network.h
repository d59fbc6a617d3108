/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#ifndef OCID_MODULE_ABI_MAJOR
#error "include <ocid/module.h>"
#endif

#include <stddef.h>
#include <stdint.h>

/* A pod as the network module sees it. The core fills `size` with
 * sizeof(struct ocid_network_pod) as it was built; a module reads a member
 * only when OCID_NETWORK_POD_HAS() says the core's struct has it (members
 * are appended by later minors). Every string is valid for the call only;
 * the optional ones are NULL when absent. */
struct ocid_network_pod {
        uint32_t size;
        /* The sandbox ID (CNI container ID and K8S_POD_INFRA_CONTAINER_ID):
         * an alphanumeric character, then alphanumerics, '_', '.' or '-'.
         * Required by every op. */
        const char *id;
        /* Pod metadata (K8S_POD_NAME, K8S_POD_NAMESPACE, K8S_POD_UID). */
        const char *name;
        const char *namespace_;
        const char *uid;
        /* The pinned network namespace (a bind mount of an nsfs file).
         * Required by pod_setup. At teardown it may be NULL or no longer
         * exist (after a reboot, or when the core already removed it). */
        const char *netns_path;
        /* JSON array of {"hostPort":N,"containerPort":N,"protocol":"tcp",
         * "hostIP":"..."}; entries without a host port are not mappings. */
        const char *port_mappings;
        /* JSON object {"ingressRate":N,"ingressBurst":N,"egressRate":N,
         * "egressBurst":N} (bits per second, bits). */
        const char *bandwidth;
        /* JSON object {"servers":[..],"searches":[..],"options":[..]}. */
        const char *dns;
        /* The pod's cgroup parent, for plugins that account by cgroup. */
        const char *cgroup_parent;
};

/* True when the core's struct (pod->size) holds `member`. */
#define OCID_NETWORK_POD_HAS(pod, member)                                     \
        ((size_t) (pod)->size >= offsetof(struct ocid_network_pod, member) +  \
                                 sizeof(((struct ocid_network_pod *) NULL)->member))

/* ABI 1.0: the network ops table. Later minors append members at the end.
 *
 * The core never runs two of these ops for the same pod at once; ops for
 * different pods may run concurrently on worker threads. */
struct ocid_network_ops {
        struct ocid_module_ops base;

        /* Attaches the pod's network namespace to the network. On success
         * *ret_result is a JSON object (owned by the caller):
         *   {"ips":["10.88.0.5","fd00::5"],   pod addresses, IPv4 first;
         *                                     the first is the primary one
         *    "gateways":["10.88.0.1"], "interfaces":[{"name":..,"mac":..,
         *    "sandbox":..}], "network":"<name>", "cni_version":"1.0.0",
         *    "dns":{...}}                     (dns optional)
         * Only "ips" is required; modules may add members. On failure
         * nothing stays attached (the module undoes what it did). Setting
         * up a pod that is set up already is -EEXIST. */
        int (*pod_setup)(void *state, const struct ocid_network_pod *pod, char **ret_result,
                         struct ocid_error **err);
        /* Detaches the pod and releases what it held (addresses above
         * all). Idempotent: a pod that is not set up is success. Works
         * without the metadata (only `id` is needed), when the network
         * namespace is gone, after a daemon restart and after a reboot. */
        int (*pod_teardown)(void *state, const struct ocid_network_pod *pod, struct ocid_error **err);
        /* Verifies that the pod's attachment is still as set up: 1 when
         * verified, 0 when the network cannot be verified (its
         * configuration does not support checks); a pod that is not set up
         * is -ENOENT. */
        int (*pod_check)(void *state, const struct ocid_network_pod *pod, struct ocid_error **err);
};
