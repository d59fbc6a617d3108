/* SPDX-License-Identifier: Apache-2.0 */
/* net-cni, loaded from the build tree: its settings, NetworkReady, and the
 * pod operations against fake plugins (shell scripts that record their
 * environment and stdin and print canned answers) in temporary
 * directories. As root, the real plugins of /usr/lib/cni (bridge,
 * host-local, portmap, loopback) join network namespaces the test creates
 * inside a network and mount namespace of its own, so nothing reaches the
 * host's network. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <json-c/json.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test-common.h"
#include "module-test.h"

#include <ocid/exec.h>
#include <ocid/host.h>
#include <ocid/json.h>
#include <ocid/log.h>

#include "network.h"

struct fixture {
        char *dir;
        char *conf;     /* <dir>/net.d */
        char *bin;      /* <dir>/bin */
        char *bin2;     /* <dir>/bin2 */
        char *log;      /* <dir>/log: what the fake plugins record */
        char *results;  /* <dir>/root/net-cni/results */
        struct ocid_module *m;
};

static int setup(void **state)
{
        (void) test_env_dir("OCID_MODULE_DIR");
        return 0;
}

/* (Re)starts net-cni on the fixture's directories with `extra` settings. */
static void fixture_start(struct fixture *f, const char *extra)
{
        _cleanup_free_ char *text = NULL;

        module_fini(f->m);
        text = xasprintf("modules: { net-cni: { conf_dir = \"%s\"; bin_dirs = [ \"%s\", \"%s\" ]; %s }; };",
                         f->conf, f->bin, f->bin2, extra ? extra : "loopback = false;");
        f->m = test_module_start("net-cni", text);
}

static int fixture_setup(void **state)
{
        struct fixture *f = xzalloc(sizeof(*f));
        _cleanup_free_ char *root = NULL;

        f->dir = test_tmpdir_new();
        f->conf = ocid_path_join(f->dir, "net.d");
        f->bin = ocid_path_join(f->dir, "bin");
        f->bin2 = ocid_path_join(f->dir, "bin2");
        f->log = ocid_path_join(f->dir, "log");
        root = ocid_path_join(f->dir, "root");
        f->results = ocid_path_join(root, "net-cni/results");
        assert_int_equal(mkdir(f->conf, 0755), 0);
        assert_int_equal(mkdir(f->bin, 0755), 0);
        assert_int_equal(mkdir(f->bin2, 0755), 0);
        assert_int_equal(mkdir(f->log, 0755), 0);
        ocid_host_set_paths(root, f->dir);
        fixture_start(f, NULL);
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
        free(f->log);
        free(f->results);
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

/* A fake plugin `name` in f->bin: each call is numbered; it saves its stdin
 * to <log>/<n>.stdin and its CNI_* variables to <log>/<n>.env, appends
 * "<type> <command> <ifname>" to <log>/calls, then prints
 * <log>/<type>.<command>.out and .err, sleeps .sleep seconds and exits with
 * .exit (all optional). */
static void write_fake(struct fixture *f, const char *name)
{
        _cleanup_free_ char *p = ocid_path_join(f->bin, name);
        _cleanup_free_ char *text = xasprintf(
                "#!/bin/sh\n"
                "d='%s'\n"
                "t=${0##*/}\n"
                "n=$(( $(cat \"$d/seq\" 2>/dev/null || echo 0) + 1 ))\n"
                "echo $n > \"$d/seq\"\n"
                "cat > \"$d/$n.stdin\"\n"
                "env | grep '^CNI_' | sort > \"$d/$n.env\"\n"
                "printf '%%s %%s %%s\\n' \"$t\" \"$CNI_COMMAND\" \"$CNI_IFNAME\" >> \"$d/calls\"\n"
                "a=\"$d/$t.$CNI_COMMAND\"\n"
                "[ -f \"$a.out\" ] && cat \"$a.out\"\n"
                "[ -f \"$a.err\" ] && cat \"$a.err\" >&2\n"
                "[ -f \"$a.sleep\" ] && sleep \"$(cat \"$a.sleep\")\"\n"
                "[ -f \"$a.exit\" ] && exit \"$(cat \"$a.exit\")\"\n"
                "exit 0\n", f->log);

        test_write_file(f->bin, name, text);
        assert_int_equal(chmod(p, 0755), 0);
}

/* Sets the answer of fake plugin `type` to `command` (ext: out, err,
 * sleep, exit); NULL text removes it. */
static void answer(struct fixture *f, const char *type, const char *command, const char *ext, const char *text)
{
        _cleanup_free_ char *name = xasprintf("%s.%s.%s", type, command, ext);
        _cleanup_free_ char *path = ocid_path_join(f->log, name);

        if (text)
                test_write_file(f->log, name, text);
        else
                (void) unlink(path);
}

/* Forgets the calls recorded so far (answers stay). */
static void calls_reset(struct fixture *f)
{
        _cleanup_closedir_ DIR *d = opendir(f->log);
        struct dirent *de;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (streq(de->d_name, "calls") || streq(de->d_name, "seq") || ocid_endswith(de->d_name, ".stdin") ||
                    ocid_endswith(de->d_name, ".env"))
                        assert_int_equal(unlinkat(dirfd(d), de->d_name, 0), 0);
}

static char *log_read(struct fixture *f, const char *name)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *path = ocid_path_join(f->log, name);
        char *text = NULL;
        int r;

        r = ocid_read_file(path, 1 << 20, &text, NULL, &e);
        if (r == -ENOENT)
                return xstrdup("");
        assert_no_error(r, e);
        return text;
}

static void expect_calls(struct fixture *f, const char *expected)
{
        _cleanup_free_ char *calls = log_read(f, "calls");

        assert_string_equal(calls, expected);
}

/* The stdin of call n, parsed. */
static struct json_object *call_stdin(struct fixture *f, int n)
{
        _cleanup_free_ char *name = xasprintf("%d.stdin", n);
        _cleanup_free_ char *text = log_read(f, name);
        struct json_object *o = json_tokener_parse(text);

        if (!o) {
                print_error("call %d: stdin is not JSON: '%s'\n", n, text);
                fail();
        }
        return o;
}

/* The value of CNI variable `key` in call n (NULL when unset). */
static char *call_env(struct fixture *f, int n, const char *key)
{
        _cleanup_free_ char *name = xasprintf("%d.env", n);
        _cleanup_free_ char *text = log_read(f, name);
        _cleanup_free_ char *prefix = xasprintf("%s=", key);

        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
                if (ocid_startswith(line, prefix))
                        return xstrdup(line + strlen(prefix));
        return NULL;
}

static void expect_env(struct fixture *f, int n, const char *key, const char *value)
{
        _cleanup_free_ char *v = call_env(f, n, key);

        if (!v) {
                print_error("call %d: %s is not set\n", n, key);
                fail();
        }
        assert_string_equal(v, value);
}

static const char *json_str(struct json_object *o)
{
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Asserts that member `key` of o serialises as `expected` (NULL: absent). */
static void expect_member(struct json_object *o, const char *key, const char *expected)
{
        struct json_object *v = NULL;
        bool has = json_object_object_get_ex(o, key, &v);

        if (!expected) {
                if (has) {
                        print_error("unexpected '%s': %s\n", key, json_str(v));
                        fail();
                }
                return;
        }
        if (!has) {
                print_error("no '%s' in %s\n", key, json_str(o));
                fail();
        }
        assert_string_equal(json_str(v), expected);
}

static char *record_path(struct fixture *f, const char *id, const char *ifname)
{
        _cleanup_free_ char *name = xasprintf("%s-%s.json", id, ifname);

        return ocid_path_join(f->results, name);
}

static bool record_exists(struct fixture *f, const char *id, const char *ifname)
{
        _cleanup_free_ char *p = record_path(f, id, ifname);

        return access(p, F_OK) == 0;
}

static struct ocid_network_pod test_pod(const char *id)
{
        return (struct ocid_network_pod) {
                .id = id,
                .name = "web",
                .namespace_ = "default",
                .uid = "8e2e1c52-uid",
                .netns_path = "/proc/self/ns/net",
        };
}

static void pod_setup_ok(struct fixture *f, const struct ocid_network_pod *pod, struct network_result *res)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        r = network_pod_setup(f->m, pod, res, &e);
        assert_no_error(r, e);
}

