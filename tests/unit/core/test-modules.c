/* SPDX-License-Identifier: Apache-2.0 */
/* The module set: what crio.conf selects, loaded and initialised in order,
 * finalised in reverse, checked without init, described as JSON. Runs
 * against the test modules, which record init and fini in a trace file. */

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "../test-common.h"
#include "../modules/module-test.h"

#include <ocid/host.h>
#include <ocid/json.h>

#include "config.h"
#include "modules.h"

struct fixture {
        char *dir;
        char *trace;
};

static int setup(void **state)
{
        setenv("OCID_MODULE_DIR", test_env_dir("OCID_TEST_MODULE_DIR"), 1);
        return 0;
}

static int fixture_setup(void **state)
{
        struct fixture *f = xzalloc(sizeof(*f));

        f->dir = test_tmpdir_new();
        f->trace = ocid_path_join(f->dir, "trace");
        *state = f;
        return 0;
}

static int fixture_teardown(void **state)
{
        struct fixture *f = *state;

        test_tmpdir_free(f->dir);
        free(f->trace);
        free(f);
        return 0;
}

/* A crio.conf selecting the test modules; `storage`, `security`, the
 * module of handler "runc" (the default) and extra keys of the network module's group vary
 * per test. Every test module's group names the trace file. */
static struct ocid_config *load_config(struct fixture *f, const char *storage, const char *security,
                                       const char *runtime_module, const char *network_keys)
{
        _cleanup_free_ char *text = NULL, *path = ocid_path_join(f->dir, "crio.conf");
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_config *c = NULL;
        int r;

        text = xasprintf("root = \"%s/root\";\n"
                         "runroot = \"%s/run\";\n"
                         "storage = \"%s\";\n"
                         "network = \"fake-network\";\n"
                         "security = [ %s ];\n"
                         "default_runtime = \"runc\";\n"
                         "runtimes = {\n"
                         "  runc = { module = \"%s\"; path = \"/bin/sh\"; root = \"/run/a\"; };\n"
                         "  crun = { module = \"fake-runtime\"; path = \"/nonexistent/b\"; };\n"
                         "};\n"
                         "modules = {\n"
                         "  fake-storage = { trace = \"%s\"; };\n"
                         "  fake-network = { trace = \"%s\"; %s };\n"
                         "  fake-security = { trace = \"%s\"; };\n"
                         "  fake-runtime = { trace = \"%s\"; };\n"
                         "};\n",
                         f->dir, f->dir, storage, security, runtime_module, f->trace, f->trace,
                         network_keys ? network_keys : "", f->trace, f->trace);
        test_write_file(f->dir, "crio.conf", text);
        r = config_load(path, &c, &e);
        assert_no_error(r, e);
        return c;
}

static char *read_trace(struct fixture *f)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        char *text = NULL;
        int r;

        r = ocid_read_file(f->trace, 1 << 16, &text, NULL, &e);
        if (r == -ENOENT)
                return xstrdup("");
        assert_no_error(r, e);
        return text;
}

static void test_load_and_free(void **state)
{
        struct fixture *f = *state;
        _cleanup_config_ struct ocid_config *c = NULL;
        struct ocid_modules *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *trace = NULL, *root = NULL;
        const struct modules_handler *h;
        int r;

        c = load_config(f, "fake-storage", "\"fake-security\"", "fake-runtime", NULL);
        r = modules_load(c, &m, &e);
        assert_no_error(r, e);

        root = xasprintf("%s/root", f->dir);
        assert_string_equal(ocid_host_root(), root);

        assert_string_equal(m->storage->name, "fake-storage");
        assert_string_equal(m->network->name, "fake-network");
        assert_int_equal(m->n_security, 1);
        assert_string_equal(m->security[0]->name, "fake-security");
        /* Two handlers, one runtime module. */
        assert_int_equal(m->n_runtimes, 1);
        assert_string_equal(m->runtimes[0]->name, "fake-runtime");
        assert_int_equal(m->n_handlers, 2);
        assert_int_equal(m->n_all, 4);
        for (size_t i = 0; i < m->n_all; i++)
                assert_true(m->all[i]->initialised);

        h = modules_find_handler(m, "crun");
        assert_non_null(h);
        assert_int_equal(h->h.size, sizeof(struct ocid_runtime_handler));
        assert_string_equal(h->h.name, "crun");
        assert_string_equal(h->h.path, "/nonexistent/b");
        assert_string_equal(h->h.root, "/run/crun");
        assert_string_equal(h->h.monitor, c->conmon);
        assert_ptr_equal(h->module, m->runtimes[0]);

        assert_string_equal(m->default_handler, "runc");
        h = modules_find_handler(m, "runc");
        assert_non_null(h);
        assert_string_equal(h->h.root, "/run/a");
        assert_ptr_equal(modules_find_handler(m, NULL), h);
        assert_ptr_equal(modules_find_handler(m, ""), h);
        assert_null(modules_find_handler(m, "kata"));

        trace = read_trace(f);
        assert_string_equal(trace, "init fake-storage\ninit fake-network\ninit fake-security\ninit fake-runtime\n");
        free(trace);

        modules_free(m);
        trace = read_trace(f);
        assert_string_equal(trace, "init fake-storage\ninit fake-network\ninit fake-security\ninit fake-runtime\n"
                                   "fini fake-runtime\nfini fake-security\nfini fake-network\nfini fake-storage\n");
}

