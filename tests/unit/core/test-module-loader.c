/* SPDX-License-Identifier: Apache-2.0 */
/* The module loader against real test modules (tests/unit/modules/fake):
 * each malformed module fails with its own message naming it and its file. */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../test-common.h"
#include "../modules/module-test.h"

#include <ocid/module.h>

#include "module-loader.h"

static const char *fake_dir;

static int setup(void **state)
{
        fake_dir = test_env_dir("OCID_TEST_MODULE_DIR");
        /* The harness points OCID_MODULE_DIR at the real modules; these tests
         * load the fakes unless a test says otherwise. */
        setenv("OCID_MODULE_DIR", fake_dir, 1);
        return 0;
}

/* Loads `name` expecting failure with `code` and a message naming the
 * module, its file (unless no file was found) and `needle`. */
static void expect_failure(const char *name, uint32_t kind, int code, const char *needle, int names_file)
{
        struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *prefix = xasprintf("module '%s': ", name);
        _cleanup_free_ char *file = xasprintf("%s/%s.so", fake_dir, name);
        int r;

        r = module_load(NULL, name, kind, &m, &e);
        assert_null(m);
        assert_error(r, e, code, needle);
        assert_contains(e->message, prefix);
        if (names_file)
                assert_contains(e->message, file);
}

static void test_good_modules(void **state)
{
        static const struct {
                const char *name;
                uint32_t kind;
        } good[] = {
                { "fake-storage", OCID_MODULE_KIND_STORAGE },
                { "fake-network", OCID_MODULE_KIND_NETWORK },
                { "fake-security", OCID_MODULE_KIND_SECURITY },
                { "fake-runtime", OCID_MODULE_KIND_RUNTIME },
                { "fake-plain-symbol", OCID_MODULE_KIND_NETWORK },
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_(module_finip) struct ocid_module *m = NULL;
                _cleanup_error_ struct ocid_error *e = NULL;
                _cleanup_free_ char *file = xasprintf("%s/%s.so", fake_dir, good[i].name);
                int r;

                /* expected_kind 0 accepts any kind; the right kind too. */
                r = module_load(NULL, good[i].name, i % 2 ? 0 : good[i].kind, &m, &e);
                assert_no_error(r, e);
                assert_string_equal(m->name, good[i].name);
                assert_string_equal(m->path, file);
                assert_int_equal(m->kind, good[i].kind);
                assert_string_equal(m->info->name, good[i].name);
                assert_ptr_equal(m->ops, m->info->ops);
                assert_false(m->initialised);

                r = module_init(m, NULL, &e);
                assert_no_error(r, e);
                assert_true(m->initialised);
        }
}

static void test_missing_file(void **state)
{
        _cleanup_free_ char *needle = xasprintf("module 'fake-absent': not found in %s", fake_dir);

        expect_failure("fake-absent", 0, ENOENT, needle, 0);
}

static void test_invalid_name(void **state)
{
        expect_failure("../fake/fake-storage", 0, EINVAL, "invalid name", 0);
        expect_failure("fake storage", 0, EINVAL, "invalid name", 0);
        expect_failure("", 0, EINVAL, "invalid name", 0);
}

/* A file that is not a shared object: libltdl's reason is passed on. */
static void test_not_loadable(void **state)
{
        _cleanup_free_ char *dir = test_tmpdir_new(), *file = ocid_path_join(dir, "fake-garbage.so");
        _cleanup_free_ char *needle = xasprintf("module 'fake-garbage': %s: cannot load: ", file);
        struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        test_write_file(dir, "fake-garbage.so", "this is not an ELF object\n");
        setenv("OCID_MODULE_DIR", dir, 1);
        r = module_load(NULL, "fake-garbage", 0, &m, &e);
        setenv("OCID_MODULE_DIR", fake_dir, 1);
        assert_null(m);
        assert_error(r, e, ENOEXEC, needle);
        test_tmpdir_free(TAKE_PTR(dir));
}

static void test_missing_symbol(void **state)
{
        expect_failure("fake-no-symbol", 0, ENOEXEC,
                       "exports neither 'ocid_module_info' nor 'fake_no_symbol_LTX_ocid_module_info'", 1);
}

static void test_other_major(void **state)
{
        _cleanup_free_ char *needle = xasprintf("ABI major version %u, but ocid supports %u",
                                                OCID_MODULE_ABI_MAJOR + 1, OCID_MODULE_ABI_MAJOR);

        expect_failure("fake-other-major", 0, ENOEXEC, needle, 1);
}

static void test_newer_minor(void **state)
{
        _cleanup_free_ char *needle = xasprintf("ABI version %u.%u is newer than ocid's %u.%u",
                                                OCID_MODULE_ABI_MAJOR, OCID_MODULE_ABI_MINOR + 1,
                                                OCID_MODULE_ABI_MAJOR, OCID_MODULE_ABI_MINOR);

        expect_failure("fake-newer-minor", 0, ENOEXEC, needle, 1);
}

