/* SPDX-License-Identifier: Apache-2.0 */
/* core/config.c: defaults, every error class with file, line and key,
 * drop-in order and merging, the round trip through config_print, and the
 * shipped etc/crio.conf. Every test works in its own mkdtemp directory. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "../../../core/config.h"
#include "../test-common.h"

/* ---- fixtures ------------------------------------------------------------- */

static int setup_dir(void **state)
{
        const char *tmp = getenv("TMPDIR");
        char *dir = xasprintf("%s/ocid-test-config-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");

        if (!mkdtemp(dir)) {
                free(dir);
                return -1;
        }
        *state = dir;
        return 0;
}

static int teardown_dir(void **state)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        char *dir = *state;
        int r = ocid_rm_rf(dir, &err);

        if (r < 0)
                print_error("rm -rf %s: %s\n", dir, ocid_error_message(&err));
        free(dir);
        return r < 0 ? -1 : 0;
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

/* Writes dir/rel (creating its parent directory). Returns the full path. */
static char *write_file(const char *dir, const char *rel, const char *content)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        char *path = xasprintf("%s/%s", dir, rel);
        _cleanup_free_ char *parent = xstrdup(path);
        _cleanup_fclose_ FILE *f = NULL;

        *strrchr(parent, '/') = '\0';
        assert_int_equal(ocid_mkdir_p(parent, 0755, &err), 0);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(content, f) >= 0, 1);
        assert_int_equal(fflush(f), 0);
        return path;
}

static struct ocid_config *load_ok(const char *path)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        struct ocid_config *c = NULL;
        int r = config_load(path, &c, &err);

        if (r < 0)
                print_error("config_load('%s'): %s\n", path, ocid_error_message(&err));
        assert_int_equal(r, 0);
        assert_null(err);
        assert_non_null(c);
        return c;
}

static bool starts_with(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Loads dir/crio.conf (after writing content to it, unless content is
 * NULL) and expects failure with code, and a message that starts with
 * "<dir>/<file>:<line>: <key>: " and contains what. */
static void expect_failure_in(const char *dir, const char *content, int code, const char *file,
                              unsigned line, const char *key, const char *what)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_config_ struct ocid_config *c = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *prefix = NULL;
        const char *msg;
        int r;

        if (content)
                path = write_file(dir, "crio.conf", content);
        else
                path = xasprintf("%s/crio.conf", dir);
        if (key)
                prefix = xasprintf("%s/%s:%u: %s: ", dir, file, line, key);
        else
                prefix = xasprintf("%s/%s:%u: ", dir, file, line);

        r = config_load(path, &c, &err);
        msg = ocid_error_message(&err);
        if (r != -code || !starts_with(msg, prefix) || !strstr(msg, what))
                print_error("config:\n%s\nexpected %d '%s...%s'\ngot %d '%s'\n",
                            content ? content : "(drop-ins)", -code, prefix, what, r, msg);
        assert_int_equal(r, -code);
        assert_null(c);
        assert_int_equal(ocid_error_code(&err), code);
        assert_true(starts_with(msg, prefix));
        assert_non_null(strstr(msg, what));
}

static void expect_invalid(const char *dir, const char *content, unsigned line, const char *key,
                           const char *what)
{
        expect_failure_in(dir, content, EINVAL, "crio.conf", line, key, what);
}

static void assert_strv(char *const *v, const char *const *expected)
{
        size_t n = 0;

        assert_non_null(v);
        for (; expected[n]; n++) {
                assert_non_null(v[n]);
                assert_string_equal(v[n], expected[n]);
        }
        assert_null(v[n]);
}

static void assert_no_changes(const struct ocid_config *a, const struct ocid_config *b)
{
        _cleanup_strv_ char **changed = config_changed_keys(a, b);

        assert_non_null(changed);
        if (changed[0])
                print_error("first changed key: %s\n", changed[0]);
        assert_null(changed[0]);
}

/* ---- defaults ------------------------------------------------------------- */

static void test_defaults(void **state)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_config_ struct ocid_config *c = config_new_default();
        const struct config_runtime *rt;

        assert_string_equal(c->root, "/var/lib/ocid");
        assert_string_equal(c->runroot, "/run/ocid");
        assert_string_equal(c->listen, "/run/ocid/ocid.sock");
        assert_string_equal(c->log_level, "info");
        assert_string_equal(c->modules_dir, OCID_MODULEDIR);
        assert_string_equal(c->conmon, "/usr/bin/conmon");
        assert_string_equal(c->cgroup_manager, "cgroupfs");
        assert_string_equal(c->storage, "storage-overlay");
        assert_string_equal(c->network, "net-cni");
        assert_strv(c->security, (const char *const[]) { "sec-seccomp", "sec-apparmor", "sec-selinux", NULL });
        assert_string_equal(c->default_runtime, "runc");
        assert_null(c->default_runtime_origin);
        assert_int_equal(c->n_runtimes, 2);
        rt = config_find_runtime(c, "runc");
        assert_non_null(rt);
        assert_string_equal(rt->module, "oci-runc");
        assert_string_equal(rt->path, "/usr/sbin/runc");
        assert_string_equal(rt->root, "/run/runc");
        assert_null(rt->origin);
        rt = config_find_runtime(c, "crun");
        assert_non_null(rt);
        assert_string_equal(rt->module, "oci-crun");
        assert_string_equal(rt->path, "/usr/bin/crun");
        assert_string_equal(rt->root, "/run/crun");
        assert_null(config_find_runtime(c, "kata"));
        assert_strv(c->image.unqualified_search_registries, (const char *const[]) { "docker.io", NULL });
        assert_strv(c->image.insecure_registries, (const char *const[]) { NULL });
        assert_int_equal(c->image.n_mirrors, 0);
        assert_string_equal(c->image.pause_image, "");
        assert_string_equal(c->image.infra, "when-needed");
        assert_int_equal(c->image.pull_progress_timeout, 60);
        assert_string_equal(c->stream.address, "127.0.0.1");
        assert_int_equal(c->stream.port, 0);
        assert_int_equal(c->max_message_size, 16777216);
        assert_int_equal(c->n_module_groups, 0);
        assert_null(config_module_setting(c, "net-cni"));
        assert_int_equal(c->n_files, 0);
        assert_int_equal(config_validate(c, &err), 0);
        assert_null(err);
        assert_no_changes(c, c);
}

