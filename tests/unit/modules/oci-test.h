/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared by test-oci-runc.c and test-oci-crun.c: the two modules share
 * their handler code (modules/oci-common), so each runs the same checks
 * through its own built module. Include after module-test.h. */

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/json.h>

#include "modules.h"
#include "runtime.h"

struct oci_fixture {
        char *dir;
        struct ocid_module *m;
};

static const char *oci_module_name;     /* set by the test's main() */

static int oci_setup(void **state)
{
        struct oci_fixture *f = xzalloc(sizeof(*f));

        (void) test_env_dir("OCID_MODULE_DIR");
        f->dir = test_tmpdir_new();
        f->m = test_module_start(oci_module_name, NULL);
        *state = f;
        return 0;
}

static int oci_teardown(void **state)
{
        struct oci_fixture *f = *state;

        module_fini(f->m);
        test_tmpdir_free(f->dir);
        free(f);
        return 0;
}

/* A script `name` in the fixture's directory; returns its path. */
static char *oci_script(struct oci_fixture *f, const char *name, const char *body, mode_t mode)
{
        char *p = ocid_path_join(f->dir, name);

        test_write_file(f->dir, name, body);
        assert_int_equal(chmod(p, mode), 0);
        return p;
}

/* handler_status of a handler running `path`: returns 1 or 0; when not
 * ready, asserts the reason and that the message contains needle. */
static int oci_status(struct oci_fixture *f, const char *path, const char *needle)
{
        struct modules_handler h = {
                .h = { .size = sizeof(h.h), .name = "h", .path = path, .root = "/run/h",
                       .monitor = "/usr/bin/conmon" },
                .module = f->m,
        };
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL;
        int r;

        r = runtime_handler_status(&h, &reason, &message, &e);
        assert_no_error(r, e);
        if (r == 0) {
                assert_string_equal(reason, "RuntimeBinaryUnavailable");
                assert_contains(message, needle ? needle : "(expected ready)");
        } else
                assert_null(needle);
        return r;
}

static void test_oci_missing(void **state)
{
        struct oci_fixture *f = *state;
        _cleanup_free_ char *path = ocid_path_join(f->dir, "none");
        _cleanup_free_ char *needle = xasprintf("runtime binary '%s': No such file or directory", path);

        assert_int_equal(oci_status(f, path, needle), 0);
        assert_int_equal(oci_status(f, "", "runtime handler 'h' has no binary path"), 0);
}

static void test_oci_not_regular(void **state)
{
        struct oci_fixture *f = *state;
        _cleanup_free_ char *needle = xasprintf("runtime binary '%s' is not a regular file", f->dir);

        assert_int_equal(oci_status(f, f->dir, needle), 0);
}

static void test_oci_not_executable(void **state)
{
        struct oci_fixture *f = *state;
        _cleanup_free_ char *path = oci_script(f, "rt", "#!/bin/sh\necho rt version 1\n", 0644);
        _cleanup_free_ char *needle = xasprintf("runtime binary '%s' is not executable", path);

        /* root may execute any file with an x bit, but not one without. */
        assert_int_equal(oci_status(f, path, needle), 0);
}

static void test_oci_version_fails(void **state)
{
        struct oci_fixture *f = *state;
        _cleanup_free_ char *path = oci_script(f, "rt", "#!/bin/sh\necho 'bad flag' >&2\nexit 3\n", 0755);
        _cleanup_free_ char *sig = oci_script(f, "rt-sig", "#!/bin/sh\nkill -9 $$\n", 0755);
        _cleanup_free_ char *needle = xasprintf("runtime binary '%s --version' exited with status 3: bad flag",
                                                path);
        _cleanup_free_ char *needle_sig = xasprintf("runtime binary '%s --version' was killed by signal 9", sig);

        assert_int_equal(oci_status(f, path, needle), 0);
        assert_int_equal(oci_status(f, sig, needle_sig), 0);
}

static struct json_object *oci_info(struct oci_fixture *f)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *json = NULL;
        struct json_object *o;
        int r;

        r = module_info(f->m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_non_null(o);
        return o;
}

/* A working binary is ready; its version is remembered until it changes. */
static void test_oci_ready(void **state)
{
        struct oci_fixture *f = *state;
        _cleanup_free_ char *count = ocid_path_join(f->dir, "count");
        _cleanup_free_ char *body = xasprintf("#!/bin/sh\necho run >> '%s'\n"
                                              "printf '\\n  rt version 1.2.3  \\ncommit: x\\n'\n", count);
        _cleanup_free_ char *path = oci_script(f, "rt", body, 0755);
        _cleanup_free_ char *runs = NULL, *needle = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_json_ struct json_object *o = NULL, *o2 = NULL;
        struct json_object *bins, *b;
        int r;

        assert_int_equal(oci_status(f, path, NULL), 1);
        assert_int_equal(oci_status(f, path, NULL), 1);
        r = ocid_read_file(count, 4096, &runs, NULL, &e);
        assert_no_error(r, e);
        assert_string_equal(runs, "run\n");

        o = oci_info(f);
        assert_true(json_object_object_get_ex(o, "binaries", &bins));
        assert_int_equal(json_object_array_length(bins), 1);
        b = json_object_array_get_idx(bins, 0);
        assert_string_equal(ocid_json_get_string(b, "path"), path);
        assert_string_equal(ocid_json_get_string(b, "version"), "rt version 1.2.3");

        /* Replaced by a broken one: noticed. */
        free(oci_script(f, "rt", "#!/bin/sh\nexit 1\n", 0755));
        needle = xasprintf("'%s --version' exited with status 1", path);
        assert_int_equal(oci_status(f, path, needle), 0);
        o2 = oci_info(f);
        assert_true(json_object_object_get_ex(o2, "binaries", &bins));
        b = json_object_array_get_idx(bins, 0);
        assert_null(ocid_json_get_string(b, "version"));
        assert_contains(ocid_json_get_string(b, "error"), needle);
}

#define OCI_TESTS                                                                           \
        cmocka_unit_test_setup_teardown(test_oci_missing, oci_setup, oci_teardown),         \
        cmocka_unit_test_setup_teardown(test_oci_not_regular, oci_setup, oci_teardown),     \
        cmocka_unit_test_setup_teardown(test_oci_not_executable, oci_setup, oci_teardown),  \
        cmocka_unit_test_setup_teardown(test_oci_version_fails, oci_setup, oci_teardown),   \
        cmocka_unit_test_setup_teardown(test_oci_ready, oci_setup, oci_teardown)
