/* SPDX-License-Identifier: Apache-2.0 */
/* sec-apparmor: the module's source is linked into this program with
 * aa_is_enabled() and aa_find_mountpoint() mocked (-Wl,--wrap): the mocked
 * mount point is a directory of the test whose "profiles" file plays the
 * kernel's list of loaded profiles, and apparmor_parser is a script of the
 * test that records its arguments and input and "loads" the profile by
 * adding it to that list. Every container goes through the core's chain
 * (security_apply_chain). The built module runs against the real host. */

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test-common.h"
#include "module-test.h"

#include <ocid/json.h>
#include <ocid/log.h>

#include "modules.h"
#include "security.h"

extern const struct ocid_module_info sec_apparmor_LTX_ocid_module_info;

/* The mocks: when active, aa_is_enabled() returns mock_ret with errno set
 * to mock_errno, and aa_find_mountpoint() answers mock_mnt (NULL: ENOENT);
 * otherwise the real ones run. */
static bool mock_active;
static int mock_ret, mock_errno;
static const char *mock_mnt;
static int disabled_errno = ENOSYS;     /* what aa_is_enabled() says on a host without AppArmor */

int __real_aa_is_enabled(void);
int __wrap_aa_is_enabled(void);
int __real_aa_find_mountpoint(char **mnt);
int __wrap_aa_find_mountpoint(char **mnt);

int __wrap_aa_is_enabled(void)
{
        if (!mock_active)
                return __real_aa_is_enabled();
        errno = mock_errno;
        return mock_ret;
}

int __wrap_aa_find_mountpoint(char **mnt)
{
        if (!mock_active)
                return __real_aa_find_mountpoint(mnt);
        if (!mock_mnt) {
                errno = ENOENT;
                return -1;
        }
        *mnt = xstrdup(mock_mnt);
        return 0;
}

/* Log lines of the module, counted. */
static int log_count;
static char *log_last;

static void log_sink(int level, const char *category, const char *message, void *userdata)
{
        if (!streq(category, "sec-apparmor") || level > OCID_LOG_INFO)
                return;
        log_count++;
        free(log_last);
        log_last = xstrdup(message);
}

/* One test's world: a temporary directory with the fake securityfs
 * ("aa/profiles"), the fake parser and what it records. */
struct world {
        char *dir;
        char *mnt;
        char *profiles;
        char *parser;           /* loads what it is given */
        char *args;             /* its arguments, as it got them */
        char *input;            /* its stdin */
        char *template;         /* the project's template */
        struct ocid_module *m;
};

static void write_script(const char *path, const char *body)
{
        _cleanup_free_ char *text = xasprintf("#!/bin/sh\n%s", body);
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, 0755), 0);
}

static void world_setup(struct world *w)
{
        _cleanup_free_ char *body = NULL;

        memset(w, 0, sizeof(*w));
        w->dir = test_tmpdir_new();
        w->mnt = ocid_path_join(w->dir, "aa");
        assert_int_equal(mkdir(w->mnt, 0755), 0);
        w->profiles = ocid_path_join(w->mnt, "profiles");
        test_write_file(w->mnt, "profiles", "/usr/bin/man (enforce)\nlsb_release (complain)\n");
        w->parser = ocid_path_join(w->dir, "parser");
        w->args = ocid_path_join(w->dir, "parser-args");
        w->input = ocid_path_join(w->dir, "parser-input");
        body = xasprintf("echo \"$@\" > '%s'\n"
                         "cat > '%s'\n"
                         "name=$(sed -n 's/^profile \\([^ ]*\\) .*/\\1/p' '%s')\n"
                         "echo \"$name (enforce)\" >> '%s'\n",
                         w->args, w->input, w->input, w->profiles);
        write_script(w->parser, body);
        w->template = xasprintf("%s/../../etc/apparmor/ocid-default", test_env_dir("OCID_TEST_SRCDIR"));
        log_count = 0;
        ocid_log_set_sink(log_sink, NULL);
}

