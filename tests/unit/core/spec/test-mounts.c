/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../../test-common.h"
#include "spec-test.h"

#include <json-c/json.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "spec/mounts.h"

struct fx {
        char *dir;        /* scratch: host paths, mountinfo files */
        char *root;       /* the rootfs */
        int root_fd;
        char *mountinfo;  /* a crafted mountinfo naming dir's paths */
};

static int setup(void **state)
{
        struct fx *f = xzalloc(sizeof(*f));
        _cleanup_free_ char *text = NULL;

        f->dir = scratch_dir();
        f->root = scratch_dir();
        f->root_fd = open_dir(f->root);
        put_dir(f->dir, "shared/vol");
        put_dir(f->dir, "slave/vol");
        put_dir(f->dir, "private/vol");
        put_dir(f->dir, "with space");
        put_symlink(f->dir, "link-to-shared", "shared/vol");
        put_symlink(f->dir, "link-to-root", "/");
        put_symlink(f->dir, "dangling", "does-not-exist");
        text = xasprintf("22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw\n"
                         "30 22 0:30 / %s/shared rw shared:5 - tmpfs tmpfs rw\n"
                         "31 22 0:31 / %s/slave rw master:7 - tmpfs tmpfs rw\n"
                         "32 22 0:32 / %s/private rw - tmpfs tmpfs rw\n"
                         "33 30 0:33 / %s/shared/vol rw - tmpfs tmpfs rw\n"
                         "34 33 0:34 / %s/shared/vol rw shared:9 master:2 - tmpfs tmpfs rw\n"
                         "35 22 0:35 / %s/with\\040space rw shared:11 - tmpfs tmpfs rw\n"
                         "garbage line\n",
                         f->dir, f->dir, f->dir, f->dir, f->dir, f->dir);
        put_file(f->dir, "mountinfo", text);
        f->mountinfo = xasprintf("%s/mountinfo", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fx *f = *state;

        (void) close(f->root_fd);
        scratch_remove(f->dir);
        scratch_remove(f->root);
        free(f->mountinfo);
        free(f);
        return 0;
}

static unsigned prop(struct fx *f, const char *rel, const char *want_mp_rel)
{
        _cleanup_free_ char *path = rel[0] ? xasprintf("%s/%s", f->dir, rel) : xstrdup(f->dir);
        _cleanup_free_ char *mp = NULL;
        _cleanup_error_ struct ocid_error *err = NULL;
        unsigned flags = 99;

        if (mounts_propagation(f->mountinfo, path, &flags, &mp, &err) < 0)
                fail_msg("mounts_propagation '%s': %s", path, ocid_error_message(&err));
        if (want_mp_rel) {
                _cleanup_free_ char *want = want_mp_rel[0] ? xasprintf("%s/%s", f->dir, want_mp_rel) : xstrdup("/");
                assert_string_equal(mp, want);
        }
        return flags;
}

static void test_mountinfo(void **state)
{
        struct fx *f = *state;

        assert_int_equal(prop(f, "shared", "shared"), MOUNT_PROP_SHARED);
        assert_int_equal(prop(f, "shared/x/y", "shared"), MOUNT_PROP_SHARED);
        assert_int_equal(prop(f, "slave/vol", "slave"), MOUNT_PROP_SLAVE);
        assert_int_equal(prop(f, "private/vol", "private"), 0);
        /* the topmost of two mounts on one point */
        assert_int_equal(prop(f, "shared/vol", "shared/vol"), MOUNT_PROP_SHARED | MOUNT_PROP_SLAVE);
        /* a prefix that is not a path component does not match */
        assert_int_equal(prop(f, "sharedX", ""), 0);
        /* escaped mount points */
        assert_int_equal(prop(f, "with space/a", "with space"), MOUNT_PROP_SHARED);
        assert_int_equal(prop(f, "", ""), 0);
}

static void test_mountinfo_errors(void **state)
{
        struct fx *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *empty = xasprintf("%s/empty-mountinfo", f->dir);
        unsigned flags;

        put_file(f->dir, "empty-mountinfo", "");
        assert_int_equal(mounts_propagation(empty, "/x", &flags, NULL, &err), -ENOENT);
        ocid_error_clear(&err);
        assert_int_equal(mounts_propagation("/nonexistent/mountinfo", "/x", &flags, NULL, &err), -ENOENT);
        ocid_error_clear(&err);
        /* the real one always holds "/" */
        assert_int_equal(mounts_propagation(NULL, "/", &flags, NULL, NULL), 0);
}

static void test_host_path(void **state)
{
        struct fx *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *p = NULL, *out = NULL, *want = NULL;

        p = xasprintf("%s/link-to-shared", f->dir);
        assert_int_equal(mounts_host_path(p, "h", &out, NULL), 0);
        want = xasprintf("%s/shared/vol", f->dir);
        assert_string_equal(out, want);
        free(TAKE_PTR(out));

        /* a literal "/" is an explicit request; a symlink to it is not */
        assert_int_equal(mounts_host_path("/", "h", &out, NULL), 0);
        assert_string_equal(out, "/");
        free(TAKE_PTR(out));
        free(p);
        p = xasprintf("%s/link-to-root", f->dir);
        assert_int_equal(mounts_host_path(p, "h", &out, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "leads through a symlink to the host's root directory"));
        ocid_error_clear(&err);
        free(p);
        p = xasprintf("%s/link-to-root/", f->dir);
        assert_int_equal(mounts_host_path(p, "h", &out, &err), -EINVAL);
        ocid_error_clear(&err);

        free(p);
        p = xasprintf("%s/missing", f->dir);
        assert_int_equal(mounts_host_path(p, "mounts[0].host_path", &out, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "mounts[0].host_path: '"));
        assert_non_null(strstr(ocid_error_message(&err), "' does not exist on the host"));
        ocid_error_clear(&err);
        free(p);
        p = xasprintf("%s/dangling", f->dir);
        assert_int_equal(mounts_host_path(p, "h", &out, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "dangling symlink"));
        ocid_error_clear(&err);
        assert_int_equal(mounts_host_path("relative/x", "h", &out, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "is not absolute"));
        ocid_error_clear(&err);
        assert_int_equal(mounts_host_path("/tmp\n/x", "h", &out, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "control character"));
        assert_null(out);
}

static const char *opts_string(struct json_object *m)
{
        struct json_object *o = NULL;

        assert_true(json_object_object_get_ex(m, "options", &o));
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static int convert(struct fx *f, Runtime__V1__Mount *m, bool privileged, struct mount_result *res,
                   const char *needle)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        int r = mounts_from_cri(m, 3, f->root_fd, privileged, f->mountinfo, res, &err);

        if (needle) {
                assert_true(r < 0);
                if (!strstr(ocid_error_message(&err), needle))
                        fail_msg("error '%s' lacks '%s'", ocid_error_message(&err), needle);
        } else if (r < 0) {
                fail_msg("mounts_from_cri: %s", ocid_error_message(&err));
        }
        return r;
}

static void test_cri_mount(void **state)
{
        struct fx *f = *state;
        Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
        _cleanup_free_ char *host = xasprintf("%s/private/vol", f->dir);
        struct mount_result res = { 0 };

        m.container_path = "/data";
        m.host_path = host;
        convert(f, &m, false, &res, NULL);
        assert_string_equal(res.destination, "/data");
        assert_string_equal(res.source, host);
        assert_int_equal(res.want, MOUNT_WANT_PRIVATE);
        assert_string_equal(ocid_json_get_string(res.mount, "type"), "bind");
        assert_string_equal(opts_string(res.mount), "[\"rbind\",\"rprivate\",\"rw\"]");
        mount_result_done(&res);

        m.readonly = true;
        m.recursive_read_only = true;
        convert(f, &m, false, &res, NULL);
        assert_string_equal(opts_string(res.mount), "[\"rbind\",\"rprivate\",\"ro\",\"rro\"]");
        mount_result_done(&res);
}

/* The destination is resolved inside the rootfs: a symlink in the image
 * cannot point a mount at a host directory. */
static void test_destination_in_rootfs(void **state)
{
        struct fx *f = *state;
        Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
        _cleanup_free_ char *host = xasprintf("%s/private/vol", f->dir);
        struct mount_result res = { 0 };

        put_dir(f->root, "var/lib/data");
        put_symlink(f->root, "data", "/var/lib/data");
        put_symlink(f->root, "escape", "../../../../../../etc");
        put_symlink(f->root, "rootlink", "/");
        m.host_path = host;

        m.container_path = "/data/sub";
        convert(f, &m, false, &res, NULL);
        assert_string_equal(res.destination, "/var/lib/data/sub");
        assert_string_equal(ocid_json_get_string(res.mount, "destination"), "/var/lib/data/sub");
        mount_result_done(&res);

        m.container_path = "/escape/cron.d";
        convert(f, &m, false, &res, NULL);
        assert_string_equal(res.destination, "/etc/cron.d");
        mount_result_done(&res);

        m.container_path = "/rootlink";
        convert(f, &m, false, &res, "container config: mounts[3].container_path: '/rootlink' is the container's root directory");
        m.container_path = "/";
        convert(f, &m, false, &res, "is the container's root directory");
        m.container_path = "data";
        convert(f, &m, false, &res, "container config: mounts[3].container_path: path 'data' is not absolute");
        m.container_path = "";
        convert(f, &m, false, &res, "mounts[3].container_path: empty path");
}

static void test_propagation(void **state)
{
        struct fx *f = *state;
        Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
        _cleanup_free_ char *shared = xasprintf("%s/shared/vol", f->dir);
        _cleanup_free_ char *slave = xasprintf("%s/slave/vol", f->dir);
        _cleanup_free_ char *private = xasprintf("%s/private/vol", f->dir);
        _cleanup_free_ char *linked = xasprintf("%s/link-to-shared", f->dir);
        struct mount_result res = { 0 };

        m.container_path = "/mnt";

        m.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
        m.host_path = slave;
        convert(f, &m, false, &res, NULL);
        assert_string_equal(opts_string(res.mount), "[\"rbind\",\"rslave\",\"rw\"]");
        assert_int_equal(res.want, MOUNT_WANT_SLAVE);
        mount_result_done(&res);
        m.host_path = shared;
        convert(f, &m, false, &res, NULL);
        mount_result_done(&res);
        m.host_path = private;
        convert(f, &m, false, &res, "container config: mounts[3].propagation: path '");
        convert(f, &m, false, &res, "/private' but it is not a shared or slave mount");

        m.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL;
        m.host_path = shared;
        convert(f, &m, false, &res, "bidirectional propagation needs a privileged container");
        convert(f, &m, true, &res, NULL);
        assert_string_equal(opts_string(res.mount), "[\"rbind\",\"rshared\",\"rw\"]");
        assert_int_equal(res.want, MOUNT_WANT_SHARED);
        mount_result_done(&res);
        /* checked on the resolved path */
        m.host_path = linked;
        convert(f, &m, true, &res, NULL);
        assert_string_equal(res.source, shared);
        mount_result_done(&res);
        m.host_path = slave;
        convert(f, &m, true, &res, "is not a shared mount");

        m.propagation = 7;
        convert(f, &m, true, &res, "mounts[3].propagation: unknown value 7");
}

static void test_options_and_unsupported(void **state)
{
        struct fx *f = *state;
        Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
        Runtime__V1__ImageSpec img = RUNTIME__V1__IMAGE_SPEC__INIT;
        Runtime__V1__IDMapping map = RUNTIME__V1__IDMAPPING__INIT;
        Runtime__V1__IDMapping *maps[] = { &map };
        _cleanup_free_ char *host = xasprintf("%s/private/vol", f->dir);
        _cleanup_free_ char *shared = xasprintf("%s/shared/vol", f->dir);
        char *good[] = { "noexec", "nosuid", "noexec" };
        char *bad[] = { "nodev", "dev" };
        struct mount_result res = { 0 };

        m.container_path = "/mnt";
        m.host_path = host;
        m.mount_options = good;
        m.n_mount_options = 3;
        convert(f, &m, false, &res, NULL);
        assert_string_equal(opts_string(res.mount), "[\"rbind\",\"rprivate\",\"rw\",\"noexec\",\"nosuid\"]");
        mount_result_done(&res);
        m.mount_options = bad;
        m.n_mount_options = 2;
        convert(f, &m, false, &res, "mounts[3].mount_options: 'dev' is not supported");
        m.n_mount_options = 0;

        m.recursive_read_only = true;
        convert(f, &m, false, &res, "recursive_read_only: needs readonly");
        m.readonly = true;
        m.host_path = shared;
        m.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
        convert(f, &m, false, &res, "recursive_read_only: needs private propagation");
        m.recursive_read_only = false;
        m.propagation = 0;

        img.image = "docker.io/library/busybox:latest";
        m.image = &img;
        assert_int_equal(convert(f, &m, false, &res, "image volumes are not supported"), -ENOTSUP);
        m.image = NULL;
        m.uidmappings = maps;
        m.n_uidmappings = 1;
        assert_int_equal(convert(f, &m, false, &res, "ID-mapped mounts are not supported"), -ENOTSUP);
        m.n_uidmappings = 0;
        assert_int_equal(convert(f, NULL, false, &res, "empty mount"), -EINVAL);
}

static void test_append(void **state)
{
        _cleanup_json_ struct json_object *a = json_object_new_array();
        static const char *const opts[] = { "nosuid", "ro", NULL };

        mounts_append(a, "/proc", "proc", "proc", opts);
        mounts_append(a, "/x", "tmpfs", "tmpfs", NULL);
        assert_string_equal(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                            "[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\",\"options\":[\"nosuid\",\"ro\"]},"
                            "{\"destination\":\"/x\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[]}]");
}

OCID_TEST_MAIN(cmocka_unit_test_setup_teardown(test_mountinfo, setup, teardown),
               cmocka_unit_test_setup_teardown(test_mountinfo_errors, setup, teardown),
               cmocka_unit_test_setup_teardown(test_host_path, setup, teardown),
               cmocka_unit_test_setup_teardown(test_cri_mount, setup, teardown),
               cmocka_unit_test_setup_teardown(test_destination_in_rootfs, setup, teardown),
               cmocka_unit_test_setup_teardown(test_propagation, setup, teardown),
               cmocka_unit_test_setup_teardown(test_options_and_unsupported, setup, teardown),
               cmocka_unit_test(test_append))
