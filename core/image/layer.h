/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Image layers on their way from a compressed blob to the storage module:
 * chain IDs, decompression, and the diff_id check. */

#include <stdint.h>

#include "image/digest.h"
#include "image/manifest.h"

struct ocid_error;
struct ocid_module;

/* The OCI chain ID of a layer: its diff_id for a base layer (parent NULL),
 * else sha256 of "<parent chain ID> <diff_id>". */
int layer_chain_id(const char *parent_chain_id, const char *diff_id, char ret[DIGEST_STRING_SIZE],
                   struct ocid_error **err);

/* Decompresses the layer blob read from blob_fd (compression as its media
 * type says; a blob in another format is -EBADMSG) and streams the tar through a pipe into the
 * storage module as layer `id` (hex chain ID) on `parent` (hex, or NULL),
 * hashing the uncompressed bytes. If they do not hash to diff_id the new
 * layer is removed and the result is -EBADMSG "diff_id mismatch: expected
 * <diff_id>, got <actual>". deadline_ns (CLOCK_MONOTONIC, 0: none) cuts the
 * stream off with -ETIMEDOUT. *ret_size (may be NULL) receives the
 * uncompressed size. The caller holds the layer's lock. */
int layer_unpack(struct ocid_module *storage, int blob_fd, enum layer_compression compression,
                 const char *diff_id, const char *id, const char *parent, int64_t deadline_ns,
                 uint64_t *ret_size, struct ocid_error **err);
