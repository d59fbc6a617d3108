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

#include "spec/user.h"

#define PASSWD                                                                \
        "root:x:0:0:root:/root:/bin/sh\n"                                     \
        "daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n"                         \
        "+nisuser\n"                                                          \
        "app:x:1000:1000:App User:/home/app:/bin/sh\n"                        \
        "nohome:x:1001:1001:::/bin/sh\n"                                      \
        "broken:x:notanumber:1::/:/bin/sh\n"                                  \
        "huge:x:4294967295:1::/:/bin/sh\n"                                    \
        "short:x:1002\n"

#define GROUP                                                                 \
        "root:x:0:\n"                                                         \
        "wheel:x:10:root,app\n"                                               \
        "audio:x:29:daemon,app\n"                                             \
        "staff:x:50:\n"                                                       \
        "appgrp:x:1000:\n"                                                    \
        "appish:x:77:apple,ap,application\n"

struct fx {
        char *root;
        int fd;
};

static int setup(void **state)
{
        struct fx *f = xzalloc(sizeof(*f));

        f->root = scratch_dir();
        put_file(f->root, "etc/passwd", PASSWD);
        put_file(f->root, "etc/group", GROUP);
        f->fd = open_dir(f->root);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fx *f = *state;

        (void) close(f->fd);
        scratch_remove(f->root);
        free(f);
        return 0;
}

static void resolve_ok(struct fx *f, const struct user_request *req, struct user_result *res)
{
        _cleanup_error_ struct ocid_error *err = NULL;

        if (user_resolve(f->fd, req, res, &err) < 0)
                fail_msg("user_resolve: %s", ocid_error_message(&err));
}

static void resolve_fails(struct fx *f, const struct user_request *req, int code, const char *needle)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        struct user_result res = { .uid = 4242 };

        assert_int_equal(user_resolve(f->fd, req, &res, &err), -code);
        assert_int_equal(res.uid, 4242);
        if (!strstr(ocid_error_message(&err), needle))
                fail_msg("error '%s' lacks '%s'", ocid_error_message(&err), needle);
}

static void test_default_root(void **state)
{
        struct fx *f = *state;
        _cleanup_(user_result_done) struct user_result r = { 0 };
        struct user_request req = { 0 };

        resolve_ok(f, &req, &r);
        assert_int_equal(r.uid, 0);
        assert_int_equal(r.gid, 0);
        assert_string_equal(r.home, "/root");
        assert_int_equal(r.n_gids, 1); /* root is in wheel */
        assert_int_equal(r.gids[0], 10);
}

static void test_image_user_name(void **state)
{
        struct fx *f = *state;
        _cleanup_(user_result_done) struct user_result r = { 0 };
        struct user_request req = { .image_user = "app" };

        resolve_ok(f, &req, &r);
        assert_int_equal(r.uid, 1000);
        assert_int_equal(r.gid, 1000);
        assert_string_equal(r.home, "/home/app");
        /* member of wheel and audio; "appish" lists similar names only */
        assert_int_equal(r.n_gids, 2);
        assert_int_equal(r.gids[0], 10);
        assert_int_equal(r.gids[1], 29);
}

static void test_image_user_numeric(void **state)
{
        struct fx *f = *state;
        struct user_request req = { .image_user = "1000" };
        struct user_result r = { 0 };

        resolve_ok(f, &req, &r);
        assert_int_equal(r.uid, 1000);
        assert_int_equal(r.gid, 1000);
        assert_string_equal(r.home, "/home/app");
        user_result_done(&r);

        /* a uid without an entry is fine: gid 0, HOME / */
        req.image_user = "4321";
        resolve_ok(f, &req, &r);
        assert_int_equal(r.uid, 4321);
        assert_int_equal(r.gid, 0);
        assert_string_equal(r.home, "/");
        assert_int_equal(r.n_gids, 0);
        user_result_done(&r);

        /* an empty home field is "/" */
        req.image_user = "nohome";
        resolve_ok(f, &req, &r);
        assert_int_equal(r.uid, 1001);
        assert_string_equal(r.home, "/");
        user_result_done(&r);
}

