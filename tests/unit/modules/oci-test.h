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

/* The ops against scripts standing in for the runtime and for conmon (no
 * root needed): argument passing, state parsing, the runtime's messages,
 * error classification, conmon's sync-pipe reports and CRI log records. */

/* A stand-in runtime: logs its arguments to calls; `state` prints
 * state.json (absent: the runtime's "does not exist"), `kill` fails with
 * kill.err, `start` sleeps 5 s, everything else succeeds. */
static const char oci_fake_runtime[] =
        "#!/bin/sh\n"
        "dir=$(dirname \"$0\")\n"
        "echo \"$@\" >> \"$dir/calls\"\n"
        "[ \"$2\" = --systemd-cgroup ] && shift\n"
        "case \"$2\" in\n"
        "state) if [ -f \"$dir/state.json\" ]; then cat \"$dir/state.json\"; else\n"
        "       echo 'time=\"2024-01-01T00:00:00Z\" level=error msg=\"container does not exist\"' >&2; exit 1; fi;;\n"
        "kill) cat \"$dir/kill.err\" >&2; exit 1;;\n"
        "start) exec sleep 5;;\n"
        "esac\n";

struct oci_fake {
        struct oci_fixture *f;
        char *runtime, *root, *persist, *bundle, *calls;
        struct modules_handler h;
        struct ocid_runtime_container c;
};

static void oci_fake_init(struct oci_fake *k, struct oci_fixture *f, struct ocid_module *m)
{
        _cleanup_error_ struct ocid_error *e = NULL;

        k->f = f;
        k->runtime = oci_script(f, "runtime", oci_fake_runtime, 0755);
        k->root = ocid_path_join(f->dir, "root");
        k->persist = ocid_path_join(f->dir, "persist");
        k->bundle = ocid_path_join(f->dir, "bundle");
        k->calls = ocid_path_join(f->dir, "calls");
        assert_int_equal(ocid_mkdir_p(k->root, 0700, &e), 0);
        assert_int_equal(ocid_mkdir_p(k->persist, 0700, &e), 0);
        assert_int_equal(ocid_mkdir_p(k->bundle, 0700, &e), 0);
        k->h = (struct modules_handler){
                .h = { .size = sizeof(k->h.h), .name = "fake", .path = k->runtime, .root = k->root,
                       .monitor = "/nonexistent/conmon" },
                .module = m ? m : f->m,
        };
        k->c = (struct ocid_runtime_container){
                .size = sizeof(k->c), .id = "c1", .name = "n1", .bundle = k->bundle, .persist_dir = k->persist,
                .log_path = "/var/log/c1.log", .exit_dir = f->dir,
        };
}

static void oci_fake_done(struct oci_fake *k)
{
        free(k->runtime);
        free(k->root);
        free(k->persist);
        free(k->bundle);
        free(k->calls);
}

/* The runtime "knows" c1: its state directory exists. */
static void oci_fake_known(struct oci_fake *k, const char *state_json)
{
        _cleanup_free_ char *dir = ocid_path_join(k->root, "c1");

        (void) mkdir(dir, 0700);
        if (state_json)
                test_write_file(k->f->dir, "state.json", state_json);
}

static char *oci_fake_calls(struct oci_fake *k)
{
        char *text = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;

        if (ocid_read_file(k->calls, 1 << 20, &text, NULL, &e) < 0)
                return xstrdup("");
        return text;
}

static void test_oci_fake_state(void **state)
{
        struct oci_fixture *f = *state;
        struct oci_fake k = { 0 };
        struct ocid_runtime_state st = { 0 };
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *exit_path = NULL, *state_dir = NULL;
        struct stat sb;
        int r;

        oci_fake_init(&k, f, NULL);
        oci_fake_known(&k, "{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"pid\":42,\"status\":\"running\","
                           "\"created\":\"2024-01-02T03:04:05.5+01:00\"}");
        r = runtime_state(&k.h, &k.c, &st, &e);
        assert_no_error(r, e);
        assert_string_equal(st.status, "running");
        assert_int_equal(st.pid, 42);
        assert_int_equal(st.created_ns, 1704161045500000000LL);
        assert_int_equal(st.exited, 0);
        assert_int_equal(st.oom_killed, 0);

        /* what conmon recorded in persist_dir */
        test_write_file(k.persist, "exit", "137");
        test_write_file(k.persist, "oom", "");
        exit_path = ocid_path_join(k.persist, "exit");
        assert_int_equal(stat(exit_path, &sb), 0);
        oci_fake_known(&k, "{\"pid\":42,\"status\":\"stopped\",\"created\":\"2024-01-02T03:04:05Z\"}");
        r = runtime_state(&k.h, &k.c, &st, &e);
        assert_no_error(r, e);
        assert_string_equal(st.status, "stopped");
        assert_int_equal(st.pid, 0);
        assert_int_equal(st.created_ns, 1704164645000000000LL);
        assert_int_equal(st.exited, 1);
        assert_int_equal(st.exit_code, 137);
        assert_int_equal(st.oom_killed, 1);
        assert_int_equal(st.finished_ns, (int64_t) sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec);

        oci_fake_known(&k, "not json");
        r = runtime_state(&k.h, &k.c, &st, &e);
        assert_error(r, e, EPROTO, "printed no JSON object");
        ocid_error_clear(&e);
        oci_fake_known(&k, "{\"status\":\"much too long a status\"}");
        r = runtime_state(&k.h, &k.c, &st, &e);
        assert_error(r, e, EPROTO, "no valid status");
        ocid_error_clear(&e);

        /* The runtime fails: with its state directory, its message; without, ENOENT. */
        state_dir = ocid_path_join(f->dir, "state.json");
        assert_int_equal(unlink(state_dir), 0);
        r = runtime_state(&k.h, &k.c, &st, &e);
        assert_error(r, e, EIO, "state' exited with status 1: container does not exist");
        ocid_error_clear(&e);
        free(state_dir);
        state_dir = ocid_path_join(k.root, "c1");
        assert_int_equal(rmdir(state_dir), 0);
        r = runtime_state(&k.h, &k.c, &st, &e);
        assert_error(r, e, ENOENT, "container 'c1' does not exist");
        oci_fake_done(&k);
}

static void test_oci_fake_errors(void **state)
{
        struct oci_fixture *f = *state;
        struct oci_fake k = { 0 };
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *cfg = NULL, *calls = NULL, *expect = NULL;
        int r;

        oci_fake_init(&k, f, NULL);
        test_write_file(f->dir, "kill.err",
                        "time=\"2024-01-01T00:00:00Z\" level=warning msg=\"ignored warning\"\n"
                        "time=\"2024-01-01T00:00:00Z\" level=error msg=\"container \\\"c1\\\" is not running\"\n");
        oci_fake_known(&k, "{\"pid\":42,\"status\":\"running\"}");
        r = runtime_kill(&k.h, &k.c, 9, 1, &e);
        expect = xasprintf("module '%s': kill: signal container 'c1': '%s kill' exited with status 1: "
                           "container \"c1\" is not running", oci_module_name, k.runtime);
        assert_error(r, e, EIO, expect);
        assert_null(strstr(e->message, "warning"));
        ocid_error_clear(&e);

        oci_fake_known(&k, "{\"pid\":0,\"status\":\"stopped\"}");
        r = runtime_kill(&k.h, &k.c, 15, 0, &e);
        assert_error(r, e, ESRCH, "container 'c1' is not running");
        ocid_error_clear(&e);

        /* plain text is passed on as it is */
        test_write_file(f->dir, "kill.err", "crun: something odd\n\n");
        oci_fake_known(&k, "{\"pid\":42,\"status\":\"running\"}");
        k.c.systemd_cgroup = 1;
        r = runtime_kill(&k.h, &k.c, 15, 0, &e);
        assert_error(r, e, EIO, "exited with status 1: crun: something odd");
        ocid_error_clear(&e);
        k.c.systemd_cgroup = 0;

        r = runtime_update(&k.h, &k.c, "{\"memory\":{\"limit\":1}}", &e);
        assert_no_error(r, e);
        r = runtime_resume(&k.h, &k.c, &e);
        assert_no_error(r, e);
        r = runtime_delete(&k.h, &k.c, 1, &e);
        assert_no_error(r, e);

        calls = oci_fake_calls(&k);
        assert_contains(calls, "--root=");
        assert_contains(calls, " kill --all c1 9\n");
        assert_contains(calls, "--systemd-cgroup kill c1 15\n");
        assert_contains(calls, " update --resources ");
        assert_contains(calls, " resume c1\n");
        assert_contains(calls, " delete --force c1\n");

        /* A runtime that hangs is given command_timeout. */
        cfg = xasprintf("modules: { %s: { command_timeout = 1; }; };", oci_module_name);
        module_fini(f->m);
        f->m = test_module_start(oci_module_name, cfg);
        k.h.module = f->m;
        r = runtime_start(&k.h, &k.c, &e);
        assert_error(r, e, ETIMEDOUT, "start' timed out after 1 s");
        oci_fake_done(&k);
}

