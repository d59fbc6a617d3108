/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the storage modules (storage-overlay, storage-vfs) share: the layout
 * of their directory, IDs, metadata, crash-safe creation and removal of
 * layers and root file systems, reference checks, disk usage. Compiled into
 * each module (hidden: a module still exports only its descriptor).
 *
 * Layout below <root>/<module>:
 *   layers/<chain id>/meta.json   {"id","parent","size","created",...}
 *   layers/<chain id>/...         the module's content (diff/ or root/)
 *   rootfs/<container id>/meta.json {"id","top","created"}
 *   rootfs/<container id>/...     the module's content
 *   layers/.tmp-<id>-XXXXXX, rootfs/.tmp-<id>-XXXXXX
 *                                 a layer or rootfs being built, or being
 *                                 removed; whatever is left of them after
 *                                 a crash is removed by sc_store_open.
 * A layer or rootfs appears by one rename of its complete temporary
 * directory (after syncfs), and disappears by one rename to a temporary
 * name, so every other call sees it complete or not at all. */

#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#include <ocid/json.h>
#include <ocid/module.h>

#define SC_HIDDEN __attribute__((visibility("hidden")))

#define SC_LAYERS "layers"
#define SC_ROOTFS "rootfs"
#define SC_META   "meta.json"
/* Largest metadata file read. */
#define SC_META_MAX (64u * 1024u)

struct sc_store {
        char *name;             /* the module's name */
        char *dir;              /* <root>/<name> */
        int dfd;                /* open on dir */
        pthread_mutex_t lock;   /* pins, and the check-then-rename of commits and removals */
        char **pins;            /* layers an unfinished create builds on (repeats allowed) */
        char **mountpoints;     /* every mount point usage() returned, freed at close */
};

/* Creates <root>/<name> (0700) with layers/ and rootfs/, and removes the
 * temporary directories a crash left there. */
SC_HIDDEN int sc_store_open(struct sc_store *s, const char *name, struct ocid_error **err);
SC_HIDDEN void sc_store_close(struct sc_store *s);

/* A layer ID is a chain ID: 64 lowercase hex digits. A rootfs ID is 1 to
 * 128 of [A-Za-z0-9_.-], not starting with '.' or '-'. -EINVAL otherwise. */
SC_HIDDEN int sc_layer_id_check(const char *id, struct ocid_error **err);
SC_HIDDEN int sc_rootfs_id_check(const char *id, struct ocid_error **err);

/* 1 when layers/<id> (rootfs/<id>) exists complete, else 0. */
SC_HIDDEN int sc_layer_exists(struct sc_store *s, const char *id);
SC_HIDDEN int sc_rootfs_exists(struct sc_store *s, const char *id);

/* Reads the metadata of layer or rootfs `id` (-ENOENT when absent). */
SC_HIDDEN int sc_layer_meta(struct sc_store *s, const char *id, struct json_object **ret,
                            struct ocid_error **err);
SC_HIDDEN int sc_rootfs_meta(struct sc_store *s, const char *id, struct json_object **ret,
                             struct ocid_error **err);

/* A layer or rootfs being created. */
struct sc_txn {
        const char *area;       /* SC_LAYERS or SC_ROOTFS */
        char *id;
        char *base;             /* the layer it builds on, pinned; NULL */
        char *tmp_name;         /* ".tmp-<id>-XXXXXX" below area */
        char *tmp_path;         /* its absolute path */
        int tmp_fd;             /* open on it */
        struct json_object *meta; /* written by commit; the module may add members */
};

/* Starts layer `id` on `parent` (NULL: a base layer): -EEXIST when it
 * exists, -ENOENT when parent does not. The parent is pinned (layer_remove
 * answers -EBUSY) until commit or abort. */
SC_HIDDEN int sc_layer_begin(struct sc_store *s, const char *id, const char *parent, struct sc_txn *t,
                             struct ocid_error **err);
/* Starts rootfs `id` on layer `top` (NULL: empty), likewise. */
SC_HIDDEN int sc_rootfs_begin(struct sc_store *s, const char *id, const char *top, struct sc_txn *t,
                              struct ocid_error **err);
/* Writes meta.json, flushes the file system (syncfs) and renames the
 * temporary directory into place. On failure the transaction is aborted. */
SC_HIDDEN int sc_commit(struct sc_store *s, struct sc_txn *t, struct ocid_error **err);
/* Removes the temporary directory and unpins; a no-op after commit. */
SC_HIDDEN void sc_abort(struct sc_store *s, struct sc_txn *t);

/* Removes layer `id`: -ENOENT when absent, -EBUSY (naming the user) when it
 * is pinned, the parent of a layer or the top of a rootfs. *ret_meta (may
 * be NULL) gets the removed layer's metadata. */
SC_HIDDEN int sc_layer_remove(struct sc_store *s, const char *id, struct json_object **ret_meta,
                              struct ocid_error **err);
/* Removes rootfs `id` (-ENOENT when absent). The module has unmounted it. */
SC_HIDDEN int sc_rootfs_remove(struct sc_store *s, const char *id, struct ocid_error **err);

/* Removes path and everything below it; also read-only directories when not
 * root. Never crosses a mount point (see ocid_rm_rf). */
SC_HIDDEN int sc_rm_tree(const char *path, struct ocid_error **err);

/* Disk usage of the tree below path (itself included): bytes are
 * st_blocks * 512 (what the file system allocates, like du), inodes count
 * every file, directory, link and node once (hardlinks once). Other mounts
 * below path (a mounted rootfs) are not entered. */
SC_HIDDEN int sc_tree_usage(const char *path, uint64_t *ret_bytes, uint64_t *ret_inodes,
                            struct ocid_error **err);

/* Fills *ret for the whole store: its tree's usage and the mount point of
 * the file system that holds it (from /proc/self/mountinfo: the longest
 * mount point that contains the directory). */
SC_HIDDEN int sc_usage(struct sc_store *s, struct ocid_storage_usage *ret, struct ocid_error **err);

/* The same for rootfs/<id>/<member> (the rootfs' writable part); -ENOENT
 * when rootfs `id` does not exist. */
SC_HIDDEN int sc_rootfs_usage(struct sc_store *s, const char *id, const char *member,
                              struct ocid_storage_usage *ret, struct ocid_error **err);

/* The mount point of the store's file system (see sc_usage); the string
 * stays valid until sc_store_close. */
SC_HIDDEN int sc_store_mountpoint(struct sc_store *s, const char **ret, struct ocid_error **err);

/* The mount point of the file system holding `path` (an absolute, resolved
 * path), read from a mountinfo text. Exposed for tests. */
SC_HIDDEN char *sc_mountinfo_lookup(const char *mountinfo, const char *path);

/* Reads fd to its end, discarding: what follows the tar's end marker. */
SC_HIDDEN int sc_drain(int fd, struct ocid_error **err);