static void test_image_user_with_group(void **state)
{
        struct fx *f = *state;
        struct user_request req = { .image_user = "app:staff" };
        struct user_result r = { 0 };

        resolve_ok(f, &req, &r);
        assert_int_equal(r.uid, 1000);
        assert_int_equal(r.gid, 50);
        user_result_done(&r);

        req.image_user = "1000:2000";
        resolve_ok(f, &req, &r);
        assert_int_equal(r.uid, 1000);
        assert_int_equal(r.gid, 2000);
        user_result_done(&r);

        req.image_user = "555:audio";
        resolve_ok(f, &req, &r);
        assert_int_equal(r.uid, 555);
        assert_int_equal(r.gid, 29);
        user_result_done(&r);

        req.image_user = "app:nosuchgroup";
        resolve_fails(f, &req, EINVAL, "group 'nosuchgroup' not found in the container's /etc/group");
        req.image_user = "app:staff:x";
        resolve_fails(f, &req, EINVAL, "more than one ':'");
}

static void test_missing_user_name(void **state)
{
        struct fx *f = *state;
        struct user_request req = { .image_user = "nobody" };

        resolve_fails(f, &req, EINVAL, "image config: User 'nobody': user 'nobody' not found in the container's /etc/passwd");
        req = (struct user_request) { .username = "ghost" };
        resolve_fails(f, &req, EINVAL,
                      "container config: linux.security_context.run_as_username: user 'ghost' not found");
        /* NIS entries are not users */
        req = (struct user_request) { .username = "+nisuser" };
        resolve_fails(f, &req, EINVAL, "not found");
        /* nor are lines with too few fields */
        req = (struct user_request) { .username = "short" };
        resolve_fails(f, &req, EINVAL, "not found");
}

static void test_run_as_user(void **state)
{
        struct fx *f = *state;
        int64_t groups[] = { 50, 10, 3000 };
        struct user_request req = { .has_uid = true, .uid = 1000, .image_user = "daemon",
                                    .groups = groups, .n_groups = 3 };
        struct user_result r = { 0 };

        resolve_ok(f, &req, &r);
        assert_int_equal(r.uid, 1000);
        assert_int_equal(r.gid, 1000);
        assert_string_equal(r.home, "/home/app");
        /* /etc/group memberships, then the CRI's, without duplicates */
        assert_int_equal(r.n_gids, 4);
        assert_int_equal(r.gids[0], 10);
        assert_int_equal(r.gids[1], 29);
        assert_int_equal(r.gids[2], 50);
        assert_int_equal(r.gids[3], 3000);
        user_result_done(&r);

        req.has_gid = true;
        req.gid = 99;
        req.strict_groups = true;
        resolve_ok(f, &req, &r);
        assert_int_equal(r.gid, 99);
        /* Strict: only the CRI's groups */
        assert_int_equal(r.n_gids, 3);
        assert_int_equal(r.gids[0], 50);
        user_result_done(&r);
}

static void test_run_as_username(void **state)
{
        struct fx *f = *state;
        struct user_request req = { .username = "daemon", .has_gid = true, .gid = 7 };
        struct user_result r = { 0 };

        resolve_ok(f, &req, &r);
        assert_int_equal(r.uid, 1);
        assert_int_equal(r.gid, 7);
        assert_string_equal(r.home, "/usr/sbin");
        assert_int_equal(r.n_gids, 1);
        assert_int_equal(r.gids[0], 29);
        user_result_done(&r);
}

static void test_conflicts(void **state)
{
        struct fx *f = *state;
        struct user_request req = { .has_uid = true, .uid = 1, .username = "app" };

        resolve_fails(f, &req, EINVAL, "run_as_user and run_as_username are both set");
        req = (struct user_request) { .has_gid = true, .gid = 1, .image_user = "app" };
        resolve_fails(f, &req, EINVAL, "run_as_group is set without run_as_user or run_as_username");
}

