/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Content digests ("sha256:<64 lowercase hex>"): streaming computation,
 * validation and comparison. sha256 is the only algorithm ocid verifies;
 * anything else is refused as unsupported rather than trusted unchecked. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ocid_error;

#define DIGEST_SHA256_PREFIX   "sha256:"
#define DIGEST_SHA256_HEX_LEN  64
/* "sha256:" + 64 hex digits + NUL */
#define DIGEST_STRING_SIZE     (sizeof(DIGEST_SHA256_PREFIX) - 1 + DIGEST_SHA256_HEX_LEN + 1)

/* A streaming sha256 computation (OpenSSL EVP). */
struct digester;

int digester_new(struct digester **ret, struct ocid_error **err);
int digester_update(struct digester *d, const void *buf, size_t len, struct ocid_error **err);
/* Writes "sha256:<hex>" of everything fed so far; the digester must be
 * reset before it is fed again. */
int digester_final(struct digester *d, char ret[DIGEST_STRING_SIZE], struct ocid_error **err);
/* The digest of what was fed so far, without finishing: feeding may go on. */
int digester_peek(const struct digester *d, char ret[DIGEST_STRING_SIZE], struct ocid_error **err);
/* Starts over, as if newly created. */
int digester_reset(struct digester *d, struct ocid_error **err);
/* Bytes fed since creation or the last reset. */
uint64_t digester_count(const struct digester *d);
struct digester *digester_free(struct digester *d);

#include <ocid/cleanup.h>
OCID_DEFINE_CLEANUP_FUNC(struct digester *, digester_free)
#define _cleanup_digester_ _cleanup_(digester_freep)

/* One-shot digests. digest_fd reads fd from its current offset to EOF;
 * ret_size (may be NULL) receives the number of bytes read. */
int digest_buffer(const void *buf, size_t len, char ret[DIGEST_STRING_SIZE], struct ocid_error **err);
int digest_fd(int fd, char ret[DIGEST_STRING_SIZE], uint64_t *ret_size, struct ocid_error **err);

/* Checks that s is "<algorithm>:<hex>" with a supported algorithm and the
 * exact form that algorithm requires (sha256: 64 lowercase hex digits).
 * -EINVAL with a message naming the digest and what is wrong. */
int digest_validate(const char *s, struct ocid_error **err);
bool digest_is_valid(const char *s);

/* The hex part of a valid digest (the text after ':'). */
const char *digest_hex(const char *digest);

/* True when both are valid digests and name the same content. */
bool digest_equal(const char *a, const char *b);