static void test_oci_settings(void **state)
{
        struct oci_fixture *f = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_json_ struct json_object *o = oci_info(f);
        config_t cfg;
        const config_setting_t *g;
        _cleanup_free_ char *text = NULL, *path = xasprintf("modules.%s", oci_module_name);
        int r;

        assert_int_equal(ocid_json_get_int64(o, "command_timeout", 0), 120);
        for (const char *const *bad = (const char *const[]){ "command_timeout = 0;", "out of range (1 to 3600",
                                                             "command_timeout = 3601;", "out of range",
                                                             "command_timeout = \"x\";", "expected an integer",
                                                             "timeout = 5;", "unknown", NULL };
             *bad; bad += 2) {
                free(text);
                text = xasprintf("modules: { %s: { %s }; };", oci_module_name, bad[0]);
                g = test_config_parse(&cfg, text, path);
                r = module_check(f->m, g, &e);
                assert_error(r, e, EINVAL, bad[1]);
                ocid_error_clear(&e);
                config_destroy(&cfg);
        }
        free(text);
        text = xasprintf("modules: { %s: { command_timeout = 30; }; };", oci_module_name);
        g = test_config_parse(&cfg, text, path);
        r = module_check(f->m, g, &e);
        assert_no_error(r, e);
        config_destroy(&cfg);
}

/* A stand-in conmon: records its arguments, then runs `body`. */
static char *oci_fake_monitor(struct oci_fixture *f, const char *body)
{
        _cleanup_free_ char *script = xasprintf("#!/bin/sh\n"
                                                "printf '%%s\\n' \"$@\" > \"$(dirname \"$0\")/monitor-args\"\n"
                                                "echo \"$_OCI_SYNCPIPE\" > \"$(dirname \"$0\")/monitor-env\"\n%s",
                                                body);

        return oci_script(f, "monitor", script, 0755);
}

static void test_oci_fake_create(void **state)
{
        struct oci_fixture *f = *state;
        struct oci_fake k = { 0 };
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *monitor = NULL, *args = NULL, *args_path = NULL, *env = NULL, *env_path = NULL;
        _cleanup_free_ char *expect = NULL;
        int64_t start;
        int32_t pid = 0;
        int r;

        oci_fake_init(&k, f, NULL);
        args_path = ocid_path_join(f->dir, "monitor-args");
        env_path = ocid_path_join(f->dir, "monitor-env");

        monitor = oci_fake_monitor(f, "printf '{\"data\": 4321}\\n' >&3\n");
        k.h.h.monitor = monitor;
        k.c.terminal = 1;
        k.c.stdin_open = 1;
        k.c.log_size_max = 1000;
        k.c.systemd_cgroup = 1;
        r = runtime_create(&k.h, &k.c, 10000, &pid, &e);
        assert_no_error(r, e);
        assert_int_equal(pid, 4321);
        assert_int_equal(ocid_read_file(args_path, 65536, &args, NULL, &e), 0);
        expect = xasprintf("--api-version\n1\n-c\nc1\n-u\nc1\n-n\nn1\n-r\n%s\n-b\n%s\n", k.runtime, k.bundle);
        assert_contains(args, expect);
        free(expect);
        expect = xasprintf("-l\nk8s-file:/var/log/c1.log\n--exit-dir\n%s\n--persist-dir\n%s\n", f->dir, k.persist);
        assert_contains(args, expect);
        free(expect);
        expect = xasprintf("--runtime-arg=--root=%s\n", k.root);
        assert_contains(args, expect);
        assert_contains(args, "\n--systemd-cgroup\n--terminal\n--stdin\n--leave-stdin-open\n--log-size-max=1000\n");
        assert_int_equal(ocid_read_file(env_path, 64, &env, NULL, &e), 0);
        assert_string_equal(env, "3\n");

        /* the runtime's refusal, as conmon passes it on */
        free(oci_fake_monitor(f, "printf '{\"data\": -1, \"message\": \"time=\\\\\"x\\\\\" level=error "
                                 "msg=\\\\\"no such rootfs\\\\\"\\\\n\"}\\n' >&3\n"));
        r = runtime_create(&k.h, &k.c, 10000, &pid, &e);
        assert_error(r, e, EIO, "create container 'c1': no such rootfs");
        ocid_error_clear(&e);

        /* conmon refused its arguments: its own words */
        free(oci_fake_monitor(f, "echo 'conmon: bad option' >&2; exit 2\n"));
        r = runtime_create(&k.h, &k.c, 10000, &pid, &e);
        assert_error(r, e, EIO, "conmon exited with status 2 without a report: conmon: bad option");
        ocid_error_clear(&e);

        free(oci_fake_monitor(f, "echo nonsense >&3\n"));
        r = runtime_create(&k.h, &k.c, 10000, &pid, &e);
        assert_error(r, e, EPROTO, "conmon wrote an invalid report");
        ocid_error_clear(&e);

        /* a monitor that never reports: the timeout, promptly */
        free(oci_fake_monitor(f, "exec sleep 30\n"));
        start = ocid_now_monotonic_ns();
        r = runtime_create(&k.h, &k.c, 300, &pid, &e);
        assert_error(r, e, ETIMEDOUT, "create container 'c1': timed out after 300 ms");
        assert_true(ocid_now_monotonic_ns() - start < 3000 * 1000000LL);
        ocid_error_clear(&e);

        k.c.log_path = "/var/log/a:b";
        r = runtime_create(&k.h, &k.c, 300, &pid, &e);
        assert_error(r, e, EINVAL, "contains ':'");
        ocid_error_clear(&e);
        k.c.log_path = "/var/log/c1.log";
        oci_fake_known(&k, NULL);
        r = runtime_create(&k.h, &k.c, 300, &pid, &e);
        assert_error(r, e, EEXIST, "container 'c1' exists already");
        ocid_error_clear(&e);
        k.h.h.monitor = "conmon";
        r = runtime_create(&k.h, &k.c, 300, &pid, &e);
        assert_error(r, e, EINVAL, "has no absolute monitor path");
        assert_int_equal(pid, 4321);
        oci_fake_done(&k);
}

/* The monitor's side of exec_sync: the log records it writes to the fifo
 * named after -l, and its reports. */
#define OCI_FAKE_EXEC_HEAD                                                    \
        "log=; spec=\n"                                                       \
        "while [ $# -gt 0 ]; do case \"$1\" in\n"                             \
        "  -l) log=${2#k8s-file:}; shift;;\n"                                 \
        "  --exec-process-spec) spec=$2; shift;;\n"                           \
        "esac; shift; done\n"                                                 \
        "cp \"$spec\" \"$(dirname \"$0\")/spec-seen\"\n"                      \
        "exec 4>\"$log\"\n"

static struct ocid_runtime_exec_result oci_fake_exec(struct oci_fake *k, const char *process, uint64_t max,
                                                     int64_t timeout_ms, int expect_errno, const char *needle)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_runtime_exec_result res = { 0 };
        int r;

        r = runtime_exec_sync(&k->h, &k->c, process, timeout_ms, max, &res, &e);
        if (expect_errno)
                assert_error(r, e, expect_errno, needle);
        else
                assert_no_error(r, e);
        return res;
}

