/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The image store: what images the node holds and under which names.
 *
 * Layout below <root>/images (docs/images.md, "The image store"):
 *   blobs/sha256/<hex>   manifests, configs, compressed layers (blobstore.h)
 *   ingest/              blobs being written
 *   <config hex>.json    one record per image, written atomically
 *   lock                 flock: held exclusively by every mutation
 *   generation           a counter bumped under the lock by every mutation
 *   leases/<random>      blobs and layers a pull or import is working on
 *   layer-locks/<hex>    flock per storage layer while it is created or removed
 * Layers themselves live in the storage module, named by chain ID (hex).
 *
 * Two processes share one store: the daemon and `ocid image import` /
 * `ocid image ls`. Every mutation takes the lock and bumps the generation;
 * every read first compares the generation with the one it loaded and
 * re-reads the records when it changed, so a record written by another
 * process shows up at the next call. A record that cannot be loaded is
 * logged once and skipped, never deleted.
 *
 * Adding an image (what a pull and an import do):
 *   1. image_lease_new(): a lease keeps what it names safe from garbage
 *      collection by RemoveImage in any process while the work goes on.
 *   2. image_lease_add_blob() for each blob BEFORE ingesting it into
 *      image_store_blobs() (manifest, config, layers).
 *   3. image_store_unpack(): creates the missing storage layers of an
 *      image manifest from its blobs (fetching absent blobs through a
 *      callback), verifying every diff_id.
 *   4. image_store_commit(): writes the record with its names. This is the
 *      only step that makes the image visible.
 *   5. image_lease_free().
 * A process that dies between the steps leaves only content-addressed
 * blobs and complete layers, which the next pull reuses.
 *
 * All functions are thread-safe. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/blobstore.h"

struct ocid_error;
struct ocid_module;
struct image_store;
struct image_lease;

/* The store's directory below the daemon's root. */
#define IMAGE_STORE_DIR "images"

/* One layer of an image, base layer first. */
struct image_layer_info {
        char *chain_id;         /* "sha256:<hex>": the storage layer is named <hex> */
        char *diff_id;          /* "sha256:<hex>" of the uncompressed tar */
        char *digest;           /* the compressed blob */
        int64_t size;           /* the compressed blob's size */
        char *media_type;       /* the manifest's layer media type */
};

struct image_record {
        char *id;               /* "sha256:<config hex>" = config_digest */
        char *config_digest;
        char *manifest_digest;  /* the image manifest (not an index) last recorded */
        char **repo_tags;       /* "docker.io/library/busybox:latest"; never NULL */
        char **repo_digests;    /* "docker.io/library/busybox@sha256:<manifest or index hex>"; never NULL */
        struct image_layer_info *layers;
        size_t n_layers;
        char **blobs;           /* every blob digest the image keeps (manifests, config, layers); never NULL */
        uint64_t size;          /* compressed layers + config, in bytes */
        int64_t uid;            /* from config User when numeric ("1000", "1000:1000"); -1 otherwise */
        char *username;         /* from config User when not numeric ("nobody"); NULL otherwise */
        bool pinned;            /* never removed by the kubelet's image GC */
        int64_t created_ns;     /* CLOCK_REALTIME, when the record was first written */
};

struct image_record *image_record_free(struct image_record *r);
struct image_record *image_record_copy(const struct image_record *r);
/* Frees a NULL-terminated vector of records. */
void image_record_list_free(struct image_record **v);

/* Opens (creating as needed, mode 0700) <root>/images and loads the
 * records. storage is the storage module layers go to (may be NULL for a
 * store that is only listed: unpack, remove and usage then fail with
 * -EOPNOTSUPP). */
int image_store_open(const char *root, struct ocid_module *storage, struct image_store **ret,
                     struct ocid_error **err);
struct image_store *image_store_free(struct image_store *s);

const char *image_store_dir(const struct image_store *s);
struct blobstore *image_store_blobs(struct image_store *s);
struct ocid_module *image_store_storage(struct image_store *s);

/* Every image, sorted by id, as a NULL-terminated vector of copies. */
int image_store_list(struct image_store *s, struct image_record ***ret, struct ocid_error **err);

/* The image `name` names: an ID ("sha256:<hex>" or "<hex>"), a unique ID
 * prefix of at least 3 hex digits, a tag ("busybox", "busybox:1.36",
 * "docker.io/library/busybox:latest"; an unqualified name is looked up on
 * each of search_registries in turn, NULL: docker.io) or a digest reference
 * ("busybox@sha256:<hex>", matching repo_digests). -ENOENT when there is
 * none ("image '<name>' not found"), -ENOTUNIQ for an ambiguous prefix,
 * -EINVAL for a name that is no reference at all. */
int image_store_get(struct image_store *s, const char *name, char *const *search_registries,
                    struct image_record **ret, struct ocid_error **err);

/* ---- adding images ----------------------------------------------------- */

/* A lease is a file under leases/ that this process holds locked; garbage
 * collection (in any process) spares what a live lease names. */
