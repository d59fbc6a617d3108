/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A string-keyed hash map for the registry's indexes: separate chaining,
 * grows and shrinks with its load. It copies and owns the keys; values are
 * the caller's, never NULL (NULL means "absent"). Not thread-safe: each
 * user (names, store) guards its maps with its own lock. */

#include <stddef.h>

struct hashmap;

/* Called once per entry; a non-zero return stops the walk and is returned. */
typedef int (*hashmap_foreach_fn)(const char *key, void *value, void *userdata);

struct hashmap *hashmap_new(void);

/* Frees the map and its keys, not the values. NULL is a no-op. Returns NULL. */
struct hashmap *hashmap_free(struct hashmap *m);

/* The value stored under key, or NULL. */
void *hashmap_get(const struct hashmap *m, const char *key);

/* Stores value (non-NULL) under a copy of key. Returns 0, or -EEXIST when
 * the key is present (the map is unchanged) and -EINVAL for a NULL value. */
int hashmap_put(struct hashmap *m, const char *key, void *value);

/* Replaces the value of a present key and returns the old one; returns
 * NULL (and changes nothing) when the key is absent. */
void *hashmap_replace(struct hashmap *m, const char *key, void *value);

/* Removes key and returns its value, or NULL when absent. */
void *hashmap_remove(struct hashmap *m, const char *key);

size_t hashmap_size(const struct hashmap *m);

/* Calls fn for every entry, in no particular order. fn must not change the
 * map. Returns the first non-zero value fn returned, or 0. */
int hashmap_foreach(const struct hashmap *m, hashmap_foreach_fn fn, void *userdata);

#include <ocid/cleanup.h>
OCID_DEFINE_CLEANUP_FUNC(struct hashmap *, hashmap_free)