static void test_oci_fake_exec(void **state)
{
        struct oci_fixture *f = *state;
        struct oci_fake k = { 0 };
        struct ocid_runtime_exec_result res;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_json_ struct json_object *spec = NULL;
        _cleanup_free_ char *spec_path = NULL, *monitor = NULL;
        struct json_object *v;
        int64_t start;

        oci_fake_init(&k, f, NULL);
        spec_path = ocid_path_join(f->dir, "spec-seen");
        test_write_file(k.bundle, "config.json",
                        "{\"process\":{\"args\":[\"init\"],\"env\":[\"A=1\"],\"cwd\":\"/w\",\"terminal\":true,"
                        "\"consoleSize\":{\"height\":1,\"width\":1}}}");
        oci_fake_known(&k, "{\"pid\":42,\"status\":\"running\"}");
        monitor = oci_fake_monitor(f, OCI_FAKE_EXEC_HEAD
                "printf '{\"data\": 4242}\\n' >&3\n"
                "printf '2024-01-01T00:00:00.000000000Z stdout F line1\\n' >&4\n"
                "printf '2024-01-01T00:00:00.000000000Z stdout P part\\n' >&4\n"
                "printf '2024-01-01T00:00:00.000000000Z stderr F e1\\n' >&4\n"
                "printf 'garbage-without-spaces\\n' >&4\n"
                "printf '2024-01-01T00:00:00.000000000Z stdin F x\\n' >&4\n"
                "printf '2024-01-01T00:00:00.000000000Z stdout X y\\n' >&4\n"
                "printf '2024-01-01T00:00:00.000000000Z stdout F\\n' >&4\n"
                "printf '2024-01-01T00:00:00.000000000Z stdout F \\n' >&4\n"
                "printf '2024-01-01T00:00:00.000000000Z stderr P e2' >&4\n"
                "printf '\\n2024-01-01T00:00:00.000000000Z stderr F \\n' >&4\n"
                "printf '{\"data\": 3}\\n' >&3\n");
        k.h.h.monitor = monitor;
        res = oci_fake_exec(&k, "{\"args\":[\"sh\",\"-c\",\"x\"],\"user\":{\"uid\":5,\"gid\":5}}", 0, 10000, 0,
                            NULL);
        assert_int_equal(res.exit_code, 3);
        assert_int_equal(res.timed_out, 0);
        assert_string_equal(res.out, "line1\npart\n");
        assert_string_equal(res.err, "e1\ne2\n");
        runtime_exec_result_done(&res);
        /* the bundle's process under the request's members, no terminal */
        assert_int_equal(ocid_json_read_file(spec_path, 65536, &spec, &e), 0);
        assert_true(json_object_object_get_ex(spec, "args", &v));
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "sh");
        assert_true(json_object_object_get_ex(spec, "env", &v));
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "A=1");
        assert_string_equal(ocid_json_get_string(spec, "cwd"), "/w");
        assert_true(json_object_object_get_ex(spec, "terminal", &v));
        assert_false(json_object_get_boolean(v));
        assert_false(json_object_object_get_ex(spec, "consoleSize", &v));
        assert_true(json_object_object_get_ex(spec, "user", &v));
        assert_int_equal(ocid_json_get_int64(v, "uid", 0), 5);

        /* the cap */
        res = oci_fake_exec(&k, "{\"args\":[\"x\"]}", 4, 10000, 0, NULL);
        assert_string_equal(res.out, "line");
        assert_int_equal(res.out_truncated, 1);
        assert_string_equal(res.err, "e1\ne");
        assert_int_equal(res.err_truncated, 1);
        runtime_exec_result_done(&res);

        /* the runtime could not start it */
        free(oci_fake_monitor(f, OCI_FAKE_EXEC_HEAD
                              "printf '{\"data\": -1, \"message\": \"exec: no such binary\"}\\n' >&3\n"));
        res = oci_fake_exec(&k, "{\"args\":[\"x\"]}", 0, 10000, EIO, "exec in container 'c1': exec: no such binary");
        free(oci_fake_monitor(f, OCI_FAKE_EXEC_HEAD "echo 'conmon: oops' >&2; exit 1\n"));
        res = oci_fake_exec(&k, "{\"args\":[\"x\"]}", 0, 10000, EIO, "conmon exited with status 1 without a report");
        free(oci_fake_monitor(f, OCI_FAKE_EXEC_HEAD "printf '{\"data\": 4242}\\n' >&3\n"));
        res = oci_fake_exec(&k, "{\"args\":[\"x\"]}", 0, 10000, EIO, "without the exit status");
        (void) res;

        /* timed out: the process is killed, and conmon reports its SIGKILL */
        free(oci_fake_monitor(f, OCI_FAKE_EXEC_HEAD
                              "sleep 30 & p=$!; printf '{\"data\": %d}\\n' $p >&3\n"
                              "printf '2024-01-01T00:00:00.000000000Z stdout F started\\n' >&4\n"
                              "wait $p; printf '{\"data\": %d}\\n' $? >&3\n"));
        start = ocid_now_monotonic_ns();
        res = oci_fake_exec(&k, "{\"args\":[\"x\"]}", 0, 300, 0, NULL);
        assert_true(ocid_now_monotonic_ns() - start < 5000 * 1000000LL);
        assert_int_equal(res.timed_out, 1);
        assert_int_equal(res.exit_code, -1);
        assert_string_equal(res.out, "started\n");
        runtime_exec_result_done(&res);

        res = oci_fake_exec(&k, "{\"cwd\":\"/\"}", 0, 300, EINVAL, "exec process has no args");
        res = oci_fake_exec(&k, "nonsense", 0, 300, EINVAL, "exec process is not a JSON object");
        oci_fake_done(&k);
}

#define OCI_TESTS                                                                           \
        cmocka_unit_test_setup_teardown(test_oci_missing, oci_setup, oci_teardown),         \
        cmocka_unit_test_setup_teardown(test_oci_not_regular, oci_setup, oci_teardown),     \
        cmocka_unit_test_setup_teardown(test_oci_not_executable, oci_setup, oci_teardown),  \
        cmocka_unit_test_setup_teardown(test_oci_version_fails, oci_setup, oci_teardown),   \
        cmocka_unit_test_setup_teardown(test_oci_ready, oci_setup, oci_teardown),           \
        cmocka_unit_test_setup_teardown(test_oci_fake_state, oci_setup, oci_teardown),      \
        cmocka_unit_test_setup_teardown(test_oci_fake_errors, oci_setup, oci_teardown),     \
        cmocka_unit_test_setup_teardown(test_oci_settings, oci_setup, oci_teardown),        \
        cmocka_unit_test_setup_teardown(test_oci_fake_create, oci_setup, oci_teardown),     \
        cmocka_unit_test_setup_teardown(test_oci_fake_exec, oci_setup, oci_teardown)

/* Containers with the real runtime and Debian's conmon, as root: small
 * bundles whose rootfs is busybox-static with a few applet links, cgroups
 * under a parent of the test's own, everything removed again whatever
 * happens. Each test skips when not root or when the runtime, conmon or
 * busybox is missing. */

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

static const char *oci_runtime_path;    /* set by the test's main() */
static const char *oci_rt_unavailable;  /* why the container tests skip, or NULL */

#define OCI_CONMON "/usr/bin/conmon"
#define OCI_BUSYBOX "/bin/busybox"
#define OCI_MAX_CTRS 8

struct oci_ctr {
        char id[65];
        char *bundle, *persist, *log;
        struct ocid_runtime_container c;
};

struct oci_rt {
        char *dir, *rootfs, *root, *exits, *cgparent;
        struct ocid_module *m;
        struct modules_handler h;
        struct oci_ctr *ctrs[OCI_MAX_CTRS];
        size_t n;
};

static char *oci_rt_args_v(const char *first, va_list ap)
{
        _cleanup_json_ struct json_object *a = json_object_new_array();

        for (const char *s = first; s; s = va_arg(ap, const char *))
                json_object_array_add(a, json_object_new_string(s));
        return xstrdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
}

