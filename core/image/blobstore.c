/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h> /* flock */
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "image/blobstore.h"

#define IO_CHUNK (128 * 1024)
#define INGEST_GRACE_S 10

/* One fetch in progress for a digest. The fetching caller owns it until it
 * is done; a waiter holds it until it has read the outcome; the last one
 * frees it. */
struct inflight {
        struct inflight *next;
        char digest[DIGEST_STRING_SIZE];
        unsigned waiters;
        bool done;
};

struct blobstore {
        char *root;
        char *blobs_path;       /* <root>/blobs/sha256 */
        char *ingest_path;      /* <root>/ingest */
        int blobs_fd;
        int ingest_fd;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct inflight *inflight;
};

struct blob_writer {
        struct blobstore *bs;
        char *expected_digest;
        int64_t expected_size;
        char tmp_name[65];
        int fd;
        struct digester *digester;
        bool committed;
};

static int open_dir(const char *path, int *ret_fd, struct ocid_error **err)
{
        int r, fd;

        r = ocid_mkdir_p(path, 0700, err);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return ocid_error_set(err, errno, "open '%s'", path);
        *ret_fd = fd;
        return 0;
}

/* An ingest file belongs to a live writer when that writer holds its
 * flock, in this process or another one (`ocid image import` next to the
 * daemon). A writer takes the lock just after creating the file, so a file
 * younger than INGEST_GRACE_S is left alone too; anything else is a
 * leftover of a crash. */
