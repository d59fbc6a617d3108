/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The truncated-ID index: the set of pod (or container) IDs, looked up by any
 * unique prefix, as `crictl` users type them. An ID is exactly
 * TRUNCINDEX_ID_LEN lowercase hexadecimal characters.
 *
 * A crit-bit tree holds the IDs: add, delete and lookup cost O(length of
 * the ID), independent of how many IDs there are, and a walk visits them
 * in sorted order. A reader-writer lock guards it: lookups and walks run in
 * parallel, add and delete exclusively. See docs/registry.md. */

#include <stdbool.h>
#include <stddef.h>

#define TRUNCINDEX_ID_LEN 64

struct truncindex;
struct ocid_error;

/* Called once per ID; a non-zero return stops the walk and is returned. */
typedef int (*truncindex_foreach_fn)(const char *id, void *userdata);

struct truncindex *truncindex_new(void);

/* Frees the index and every ID in it. NULL is a no-op. Returns NULL. */
struct truncindex *truncindex_free(struct truncindex *t);

/* Whether id is exactly TRUNCINDEX_ID_LEN lowercase hexadecimal characters. */
bool truncindex_id_is_valid(const char *id);

/* Adds id. Returns 0, or
 *   -EINVAL  "invalid id 'X': ..." when id is not a valid ID,
 *   -EEXIST  "id 'X' already exists". */
int truncindex_add(struct truncindex *t, const char *id, struct ocid_error **err);

/* Deletes id (the full ID, not a prefix). Returns 0, or
 *   -EINVAL  "invalid id 'X': ..." when id is not a valid ID,
 *   -ENOENT  "no such id: 'X'". */
int truncindex_delete(struct truncindex *t, const char *id, struct ocid_error **err);

/* Finds the one ID that starts with prefix (a full ID is a prefix of
 * itself) and copies it to ret_id. Returns 0, or
 *   -EINVAL    "empty id prefix",
 *   -ENOENT    "no such id: 'P'" when no ID starts with prefix (also when
 *              prefix is longer than an ID or holds a character an ID
 *              cannot hold: such a prefix can match nothing),
 *   -ENOTUNIQ  "prefix 'P' is ambiguous" when two or more IDs start with it.
 * ret_id is untouched on failure. */
int truncindex_get(struct truncindex *t, const char *prefix, char ret_id[TRUNCINDEX_ID_LEN + 1],
                   struct ocid_error **err);

/* Calls fn for every ID, in ascending order, under the read lock: fn must
 * not add to or delete from this index. Returns the first non-zero value fn
 * returned, or 0. */
int truncindex_foreach(struct truncindex *t, truncindex_foreach_fn fn, void *userdata);

/* The number of IDs. */
size_t truncindex_count(struct truncindex *t);

#include <ocid/cleanup.h>
OCID_DEFINE_CLEANUP_FUNC(struct truncindex *, truncindex_free)
