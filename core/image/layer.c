/* SPDX-License-Identifier: Apache-2.0 */
#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "image/layer.h"
#include "storage.h"

#define LAYER_CHUNK (256 * 1024)
/* A larger pipe means fewer wake-ups between the two threads. */
#define LAYER_PIPE_SIZE (1024 * 1024)

int layer_chain_id(const char *parent_chain_id, const char *diff_id, char ret[DIGEST_STRING_SIZE],
                   struct ocid_error **err)
{
        _cleanup_free_ char *text = NULL;
        int r;

        r = digest_validate(diff_id, err);
        if (r < 0)
                return r;
        if (!parent_chain_id) {
                memcpy(ret, diff_id, DIGEST_STRING_SIZE);
                return 0;
        }
        r = digest_validate(parent_chain_id, err);
        if (r < 0)
                return r;
        text = xasprintf("%s %s", parent_chain_id, diff_id);
        return digest_buffer(text, strlen(text), ret, err);
}

/* The decompressing side: reads the blob, hashes what comes out and writes
 * it into the pipe. When the reader stops early (the module read the tar's
 * end marker and returned, or failed) it goes on hashing alone: the diff_id
 * covers every byte of the stream. */
struct layer_feed {
        int blob_fd;
        enum layer_compression compression;
        int out_fd;
        int64_t deadline_ns;
        atomic_bool cancel;             /* the module failed: stop */
        struct digester *digester;
        struct ocid_error *error;       /* the feed's own failure */
};

static int feed_open(struct layer_feed *f, struct archive **ret, struct ocid_error **err)
{
        struct archive *a = archive_read_new();
        struct archive_entry *entry;
        int r;

        if (!a)
                return ocid_error_set(err, ENOMEM, "allocate a decompressor");
        switch (f->compression) {
        case LAYER_COMPRESSION_GZIP:
                r = archive_read_support_filter_gzip(a);
                break;
        case LAYER_COMPRESSION_ZSTD:
                r = archive_read_support_filter_zstd(a);
                break;
        default:
                r = ARCHIVE_OK;
                break;
        }
        /* ARCHIVE_WARN: served by an external program; still works. */
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
                r = ocid_error_msg(err, ENOTSUP, "%s decompression unavailable: %s",
                                   layer_compression_to_string(f->compression), archive_error_string(a));
                archive_read_free(a);
                return r;
        }
        if (archive_read_support_format_raw(a) != ARCHIVE_OK ||
            archive_read_open_fd(a, f->blob_fd, LAYER_CHUNK) != ARCHIVE_OK) {
                r = ocid_error_msg(err, EIO, "open the layer blob: %s", archive_error_string(a));
                archive_read_free(a);
                return r;
        }
        r = archive_read_next_header(a, &entry);
        if (r == ARCHIVE_EOF) {
                *ret = a;
                return 0;       /* an empty blob */
        }
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
                r = ocid_error_msg(err, EBADMSG, "read the layer blob: %s", archive_error_string(a));
                archive_read_free(a);
                return r;
        }
        /* Without its filter's signature libarchive passes the bytes
         * through: a blob must be what its media type says. */
        if (f->compression != LAYER_COMPRESSION_NONE &&
            archive_filter_code(a, 0) != (f->compression == LAYER_COMPRESSION_GZIP ? ARCHIVE_FILTER_GZIP
                                                                                  : ARCHIVE_FILTER_ZSTD)) {
                r = ocid_error_msg(err, EBADMSG, "the layer blob is not %s-compressed as its media type says",
                                   layer_compression_to_string(f->compression));
                archive_read_free(a);
                return r;
        }
        *ret = a;
        return 1;
}

