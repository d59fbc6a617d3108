/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A pod's namespaces, created without an infra process and kept alive by
 * bind mounts of their nsfs files ("pinned"). The layout under the runroot:
 *
 *   <runroot>/pods/                a private bind mount of itself
 *   <runroot>/pods/<id>/           the pod's directory (podfiles.h)
 *   <runroot>/pods/<id>/ns/net     bind mounts of /proc/<pid>/ns/<name>
 *   <runroot>/pods/<id>/ns/ipc
 *   <runroot>/pods/<id>/ns/uts
 *
 * docs/pods.md explains the choices. */

#include <stdbool.h>
#include <stddef.h>

struct ocid_error;

/* Namespaces a pod may own (flags). */
#define NS_NET (1u << 0)
#define NS_IPC (1u << 1)
#define NS_UTS (1u << 2)
#define NS_ALL (NS_NET | NS_IPC | NS_UTS)

#define NS_PODS_DIR "pods"
#define NS_DIR "ns"

struct ns_sysctl {
        const char *key;    /* "net.ipv4.ip_forward" or "net/ipv4/ip_forward" */
        const char *value;
};

struct ns_pin_config {
        unsigned flags;                 /* NS_* to create; 0 pins nothing */
        const char *hostname;           /* set in the new UTS namespace; needs NS_UTS; NULL: none */
        const struct ns_sysctl *sysctls;
        size_t n_sysctls;
};

/* Makes sure <runroot>/pods exists (0711) and is a mount point of its own
 * with private propagation, then creates <runroot>/pods/<id> (0711; an
 * existing one is fine). `id` must be a single path component. Safe to call
 * again and from several threads. *ret_dir (may be NULL) gets the pod dir. */
int ns_pod_dir_create(const char *runroot, const char *id, char **ret_dir, struct ocid_error **err);

/* The pod directory <runroot>/pods/<id> (no checks, nothing created). */
char *ns_pod_dir(const char *runroot, const char *id);

/* The pin of one namespace (NS_NET, NS_IPC or NS_UTS): <pod_dir>/ns/<name>. */
char *ns_pin_path(const char *pod_dir, unsigned ns);

/* "net", "ipc", "uts", or NULL for anything but a single NS_* flag. */
const char *ns_name(unsigned ns);

/* Creates the namespaces in cfg->flags in a short-lived helper process,
 * sets the hostname and the sysctls inside them, and pins each under
 * <pod_dir>/ns. Every sysctl is checked again here (namespaced keys only, a
 * net.* key needs NS_NET, an IPC key NS_IPC; values without control
 * characters or '='), so that nothing can reach the host's settings; a
 * hostname needs NS_UTS. An existing pin is -EEXIST. On failure nothing
 * this call made is left: mounts, files and the ns directory (when it
 * created it) are removed. */
int ns_pin(const char *pod_dir, const struct ns_pin_config *cfg, struct ocid_error **err);

/* Unmounts (detached) and removes every pin under <pod_dir>/ns, then the
 * directory. Idempotent: a pin that is not mounted, a missing file or a
 * missing directory is success. */
int ns_unpin(const char *pod_dir, struct ocid_error **err);

/* True when path is a mounted namespace file (nsfs). */
bool ns_is_pinned(const char *path);
