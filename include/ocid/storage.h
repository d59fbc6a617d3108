/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#ifndef OCID_MODULE_ABI_MAJOR
#error "include <ocid/module.h>"
#endif

#include <stdint.h>

/* The storage ops table. A storage module keeps image layers and container
 * root file systems below its own directory (<root>/<module name>).
 *
 * Layers are named by the caller with their OCI chain ID (64 lowercase hex
 * characters): a layer's content depends on its parents, so equal chain IDs
 * mean equal trees and a layer is unpacked once and shared by every image
 * that has it. Root file systems are named by the container ID.
 *
 * Every operation is atomic as seen by a later call, also across a crash:
 * a layer or rootfs either exists complete or does not exist. Operations on
 * different IDs may run concurrently from several threads; the core never
 * runs two operations on the same ID at once. */

struct ocid_storage_usage {
        uint64_t bytes;          /* bytes used below the module's directory */
        uint64_t inodes;         /* inodes used below it */
        const char *mountpoint;  /* the directory whose file system holds it; owned by the module */
};

struct ocid_storage_ops {
        struct ocid_module_ops base;

        /* Creates layer `id` from an uncompressed tar stream read from
         * tar_fd until EOF, on top of layer `parent` (NULL for a base
         * layer; it exists). OCI whiteouts in the stream delete what the
         * parents hold. Extraction never writes outside the layer (see
         * ocid_archive_extract). *ret_size is the layer's size in bytes.
         * An existing `id` is -EEXIST. */
        int (*layer_create)(void *state, const char *id, const char *parent, int tar_fd,
                            uint64_t *ret_size, struct ocid_error **err);
        /* Removes layer `id`. Absent is -ENOENT; a layer that is the parent
         * of another layer or of a rootfs is -EBUSY. */
        int (*layer_remove)(void *state, const char *id, struct ocid_error **err);
        /* 1 when layer `id` exists complete, 0 when not. */
        int (*layer_exists)(void *state, const char *id);

        /* Creates the writable root file system `id` on top of layer `top`
         * (NULL: an empty one). An existing `id` is -EEXIST. */
        int (*rootfs_create)(void *state, const char *id, const char *top, struct ocid_error **err);
        /* Mounts (or makes available) rootfs `id` and returns the path of
         * its root directory. Mounting twice returns the same path. */
        int (*rootfs_mount)(void *state, const char *id, char **ret_path, struct ocid_error **err);
        /* Unmounts it; not mounted is success. */
        int (*rootfs_unmount)(void *state, const char *id, struct ocid_error **err);
        /* Unmounts if needed and removes it with its writable content. Absent
         * is -ENOENT. */
        int (*rootfs_remove)(void *state, const char *id, struct ocid_error **err);

        /* Disk usage of everything the module stores (layers and rootfs). */
        int (*usage)(void *state, struct ocid_storage_usage *ret, struct ocid_error **err);
        /* Bytes and inodes of rootfs `id`'s writable part only. */
        int (*rootfs_usage)(void *state, const char *id, struct ocid_storage_usage *ret,
                            struct ocid_error **err);
};
