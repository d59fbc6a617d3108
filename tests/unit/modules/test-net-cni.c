/* SPDX-License-Identifier: Apache-2.0 */
/* net-cni, loaded from the build tree: its settings and NetworkReady on
 * temporary configuration and plugin directories. */

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../test-common.h"
#include "module-test.h"

#include <ocid/json.h>

#include "network.h"

struct fixture {
        char *dir;
        char *conf;     /* <dir>/net.d */
        char *bin;      /* <dir>/bin */
        char *bin2;     /* <dir>/bin2 */
        struct ocid_module *m;
};

static int setup(void **state)
{
        (void) test_env_dir("OCID_MODULE_DIR");
        return 0;
}

static int fixture_setup(void **state)
{
        struct fixture *f = xzalloc(sizeof(*f));
        _cleanup_free_ char *text = NULL;

        f->dir = test_tmpdir_new();
        f->conf = ocid_path_join(f->dir, "net.d");
        f->bin = ocid_path_join(f->dir, "bin");
        f->bin2 = ocid_path_join(f->dir, "bin2");
        assert_int_equal(mkdir(f->conf, 0755), 0);
        assert_int_equal(mkdir(f->bin, 0755), 0);
        assert_int_equal(mkdir(f->bin2, 0755), 0);
        text = xasprintf("modules: { net-cni: { conf_dir = \"%s\"; bin_dirs = [ \"%s\", \"%s\" ]; }; };",
                         f->conf, f->bin, f->bin2);
        f->m = test_module_start("net-cni", text);
        *state = f;
        return 0;
}

static int fixture_teardown(void **state)
{
        struct fixture *f = *state;

        module_fini(f->m);
        test_tmpdir_free(f->dir);
        free(f->conf);
        free(f->bin);
        free(f->bin2);
        free(f);
        return 0;
}

/* Asserts the status; when not ready, that the message contains needle. */
static void expect_status(struct ocid_module *m, int ready, const char *needle)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL;
        int r;

        r = network_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        if (r != ready) {
                print_error("status %d, expected %d: %s\n", r, ready, message ? message : "(ready)");
                fail();
        }
        if (ready)
                return;
        assert_string_equal(reason, "NetworkPluginNotReady");
        assert_contains(message, needle);
}

static void write_plugin(const char *dir, const char *name, mode_t mode)
{
        _cleanup_free_ char *p = ocid_path_join(dir, name);

        test_write_file(dir, name, "#!/bin/sh\nexit 0\n");
        assert_int_equal(chmod(p, mode), 0);
}

static const char good_conflist[] =
        "{ \"cniVersion\": \"1.0.0\", \"name\": \"testnet\", \"plugins\": ["
        "  { \"type\": \"fake-bridge\" }, { \"type\": \"fake-portmap\" } ] }";

static void test_empty_dir(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *needle = xasprintf("no CNI configuration file in %s", f->conf);

        expect_status(f->m, 0, needle);
        /* Files that are not CNI configurations do not count. */
        test_write_file(f->conf, "README", "hello");
        test_write_file(f->conf, ".hidden.conflist", good_conflist);
        expect_status(f->m, 0, needle);
}

static void test_missing_dir(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *needle = xasprintf("no CNI configuration file in %s", f->conf);

        assert_int_equal(rmdir(f->conf), 0);
        expect_status(f->m, 0, needle);
}

static void test_bad_json(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *file = ocid_path_join(f->conf, "10-bad.conflist");
        _cleanup_free_ char *needle = xasprintf("invalid CNI configuration: parse JSON '%s'", file);

        test_write_file(f->conf, "10-bad.conflist", "{ \"name\": \"x\", ");
        expect_status(f->m, 0, needle);
}