static void world_teardown(struct world *w)
{
        if (w->m)
                module_fini(w->m);
        mock_active = false;
        ocid_log_set_sink(NULL, NULL);
        free(log_last);
        log_last = NULL;
        test_tmpdir_free(w->dir);
        free(w->mnt);
        free(w->profiles);
        free(w->parser);
        free(w->args);
        free(w->input);
        free(w->template);
}

/* Starts the linked module on a host with (enabled) or without AppArmor;
 * extra is more libconfig settings of its group. */
static void world_start(struct world *w, bool enabled, const char *extra)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        config_t cfg;
        const config_setting_t *group;
        int r;

        text = xasprintf("modules = { sec-apparmor = { parser = \"%s\"; template = \"%s\"; %s }; };",
                         w->parser, w->template, extra ? extra : "");
        group = test_config_parse(&cfg, text, "modules.sec-apparmor");
        w->m = test_module_linked(&sec_apparmor_LTX_ocid_module_info);
        mock_active = true;
        mock_ret = enabled ? 1 : 0;
        mock_errno = enabled ? 0 : disabled_errno;
        mock_mnt = enabled ? w->mnt : NULL;
        r = module_init(w->m, group, &e);
        config_destroy(&cfg);
        assert_no_error(r, e);
}

/* Runs the chain for one container; returns its result, with the spec's
 * process.apparmorProfile (or NULL) in *ret_profile. */
static int world_apply(struct world *w, uint32_t type, const char *ref, int privileged, char **ret_profile,
                       struct ocid_error **err)
{
        struct ocid_modules mods = { .security = &w->m, .n_security = 1 };
        const char *const none[] = { NULL };
        struct ocid_security_request req = {
                .container_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                .pod_id = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
                .privileged = privileged,
                .apparmor = { .type = type, .localhost_ref = ref },
                .relabel = none,
        };
        _cleanup_json_ struct json_object *spec =
                json_tokener_parse("{\"process\":{\"args\":[\"sh\"],\"apparmorProfile\":\"stale\"}}");
        struct json_object *process, *v;
        int r;

        req.size = sizeof(req);
        r = security_apply_chain(&mods, &req, spec, NULL, err);
        *ret_profile = NULL;
        if (r < 0)
                return r;
        assert_true(json_object_object_get_ex(spec, "process", &process));
        if (json_object_object_get_ex(process, "apparmorProfile", &v))
                *ret_profile = xstrdup(json_object_get_string(v));
        return r;
}

/* The profile a container gets, which must succeed. */
static char *apply_ok(struct world *w, uint32_t type, const char *ref, int privileged)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        char *profile = NULL;
        int r = world_apply(w, type, ref, privileged, &profile, &e);

        assert_no_error(r, e);
        return profile;
}

static bool file_exists(const char *path)
{
        return access(path, F_OK) == 0;
}

static char *read_text(const char *path)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        char *text = NULL;
        int r = ocid_read_file(path, 1 << 20, &text, NULL, &e);

        assert_no_error(r, e);
        return text;
}

static int setup(void **state)
{
        (void) test_env_dir("OCID_MODULE_DIR");
        return 0;
}

/* Unset and RuntimeDefault on an AppArmor host: the default profile is
 * rendered from the template, loaded once with -Kr, and set. */
static void test_runtime_default_loads_once(void **state)
{
        struct world w;
        _cleanup_free_ char *p1 = NULL, *p2 = NULL, *p3 = NULL, *args = NULL, *input = NULL, *list = NULL;

        world_setup(&w);
        world_start(&w, true, NULL);

        p1 = apply_ok(&w, OCID_SECURITY_PROFILE_UNSET, NULL, 0);
        assert_string_equal(p1, "ocid-default");
        args = read_text(w.args);
        assert_string_equal(args, "-Kr\n");
        input = read_text(w.input);
        assert_contains(input, "profile ocid-default flags=(attach_disconnected,mediate_deleted) {");
        assert_contains(input, "signal (send, receive) peer=ocid-default,");
        assert_contains(input, "deny mount,");
        assert_null(strstr(input, "@PROFILE_NAME@"));
        list = read_text(w.profiles);
        assert_contains(list, "ocid-default (enforce)");

        /* loaded now: the parser is not run again */
        assert_int_equal(unlink(w.args), 0);
        p2 = apply_ok(&w, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0);
        assert_string_equal(p2, "ocid-default");
        p3 = apply_ok(&w, OCID_SECURITY_PROFILE_UNSET, NULL, 0);
        assert_string_equal(p3, "ocid-default");
        assert_false(file_exists(w.args));
        world_teardown(&w);
}

