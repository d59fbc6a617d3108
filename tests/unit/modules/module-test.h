/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Helpers shared by the tests that load modules (tests/unit/core/test-module*,
 * test-<kind>.c and tests/unit/modules/test-*.c). Include after
 * test-common.h. */

#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

/* Fails the test, showing both strings, unless `needle` occurs in `hay`. */
#define assert_contains(hay, needle)                                          \
        do {                                                                  \
                const char *_h = (hay), *_n = (needle);                       \
                if (!_h || !strstr(_h, _n)) {                                 \
                        print_error("'%s' does not contain '%s'\n",           \
                                    _h ? _h : "(null)", _n);                  \
                        fail();                                               \
                }                                                             \
        } while (0)

/* Fails the test unless r is -code and err carries code and `needle`. */
#define assert_error(r_, err_, code_, needle_)                                \
        do {                                                                  \
                assert_int_equal((r_), -(code_));                             \
                assert_non_null(err_);                                        \
                assert_int_equal((err_)->code, (code_));                      \
                assert_contains((err_)->message, (needle_));                  \
        } while (0)

/* Fails the test, showing the message, when err is set. */
#define assert_no_error(r, err)                                               \
        do {                                                                  \
                if ((err) || (r) < 0) {                                       \
                        print_error("unexpected error %d: %s\n", (r),         \
                                    (err) ? (err)->message : "(none)");       \
                        fail();                                               \
                }                                                             \
        } while (0)

/* A directory named by an environment variable that the test harness sets
 * (AM_TESTS_ENVIRONMENT); fails the test when unset. */
static inline const char *test_env_dir(const char *var)
{
        const char *d = getenv(var);

        if (!d || !*d) {
                print_error("%s is not set; run the test through 'make check'\n", var);
                fail();
        }
        return d;
}

/* A fresh private directory below $TMPDIR; free with test_tmpdir_free. */
static inline char *test_tmpdir_new(void)
{
        const char *base = getenv("TMPDIR");
        char *d = xasprintf("%s/ocid-test-XXXXXX", base && *base ? base : "/tmp");

        assert_non_null(mkdtemp(d));
        return d;
}

static inline void test_tmpdir_free(char *d)
{
        struct ocid_error *e = NULL;

        if (!d)
                return;
        (void) ocid_rm_rf(d, &e);
        ocid_error_free(e);
        free(d);
}

/* Writes `text` to `dir/name` (0644). */
static inline void test_write_file(const char *dir, const char *name, const char *text)
{
        char *p = ocid_path_join(dir, name);
        FILE *f = fopen(p, "we");

        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
        free(p);
}

/* Parses libconfig text into cfg (config_init is done here); fails the
 * test on a syntax error. Returns the setting at `path` (may be NULL). */
static inline config_setting_t *test_config_parse(config_t *cfg, const char *text, const char *path)
{
        config_init(cfg);
        if (config_read_string(cfg, text) != CONFIG_TRUE) {
                print_error("config line %d: %s\n", config_error_line(cfg), config_error_text(cfg));
                fail();
        }
        return path ? config_lookup(cfg, path) : config_root_setting(cfg);
}

#include "module-loader.h"

/* Loads `name` from the module search path ($OCID_MODULE_DIR) and
 * initialises it with the group `modules.<name>` of the libconfig `text`
 * (NULL: no group). Fails the test on any error. */
static inline struct ocid_module *test_module_start(const char *name, const char *text)
{
        struct ocid_module *m = NULL;
        struct ocid_error *e = NULL;
        config_t cfg;
        char *path = xasprintf("modules.%s", name);
        const config_setting_t *group = NULL;
        int r;

        if (text)
                group = test_config_parse(&cfg, text, path);
        r = module_load(NULL, name, 0, &m, &e);
        assert_no_error(r, e);
        r = module_init(m, group, &e);
        assert_no_error(r, e);
        if (text)
                config_destroy(&cfg);
        free(path);
        return m;
}

/* A module linked into the test program (to mock its library calls with
 * -Wl,--wrap), wrapped as the loader would have loaded it, so that the
 * tests go through the same dispatch code. Free with module_fini. */
static inline struct ocid_module *test_module_linked(const struct ocid_module_info *info)
{
        struct ocid_module *m = xzalloc(sizeof(*m));

        m->name = xstrdup(info->name);
        m->path = xstrdup("(linked into the test)");
        m->kind = info->kind;
        m->info = info;
        m->ops = info->ops;
        return m;
}
