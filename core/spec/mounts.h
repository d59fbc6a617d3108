/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Mounts of the OCI spec: the defaults every container gets, the pod's
 * files, and the CRI's host path mounts with their checks (absolute paths,
 * existing host paths, destinations resolved inside the rootfs, propagation
 * the host mount can honour). */

#include <stdbool.h>
#include <stddef.h>

#include "server/cri-proto.h"

struct json_object;
struct ocid_error;

/* Propagation of a host mount, from the optional fields of mountinfo. */
#define MOUNT_PROP_SHARED (1 << 0)
#define MOUNT_PROP_SLAVE  (1 << 1)

/* Propagation wanted by a mount: what the rootfs must have for it. */
#define MOUNT_WANT_PRIVATE 0
#define MOUNT_WANT_SLAVE   1
#define MOUNT_WANT_SHARED  2

#define MOUNTINFO_MAX_SIZE (64u * 1024 * 1024)

/* Finds the mount that holds the absolute path `path` in a mountinfo file
 * (the last, i.e. topmost, mount on the longest matching mount point) and
 * returns its MOUNT_PROP_* flags and, if ret_mount_point is not NULL, the
 * mount point. */
int mounts_propagation(const char *mountinfo_path, const char *path, unsigned *ret_flags, char **ret_mount_point,
                       struct ocid_error **err);

/* A host path of a mount: absolute, existing, symlinks resolved to the
 * real path. A symlink that resolves to "/" is refused (a literal "/" is
 * not). `field` names the path in messages. */
int mounts_host_path(const char *host_path, const char *field, char **ret, struct ocid_error **err);

/* A path as a container sees it (mount destination, device path, masked
 * path): absolute, at most PATH_MAX, no control characters. */
int mounts_container_path_check(const char *path, const char *field, struct ocid_error **err);

/* Appends {"destination", "type", "source", "options"} to the array. */
void mounts_append(struct json_object *mounts, const char *destination, const char *type, const char *source,
                   const char *const *options);

/* One CRI mount, checked and turned into an OCI mount. The destination is
 * resolved inside the rootfs (rootfs_fd) and the source on the host;
 * *ret_want is the MOUNT_WANT_* of its propagation. Errors name
 * "container config: mounts[<index>]". */
struct mount_result {
        struct json_object *mount;
        char *destination;
        char *source;
        int want;
};
void mount_result_done(struct mount_result *r);

int mounts_from_cri(const Runtime__V1__Mount *m, size_t index, int rootfs_fd, bool privileged,
                    const char *mountinfo_path, struct mount_result *ret, struct ocid_error **err);
