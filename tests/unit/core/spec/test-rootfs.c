/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../test-common.h"
#include "spec-test.h"

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/util.h>

#include "spec/rootfs.h"

struct fx {
        char *root;      /* the rootfs */
        char *outside;   /* a directory outside it, with its own files */
        int fd;
};

static int setup(void **state)
{
        struct fx *f = xzalloc(sizeof(*f));

        f->root = scratch_dir();
        f->outside = scratch_dir();
        put_file(f->root, "etc/passwd", "inside\n");
        put_file(f->outside, "passwd", "OUTSIDE\n");
        f->fd = open_dir(f->root);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fx *f = *state;

        (void) close(f->fd);
        scratch_remove(f->root);
        scratch_remove(f->outside);
        free(f);
        return 0;
}

static char *read_in(struct fx *f, const char *path, int want)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        char *buf = NULL;
        size_t len = 0;

        assert_int_equal(rootfs_read_file(f->fd, path, 1024, &buf, &len, &err), want);
        if (want == 0)
                assert_int_equal(len, strlen(buf));
        return buf;
}

static void test_read_plain(void **state)
{
        struct fx *f = *state;
        _cleanup_free_ char *a = read_in(f, "/etc/passwd", 0), *b = read_in(f, "etc/passwd", 0);

        assert_string_equal(a, "inside\n");
        assert_string_equal(b, "inside\n");
        assert_null(read_in(f, "/etc/missing", -ENOENT));
}

/* An absolute symlink is resolved inside the rootfs, never on the host. */
static void test_read_absolute_symlink_stays_inside(void **state)
{
        struct fx *f = *state;
        _cleanup_free_ char *target = xasprintf("%s/passwd", f->outside);
        _cleanup_free_ char *buf = NULL;

        put_symlink(f->root, "etc/link", target);
        /* the host path does not exist inside the rootfs */
        assert_null(read_in(f, "/etc/link", -ENOENT));
        /* once it does, the rootfs's copy is read */
        put_file(f->root, target + 1, "shadow copy\n");
        buf = read_in(f, "/etc/link", 0);
        assert_string_equal(buf, "shadow copy\n");
}

static void test_read_dotdot_symlink_stays_inside(void **state)
{
        struct fx *f = *state;
        _cleanup_free_ char *buf = NULL;

        put_symlink(f->root, "etc/up", "../../../../../../../../../etc/passwd");
        buf = read_in(f, "/etc/up", 0);
        assert_string_equal(buf, "inside\n");
        free(read_in(f, "/../../../etc/passwd", 0));
}

static void test_read_refuses_non_regular(void **state)
{
        struct fx *f = *state;
        _cleanup_free_ char *fifo = xasprintf("%s/etc/fifo", f->root);
        _cleanup_error_ struct ocid_error *err = NULL;
        char *buf = NULL;

        assert_int_equal(mkfifo(fifo, 0644), 0);
        /* returns at once: a FIFO is never opened for reading */
        assert_int_equal(rootfs_read_file(f->fd, "/etc/fifo", 1024, &buf, NULL, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "not a regular file"));
        ocid_error_clear(&err);
        assert_int_equal(rootfs_read_file(f->fd, "/etc", 1024, &buf, NULL, &err), -EINVAL);
        assert_null(buf);
}

static void test_read_size_bound(void **state)
{
        struct fx *f = *state;
        _cleanup_free_ char *path = xasprintf("%s/etc/big", f->root);
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_close_ int fd = -1;
        char *buf = NULL;

        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 1025), 0); /* sparse */
        assert_int_equal(rootfs_read_file(f->fd, "/etc/big", 1024, &buf, NULL, &err), -EFBIG);
        assert_non_null(strstr(ocid_error_message(&err), "larger than 1024 bytes"));
        assert_int_equal(ftruncate(fd, 1024), 0);
        assert_int_equal(rootfs_read_file(f->fd, "/etc/big", 1024, &buf, NULL, NULL), 0);
        free(buf);
}

static void expect_resolve(struct fx *f, const char *path, const char *want)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *out = NULL;

        if (rootfs_resolve(f->fd, path, &out, &err) < 0)
                fail_msg("resolve '%s': %s", path, ocid_error_message(&err));
        if (!streq(out, want))
                fail_msg("resolve '%s' gave '%s', wanted '%s'", path, out, want);
}

static void test_resolve(void **state)
{
        struct fx *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        char *out = NULL;

        put_dir(f->root, "var/data");
        put_symlink(f->root, "data", "/var/data");
        put_symlink(f->root, "rel", "var/./data");
        put_symlink(f->root, "escape", "../../../../..");
        put_symlink(f->root, "var/up", "../..");
        put_symlink(f->root, "etc/hostetc", f->outside);
        put_symlink(f->root, "loop1", "loop2");
        put_symlink(f->root, "loop2", "/loop1");

        expect_resolve(f, "/", "/");
        expect_resolve(f, "/etc/passwd", "/etc/passwd");
        expect_resolve(f, "//etc/./passwd/", "/etc/passwd");
        expect_resolve(f, "/data", "/var/data");
        expect_resolve(f, "/data/sub/dir", "/var/data/sub/dir");
        expect_resolve(f, "/rel/x", "/var/data/x");
        expect_resolve(f, "/escape", "/");
        expect_resolve(f, "/escape/etc", "/etc");
        expect_resolve(f, "/var/up/data", "/var/data");
        expect_resolve(f, "/../../x", "/x");
        expect_resolve(f, "/missing/../etc", "/etc");
        /* a symlink to a host directory names that path inside the rootfs */
        {
                _cleanup_free_ char *want = xstrdup(f->outside);
                expect_resolve(f, "/etc/hostetc", want);
        }

        assert_int_equal(rootfs_resolve(f->fd, "/loop1", &out, &err), -ELOOP);
        assert_null(out);
        ocid_error_clear(&err);
        assert_int_equal(rootfs_resolve(f->fd, "relative/path", &out, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "not absolute"));
}

OCID_TEST_MAIN(cmocka_unit_test_setup_teardown(test_read_plain, setup, teardown),
               cmocka_unit_test_setup_teardown(test_read_absolute_symlink_stays_inside, setup, teardown),
               cmocka_unit_test_setup_teardown(test_read_dotdot_symlink_stays_inside, setup, teardown),
               cmocka_unit_test_setup_teardown(test_read_refuses_non_regular, setup, teardown),
               cmocka_unit_test_setup_teardown(test_read_size_bound, setup, teardown),
               cmocka_unit_test_setup_teardown(test_resolve, setup, teardown))