/* A JSON array of the arguments. */
static char *oci_rt_args(const char *first, ...)
{
        va_list ap;
        char *s;

        va_start(ap, first);
        s = oci_rt_args_v(first, ap);
        va_end(ap);
        return s;
}

static char *oci_rt_read(const char *path)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        char *text = NULL;

        if (ocid_read_file(path, 64 * 1024 * 1024, &text, NULL, &e) < 0)
                return NULL;
        return text;
}

static void oci_rt_copy_file(const char *from, const char *to, mode_t mode)
{
        _cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int out = -1;
        char buf[65536];
        ssize_t n;

        assert_true(in >= 0);
        out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        assert_true(out >= 0);
        while ((n = read(in, buf, sizeof(buf))) > 0)
                assert_int_equal(ocid_write_all(out, buf, (size_t) n), 0);
        assert_int_equal(n, 0);
}

static int oci_rt_setup(void **state)
{
        static const char *const applets[] = { "sh", "sleep", "cat", "echo", "ls", "id", "ps", "yes", "head",
                                               "tr", "printf", "kill", "pwd", "true", NULL };
        struct oci_rt *t;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *bin = NULL, *busybox = NULL;
        char rnd[65];

        *state = NULL;
        if (geteuid() != 0)
                oci_rt_unavailable = "not root";
        else if (access(oci_runtime_path, X_OK) < 0)
                oci_rt_unavailable = "no runtime binary";
        else if (access(OCI_CONMON, X_OK) < 0)
                oci_rt_unavailable = "no conmon";
        else if (access(OCI_BUSYBOX, X_OK) < 0)
                oci_rt_unavailable = "no busybox";
        if (oci_rt_unavailable)
                return 0;

        (void) test_env_dir("OCID_MODULE_DIR");
        t = xzalloc(sizeof(*t));
        t->dir = test_tmpdir_new();
        assert_int_equal(chmod(t->dir, 0755), 0);
        t->rootfs = ocid_path_join(t->dir, "rootfs");
        t->root = ocid_path_join(t->dir, "state");
        t->exits = ocid_path_join(t->dir, "exits");
        assert_int_equal(ocid_random_id(rnd, &e), 0);
        t->cgparent = xasprintf("/ocid-test-%.16s", rnd);
        bin = ocid_path_join(t->rootfs, "bin");
        assert_int_equal(ocid_mkdir_p(bin, 0755, &e), 0);
        for (const char *const *d = (const char *const[]){ "proc", "dev", "tmp", "root", "etc", NULL }; *d; d++) {
                _cleanup_free_ char *p = ocid_path_join(t->rootfs, *d);

                assert_int_equal(mkdir(p, 0755), 0);
        }
        busybox = ocid_path_join(bin, "busybox");
        oci_rt_copy_file(OCI_BUSYBOX, busybox, 0755);
        for (size_t i = 0; applets[i]; i++) {
                _cleanup_free_ char *link = ocid_path_join(bin, applets[i]);

                assert_int_equal(symlink("busybox", link), 0);
        }
        assert_int_equal(mkdir(t->exits, 0700), 0);
        t->m = test_module_start(oci_module_name, NULL);
        t->h = (struct modules_handler){
                .h = { .size = sizeof(t->h.h), .name = "rt", .path = oci_runtime_path, .root = t->root,
                       .monitor = OCI_CONMON },
                .module = t->m,
        };
        *state = t;
        return 0;
}

/* The fixture, or NULL when the container tests cannot run here: then the
 * test says why and passes without doing anything (this cmocka reports a
 * skip() as "not ok # SKIP", which automake's TAP driver counts as a
 * failure). */
static struct oci_rt *oci_rt_get(void **state)
{
        if (!*state)
                print_message("# skipped: %s\n", oci_rt_unavailable ? oci_rt_unavailable : "no fixture");
        return *state;
}

#define OCI_RT_GET(t, state)                                                  \
        struct oci_rt *t = oci_rt_get(state);                                 \
        if (!t)                                                               \
                return

/* Writes the bundle's config.json: args (a JSON array) in a read-only
 * busybox rootfs, cgroups at <cgparent>/<id>, resources_extra (",..." JSON
 * members) added to linux.resources. */
static void oci_rt_write_config(struct oci_rt *t, struct oci_ctr *x, const char *args, const char *resources_extra,
                                const char *rootfs)
{
        _cleanup_free_ char *oom = oci_rt_read("/proc/self/oom_score_adj"), *config = NULL;
        _cleanup_free_ char *path = ocid_path_join(x->bundle, "config.json");
        const char *caps = "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FOWNER\",\"CAP_KILL\",\"CAP_SETGID\","
                           "\"CAP_SETUID\",\"CAP_NET_BIND_SERVICE\"]";
        _cleanup_error_ struct ocid_error *e = NULL;

        /* Root lacks CAP_SYS_RESOURCE here: never below our own score. */
        assert_non_null(oom);
        config = xasprintf(
                "{\"ociVersion\":\"1.0.2\","
                "\"process\":{\"terminal\":false,\"user\":{\"uid\":0,\"gid\":0},\"args\":%s,"
                "\"env\":[\"PATH=/bin\",\"HOME=/root\"],\"cwd\":\"/\","
                "\"capabilities\":{\"bounding\":%s,\"effective\":%s,\"permitted\":%s},"
                "\"noNewPrivileges\":true,\"oomScoreAdj\":%d},"
                "\"root\":{\"path\":\"%s\",\"readonly\":true},\"hostname\":\"ocid-test\","
                "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
                "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
                "\"options\":[\"nosuid\",\"mode=755\",\"size=65536k\"]},"
                "{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
                "\"options\":[\"nosuid\",\"nodev\",\"size=65536k\"]}],"
                "\"linux\":{\"cgroupsPath\":\"%s/%s\","
                "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]%s},"
                "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},"
                "{\"type\":\"network\"}]}}",
                args, caps, caps, caps, atoi(oom), rootfs ? rootfs : t->rootfs, t->cgparent, x->id,
                resources_extra ? resources_extra : "");
        assert_int_equal(ocid_write_file_atomic(path, config, strlen(config), 0644, &e), 0);
}

/* A new container (not created yet) running args. */
static struct oci_ctr *oci_rt_new(struct oci_rt *t, const char *args, const char *resources_extra)
{
        struct oci_ctr *x = xzalloc(sizeof(*x));
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *logs = ocid_path_join(t->dir, "logs"), *name = NULL;

        assert_true(t->n < OCI_MAX_CTRS);
        assert_int_equal(ocid_random_id(x->id, &e), 0);
        name = xasprintf("bundle-%.12s", x->id);
        x->bundle = ocid_path_join(t->dir, name);
        free(name);
        name = xasprintf("persist-%.12s", x->id);
        x->persist = ocid_path_join(t->dir, name);
        free(name);
        name = xasprintf("%.12s.log", x->id);
        x->log = ocid_path_join(logs, name);
        assert_int_equal(ocid_mkdir_p(x->bundle, 0700, &e), 0);
        assert_int_equal(ocid_mkdir_p(x->persist, 0700, &e), 0);
        assert_int_equal(ocid_mkdir_p(logs, 0700, &e), 0);
        x->c = (struct ocid_runtime_container){
                .size = sizeof(x->c), .id = x->id, .name = "test", .bundle = x->bundle, .persist_dir = x->persist,
                .log_path = x->log, .exit_dir = t->exits,
        };
        oci_rt_write_config(t, x, args, resources_extra, NULL);
        t->ctrs[t->n++] = x;
        return x;
}

static int32_t oci_rt_create(struct oci_rt *t, struct oci_ctr *x)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        int32_t pid = 0;
        int r;

        r = runtime_create(&t->h, &x->c, 30000, &pid, &e);
        assert_no_error(r, e);
        assert_true(pid > 0);
        return pid;
}

static void oci_rt_start(struct oci_rt *t, struct oci_ctr *x)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        r = runtime_start(&t->h, &x->c, &e);
        assert_no_error(r, e);
}