/* A module whose init fails: the ones before it are finalised in reverse,
 * the ones after it never start. */
static void test_init_failure_unwinds(void **state)
{
        struct fixture *f = *state;
        _cleanup_config_ struct ocid_config *c = NULL;
        struct ocid_modules *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *trace = NULL;
        int r;

        c = load_config(f, "fake-storage", "\"fake-security\"", "fake-runtime",
                        "fail_init = true;");
        r = modules_load(c, &m, &e);
        assert_error(r, e, EIO, "module 'fake-network': init: failure requested by fail_init");
        assert_null(m);
        trace = read_trace(f);
        assert_string_equal(trace, "init fake-storage\nfini fake-storage\n");
}

/* Every descriptor is checked before any module code runs. */
static void test_descriptor_failure_runs_nothing(void **state)
{
        struct fixture *f = *state;
        _cleanup_config_ struct ocid_config *c = NULL;
        struct ocid_modules *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *trace = NULL;
        int r;

        c = load_config(f, "fake-storage", "\"fake-security\"", "fake-short-runtime-ops", NULL);
        r = modules_load(c, &m, &e);
        assert_error(r, e, ENOEXEC, "runtime handler 'runc': module 'fake-short-runtime-ops': ");
        assert_contains(e->message, "runtime ops table size");
        assert_null(m);
        trace = read_trace(f);
        assert_string_equal(trace, "");

        /* The names are free again: the same set loads now. */
        config_free(TAKE_PTR(c));
        c = load_config(f, "fake-storage", "\"fake-security\"", "fake-runtime", NULL);
        ocid_error_clear(&e);
        r = modules_load(c, &m, &e);
        assert_no_error(r, e);
        modules_free(m);
}

static void test_wrong_kind(void **state)
{
        struct fixture *f = *state;
        _cleanup_config_ struct ocid_config *c = NULL;
        struct ocid_modules *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        c = load_config(f, "fake-runtime", "", "fake-runtime", NULL);
        r = modules_load(c, &m, &e);
        assert_error(r, e, EINVAL, "module 'fake-runtime': ");
        assert_contains(e->message, "is a runtime module, expected a storage module");
        assert_null(m);
}

static void test_missing_runtime_module(void **state)
{
        struct fixture *f = *state;
        _cleanup_config_ struct ocid_config *c = NULL;
        struct ocid_modules *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        c = load_config(f, "fake-storage", "", "fake-absent", NULL);
        r = modules_load(c, &m, &e);
        assert_error(r, e, ENOENT, "runtime handler 'runc': module 'fake-absent': not found in ");
        assert_null(m);
}

static void test_check(void **state)
{
        struct fixture *f = *state;
        _cleanup_config_ struct ocid_config *c = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *trace = NULL;
        int r;

        c = load_config(f, "fake-storage", "\"fake-security\"", "fake-runtime", NULL);
        r = modules_check(c, &e);
        assert_no_error(r, e);
        config_free(TAKE_PTR(c));

        c = load_config(f, "fake-storage", "\"fake-security\"", "fake-runtime",
                        "colour = \"blue\";");
        r = modules_check(c, &e);
        assert_error(r, e, EINVAL, "module 'fake-network': check: ");
        assert_contains(e->message, "crio.conf:");
        assert_contains(e->message, "modules.fake-network.colour: unknown key");

        /* check never initialises anything. */
        trace = read_trace(f);
        assert_string_equal(trace, "");
}