static void pod_teardown_ok(struct fixture *f, const struct ocid_network_pod *pod)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        r = network_pod_teardown(f->m, pod, &e);
        assert_no_error(r, e);
}

/* Status. */

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
        _cleanup_free_ char *noversion = xasprintf("CNI configuration '%s' has no cniVersion", file);
        _cleanup_free_ char *badname = xasprintf("CNI configuration '%s': network name 'my net' is not valid", file);

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
        test_write_file(f->conf, "10-net.conflist", "{ \"name\": \"n\", \"plugins\": [ { \"type\": \"a\" } ] }");
        expect_status(f->m, 0, noversion);
        test_write_file(f->conf, "10-net.conflist",
                        "{ \"cniVersion\": \"1.0.0\", \"name\": \"my net\", \"plugins\": [ { \"type\": \"a\" } ] }");
        expect_status(f->m, 0, badname);
}

/* Supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0, named in the error. */
static void test_versions(void **state)
{
        struct fixture *f = *state;
        static const char *const good[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" };
        static const char *const bad[] = { "0.1.0", "0.2.0", "1.2.0", "1", "" };

        write_plugin(f->bin, "a", 0755);
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *text = xasprintf(
                        "{ \"cniVersion\": \"%s\", \"name\": \"n\", \"plugins\": [ { \"type\": \"a\" } ] }", good[i]);

                test_write_file(f->conf, "10-net.conflist", text);
                expect_status(f->m, 1, NULL);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *text = xasprintf(
                        "{ \"cniVersion\": \"%s\", \"name\": \"n\", \"plugins\": [ { \"type\": \"a\" } ] }", bad[i]);
                _cleanup_free_ char *needle = xasprintf(
                        "cniVersion '%s' is not supported (supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)", bad[i]);

                test_write_file(f->conf, "10-net.conflist", text);
                expect_status(f->m, 0, *bad[i] ? needle : "has no cniVersion");
        }
        test_write_file(f->conf, "10-net.conflist",
                        "{ \"cniVersions\": [ \"0.2.0\", \"2.0.0\" ], \"name\": \"n\", \"plugins\": [ { \"type\": \"a\" } ] }");
        expect_status(f->m, 0, "none of its cniVersions is supported");
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

/* With loopback (the default), "lo" needs the loopback plugin too, unless
 * the list runs it itself. */
static void test_loopback_needed(void **state)
{
        struct fixture *f = *state;

        fixture_start(f, "loopback = true;");
        write_plugin(f->bin, "fake-bridge", 0755);
        write_plugin(f->bin, "fake-portmap", 0755);
        test_write_file(f->conf, "10-net.conflist", good_conflist);
        expect_status(f->m, 0, "CNI plugin 'loopback' of network 'testnet'");
        write_plugin(f->bin2, "loopback", 0755);
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
        test_write_file(f->conf, "10-net.conf",
                        "{ \"cniVersion\": \"0.4.0\", \"name\": \"single\", \"type\": \"fake-bridge\" }");
        expect_status(f->m, 1, NULL);
        test_write_file(f->conf, "10-net.conf", "{ \"cniVersion\": \"0.4.0\", \"name\": \"single\" }");
        expect_status(f->m, 0, "has no plugin type");
        /* A .json may hold a list. */
        assert_int_equal(unlink(conf), 0);
        test_write_file(f->conf, "20-net.json",
                        "{ \"cniVersion\": \"1.0.0\", \"name\": \"l\", \"plugins\": [ { \"type\": \"fake-bridge\" } ] }");
        expect_status(f->m, 1, NULL);
}

/* Plugin types name files in bin_dirs: a path is refused, also at setup. */
static void test_plugin_type_is_a_name(void **state)
{
        struct fixture *f = *state;
        static const char *const bad[] = { "../bin/fake-bridge", "/bin/sh", "..", ".", "a/b" };
        struct ocid_network_pod pod = test_pod("p1");

        write_fake(f, "fake-bridge");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *text = xasprintf(
                        "{ \"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": [ { \"type\": \"%s\" } ] }", bad[i]);
                _cleanup_free_ char *needle = xasprintf("plugin type '%s' is not a plain file name", bad[i]);
                _cleanup_error_ struct ocid_error *e = NULL;
                struct network_result res = { 0 };
                int r;

                test_write_file(f->conf, "10-net.conflist", text);
                expect_status(f->m, 0, needle);
                r = network_pod_setup(f->m, &pod, &res, &e);
                assert_error(r, e, EINVAL, needle);
        }
        test_write_file(f->conf, "10-net.conf", "{ \"cniVersion\": \"1.0.0\", \"name\": \"n\", \"type\": \"x/../y\" }");
        expect_status(f->m, 0, "plugin type 'x/../y' is not a plain file name");
        expect_calls(f, "");
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
        assert_string_equal(ocid_json_get_string(before, "results_dir"), f->results);
        expect_member(before, "loopback", "false");
        expect_member(before, "plugin_timeout", "60");

        write_plugin(f->bin, "fake-bridge", 0755);
        write_plugin(f->bin, "fake-portmap", 0755);
        test_write_file(f->conf, "10-net.conflist", good_conflist);
        after = info_of(f->m);
        assert_string_equal(ocid_json_get_string(after, "config_file"), file);
        assert_string_equal(ocid_json_get_string(after, "network"), "testnet");
        assert_string_equal(ocid_json_get_string(after, "cni_version"), "1.0.0");
        assert_true(json_object_object_get_ex(after, "plugins", &v));
        assert_int_equal(json_object_array_length(v), 2);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "fake-bridge");
        assert_true(json_object_object_get_ex(after, "ready", &v));
        assert_true(json_object_get_boolean(v));
}

static void test_defaults(void **state)
{
        _cleanup_free_ char *tmp = test_tmpdir_new();
        _cleanup_free_ char *results = ocid_path_join(tmp, "net-cni/results");
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *v;

        ocid_host_set_paths(tmp, tmp);
        m = test_module_start("net-cni", NULL);
        o = info_of(m);
        assert_string_equal(ocid_json_get_string(o, "conf_dir"), "/etc/cni/net.d");
        assert_true(json_object_object_get_ex(o, "bin_dirs", &v));
        assert_string_equal(json_str(v), "[\"/opt/cni/bin\",\"/usr/lib/cni\"]");
        expect_member(o, "loopback", "true");
        expect_member(o, "plugin_timeout", "60");
        assert_string_equal(ocid_json_get_string(o, "results_dir"), results);
        /* init writes nothing: the results directory comes with the first pod. */
        assert_int_equal(access(results, F_OK), -1);
        test_tmpdir_free(TAKE_PTR(tmp));
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
        expect_bad_settings("loopback = \"yes\";", "modules.net-cni.loopback: expected a boolean");
        expect_bad_settings("plugin_timeout = 0;", "modules.net-cni.plugin_timeout: 0 is out of range (1 to 3600 seconds)");
        expect_bad_settings("plugin_timeout = 3601;", "modules.net-cni.plugin_timeout: 3601 is out of range");
}

/* Pods, with fake plugins. */

/* A 1.0.0 bridge-like result: host-side bridge and veth, the pod's eth0
 * with an IPv6 and an IPv4 address, and the bridge's own address. */
static const char bridge_result[] =
        "{\"cniVersion\":\"1.0.0\","
        "\"interfaces\":[{\"name\":\"cni0\",\"mac\":\"aa:aa:aa:aa:aa:01\"},"
        "{\"name\":\"veth1\",\"mac\":\"aa:aa:aa:aa:aa:02\"},"
        "{\"name\":\"eth0\",\"mac\":\"aa:aa:aa:aa:aa:03\",\"sandbox\":\"/proc/self/ns/net\"}],"
        "\"ips\":[{\"interface\":2,\"address\":\"fd00::5/64\",\"gateway\":\"fd00::1\"},"
        "{\"interface\":2,\"address\":\"10.88.0.5/16\",\"gateway\":\"10.88.0.1\"},"
        "{\"interface\":0,\"address\":\"10.88.0.1/16\"}],"
        "\"dns\":{}}";

/* What the chained fake-portmap returns: the same plus DNS, so that the
 * final result is seen to be the last plugin's. */
static const char portmap_result[] =
        "{\"cniVersion\":\"1.0.0\","
        "\"interfaces\":[{\"name\":\"cni0\",\"mac\":\"aa:aa:aa:aa:aa:01\"},"
        "{\"name\":\"veth1\",\"mac\":\"aa:aa:aa:aa:aa:02\"},"
        "{\"name\":\"eth0\",\"mac\":\"aa:aa:aa:aa:aa:03\",\"sandbox\":\"/proc/self/ns/net\"}],"
        "\"ips\":[{\"interface\":2,\"address\":\"fd00::5/64\",\"gateway\":\"fd00::1\"},"
        "{\"interface\":2,\"address\":\"10.88.0.5/16\",\"gateway\":\"10.88.0.1\"},"
        "{\"interface\":0,\"address\":\"10.88.0.1/16\"}],"
        "\"dns\":{\"nameservers\":[\"10.96.0.10\"]}}";

static const char chain_conflist[] =
        "{ \"cniVersion\": \"1.0.0\", \"name\": \"testnet\", \"plugins\": ["
        "  { \"type\": \"fake-bridge\", \"bridge\": \"cni0\", \"ipam\": { \"type\": \"host-local\" } },"
        "  { \"type\": \"fake-portmap\", \"capabilities\": { \"portMappings\": true }, \"snat\": true } ] }";

static void chain_prepare(struct fixture *f)
{
        write_fake(f, "fake-bridge");
        write_fake(f, "fake-portmap");
        test_write_file(f->conf, "10-net.conflist", chain_conflist);
        answer(f, "fake-bridge", "ADD", "out", bridge_result);
        answer(f, "fake-portmap", "ADD", "out", portmap_result);
}

/* ADD in order, each plugin with the list's name and version, the second
 * given the first's result; CNI_* variables; portMappings only for the
 * plugin that declares it; the result for the core. */
static void test_setup_chain(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_json_ struct json_object *in1 = NULL, *in2 = NULL, *out = NULL, *want = NULL;
        _cleanup_free_ char *cni_path = xasprintf("%s:%s", f->bin, f->bin2);

        chain_prepare(f);
        pod.port_mappings = "[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"TCP\",\"hostIP\":\"\"},"
                            "{\"hostPort\":0,\"containerPort\":9090,\"protocol\":\"tcp\"},"
                            "{\"hostPort\":5353,\"containerPort\":53,\"protocol\":\"udp\",\"hostIP\":\"127.0.0.1\"}]";
        pod_setup_ok(f, &pod, &res);
        expect_calls(f, "fake-bridge ADD eth0\nfake-portmap ADD eth0\n");

        for (int n = 1; n <= 2; n++) {
                expect_env(f, n, "CNI_COMMAND", "ADD");
                expect_env(f, n, "CNI_CONTAINERID", "p1");
                expect_env(f, n, "CNI_NETNS", "/proc/self/ns/net");
                expect_env(f, n, "CNI_IFNAME", "eth0");
                expect_env(f, n, "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;"
                                             "K8S_POD_INFRA_CONTAINER_ID=p1;K8S_POD_UID=8e2e1c52-uid");
                expect_env(f, n, "CNI_PATH", cni_path);
        }
        in1 = call_stdin(f, 1);
        expect_member(in1, "name", "\"testnet\"");
        expect_member(in1, "cniVersion", "\"1.0.0\"");
        expect_member(in1, "type", "\"fake-bridge\"");
        expect_member(in1, "ipam", "{\"type\":\"host-local\"}");
        expect_member(in1, "prevResult", NULL);
        expect_member(in1, "runtimeConfig", NULL);

        in2 = call_stdin(f, 2);
        expect_member(in2, "name", "\"testnet\"");
        expect_member(in2, "cniVersion", "\"1.0.0\"");
        expect_member(in2, "snat", "true");
        expect_member(in2, "capabilities", NULL);
        want = json_tokener_parse(bridge_result);
        expect_member(in2, "prevResult", json_str(want));
        expect_member(in2, "runtimeConfig",
                      "{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"},"
                      "{\"hostPort\":5353,\"containerPort\":53,\"protocol\":\"udp\",\"hostIP\":\"127.0.0.1\"}]}");

        /* IPv4 first; the bridge's own address is not the pod's. */
        assert_int_equal(ocid_strv_length(res.ips), 2);
        assert_string_equal(res.ips[0], "10.88.0.5");
        assert_string_equal(res.ips[1], "fd00::5");
        out = json_tokener_parse(res.json);
        expect_member(out, "ips", "[\"10.88.0.5\",\"fd00::5\"]");
        expect_member(out, "gateways", "[\"fd00::1\",\"10.88.0.1\"]");
        expect_member(out, "network", "\"testnet\"");
        expect_member(out, "cni_version", "\"1.0.0\"");
        expect_member(out, "dns", "{\"nameservers\":[\"10.96.0.10\"]}");
        expect_member(out, "interfaces",
                      "[{\"name\":\"cni0\",\"mac\":\"aa:aa:aa:aa:aa:01\"},{\"name\":\"veth1\",\"mac\":\"aa:aa:aa:aa:aa:02\"},"
                      "{\"name\":\"eth0\",\"mac\":\"aa:aa:aa:aa:aa:03\",\"sandbox\":\"/proc/self/ns/net\"}]");
        assert_true(record_exists(f, "p1", "eth0"));
        assert_false(record_exists(f, "p1", "lo"));
        network_result_done(&res);
}

