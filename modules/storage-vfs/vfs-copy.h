/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A full copy of a directory tree, for storage-vfs. */

struct ocid_error;

/* Copies everything below the directory open as src_fd into the empty
 * directory open as dst_fd, then gives dst_fd the owner, mode, extended
 * attributes and times of src_fd. Kept: file contents, modes (with setuid,
 * setgid and sticky bits), owners (when root), extended attributes (those
 * the caller may read and set; unsupported ones are left out), access and
 * modification times, symlinks as links (never followed), hardlinks within
 * the tree (as links again), fifos, and device nodes (when root). Sockets
 * are left out. A mount point inside src is an error. Every path is
 * resolved relative to a directory fd, one component at a time, without
 * following symlinks. `what` names the tree in errors ("layer 'x'"). */
int vfs_copy_tree(int src_fd, int dst_fd, const char *what, struct ocid_error **err)
        __attribute__((visibility("hidden")));