static void test_id_overflow(void **state)
{
        struct fx *f = *state;
        int64_t bad_group[] = { 4294967295 };
        struct user_request req = { .has_uid = true, .uid = 4294967295 };
        struct user_result r = { 0 };

        resolve_fails(f, &req, EINVAL, "run_as_user: 4294967295 is out of range (0 to 4294967294)");
        req.uid = -1;
        resolve_fails(f, &req, EINVAL, "run_as_user: -1 is out of range");
        req.uid = 4294967294;
        resolve_ok(f, &req, &r);
        assert_int_equal(r.uid, 4294967294u);
        user_result_done(&r);

        req = (struct user_request) { .has_uid = true, .uid = 0, .has_gid = true, .gid = INT64_C(1) << 32 };
        resolve_fails(f, &req, EINVAL, "run_as_group: 4294967296 is out of range");
        req = (struct user_request) { .groups = bad_group, .n_groups = 1 };
        resolve_fails(f, &req, EINVAL, "supplemental_groups: 4294967295 is out of range");
        req = (struct user_request) { .image_user = "4294967295" };
        resolve_fails(f, &req, EINVAL, "uid '4294967295' is out of range");
        req = (struct user_request) { .image_user = "99999999999999999999999" };
        resolve_fails(f, &req, EINVAL, "is out of range");
        req = (struct user_request) { .image_user = "1:4294967296" };
        resolve_fails(f, &req, EINVAL, "gid '4294967296' is out of range");
        /* an entry with a bad uid is an error when named, ignored otherwise */
        req = (struct user_request) { .image_user = "huge" };
        resolve_fails(f, &req, EINVAL, "user 'huge' in the container's /etc/passwd has an invalid uid or gid");
        req = (struct user_request) { .username = "broken" };
        resolve_fails(f, &req, EINVAL, "invalid uid or gid");
}

static void test_injection(void **state)
{
        struct fx *f = *state;
        struct user_request req = { .username = "root\n" };

        resolve_fails(f, &req, EINVAL, "run_as_username: invalid character 0x0a");
        req.username = "app:x:0:0";
        resolve_fails(f, &req, EINVAL, "run_as_username: invalid character 0x3a");
        req.username = "a,b";
        resolve_fails(f, &req, EINVAL, "invalid character 0x2c");
        req = (struct user_request) { .image_user = "app\n:0" };
        resolve_fails(f, &req, EINVAL, "image config: User: invalid character 0x0a");
        req = (struct user_request) { .image_user = "app:staff\n" };
        resolve_fails(f, &req, EINVAL, "invalid character 0x0a");
        req = (struct user_request) { .image_user = "-1" };
        resolve_fails(f, &req, EINVAL, "not found");
}

/* A field split over two lines makes two malformed lines, not a user. */
static void test_newline_in_fields(void **state)
{
        struct fx *f = *state;
        struct user_request req = { .username = "split" };
        struct user_result r = { 0 };

        static const char content[] = "split:x:1000:1000:gecos\n:/home/split:/bin/sh\n"
                                      "evil:x:1:1::/home/evil\rX:/bin/sh\n"
                                      "nul:x:5:5::/home/nul\0:/bin/sh\n"
                                      "tab:x:6:6::/home/\ttab:/bin/sh\n";

        /* a NUL in the middle of a line removes that line */
        put_file_len(f->root, "etc/passwd", content, sizeof(content) - 1);
        resolve_fails(f, &req, EINVAL, "user 'split' not found");
        req.username = "evil";
        resolve_fails(f, &req, EINVAL, "the home directory of user 'evil' in the container's /etc/passwd contains the control character 0x0d");
        req.username = "tab";
        resolve_fails(f, &req, EINVAL, "control character 0x09");
        req.username = "nul";
        resolve_fails(f, &req, EINVAL, "user 'nul' not found");
        /* by uid, the line is skipped too */
        req = (struct user_request) { .has_uid = true, .uid = 5 };
        resolve_ok(f, &req, &r);
        assert_string_equal(r.home, "/");
        user_result_done(&r);
}

