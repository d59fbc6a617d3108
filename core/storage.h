/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Dispatch to the storage module: the only callers of its ops. A NULL op is
 * -EOPNOTSUPP with "module '<name>' does not support <op>"; a module that is
 * not an initialised storage module is -EINVAL. A failing op's error reads
 * "module '<name>': <op>: <module's message>". The contracts of the ops are
 * in <ocid/storage.h>: layers are named by chain ID, root file systems by
 * container ID. */

#include <stdint.h>

struct ocid_error;
struct ocid_module;
struct ocid_storage_usage;

/* Readiness of the storage module: 1 ready; 0 not ready with *ret_reason and
 * *ret_message set (owned by the caller); < 0 on error. */
int storage_status(struct ocid_module *m, char **ret_reason, char **ret_message, struct ocid_error **err);

/* Creates layer `id` on top of `parent` (NULL: a base layer) from the
 * uncompressed tar read from tar_fd until EOF. ret_size may be NULL; it is
 * set on success only. -EEXIST when `id` exists. */
int storage_layer_create(struct ocid_module *m, const char *id, const char *parent, int tar_fd,
                         uint64_t *ret_size, struct ocid_error **err);

/* -ENOENT when absent, -EBUSY when a layer or a rootfs is on top of it. */
int storage_layer_remove(struct ocid_module *m, const char *id, struct ocid_error **err);

/* 1 when layer `id` exists complete, 0 when not, < 0 when the module cannot
 * answer (no such op, not a storage module). */
int storage_layer_exists(struct ocid_module *m, const char *id, struct ocid_error **err);

/* Creates rootfs `id` on layer `top` (NULL: an empty one). */
int storage_rootfs_create(struct ocid_module *m, const char *id, const char *top, struct ocid_error **err);

/* Mounts rootfs `id`; *ret_path (owned by the caller) is its root
 * directory, the same for every call. */
int storage_rootfs_mount(struct ocid_module *m, const char *id, char **ret_path, struct ocid_error **err);

/* Unmounts rootfs `id`; not mounted is success. */
int storage_rootfs_unmount(struct ocid_module *m, const char *id, struct ocid_error **err);

/* Unmounts when needed and removes rootfs `id`; -ENOENT when absent. */
int storage_rootfs_remove(struct ocid_module *m, const char *id, struct ocid_error **err);

/* Bytes and inodes the module stores, and the mount point of the file
 * system that holds them. *ret is zeroed first and filled on success; its
 * mountpoint (may be NULL) belongs to the module and stays valid until the
 * module's fini. */
int storage_usage(struct ocid_module *m, struct ocid_storage_usage *ret, struct ocid_error **err);

/* The same for the writable part of rootfs `id`. */
int storage_rootfs_usage(struct ocid_module *m, const char *id, struct ocid_storage_usage *ret,
                         struct ocid_error **err);