/* A profile the kernel already has is not loaded again; unloaded (e.g. by
 * the operator), it is loaded again at the next container. */
static void test_runtime_default_already_loaded(void **state)
{
        struct world w;
        _cleanup_free_ char *p1 = NULL, *p2 = NULL;

        world_setup(&w);
        test_write_file(w.mnt, "profiles", "ocid-default (enforce)\n");
        world_start(&w, true, NULL);
        p1 = apply_ok(&w, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0);
        assert_string_equal(p1, "ocid-default");
        assert_false(file_exists(w.args));

        test_write_file(w.mnt, "profiles", "other (enforce)\n");
        p2 = apply_ok(&w, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0);
        assert_string_equal(p2, "ocid-default");
        assert_true(file_exists(w.args));
        world_teardown(&w);
}

/* Containers starting at once on a fresh boot: the profile is loaded by
 * one of them, exactly once, and all get it. */
struct racer {
        struct world *w;
        char *profile;
        int failed;
};

static void *race_apply(void *arg)
{
        struct racer *rc = arg;
        struct ocid_error *e = NULL;

        if (world_apply(rc->w, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, &rc->profile, &e) < 0)
                rc->failed = 1;
        ocid_error_free(e);
        return NULL;
}

static void test_concurrent_load(void **state)
{
        struct world w;
        _cleanup_free_ char *body = NULL, *runs = NULL, *count = NULL;
        struct racer rc[8];
        pthread_t t[8];

        world_setup(&w);
        /* a slow parser that counts its runs */
        runs = ocid_path_join(w.dir, "runs");
        body = xasprintf("echo run >> '%s'\n"
                         "cat > '%s'\n"
                         "sleep 0.2\n"
                         "echo 'ocid-default (enforce)' >> '%s'\n",
                         runs, w.input, w.profiles);
        write_script(w.parser, body);
        world_start(&w, true, NULL);
        for (unsigned i = 0; i < 8; i++) {
                rc[i] = (struct racer) { .w = &w };
                assert_int_equal(pthread_create(&t[i], NULL, race_apply, &rc[i]), 0);
        }
        for (unsigned i = 0; i < 8; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_false(rc[i].failed);
                assert_string_equal(rc[i].profile, "ocid-default");
                free(rc[i].profile);
        }
        count = read_text(runs);
        assert_string_equal(count, "run\n");
        world_teardown(&w);
}

/* default_profile renames the profile everywhere in the template. */
static void test_custom_default_name(void **state)
{
        struct world w;
        _cleanup_free_ char *p = NULL, *input = NULL;

        world_setup(&w);
        world_start(&w, true, "default_profile = \"site-containers\";");
        p = apply_ok(&w, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0);
        assert_string_equal(p, "site-containers");
        input = read_text(w.input);
        assert_contains(input, "profile site-containers flags=");
        assert_contains(input, "ptrace (trace, read, tracedby, readby) peer=site-containers,");
        assert_null(strstr(input, "ocid-default {"));
        world_teardown(&w);
}

/* Privileged: unconfined unless asked explicitly. Unconfined: none, and a
 * value already in the spec is taken out. */
static void test_privileged_and_unconfined(void **state)
{
        struct world w;
        _cleanup_free_ char *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL;

        world_setup(&w);
        test_write_file(w.mnt, "profiles", "ocid-default (enforce)\nmine (enforce)\n");
        world_start(&w, true, NULL);
        p1 = apply_ok(&w, OCID_SECURITY_PROFILE_UNSET, NULL, 1);
        assert_null(p1);
        p2 = apply_ok(&w, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 1);
        assert_string_equal(p2, "ocid-default");
        p3 = apply_ok(&w, OCID_SECURITY_PROFILE_LOCALHOST, "mine", 1);
        assert_string_equal(p3, "mine");
        p4 = apply_ok(&w, OCID_SECURITY_PROFILE_UNCONFINED, NULL, 0);
        assert_null(p4);
        assert_false(file_exists(w.args));
        world_teardown(&w);
}