static void test_module_name_syntax(void **state)
{
        assert_true(config_module_name_is_valid("storage-overlay"));
        assert_true(config_module_name_is_valid("0abc"));
        assert_true(config_module_name_is_valid("a"));
        assert_false(config_module_name_is_valid(""));
        assert_false(config_module_name_is_valid(NULL));
        assert_false(config_module_name_is_valid("-x"));
        assert_false(config_module_name_is_valid("Net-cni"));
        assert_false(config_module_name_is_valid("net_cni"));
        assert_false(config_module_name_is_valid("net.cni"));
        assert_false(config_module_name_is_valid("../x"));
}

/* An explicit empty file is the defaults, with the file recorded. */
static void test_empty_file(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *path = write_file(dir, "crio.conf", "# nothing\n");
        _cleanup_config_ struct ocid_config *c = load_ok(path);
        _cleanup_config_ struct ocid_config *d = config_new_default();

        assert_no_changes(c, d);
        assert_int_equal(c->n_files, 1);
        assert_string_equal(c->file_names[0], path);
        assert_non_null(c->files[0]);
}

static void test_listen_follows_runroot(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *path = write_file(dir, "crio.conf", "runroot = \"/tmp/rr\";\n");
        _cleanup_config_ struct ocid_config *c = load_ok(path);
        _cleanup_config_ struct ocid_config *c2 = NULL;
        _cleanup_free_ char *p2 = NULL;

        assert_string_equal(c->runroot, "/tmp/rr");
        assert_string_equal(c->listen, "/tmp/rr/ocid.sock");

        /* An explicit listen stays, even when a later file moves runroot. */
        p2 = write_file(dir, "crio.conf", "listen = \"/srv/ocid.sock\";\n");
        free(write_file(dir, "crio.conf.d/a.conf", "runroot = \"/tmp/other\";\n"));
        c2 = load_ok(p2);
        assert_string_equal(c2->runroot, "/tmp/other");
        assert_string_equal(c2->listen, "/srv/ocid.sock");
}

/* Every key set to a non-default value in one file. */
static void test_all_keys(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *path = write_file(dir, "crio.conf",
                "root = \"/srv/ocid\";\n"
                "runroot = \"/run/o2\";\n"
                "listen = \"/run/o2/x.sock\";\n"
                "log_level = \"trace\";\n"
                "modules_dir = \"/opt/m1:/opt/m2\";\n"
                "conmon = \"/opt/conmon\";\n"
                "cgroup_manager = \"systemd\";\n"
                "storage = \"storage-vfs\";\n"
                "network = \"net-none\";\n"
                "security = [ \"sec-seccomp\" ];\n"
                "default_runtime = \"crun\";\n"
                "runtimes = { kata = { module = \"oci-kata\"; path = \"/opt/kata\"; root = \"/run/k\"; }; };\n"
                "image = {\n"
                "  unqualified_search_registries = [ \"quay.io\", \"docker.io\" ];\n"
                "  insecure_registries = [ \"127.0.0.1:5000\" ];\n"
                "  mirrors = ( { registry = \"docker.io\"; locations = [ \"m1:5000\", \"m2\" ]; },\n"
                "              { registry = \"quay.io\"; } );\n"
                "  pause_image = \"registry.k8s.io/pause:3.9\";\n"
                "  infra = \"always\";\n"
                "  pull_progress_timeout = 0;\n"
                "};\n"
                "stream = { address = \"0.0.0.0\"; port = 10010; };\n"
                "max_message_size = 1048576;\n"
                "modules = { net-none = { }; };\n");
        _cleanup_config_ struct ocid_config *c = load_ok(path);
        _cleanup_free_ char *origin = xasprintf("%s:11", path);

        assert_string_equal(c->root, "/srv/ocid");
        assert_string_equal(c->runroot, "/run/o2");
        assert_string_equal(c->listen, "/run/o2/x.sock");
        assert_string_equal(c->log_level, "trace");
        assert_string_equal(c->modules_dir, "/opt/m1:/opt/m2");
        assert_string_equal(c->conmon, "/opt/conmon");
        assert_string_equal(c->cgroup_manager, "systemd");
        assert_string_equal(c->storage, "storage-vfs");
        assert_string_equal(c->network, "net-none");
        assert_strv(c->security, (const char *const[]) { "sec-seccomp", NULL });
        assert_string_equal(c->default_runtime, "crun");
        assert_string_equal(c->default_runtime_origin, origin);
        assert_int_equal(c->n_runtimes, 3);
        assert_string_equal(config_find_runtime(c, "kata")->root, "/run/k");
        assert_strv(c->image.unqualified_search_registries, (const char *const[]) { "quay.io", "docker.io", NULL });
        assert_strv(c->image.insecure_registries, (const char *const[]) { "127.0.0.1:5000", NULL });
        assert_int_equal(c->image.n_mirrors, 2);
        assert_string_equal(c->image.mirrors[0].registry, "docker.io");
        assert_strv(c->image.mirrors[0].locations, (const char *const[]) { "m1:5000", "m2", NULL });
        assert_string_equal(c->image.mirrors[1].registry, "quay.io");
        assert_strv(c->image.mirrors[1].locations, (const char *const[]) { NULL });
        assert_string_equal(c->image.pause_image, "registry.k8s.io/pause:3.9");
        assert_string_equal(c->image.infra, "always");
        assert_int_equal(c->image.pull_progress_timeout, 0);
        assert_string_equal(c->stream.address, "0.0.0.0");
        assert_int_equal(c->stream.port, 10010);
        assert_int_equal(c->max_message_size, 1048576);
        assert_int_equal(c->n_module_groups, 1);
        assert_non_null(config_module_setting(c, "net-none"));
}