int image_lease_new(struct image_store *s, struct image_lease **ret, struct ocid_error **err);
/* Adds a blob digest / a layer chain ID ("sha256:<hex>") to the lease. */
int image_lease_add_blob(struct image_lease *l, const char *digest, struct ocid_error **err);
int image_lease_add_layer(struct image_lease *l, const char *chain_id, struct ocid_error **err);
/* Releases the lease and frees it. */
struct image_lease *image_lease_free(struct image_lease *l);

/* Progress of image_store_unpack, once per layer: index (0-based) of
 * n_layers, and whether the layer was already present. */
typedef void (*image_unpack_progress_fn)(void *userdata, size_t index, size_t n_layers,
                                         const struct image_layer_info *layer, bool present);

struct image_unpack_options {
        /* Fills a writer with a layer blob missing from the store (the
         * writer knows the digest and size); NULL: a missing blob is
         * -ENOENT. Runs under blobstore_ensure(), once per digest. */
        blobstore_fetch_fn fetch;
        void *fetch_userdata;
        image_unpack_progress_fn progress;
        void *progress_userdata;
        int64_t deadline_ns;    /* CLOCK_MONOTONIC; 0: none */
};

/* Makes sure every layer of the image manifest `manifest_digest` exists in
 * the storage module. The manifest and its config must be in the blob
 * store and in the lease. For each layer in order the chain ID is computed
 * (OCI image spec: sha256 of "<parent chain ID> <diff ID>"), added to the
 * lease, and, under that layer's lock, the layer is created unless it
 * exists: its blob is ensured (opts->fetch), decompressed (gzip, zstd or
 * none) and streamed to the storage module while the uncompressed bytes
 * are hashed. A diff_id mismatch removes the layer and fails with -EBADMSG
 * "layer <digest>: diff_id mismatch ...". */
int image_store_unpack(struct image_store *s, struct image_lease *lease, const char *manifest_digest,
                       const struct image_unpack_options *opts, struct ocid_error **err);

#define IMAGE_COMMIT_PINNED (1u << 0)   /* mark the image pinned */

/* Records the image of manifest `manifest_digest` (whose layers must exist:
 * -ENOENT otherwise) with the given names, merged into an existing record
 * of the same image. repo_tags ("name:tag") move to this image: an older
 * image holding one loses it. repo_digests are "name@<digest>". extra_blobs
 * (may be NULL) are further blobs the image keeps, e.g. the index it was
 * selected from. Returns the record written. */
int image_store_commit(struct image_store *s, const char *manifest_digest, char *const *repo_tags,
                       char *const *repo_digests, char *const *extra_blobs, unsigned flags,
                       struct image_record **ret, struct ocid_error **err);

/* ---- removing images --------------------------------------------------- */

/* Says whether an image is used, e.g. by a container: returns 1 with
 * *ret_user (owned by the caller) naming the user, 0 when unused, < 0 on
 * error. */
typedef int (*image_in_use_fn)(void *userdata, const char *image_id, char **ret_user, struct ocid_error **err);

/* Without a hook no image is in use. The hook runs under the store's
 * locks: it must not call back into the store. */
void image_store_set_in_use_fn(struct image_store *s, image_in_use_fn fn, void *userdata);

/* Removes what `name` names (as image_store_get looks it up):
 *   - an ID (or prefix): the image with all its names;
 *   - a tag: that tag only; the image goes when no tag is left;
 *   - a digest reference: that repo digest; the image goes when neither
 *     a tag nor a repo digest is left.
 * Removing the image itself is refused with -EBUSY naming the user when
 * the in-use hook says so. Once the record is gone, the image's layers that
 * no other image or live lease uses are removed top-down from the storage
 * module, then its blobs nobody else keeps. Returns 1 when the image was
 * removed, 0 when only a name was; -ENOENT when name names nothing. */
int image_store_remove(struct image_store *s, const char *name, char *const *search_registries,
                       struct ocid_error **err);

/* Deletes blobs that no record and no live lease keeps (what a pull that
 * was cut off or failed verification may leave) and leases whose owner
 * died. Returns the number of blobs deleted. */
int image_store_prune(struct image_store *s, struct ocid_error **err);

/* Bytes and inodes of the blob store. */
int image_store_blob_usage(struct image_store *s, uint64_t *ret_bytes, uint64_t *ret_inodes,
                           struct ocid_error **err);

#include <ocid/cleanup.h>
OCID_DEFINE_CLEANUP_FUNC(struct image_store *, image_store_free)
#define _cleanup_image_store_ _cleanup_(image_store_freep)
OCID_DEFINE_CLEANUP_FUNC(struct image_record *, image_record_free)
#define _cleanup_image_record_ _cleanup_(image_record_freep)
OCID_DEFINE_CLEANUP_FUNC(struct image_lease *, image_lease_free)
#define _cleanup_image_lease_ _cleanup_(image_lease_freep)
static inline void image_record_list_freep(struct image_record ***v)
{
        if (*v)
                image_record_list_free(*v);
}
#define _cleanup_image_record_list_ _cleanup_(image_record_list_freep)