/* localhost/NAME: set when loaded (names with spaces, slashes and
 * parentheses are matched whole), a clear error otherwise. */
static void test_localhost(void **state)
{
        struct world w;
        _cleanup_free_ char *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL;
        _cleanup_error_ struct ocid_error *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;
        int r;

        world_setup(&w);
        test_write_file(w.mnt, "profiles",
                        "web (enforce)\n/usr/sbin/nginx (complain)\nodd name (x) (enforce)\nweb-extra (enforce)\n");
        world_start(&w, true, NULL);
        p1 = apply_ok(&w, OCID_SECURITY_PROFILE_LOCALHOST, "web", 0);
        assert_string_equal(p1, "web");
        p2 = apply_ok(&w, OCID_SECURITY_PROFILE_LOCALHOST, "/usr/sbin/nginx", 0);
        assert_string_equal(p2, "/usr/sbin/nginx");
        p3 = apply_ok(&w, OCID_SECURITY_PROFILE_LOCALHOST, "odd name (x)", 0);
        assert_string_equal(p3, "odd name (x)");

        r = world_apply(&w, OCID_SECURITY_PROFILE_LOCALHOST, "we", 0, &p4, &e1);
        assert_error(r, e1, ENOENT, "AppArmor profile 'we' is not loaded");
        r = world_apply(&w, OCID_SECURITY_PROFILE_LOCALHOST, "odd name", 0, &p4, &e2);
        assert_error(r, e2, ENOENT, "AppArmor profile 'odd name' is not loaded");
        r = world_apply(&w, OCID_SECURITY_PROFILE_LOCALHOST, "web\n(enforce)", 0, &p4, &e3);
        assert_error(r, e3, EINVAL, "control character");

        /* the AppArmor filesystem cannot be found: an error, not a guess */
        mock_mnt = NULL;
        r = world_apply(&w, OCID_SECURITY_PROFILE_LOCALHOST, "web", 0, &p4, &e4);
        assert_error(r, e4, ENOENT, "find the AppArmor filesystem");
        assert_null(p4);
        assert_false(file_exists(w.args));
        world_teardown(&w);
}

/* A host without AppArmor: unset and RuntimeDefault run without a profile
 * and say so once per module life; Localhost is refused. */
static void test_disabled_host(void **state)
{
        struct world w;
        _cleanup_free_ char *p = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        world_setup(&w);
        world_start(&w, false, NULL);
        for (int i = 0; i < 5; i++) {
                char *x = apply_ok(&w, i % 2 ? OCID_SECURITY_PROFILE_RUNTIME_DEFAULT : OCID_SECURITY_PROFILE_UNSET,
                                   NULL, 0);

                assert_null(x);
        }
        assert_int_equal(log_count, 1);
        assert_contains(log_last, "run without one: AppArmor is not available on this system");
        assert_false(file_exists(w.args));

        r = world_apply(&w, OCID_SECURITY_PROFILE_LOCALHOST, "web", 0, &p, &e);
        assert_error(r, e, EOPNOTSUPP, "AppArmor profile 'web' was asked for, but AppArmor is not enabled on this host");
        assert_null(p);
        assert_int_equal(log_count, 1);
        world_teardown(&w);
}

/* apparmor_parser failing, hanging, or claiming success without loading:
 * each a clear error, and the next container tries again. */