/* ---- error classes -------------------------------------------------------- */

static void test_unknown_key(void **state)
{
        const char *dir = *state;

        expect_invalid(dir, "root = \"/a\";\nbogus = 1;\n", 2, "bogus", "unknown");
        expect_invalid(dir, "image = {\n  infra = \"always\";\n  pause = \"x\";\n};\n", 3, "image.pause", "unknown");
        expect_invalid(dir, "stream = {\n  host = \"x\";\n};\n", 2, "stream.host", "unknown");
        expect_invalid(dir, "runtimes = {\n  runc = {\n    module = \"oci-runc\";\n    path = \"/r\";\n"
                       "    options = 1;\n  };\n};\n", 5, "runtimes.runc.options", "unknown");
        /* The keys of a module's own group are the module's business. */
        {
                _cleanup_free_ char *p = write_file(dir, "crio.conf",
                                                    "modules = { net-cni = { anything = 1; }; };\n");
                _cleanup_config_ struct ocid_config *c = load_ok(p);

                assert_non_null(config_module_setting(c, "net-cni"));
        }
}

static void test_wrong_type(void **state)
{
        const char *dir = *state;

        expect_invalid(dir, "root = 5;\n", 1, "root", "");
        expect_invalid(dir, "\nlog_level = true;\n", 2, "log_level", "");
        expect_invalid(dir, "security = \"sec-seccomp\";\n", 1, "security", "");
        expect_invalid(dir, "security = [ 1, 2 ];\n", 1, "security[0]", "expected a string");
        expect_invalid(dir, "image = 3;\n", 1, "image", "expected a group");
        expect_invalid(dir, "stream = {\n  port = \"80\";\n};\n", 2, "stream.port", "");
        expect_invalid(dir, "max_message_size = 1.5;\n", 1, "max_message_size", "");
        expect_invalid(dir, "runtimes = [ \"runc\" ];\n", 1, "runtimes", "expected a group");
        expect_invalid(dir, "runtimes = {\n  runc = \"x\";\n};\n", 2, "runtimes.runc", "expected a group");
        expect_invalid(dir, "modules = {\n  net-cni = 1;\n};\n", 2, "modules.net-cni", "expected a group");
        expect_invalid(dir, "modules = 1;\n", 1, "modules", "expected a group");
        expect_invalid(dir, "image = {\n  mirrors = \"x\";\n};\n", 2, "image.mirrors", "expected a list");
        expect_invalid(dir, "image = {\n  pull_progress_timeout = \"60\";\n};\n", 2,
                       "image.pull_progress_timeout", "");
}

static void test_bad_enum(void **state)
{
        const char *dir = *state;

        expect_invalid(dir, "log_level = \"loud\";\n", 1, "log_level",
                       "'loud' is not one of: error, warning, info, debug, trace");
        expect_invalid(dir, "cgroup_manager = \"cgroupv2\";\n", 1, "cgroup_manager",
                       "'cgroupv2' is not one of: cgroupfs, systemd");
        expect_invalid(dir, "image = {\n  infra = \"never\";\n};\n", 2, "image.infra",
                       "'never' is not one of: when-needed, always");
}

static void test_out_of_range(void **state)
{
        const char *dir = *state;

        expect_invalid(dir, "stream = {\n  port = 65536;\n};\n", 2, "stream.port", "65536 is out of range (0..65535)");
        expect_invalid(dir, "stream = { port = -1; };\n", 1, "stream.port", "out of range");
        expect_invalid(dir, "max_message_size = 1048575;\n", 1, "max_message_size",
                       "1048575 is out of range (1048576..1073741824)");
        expect_invalid(dir, "max_message_size = 1073741825;\n", 1, "max_message_size", "out of range");
        expect_invalid(dir, "image = { pull_progress_timeout = -1; };\n", 1, "image.pull_progress_timeout",
                       "out of range");

        /* The bounds themselves are fine. */
        {
                _cleanup_free_ char *p = write_file(dir, "crio.conf",
                        "stream = { port = 65535; };\nmax_message_size = 1073741824;\n"
                        "image = { pull_progress_timeout = 5000000000L; };\n");
                _cleanup_config_ struct ocid_config *c = load_ok(p);

                assert_int_equal(c->stream.port, 65535);
                assert_int_equal(c->max_message_size, 1073741824);
                assert_int_equal(c->image.pull_progress_timeout, 5000000000LL);
        }
}