static void test_incomplete(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *file = ocid_path_join(f->conf, "10-net.conflist");
        _cleanup_free_ char *noname = xasprintf("CNI configuration '%s' has no network name", file);
        _cleanup_free_ char *noplugins = xasprintf("CNI configuration '%s' has no plugins", file);
        _cleanup_free_ char *notype = xasprintf("CNI configuration '%s': plugin 1 has no type", file);
        _cleanup_free_ char *notobject = xasprintf("CNI configuration '%s' is not a JSON object", file);

        test_write_file(f->conf, "10-net.conflist", "{ \"plugins\": [ { \"type\": \"fake-bridge\" } ] }");
        expect_status(f->m, 0, noname);
        test_write_file(f->conf, "10-net.conflist", "{ \"name\": \"n\" }");
        expect_status(f->m, 0, noplugins);
        test_write_file(f->conf, "10-net.conflist", "{ \"name\": \"n\", \"plugins\": [ ] }");
        expect_status(f->m, 0, noplugins);
        test_write_file(f->conf, "10-net.conflist",
                        "{ \"name\": \"n\", \"plugins\": [ { \"type\": \"a\" }, { \"mtu\": 1 } ] }");
        expect_status(f->m, 0, notype);
        test_write_file(f->conf, "10-net.conflist", "[ 1, 2 ]");
        expect_status(f->m, 0, notobject);
}

static void test_plugins(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *file = ocid_path_join(f->conf, "10-net.conflist");
        _cleanup_free_ char *needle = xasprintf("CNI plugin 'fake-bridge' of network 'testnet' (%s) not found in %s:%s",
                                                file, f->bin, f->bin2);

        test_write_file(f->conf, "10-net.conflist", good_conflist);
        expect_status(f->m, 0, needle);

        /* Not executable does not count. */
        write_plugin(f->bin, "fake-bridge", 0644);
        expect_status(f->m, 0, needle);

        write_plugin(f->bin, "fake-bridge", 0755);
        expect_status(f->m, 0, "CNI plugin 'fake-portmap' of network 'testnet'");

        /* Any of the bin_dirs will do. */
        write_plugin(f->bin2, "fake-portmap", 0755);
        expect_status(f->m, 1, NULL);
}

static void test_lexical_order(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *bad = ocid_path_join(f->conf, "05-bad.conf");
        _cleanup_free_ char *needle = xasprintf("invalid CNI configuration: parse JSON '%s'", bad);

        write_plugin(f->bin, "fake-bridge", 0755);
        write_plugin(f->bin, "fake-portmap", 0755);
        test_write_file(f->conf, "10-net.conflist", good_conflist);
        expect_status(f->m, 1, NULL);

        /* The first file in lexical order is the one used. */
        test_write_file(f->conf, "05-bad.conf", "not json");
        expect_status(f->m, 0, needle);
        assert_int_equal(unlink(bad), 0);
        expect_status(f->m, 1, NULL);
}

static void test_single_conf(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *conf = ocid_path_join(f->conf, "10-net.conf");

        write_plugin(f->bin, "fake-bridge", 0755);
        test_write_file(f->conf, "10-net.conf", "{ \"name\": \"single\", \"type\": \"fake-bridge\" }");
        expect_status(f->m, 1, NULL);
        test_write_file(f->conf, "10-net.conf", "{ \"name\": \"single\" }");
        expect_status(f->m, 0, "has no plugin type");
        /* A .json may hold a list. */
        assert_int_equal(unlink(conf), 0);
        test_write_file(f->conf, "20-net.json",
                        "{ \"name\": \"l\", \"plugins\": [ { \"type\": \"fake-bridge\" } ] }");
        expect_status(f->m, 1, NULL);
}

static void test_plugin_type_is_a_name(void **state)
{
        struct fixture *f = *state;

        write_plugin(f->bin, "fake-bridge", 0755);
        test_write_file(f->conf, "10-net.conf", "{ \"name\": \"n\", \"type\": \"../bin/fake-bridge\" }");
        expect_status(f->m, 0, "CNI plugin '../bin/fake-bridge' of network 'n'");
}

/* Status is per call: a configuration that appears later is noticed. */
static void test_appears_later(void **state)
{
        struct fixture *f = *state;

        write_plugin(f->bin, "fake-bridge", 0755);
        write_plugin(f->bin, "fake-portmap", 0755);
        expect_status(f->m, 0, "no CNI configuration file");
        test_write_file(f->conf, "99-late.conflist", good_conflist);
        expect_status(f->m, 1, NULL);
}