/* /etc -> a host directory with its own passwd: that file is never read. */
static void test_etc_symlink_to_host(void **state)
{
        struct fx *f = *state;
        _cleanup_free_ char *sentinel = scratch_dir();
        _cleanup_free_ char *etc = xasprintf("%s/etc", f->root);
        _cleanup_free_ char *rel = NULL;
        struct user_request req = { .username = "hostonly" };
        struct user_result r = { 0 };

        put_file(sentinel, "passwd", "hostonly:x:666:666::/host-home:/bin/sh\nroot:x:0:0::/host-root:/bin/sh\n");
        put_file(sentinel, "group", "hostgrp:x:666:root\n");
        assert_int_equal(ocid_rm_rf(etc, NULL), 0);
        assert_int_equal(symlink(sentinel, etc), 0);

        resolve_fails(f, &req, EINVAL, "user 'hostonly' not found");
        req = (struct user_request) { 0 };
        resolve_ok(f, &req, &r);
        assert_string_equal(r.home, "/"); /* not /host-root */
        assert_int_equal(r.n_gids, 0);
        user_result_done(&r);

        /* the same through "../../.." */
        assert_int_equal(unlink(etc), 0);
        rel = xasprintf("../../../../../../../../../../..%s", sentinel);
        assert_int_equal(symlink(rel, etc), 0);
        req = (struct user_request) { .username = "hostonly" };
        resolve_fails(f, &req, EINVAL, "user 'hostonly' not found");

        /* and the path the link names, inside the rootfs, is what is read */
        {
                _cleanup_free_ char *inside = xasprintf("%s/passwd", sentinel + 1);
                put_file(f->root, inside, "hostonly:x:777:777::/rootfs-home:/bin/sh\n");
        }
        resolve_ok(f, &req, &r);
        assert_int_equal(r.uid, 777);
        assert_string_equal(r.home, "/rootfs-home");
        user_result_done(&r);

        scratch_remove(TAKE_PTR(sentinel));
}

static void test_huge_and_odd_files(void **state)
{
        struct fx *f = *state;
        _cleanup_free_ char *p = xasprintf("%s/etc/passwd", f->root);
        _cleanup_free_ char *g = xasprintf("%s/etc/group", f->root);
        struct user_request req = { .has_uid = true, .uid = 1000 };
        struct user_result r = { 0 };
        int fd;

        fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 64 * 1024 * 1024), 0); /* sparse, 64 MiB */
        (void) close(fd);
        resolve_fails(f, &req, EFBIG, "/etc/passwd' in the container's rootfs is larger than");

        /* a FIFO: refused at once, never opened */
        assert_int_equal(unlink(p), 0);
        assert_int_equal(mkfifo(p, 0644), 0);
        resolve_fails(f, &req, EINVAL, "not a regular file");

        /* missing files: numeric IDs work, names do not */
        assert_int_equal(unlink(p), 0);
        assert_int_equal(unlink(g), 0);
        resolve_ok(f, &req, &r);
        assert_int_equal(r.uid, 1000);
        assert_int_equal(r.gid, 0);
        assert_string_equal(r.home, "/");
        user_result_done(&r);
        req = (struct user_request) { .image_user = "app" };
        resolve_fails(f, &req, EINVAL, "not found");
}

static void test_name_check(void **state)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *longname = xmalloc(USER_MAX_NAME + 2);

        memset(longname, 'a', USER_MAX_NAME + 1);
        longname[USER_MAX_NAME + 1] = '\0';
        assert_int_equal(user_name_check("www-data", "x", NULL), 0);
        assert_int_equal(user_name_check("user$", "x", NULL), 0);
        assert_int_equal(user_name_check("", "x", NULL), -EINVAL);
        assert_int_equal(user_name_check("a b", "x", NULL), -EINVAL);
        assert_int_equal(user_name_check("a\x7f", "x", NULL), -EINVAL);
        assert_int_equal(user_name_check(longname, "field", &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "field: name is longer than 256 bytes"));
}

OCID_TEST_MAIN(cmocka_unit_test_setup_teardown(test_default_root, setup, teardown),
               cmocka_unit_test_setup_teardown(test_image_user_name, setup, teardown),
               cmocka_unit_test_setup_teardown(test_image_user_numeric, setup, teardown),
               cmocka_unit_test_setup_teardown(test_image_user_with_group, setup, teardown),
               cmocka_unit_test_setup_teardown(test_missing_user_name, setup, teardown),
               cmocka_unit_test_setup_teardown(test_run_as_user, setup, teardown),
               cmocka_unit_test_setup_teardown(test_run_as_username, setup, teardown),
               cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),
               cmocka_unit_test_setup_teardown(test_id_overflow, setup, teardown),
               cmocka_unit_test_setup_teardown(test_injection, setup, teardown),
               cmocka_unit_test_setup_teardown(test_newline_in_fields, setup, teardown),
               cmocka_unit_test_setup_teardown(test_etc_symlink_to_host, setup, teardown),
               cmocka_unit_test_setup_teardown(test_huge_and_odd_files, setup, teardown),
               cmocka_unit_test(test_name_check))