static void test_relative_path(void **state)
{
        const char *dir = *state;

        expect_invalid(dir, "root = \"var/lib/ocid\";\n", 1, "root", "'var/lib/ocid' is not an absolute path");
        expect_invalid(dir, "runroot = \"\";\n", 1, "runroot", "is not an absolute path");
        expect_invalid(dir, "listen = \"ocid.sock\";\n", 1, "listen", "not an absolute path");
        expect_invalid(dir, "conmon = \"conmon\";\n", 1, "conmon", "not an absolute path");
        expect_invalid(dir, "modules_dir = \"/a:b\";\n", 1, "modules_dir", "entry 'b' is not an absolute path");
        expect_invalid(dir, "modules_dir = \"/a::/b\";\n", 1, "modules_dir", "empty entry");
        expect_invalid(dir, "modules_dir = \"\";\n", 1, "modules_dir", "empty entry");
        expect_invalid(dir, "runtimes = {\n  x = {\n    module = \"oci-x\";\n    path = \"bin/x\";\n  };\n};\n",
                       4, "runtimes.x.path", "'bin/x' is not an absolute path");
        expect_invalid(dir, "runtimes = {\n  x = {\n    module = \"oci-x\";\n    path = \"/bin/x\";\n"
                       "    root = \"run/x\";\n  };\n};\n", 5, "runtimes.x.root", "not an absolute path");
}

static void test_syntax_error(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *p = NULL;

        expect_failure_in(dir, "root = \"/a\";\nrunroot = ;\n", EINVAL, "crio.conf", 2, NULL, "syntax error");
        expect_failure_in(dir, "root = \"/a\";\nroot = \"/b\";\n", EINVAL, "crio.conf", 2, NULL, "duplicate");

        /* In a drop-in, the drop-in is named. */
        p = write_file(dir, "crio.conf.d/50-x.conf", "# a comment\n\nstream = { port = = 1; };\n");
        expect_failure_in(dir, "root = \"/a\";\n", EINVAL, "crio.conf.d/50-x.conf", 3, NULL, "syntax error");
        /* And so is a bad value there. */
        free(write_file(dir, "crio.conf.d/50-x.conf", "\n\nlog_level = \"x\";\n"));
        expect_failure_in(dir, "root = \"/a\";\n", EINVAL, "crio.conf.d/50-x.conf", 3, "log_level", "'x'");
}

static void test_bad_names(void **state)
{
        const char *dir = *state;

        expect_invalid(dir, "storage = \"Storage_Overlay\";\n", 1, "storage", "not a valid module name");
        expect_invalid(dir, "network = \"\";\n", 1, "network", "not a valid module name");
        expect_invalid(dir, "network = \"../net\";\n", 1, "network", "not a valid module name");
        expect_invalid(dir, "security = [ \"sec-seccomp\",\n  \"sec-x\", \"sec-seccomp\" ];\n", 2, "security[2]",
                       "'sec-seccomp' is listed twice");
        expect_invalid(dir, "security = [ \"sec-seccomp\", \"Sec\" ];\n", 1, "security[1]",
                       "'Sec' is not a valid module name");
        expect_invalid(dir, "default_runtime = \"\";\n", 1, "default_runtime", "must not be empty");
        expect_invalid(dir, "runtimes = {\n  Runc_2 = { module = \"oci-runc\"; path = \"/r\"; };\n};\n", 2,
                       "runtimes.Runc_2", "not a valid runtime handler name");
        expect_invalid(dir, "runtimes = {\n  x = { path = \"/r\"; };\n};\n", 2, "runtimes.x",
                       "missing required key 'module'");
        expect_invalid(dir, "runtimes = {\n  x = { module = \"oci-x\"; };\n};\n", 2, "runtimes.x",
                       "missing required key 'path'");
        expect_invalid(dir, "runtimes = {\n  x = {\n    module = \"OCI\";\n    path = \"/r\";\n  };\n};\n", 3,
                       "runtimes.x.module", "not a valid module name");
        expect_invalid(dir, "modules = {\n  Net_CNI = { };\n};\n", 2, "modules.Net_CNI", "not a valid module name");
        expect_invalid(dir, "image = {\n  unqualified_search_registries = [ \"\" ];\n};\n", 2,
                       "image.unqualified_search_registries[0]", "must not be empty");
        expect_invalid(dir, "image = {\n  insecure_registries = [ \"a\", \"a\" ];\n};\n", 2,
                       "image.insecure_registries[1]", "listed twice");
        expect_invalid(dir, "stream = { address = \"\"; };\n", 1, "stream.address", "must not be empty");
}

static void test_bad_mirrors(void **state)
{
        const char *dir = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_config_ struct ocid_config *c = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *prefix = NULL;
        const char *msg;

        /* A mirror without registry: the error is at the mirror's group. */
        path = write_file(dir, "crio.conf",
                          "image = {\n  mirrors = (\n    { registry = \"a\"; },\n    { locations = [ \"m\" ]; }\n  );\n};\n");
        prefix = xasprintf("%s:4: image.mirrors", path);
        assert_int_equal(config_load(path, &c, &err), -EINVAL);
        msg = ocid_error_message(&err);
        if (!starts_with(msg, prefix) || !strstr(msg, "missing required key 'registry'"))
                print_error("got '%s'\n", msg);
        assert_true(starts_with(msg, prefix));
        assert_non_null(strstr(msg, "missing required key 'registry'"));
        ocid_error_clear(&err);

        free(path);
        path = write_file(dir, "crio.conf", "image = {\n  mirrors = (\n    { registry = \"\"; }\n  );\n};\n");
        assert_int_equal(config_load(path, &c, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "must not be empty"));
        assert_true(starts_with(ocid_error_message(&err), prefix) || strstr(ocid_error_message(&err), ":3: "));
        ocid_error_clear(&err);

        free(path);
        path = write_file(dir, "crio.conf", "image = {\n  mirrors = (\n    { registry = \"a\"; },\n"
                          "    { registry = \"a\"; }\n  );\n};\n");
        assert_int_equal(config_load(path, &c, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "registry 'a' has two mirror entries"));
        assert_non_null(strstr(ocid_error_message(&err), ":4: "));
        ocid_error_clear(&err);

        free(path);
        path = write_file(dir, "crio.conf", "image = {\n  mirrors = (\n    { registry = \"a\"; extra = 1; }\n  );\n};\n");
        assert_int_equal(config_load(path, &c, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "unknown"));
        assert_non_null(strstr(ocid_error_message(&err), ":3: "));
        assert_non_null(strstr(ocid_error_message(&err), "extra"));
        ocid_error_clear(&err);

        free(path);
        path = write_file(dir, "crio.conf", "image = {\n  mirrors = ( 1 );\n};\n");
        assert_int_equal(config_load(path, &c, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "expected a group"));
        ocid_error_clear(&err);

        /* An empty array is an empty list. */
        free(path);
        path = write_file(dir, "crio.conf", "image = { mirrors = [ ]; };\n");
        c = load_ok(path);
        assert_int_equal(c->image.n_mirrors, 0);
}

