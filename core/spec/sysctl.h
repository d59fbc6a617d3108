/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Pod sysctls: only keys that belong to a namespace the pod owns are
 * allowed, and neither a key nor a value may smuggle a second setting. */

#include <stdbool.h>
#include <stddef.h>

struct json_object;
struct ocid_error;

#define SYSCTL_MAX_COUNT 1024
#define SYSCTL_MAX_KEY   256
#define SYSCTL_MAX_VALUE 4096

/* Which namespace a sysctl belongs to. */
#define SYSCTL_NS_IPC 1
#define SYSCTL_NS_NET 2

/* Normalises a key to the dotted form: a key whose first separator is '/'
 * has its '/' and '.' swapped ("net/ipv4/conf/eth0.100/forwarding" becomes
 * "net.ipv4.conf.eth0/100.forwarding", as the kubelet writes it). Each
 * component (between dots, with '/' read as a literal dot) must be
 * non-empty, not "." or "..", and made of [a-z0-9_-] and dots only.
 * Returns the namespace (SYSCTL_NS_*) of an allowed key, or -EINVAL
 * (also for a key that is not namespaced). */
int sysctl_normalize(const char *key, char **ret, struct ocid_error **err);

/* A value: non-empty, at most SYSCTL_MAX_VALUE bytes, no control
 * characters (newlines included) and no '='. */
int sysctl_value_check(const char *value, struct ocid_error **err);

/* Validates one sysctl for a pod with the given host namespaces and adds
 * it, normalised, to the object `out`. Errors name the key; a key given
 * twice (after normalisation) is -EINVAL. */
int sysctl_add(struct json_object *out, const char *key, const char *value, bool host_network, bool host_ipc,
               struct ocid_error **err);
