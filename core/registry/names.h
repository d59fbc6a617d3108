/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The name registrar: a name (a pod's or a container's CRI name) belongs to
 * at most one ID at a time. An ID may hold several names. Every function is
 * safe to call from any thread; one mutex guards the whole registrar and no
 * callback runs under it. See docs/registry.md. */

#include <stddef.h>

struct names;
struct ocid_error;

struct names *names_new(void);

/* Frees the registrar and every reservation. NULL is a no-op. Returns NULL. */
struct names *names_free(struct names *n);

/* Reserves name for id. Reserving a name again for the ID that holds it
 * succeeds and changes nothing. Returns 0, or
 *   -EEXIST  "name 'N' is reserved for 'ID'" when another ID holds it,
 *   -EINVAL  "empty name" / "empty id". */
int names_reserve(struct names *n, const char *name, const char *id, struct ocid_error **err);

/* Releases name, whichever ID holds it. Returns 0, or
 *   -ENOENT  "name 'N' is not reserved". */
int names_release(struct names *n, const char *name, struct ocid_error **err);

/* Releases every name id holds. Returns how many it released (0 when id
 * holds none). */
size_t names_release_id(struct names *n, const char *id);

/* Copies the ID that holds name into *ret_id (free it). Returns 0, or
 *   -ENOENT  "name 'N' is not reserved" (and leaves *ret_id untouched). */
int names_get(struct names *n, const char *name, char **ret_id, struct ocid_error **err);

/* Sets *ret_names to a NULL-terminated, sorted copy of the names id holds
 * (an empty vector when none; free it with ocid_strv_free) and returns
 * their number. */
size_t names_get_names(struct names *n, const char *id, char ***ret_names);

/* The number of reserved names. */
size_t names_count(struct names *n);

#include <ocid/cleanup.h>
OCID_DEFINE_CLEANUP_FUNC(struct names *, names_free)