/* ---- files and drop-ins --------------------------------------------------- */

static void test_dropin_order(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *main_path = NULL, *a = NULL, *b = NULL, *ten = NULL, *nine = NULL;
        _cleanup_config_ struct ocid_config *c = NULL;

        /* Written in the reverse of the order they apply, so that the
         * directory's own order is not what the test sees. */
        nine = write_file(dir, "crio.conf.d/9-last.conf", "image = { infra = \"always\"; };\n");
        ten = write_file(dir, "crio.conf.d/10-first.conf", "image = { infra = \"when-needed\"; };\n");
        b = write_file(dir, "crio.conf.d/b.conf", "log_level = \"error\";\nsecurity = [ \"sec-x\" ];\n");
        a = write_file(dir, "crio.conf.d/a.conf",
                       "log_level = \"trace\";\nrunroot = \"/run/ra\";\nstream = { port = 7; };\n");
        /* Not drop-ins: wrong suffix, hidden, a directory, a dangling link. */
        free(write_file(dir, "crio.conf.d/c.conf.bak", "root = \"/bad\";\n"));
        free(write_file(dir, "crio.conf.d/notes.txt", "this is not libconfig\n"));
        free(write_file(dir, "crio.conf.d/.hidden.conf", "root = \"/bad\";\n"));
        free(write_file(dir, "crio.conf.d/d.conf/e.conf", "root = \"/bad\";\n"));
        {
                _cleanup_free_ char *link = xasprintf("%s/crio.conf.d/dangling.conf", dir);
                assert_int_equal(symlink("/nonexistent/ocid-test", link), 0);
        }
        main_path = write_file(dir, "crio.conf",
                               "root = \"/a\";\nlog_level = \"debug\";\nsecurity = [ \"sec-a\", \"sec-b\" ];\n"
                               "image = { pause_image = \"p:1\"; };\n"
                               "stream = { address = \"::1\"; };\n");
        c = load_ok(main_path);

        assert_int_equal(c->n_files, 5);
        assert_string_equal(c->file_names[0], main_path);
        assert_string_equal(c->file_names[1], ten);    /* "10-" < "9-" < "a" in strcmp order */
        assert_string_equal(c->file_names[2], nine);
        assert_string_equal(c->file_names[3], a);
        assert_string_equal(c->file_names[4], b);
        assert_string_equal(c->root, "/a");
        assert_string_equal(c->log_level, "error");
        assert_string_equal(c->runroot, "/run/ra");
        assert_string_equal(c->listen, "/run/ra/ocid.sock");
        /* Arrays replace. */
        assert_strv(c->security, (const char *const[]) { "sec-x", NULL });
        /* image and stream merge member by member. */
        assert_string_equal(c->image.pause_image, "p:1");
        assert_string_equal(c->image.infra, "always");
        assert_string_equal(c->stream.address, "::1");
        assert_int_equal(c->stream.port, 7);
}

static void test_runtimes_merge(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *main_path = NULL, *dropin = NULL, *origin = NULL, *kata_origin = NULL;
        _cleanup_config_ struct ocid_config *c = NULL;
        const struct config_runtime *rt;

        main_path = write_file(dir, "crio.conf",
                               "runtimes = {\n"
                               "  runc = { module = \"oci-runc\"; path = \"/opt/runc\"; root = \"/r1\"; };\n"
                               "  kata = { module = \"oci-kata\"; path = \"/opt/kata\"; };\n"
                               "};\n");
        dropin = write_file(dir, "crio.conf.d/a.conf",
                            "default_runtime = \"kata\";\n"
                            "runtimes = {\n"
                            "  runc = { module = \"oci-runc2\"; path = \"/usr/local/sbin/runc\"; };\n"
                            "};\n");
        c = load_ok(main_path);
        origin = xasprintf("%s:3", dropin);
        kata_origin = xasprintf("%s:3", main_path);

        assert_int_equal(c->n_runtimes, 3);
        /* Replaced as a unit: root is not the earlier file's "/r1". */
        rt = config_find_runtime(c, "runc");
        assert_non_null(rt);
        assert_string_equal(rt->module, "oci-runc2");
        assert_string_equal(rt->path, "/usr/local/sbin/runc");
        assert_string_equal(rt->root, "/run/runc");
        assert_string_equal(rt->origin, origin);
        /* A default handler no file names stays. */
        rt = config_find_runtime(c, "crun");
        assert_non_null(rt);
        assert_string_equal(rt->path, "/usr/bin/crun");
        assert_null(rt->origin);
        /* A new handler is added, with root defaulting to /run/<name>. */
        rt = config_find_runtime(c, "kata");
        assert_non_null(rt);
        assert_string_equal(rt->module, "oci-kata");
        assert_string_equal(rt->root, "/run/kata");
        assert_string_equal(rt->origin, kata_origin);
        assert_string_equal(c->default_runtime, "kata");
}