static void test_short_info(void **state)
{
        _cleanup_free_ char *needle = xasprintf("descriptor size %zu is smaller than %zu",
                                                offsetof(struct ocid_module_info, reserved),
                                                sizeof(struct ocid_module_info));

        expect_failure("fake-short-info", 0, ENOEXEC, needle, 1);
}

static void test_no_ops(void **state)
{
        expect_failure("fake-no-ops", 0, ENOEXEC, "descriptor has no ops table", 1);
}

static void test_short_ops(void **state)
{
        _cleanup_free_ char *needle = xasprintf("ops table size %zu is smaller than %zu, the size of the common ops",
                                                sizeof(struct ocid_module_ops) - sizeof(void *),
                                                sizeof(struct ocid_module_ops));

        expect_failure("fake-short-ops", 0, ENOEXEC, needle, 1);
}

static void test_short_runtime_ops(void **state)
{
        _cleanup_free_ char *needle = xasprintf("runtime ops table size %zu is smaller than %zu",
                                                sizeof(struct ocid_module_ops),
                                                sizeof(struct ocid_runtime_ops));

        expect_failure("fake-short-runtime-ops", 0, ENOEXEC, needle, 1);
}

static void test_reserved(void **state)
{
        expect_failure("fake-reserved", 0, ENOEXEC, "reserved descriptor member 2 is not NULL", 1);
}

static void test_unknown_kind(void **state)
{
        expect_failure("fake-unknown-kind", 0, ENOEXEC, "unknown kind 99", 1);
}

static void test_wrong_kind(void **state)
{
        expect_failure("fake-network", OCID_MODULE_KIND_STORAGE, EINVAL,
                       "is a network module, expected a storage module", 1);
        expect_failure("fake-storage", OCID_MODULE_KIND_RUNTIME, EINVAL,
                       "is a storage module, expected a runtime module", 1);
}

static void test_misnamed(void **state)
{
        expect_failure("fake-misnamed", 0, ENOEXEC,
                       "descriptor names it 'fake-renamed', which does not match its file name", 1);
}

static void test_duplicate(void **state)
{
        _cleanup_(module_finip) struct ocid_module *first = NULL;
        struct ocid_module *again = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *needle = xasprintf("already loaded from %s/fake-storage.so", fake_dir);
        int r;

        r = module_load(NULL, "fake-storage", 0, &first, &e);
        assert_no_error(r, e);
        expect_failure("fake-storage", 0, EEXIST, needle, 1);

        /* Once finalised, the name is free again; the object stayed. */
        module_fini(TAKE_PTR(first));
        r = module_load(NULL, "fake-storage", 0, &again, &e);
        assert_no_error(r, e);
        r = module_init(again, NULL, &e);
        assert_no_error(r, e);
        module_fini(again);
}

static void test_null_init(void **state)
{
        expect_failure("fake-null-init", 0, ENOEXEC, "ops table has no init", 1);
}

static void test_init_fails(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        r = module_load(NULL, "fake-init-fails", 0, &m, &e);
        assert_no_error(r, e);
        r = module_init(m, NULL, &e);
        assert_error(r, e, EIO, "module 'fake-init-fails': init: cannot reach the frobnicator");
        assert_false(m->initialised);
}

static void test_init_config(void **state)
{
        _cleanup_(config_destroy) config_t cfg;
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *dir = test_tmpdir_new(), *trace = ocid_path_join(dir, "trace");
        _cleanup_free_ char *text = xasprintf("modules: { fake-storage: { trace = \"%s\"; ready = false; }; "
                                              "fake-network: { colour = \"blue\"; }; };", trace);
        _cleanup_free_ char *reason = NULL, *message = NULL, *json = NULL, *got = NULL;
        int r;

        test_config_parse(&cfg, text, NULL);

        r = module_load(NULL, "fake-storage", OCID_MODULE_KIND_STORAGE, &m, &e);
        assert_no_error(r, e);
        r = module_check(m, config_lookup(&cfg, "modules.fake-storage"), &e);
        assert_no_error(r, e);
        r = module_init(m, config_lookup(&cfg, "modules.fake-storage"), &e);
        assert_no_error(r, e);

        r = module_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        assert_string_equal(reason, "FakeNotReady");
        assert_string_equal(message, "fake-storage is configured not ready");

        r = module_info(m, &json, &e);
        assert_no_error(r, e);
        assert_string_equal(json, "{\"name\":\"fake-storage\",\"ready\":false}");

        module_fini(TAKE_PTR(m));
        r = ocid_read_file(trace, 4096, &got, NULL, &e);
        assert_no_error(r, e);
        assert_string_equal(got, "init fake-storage\nfini fake-storage\n");

        /* The module validates its group: an unknown key names file, key. */
        r = module_load(NULL, "fake-network", 0, &m, &e);
        assert_no_error(r, e);
        r = module_check(m, config_lookup(&cfg, "modules.fake-network"), &e);
        assert_error(r, e, EINVAL, "module 'fake-network': check: ");
        assert_contains(e->message, "modules.fake-network.colour: unknown key");
        ocid_error_clear(&e);
        r = module_init(m, config_lookup(&cfg, "modules.fake-network"), &e);
        assert_error(r, e, EINVAL, "module 'fake-network': init: ");
        assert_contains(e->message, "modules.fake-network.colour: unknown key");
        assert_false(m->initialised);

        test_tmpdir_free(TAKE_PTR(dir));
}