/* DEL in reverse order with the ADD result and the same arguments; the
 * record goes; a second teardown runs nothing. */
static void test_teardown(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_json_ struct json_object *in1 = NULL, *in2 = NULL, *want = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        chain_prepare(f);
        pod.port_mappings = "[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"}]";
        pod_setup_ok(f, &pod, &res);
        network_result_done(&res);
        calls_reset(f);

        /* Teardown needs only the ID. */
        pod_teardown_ok(f, &(struct ocid_network_pod) { .id = "p1" });
        expect_calls(f, "fake-portmap DEL eth0\nfake-bridge DEL eth0\n");
        want = json_tokener_parse(portmap_result);
        in1 = call_stdin(f, 1);
        in2 = call_stdin(f, 2);
        expect_member(in1, "prevResult", json_str(want));
        expect_member(in2, "prevResult", json_str(want));
        expect_member(in1, "runtimeConfig",
                      "{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"}]}");
        expect_member(in2, "runtimeConfig", NULL);
        for (int n = 1; n <= 2; n++) {
                expect_env(f, n, "CNI_COMMAND", "DEL");
                expect_env(f, n, "CNI_NETNS", "/proc/self/ns/net");
                expect_env(f, n, "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;"
                                             "K8S_POD_INFRA_CONTAINER_ID=p1;K8S_POD_UID=8e2e1c52-uid");
        }
        assert_false(record_exists(f, "p1", "eth0"));

        /* A write a crash interrupted left a temporary file: the next
         * teardown of the pod removes it, with or without a record. */
        {
                _cleanup_free_ char *rec = record_path(f, "p1", "eth0");
                _cleanup_free_ char *dir = xstrndup(rec, (size_t) (strrchr(rec, '/') - rec));
                _cleanup_free_ char *tmp = xasprintf("%s/.p1-eth0.json.0123456789abcdef.tmp", dir);
                _cleanup_free_ char *other = xasprintf("%s/.p2-eth0.json.0123456789abcdef.tmp", dir);

                assert_int_equal(ocid_write_file_atomic(tmp, "{", 1, 0600, NULL), 0);
                assert_int_equal(ocid_write_file_atomic(other, "{", 1, 0600, NULL), 0);
                calls_reset(f);
                pod_teardown_ok(f, &pod);
                expect_calls(f, "");
                assert_int_equal(access(tmp, F_OK), -1);
                assert_int_equal(access(other, F_OK), 0);   /* another pod's is left alone */
                (void) unlink(other);
        }

        calls_reset(f);
        pod_teardown_ok(f, &pod);
        expect_calls(f, "");

        /* Not set up: nothing to check. */
        r = network_pod_check(f->m, &pod, &e);
        assert_error(r, e, ENOENT, "pod 'p1' is not attached to a network on eth0");

        /* And it may be set up again. */
        pod_setup_ok(f, &pod, &res);
        network_result_done(&res);
}

