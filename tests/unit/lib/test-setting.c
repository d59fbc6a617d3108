/* SPDX-License-Identifier: Apache-2.0 */
#include "lib-test.h"

#include <ocid/setting.h>

static const char CONF[] =
        "log_level = \"info\";\n"                                  /* 1 */
        "modules = {\n"                                             /* 2 */
        "  net-cni = {\n"                                           /* 3 */
        "    conf_dir = 42;\n"                                      /* 4 */
        "    plugin_dirs = [\"/opt/cni/bin\", \"/usr/lib/cni\"];\n" /* 5 */
        "    mixed = (\"a\", 1, { x = 2; });\n"                     /* 6 */
        "    big = 5000000000L;\n"                                  /* 7 */
        "    small = -12;\n"                                        /* 8 */
        "    on = true;\n"                                          /* 9 */
        "    name = \"cni\";\n"                                     /* 10 */
        "    bogus = 1.5;\n"                                        /* 11 */
        "    empty = [];\n"                                         /* 12 */
        "  };\n"
        "};\n";

struct fixture {
        config_t cfg;
        const config_setting_t *cni;
};

static int setup_string(void **state)
{
        struct fixture *f = xzalloc(sizeof(*f));

        config_init(&f->cfg);
        if (config_read_string(&f->cfg, CONF) != CONFIG_TRUE)
                fail_msg("parse: %s at line %d", config_error_text(&f->cfg), config_error_line(&f->cfg));
        f->cni = config_lookup(&f->cfg, "modules.net-cni");
        assert_non_null(f->cni);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        config_destroy(&f->cfg);
        free(f);
        return 0;
}

static void check_path(const config_t *cfg, const char *lookup, const char *expect)
{
        const config_setting_t *s = config_lookup(cfg, lookup);
        _cleanup_free_ char *p = NULL;

        assert_non_null(s);
        p = ocid_setting_path(s);
        assert_string_equal(p, expect);
}

static void test_path(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *root = ocid_setting_path(config_root_setting(&f->cfg));

        check_path(&f->cfg, "log_level", "log_level");
        check_path(&f->cfg, "modules.net-cni.conf_dir", "modules.net-cni.conf_dir");
        check_path(&f->cfg, "modules.net-cni.plugin_dirs.[1]", "modules.net-cni.plugin_dirs[1]");
        check_path(&f->cfg, "modules.net-cni.mixed.[2]", "modules.net-cni.mixed[2]");
        check_path(&f->cfg, "modules.net-cni.mixed.[2].x", "modules.net-cni.mixed[2].x");
        assert_string_equal(root, "");
}

static void test_error_from_string(void **state)
{
        struct fixture *f = *state;
        struct ocid_error *err = NULL;
        const config_setting_t *s = config_setting_get_member(f->cni, "conf_dir");

        /* no source file: the line alone */
        assert_int_equal(ocid_setting_error(s, &err, "expected a %s", "string"), -EINVAL);
        assert_err(err, EINVAL, "line 4: modules.net-cni.conf_dir: expected a string");
        assert_int_equal(ocid_setting_error(config_root_setting(&f->cfg), &err, "bad"), -EINVAL);
        assert_err(err, EINVAL, "bad");
        assert_int_equal(ocid_setting_error(NULL, &err, "no setting"), -EINVAL);
        assert_err(err, EINVAL, "no setting");
}

static void test_check_keys(void **state)
{
        struct fixture *f = *state;
        struct ocid_error *err = NULL;
        const char *const all[] = { "conf_dir", "plugin_dirs", "mixed", "big", "small", "on", "name", "bogus",
                                    "empty", NULL };
        const char *const some[] = { "conf_dir", "plugin_dirs", "mixed", "big", "small", "on", "name", NULL };

        assert_int_equal(ocid_setting_check_keys(f->cni, all, &err), 0);
        assert_int_equal(ocid_setting_check_keys(NULL, all, &err), 0);
        assert_null(err);
        assert_int_equal(ocid_setting_check_keys(f->cni, some, &err), -EINVAL);
        assert_err(err, EINVAL, "line 11: modules.net-cni.bogus: unknown key");
        assert_int_equal(ocid_setting_check_keys(config_lookup(&f->cfg, "log_level"), all, &err), -EINVAL);
        assert_err(err, EINVAL, "line 1: log_level: expected a group");
}

static void test_get_string(void **state)
{
        struct fixture *f = *state;
        struct ocid_error *err = NULL;
        _cleanup_free_ char *v = xstrdup("default");

        assert_int_equal(ocid_setting_get_string(NULL, "name", &v, &err), 0);
        assert_string_equal(v, "default");
        assert_int_equal(ocid_setting_get_string(f->cni, "absent", &v, &err), 0);
        assert_string_equal(v, "default");
        assert_int_equal(ocid_setting_get_string(f->cni, "name", &v, &err), 0);
        assert_string_equal(v, "cni");
        assert_null(err);

        assert_int_equal(ocid_setting_get_string(f->cni, "conf_dir", &v, &err), -EINVAL);
        assert_err(err, EINVAL, "line 4: modules.net-cni.conf_dir: expected a string");
        assert_string_equal(v, "cni");
        /* the group itself is not a group */
        assert_int_equal(ocid_setting_get_string(config_lookup(&f->cfg, "log_level"), "x", &v, &err), -EINVAL);
        assert_err(err, EINVAL, "line 1: log_level: expected a group");
}