static void test_modules_group_replaced_whole(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *main_path = NULL, *dropin = NULL;
        _cleanup_config_ struct ocid_config *c = NULL;
        const config_setting_t *s;
        const char *str = NULL;
        int i = 0;

        main_path = write_file(dir, "crio.conf",
                               "modules = {\n"
                               "  net-cni = { conf_dir = \"/a\"; bin_dir = \"/b\"; };\n"
                               "  storage-overlay = { size = 5; };\n"
                               "};\n");
        dropin = write_file(dir, "crio.conf.d/50-net.conf",
                            "# the operator's own file\n"
                            "modules = {\n"
                            "  net-cni = {\n"
                            "    conf_dir = \"/c\";\n"
                            "  };\n"
                            "};\n");
        c = load_ok(main_path);

        assert_int_equal(c->n_module_groups, 2);
        s = config_module_setting(c, "net-cni");
        assert_non_null(s);
        assert_true(config_setting_lookup_string(s, "conf_dir", &str));
        assert_string_equal(str, "/c");
        /* Not merged: the earlier bin_dir is gone. */
        assert_null(config_setting_get_member(s, "bin_dir"));
        /* The module sees the operator's file and line. */
        assert_string_equal(config_setting_source_file(s), dropin);
        assert_int_equal(config_setting_source_line(s), 3);
        assert_string_equal(config_setting_source_file(config_setting_get_member(s, "conf_dir")), dropin);
        assert_int_equal(config_setting_source_line(config_setting_get_member(s, "conf_dir")), 4);

        s = config_module_setting(c, "storage-overlay");
        assert_non_null(s);
        assert_true(config_setting_lookup_int(s, "size", &i));
        assert_int_equal(i, 5);
        assert_string_equal(config_setting_source_file(s), main_path);
        assert_null(config_module_setting(c, "sec-seccomp"));
}

static void test_missing_files(void **state)
{
        const char *dir = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_config_ struct ocid_config *c = NULL;
        _cleanup_config_ struct ocid_config *d = config_new_default();
        _cleanup_free_ char *path = xasprintf("%s/crio.conf", dir);
        _cleanup_free_ char *dropin = NULL;

        /* An explicit file must exist. */
        assert_int_equal(config_load(path, &c, &err), -ENOENT);
        assert_null(c);
        assert_int_equal(ocid_error_code(&err), ENOENT);
        assert_non_null(strstr(ocid_error_message(&err), path));
        ocid_error_clear(&err);

        /* The default file may be missing: pure defaults. */
        assert_int_equal(config_load_flags(path, CONFIG_LOAD_MISSING_OK, &c, &err), 0);
        assert_null(err);
        assert_no_changes(c, d);
        assert_int_equal(c->n_files, 0);
        c = config_free(c);

        /* Its drop-ins still apply. */
        dropin = write_file(dir, "crio.conf.d/a.conf", "log_level = \"debug\";\n");
        assert_int_equal(config_load_flags(path, CONFIG_LOAD_MISSING_OK, &c, &err), 0);
        assert_string_equal(c->log_level, "debug");
        assert_int_equal(c->n_files, 1);
        assert_string_equal(c->file_names[0], dropin);
        c = config_free(c);

        /* A directory is not a configuration file. */
        assert_int_equal(config_load(dir, &c, &err), -EISDIR);
        assert_null(c);
        ocid_error_clear(&err);

        /* Only a missing file is tolerated, not a broken one. */
        free(write_file(dir, "crio.conf", "root = ;\n"));
        assert_int_equal(config_load_flags(path, CONFIG_LOAD_MISSING_OK, &c, &err), -EINVAL);
        assert_null(c);
}

static void test_include_relative_to_file(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *path = NULL, *inc = NULL;
        _cleanup_config_ struct ocid_config *c = NULL;
        _cleanup_free_ char *cwd = getcwd(NULL, 0);

        inc = write_file(dir, "part.inc", "\nlog_level = \"bogus\";\n");
        path = write_file(dir, "crio.conf", "@include \"part.inc\"\n");
        /* Relative to the file, not the working directory. */
        assert_int_equal(chdir("/"), 0);
        {
                _cleanup_error_ struct ocid_error *err = NULL;

                /* libconfig names an included file as the @include wrote it. */
                assert_int_equal(config_load(path, &c, &err), -EINVAL);
                assert_true(starts_with(ocid_error_message(&err), "part.inc:2: log_level: 'bogus'"));
        }
        free(write_file(dir, "part.inc", "log_level = \"warning\";\n"));
        c = load_ok(path);
        assert_int_equal(chdir(cwd), 0);
        assert_string_equal(c->log_level, "warning");
}

/* ---- cross checks --------------------------------------------------------- */