static void test_parser_failures(void **state)
{
        struct world w;
        _cleanup_free_ char *p = NULL, *fail = NULL, *hang = NULL, *noop = NULL, *tpl = NULL, *badtpl = NULL;
        _cleanup_error_ struct ocid_error *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL, *e5 = NULL, *e6 = NULL;
        int r;

        world_setup(&w);
        fail = ocid_path_join(w.dir, "parser-fail");
        write_script(fail, "cat >/dev/null\necho 'AppArmor parser error at line 3:' >&2\necho ' syntax error' >&2\nexit 1\n");
        hang = ocid_path_join(w.dir, "parser-hang");
        write_script(hang, "exec sleep 30\n");
        noop = ocid_path_join(w.dir, "parser-noop");
        write_script(noop, "cat >/dev/null\nexit 0\n");

        free(w.parser);
        w.parser = xstrdup(fail);
        world_start(&w, true, NULL);
        r = world_apply(&w, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, &p, &e1);
        assert_error(r, e1, EIO, "AppArmor profile 'ocid-default': '");
        assert_contains(e1->message, "parser-fail' failed with exit code 1: AppArmor parser error at line 3:  syntax error");
        module_fini(w.m);
        w.m = NULL;

        free(w.parser);
        w.parser = xstrdup(hang);
        world_start(&w, true, "parser_timeout = 1;");
        r = world_apply(&w, OCID_SECURITY_PROFILE_UNSET, NULL, 0, &p, &e2);
        assert_error(r, e2, ETIMEDOUT, "parser-hang' did not finish in 1 s");
        module_fini(w.m);
        w.m = NULL;

        free(w.parser);
        w.parser = xstrdup(noop);
        world_start(&w, true, NULL);
        r = world_apply(&w, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, &p, &e3);
        assert_error(r, e3, EIO, "succeeded but profile 'ocid-default' is still not loaded");
        module_fini(w.m);
        w.m = NULL;

        /* a missing parser */
        free(w.parser);
        w.parser = ocid_path_join(w.dir, "no-such-parser");
        world_start(&w, true, NULL);
        r = world_apply(&w, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, &p, &e4);
        assert_error(r, e4, ENOENT, "no-such-parser");
        module_fini(w.m);
        w.m = NULL;

        /* a missing template, and one without the name's placeholder */
        free(w.template);
        w.template = ocid_path_join(w.dir, "no-template");
        world_start(&w, true, NULL);
        r = world_apply(&w, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, &p, &e5);
        assert_error(r, e5, ENOENT, "AppArmor profile template: open '");
        module_fini(w.m);
        w.m = NULL;

        test_write_file(w.dir, "bad-template", "profile fixed-name { file, }\n");
        free(w.template);
        w.template = ocid_path_join(w.dir, "bad-template");
        world_start(&w, true, NULL);
        r = world_apply(&w, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, &p, &e6);
        assert_error(r, e6, EINVAL, "does not contain @PROFILE_NAME@");
        assert_null(p);
        world_teardown(&w);
}

static void expect_check_error(const char *settings, const char *needle)
{
        _cleanup_free_ char *text = xasprintf("modules = { sec-apparmor = { %s }; };", settings);
        _cleanup_error_ struct ocid_error *e = NULL;
        const struct ocid_module_ops *ops = sec_apparmor_LTX_ocid_module_info.ops;
        config_t cfg;
        const config_setting_t *group = test_config_parse(&cfg, text, "modules.sec-apparmor");
        void *st = NULL;
        int r;

        r = ops->check(group, &e);
        assert_error(r, e, EINVAL, needle);
        ocid_error_clear(&e);
        /* init refuses the same group */
        r = ops->init(group, &st, &e);
        assert_error(r, e, EINVAL, needle);
        assert_null(st);
        config_destroy(&cfg);
}

