/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Finding a pod or a container by its ID or a unique prefix of it: the
 * registry's truncindex resolves the prefix, its store holds the object. */

struct ocid_error;
struct store;
struct truncindex;

/* The object of store whose ID starts with id, with a reference the caller
 * drops with store_unref(). On failure NULL and err holds
 *   EINVAL  "<field> is empty" when id is NULL or "",
 *   ENOENT  "<what> '<id>' not found",
 *   or the truncindex's own error (an ambiguous prefix). */
void *lc_lookup(struct truncindex *index, struct store *store, const char *id, const char *what,
                const char *field, struct ocid_error **err);