static void test_validate_cross_checks(void **state)
{
        const char *dir = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_config_ struct ocid_config *c = config_new_default();
        _cleanup_free_ char *dropin = NULL, *prefix = NULL;
        struct config_runtime *rt;

        /* default_runtime names the file that set it. */
        free(write_file(dir, "crio.conf", "root = \"/a\";\n"));
        dropin = write_file(dir, "crio.conf.d/x.conf", "\ndefault_runtime = \"kata\";\n");
        prefix = xasprintf("%s:2: default_runtime: ", dropin);
        expect_failure_in(dir, NULL, EINVAL, "crio.conf.d/x.conf", 2, "default_runtime",
                          "no runtime handler 'kata' is defined (defined: runc, crun)");
        (void) unlink(dropin);

        /* A configuration built by code: no file to name. */
        free(c->default_runtime);
        c->default_runtime = xstrdup("kata");
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_true(starts_with(ocid_error_message(&err), "default_runtime: no runtime handler 'kata'"));
        ocid_error_clear(&err);
        free(c->default_runtime);
        c->default_runtime = xstrdup("runc");

        rt = (struct config_runtime *) config_find_runtime(c, "crun");
        free(rt->module);
        rt->module = xstrdup("Oci_Crun");
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_true(starts_with(ocid_error_message(&err), "runtimes.crun.module: 'Oci_Crun' is not a valid module name"));
        ocid_error_clear(&err);
        rt->origin = xstrdup("/etc/ocid/crio.conf:7");
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_true(starts_with(ocid_error_message(&err), "/etc/ocid/crio.conf:7: runtimes.crun.module: "));
        ocid_error_clear(&err);
        free(rt->module);
        rt->module = xstrdup("oci-crun");

        free(rt->root);
        rt->root = xstrdup("run/crun");
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_true(starts_with(ocid_error_message(&err), "/etc/ocid/crio.conf:7: runtimes.crun.root: "));
        ocid_error_clear(&err);
        free(rt->root);
        rt->root = xstrdup("/run/crun");

        c->stream.port = 70000;
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_true(starts_with(ocid_error_message(&err), "stream.port: 70000 is out of range"));
        ocid_error_clear(&err);
        c->stream.port = 0;

        ocid_strv_push(&c->security, "sec-seccomp");
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_true(starts_with(ocid_error_message(&err), "security[3]: 'sec-seccomp' is listed twice"));
        ocid_error_clear(&err);

        /* With no handler at all, the default cannot be served. */
        {
                _cleanup_config_ struct ocid_config *e = config_new_default();

                for (size_t i = 0; i < e->n_runtimes; i++) {
                        free(e->runtimes[i].name);
                        free(e->runtimes[i].module);
                        free(e->runtimes[i].path);
                        free(e->runtimes[i].root);
                }
                e->n_runtimes = 0;
                assert_int_equal(config_validate(e, &err), -EINVAL);
                assert_non_null(strstr(ocid_error_message(&err), "(defined: none)"));
                ocid_error_clear(&err);
        }
}

/* ---- writing and comparing ------------------------------------------------ */

static char *data_path(const char *name)
{
        const char *src = getenv("OCID_TEST_SRCDIR");

        assert_non_null(src);
        return xasprintf("%s/core/config-data/%s", src, name);
}

static char *read_all(const char *path)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        char *s = NULL;

        assert_int_equal(ocid_read_file(path, 1 << 20, &s, NULL, &err), 0);
        return s;
}

/* Removes the lines that are comments (they name the files read). */
static void strip_comments(char *s)
{
        char *out = s;

        for (char *line = s; *line;) {
                char *end = strchrnul(line, '\n');
                const char *p = line;
                size_t len = (size_t) (end - line) + (*end ? 1 : 0);

                while (*p == ' ')
                        p++;
                if (*p != '#') {
                        memmove(out, line, len);
                        out += len;
                }
                line += len;
        }
        *out = '\0';
}

/* full.conf sets every key and has module groups with every libconfig type;
 * written out and read back, nothing differs. */
static void test_write_round_trip(void **state)
{
        const char *dir = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *src = data_path("full.conf");
        _cleanup_free_ char *text = read_all(src);
        _cleanup_free_ char *in = write_file(dir, "in/crio.conf", text);
        _cleanup_free_ char *out = xasprintf("%s/out/crio.conf", dir);
        _cleanup_free_ char *out_dir = xasprintf("%s/out", dir);
        _cleanup_free_ char *written = NULL, *rewritten = NULL;
        _cleanup_config_ struct ocid_config *a = NULL, *b = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        const config_setting_t *s;
        const char *str = NULL;
        long long i64 = 0;
        double d = 0;

        /* A drop-in, so that the merged result is what is written. */
        free(write_file(dir, "in/crio.conf.d/z.conf",
                        "modules = { sec-seccomp = { profile = \"/etc/ocid/seccomp.json\"; }; };\n"
                        "runtimes = { runc = { module = \"oci-runc\"; path = \"/opt/runc\"; }; };\n"));
        a = load_ok(in);
        assert_int_equal(mkdir(out_dir, 0755), 0);
        f = fopen(out, "we");
        assert_non_null(f);
        assert_int_equal(config_print(a, f, &err), 0);
        assert_null(err);
        assert_int_equal(fclose(TAKE_PTR(f)), 0);

        b = load_ok(out);
        assert_no_changes(a, b);
        assert_no_changes(b, a);
        assert_int_equal(b->n_files, 1);
        assert_int_equal(b->n_module_groups, a->n_module_groups);
        assert_string_equal(config_find_runtime(b, "runc")->path, "/opt/runc");

        /* The escapes survive. */
        s = config_module_setting(b, "net-cni");
        assert_non_null(s);
        assert_true(config_setting_lookup_string(s, "tricky", &str));
        assert_string_equal(str, "quote \" backslash \\ tab \t newline \n bell \x07 end");
        assert_true(config_setting_lookup_int64(s, "big", &i64));
        assert_int_equal(i64, 5000000000LL);
        assert_int_equal(config_setting_type(config_setting_get_member(s, "big")), CONFIG_TYPE_INT64);
        assert_int_equal(config_setting_type(config_setting_get_member(s, "one_float")), CONFIG_TYPE_FLOAT);
        assert_true(config_setting_lookup_float(s, "ratio", &d));
        assert_true(d == 0.1);

        /* Writing the read-back configuration gives the same text, but for
         * the header that names the files read. */
        written = read_all(out);
        {
                char *buf = NULL;
                size_t len = 0;
                FILE *m = open_memstream(&buf, &len);

                assert_non_null(m);
                assert_int_equal(config_print(b, m, &err), 0);
                assert_int_equal(fclose(m), 0);
                rewritten = buf;
        }
        strip_comments(written);
        strip_comments(rewritten);
        assert_string_equal(written, rewritten);
        assert_non_null(strstr(written, "\nroot = \"/srv/ocid/root\";\n"));
        assert_non_null(strstr(written, "  ratio = 0.1;\n"));
}