static struct json_object *info_of(struct ocid_module *m)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *json = NULL;
        struct json_object *o;
        int r;

        r = module_info(m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_non_null(o);
        return o;
}

static void test_info(void **state)
{
        struct fixture *f = *state;
        _cleanup_json_ struct json_object *before = NULL, *after = NULL;
        _cleanup_free_ char *file = ocid_path_join(f->conf, "10-net.conflist");
        struct json_object *v;

        before = info_of(f->m);
        assert_string_equal(ocid_json_get_string(before, "conf_dir"), f->conf);
        assert_true(json_object_object_get_ex(before, "bin_dirs", &v));
        assert_int_equal(json_object_array_length(v), 2);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), f->bin2);
        assert_true(json_object_object_get_ex(before, "config_file", &v));
        assert_null(v);
        assert_true(json_object_object_get_ex(before, "ready", &v));
        assert_false(json_object_get_boolean(v));

        write_plugin(f->bin, "fake-bridge", 0755);
        write_plugin(f->bin, "fake-portmap", 0755);
        test_write_file(f->conf, "10-net.conflist", good_conflist);
        after = info_of(f->m);
        assert_string_equal(ocid_json_get_string(after, "config_file"), file);
        assert_string_equal(ocid_json_get_string(after, "network"), "testnet");
        assert_true(json_object_object_get_ex(after, "plugins", &v));
        assert_int_equal(json_object_array_length(v), 2);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "fake-bridge");
        assert_true(json_object_object_get_ex(after, "ready", &v));
        assert_true(json_object_get_boolean(v));
}

static void test_defaults(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("net-cni", NULL);
        _cleanup_json_ struct json_object *o = info_of(m);
        struct json_object *v;

        assert_string_equal(ocid_json_get_string(o, "conf_dir"), "/etc/cni/net.d");
        assert_true(json_object_object_get_ex(o, "bin_dirs", &v));
        assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                            "[\"/opt/cni/bin\",\"/usr/lib/cni\"]");
}

/* Loads net-cni and runs init and check on `group`, expecting both to fail
 * with needle. */
static void expect_bad_settings(const char *group, const char *needle)
{
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *text = xasprintf("modules: { net-cni: { %s }; };", group);
        config_t cfg;
        const config_setting_t *s = test_config_parse(&cfg, text, "modules.net-cni");
        int r;

        r = module_load(NULL, "net-cni", OCID_MODULE_KIND_NETWORK, &m, &e);
        assert_no_error(r, e);
        r = module_check(m, s, &e);
        assert_error(r, e, EINVAL, "module 'net-cni': check: ");
        assert_contains(e->message, needle);
        ocid_error_clear(&e);
        r = module_init(m, s, &e);
        assert_error(r, e, EINVAL, "module 'net-cni': init: ");
        assert_contains(e->message, needle);
        config_destroy(&cfg);
}

static void test_bad_settings(void **state)
{
        expect_bad_settings("colour = \"blue\";", "modules.net-cni.colour: unknown key");
        expect_bad_settings("conf_dir = 3;", "modules.net-cni.conf_dir: expected a string");
        expect_bad_settings("conf_dir = \"net.d\";", "modules.net-cni.conf_dir: 'net.d' is not an absolute path");
        expect_bad_settings("bin_dirs = \"/opt/cni/bin\";", "modules.net-cni.bin_dirs: expected an array of strings");
        expect_bad_settings("bin_dirs = [ ];", "modules.net-cni.bin_dirs: expected at least one directory");
        expect_bad_settings("bin_dirs = [ \"/a\", \"b\" ];", "modules.net-cni.bin_dirs[1]: 'b' is not an absolute path");
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
        const struct CMUnitTest tests[] = {
                T(test_empty_dir),
                T(test_missing_dir),
                T(test_bad_json),
                T(test_incomplete),
                T(test_plugins),
                T(test_lexical_order),
                T(test_single_conf),
                T(test_plugin_type_is_a_name),
                T(test_appears_later),
                T(test_info),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_bad_settings),
        };
#undef T

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