static struct json_object *json_member(struct json_object *o, const char *key)
{
        struct json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v)) {
                print_error("no member '%s' in %s\n", key, json_object_to_json_string(o));
                fail();
        }
        return v;
}

static void test_info_json(void **state)
{
        struct fixture *f = *state;
        _cleanup_config_ struct ocid_config *c = NULL;
        _cleanup_(modules_freep) struct ocid_modules *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *text = NULL, *path = NULL;
        _cleanup_json_ struct json_object *arr = NULL;
        struct json_object *o, *handlers, *h;
        int r;

        c = load_config(f, "fake-storage", "\"fake-security\"", "fake-runtime",
                        "ready = false;");
        r = modules_load(c, &m, &e);
        assert_no_error(r, e);

        text = modules_info_json(m);
        arr = json_tokener_parse(text);
        assert_non_null(arr);
        assert_true(json_object_is_type(arr, json_type_array));
        assert_int_equal(json_object_array_length(arr), 4);

        o = json_object_array_get_idx(arr, 0);
        assert_string_equal(json_object_get_string(json_member(o, "name")), "fake-storage");
        assert_string_equal(json_object_get_string(json_member(o, "kind")), "storage");
        assert_non_null(json_member(o, "version"));
        path = xasprintf("%s/fake-storage.so", getenv("OCID_MODULE_DIR"));
        assert_string_equal(json_object_get_string(json_member(o, "path")), path);
        assert_true(json_object_get_boolean(json_member(o, "ready")));
        assert_null(json_member(o, "reason"));
        assert_string_equal(json_object_to_json_string_ext(json_member(o, "info"), JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                            "{\"name\":\"fake-storage\",\"ready\":true}");

        o = json_object_array_get_idx(arr, 1);
        assert_string_equal(json_object_get_string(json_member(o, "name")), "fake-network");
        assert_false(json_object_get_boolean(json_member(o, "ready")));
        assert_string_equal(json_object_get_string(json_member(o, "reason")), "FakeNotReady");
        assert_string_equal(json_object_get_string(json_member(o, "message")),
                            "fake-network is configured not ready");

        /* No status and no info: always ready, info null, and no error. */
        o = json_object_array_get_idx(arr, 2);
        assert_string_equal(json_object_get_string(json_member(o, "kind")), "security");
        assert_true(json_object_get_boolean(json_member(o, "ready")));
        assert_null(json_member(o, "info"));
        assert_false(json_object_object_get_ex(o, "info_error", NULL));

        o = json_object_array_get_idx(arr, 3);
        assert_string_equal(json_object_get_string(json_member(o, "kind")), "runtime");
        handlers = json_member(o, "handlers");
        assert_int_equal(json_object_array_length(handlers), 2);
        for (size_t i = 0; i < 2; i++) {
                h = json_object_array_get_idx(handlers, i);
                if (streq(json_object_get_string(json_member(h, "name")), "runc")) {
                        assert_true(json_object_get_boolean(json_member(h, "default")));
                        assert_true(json_object_get_boolean(json_member(h, "ready")));
                } else {
                        assert_string_equal(json_object_get_string(json_member(h, "name")), "crun");
                        assert_false(json_object_get_boolean(json_member(h, "default")));
                        assert_false(json_object_get_boolean(json_member(h, "ready")));
                        assert_string_equal(json_object_get_string(json_member(h, "reason")),
                                            "FakeBinaryMissing");
                        assert_contains(json_object_get_string(json_member(h, "message")), "/nonexistent/b");
                }
        }
}

static void test_empty(void **state)
{
        _cleanup_free_ char *text = modules_info_json(NULL);

        assert_string_equal(text, "[]");
        assert_null(modules_find_handler(NULL, "a"));
        assert_null(modules_free(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_load_and_free, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_init_failure_unwinds, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_descriptor_failure_runs_nothing, fixture_setup,
                                                fixture_teardown),
                cmocka_unit_test_setup_teardown(test_wrong_kind, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_missing_runtime_module, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_check, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_info_json, fixture_setup, fixture_teardown),
                cmocka_unit_test(test_empty),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
