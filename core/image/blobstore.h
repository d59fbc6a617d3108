/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The content-addressed blob store: every manifest, config and layer blob
 * lives at <root>/blobs/sha256/<hex>, written once and never changed.
 *
 * A blob enters only through a writer: bytes go to <root>/ingest/<random>
 * and are hashed on the way; commit checks the expected size and digest,
 * fsyncs, and renames the file into place (then fsyncs the directory). A
 * reader therefore never sees a partial or unverified blob, and a crash
 * leaves at most a stale ingest file, which blobstore_open() (or
 * blobstore_clean_ingest()) removes. Within one process, blobstore_ensure() fetches a digest once
 * however many callers want it at the same time. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/digest.h"

struct ocid_error;
struct blobstore;
struct blob_writer;

/* Opens (creating as needed, mode 0700) the store below root, and cleans
 * its ingest directory. */
int blobstore_open(const char *root, struct blobstore **ret, struct ocid_error **err);
/* Removes ingest files no live writer (of any process) holds and that are
 * older than a few seconds: the leftovers of a crash. Safe at any time. */
int blobstore_clean_ingest(struct blobstore *bs, struct ocid_error **err);
struct blobstore *blobstore_free(struct blobstore *bs);

const char *blobstore_root(const struct blobstore *bs);

/* Path of a blob (it need not exist). digest must be valid. */
char *blobstore_blob_path(const struct blobstore *bs, const char *digest);

bool blobstore_exists(struct blobstore *bs, const char *digest);
/* -ENOENT "blob <digest> not found" when absent; -EINVAL for a bad digest. */
int blobstore_open_blob(struct blobstore *bs, const char *digest, int *ret_fd, struct ocid_error **err);
int blobstore_size(struct blobstore *bs, const char *digest, uint64_t *ret, struct ocid_error **err);
int blobstore_delete(struct blobstore *bs, const char *digest, struct ocid_error **err);
/* Re-hashes a stored blob: -EBADMSG when its content no longer matches. */
int blobstore_verify(struct blobstore *bs, const char *digest, struct ocid_error **err);
/* Reads a whole blob of at most max bytes (-EFBIG beyond), verifying its
 * digest. *ret is NUL-terminated. */
int blobstore_read(struct blobstore *bs, const char *digest, size_t max, char **ret, size_t *ret_len,
                   struct ocid_error **err);
/* Every stored digest, as a NULL-terminated vector. */
int blobstore_list(struct blobstore *bs, char ***ret, struct ocid_error **err);

/* Starts an ingest. expected_digest may be NULL (the content decides the
 * name, as for a manifest fetched by tag); expected_size < 0 means unknown. */
int blobstore_writer_begin(struct blobstore *bs, const char *expected_digest, int64_t expected_size,
                           struct blob_writer **ret, struct ocid_error **err);
/* Appends; more bytes than the expected size is -EFBIG at once. */
int blob_writer_write(struct blob_writer *w, const void *buf, size_t len, struct ocid_error **err);
/* Checks what was written against the expected size and digest without
 * committing: -EBADMSG as commit would report it. */
int blob_writer_check(struct blob_writer *w, struct ocid_error **err);
/* Discards what was written so far (a retry from another source). */
int blob_writer_reset(struct blob_writer *w, struct ocid_error **err);
/* Verifies size and digest, fsyncs and moves the blob into place. A
 * mismatch is -EBADMSG ("digest mismatch for <digest>: got <actual>") and
 * deletes the temporary file. ret_digest (may be NULL) receives the digest. */
int blob_writer_commit(struct blob_writer *w, char ret_digest[DIGEST_STRING_SIZE], struct ocid_error **err);
uint64_t blob_writer_written(const struct blob_writer *w);
const char *blob_writer_expected_digest(const struct blob_writer *w);
int64_t blob_writer_expected_size(const struct blob_writer *w);
/* Frees the writer; an uncommitted ingest file is deleted. */
struct blob_writer *blob_writer_free(struct blob_writer *w);

#include <ocid/cleanup.h>
OCID_DEFINE_CLEANUP_FUNC(struct blob_writer *, blob_writer_free)
#define _cleanup_blob_writer_ _cleanup_(blob_writer_freep)
OCID_DEFINE_CLEANUP_FUNC(struct blobstore *, blobstore_free)
#define _cleanup_blobstore_ _cleanup_(blobstore_freep)

/* Whole-blob ingests: from fd (to EOF) or from memory. */
int blobstore_ingest_fd(struct blobstore *bs, const char *expected_digest, int64_t expected_size, int fd,
                        char ret_digest[DIGEST_STRING_SIZE], struct ocid_error **err);
int blobstore_put(struct blobstore *bs, const char *expected_digest, const void *buf, size_t len,
                  char ret_digest[DIGEST_STRING_SIZE], struct ocid_error **err);

/* Fills a writer from some source (a registry, a file): writes every byte
 * and returns 0, or fails with an error; it must not commit. */
typedef int (*blobstore_fetch_fn)(struct blob_writer *w, void *userdata, struct ocid_error **err);

/* Makes sure `digest` is stored, fetching it once per process: returns 0
 * when it was present (or another caller stored it meanwhile), 1 when this
 * call fetched and committed it. A caller that finds the digest in flight
 * waits for that fetch; if it failed, the waiter tries with its own fetch.
 * deadline_ns (absolute, CLOCK_MONOTONIC; 0: none) bounds the wait:
 * -ETIMEDOUT. */
int blobstore_ensure(struct blobstore *bs, const char *digest, int64_t size, blobstore_fetch_fn fetch,
                     void *userdata, int64_t deadline_ns, struct ocid_error **err);