static int feed_run(struct layer_feed *f, struct ocid_error **err)
{
        _cleanup_free_ char *buf = xmalloc(LAYER_CHUNK);
        struct archive *a = NULL;
        bool sink_open = true;
        int r;

        r = feed_open(f, &a, err);
        if (r <= 0) {
                if (a)
                        archive_read_free(a);
                return r;
        }
        for (;;) {
                la_ssize_t n;

                if (atomic_load(&f->cancel)) {
                        r = 0;
                        break;
                }
                if (f->deadline_ns > 0 && ocid_now_monotonic_ns() >= f->deadline_ns) {
                        r = ocid_error_msg(err, ETIMEDOUT, "deadline exceeded while unpacking");
                        break;
                }
                n = archive_read_data(a, buf, LAYER_CHUNK);
                if (n == 0) {
                        r = 0;
                        break;
                }
                if (n < 0) {
                        r = ocid_error_msg(err, EBADMSG, "%s stream: %s",
                                           layer_compression_to_string(f->compression), archive_error_string(a));
                        break;
                }
                r = digester_update(f->digester, buf, (size_t) n, err);
                if (r < 0)
                        break;
                if (sink_open) {
                        r = ocid_write_all(f->out_fd, buf, (size_t) n);
                        if (r == -EPIPE) {
                                sink_open = false;
                                (void) close(TAKE_FD(f->out_fd));
                        } else if (r < 0) {
                                r = ocid_error_set(err, -r, "write the layer stream");
                                break;
                        }
                }
        }
        archive_read_free(a);
        return r;
}

/* Moves the error in *src to dst (which may be NULL: dropped). */
static int error_move(struct ocid_error **dst, struct ocid_error **src)
{
        int code = (*src)->code;

        if (dst)
                *dst = TAKE_PTR(*src);
        else
                *src = ocid_error_free(*src);
        return -code;
}

static void *feed_main(void *arg)
{
        struct layer_feed *f = arg;
        sigset_t set;

        /* A reader gone early is EPIPE, not a signal. */
        (void) sigemptyset(&set);
        (void) sigaddset(&set, SIGPIPE);
        (void) pthread_sigmask(SIG_BLOCK, &set, NULL);

        (void) feed_run(f, &f->error);
        if (f->out_fd >= 0)
                (void) close(TAKE_FD(f->out_fd));
        return NULL;
}

int layer_unpack(struct ocid_module *storage, int blob_fd, enum layer_compression compression,
                 const char *diff_id, const char *id, const char *parent, int64_t deadline_ns,
                 uint64_t *ret_size, struct ocid_error **err)
{
        struct layer_feed feed = {
                .blob_fd = blob_fd,
                .compression = compression,
                .out_fd = -1,
                .deadline_ns = deadline_ns,
        };
        _cleanup_error_ struct ocid_error *create_error = NULL;
        _cleanup_digester_ struct digester *digester = NULL;
        _cleanup_close_ int in_fd = -1;
        char actual[DIGEST_STRING_SIZE];
        uint64_t size = 0; /* the module's (on-disk) size; ocid reports the stream's */
        pthread_t thread;
        int pipefd[2], r, create_r;

        r = digester_new(&digester, err);
        if (r < 0)
                return r;
        feed.digester = digester;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return ocid_error_set(err, errno, "create a pipe");
        in_fd = pipefd[0];
        feed.out_fd = pipefd[1];
        (void) fcntl(feed.out_fd, F_SETPIPE_SZ, LAYER_PIPE_SIZE);
        atomic_init(&feed.cancel, false);

        r = pthread_create(&thread, NULL, feed_main, &feed);
        if (r != 0) {
                (void) close(feed.out_fd);
                return ocid_error_set(err, r, "start the decompression thread");
        }

        create_r = storage_layer_create(storage, id, parent, in_fd, &size, &create_error);
        if (create_r < 0)
                atomic_store(&feed.cancel, true);
        /* Whatever the module left unread: the feed sees EPIPE. */
        (void) close(TAKE_FD(in_fd));
        (void) pthread_join(thread, NULL);

        if (feed.error) {
                /* The feed's failure explains the module's (a cut stream). */
                if (create_r >= 0)
                        (void) storage_layer_remove(storage, id, NULL);
                return error_move(err, &feed.error);
        }
        if (create_r < 0)
                return error_move(err, &create_error);

        r = digester_final(digester, actual, err);
        if (r < 0) {
                (void) storage_layer_remove(storage, id, NULL);
                return r;
        }
        if (!digest_equal(actual, diff_id)) {
                _cleanup_error_ struct ocid_error *rm_error = NULL;

                if (storage_layer_remove(storage, id, &rm_error) < 0)
                        return ocid_error_msg(err, EBADMSG,
                                              "diff_id mismatch: expected %s, got %s (removing the layer failed: %s)",
                                              diff_id, actual, ocid_error_message(&rm_error));
                return ocid_error_msg(err, EBADMSG, "diff_id mismatch: expected %s, got %s", diff_id, actual);
        }
        if (ret_size)
                *ret_size = digester_count(digester);
        return 0;
}
