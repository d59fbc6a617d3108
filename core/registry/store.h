/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A store: a thread-safe map from ID to a reference-counted object (a pod or
 * a container record).
 *
 * Reference counting. An object the store holds embeds a struct store_ref,
 * initialised with store_ref_init() (count 1, the creator's reference) and a
 * destroy callback that frees the enclosing object when the count drops to 0.
 * The store is told where the member sits (store_new(offsetof(struct x,
 * ref))), so its API takes and returns the objects themselves.
 *
 *   - store_add() takes a reference of the store's own; the caller keeps
 *     its reference and drops it with store_unref() when done.
 *   - store_get() and store_list() hand out new references: every object
 *     they return is the caller's to store_unref() (store_list_free() drops a
 *     whole snapshot).
 *   - store_remove() drops the store's reference. An object another worker
 *     still holds stays valid until that worker's store_unref(); the last
 *     unref, wherever it happens, runs destroy.
 *
 * Locking: one reader-writer lock per store. get, list and count run in
 * parallel; add and remove are exclusive. destroy never runs under the
 * store's lock, so it may take other locks. See docs/registry.md. */

#include <stdatomic.h>
#include <stddef.h>

struct store;
struct store_ref;
struct ocid_error;

typedef void (*store_destroy_fn)(struct store_ref *ref);

struct store_ref {
        atomic_uint count;
        store_destroy_fn destroy;
};

/* The object that embeds `ptr` as `member`. */
#define store_container_of(ptr, type, member) \
        ((type *) ((char *) (ptr) - offsetof(type, member)))

/* Sets the count to 1 (the caller's reference). destroy must not be NULL. */
void store_ref_init(struct store_ref *ref, store_destroy_fn destroy);

/* Takes one more reference. The caller must already hold one. Returns ref. */
struct store_ref *store_ref_get(struct store_ref *ref);

/* Drops one reference; the last one runs destroy. NULL is a no-op. */
void store_ref_put(struct store_ref *ref);

/* A new, empty store of objects that embed their struct store_ref at
 * ref_offset. */
struct store *store_new(size_t ref_offset);

/* Drops the store's reference to every object it still holds (destroying
 * those nobody else holds) and frees the store. NULL is a no-op. Returns
 * NULL. */
struct store *store_free(struct store *s);

/* Adds obj under id and takes a reference of the store's own. Returns 0, or
 *   -EEXIST  "id 'X' already exists in the store" (no reference taken),
 *   -EINVAL  "empty id". */
int store_add(struct store *s, const char *id, void *obj, struct ocid_error **err);

/* The object stored under id with a new reference the caller must drop with
 * store_unref(), or NULL when there is none. */
void *store_get(struct store *s, const char *id);

/* Removes id and drops the store's reference (destroying the object when
 * nobody else holds it). Returns 0, or
 *   -ENOENT  "no such id in the store: 'X'". */
int store_remove(struct store *s, const char *id, struct ocid_error **err);

/* Drops one reference to obj, an object of this store's kind (it need not
 * still be in the store). NULL is a no-op. */
void store_unref(struct store *s, void *obj);

/* A snapshot of every object, each with a new reference, in no particular
 * order: *ret_objs is an array of *ret_n objects (NULL when empty). Release
 * it with store_list_free(). */
void store_list(struct store *s, void ***ret_objs, size_t *ret_n);

/* Drops the references of a snapshot and frees its array. */
void store_list_free(struct store *s, void **objs, size_t n);

/* The number of objects. */
size_t store_count(struct store *s);

#include <ocid/cleanup.h>
OCID_DEFINE_CLEANUP_FUNC(struct store *, store_free)