static void test_null_ops(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL, *json = NULL;
        int r;

        r = module_load(NULL, "fake-security", 0, &m, &e);
        assert_no_error(r, e);

        /* check needs no init */
        r = module_check(m, NULL, &e);
        assert_error(r, e, EOPNOTSUPP, "module 'fake-security' does not support check");
        ocid_error_clear(&e);

        /* status before init is a caller bug, reported */
        r = module_status(m, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-security': status: not initialised");
        ocid_error_clear(&e);

        r = module_init(m, NULL, &e);
        assert_no_error(r, e);
        r = module_status(m, &reason, &message, &e);
        assert_error(r, e, EOPNOTSUPP, "module 'fake-security' does not support status");
        ocid_error_clear(&e);
        r = module_info(m, &json, &e);
        assert_error(r, e, EOPNOTSUPP, "module 'fake-security' does not support info");
        assert_null(reason);
        assert_null(message);
        assert_null(json);
}

static void test_search_path(void **state)
{
        _cleanup_free_ char *path = xasprintf("/nonexistent::%s", fake_dir);
        _cleanup_free_ char *uninstalled = xstrdup(fake_dir), *la = NULL;
        struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        char *slash;
        int r;

        assert_string_equal(module_search_path("/elsewhere"), fake_dir);
        unsetenv("OCID_MODULE_DIR");
        assert_string_equal(module_search_path("/elsewhere"), "/elsewhere");
        assert_string_equal(module_search_path(NULL), OCID_MODULEDIR);
        assert_string_equal(module_search_path(""), OCID_MODULEDIR);
        setenv("OCID_MODULE_DIR", "", 1);
        assert_string_equal(module_search_path("/elsewhere"), "/elsewhere");

        /* Later directories are searched; empty components are skipped. */
        r = module_load(path, "fake-network", 0, &m, &e);
        assert_no_error(r, e);
        module_fini(TAKE_PTR(m));

        r = module_load("/nonexistent", "fake-network", 0, &m, &e);
        assert_error(r, e, ENOENT, "module 'fake-network': not found in /nonexistent");
        ocid_error_clear(&e);

        /* A libtool archive: the build directory holds only fake-network.la,
         * which names the object in .libs. */
        slash = strrchr(uninstalled, '/');
        assert_non_null(slash);
        *slash = '\0';
        la = xasprintf("%s/fake-network.la", uninstalled);
        r = module_load(uninstalled, "fake-network", 0, &m, &e);
        assert_no_error(r, e);
        assert_string_equal(m->path, la);
        assert_int_equal(m->kind, OCID_MODULE_KIND_NETWORK);
        module_fini(TAKE_PTR(m));

        setenv("OCID_MODULE_DIR", fake_dir, 1);
}

static void test_kind_names(void **state)
{
        assert_string_equal(module_kind_to_string(OCID_MODULE_KIND_STORAGE), "storage");
        assert_string_equal(module_kind_to_string(OCID_MODULE_KIND_NETWORK), "network");
        assert_string_equal(module_kind_to_string(OCID_MODULE_KIND_SECURITY), "security");
        assert_string_equal(module_kind_to_string(OCID_MODULE_KIND_RUNTIME), "runtime");
        assert_string_equal(module_kind_to_string(0), "unknown");
        assert_string_equal(module_kind_to_string(99), "unknown");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good_modules),
                cmocka_unit_test(test_missing_file),
                cmocka_unit_test(test_invalid_name),
                cmocka_unit_test(test_not_loadable),
                cmocka_unit_test(test_missing_symbol),
                cmocka_unit_test(test_other_major),
                cmocka_unit_test(test_newer_minor),
                cmocka_unit_test(test_short_info),
                cmocka_unit_test(test_no_ops),
                cmocka_unit_test(test_short_ops),
                cmocka_unit_test(test_short_runtime_ops),
                cmocka_unit_test(test_reserved),
                cmocka_unit_test(test_unknown_kind),
                cmocka_unit_test(test_wrong_kind),
                cmocka_unit_test(test_misnamed),
                cmocka_unit_test(test_duplicate),
                cmocka_unit_test(test_null_init),
                cmocka_unit_test(test_init_fails),
                cmocka_unit_test(test_init_config),
                cmocka_unit_test(test_null_ops),
                cmocka_unit_test(test_search_path),
                cmocka_unit_test(test_kind_names),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