/* A running container: create and start. */
static struct oci_ctr *oci_rt_run(struct oci_rt *t, const char *args, const char *resources_extra)
{
        struct oci_ctr *x = oci_rt_new(t, args, resources_extra);

        (void) oci_rt_create(t, x);
        oci_rt_start(t, x);
        return x;
}

static struct ocid_runtime_state oci_rt_state(struct oci_rt *t, struct oci_ctr *x)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_runtime_state st = { 0 };
        int r;

        r = runtime_state(&t->h, &x->c, &st, &e);
        assert_no_error(r, e);
        return st;
}

static void oci_rt_assert_gone(struct oci_rt *t, struct oci_ctr *x)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_runtime_state st = { 0 };
        int r;

        r = runtime_state(&t->h, &x->c, &st, &e);
        assert_error(r, e, ENOENT, "does not exist");
}

static void oci_rt_sleep_ms(int ms)
{
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000 };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* The exit status conmon wrote to <exits>/<id>, waiting up to 20 s. */
static int oci_rt_wait_exit(struct oci_rt *t, struct oci_ctr *x)
{
        _cleanup_free_ char *path = ocid_path_join(t->exits, x->id);

        for (int i = 0; i < 2000; i++) {
                _cleanup_free_ char *text = oci_rt_read(path);
                int64_t v;

                if (text && ocid_parse_int64(text, &v) == 0)
                        return (int) v;
                oci_rt_sleep_ms(10);
        }
        fail_msg("no exit file for '%s'", x->id);
        return -1;
}

/* The log's content once it contains needle, waiting up to 20 s. */
static char *oci_rt_wait_log(const char *path, const char *needle)
{
        for (int i = 0; i < 2000; i++) {
                char *text = oci_rt_read(path);

                if (text && strstr(text, needle))
                        return text;
                free(text);
                oci_rt_sleep_ms(10);
        }
        fail_msg("'%s' never contained '%s'", path, needle);
        return NULL;
}

/* True when the log has the record "<RFC 3339 time with ns> <stream> <tag>
 * <text>" on a line of its own. */