static void test_get_int64(void **state)
{
        struct fixture *f = *state;
        struct ocid_error *err = NULL;
        int64_t v = 7;

        assert_int_equal(ocid_setting_get_int64(NULL, "big", &v, &err), 0);
        assert_int_equal(ocid_setting_get_int64(f->cni, "absent", &v, &err), 0);
        assert_int_equal(v, 7);
        assert_int_equal(ocid_setting_get_int64(f->cni, "big", &v, &err), 0);
        assert_true(v == 5000000000LL);
        assert_int_equal(ocid_setting_get_int64(f->cni, "small", &v, &err), 0);
        assert_int_equal(v, -12);
        assert_int_equal(ocid_setting_get_int64(f->cni, "bogus", &v, &err), -EINVAL);
        assert_err(err, EINVAL, "line 11: modules.net-cni.bogus: expected an integer");
        assert_int_equal(ocid_setting_get_int64(f->cni, "name", &v, &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(v, -12);
}

static void test_get_bool(void **state)
{
        struct fixture *f = *state;
        struct ocid_error *err = NULL;
        int v = 0;

        assert_int_equal(ocid_setting_get_bool(NULL, "on", &v, &err), 0);
        assert_int_equal(ocid_setting_get_bool(f->cni, "absent", &v, &err), 0);
        assert_int_equal(v, 0);
        assert_int_equal(ocid_setting_get_bool(f->cni, "on", &v, &err), 0);
        assert_int_equal(v, 1);
        assert_int_equal(ocid_setting_get_bool(f->cni, "small", &v, &err), -EINVAL);
        assert_err(err, EINVAL, "line 8: modules.net-cni.small: expected a boolean");
}

static void test_get_strv(void **state)
{
        struct fixture *f = *state;
        struct ocid_error *err = NULL;
        _cleanup_strv_ char **v = NULL;

        ocid_strv_push(&v, "default");
        assert_int_equal(ocid_setting_get_strv(NULL, "plugin_dirs", &v, &err), 0);
        assert_int_equal(ocid_setting_get_strv(f->cni, "absent", &v, &err), 0);
        assert_int_equal(ocid_strv_length(v), 1);

        assert_int_equal(ocid_setting_get_strv(f->cni, "plugin_dirs", &v, &err), 0);
        assert_int_equal(ocid_strv_length(v), 2);
        assert_string_equal(v[0], "/opt/cni/bin");
        assert_string_equal(v[1], "/usr/lib/cni");

        assert_int_equal(ocid_setting_get_strv(f->cni, "empty", &v, &err), 0);
        assert_non_null(v);
        assert_int_equal(ocid_strv_length(v), 0);

        assert_int_equal(ocid_setting_get_strv(f->cni, "mixed", &v, &err), -EINVAL);
        assert_err(err, EINVAL, "line 6: modules.net-cni.mixed[1]: expected a string");
        assert_int_equal(ocid_setting_get_strv(f->cni, "name", &v, &err), -EINVAL);
        assert_err(err, EINVAL, "line 10: modules.net-cni.name: expected an array of strings");
        assert_int_equal(ocid_strv_length(v), 0);
}

/* Read from a real file: the message names file, line and key. */
static void test_error_from_file(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *p = NULL, *expect = NULL;
        _cleanup_(config_destroy) config_t cfg;
        struct ocid_error *err = NULL;
        _cleanup_free_ char *s = NULL;
        const char *const allowed[] = { "conf_dir", NULL };

        config_init(&cfg);
        p = xasprintf("%s/crio.conf", t);
        write_text(p, CONF);
        assert_int_equal(config_read_file(&cfg, p), CONFIG_TRUE);

        assert_int_equal(ocid_setting_get_string(config_lookup(&cfg, "modules.net-cni"), "conf_dir", &s, &err),
                         -EINVAL);
        expect = xasprintf("%s:4: modules.net-cni.conf_dir: expected a string", p);
        assert_err(err, EINVAL, expect);
        free(expect);

        assert_int_equal(ocid_setting_check_keys(config_lookup(&cfg, "modules.net-cni"), allowed, &err), -EINVAL);
        expect = xasprintf("%s:5: modules.net-cni.plugin_dirs: unknown key", p);
        assert_err(err, EINVAL, expect);
        rm_tmpdir(TAKE_PTR(t));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_string, teardown)
OCID_TEST_MAIN(T(test_path), T(test_error_from_string), T(test_check_keys), T(test_get_string), T(test_get_int64),
               T(test_get_bool), T(test_get_strv), cmocka_unit_test(test_error_from_file))
