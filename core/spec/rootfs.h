/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Looking into a container's root file system before the container runs.
 * The rootfs is hostile (it comes from an image): every path is resolved
 * as if the rootfs were "/", so a symlink (absolute or with "..") never
 * leads out of it, and nothing but bounded regular files is read. */

#include <stddef.h>

struct ocid_error;

/* Upper bound of files read from a rootfs (/etc/passwd, /etc/group). */
#define ROOTFS_MAX_FILE (4u * 1024 * 1024)

/* Opens `path` (a leading '/' is the rootfs) below the directory rootfs_fd
 * with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): it must be a
 * regular file, it is read whole and NUL-terminated; more than max bytes is
 * -EFBIG, a missing file -ENOENT, anything but a regular file -EINVAL.
 * A FIFO or device is never opened for reading. */
int rootfs_read_file(int rootfs_fd, const char *path, size_t max, char **ret, size_t *ret_len,
                     struct ocid_error **err);

/* Resolves the absolute container path `path` inside the rootfs the way
 * the kernel would after a chroot into it: symlinks are followed (at most
 * 40), absolute targets and ".." stay inside. Components that do not exist
 * yet are taken as they are. The result is absolute and clean ("/" at
 * least). A relative path is -EINVAL; a loop -ELOOP. */
int rootfs_resolve(int rootfs_fd, const char *path, char **ret, struct ocid_error **err);