static void test_settings(void **state)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        const struct ocid_module_ops *ops = sec_apparmor_LTX_ocid_module_info.ops;
        config_t cfg;
        const config_setting_t *group = test_config_parse(&cfg,
                "modules = { sec-apparmor = { default_profile = \"a.b_c-1\"; parser = \"/x/parser\"; "
                "template = \"/x/t\"; parser_timeout = 5; }; };", "modules.sec-apparmor");
        int r;

        r = ops->check(group, &e);
        assert_no_error(r, e);
        config_destroy(&cfg);

        expect_check_error("bogus = 1;", "unknown key");
        expect_check_error("default_profile = \"\";", "modules.sec-apparmor.default_profile: '' is not a valid profile name");
        expect_check_error("default_profile = \"a b\";", "'a b' is not a valid profile name");
        expect_check_error("default_profile = \"x{y}\";", "'x{y}' is not a valid profile name");
        expect_check_error("default_profile = \"-x\";", "'-x' is not a valid profile name");
        expect_check_error("default_profile = 3;", "modules.sec-apparmor.default_profile");
        expect_check_error("parser = \"apparmor_parser\";", "modules.sec-apparmor.parser: 'apparmor_parser' is not an absolute path");
        expect_check_error("template = \"t\";", "modules.sec-apparmor.template: 't' is not an absolute path");
        expect_check_error("parser_timeout = 0;", "modules.sec-apparmor.parser_timeout: 0 is out of range");
        expect_check_error("parser_timeout = 3601;", "3601 is out of range");
}

static struct json_object *world_info(struct world *w)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *json = NULL, *reason = NULL, *message = NULL;
        struct json_object *o;
        int r;

        /* absent or present, the module is ready */
        r = security_status(w->m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);
        r = module_info(w->m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_non_null(o);
        return o;
}

static bool get_bool(struct json_object *o, const char *key)
{
        struct json_object *v;

        assert_true(json_object_object_get_ex(o, key, &v));
        assert_true(json_object_is_type(v, json_type_boolean));
        return json_object_get_boolean(v);
}

static void test_info_enabled(void **state)
{
        struct world w;
        _cleanup_json_ struct json_object *before = NULL, *after = NULL;
        _cleanup_free_ char *p = NULL;

        world_setup(&w);
        world_start(&w, true, NULL);
        before = world_info(&w);
        assert_true(get_bool(before, "enabled"));
        assert_string_equal(ocid_json_get_string(before, "default_profile"), "ocid-default");
        assert_false(get_bool(before, "default_profile_loaded"));
        assert_false(json_object_object_get_ex(before, "reason", NULL));

        p = apply_ok(&w, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0);
        after = world_info(&w);
        assert_true(get_bool(after, "default_profile_loaded"));
        world_teardown(&w);
}

static void expect_disabled(int errnum, const char *reason)
{
        struct world w;
        _cleanup_json_ struct json_object *o = NULL;

        world_setup(&w);
        disabled_errno = errnum;
        world_start(&w, false, NULL);
        disabled_errno = ENOSYS;
        o = world_info(&w);
        assert_false(get_bool(o, "enabled"));
        assert_string_equal(ocid_json_get_string(o, "reason"), reason);
        assert_false(json_object_object_get_ex(o, "default_profile_loaded", NULL));
        world_teardown(&w);
}

static void test_info_disabled(void **state)
{
        expect_disabled(ENOSYS, "AppArmor is not available on this system");
        expect_disabled(ECANCELED, "AppArmor is available but was disabled at boot");
        expect_disabled(ENOENT, "AppArmor is available but its interface (securityfs) is not mounted");
        expect_disabled(EACCES, "not permitted to determine whether AppArmor is enabled");
        expect_disabled(ENOMEM, "AppArmor is not enabled: Cannot allocate memory");
}

/* The built module on this host: whatever the host has, a consistent
 * report and no failure. */
static void test_built_module(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("sec-apparmor", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *json = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *v;
        int r;

        r = module_info(m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_true(json_object_object_get_ex(o, "enabled", &v));
        assert_int_equal(json_object_get_boolean(v), __real_aa_is_enabled() == 1);
        if (!json_object_get_boolean(v))
                assert_non_null(ocid_json_get_string(o, "reason"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_runtime_default_loads_once),
                cmocka_unit_test(test_runtime_default_already_loaded),
                cmocka_unit_test(test_concurrent_load),
                cmocka_unit_test(test_custom_default_name),
                cmocka_unit_test(test_privileged_and_unconfined),
                cmocka_unit_test(test_localhost),
                cmocka_unit_test(test_disabled_host),
                cmocka_unit_test(test_parser_failures),
                cmocka_unit_test(test_settings),
                cmocka_unit_test(test_info_enabled),
                cmocka_unit_test(test_info_disabled),
                cmocka_unit_test(test_built_module),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
