/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../test-common.h"

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "image/blobstore.h"

#define ABC   "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define ABD   "sha256:a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c9"

struct fixture {
        char dir[64];
        struct blobstore *bs;
};

static int setup(void **state)
{
        struct fixture *f = xzalloc(sizeof(*f));

        strcpy(f->dir, "/tmp/ocid-test-blobstore-XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        if (blobstore_open(f->dir, &f->bs, NULL) < 0)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        blobstore_free(f->bs);
        (void) ocid_rm_rf(f->dir, NULL);
        free(f);
        return 0;
}

static size_t count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

static size_t ingest_entries(struct fixture *f)
{
        _cleanup_free_ char *p = xasprintf("%s/ingest", f->dir);
        return count_entries(p);
}

static size_t blob_entries(struct fixture *f)
{
        _cleanup_free_ char *p = xasprintf("%s/blobs/sha256", f->dir);
        return count_entries(p);
}

static void test_layout_and_put(void **state)
{
        struct fixture *f = *state;
        char d[DIGEST_STRING_SIZE];
        _cleanup_free_ char *path = blobstore_blob_path(f->bs, ABC), *data = NULL;
        _cleanup_strv_ char **list = NULL;
        struct stat st;
        uint64_t size = 0;
        size_t len = 0;
        int fd = -1;

        assert_string_equal(blobstore_root(f->bs), f->dir);
        assert_false(blobstore_exists(f->bs, ABC));
        assert_int_equal(blobstore_put(f->bs, ABC, "abc", 3, d, NULL), 0);
        assert_string_equal(d, ABC);
        assert_true(blobstore_exists(f->bs, ABC));

        /* <root>/blobs/sha256/<hex>, read-only */
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0444);
        assert_non_null(strstr(path, "/blobs/sha256/ba7816bf"));

        assert_int_equal(blobstore_size(f->bs, ABC, &size, NULL), 0);
        assert_int_equal(size, 3);
        assert_int_equal(blobstore_open_blob(f->bs, ABC, &fd, NULL), 0);
        {
                char buf[8] = { 0 };
                assert_int_equal(read(fd, buf, sizeof(buf)), 3);
                assert_string_equal(buf, "abc");
                close(fd);
        }
        assert_int_equal(blobstore_read(f->bs, ABC, 100, &data, &len, NULL), 0);
        assert_int_equal(len, 3);
        assert_string_equal(data, "abc");
        assert_int_equal(blobstore_verify(f->bs, ABC, NULL), 0);

        assert_int_equal(blobstore_list(f->bs, &list, NULL), 0);
        assert_int_equal(ocid_strv_length(list), 1);
        assert_string_equal(list[0], ABC);

        /* a second put of the same content is fine */
        assert_int_equal(blobstore_put(f->bs, NULL, "abc", 3, d, NULL), 0);
        assert_string_equal(d, ABC);
        assert_int_equal(blob_entries(f), 1);
        assert_int_equal(ingest_entries(f), 0);

        assert_int_equal(blobstore_delete(f->bs, ABC, NULL), 0);
        assert_false(blobstore_exists(f->bs, ABC));
        assert_int_equal(blob_entries(f), 0);
}

static void test_missing_and_invalid(void **state)
{
        struct fixture *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        uint64_t size;
        int fd;
        char *data;

        assert_int_equal(blobstore_open_blob(f->bs, ABC, &fd, &err), -ENOENT);
        assert_non_null(strstr(ocid_error_message(&err), "blob " ABC " not found"));
        ocid_error_clear(&err);
        assert_int_equal(blobstore_size(f->bs, ABC, &size, &err), -ENOENT);
        ocid_error_clear(&err);
        assert_int_equal(blobstore_delete(f->bs, ABC, &err), -ENOENT);
        ocid_error_clear(&err);
        assert_int_equal(blobstore_read(f->bs, ABC, 10, &data, NULL, &err), -ENOENT);
        ocid_error_clear(&err);

        /* a digest is never used as a path unless valid */
        assert_int_equal(blobstore_open_blob(f->bs, "sha256:../../etc/passwd", &fd, &err), -EINVAL);
        ocid_error_clear(&err);
        assert_false(blobstore_exists(f->bs, "sha256:.."));
        assert_int_equal(blobstore_put(f->bs, "md5:00", "x", 1, NULL, &err), -EINVAL);
        ocid_error_clear(&err);

        /* read refuses oversize blobs */
        assert_int_equal(blobstore_put(f->bs, ABC, "abc", 3, NULL, NULL), 0);
        assert_int_equal(blobstore_read(f->bs, ABC, 2, &data, NULL, &err), -EFBIG);
}