static bool oci_rt_log_has(const char *log, const char *stream, char tag, const char *text)
{
        _cleanup_free_ char *tail = xasprintf(" %s %c %s\n", stream, tag, text);

        for (const char *line = log; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                const char *p = line;
                int y, mo, d, h, mi, s, n = 0;

                if (sscanf(p, "%4d-%2d-%2dT%2d:%2d:%2d.%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 || n != 20)
                        continue;
                p += n;
                for (int i = 0; i < 9; i++, p++)
                        if (*p < '0' || *p > '9')
                                goto next;
                if (*p == 'Z')
                        p++;
                else if ((*p == '+' || *p == '-') && p[3] == ':')
                        p += 6;
                else
                        continue;
                if (strncmp(p, tail, strlen(tail)) == 0)
                        return true;
next:;
        }
        return false;
}

/* The content of a cgroup v1 file of the container, trimmed. */
static char *oci_rt_cgroup(struct oci_rt *t, struct oci_ctr *x, const char *controller, const char *file)
{
        _cleanup_free_ char *path = xasprintf("/sys/fs/cgroup/%s%s/%s/%s", controller, t->cgparent, x->id, file);
        char *text = oci_rt_read(path);
        size_t len;

        assert_non_null(text);
        len = strlen(text);
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
                text[--len] = '\0';
        return text;
}

/* The conmon pid file's process, when it is alive (not a zombie). */
static pid_t oci_rt_conmon(struct oci_ctr *x)
{
        _cleanup_free_ char *path = ocid_path_join(x->persist, "conmon.pid"), *text = oci_rt_read(path);
        _cleanup_free_ char *stat_path = NULL, *stat = NULL;
        int64_t pid;
        const char *p;

        if (!text || ocid_parse_int64(text, &pid) < 0 || pid <= 1)
                return 0;
        stat_path = xasprintf("/proc/%lld/stat", (long long) pid);
        stat = oci_rt_read(stat_path);
        if (!stat || !(p = strrchr(stat, ')')) || p[2] == 'Z' || !strstr(stat, "(conmon)"))
                return 0;
        return (pid_t) pid;
}

/* Waits up to 5 s for x's conmon to be gone. */
static void oci_rt_assert_conmon_gone(struct oci_ctr *x)
{
        for (int i = 0; i < 500 && oci_rt_conmon(x) > 0; i++)
                oci_rt_sleep_ms(10);
        assert_int_equal(oci_rt_conmon(x), 0);
}

/* Removes the container's cgroups and its parent from every hierarchy. */
static void oci_rt_remove_cgroups(struct oci_rt *t)
{
        _cleanup_closedir_ DIR *d = opendir("/sys/fs/cgroup");
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_free_ char *parent = NULL;

                if (de->d_name[0] == '.')
                        continue;
                parent = xasprintf("/sys/fs/cgroup/%s%s", de->d_name, t->cgparent);
                for (size_t i = 0; i < t->n; i++) {
                        _cleanup_free_ char *cg = xasprintf("%s/%s", parent, t->ctrs[i]->id);

                        (void) rmdir(cg);
                }
                (void) rmdir(parent);
        }
}

static int oci_rt_teardown(void **state)
{
        struct oci_rt *t = *state;

        if (!t)
                return 0;
        if (!t->m && t->n > 0) {
                t->m = test_module_start(oci_module_name, NULL);
                t->h.module = t->m;
        }
        for (size_t i = 0; i < t->n; i++) {
                struct oci_ctr *x = t->ctrs[i];
                _cleanup_error_ struct ocid_error *e = NULL;
                pid_t conmon;

                if (t->m)
                        (void) runtime_delete(&t->h, &x->c, 1, &e);
                conmon = oci_rt_conmon(x);
                if (conmon > 0)
                        (void) kill(conmon, SIGKILL);
        }
        oci_rt_remove_cgroups(t);
        module_fini(t->m);
        for (size_t i = 0; i < t->n; i++) {
                free(t->ctrs[i]->bundle);
                free(t->ctrs[i]->persist);
                free(t->ctrs[i]->log);
                free(t->ctrs[i]);
        }
        test_tmpdir_free(t->dir);
        free(t->rootfs);
        free(t->root);
        free(t->exits);
        free(t->cgparent);
        free(t);
        return 0;
}

/* create → created with a pid → start → running → SIGTERM (trapped: exit
 * 7) → the exit file and state say 7 → delete → gone. The log has the CRI
 * format, with a partial line. */
static void test_rt_lifecycle(void **state)
{
        OCI_RT_GET(t, state);
        _cleanup_free_ char *args = oci_rt_args("sh", "-c",
                "trap 'exit 7' TERM; echo hello; printf partial; while :; do sleep 1 & wait; done", NULL);
        struct oci_ctr *x = oci_rt_new(t, args, NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *log = NULL, *proc = NULL;
        struct ocid_runtime_state st;
        int64_t now = ocid_now_realtime_ns();
        int32_t pid;
        int r;

        pid = oci_rt_create(t, x);
        st = oci_rt_state(t, x);
        assert_string_equal(st.status, "created");
        assert_int_equal(st.pid, pid);
        assert_int_equal(st.exited, 0);
        assert_int_equal(st.oom_killed, 0);
        assert_true(st.created_ns > now - 60 * 1000000000LL && st.created_ns < now + 60 * 1000000000LL);
        proc = xasprintf("/proc/%d", (int) pid);
        assert_int_equal(access(proc, F_OK), 0);
        assert_true(oci_rt_conmon(x) > 0);

        oci_rt_start(t, x);
        st = oci_rt_state(t, x);
        assert_string_equal(st.status, "running");
        assert_int_equal(st.pid, pid);

        log = oci_rt_wait_log(x->log, "partial");
        assert_true(oci_rt_log_has(log, "stdout", 'F', "hello"));
        assert_true(oci_rt_log_has(log, "stdout", 'P', "partial"));

        r = runtime_kill(&t->h, &x->c, SIGTERM, 0, &e);
        assert_no_error(r, e);
        assert_int_equal(oci_rt_wait_exit(t, x), 7);
        oci_rt_assert_conmon_gone(x);
        st = oci_rt_state(t, x);
        assert_string_equal(st.status, "stopped");
        assert_int_equal(st.pid, 0);
        assert_int_equal(st.exited, 1);
        assert_int_equal(st.exit_code, 7);
        assert_true(st.finished_ns >= st.created_ns);

        r = runtime_kill(&t->h, &x->c, SIGTERM, 0, &e);
        assert_error(r, e, ESRCH, "is not running");
        ocid_error_clear(&e);
        r = runtime_delete(&t->h, &x->c, 0, &e);
        assert_no_error(r, e);
        oci_rt_assert_gone(t, x);
        r = runtime_delete(&t->h, &x->c, 0, &e);
        assert_no_error(r, e);
        r = runtime_kill(&t->h, &x->c, SIGKILL, 0, &e);
        assert_error(r, e, ENOENT, "does not exist");
        ocid_error_clear(&e);
        r = runtime_start(&t->h, &x->c, &e);
        assert_error(r, e, ENOENT, "does not exist");
}

/* Exit statuses: a process that exits 3, one killed by SIGKILL (137). */
static void test_rt_exit_codes(void **state)
{
        OCI_RT_GET(t, state);
        _cleanup_free_ char *exit3 = oci_rt_args("sh", "-c", "exit 3", NULL);
        _cleanup_free_ char *sleeper = oci_rt_args("sleep", "1000", NULL);
        struct oci_ctr *a = oci_rt_run(t, exit3, NULL), *b;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_runtime_state st;
        int r;

        assert_int_equal(oci_rt_wait_exit(t, a), 3);
        oci_rt_assert_conmon_gone(a);
        st = oci_rt_state(t, a);
        assert_string_equal(st.status, "stopped");
        assert_int_equal(st.exited, 1);
        assert_int_equal(st.exit_code, 3);
        r = runtime_delete(&t->h, &a->c, 0, &e);
        assert_no_error(r, e);

        b = oci_rt_run(t, sleeper, NULL);
        r = runtime_kill(&t->h, &b->c, SIGKILL, 1, &e);
        assert_no_error(r, e);
        assert_int_equal(oci_rt_wait_exit(t, b), 137);
        r = runtime_delete(&t->h, &b->c, 0, &e);
        assert_no_error(r, e);
        oci_rt_assert_gone(t, b);
}

/* A create the runtime refuses reports the runtime's reason and leaves
 * nothing behind; an existing ID and a bad log path are refused. */
static void test_rt_create_fails(void **state)
{
        OCI_RT_GET(t, state);
        _cleanup_free_ char *args = oci_rt_args("sleep", "1000", NULL);
        _cleanup_free_ char *state_dir = NULL, *prefix = NULL;
        struct oci_ctr *bad = oci_rt_new(t, args, NULL), *x;
        struct ocid_runtime_container c;
        _cleanup_error_ struct ocid_error *e = NULL;
        int32_t pid = 0;
        int r;

        oci_rt_write_config(t, bad, args, NULL, "/nonexistent-ocid-rootfs");
        r = runtime_create(&t->h, &bad->c, 30000, &pid, &e);
        prefix = xasprintf("module '%s': create: create container '%s': ", oci_module_name, bad->id);
        assert_error(r, e, EIO, prefix);
        /* the runtime said something beyond the prefix */
        assert_true(strlen(e->message) > strlen(prefix) + 5);
        print_message("# runtime's refusal: %s\n", e->message);
        ocid_error_clear(&e);
        oci_rt_assert_gone(t, bad);
        oci_rt_assert_conmon_gone(bad);
        state_dir = ocid_path_join(t->root, bad->id);
        assert_int_equal(access(state_dir, F_OK), -1);

        x = oci_rt_new(t, args, NULL);
        (void) oci_rt_create(t, x);
        r = runtime_create(&t->h, &x->c, 30000, &pid, &e);
        assert_error(r, e, EEXIST, "exists already");
        ocid_error_clear(&e);
        assert_string_equal(oci_rt_state(t, x).status, "created");

        c = bad->c;
        c.log_path = "/tmp/a:b.log";
        r = runtime_create(&t->h, &c, 30000, &pid, &e);
        assert_error(r, e, EINVAL, "contains ':'");
        ocid_error_clear(&e);
        c = bad->c;
        c.persist_dir = NULL;
        r = runtime_create(&t->h, &c, 30000, &pid, &e);
        assert_error(r, e, EINVAL, "persist_dir is not an absolute path");
        ocid_error_clear(&e);

        /* a created container is deleted without force (its process never ran) */
        r = runtime_delete(&t->h, &x->c, 1, &e);
        assert_no_error(r, e);
        oci_rt_assert_gone(t, x);
        oci_rt_assert_conmon_gone(x);
}

/* A running container is not deleted without force; with force it is
 * killed, its exit recorded, and it is gone. */
static void test_rt_delete_running(void **state)
{
        OCI_RT_GET(t, state);
        _cleanup_free_ char *args = oci_rt_args("sleep", "1000", NULL);
        struct oci_ctr *x = oci_rt_run(t, args, NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        r = runtime_delete(&t->h, &x->c, 0, &e);
        assert_error(r, e, EBUSY, "is running");
        ocid_error_clear(&e);
        assert_string_equal(oci_rt_state(t, x).status, "running");
        r = runtime_delete(&t->h, &x->c, 1, &e);
        assert_no_error(r, e);
        /* delete waited for conmon: the exit is recorded already */
        assert_int_equal(oci_rt_conmon(x), 0);
        assert_int_equal(oci_rt_wait_exit(t, x), 137);
        oci_rt_assert_gone(t, x);
}

static struct ocid_runtime_exec_result oci_rt_exec(struct oci_rt *t, struct oci_ctr *x, const char *process,
                                                   int64_t timeout_ms, uint64_t max_output)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_runtime_exec_result res = { 0 };
        int r;

        r = runtime_exec_sync(&t->h, &x->c, process, timeout_ms, max_output, &res, &e);
        assert_no_error(r, e);
        return res;
}

/* An OCI process object running args. */
static char *oci_rt_process(const char *first, ...)
{
        _cleanup_free_ char *args = NULL;
        va_list ap;

        va_start(ap, first);
        args = oci_rt_args_v(first, ap);
        va_end(ap);
        return xasprintf("{\"args\":%s}", args);
}

#define OCI_RT_REAPING_INIT "while :; do sleep 1 & wait; done"

static void test_rt_exec(void **state)
{
        OCI_RT_GET(t, state);
        _cleanup_free_ char *args = oci_rt_args("sh", "-c", OCI_RT_REAPING_INIT, NULL);
        _cleanup_free_ char *p1 = oci_rt_process("sh", "-c", "echo out1; echo err1 >&2; printf part; exit 5", NULL);
        _cleanup_free_ char *p3 = oci_rt_process("sh", "-c", "kill -9 $$", NULL);
        _cleanup_free_ char *p4 = oci_rt_process("/nonexistent-binary", NULL);
        struct oci_ctr *x = oci_rt_run(t, args, NULL), *stopped;
        struct ocid_runtime_exec_result res;
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        res = oci_rt_exec(t, x, p1, 30000, 0);
        assert_int_equal(res.exit_code, 5);
        assert_int_equal(res.timed_out, 0);
        assert_string_equal(res.out, "out1\npart");
        assert_int_equal(res.out_len, 9);
        assert_string_equal(res.err, "err1\n");
        assert_int_equal(res.out_truncated, 0);
        runtime_exec_result_done(&res);

        /* user, environment and working directory come from the bundle;
         * the given members replace them */
        res = oci_rt_exec(t, x, "{\"args\":[\"sh\",\"-c\",\"echo $HOME; pwd; id -u\"],\"cwd\":\"/tmp\"}", 0, 0);
        assert_int_equal(res.exit_code, 0);
        assert_string_equal(res.out, "/root\n/tmp\n0\n");
        assert_string_equal(res.err, "");
        runtime_exec_result_done(&res);

        res = oci_rt_exec(t, x, p3, 30000, 0);
        assert_int_equal(res.exit_code, 137);
        assert_int_equal(res.timed_out, 0);
        runtime_exec_result_done(&res);

        r = runtime_exec_sync(&t->h, &x->c, p4, 30000, 0, &res, &e);
        assert_error(r, e, EIO, "exec in container");
        print_message("# runtime's refusal: %s\n", e->message);
        ocid_error_clear(&e);
        r = runtime_exec_sync(&t->h, &x->c, "{\"cwd\":\"/\"}", 30000, 0, &res, &e);
        assert_error(r, e, EINVAL, "exec process has no args");
        ocid_error_clear(&e);
        r = runtime_exec_sync(&t->h, &x->c, "[]", 30000, 0, &res, &e);
        assert_error(r, e, EINVAL, "exec process is not a JSON object");
        ocid_error_clear(&e);

        /* no scratch files left behind */
        {
                _cleanup_closedir_ DIR *d = opendir(x->persist);
                struct dirent *de;

                assert_non_null(d);
                while ((de = readdir(d)))
                        assert_null(ocid_startswith(de->d_name, "exec-"));
        }

        stopped = oci_rt_new(t, args, NULL);
        (void) oci_rt_create(t, stopped);
        r = runtime_kill(&t->h, &stopped->c, SIGKILL, 0, &e);
        assert_no_error(r, e);
        (void) oci_rt_wait_exit(t, stopped);
        r = runtime_exec_sync(&t->h, &stopped->c, p1, 30000, 0, &res, &e);
        assert_error(r, e, ESRCH, "is not running");
}

/* Output beyond the cap is read and dropped: 16 MiB by default. */
static void test_rt_exec_cap(void **state)
{
        OCI_RT_GET(t, state);
        _cleanup_free_ char *args = oci_rt_args("sh", "-c", OCI_RT_REAPING_INIT, NULL);
        _cleanup_free_ char *flood = oci_rt_process("head", "-c", "20000000", "/dev/zero", NULL);
        _cleanup_free_ char *both = oci_rt_process("sh", "-c",
                "yes ocid | head -c 3000; yes err | head -c 5000 >&2; exit 2", NULL);
        struct oci_ctr *x = oci_rt_run(t, args, NULL);
        struct ocid_runtime_exec_result res;
        size_t zeros = 0;

        res = oci_rt_exec(t, x, flood, 60000, 0);
        assert_int_equal(res.exit_code, 0);
        assert_int_equal(res.out_len, 16 * 1024 * 1024);
        assert_int_equal(res.out_truncated, 1);
        for (size_t i = 0; i < res.out_len; i++)
                zeros += res.out[i] == '\0';
        assert_int_equal(zeros, res.out_len);
        assert_int_equal(res.err_len, 0);
        runtime_exec_result_done(&res);

        res = oci_rt_exec(t, x, both, 60000, 1000);
        assert_int_equal(res.exit_code, 2);
        assert_int_equal(res.out_len, 1000);
        assert_int_equal(res.out_truncated, 1);
        assert_int_equal(res.err_len, 1000);
        assert_int_equal(res.err_truncated, 1);
        assert_int_equal(strncmp(res.out, "ocid\nocid\n", 10), 0);
        assert_int_equal(strncmp(res.err, "err\nerr\n", 8), 0);
        runtime_exec_result_done(&res);
}

/* Every process whose command line contains marker (*ret_marked of them),
 * then their children. */
static size_t oci_rt_find(const char *marker, pid_t *pids, size_t max, bool with_children, size_t *ret_marked)
{
        _cleanup_closedir_ DIR *d = opendir("/proc");
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)) && n < max) {
                _cleanup_free_ char *path = NULL, *cmd = NULL;
                size_t len = 0;
                int64_t pid;

                if (ocid_parse_int64(de->d_name, &pid) < 0)
                        continue;
                path = xasprintf("/proc/%s/cmdline", de->d_name);
                if (ocid_read_file(path, 65536, &cmd, &len, NULL) < 0)
                        continue;
                for (size_t i = 0; i < len; i++)
                        if (cmd[i] == '\0')
                                cmd[i] = ' ';
                if (strstr(cmd, marker))
                        pids[n++] = (pid_t) pid;
        }
        if (ret_marked)
                *ret_marked = n;
        if (!with_children)
                return n;
        for (size_t k = 0, parents = n; k < parents; k++) {
                _cleanup_closedir_ DIR *d2 = opendir("/proc");

                while ((de = readdir(d2)) && n < max) {
                        _cleanup_free_ char *path = NULL, *stat = NULL;
                        int64_t pid;
                        int ppid = 0;
                        const char *p;

                        if (ocid_parse_int64(de->d_name, &pid) < 0)
                                continue;
                        path = xasprintf("/proc/%s/stat", de->d_name);
                        stat = oci_rt_read(path);
                        if (stat && (p = strrchr(stat, ')')) && sscanf(p + 2, "%*c %d", &ppid) == 1 &&
                            ppid == pids[k])
                                pids[n++] = (pid_t) pid;
                }
        }
        return n;
}