/* A DEL that fails keeps the record, so that the next teardown retries. */
static void test_teardown_fails(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        chain_prepare(f);
        pod_setup_ok(f, &pod, &res);
        network_result_done(&res);
        calls_reset(f);

        answer(f, "fake-bridge", "DEL", "out", "{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"busy\"}");
        answer(f, "fake-bridge", "DEL", "exit", "1");
        r = network_pod_teardown(f->m, &pod, &e);
        assert_error(r, e, EAGAIN, "module 'net-cni': pod_teardown: remove pod 'p1' from network 'testnet': "
                                   "CNI plugin 'fake-bridge' failed (code 11): busy");
        assert_true(record_exists(f, "p1", "eth0"));

        answer(f, "fake-bridge", "DEL", "exit", NULL);
        calls_reset(f);
        pod_teardown_ok(f, &pod);
        expect_calls(f, "fake-portmap DEL eth0\nfake-bridge DEL eth0\n");
        assert_false(record_exists(f, "p1", "eth0"));
}

/* After a restart (a new module instance) with another configuration in
 * place, DEL still runs the list the pod was set up with. */
static void test_teardown_after_restart(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_json_ struct json_object *in1 = NULL, *in2 = NULL;

        chain_prepare(f);
        pod_setup_ok(f, &pod, &res);
        network_result_done(&res);

        module_fini(TAKE_PTR(f->m));
        write_fake(f, "fake-other");
        test_write_file(f->conf, "10-net.conflist",
                        "{ \"cniVersion\": \"1.0.0\", \"name\": \"othernet\", \"plugins\": [ { \"type\": \"fake-other\" } ] }");
        fixture_start(f, NULL);
        calls_reset(f);

        pod_teardown_ok(f, &(struct ocid_network_pod) { .id = "p1" });
        expect_calls(f, "fake-portmap DEL eth0\nfake-bridge DEL eth0\n");
        in1 = call_stdin(f, 1);
        in2 = call_stdin(f, 2);
        expect_member(in1, "name", "\"testnet\"");
        expect_member(in2, "ipam", "{\"type\":\"host-local\"}");
        expect_env(f, 1, "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;"
                                     "K8S_POD_INFRA_CONTAINER_ID=p1;K8S_POD_UID=8e2e1c52-uid");
        assert_false(record_exists(f, "p1", "eth0"));
}

/* A network namespace that is gone (or never was one) is passed as an
 * empty CNI_NETNS, so that plugins still release what they hold. */
static void test_teardown_netns_gone(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_free_ char *gone = ocid_path_join(f->dir, "netns-gone");
        _cleanup_free_ char *plain = ocid_path_join(f->dir, "netns-plain");

        chain_prepare(f);
        pod_setup_ok(f, &pod, &res);
        network_result_done(&res);
        calls_reset(f);
        answer(f, "fake-portmap", "DEL", "exit", "1");
        answer(f, "fake-portmap", "DEL", "err", "still there");

        /* A path the core gives wins over the recorded one. */
        pod.netns_path = gone;
        {
                _cleanup_error_ struct ocid_error *e = NULL;
                int r = network_pod_teardown(f->m, &pod, &e);

                assert_error(r, e, EIO, "CNI plugin 'fake-portmap' failed (exit status 1): still there");
        }
        expect_env(f, 1, "CNI_NETNS", "");
        answer(f, "fake-portmap", "DEL", "exit", NULL);

        test_write_file(f->dir, "netns-plain", "");
        pod.netns_path = plain;
        calls_reset(f);
        pod_teardown_ok(f, &pod);
        expect_calls(f, "fake-portmap DEL eth0\nfake-bridge DEL eth0\n");
        expect_env(f, 1, "CNI_NETNS", "");
        expect_env(f, 2, "CNI_NETNS", "");
        assert_false(record_exists(f, "p1", "eth0"));
}

/* A failing ADD runs DEL for the whole list, in reverse order, and leaves
 * no record; the plugin's CNI error is in the message. */