int blobstore_clean_ingest(struct blobstore *bs, struct ocid_error **err)
{
        const time_t now = time(NULL);
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int dfd;

        dfd = fcntl(bs->ingest_fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return ocid_error_set(err, errno, "dup '%s'", bs->ingest_path);
        d = fdopendir(dfd);
        if (!d) {
                int e = errno;
                (void) close(dfd);
                return ocid_error_set(err, e, "opendir '%s'", bs->ingest_path);
        }
        while ((errno = 0, de = readdir(d))) {
                _cleanup_close_ int fd = -1;
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                fd = openat(bs->ingest_fd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
                if (fd < 0) {
                        /* not a regular file we can lock (or gone): remove if we can */
                        (void) unlinkat(bs->ingest_fd, de->d_name, 0);
                        continue;
                }
                if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                        continue; /* a writer is alive */
                if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime > now - INGEST_GRACE_S &&
                    st.st_mtime <= now + INGEST_GRACE_S)
                        continue; /* maybe a writer between create and lock */
                (void) unlinkat(bs->ingest_fd, de->d_name, 0);
        }
        if (errno != 0)
                return ocid_error_set(err, errno, "readdir '%s'", bs->ingest_path);
        return 0;
}

int blobstore_open(const char *root, struct blobstore **ret, struct ocid_error **err)
{
        _cleanup_blobstore_ struct blobstore *bs = xzalloc(sizeof(*bs));
        pthread_condattr_t attr;
        int r;

        bs->blobs_fd = bs->ingest_fd = -1;
        bs->root = xstrdup(root);
        bs->blobs_path = xasprintf("%s/blobs/sha256", root);
        bs->ingest_path = xasprintf("%s/ingest", root);
        (void) pthread_mutex_init(&bs->lock, NULL);
        (void) pthread_condattr_init(&attr);
        (void) pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        (void) pthread_cond_init(&bs->cond, &attr);
        (void) pthread_condattr_destroy(&attr);

        r = open_dir(bs->blobs_path, &bs->blobs_fd, err);
        if (r >= 0)
                r = open_dir(bs->ingest_path, &bs->ingest_fd, err);
        if (r >= 0)
                r = blobstore_clean_ingest(bs, err);
        if (r < 0)
                return ocid_error_prefix(err, "open blob store '%s'", root);
        *ret = TAKE_PTR(bs);
        return 0;
}

struct blobstore *blobstore_free(struct blobstore *bs)
{
        if (!bs)
                return NULL;
        /* A store is freed only when no ensure() is running on it. */
        while (bs->inflight) {
                struct inflight *i = bs->inflight;
                bs->inflight = i->next;
                free(i);
        }
        if (bs->blobs_fd >= 0)
                (void) close(bs->blobs_fd);
        if (bs->ingest_fd >= 0)
                (void) close(bs->ingest_fd);
        (void) pthread_cond_destroy(&bs->cond);
        (void) pthread_mutex_destroy(&bs->lock);
        free(bs->root);
        free(bs->blobs_path);
        free(bs->ingest_path);
        free(bs);
        return NULL;
}

const char *blobstore_root(const struct blobstore *bs)
{
        return bs->root;
}

char *blobstore_blob_path(const struct blobstore *bs, const char *digest)
{
        return xasprintf("%s/%s", bs->blobs_path, digest_hex(digest));
}

bool blobstore_exists(struct blobstore *bs, const char *digest)
{
        struct stat st;

        if (!digest_is_valid(digest))
                return false;
        return fstatat(bs->blobs_fd, digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int blobstore_open_blob(struct blobstore *bs, const char *digest, int *ret_fd, struct ocid_error **err)
{
        int r, fd;

        r = digest_validate(digest, err);
        if (r < 0)
                return r;
        fd = openat(bs->blobs_fd, digest_hex(digest), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno == ENOENT)
                        return ocid_error_msg(err, ENOENT, "blob %s not found", digest);
                return ocid_error_set(err, errno, "open blob %s", digest);
        }
        *ret_fd = fd;
        return 0;
}

int blobstore_size(struct blobstore *bs, const char *digest, uint64_t *ret, struct ocid_error **err)
{
        struct stat st;
        int r;

        r = digest_validate(digest, err);
        if (r < 0)
                return r;
        if (fstatat(bs->blobs_fd, digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return ocid_error_msg(err, ENOENT, "blob %s not found", digest);
                return ocid_error_set(err, errno, "stat blob %s", digest);
        }
        *ret = (uint64_t) st.st_size;
        return 0;
}

int blobstore_delete(struct blobstore *bs, const char *digest, struct ocid_error **err)
{
        int r;

        r = digest_validate(digest, err);
        if (r < 0)
                return r;
        if (unlinkat(bs->blobs_fd, digest_hex(digest), 0) < 0) {
                if (errno == ENOENT)
                        return ocid_error_msg(err, ENOENT, "blob %s not found", digest);
                return ocid_error_set(err, errno, "delete blob %s", digest);
        }
        return 0;
}

int blobstore_verify(struct blobstore *bs, const char *digest, struct ocid_error **err)
{
        _cleanup_close_ int fd = -1;
        char actual[DIGEST_STRING_SIZE];
        int r;

        r = blobstore_open_blob(bs, digest, &fd, err);
        if (r < 0)
                return r;
        r = digest_fd(fd, actual, NULL, err);
        if (r < 0)
                return ocid_error_prefix(err, "verify blob %s", digest);
        if (!streq(actual, digest))
                return ocid_error_msg(err, EBADMSG, "digest mismatch for %s: got %s", digest, actual);
        return 0;
}

int blobstore_read(struct blobstore *bs, const char *digest, size_t max, char **ret, size_t *ret_len,
                   struct ocid_error **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        char actual[DIGEST_STRING_SIZE];
        struct stat st;
        size_t len = 0;
        int r;

        r = blobstore_open_blob(bs, digest, &fd, err);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return ocid_error_set(err, errno, "stat blob %s", digest);
        if ((uint64_t) st.st_size > max)
                return ocid_error_msg(err, EFBIG, "blob %s is %lld bytes, more than the %zu allowed", digest,
                                      (long long) st.st_size, max);
        buf = xmalloc((size_t) st.st_size + 1);
        while (len < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t) st.st_size - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return ocid_error_set(err, errno, "read blob %s", digest);
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        r = digest_buffer(buf, len, actual, err);
        if (r < 0)
                return r;
        if (!streq(actual, digest))
                return ocid_error_msg(err, EBADMSG, "digest mismatch for %s: got %s", digest, actual);
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int blobstore_list(struct blobstore *bs, char ***ret, struct ocid_error **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_ char **list = NULL;
        struct dirent *de;
        int dfd;

        dfd = fcntl(bs->blobs_fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return ocid_error_set(err, errno, "dup '%s'", bs->blobs_path);
        d = fdopendir(dfd);
        if (!d) {
                int e = errno;
                (void) close(dfd);
                return ocid_error_set(err, e, "opendir '%s'", bs->blobs_path);
        }
        rewinddir(d);
        list = xcalloc(1, sizeof(char *));
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *digest = xasprintf("%s%s", DIGEST_SHA256_PREFIX, de->d_name);

                if (digest_is_valid(digest))
                        ocid_strv_push(&list, digest);
        }
        if (errno != 0)
                return ocid_error_set(err, errno, "readdir '%s'", bs->blobs_path);
        *ret = TAKE_PTR(list);
        return 0;
}

int blobstore_writer_begin(struct blobstore *bs, const char *expected_digest, int64_t expected_size,
                           struct blob_writer **ret, struct ocid_error **err)
{
        _cleanup_blob_writer_ struct blob_writer *w = NULL;
        int r;

        if (expected_digest) {
                r = digest_validate(expected_digest, err);
                if (r < 0)
                        return r;
        }
        w = xzalloc(sizeof(*w));
        w->bs = bs;
        w->fd = -1;
        w->expected_digest = xstrdup(expected_digest);
        w->expected_size = expected_size < 0 ? -1 : expected_size;
        r = digester_new(&w->digester, err);
        if (r < 0)
                return r;
        r = ocid_random_id(w->tmp_name, err);
        if (r < 0)
                return r;
        w->fd = openat(bs->ingest_fd, w->tmp_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (w->fd < 0) {
                w->tmp_name[0] = '\0';
                return ocid_error_set(err, errno, "create ingest file in '%s'", bs->ingest_path);
        }
        /* Marks the file live for blobstore_clean_ingest() in any process. */
        if (flock(w->fd, LOCK_EX | LOCK_NB) < 0)
                return ocid_error_set(err, errno, "lock ingest file '%s/%s'", bs->ingest_path, w->tmp_name);
        *ret = TAKE_PTR(w);
        return 0;
}

static const char *writer_name(const struct blob_writer *w)
{
        return w->expected_digest ? w->expected_digest : "blob";
}

int blob_writer_write(struct blob_writer *w, const void *buf, size_t len, struct ocid_error **err)
{
        uint64_t done = digester_count(w->digester);
        int r;

        if (w->committed)
                return ocid_error_msg(err, EINVAL, "write to %s after commit", writer_name(w));
        if (w->expected_size >= 0 && (len > (uint64_t) w->expected_size || done > (uint64_t) w->expected_size - len))
                return ocid_error_msg(err, EFBIG, "%s is larger than its expected size of %lld bytes", writer_name(w),
                                      (long long) w->expected_size);
        r = ocid_write_all(w->fd, buf, len);
        if (r < 0)
                return ocid_error_set(err, -r, "write ingest file for %s", writer_name(w));
        return digester_update(w->digester, buf, len, err);
}

int blob_writer_check(struct blob_writer *w, struct ocid_error **err)
{
        char actual[DIGEST_STRING_SIZE];
        uint64_t written = digester_count(w->digester);
        int r;

        if (w->expected_size >= 0 && written != (uint64_t) w->expected_size)
                return ocid_error_msg(err, EBADMSG, "size mismatch for %s: expected %lld bytes, got %llu",
                                      writer_name(w), (long long) w->expected_size, (unsigned long long) written);
        if (!w->expected_digest)
                return 0;
        r = digester_peek(w->digester, actual, err);
        if (r < 0)
                return r;
        if (!streq(actual, w->expected_digest))
                return ocid_error_msg(err, EBADMSG, "digest mismatch for %s: got %s", w->expected_digest, actual);
        return 0;
}

int blob_writer_reset(struct blob_writer *w, struct ocid_error **err)
{
        if (w->committed)
                return ocid_error_msg(err, EINVAL, "reset of %s after commit", writer_name(w));
        if (ftruncate(w->fd, 0) < 0)
                return ocid_error_set(err, errno, "truncate ingest file for %s", writer_name(w));
        if (lseek(w->fd, 0, SEEK_SET) < 0)
                return ocid_error_set(err, errno, "seek ingest file for %s", writer_name(w));
        return digester_reset(w->digester, err);
}

uint64_t blob_writer_written(const struct blob_writer *w)
{
        return digester_count(w->digester);
}

const char *blob_writer_expected_digest(const struct blob_writer *w)
{
        return w->expected_digest;
}

int64_t blob_writer_expected_size(const struct blob_writer *w)
{
        return w->expected_size;
}

static void writer_discard(struct blob_writer *w)
{
        if (w->tmp_name[0]) {
                (void) unlinkat(w->bs->ingest_fd, w->tmp_name, 0);
                w->tmp_name[0] = '\0';
        }
        if (w->fd >= 0) {
                (void) close(w->fd);
                w->fd = -1;
        }
}

int blob_writer_commit(struct blob_writer *w, char ret_digest[DIGEST_STRING_SIZE], struct ocid_error **err)
{
        char actual[DIGEST_STRING_SIZE];
        uint64_t written = digester_count(w->digester);
        int r;

        if (w->committed || w->fd < 0)
                return ocid_error_msg(err, EINVAL, "commit of %s twice", writer_name(w));
        if (w->expected_size >= 0 && written != (uint64_t) w->expected_size) {
                r = ocid_error_msg(err, EBADMSG, "size mismatch for %s: expected %lld bytes, got %llu",
                                   writer_name(w), (long long) w->expected_size, (unsigned long long) written);
                writer_discard(w);
                return r;
        }
        r = digester_final(w->digester, actual, err);
        if (r < 0) {
                writer_discard(w);
                return r;
        }
        if (w->expected_digest && !streq(actual, w->expected_digest)) {
                r = ocid_error_msg(err, EBADMSG, "digest mismatch for %s: got %s", w->expected_digest, actual);
                writer_discard(w);
                return r;
        }
        if (fchmod(w->fd, 0444) < 0 || fsync(w->fd) < 0) {
                r = ocid_error_set(err, errno, "sync ingest file for %s", actual);
                writer_discard(w);
                return r;
        }
        /* Another writer may have stored the same content meanwhile: the
         * rename replaces it atomically with identical bytes. */
        if (renameat(w->bs->ingest_fd, w->tmp_name, w->bs->blobs_fd, digest_hex(actual)) < 0) {
                r = ocid_error_set(err, errno, "move %s into '%s'", actual, w->bs->blobs_path);
                writer_discard(w);
                return r;
        }
        w->tmp_name[0] = '\0';
        w->committed = true;
        (void) close(w->fd);
        w->fd = -1;
        if (fsync(w->bs->blobs_fd) < 0)
                return ocid_error_set(err, errno, "sync '%s'", w->bs->blobs_path);
        if (ret_digest)
                memcpy(ret_digest, actual, DIGEST_STRING_SIZE);
        return 0;
}

struct blob_writer *blob_writer_free(struct blob_writer *w)
{
        if (!w)
                return NULL;
        writer_discard(w);
        digester_free(w->digester);
        free(w->expected_digest);
        free(w);
        return NULL;
}

int blobstore_ingest_fd(struct blobstore *bs, const char *expected_digest, int64_t expected_size, int fd,
                        char ret_digest[DIGEST_STRING_SIZE], struct ocid_error **err)
{
        _cleanup_blob_writer_ struct blob_writer *w = NULL;
        _cleanup_free_ char *buf = xmalloc(IO_CHUNK);
        int r;

        r = blobstore_writer_begin(bs, expected_digest, expected_size, &w, err);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t n = read(fd, buf, IO_CHUNK);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return ocid_error_set(err, errno, "read %s", writer_name(w));
                }
                if (n == 0)
                        break;
                r = blob_writer_write(w, buf, (size_t) n, err);
                if (r < 0)
                        return r;
        }
        return blob_writer_commit(w, ret_digest, err);
}

int blobstore_put(struct blobstore *bs, const char *expected_digest, const void *buf, size_t len,
                  char ret_digest[DIGEST_STRING_SIZE], struct ocid_error **err)
{
        _cleanup_blob_writer_ struct blob_writer *w = NULL;
        int r;

        r = blobstore_writer_begin(bs, expected_digest, (int64_t) len, &w, err);
        if (r < 0)
                return r;
        r = blob_writer_write(w, buf, len, err);
        if (r < 0)
                return r;
        return blob_writer_commit(w, ret_digest, err);
}

static struct inflight *inflight_find(struct blobstore *bs, const char *digest)
{
        for (struct inflight *i = bs->inflight; i; i = i->next)
                if (streq(i->digest, digest))
                        return i;
        return NULL;
}

static void inflight_unlink(struct blobstore *bs, struct inflight *e)
{
        for (struct inflight **p = &bs->inflight; *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        return;
                }
}

/* Waits, with bs->lock held, until e is done or the deadline passes. */
static int inflight_wait(struct blobstore *bs, struct inflight *e, int64_t deadline_ns)
{
        while (!e->done) {
                if (deadline_ns > 0) {
                        struct timespec ts = {
                                .tv_sec = deadline_ns / 1000000000,
                                .tv_nsec = deadline_ns % 1000000000,
                        };
                        int r = pthread_cond_timedwait(&bs->cond, &bs->lock, &ts);
                        if (r == ETIMEDOUT && !e->done)
                                return -ETIMEDOUT;
                } else {
                        (void) pthread_cond_wait(&bs->cond, &bs->lock);
                }
        }
        return 0;
}

static int fetch_and_commit(struct blobstore *bs, const char *digest, int64_t size, blobstore_fetch_fn fetch,
                            void *userdata, struct ocid_error **err)
{
        _cleanup_blob_writer_ struct blob_writer *w = NULL;
        int r;

        r = blobstore_writer_begin(bs, digest, size, &w, err);
        if (r < 0)
                return r;
        r = fetch(w, userdata, err);
        if (r < 0)
                return r;
        return blob_writer_commit(w, NULL, err);
}

int blobstore_ensure(struct blobstore *bs, const char *digest, int64_t size, blobstore_fetch_fn fetch,
                     void *userdata, int64_t deadline_ns, struct ocid_error **err)
{
        struct inflight *e;
        int r;

        r = digest_validate(digest, err);
        if (r < 0)
                return r;

        for (;;) {
                if (blobstore_exists(bs, digest))
                        return 0;

                (void) pthread_mutex_lock(&bs->lock);
                e = inflight_find(bs, digest);
                if (e) {
                        e->waiters++;
                        r = inflight_wait(bs, e, deadline_ns);
                        e->waiters--;
                        if (e->done && e->waiters == 0)
                                free(e);
                        (void) pthread_mutex_unlock(&bs->lock);
                        if (r < 0)
                                return ocid_error_msg(err, ETIMEDOUT,
                                                      "deadline exceeded while waiting for another fetch of %s",
                                                      digest);
                        /* Done either way: present now, or the other fetch
                         * failed and this caller tries on its own. */
                        continue;
                }

                e = xzalloc(sizeof(*e));
                memcpy(e->digest, digest, strlen(digest) + 1);
                e->next = bs->inflight;
                bs->inflight = e;
                (void) pthread_mutex_unlock(&bs->lock);

                /* It may have been committed between the check and the lock. */
                if (blobstore_exists(bs, digest))
                        r = 0;
                else {
                        r = fetch_and_commit(bs, digest, size, fetch, userdata, err);
                        if (r >= 0)
                                r = 1;
                }

                (void) pthread_mutex_lock(&bs->lock);
                inflight_unlink(bs, e);
                e->done = true;
                if (e->waiters == 0)
                        free(e);
                (void) pthread_cond_broadcast(&bs->cond);
                (void) pthread_mutex_unlock(&bs->lock);
                return r;
        }
}