static void test_digest_mismatch(void **state)
{
        struct fixture *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_blob_writer_ struct blob_writer *w = NULL;

        assert_int_equal(blobstore_writer_begin(f->bs, ABC, 3, &w, NULL), 0);
        assert_int_equal(ingest_entries(f), 1);
        assert_int_equal(blob_writer_write(w, "abd", 3, NULL), 0);
        assert_int_equal(blob_writer_check(w, &err), -EBADMSG);
        ocid_error_clear(&err);
        assert_int_equal(blob_writer_commit(w, NULL, &err), -EBADMSG);
        assert_string_equal(ocid_error_message(&err), "digest mismatch for " ABC ": got " ABD);
        /* nothing is left behind */
        assert_false(blobstore_exists(f->bs, ABC));
        assert_false(blobstore_exists(f->bs, ABD));
        assert_int_equal(ingest_entries(f), 0);
        assert_int_equal(blob_entries(f), 0);
}

static void test_size_mismatch(void **state)
{
        struct fixture *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        struct blob_writer *w = NULL;

        /* more than expected fails at once */
        assert_int_equal(blobstore_writer_begin(f->bs, ABC, 3, &w, NULL), 0);
        assert_int_equal(blob_writer_write(w, "ab", 2, NULL), 0);
        assert_int_equal(blob_writer_write(w, "cd", 2, &err), -EFBIG);
        assert_non_null(strstr(ocid_error_message(&err), "larger than its expected size of 3 bytes"));
        ocid_error_clear(&err);
        w = blob_writer_free(w);
        assert_int_equal(ingest_entries(f), 0);

        /* fewer than expected fails at commit */
        assert_int_equal(blobstore_writer_begin(f->bs, ABC, 3, &w, NULL), 0);
        assert_int_equal(blob_writer_write(w, "ab", 2, NULL), 0);
        assert_int_equal(blob_writer_commit(w, NULL, &err), -EBADMSG);
        assert_non_null(strstr(ocid_error_message(&err), "size mismatch for " ABC ": expected 3 bytes, got 2"));
        w = blob_writer_free(w);
        assert_int_equal(ingest_entries(f), 0);
        assert_int_equal(blob_entries(f), 0);
}

static void test_abandon_and_reset(void **state)
{
        struct fixture *f = *state;
        struct blob_writer *w = NULL;
        char d[DIGEST_STRING_SIZE];

        /* a writer freed without commit leaves nothing */
        assert_int_equal(blobstore_writer_begin(f->bs, NULL, -1, &w, NULL), 0);
        assert_int_equal(blob_writer_write(w, "partial", 7, NULL), 0);
        w = blob_writer_free(w);
        assert_int_equal(ingest_entries(f), 0);
        assert_int_equal(blob_entries(f), 0);

        /* reset discards a failed attempt */
        assert_int_equal(blobstore_writer_begin(f->bs, ABC, 3, &w, NULL), 0);
        assert_int_equal(blob_writer_write(w, "xy", 2, NULL), 0);
        assert_int_equal(blob_writer_reset(w, NULL), 0);
        assert_int_equal(blob_writer_written(w), 0);
        assert_int_equal(blob_writer_write(w, "abc", 3, NULL), 0);
        assert_int_equal(blob_writer_check(w, NULL), 0);
        assert_int_equal(blob_writer_commit(w, d, NULL), 0);
        assert_string_equal(d, ABC);
        assert_int_equal(blob_writer_write(w, "x", 1, NULL), -EINVAL);
        w = blob_writer_free(w);
        assert_int_equal(blobstore_verify(f->bs, ABC, NULL), 0);
        {
                _cleanup_free_ char *p = blobstore_blob_path(f->bs, ABC), *content = NULL;
                assert_int_equal(ocid_read_file(p, 100, &content, NULL, NULL), 0);
                assert_string_equal(content, "abc");
        }
        assert_int_equal(ingest_entries(f), 0);
}

static void test_verify_detects_corruption(void **state)
{
        struct fixture *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *p = blobstore_blob_path(f->bs, ABC);
        char *data = NULL;
        int fd;

        assert_int_equal(blobstore_put(f->bs, ABC, "abc", 3, NULL, NULL), 0);
        assert_int_equal(chmod(p, 0644), 0);
        fd = open(p, O_WRONLY | O_TRUNC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "abd", 3), 3);
        close(fd);
        assert_int_equal(blobstore_verify(f->bs, ABC, &err), -EBADMSG);
        assert_non_null(strstr(ocid_error_message(&err), "digest mismatch for " ABC));
        ocid_error_clear(&err);
        assert_int_equal(blobstore_read(f->bs, ABC, 100, &data, NULL, &err), -EBADMSG);
}