static void test_add_fails(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_json_ struct json_object *in3 = NULL, *in4 = NULL;
        int r;

        chain_prepare(f);
        answer(f, "fake-portmap", "ADD", "out",
               "{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"invalid network config\",\"details\":\"no chain\"}");
        answer(f, "fake-portmap", "ADD", "exit", "1");
        r = network_pod_setup(f->m, &pod, &res, &e);
        assert_error(r, e, EIO, "module 'net-cni': pod_setup: add pod 'p1' to network 'testnet': "
                                "CNI plugin 'fake-portmap' failed (code 7): invalid network config: no chain");
        expect_calls(f, "fake-bridge ADD eth0\nfake-portmap ADD eth0\nfake-portmap DEL eth0\nfake-bridge DEL eth0\n");
        /* The failed ADD has no result to pass on. */
        in3 = call_stdin(f, 3);
        in4 = call_stdin(f, 4);
        expect_member(in3, "prevResult", NULL);
        expect_member(in4, "prevResult", NULL);
        assert_false(record_exists(f, "p1", "eth0"));
        assert_null(res.json);
        ocid_error_clear(&e);

        /* Without a CNI error object, stderr says what happened. */
        calls_reset(f);
        answer(f, "fake-portmap", "ADD", "out", NULL);
        answer(f, "fake-portmap", "ADD", "err", "panic: something\n\n");
        answer(f, "fake-portmap", "ADD", "exit", "3");
        r = network_pod_setup(f->m, &pod, &res, &e);
        assert_error(r, e, EIO, "CNI plugin 'fake-portmap' failed (exit status 3): panic: something");
        ocid_error_clear(&e);

        /* A result that is not JSON is an error too. */
        calls_reset(f);
        answer(f, "fake-portmap", "ADD", "exit", NULL);
        answer(f, "fake-portmap", "ADD", "err", NULL);
        answer(f, "fake-bridge", "ADD", "out", "ok!");
        r = network_pod_setup(f->m, &pod, &res, &e);
        assert_error(r, e, EPROTO, "CNI plugin 'fake-bridge' returned an invalid result");
        /* DEL runs for the whole list, as the spec asks after a failed ADD. */
        expect_calls(f, "fake-bridge ADD eth0\nfake-portmap DEL eth0\nfake-bridge DEL eth0\n");
        ocid_error_clear(&e);

        answer(f, "fake-bridge", "ADD", "out", NULL);
        r = network_pod_setup(f->m, &pod, &res, &e);
        assert_error(r, e, EPROTO, "CNI plugin 'fake-bridge' returned no result");
        ocid_error_clear(&e);

        /* A plugin that does not exist. */
        test_write_file(f->conf, "10-net.conflist",
                        "{ \"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": [ { \"type\": \"nowhere\" } ] }");
        r = network_pod_setup(f->m, &pod, &res, &e);
        assert_error(r, e, ENOENT, "CNI plugin 'nowhere' not found in ");
        assert_false(record_exists(f, "p1", "eth0"));
}

/* A plugin that hangs is killed after plugin_timeout. */
static void test_timeout(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_error_ struct ocid_error *e = NULL;
        int64_t start = ocid_now_monotonic_ns();
        int r;

        fixture_start(f, "loopback = false; plugin_timeout = 1;");
        chain_prepare(f);
        answer(f, "fake-portmap", "ADD", "sleep", "30");
        r = network_pod_setup(f->m, &pod, &res, &e);
        assert_error(r, e, ETIMEDOUT, "CNI plugin 'fake-portmap' timed out after 1 s");
        assert_true(ocid_now_monotonic_ns() - start < 20 * 1000000000LL);
        expect_calls(f, "fake-bridge ADD eth0\nfake-portmap ADD eth0\nfake-portmap DEL eth0\nfake-bridge DEL eth0\n");
}

/* Capability arguments go, in runtimeConfig, only to plugins declaring
 * them; "capabilities" itself is never passed on. */
static void test_capabilities(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_json_ struct json_object *a = NULL, *b = NULL, *c = NULL;
        static const char result[] = "{\"cniVersion\":\"0.4.0\",\"ips\":[]}";

        write_fake(f, "cap-all");
        write_fake(f, "cap-off");
        write_fake(f, "cap-none");
        test_write_file(f->conf, "10-net.conflist",
                        "{ \"cniVersion\": \"0.4.0\", \"name\": \"caps\", \"plugins\": ["
                        "  { \"type\": \"cap-all\", \"capabilities\": { \"portMappings\": true, \"bandwidth\": true,"
                        "    \"dns\": true, \"cgroupPath\": true, \"ips\": true } },"
                        "  { \"type\": \"cap-off\", \"capabilities\": { \"portMappings\": false } },"
                        "  { \"type\": \"cap-none\", \"runtimeConfig\": { \"mine\": 1 } } ] }");
        answer(f, "cap-all", "ADD", "out", result);
        answer(f, "cap-off", "ADD", "out", result);
        answer(f, "cap-none", "ADD", "out", result);
        pod.port_mappings = "[{\"hostPort\":80,\"containerPort\":8080,\"protocol\":\"SCTP\"}]";
        pod.bandwidth = "{\"ingressRate\":1000000,\"ingressBurst\":2000000,\"egressRate\":3000000,\"egressBurst\":4000000}";
        pod.dns = "{\"servers\":[\"10.96.0.10\"],\"searches\":[\"default.svc.cluster.local\"],\"options\":[\"ndots:5\"]}";
        pod.cgroup_parent = "/kubepods/besteffort/pod8e2e1c52";
        pod_setup_ok(f, &pod, &res);
        network_result_done(&res);

        a = call_stdin(f, 1);
        b = call_stdin(f, 2);
        c = call_stdin(f, 3);
        expect_member(a, "runtimeConfig",
                      "{\"portMappings\":[{\"hostPort\":80,\"containerPort\":8080,\"protocol\":\"sctp\"}],"
                      "\"bandwidth\":{\"ingressRate\":1000000,\"ingressBurst\":2000000,\"egressRate\":3000000,"
                      "\"egressBurst\":4000000},"
                      "\"dns\":{\"servers\":[\"10.96.0.10\"],\"searches\":[\"default.svc.cluster.local\"],"
                      "\"options\":[\"ndots:5\"]},"
                      "\"cgroupPath\":\"/kubepods/besteffort/pod8e2e1c52\"}");
        expect_member(b, "runtimeConfig", NULL);
        expect_member(c, "runtimeConfig", "{\"mine\":1}");
        expect_member(a, "capabilities", NULL);
        expect_member(b, "capabilities", NULL);
        pod_teardown_ok(f, &pod);

        /* What the pod does not give is not passed. */
        calls_reset(f);
        pod = test_pod("p2");
        pod.dns = "{\"servers\":[]}";
        pod_setup_ok(f, &pod, &res);
        network_result_done(&res);
        json_object_put(a);
        a = call_stdin(f, 1);
        expect_member(a, "runtimeConfig", "{\"dns\":{\"servers\":[]}}");
}

/* Pod input is validated before any plugin runs. */
static void test_bad_pod(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *plain = ocid_path_join(f->dir, "plain");
        _cleanup_free_ char *missing = ocid_path_join(f->dir, "missing");
        struct {
                struct ocid_network_pod pod;
                int code;
                const char *needle;
        } cases[] = {
                { test_pod("../x"), EINVAL, "pod ID '../x' is not valid for CNI" },
                { test_pod("-x"), EINVAL, "pod ID '-x' is not valid for CNI" },
                { test_pod(""), EINVAL, "pod_setup: no pod ID" },
                { test_pod("p1"), EINVAL, "pod 'p1': no absolute network namespace path" },
                { test_pod("p1"), EINVAL, "pod 'p1': no absolute network namespace path" },
                { test_pod("p1"), ENOENT, "is not a network namespace" },
                { test_pod("p1"), EINVAL, "is not a network namespace" },
                { test_pod("p1"), EINVAL, "pod name 'a;b' cannot be passed in CNI_ARGS" },
                { test_pod("p1"), EINVAL, "pod namespace 'a=b' cannot be passed in CNI_ARGS" },
                { test_pod("p1"), EINVAL, "pod port_mappings is not a JSON array" },
                { test_pod("p1"), EINVAL, "pod port_mappings[0]: port out of range" },
                { test_pod("p1"), EINVAL, "pod port_mappings[0]: unknown protocol 'icmp'" },
                { test_pod("p1"), EINVAL, "pod bandwidth is not a JSON object" },
                { test_pod("p1"), EINVAL, "pod dns is not a JSON object" },
        };

        chain_prepare(f);
        test_write_file(f->dir, "plain", "");
        cases[3].pod.netns_path = NULL;
        cases[4].pod.netns_path = "netns/relative";
        cases[5].pod.netns_path = missing;
        cases[6].pod.netns_path = plain;
        cases[7].pod.name = "a;b";
        cases[8].pod.namespace_ = "a=b";
        cases[9].pod.port_mappings = "{}";
        cases[10].pod.port_mappings = "[{\"hostPort\":70000,\"containerPort\":80}]";
        cases[11].pod.port_mappings = "[{\"hostPort\":7,\"containerPort\":7,\"protocol\":\"icmp\"}]";
        cases[12].pod.bandwidth = "{\"ingressRate\":";
        cases[13].pod.dns = "[]";
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_error_ struct ocid_error *e = NULL;
                struct network_result res = { 0 };
                int r = network_pod_setup(f->m, &cases[i].pod, &res, &e);

                assert_error(r, e, cases[i].code, cases[i].needle);
        }
        expect_calls(f, "");
}

/* Setting up a pod twice is refused (CNI forbids a second ADD). */
static void test_setup_twice(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        chain_prepare(f);
        pod_setup_ok(f, &pod, &res);
        network_result_done(&res);
        calls_reset(f);
        r = network_pod_setup(f->m, &pod, &res, &e);
        assert_error(r, e, EEXIST, "pod 'p1' is already attached to network 'testnet' on eth0");
        expect_calls(f, "");
}

/* 0.4.0: CHECK in order with the ADD result; results whose addresses
 * carry a version field. 0.3.1: no CHECK, and DEL without prevResult. */
static void test_check(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_json_ struct json_object *in1 = NULL, *in2 = NULL, *want = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        static const char result_040[] =
                "{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/proc/self/ns/net\"}],"
                "\"ips\":[{\"version\":\"4\",\"interface\":0,\"address\":\"10.1.2.3/24\",\"gateway\":\"10.1.2.1\"}],"
                "\"dns\":{}}";
        int r;

        write_fake(f, "fake-bridge");
        write_fake(f, "fake-portmap");
        test_write_file(f->conf, "10-net.conflist",
                        "{ \"cniVersion\": \"0.4.0\", \"name\": \"n4\", \"plugins\": ["
                        "  { \"type\": \"fake-bridge\" }, { \"type\": \"fake-portmap\" } ] }");
        answer(f, "fake-bridge", "ADD", "out", result_040);
        answer(f, "fake-portmap", "ADD", "out", result_040);
        pod_setup_ok(f, &pod, &res);
        assert_string_equal(res.ips[0], "10.1.2.3");
        assert_null(res.ips[1]);
        network_result_done(&res);

        calls_reset(f);
        r = network_pod_check(f->m, &pod, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);
        expect_calls(f, "fake-bridge CHECK eth0\nfake-portmap CHECK eth0\n");
        want = json_tokener_parse(result_040);
        in1 = call_stdin(f, 1);
        in2 = call_stdin(f, 2);
        expect_member(in1, "prevResult", json_str(want));
        expect_member(in2, "prevResult", json_str(want));
        expect_env(f, 1, "CNI_COMMAND", "CHECK");

        /* A failing CHECK is an error naming the plugin. */
        calls_reset(f);
        answer(f, "fake-portmap", "CHECK", "out", "{\"code\":100,\"msg\":\"chain missing\"}");
        answer(f, "fake-portmap", "CHECK", "exit", "1");
        r = network_pod_check(f->m, &pod, &e);
        assert_error(r, e, EIO, "check pod 'p1' on network 'n4': CNI plugin 'fake-portmap' failed (code 100): "
                                "chain missing");
        ocid_error_clear(&e);

        /* CHECK needs the namespace. */
        r = network_pod_check(f->m, &(struct ocid_network_pod) { .id = "p1", .netns_path = "/nonexistent" }, &e);
        assert_error(r, e, ENOENT, "pod 'p1': its network namespace is gone");
        ocid_error_clear(&e);
        pod_teardown_ok(f, &pod);

        /* disableCheck: nothing is run. */
        test_write_file(f->conf, "10-net.conflist",
                        "{ \"cniVersion\": \"0.4.0\", \"name\": \"n4\", \"disableCheck\": true, \"plugins\": ["
                        "  { \"type\": \"fake-bridge\" }, { \"type\": \"fake-portmap\" } ] }");
        pod_setup_ok(f, &pod, &res);
        network_result_done(&res);
        calls_reset(f);
        r = network_pod_check(f->m, &pod, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        expect_calls(f, "");
        pod_teardown_ok(f, &pod);

        /* 0.3.1 has no CHECK, and no prevResult on DEL. */
        test_write_file(f->conf, "10-net.conflist",
                        "{ \"cniVersion\": \"0.3.1\", \"name\": \"n3\", \"plugins\": ["
                        "  { \"type\": \"fake-bridge\" }, { \"type\": \"fake-portmap\" } ] }");
        pod_setup_ok(f, &pod, &res);
        network_result_done(&res);
        calls_reset(f);
        r = network_pod_check(f->m, &pod, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        expect_calls(f, "");
        pod_teardown_ok(f, &pod);
        json_object_put(in1);
        in1 = call_stdin(f, 1);
        expect_member(in1, "prevResult", NULL);
        expect_member(in1, "cniVersion", "\"0.3.1\"");
}

/* "lo" comes up first with the loopback plugin, and goes last. A list
 * that runs loopback itself gets no separate attachment. */
static void test_loopback(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_json_ struct json_object *in = NULL;

        fixture_start(f, "loopback = true;");
        chain_prepare(f);
        write_fake(f, "loopback");
        answer(f, "loopback", "ADD", "out",
               "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"lo\",\"sandbox\":\"/proc/self/ns/net\"}],"
               "\"ips\":[{\"interface\":0,\"address\":\"127.0.0.1/8\"}]}");
        pod_setup_ok(f, &pod, &res);
        expect_calls(f, "loopback ADD lo\nfake-bridge ADD eth0\nfake-portmap ADD eth0\n");
        in = call_stdin(f, 1);
        expect_member(in, "name", "\"cni-loopback\"");
        expect_member(in, "cniVersion", "\"1.0.0\"");
        expect_env(f, 1, "CNI_IFNAME", "lo");
        /* The pod's addresses are those of the network, not of lo. */
        assert_string_equal(res.ips[0], "10.88.0.5");
        network_result_done(&res);
        assert_true(record_exists(f, "p1", "lo"));

        calls_reset(f);
        assert_int_equal(network_pod_check(f->m, &pod, NULL), 1);
        expect_calls(f, "loopback CHECK lo\nfake-bridge CHECK eth0\nfake-portmap CHECK eth0\n");

        calls_reset(f);
        pod_teardown_ok(f, &pod);
        expect_calls(f, "fake-portmap DEL eth0\nfake-bridge DEL eth0\nloopback DEL lo\n");
        assert_false(record_exists(f, "p1", "lo"));

        /* A failing network undoes lo too. */
        calls_reset(f);
        answer(f, "fake-bridge", "ADD", "exit", "1");
        assert_int_equal(network_pod_setup(f->m, &pod, &res, NULL), -EIO);
        expect_calls(f, "loopback ADD lo\nfake-bridge ADD eth0\nfake-portmap DEL eth0\nfake-bridge DEL eth0\n"
                        "loopback DEL lo\n");
        assert_false(record_exists(f, "p1", "lo"));
        answer(f, "fake-bridge", "ADD", "exit", NULL);

        /* The list chains loopback itself. */
        test_write_file(f->conf, "10-net.conflist",
                        "{ \"cniVersion\": \"1.0.0\", \"name\": \"testnet\", \"plugins\": ["
                        "  { \"type\": \"fake-bridge\" }, { \"type\": \"loopback\" } ] }");
        answer(f, "loopback", "ADD", "out", bridge_result);
        calls_reset(f);
        pod_setup_ok(f, &pod, &res);
        network_result_done(&res);
        expect_calls(f, "fake-bridge ADD eth0\nloopback ADD eth0\n");
        assert_false(record_exists(f, "p1", "lo"));
}

/* A single plugin's .conf runs as a list of one, keeping its own keys. */
static void test_single_conf_runs(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_json_ struct json_object *in = NULL;

        write_fake(f, "fake-bridge");
        test_write_file(f->conf, "10-net.conf",
                        "{ \"cniVersion\": \"0.3.1\", \"name\": \"single\", \"type\": \"fake-bridge\", \"mtu\": 1400 }");
        answer(f, "fake-bridge", "ADD", "out",
               "{\"cniVersion\":\"0.3.1\",\"ips\":[{\"version\":\"6\",\"address\":\"fd00:1::2/64\"},"
               "{\"version\":\"4\",\"address\":\"192.168.7.2/24\"}]}");
        pod_setup_ok(f, &pod, &res);
        in = call_stdin(f, 1);
        expect_member(in, "name", "\"single\"");
        expect_member(in, "cniVersion", "\"0.3.1\"");
        expect_member(in, "mtu", "1400");
        expect_member(in, "plugins", NULL);
        assert_string_equal(res.ips[0], "192.168.7.2");
        assert_string_equal(res.ips[1], "fd00:1::2");
        network_result_done(&res);
}

/* cniVersions (1.1.0): the newest version both sides speak is used. */
static void test_cni_versions(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_json_ struct json_object *in = NULL;

        write_fake(f, "fake-bridge");
        test_write_file(f->conf, "10-net.conflist",
                        "{ \"cniVersion\": \"1.0.0\", \"cniVersions\": [ \"0.4.0\", \"1.1.0\", \"9.0.0\" ],"
                        "  \"name\": \"v\", \"plugins\": [ { \"type\": \"fake-bridge\", \"cniVersion\": \"0.3.0\" } ] }");
        answer(f, "fake-bridge", "ADD", "out", "{\"cniVersion\":\"1.1.0\",\"ips\":[]}");
        pod_setup_ok(f, &pod, &res);
        in = call_stdin(f, 1);
        expect_member(in, "cniVersion", "\"1.1.0\"");
        assert_null(res.ips[0]);
        network_result_done(&res);
}

/* A new configuration file is used by the next setup. */
static void test_conf_changes(void **state)
{
        struct fixture *f = *state;
        struct network_result res = { 0 };
        _cleanup_json_ struct json_object *in = NULL;

        chain_prepare(f);
        pod_setup_ok(f, &(struct ocid_network_pod) { .id = "p1", .netns_path = "/proc/self/ns/net" }, &res);
        network_result_done(&res);
        expect_calls(f, "fake-bridge ADD eth0\nfake-portmap ADD eth0\n");
        /* Same size, same second: the inode and ctime still tell. */
        test_write_file(f->conf, "10-net.conflist",
                        "{ \"cniVersion\": \"1.0.0\", \"name\": \"testne2\", \"plugins\": ["
                        "  { \"type\": \"fake-bridge\", \"bridge\": \"cni0\", \"ipam\": { \"type\": \"host-local\" } },"
                        "  { \"type\": \"fake-portmap\", \"capabilities\": { \"portMappings\": true }, \"snat\": true } ] }");
        calls_reset(f);
        pod_setup_ok(f, &(struct ocid_network_pod) { .id = "p2", .netns_path = "/proc/self/ns/net" }, &res);
        network_result_done(&res);
        in = call_stdin(f, 1);
        expect_member(in, "name", "\"testne2\"");
        /* Without metadata, CNI_ARGS carries the ID only. */
        expect_env(f, 1, "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_INFRA_CONTAINER_ID=p2");
}

static char *logged;

static void log_capture(int level, const char *category, const char *message, void *userdata)
{
        char *next = xasprintf("%s%s %s: %s\n", logged ? logged : "", ocid_log_level_to_string(level), category,
                               message);

        free(logged);
        logged = next;
}

/* An unreadable record does not leak the pod's addresses: DEL runs with
 * the current configuration instead. */
static void test_corrupt_record(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_free_ char *path = record_path(f, "p1", "eth0");
        _cleanup_json_ struct json_object *in = NULL;

        chain_prepare(f);
        pod_setup_ok(f, &pod, &res);
        network_result_done(&res);
        test_write_file(f->results, "p1-eth0.json", "{ \"format\": 1, \"config\": ");
        calls_reset(f);
        ocid_log_set_sink(log_capture, NULL);
        pod_teardown_ok(f, &pod);
        ocid_log_set_sink(NULL, NULL);
        assert_contains(logged, "warning net-cni: pod 'p1': parse JSON '");
        assert_contains(logged, "p1-eth0.json': unexpected end of data; detaching eth0 with network 'testnet' instead");
        free(TAKE_PTR(logged));
        expect_calls(f, "fake-portmap DEL eth0\nfake-bridge DEL eth0\n");
        in = call_stdin(f, 1);
        expect_member(in, "prevResult", NULL);
        expect_env(f, 1, "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;"
                                     "K8S_POD_INFRA_CONTAINER_ID=p1;K8S_POD_UID=8e2e1c52-uid");
        assert_int_equal(access(path, F_OK), -1);
}

/* Records are private and hold what DEL needs. */
static void test_record(void **state)
{
        struct fixture *f = *state;
        struct ocid_network_pod pod = test_pod("p1");
        struct network_result res = { 0 };
        _cleanup_free_ char *path = record_path(f, "p1", "eth0");
        _cleanup_json_ struct json_object *o = NULL, *want = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct json_object *config = NULL;
        struct stat st;
        int r;

        chain_prepare(f);
        pod.port_mappings = "[]";
        pod_setup_ok(f, &pod, &res);
        network_result_done(&res);
        assert_int_equal(stat(f->results, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        r = ocid_json_read_file(path, 1 << 20, &o, &e);
        assert_no_error(r, e);
        assert_string_equal(ocid_json_get_string(o, "id"), "p1");
        assert_string_equal(ocid_json_get_string(o, "ifname"), "eth0");
        assert_string_equal(ocid_json_get_string(o, "network"), "testnet");
        assert_string_equal(ocid_json_get_string(o, "netns"), "/proc/self/ns/net");
        expect_member(o, "capability_args", "{\"portMappings\":[]}");
        want = json_tokener_parse(portmap_result);
        expect_member(o, "result", json_str(want));
        assert_true(json_object_object_get_ex(o, "config", &config));
        assert_string_equal(ocid_json_get_string(config, "name"), "testnet");
}

/* The real plugins, as root, in namespaces of the test's own. */

struct realnet {
        char *dir;
        char *nsdir;      /* pod network namespaces (bind mounts) */
        char *ipam;       /* host-local dataDir */
        char *conf;
        char *root;
        char *bridge;
        char subnet[32];  /* 10.233.N.0/24 */
        struct ocid_module *m;
};

static int real_teardown(void **state)
{
        struct realnet *rn = *state;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (!rn)
                return 0;
        module_fini(rn->m);
        d = rn->nsdir ? opendir(rn->nsdir) : NULL;
        while (d && (de = readdir(d))) {
                _cleanup_free_ char *p = ocid_path_join(rn->nsdir, de->d_name);

                if (de->d_name[0] != '.')
                        (void) umount2(p, MNT_DETACH);
        }
        test_tmpdir_free(rn->dir);
        free(rn->nsdir);
        free(rn->ipam);
        free(rn->conf);
        free(rn->root);
        free(rn->bridge);
        free(rn);
        return 0;
}

/* Moves the whole test process into a new network namespace and a private
 * mount namespace: the bridge the plugin creates, its iptables rules and
 * the pods' bind mounts never reach the host, and vanish with the process
 * even if the test fails half way. */
static int real_setup(void **state)
{
        struct realnet *rn;
        uint8_t rnd[2];
        _cleanup_free_ char *text = NULL;

        assert_int_equal(unshare(CLONE_NEWNET | CLONE_NEWNS), 0);
        assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        assert_int_equal(getrandom(rnd, sizeof(rnd), 0), (ssize_t) sizeof(rnd));

        rn = xzalloc(sizeof(*rn));
        rn->dir = test_tmpdir_new();
        rn->nsdir = ocid_path_join(rn->dir, "netns");
        rn->ipam = ocid_path_join(rn->dir, "ipam");
        rn->conf = ocid_path_join(rn->dir, "net.d");
        rn->root = ocid_path_join(rn->dir, "root");
        rn->bridge = xasprintf("ocidt%02x%02x", rnd[0], rnd[1]);
        snprintf(rn->subnet, sizeof(rn->subnet), "10.233.%u.0/24", (unsigned) rnd[0]);
        assert_int_equal(mkdir(rn->nsdir, 0700), 0);
        assert_int_equal(mkdir(rn->conf, 0755), 0);
        text = xasprintf("{ \"cniVersion\": \"1.0.0\", \"name\": \"ocid-test\", \"plugins\": ["
                         "  { \"type\": \"bridge\", \"bridge\": \"%s\", \"isGateway\": true, \"ipMasq\": false,"
                         "    \"ipam\": { \"type\": \"host-local\", \"dataDir\": \"%s\","
                         "      \"ranges\": [ [ { \"subnet\": \"%s\" } ] ] } },"
                         "  { \"type\": \"portmap\", \"capabilities\": { \"portMappings\": true } } ] }",
                         rn->bridge, rn->ipam, rn->subnet);
        test_write_file(rn->conf, "10-test.conflist", text);
        ocid_host_set_paths(rn->root, rn->dir);
        *state = rn;
        return 0;
}

static void real_start(struct realnet *rn)
{
        _cleanup_free_ char *text = xasprintf(
                "modules: { net-cni: { conf_dir = \"%s\"; bin_dirs = [ \"/usr/lib/cni\" ]; }; };", rn->conf);

        module_fini(rn->m);
        rn->m = test_module_start("net-cni", text);
}

/* A new network namespace pinned at <nsdir>/<name>. */
static char *real_netns(struct realnet *rn, const char *name)
{
        char *path = ocid_path_join(rn->nsdir, name);
        _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        assert_true(self >= 0 && fd >= 0);
        assert_int_equal(unshare(CLONE_NEWNET), 0);
        assert_int_equal(mount("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL), 0);
        assert_int_equal(setns(self, CLONE_NEWNET), 0);
        return path;
}

static void real_netns_delete(const char *path)
{
        assert_int_equal(umount2(path, MNT_DETACH), 0);
        assert_int_equal(unlink(path), 0);
}

/* Runs fn(arg) with the thread in the network namespace at path. */
static void in_netns(const char *path, void (*fn)(void *), void *arg)
{
        _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int ns = open(path, O_RDONLY | O_CLOEXEC);

        assert_true(self >= 0 && ns >= 0);
        assert_int_equal(setns(ns, CLONE_NEWNET), 0);
        fn(arg);
        assert_int_equal(setns(self, CLONE_NEWNET), 0);
}

struct addr_query {
        const char *ifname;
        const char *ip;
        int found;
};

static void find_addr(void *arg)
{
        struct addr_query *q = arg;
        struct ifaddrs *ifa = NULL;

        assert_int_equal(getifaddrs(&ifa), 0);
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
                char buf[INET_ADDRSTRLEN];

                if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !streq(i->ifa_name, q->ifname))
                        continue;
                assert_non_null(inet_ntop(AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, buf, sizeof(buf)));
                if (streq(buf, q->ip) && (i->ifa_flags & IFF_UP))
                        q->found = 1;
        }
        freeifaddrs(ifa);
}

static bool netns_has_addr(const char *ns, const char *ifname, const char *ip)
{
        struct addr_query q = { ifname, ip, 0 };

        in_netns(ns, find_addr, &q);
        return q.found;
}

struct udp_sock {
        const char *bind_ip;   /* NULL: any */
        int fd;
};

static void udp_open(void *arg)
{
        struct udp_sock *u = arg;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(u->bind_ip ? 5555 : 0) };

        u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(u->fd >= 0);
        if (u->bind_ip)
                assert_int_equal(inet_pton(AF_INET, u->bind_ip, &sa.sin_addr), 1);
        assert_int_equal(bind(u->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
}

/* Receives one datagram within 3 s; returns its length (-1 on timeout) and
 * the sender. */
static ssize_t udp_recv(int fd, char *buf, size_t len, struct sockaddr_in *from)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };
        socklen_t fl = sizeof(*from);

        if (poll(&p, 1, 3000) != 1)
                return -1;
        return recvfrom(fd, buf, len, 0, (struct sockaddr *) from, &fl);
}

/* Pod a sends to pod b's address and b answers: traffic across the
 * bridge, both ways, and from the addresses CNI gave. */
static void expect_reachable(const char *ns_a, const char *ip_a, const char *ns_b, const char *ip_b)
{
        struct udp_sock a = { NULL, -1 }, b = { ip_b, -1 };
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(5555) }, from;
        char buf[16], ip[INET_ADDRSTRLEN];
        ssize_t n;

        in_netns(ns_a, udp_open, &a);
        in_netns(ns_b, udp_open, &b);
        assert_int_equal(inet_pton(AF_INET, ip_b, &to.sin_addr), 1);
        assert_int_equal(sendto(a.fd, "ping", 4, 0, (struct sockaddr *) &to, sizeof(to)), 4);
        n = udp_recv(b.fd, buf, sizeof(buf), &from);
        assert_int_equal(n, 4);
        assert_memory_equal(buf, "ping", 4);
        assert_non_null(inet_ntop(AF_INET, &from.sin_addr, ip, sizeof(ip)));
        assert_string_equal(ip, ip_a);
        assert_int_equal(sendto(b.fd, "pong", 4, 0, (struct sockaddr *) &from, sizeof(from)), 4);
        n = udp_recv(a.fd, buf, sizeof(buf), &from);
        assert_int_equal(n, 4);
        assert_memory_equal(buf, "pong", 4);
        (void) close(a.fd);
        (void) close(b.fd);
}

static bool ipam_holds(struct realnet *rn, const char *ip)
{
        _cleanup_free_ char *p = xasprintf("%s/ocid-test/%s", rn->ipam, ip);

        return access(p, F_OK) == 0;
}

/* The NAT rules of the test's network namespace. */
static char *nat_rules(void)
{
        static const char *const argv[] = { "iptables", "-w", "-t", "nat", "-S", NULL };
        struct ocid_cmd cmd = { .argv = argv, .timeout_ms = 30000 };
        struct ocid_cmd_result res = { 0 };
        _cleanup_error_ struct ocid_error *e = NULL;
        char *out;
        int r;

        r = ocid_cmd_run(&cmd, &res, &e);
        assert_no_error(r, e);
        assert_int_equal(res.exit_code, 0);
        out = TAKE_PTR(res.out);
        ocid_cmd_result_done(&res);
        return out;
}

static void test_real_plugins(void **state)
{
        struct realnet *rn = *state;
        _cleanup_free_ char *ns_a = NULL, *ns_b = NULL, *ns_c = NULL, *rules = NULL;
        _cleanup_free_ char *ip_a = NULL, *ip_b = NULL, *ip_c = NULL;
        struct network_result res = { 0 };
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_network_pod a = test_pod("pod-a"), b = test_pod("pod-b"), c = test_pod("pod-c");
        char prefix[32];
        int r;

        real_start(rn);
        expect_status(rn->m, 1, NULL);
        snprintf(prefix, sizeof(prefix), "%.*s", (int) (strlen(rn->subnet) - 4), rn->subnet); /* "10.233.N." */

        ns_a = real_netns(rn, "a");
        ns_b = real_netns(rn, "b");
        ns_c = real_netns(rn, "c");
        a.netns_path = ns_a;
        b.netns_path = ns_b;
        c.netns_path = ns_c;
        a.port_mappings = "[{\"hostPort\":18080,\"containerPort\":80,\"protocol\":\"tcp\"}]";

        r = network_pod_setup(rn->m, &a, &res, &e);
        assert_no_error(r, e);
        ip_a = xstrdup(res.ips[0]);
        network_result_done(&res);
        r = network_pod_setup(rn->m, &b, &res, &e);
        assert_no_error(r, e);
        ip_b = xstrdup(res.ips[0]);
        network_result_done(&res);
        r = network_pod_setup(rn->m, &c, &res, &e);
        assert_no_error(r, e);
        ip_c = xstrdup(res.ips[0]);
        network_result_done(&res);

        /* Addresses from the test's subnet, on eth0 inside each pod, lo up. */
        assert_non_null(ocid_startswith(ip_a, prefix));
        assert_non_null(ocid_startswith(ip_b, prefix));
        assert_string_not_equal(ip_a, ip_b);
        assert_true(netns_has_addr(ns_a, "eth0", ip_a));
        assert_true(netns_has_addr(ns_b, "eth0", ip_b));
        assert_true(netns_has_addr(ns_a, "lo", "127.0.0.1"));
        assert_true(ipam_holds(rn, ip_a));
        assert_true(ipam_holds(rn, ip_c));

        /* The pods reach each other across the bridge. */
        expect_reachable(ns_a, ip_a, ns_b, ip_b);
        expect_reachable(ns_b, ip_b, ns_a, ip_a);

        /* portmap got the pod's port mapping. */
        rules = nat_rules();
        assert_contains(rules, "CNI-HOSTPORT-DNAT");
        assert_contains(rules, "--dport 18080");
        free(TAKE_PTR(rules));

        /* CHECK with the real plugins. (Pod b: portmap 1.1.1 fails CHECK for
         * an IPv4-only pod with port mappings, looking for an ip6tables
         * chain it never made: containernetworking/plugins#819.) */
        r = network_pod_check(rn->m, &b, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);

        /* DEL frees the address and the port mapping; twice is fine. */
        r = network_pod_teardown(rn->m, &a, &e);
        assert_no_error(r, e);
        assert_false(ipam_holds(rn, ip_a));
        assert_false(netns_has_addr(ns_a, "eth0", ip_a));
        rules = nat_rules();
        if (strstr(rules, "--dport 18080")) {
                print_error("port mapping left after DEL:\n%s\n", rules);
                fail();
        }
        r = network_pod_teardown(rn->m, &a, &e);
        assert_no_error(r, e);

        /* After a restart, with pod c's namespace already gone, DEL still
         * frees its address. */
        real_netns_delete(ns_c);
        real_start(rn);
        r = network_pod_teardown(rn->m, &c, &e);
        assert_no_error(r, e);
        assert_false(ipam_holds(rn, ip_c));
        r = network_pod_teardown(rn->m, &(struct ocid_network_pod) { .id = "pod-b" }, &e);
        assert_no_error(r, e);
        assert_false(ipam_holds(rn, ip_b));
}

/* The real-plugin test needs root, Debian's plugins and the right to make
 * namespaces (probed in a child); without them it is not registered, as a
 * skipped cmocka test reads "not ok" to automake's TAP driver. */
static bool real_available(void)
{
        static const char *const plugins[] = { "bridge", "host-local", "portmap", "loopback" };
        int status;
        pid_t pid;

        if (geteuid() != 0)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(plugins); i++) {
                _cleanup_free_ char *p = ocid_path_join("/usr/lib/cni", plugins[i]);

                if (access(p, X_OK) < 0)
                        return false;
        }
        pid = fork();
        if (pid < 0)
                return false;
        if (pid == 0)
                _exit(unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ? 1 : 0);
        return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
        const struct CMUnitTest tests[] = {
                T(test_empty_dir),
                T(test_missing_dir),
                T(test_bad_json),
                T(test_incomplete),
                T(test_versions),
                T(test_plugins),
                T(test_loopback_needed),
                T(test_lexical_order),
                T(test_single_conf),
                T(test_plugin_type_is_a_name),
                T(test_appears_later),
                T(test_info),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_bad_settings),
                T(test_setup_chain),
                T(test_teardown),
                T(test_teardown_fails),
                T(test_teardown_after_restart),
                T(test_teardown_netns_gone),
                T(test_add_fails),
                T(test_timeout),
                T(test_capabilities),
                T(test_bad_pod),
                T(test_setup_twice),
                T(test_check),
                T(test_loopback),
                T(test_single_conf_runs),
                T(test_cni_versions),
                T(test_conf_changes),
                T(test_corrupt_record),
                T(test_record),
                /* Last: it moves the process into namespaces of its own. */
                cmocka_unit_test_setup_teardown(test_real_plugins, real_setup, real_teardown),
        };
#undef T

        size_t n = ELEMENTSOF(tests);

        if (!real_available()) {
                printf("# test_real_plugins not run: it needs root, /usr/lib/cni and new namespaces\n");
                n--;
        }
        cmocka_set_message_output(CM_OUTPUT_TAP);
        return _cmocka_run_group_tests("tests", tests, n, setup, NULL);
}