struct oci_rt_exec_job {
        struct oci_rt *t;
        struct oci_ctr *x;
        const char *process;
        int64_t timeout_ms;
        uint64_t max_output;
        struct ocid_runtime_exec_result res;
        struct ocid_error *e;
        int r;
        int64_t elapsed_ns;
};

static void *oci_rt_exec_thread(void *arg)
{
        struct oci_rt_exec_job *j = arg;
        int64_t start = ocid_now_monotonic_ns();

        j->res.size = 0;
        j->r = runtime_exec_sync(&j->t->h, &j->x->c, j->process, j->timeout_ms, j->max_output, &j->res, &j->e);
        j->elapsed_ns = ocid_now_monotonic_ns() - start;
        return NULL;
}

/* A timed-out exec is killed with its process group and reaped before
 * exec_sync returns: nothing of it is left, not even a zombie. */
static void test_rt_exec_timeout(void **state)
{
        OCI_RT_GET(t, state);
        _cleanup_free_ char *args = oci_rt_args("sh", "-c", OCI_RT_REAPING_INIT, NULL);
        struct oci_ctr *x = oci_rt_run(t, args, NULL);
        _cleanup_free_ char *marker = NULL, *process = NULL, *flood = NULL;
        struct oci_rt_exec_job job = { .t = t, .x = x, .timeout_ms = 1500 };
        pid_t pids[16], left[16];
        size_t n = 0;
        pthread_t th;
        char rnd[65];
        _cleanup_error_ struct ocid_error *e = NULL;

        assert_int_equal(ocid_random_id(rnd, &e), 0);
        marker = xasprintf("ocid-marker-%.16s", rnd);
        process = oci_rt_process("sh", "-c", "sleep 1000 & sleep 1001; echo never", marker, NULL);
        job.process = process;
        assert_int_equal(pthread_create(&th, NULL, oci_rt_exec_thread, &job), 0);
        /* the exec's shell (it carries the marker) and its two sleeps */
        for (int i = 0; i < 1000; i++) {
                size_t marked = 0;

                n = oci_rt_find(marker, pids, 16, true, &marked);
                if (n == 3 && marked == 1)
                        break;
                oci_rt_sleep_ms(5);
        }
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_no_error(job.r, job.e);
        assert_int_equal(n, 3);
        assert_int_equal(job.res.timed_out, 1);
        assert_int_equal(job.res.exit_code, -1);
        assert_null(strstr(job.res.out, "never"));
        assert_true(job.elapsed_ns >= 1400 * 1000000LL);
        assert_true(job.elapsed_ns < 10000 * 1000000LL);
        runtime_exec_result_done(&job.res);
        /* the shell was conmon's: reaped before exec_sync returned */
        {
                _cleanup_free_ char *proc = xasprintf("/proc/%d", (int) pids[0]);

                assert_int_equal(access(proc, F_OK), -1);
        }
        /* its orphaned sleeps are the container init's to reap (it waits) */
        for (int i = 0; i < 300; i++) {
                bool any = false;

                for (size_t k = 1; k < n; k++) {
                        _cleanup_free_ char *proc = xasprintf("/proc/%d", (int) pids[k]);

                        any |= access(proc, F_OK) == 0;
                }
                if (!any)
                        break;
                oci_rt_sleep_ms(10);
        }
        for (size_t k = 0; k < n; k++) {
                _cleanup_free_ char *proc = xasprintf("/proc/%d", (int) pids[k]);

                assert_int_equal(access(proc, F_OK), -1);
        }
        assert_int_equal(oci_rt_find(marker, left, 16, false, NULL), 0);

        /* a flood that never ends: capped, killed at the timeout */
        flood = oci_rt_process("yes", marker, NULL);
        memset(&job.res, 0, sizeof(job.res));
        job.process = flood;
        job.timeout_ms = 1000;
        job.max_output = 65536;
        oci_rt_exec_thread(&job);
        assert_no_error(job.r, job.e);
        assert_int_equal(job.res.timed_out, 1);
        assert_int_equal(job.res.out_len, 65536);
        assert_int_equal(job.res.out_truncated, 1);
        runtime_exec_result_done(&job.res);
        assert_int_equal(oci_rt_find(marker, left, 16, false, NULL), 0);
}