static void test_ingest_fd(void **state)
{
        struct fixture *f = *state;
        char path[] = "/tmp/ocid-test-ingest-XXXXXX", d[DIGEST_STRING_SIZE];
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        (void) unlink(path);
        assert_int_equal(write(fd, "abc", 3), 3);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(blobstore_ingest_fd(f->bs, ABC, 3, fd, d, NULL), 0);
        assert_string_equal(d, ABC);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                assert_int_equal(blobstore_ingest_fd(f->bs, ABD, -1, fd, NULL, &err), -EBADMSG);
        }
        close(fd);
        assert_false(blobstore_exists(f->bs, ABD));
}

/* An fd on the live writer's ingest file (the one with a 64-hex name). */
static int live_fd_for_test(struct fixture *f)
{
        _cleanup_free_ char *dir = xasprintf("%s/ingest", f->dir);
        DIR *d = opendir(dir);
        struct dirent *de;
        int fd = -1;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (strlen(de->d_name) == 64) {
                        _cleanup_free_ char *p = xasprintf("%s/%s", dir, de->d_name);
                        fd = open(p, O_RDONLY | O_CLOEXEC);
                        break;
                }
        closedir(d);
        assert_true(fd >= 0);
        return fd;
}

static void test_stale_ingest(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *stale = xasprintf("%s/ingest/leftover", f->dir);
        struct blob_writer *live = NULL;
        struct blobstore *again = NULL;
        int fd;

        _cleanup_free_ char *fresh = xasprintf("%s/ingest/just-created", f->dir);
        struct timespec old[2] = { { time(NULL) - 3600, 0 }, { time(NULL) - 3600, 0 } };

        fd = open(stale, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(futimens(fd, old), 0);
        close(fd);
        fd = open(fresh, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(blobstore_writer_begin(f->bs, ABC, 3, &live, NULL), 0);
        /* even an old file is safe while its writer holds it */
        fd = live_fd_for_test(f);
        assert_int_equal(futimens(fd, old), 0);
        close(fd);
        assert_int_equal(ingest_entries(f), 3);

        /* opening the store again (as another process would) removes the
         * old leftover, but neither the file a live writer holds nor one
         * too new to tell */
        assert_int_equal(blobstore_open(f->dir, &again, NULL), 0);
        assert_int_equal(access(stale, F_OK), -1);
        assert_int_equal(access(fresh, F_OK), 0);
        assert_int_equal(ingest_entries(f), 2);
        assert_int_equal(unlink(fresh), 0);
        assert_int_equal(blob_writer_write(live, "abc", 3, NULL), 0);
        assert_int_equal(blob_writer_commit(live, NULL, NULL), 0);
        assert_true(blobstore_exists(again, ABC));
        blob_writer_free(live);
        blobstore_free(again);
}

/* ---- single flight --------------------------------------------------- */

struct flight {
        struct blobstore *bs;
        atomic_int fetches;
        int fail_first;         /* the first fetch fails */
        int delay_ms;
        const char *content;
        int result;
        int64_t deadline_ns;
        struct ocid_error *err;
};

static void sleep_ms(int ms)
{
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static int slow_fetch(struct blob_writer *w, void *userdata, struct ocid_error **err)
{
        struct flight *fl = userdata;
        int n = atomic_fetch_add(&fl->fetches, 1);

        sleep_ms(fl->delay_ms);
        if (fl->fail_first && n == 0)
                return ocid_error_msg(err, ECONNRESET, "connection reset");
        return blob_writer_write(w, fl->content, strlen(fl->content), err);
}

struct worker {
        pthread_t thread;
        struct flight *fl;
        int result;
        struct ocid_error *err;
};

static void *worker_main(void *arg)
{
        struct worker *wk = arg;

        wk->result = blobstore_ensure(wk->fl->bs, ABC, 3, slow_fetch, wk->fl, wk->fl->deadline_ns, &wk->err);
        return NULL;
}

static void run_workers(struct flight *fl, struct worker *wk, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                wk[i] = (struct worker) { .fl = fl };
                assert_int_equal(pthread_create(&wk[i].thread, NULL, worker_main, &wk[i]), 0);
        }
        for (size_t i = 0; i < n; i++)
                assert_int_equal(pthread_join(wk[i].thread, NULL), 0);
}

static void test_ensure_once(void **state)
{
        struct fixture *f = *state;
        struct flight fl = { .bs = f->bs, .delay_ms = 100, .content = "abc" };
        struct worker wk[8];
        int fetched = 0;

        run_workers(&fl, wk, ELEMENTSOF(wk));
        for (size_t i = 0; i < ELEMENTSOF(wk); i++) {
                if (wk[i].result < 0)
                        fail_msg("worker %zu: %s", i, ocid_error_message(&wk[i].err));
                fetched += wk[i].result == 1;
        }
        assert_int_equal(atomic_load(&fl.fetches), 1);
        assert_int_equal(fetched, 1);
        assert_true(blobstore_exists(f->bs, ABC));
        assert_int_equal(ingest_entries(f), 0);

        /* present: no fetch at all */
        assert_int_equal(blobstore_ensure(f->bs, ABC, 3, slow_fetch, &fl, 0, NULL), 0);
        assert_int_equal(atomic_load(&fl.fetches), 1);
}

static void test_ensure_after_failure(void **state)
{
        struct fixture *f = *state;
        struct flight fl = { .bs = f->bs, .delay_ms = 100, .content = "abc", .fail_first = 1 };
        struct worker wk[6];
        int failed = 0;

        run_workers(&fl, wk, ELEMENTSOF(wk));
        for (size_t i = 0; i < ELEMENTSOF(wk); i++) {
                if (wk[i].result < 0) {
                        failed++;
                        assert_int_equal(wk[i].result, -ECONNRESET);
                        ocid_error_free(wk[i].err);
                }
        }
        /* the first fetch failed; one waiter then fetched for the rest */
        assert_int_equal(failed, 1);
        assert_int_equal(atomic_load(&fl.fetches), 2);
        assert_true(blobstore_exists(f->bs, ABC));
}

static void test_ensure_bad_content(void **state)
{
        struct fixture *f = *state;
        struct flight fl = { .bs = f->bs, .delay_ms = 0, .content = "abd" };
        _cleanup_error_ struct ocid_error *err = NULL;

        assert_int_equal(blobstore_ensure(f->bs, ABC, 3, slow_fetch, &fl, 0, &err), -EBADMSG);
        assert_non_null(strstr(ocid_error_message(&err), "digest mismatch for " ABC));
        assert_false(blobstore_exists(f->bs, ABC));
        assert_int_equal(ingest_entries(f), 0);
        assert_int_equal(blob_entries(f), 0);
}

static void *slow_owner_main(void *arg)
{
        struct flight *fl = arg;

        fl->result = blobstore_ensure(fl->bs, ABC, 3, slow_fetch, fl, 0, &fl->err);
        return NULL;
}

static void test_ensure_wait_deadline(void **state)
{
        struct fixture *f = *state;
        struct flight owner = { .bs = f->bs, .delay_ms = 400, .content = "abc" };
        struct flight waiter = { .bs = f->bs, .delay_ms = 0, .content = "abc" };
        _cleanup_error_ struct ocid_error *err = NULL;
        pthread_t t;

        assert_int_equal(pthread_create(&t, NULL, slow_owner_main, &owner), 0);
        sleep_ms(50); /* the owner is fetching */
        assert_int_equal(blobstore_ensure(f->bs, ABC, 3, slow_fetch, &waiter,
                                          ocid_now_monotonic_ns() + 50 * 1000000LL, &err), -ETIMEDOUT);
        assert_non_null(strstr(ocid_error_message(&err), "deadline exceeded"));
        assert_int_equal(atomic_load(&waiter.fetches), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(owner.result, 1);
        assert_true(blobstore_exists(f->bs, ABC));
}

OCID_TEST_MAIN(cmocka_unit_test_setup_teardown(test_layout_and_put, setup, teardown),
               cmocka_unit_test_setup_teardown(test_missing_and_invalid, setup, teardown),
               cmocka_unit_test_setup_teardown(test_digest_mismatch, setup, teardown),
               cmocka_unit_test_setup_teardown(test_size_mismatch, setup, teardown),
               cmocka_unit_test_setup_teardown(test_abandon_and_reset, setup, teardown),
               cmocka_unit_test_setup_teardown(test_verify_detects_corruption, setup, teardown),
               cmocka_unit_test_setup_teardown(test_ingest_fd, setup, teardown),
               cmocka_unit_test_setup_teardown(test_stale_ingest, setup, teardown),
               cmocka_unit_test_setup_teardown(test_ensure_once, setup, teardown),
               cmocka_unit_test_setup_teardown(test_ensure_after_failure, setup, teardown),
               cmocka_unit_test_setup_teardown(test_ensure_bad_content, setup, teardown),
               cmocka_unit_test_setup_teardown(test_ensure_wait_deadline, setup, teardown))