/* config_print of the defaults is itself a configuration equal to them. */
static void test_write_defaults(void **state)
{
        const char *dir = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_config_ struct ocid_config *d = config_new_default();
        _cleanup_config_ struct ocid_config *c = NULL;
        _cleanup_free_ char *path = xasprintf("%s/crio.conf", dir);
        _cleanup_fclose_ FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(config_print(d, f, &err), 0);
        assert_int_equal(fclose(TAKE_PTR(f)), 0);
        c = load_ok(path);
        assert_no_changes(c, d);
}

static void test_write_error(void **state)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_config_ struct ocid_config *d = config_new_default();
        _cleanup_fclose_ FILE *f = fopen("/dev/full", "we");

        if (!f) {
                skip();
                return;
        }
        assert_int_equal(config_print(d, f, &err), -ENOSPC);
        assert_int_equal(ocid_error_code(&err), ENOSPC);
}

static void test_changed_keys(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *pa = write_file(dir, "a/crio.conf",
                "log_level = \"info\";\n"
                "modules = { net-cni = { x = 1; }; keep = { y = [ 1, 2 ]; }; gone = { }; };\n");
        _cleanup_free_ char *pb = write_file(dir, "b/crio.conf",
                "\n\nlog_level = \"debug\";\n"
                "image = { infra = \"always\"; mirrors = ( { registry = \"r\"; } ); };\n"
                "stream = { port = 1; };\n"
                "runtimes = { kata = { module = \"oci-kata\"; path = \"/k\"; };\n"
                "             crun = { module = \"oci-crun\"; path = \"/usr/bin/crun\"; }; };\n"
                "modules = { net-cni = { x = 2; };\n  keep = { y = [ 1, 2 ]; }; new = { }; };\n");
        _cleanup_config_ struct ocid_config *a = load_ok(pa);
        _cleanup_config_ struct ocid_config *b = load_ok(pb);
        _cleanup_strv_ char **changed = config_changed_keys(a, b);

        /* crun is the same handler (same module, path and root) from
         * another line, so it did not change; keep is the same group. */
        assert_strv(changed, (const char *const[]) {
                "log_level", "runtimes.kata", "image.mirrors", "image.infra", "stream.port",
                "modules.net-cni", "modules.gone", "modules.new", NULL });
}

static void test_etc_crio_conf_is_defaults(void **state)
{
        const char *src = getenv("OCID_TEST_SRCDIR");
        _cleanup_free_ char *path = NULL;
        _cleanup_config_ struct ocid_config *c = NULL;
        _cleanup_config_ struct ocid_config *d = config_new_default();

        assert_non_null(src);
        path = xasprintf("%s/../../etc/crio.conf", src);
        c = load_ok(path);
        assert_int_equal(c->n_files, 1);
        assert_no_changes(c, d);
        /* Its runtime handlers are the built-in ones, now with a file line. */
        assert_non_null(config_find_runtime(c, "runc")->origin);
}

/* Loading twice gives two independent, equal configurations (SIGHUP). */
static void test_reload_is_pure(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *path = write_file(dir, "crio.conf",
                                               "log_level = \"debug\";\nmodules = { m = { a = \"b\"; }; };\n");
        _cleanup_config_ struct ocid_config *a = load_ok(path);
        _cleanup_config_ struct ocid_config *b = NULL;
        const config_setting_t *s;
        const char *str = NULL;

        free(write_file(dir, "crio.conf", "log_level = \"error\";\nmodules = { m = { a = \"c\"; }; };\n"));
        b = load_ok(path);
        assert_string_equal(a->log_level, "debug");
        assert_string_equal(b->log_level, "error");
        s = config_module_setting(a, "m");
        assert_true(config_setting_lookup_string(s, "a", &str));
        assert_string_equal(str, "b");
        b = config_free(b);
        b = load_ok(path);
        assert_string_equal(b->log_level, "error");
}

OCID_TEST_MAIN(
        TEST(test_defaults),
        TEST(test_module_name_syntax),
        TEST(test_empty_file),
        TEST(test_listen_follows_runroot),
        TEST(test_all_keys),
        TEST(test_unknown_key),
        TEST(test_wrong_type),
        TEST(test_bad_enum),
        TEST(test_out_of_range),
        TEST(test_relative_path),
        TEST(test_syntax_error),
        TEST(test_bad_names),
        TEST(test_bad_mirrors),
        TEST(test_dropin_order),
        TEST(test_runtimes_merge),
        TEST(test_modules_group_replaced_whole),
        TEST(test_missing_files),
        TEST(test_include_relative_to_file),
        TEST(test_validate_cross_checks),
        TEST(test_write_round_trip),
        TEST(test_write_defaults),
        TEST(test_write_error),
        TEST(test_changed_keys),
        TEST(test_etc_crio_conf_is_defaults),
        TEST(test_reload_is_pure),
)