/* Resources applied to the running container show in its cgroup. */
static void test_rt_update(void **state)
{
        OCI_RT_GET(t, state);
        _cleanup_free_ char *args = oci_rt_args("sh", "-c", OCI_RT_REAPING_INIT, NULL);
        struct oci_ctr *x = oci_rt_run(t, args, NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *mem = NULL, *shares = NULL;
        int r;

        r = runtime_update(&t->h, &x->c, "{\"memory\":{\"limit\":67108864},\"cpu\":{\"shares\":512}}", &e);
        assert_no_error(r, e);
        mem = oci_rt_cgroup(t, x, "memory", "memory.limit_in_bytes");
        assert_string_equal(mem, "67108864");
        shares = oci_rt_cgroup(t, x, "cpu", "cpu.shares");
        assert_string_equal(shares, "512");
}

/* pause freezes every process (freezer FROZEN, status paused), resume thaws. */
static void test_rt_pause(void **state)
{
        OCI_RT_GET(t, state);
        _cleanup_free_ char *args = oci_rt_args("sh", "-c", OCI_RT_REAPING_INIT, NULL);
        struct oci_ctr *x = oci_rt_run(t, args, NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *frozen = NULL, *thawed = NULL;
        int r;

        r = runtime_pause(&t->h, &x->c, &e);
        assert_no_error(r, e);
        frozen = oci_rt_cgroup(t, x, "freezer", "freezer.state");
        assert_string_equal(frozen, "FROZEN");
        assert_string_equal(oci_rt_state(t, x).status, "paused");
        r = runtime_resume(&t->h, &x->c, &e);
        assert_no_error(r, e);
        thawed = oci_rt_cgroup(t, x, "freezer", "freezer.state");
        assert_string_equal(thawed, "THAWED");
        assert_string_equal(oci_rt_state(t, x).status, "running");

        r = runtime_kill(&t->h, &x->c, SIGKILL, 0, &e);
        assert_no_error(r, e);
        (void) oci_rt_wait_exit(t, x);
        r = runtime_pause(&t->h, &x->c, &e);
        assert_error(r, e, ESRCH, "is not running");
}

/* After the log is renamed away, reopen_log makes conmon write a new file. */
static void test_rt_reopen_log(void **state)
{
        OCI_RT_GET(t, state);
        _cleanup_free_ char *args = oci_rt_args("sh", "-c",
                "i=0; while :; do echo line$i; i=$((i+1)); sleep 0.05; done", NULL);
        struct oci_ctr *x = oci_rt_run(t, args, NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *old = xasprintf("%s.1", x->log), *first = NULL, *second = NULL;
        _cleanup_free_ char *old_text = NULL, *old_later = NULL;
        int r;

        first = oci_rt_wait_log(x->log, "line2\n");
        assert_int_equal(rename(x->log, old), 0);
        r = runtime_reopen_log(&t->h, &x->c, &e);
        assert_no_error(r, e);
        assert_int_equal(access(x->log, F_OK), 0);
        old_text = oci_rt_read(old);
        second = oci_rt_wait_log(x->log, "line");
        oci_rt_sleep_ms(200);
        old_later = oci_rt_read(old);
        assert_string_equal(old_text, old_later);
        assert_true(oci_rt_log_has(old_text, "stdout", 'F', "line0"));
        assert_null(strstr(second, " F line0\n"));

        r = runtime_kill(&t->h, &x->c, SIGKILL, 0, &e);
        assert_no_error(r, e);
        (void) oci_rt_wait_exit(t, x);
        oci_rt_assert_conmon_gone(x);
        r = runtime_reopen_log(&t->h, &x->c, &e);
        assert_error(r, e, ESRCH, "has no running monitor");
}

/* The container lives in conmon: after the module is finalised, a new
 * instance (a restarted daemon) still sees, execs in, kills and deletes it. */
static void test_rt_restart(void **state)
{
        OCI_RT_GET(t, state);
        _cleanup_free_ char *args = oci_rt_args("sh", "-c", OCI_RT_REAPING_INIT, NULL);
        _cleanup_free_ char *echo = oci_rt_process("echo", "still here", NULL);
        struct oci_ctr *x = oci_rt_run(t, args, NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_runtime_exec_result res;
        pid_t conmon = oci_rt_conmon(x);
        int32_t pid = oci_rt_state(t, x).pid;
        int r;

        assert_true(conmon > 0);
        module_fini(t->m);
        t->m = NULL;
        oci_rt_sleep_ms(100);
        assert_int_equal(oci_rt_conmon(x), conmon);
        t->m = test_module_start(oci_module_name, NULL);
        t->h.module = t->m;
        assert_string_equal(oci_rt_state(t, x).status, "running");
        assert_int_equal(oci_rt_state(t, x).pid, pid);
        res = oci_rt_exec(t, x, echo, 30000, 0);
        assert_string_equal(res.out, "still here\n");
        runtime_exec_result_done(&res);
        r = runtime_kill(&t->h, &x->c, SIGKILL, 0, &e);
        assert_no_error(r, e);
        assert_int_equal(oci_rt_wait_exit(t, x), 137);
        r = runtime_delete(&t->h, &x->c, 0, &e);
        assert_no_error(r, e);
        oci_rt_assert_gone(t, x);
}

/* conmon notices the kernel's OOM killer in the container's cgroup. */
static void test_rt_oom(void **state)
{
        OCI_RT_GET(t, state);
        _cleanup_free_ char *args = oci_rt_args("sh", "-c",
                "x=$(yes aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | head -c 200000000); echo survived", NULL);
        struct oci_ctr *x = oci_rt_run(t, args, ",\"memory\":{\"limit\":33554432,\"swap\":33554432}");
        struct ocid_runtime_state st;

        assert_int_equal(oci_rt_wait_exit(t, x), 137);
        oci_rt_assert_conmon_gone(x);
        st = oci_rt_state(t, x);
        assert_int_equal(st.exited, 1);
        assert_int_equal(st.exit_code, 137);
        assert_int_equal(st.oom_killed, 1);
}

#define OCI_RT_TEST(f) cmocka_unit_test_setup_teardown(f, oci_rt_setup, oci_rt_teardown)
#define OCI_RT_TESTS                                                          \
        OCI_RT_TEST(test_rt_lifecycle),                                       \
        OCI_RT_TEST(test_rt_exit_codes),                                      \
        OCI_RT_TEST(test_rt_create_fails),                                    \
        OCI_RT_TEST(test_rt_delete_running),                                  \
        OCI_RT_TEST(test_rt_exec),                                            \
        OCI_RT_TEST(test_rt_exec_cap),                                        \
        OCI_RT_TEST(test_rt_exec_timeout),                                    \
        OCI_RT_TEST(test_rt_update),                                          \
        OCI_RT_TEST(test_rt_pause),                                           \
        OCI_RT_TEST(test_rt_reopen_log),                                      \
        OCI_RT_TEST(test_rt_restart),                                         \
        OCI_RT_TEST(test_rt_oom)
