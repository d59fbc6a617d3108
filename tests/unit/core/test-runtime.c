/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to runtime modules: readiness against the test runtime module
 * (ready when the handler's binary is executable), and every container op
 * against a module defined in this program (wrapped as the loader would
 * have loaded it), which records its calls and fails on demand. */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../test-common.h"
#include "../modules/module-test.h"

#include "modules.h"
#include "runtime.h"

static int setup(void **state)
{
        setenv("OCID_MODULE_DIR", test_env_dir("OCID_TEST_MODULE_DIR"), 1);
        return 0;
}

static struct modules_handler handler(struct ocid_module *m, const char *path)
{
        struct modules_handler h = {
                .h = { .size = sizeof(h.h), .name = "fake", .path = path },
                .module = m,
        };

        return h;
}

static void test_handler_ready(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-runtime", NULL);
        struct modules_handler h = handler(m, "/bin/sh");
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = runtime_handler_status(&h, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);
        assert_null(reason);
        assert_null(message);

        r = runtime_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);
}

static void test_handler_not_ready(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-runtime", NULL);
        struct modules_handler h = handler(m, "/nonexistent/runtime");
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL;
        int r;

        r = runtime_handler_status(&h, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        assert_string_equal(reason, "FakeBinaryMissing");
        assert_string_equal(message, "handler 'fake': '/nonexistent/runtime' is not executable");
}

static void test_handler_error(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-runtime", NULL);
        struct modules_handler h = handler(m, NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = runtime_handler_status(&h, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-runtime': handler_status: handler 'fake' has no path");
        assert_null(reason);
        assert_null(message);
        ocid_error_clear(&e);

        r = runtime_handler_status(NULL, &reason, &message, &e);
        assert_error(r, e, EINVAL, "no runtime handler");
}

static void test_wrong_kind(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-network", NULL);
        struct modules_handler h = handler(m, "/bin/sh");
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = runtime_handler_status(&h, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-network' is a network module, not a runtime module");
        ocid_error_clear(&e);
        r = runtime_status(m, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-network' is a network module, not a runtime module");
}

/* The test module, with every container op. */

struct rec {
        char *calls;            /* "op(args) " appended per call */
        int fail;               /* the next op fails with this errno */
        int32_t pid;            /* what create reports */
        const char *status;     /* what state reports */
        int32_t state_pid;
        const char *out;        /* what exec_sync captures */
        uint64_t out_len;       /* its length as reported */
        int out_null;
        uint32_t seen_size;     /* the container size the op was given */
};

static struct rec rec;

static void rec_call(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void rec_call(const char *fmt, ...)
{
        va_list ap;
        char *call, *all;

        va_start(ap, fmt);
        assert_true(vasprintf(&call, fmt, ap) >= 0);
        va_end(ap);
        all = xasprintf("%s%s ", rec.calls ? rec.calls : "", call);
        free(call);
        free(rec.calls);
        rec.calls = all;
}

static int rec_result(struct ocid_error **err)
{
        int code = rec.fail;

        rec.fail = 0;
        if (!code)
                return 0;
        return ocid_error_msg(err, code, "the test asked for errno %d", code);
}

static int t_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        *ret_state = &rec;
        return 0;
}

static void t_seen(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c)
{
        assert_ptr_equal(state, &rec);
        assert_string_equal(h->name, "t");
        rec.seen_size = c->size;
}

static int t_create(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                    int64_t timeout_ms, int32_t *ret_pid, struct ocid_error **err)
{
        t_seen(state, h, c);
        rec_call("create(%s,%s,%lld)", c->id, c->bundle ? c->bundle : "-", (long long) timeout_ms);
        if (rec.fail)
                return rec_result(err);
        *ret_pid = rec.pid;
        return 0;
}

static int t_start(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                   struct ocid_error **err)
{
        t_seen(state, h, c);
        rec_call("start(%s)", c->id);
        return rec_result(err);
}

static int t_kill(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                  int32_t signal, int32_t all, struct ocid_error **err)
{
        t_seen(state, h, c);
        rec_call("kill(%s,%d,%d)", c->id, (int) signal, (int) all);
        return rec_result(err);
}

static int t_delete(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                    int32_t force, struct ocid_error **err)
{
        t_seen(state, h, c);
        rec_call("delete(%s,%d)", c->id, (int) force);
        return rec_result(err);
}

static int t_state(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                   struct ocid_runtime_state *ret, struct ocid_error **err)
{
        t_seen(state, h, c);
        rec_call("state(%s)", c->id);
        assert_int_equal(ret->size, sizeof(*ret));
        if (rec.fail)
                return rec_result(err);
        strcpy(ret->status, rec.status);
        ret->pid = rec.state_pid;
        ret->exited = 1;
        ret->exit_code = 3;
        ret->created_ns = 11;
        ret->finished_ns = 22;
        return 0;
}

static int t_exec_sync(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                       const char *process_json, int64_t timeout_ms, uint64_t max_output,
                       struct ocid_runtime_exec_result *ret, struct ocid_error **err)
{
        t_seen(state, h, c);
        rec_call("exec_sync(%s,%s,%lld,%llu)", c->id, process_json, (long long) timeout_ms,
                 (unsigned long long) max_output);
        assert_int_equal(ret->size, sizeof(*ret));
        /* allocated before failing too: the wrapper frees it */
        ret->err = xstrdup("partial");
        ret->err_len = 7;
        if (rec.fail)
                return rec_result(err);
        if (!rec.out_null) {
                ret->out = xstrdup(rec.out);
                ret->out_len = rec.out_len;
        }
        ret->exit_code = 4;
        return 0;
}

static int t_update(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                    const char *resources_json, struct ocid_error **err)
{
        t_seen(state, h, c);
        rec_call("update(%s,%s)", c->id, resources_json);
        return rec_result(err);
}

static int t_pause(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                   struct ocid_error **err)
{
        t_seen(state, h, c);
        rec_call("pause(%s)", c->id);
        return rec_result(err);
}

static int t_resume(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                    struct ocid_error **err)
{
        t_seen(state, h, c);
        rec_call("resume(%s)", c->id);
        return rec_result(err);
}

static int t_reopen_log(void *state, const struct ocid_runtime_handler *h,
                        const struct ocid_runtime_container *c, struct ocid_error **err)
{
        t_seen(state, h, c);
        rec_call("reopen_log(%s,%s)", c->id, c->log_path ? c->log_path : "-");
        return rec_result(err);
}

static const struct ocid_runtime_ops t_ops = {
        .base = { .init = t_init },
        .create = t_create,
        .start = t_start,
        .kill = t_kill,
        .delete = t_delete,
        .state = t_state,
        .exec_sync = t_exec_sync,
        .update = t_update,
        .pause = t_pause,
        .resume = t_resume,
        .reopen_log = t_reopen_log,
};

OCID_MODULE_DEFINE(test_runtime, "test-runtime", OCID_MODULE_KIND_RUNTIME, &t_ops);

/* Without the container ops: as a module built before they existed
 * (ops_size short). */
static struct ocid_module_info t_old_info;

static struct ocid_module *t_module(const struct ocid_module_info *info)
{
        struct ocid_module *m = test_module_linked(info);
        struct ocid_error *e = NULL;
        int r;

        r = module_init(m, NULL, &e);
        assert_no_error(r, e);
        return m;
}

static int rec_reset(void **state)
{
        free(rec.calls);
        memset(&rec, 0, sizeof(rec));
        rec.pid = 1234;
        rec.status = "running";
        rec.state_pid = 1234;
        rec.out = "hello";
        rec.out_len = 5;
        return 0;
}

/* A container as a caller fills it: size left 0 (the wrappers set it). */
static struct ocid_runtime_container t_container(const char *id)
{
        struct ocid_runtime_container c = { .id = id, .bundle = "/b", .log_path = "/l" };

        return c;
}

static struct modules_handler t_handler(struct ocid_module *m)
{
        struct modules_handler h = {
                .h = { .size = sizeof(h.h), .name = "t", .path = "/bin/true" },
                .module = m,
        };

        return h;
}

static void test_ops_pass_through(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = t_module(&test_runtime_LTX_ocid_module_info);
        struct modules_handler h = t_handler(m);
        struct ocid_runtime_container c = t_container("c1");
        struct ocid_runtime_state st;
        struct ocid_runtime_exec_result res;
        _cleanup_error_ struct ocid_error *e = NULL;
        int32_t pid = 0;
        int r;

        r = runtime_create(&h, &c, 5000, &pid, &e);
        assert_no_error(r, e);
        assert_int_equal(pid, 1234);
        assert_int_equal(rec.seen_size, sizeof(struct ocid_runtime_container));
        assert_int_equal(c.size, 0);
        r = runtime_start(&h, &c, &e);
        assert_no_error(r, e);
        r = runtime_kill(&h, &c, SIGTERM, 0, &e);
        assert_no_error(r, e);
        r = runtime_kill(&h, &c, SIGKILL, 7, &e);
        assert_no_error(r, e);
        r = runtime_state(&h, &c, &st, &e);
        assert_no_error(r, e);
        assert_int_equal(st.size, sizeof(st));
        assert_string_equal(st.status, "running");
        assert_int_equal(st.pid, 1234);
        assert_int_equal(st.exited, 1);
        assert_int_equal(st.exit_code, 3);
        assert_int_equal(st.created_ns, 11);
        assert_int_equal(st.finished_ns, 22);
        r = runtime_exec_sync(&h, &c, "{\"args\":[\"ls\"]}", 1000, 0, &res, &e);
        assert_no_error(r, e);
        assert_int_equal(res.exit_code, 4);
        assert_string_equal(res.out, "hello");
        assert_int_equal(res.out_len, 5);
        assert_string_equal(res.err, "partial");
        assert_int_equal(res.timed_out, 0);
        runtime_exec_result_done(&res);
        r = runtime_update(&h, &c, "{\"memory\":{\"limit\":1}}", &e);
        assert_no_error(r, e);
        r = runtime_pause(&h, &c, &e);
        assert_no_error(r, e);
        r = runtime_resume(&h, &c, &e);
        assert_no_error(r, e);
        r = runtime_reopen_log(&h, &c, &e);
        assert_no_error(r, e);
        r = runtime_delete(&h, &c, 0, &e);
        assert_no_error(r, e);
        r = runtime_delete(&h, &c, 2, &e);
        assert_no_error(r, e);
        assert_string_equal(rec.calls,
                            "create(c1,/b,5000) start(c1) kill(c1,15,0) kill(c1,9,1) state(c1) "
                            "exec_sync(c1,{\"args\":[\"ls\"]},1000,16777216) "
                            "update(c1,{\"memory\":{\"limit\":1}}) pause(c1) resume(c1) reopen_log(c1,/l) "
                            "delete(c1,0) delete(c1,1) ");
}

/* A failing op's error is prefixed with the module and the op, its code
 * is kept, and outputs stay untouched. */
static void test_ops_fail(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = t_module(&test_runtime_LTX_ocid_module_info);
        struct modules_handler h = t_handler(m);
        struct ocid_runtime_container c = t_container("c1");
        struct ocid_runtime_state st = { .pid = 77 };
        struct ocid_runtime_exec_result res = { .exit_code = 77 };
        _cleanup_error_ struct ocid_error *e = NULL;
        int32_t pid = 5;
        int r;

        rec.fail = EEXIST;
        r = runtime_create(&h, &c, 0, &pid, &e);
        assert_error(r, e, EEXIST, "module 'test-runtime': create: the test asked for errno 17");
        assert_int_equal(pid, 5);
        ocid_error_clear(&e);

        rec.fail = ESRCH;
        r = runtime_kill(&h, &c, SIGTERM, 0, &e);
        assert_error(r, e, ESRCH, "module 'test-runtime': kill: the test asked for errno 3");
        ocid_error_clear(&e);

        rec.fail = EBUSY;
        r = runtime_delete(&h, &c, 0, &e);
        assert_error(r, e, EBUSY, "module 'test-runtime': delete: ");
        ocid_error_clear(&e);

        rec.fail = ENOENT;
        r = runtime_state(&h, &c, &st, &e);
        assert_error(r, e, ENOENT, "module 'test-runtime': state: ");
        assert_int_equal(st.pid, 77);
        ocid_error_clear(&e);

        rec.fail = ETIMEDOUT;
        r = runtime_exec_sync(&h, &c, "{}", 0, 10, &res, &e);
        assert_error(r, e, ETIMEDOUT, "module 'test-runtime': exec_sync: ");
        assert_int_equal(res.exit_code, 77);
        assert_null(res.out);
        ocid_error_clear(&e);

        rec.fail = EIO;
        r = runtime_start(&h, &c, &e);
        assert_error(r, e, EIO, "module 'test-runtime': start: ");
        ocid_error_clear(&e);
        rec.fail = EIO;
        r = runtime_update(&h, &c, "{}", &e);
        assert_error(r, e, EIO, "module 'test-runtime': update: ");
        ocid_error_clear(&e);
        rec.fail = EIO;
        r = runtime_pause(&h, &c, &e);
        assert_error(r, e, EIO, "module 'test-runtime': pause: ");
        ocid_error_clear(&e);
        rec.fail = EIO;
        r = runtime_resume(&h, &c, &e);
        assert_error(r, e, EIO, "module 'test-runtime': resume: ");
        ocid_error_clear(&e);
        rec.fail = ESRCH;
        r = runtime_reopen_log(&h, &c, &e);
        assert_error(r, e, ESRCH, "module 'test-runtime': reopen_log: ");
}

/* Bad arguments never reach the module. */
static void test_ops_invalid(void **state)
{
        static const char *const bad_ids[] = { "", "-x", ".x", "a/b", "../x", "a b", "x\n", NULL };
        _cleanup_(module_finip) struct ocid_module *m = t_module(&test_runtime_LTX_ocid_module_info);
        struct modules_handler h = t_handler(m);
        struct ocid_runtime_container c = t_container("c1");
        struct ocid_runtime_exec_result res;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *long_id = xmalloc(300);
        int32_t pid = 0;
        int r;

        for (size_t i = 0; bad_ids[i]; i++) {
                struct ocid_runtime_container b = t_container(bad_ids[i]);

                r = runtime_start(&h, &b, &e);
                assert_error(r, e, EINVAL, "start: ");
                ocid_error_clear(&e);
        }
        c.id = NULL;
        r = runtime_create(&h, &c, 0, &pid, &e);
        assert_error(r, e, EINVAL, "create: no container ID");
        ocid_error_clear(&e);
        memset(long_id, 'a', 299);
        long_id[299] = '\0';
        c.id = long_id;
        r = runtime_delete(&h, &c, 0, &e);
        assert_error(r, e, EINVAL, "delete: container ID is longer than 255 characters");
        ocid_error_clear(&e);
        c.id = "c1";

        r = runtime_kill(&h, &c, 0, 0, &e);
        assert_error(r, e, EINVAL, "kill: invalid signal 0");
        ocid_error_clear(&e);
        r = runtime_kill(&h, &c, 65, 0, &e);
        assert_error(r, e, EINVAL, "kill: invalid signal 65");
        ocid_error_clear(&e);
        r = runtime_exec_sync(&h, &c, NULL, 0, 0, &res, &e);
        assert_error(r, e, EINVAL, "exec_sync: no process");
        ocid_error_clear(&e);
        r = runtime_update(&h, &c, "[1]", &e);
        assert_error(r, e, EINVAL, "update: resources are not a JSON object");
        ocid_error_clear(&e);
        r = runtime_update(&h, &c, "{", &e);
        assert_error(r, e, EINVAL, "update: resources are not a JSON object");
        ocid_error_clear(&e);
        r = runtime_start(&h, NULL, &e);
        assert_error(r, e, EINVAL, "start: no container");
        ocid_error_clear(&e);
        r = runtime_start(NULL, &c, &e);
        assert_error(r, e, EINVAL, "start: no runtime handler");
        assert_null(rec.calls);
}

/* What a module reports is checked, and made safe, on the way back. */
static void test_results_checked(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = t_module(&test_runtime_LTX_ocid_module_info);
        struct modules_handler h = t_handler(m);
        struct ocid_runtime_container c = t_container("c1");
        struct ocid_runtime_state st = { 0 };
        struct ocid_runtime_exec_result res;
        _cleanup_error_ struct ocid_error *e = NULL;
        int32_t pid = 9;
        int r;

        rec.pid = 0;
        r = runtime_create(&h, &c, 0, &pid, &e);
        assert_error(r, e, EPROTO, "module 'test-runtime': create: reported no process ID for 'c1'");
        assert_int_equal(pid, 9);
        ocid_error_clear(&e);

        rec.status = "exploded";
        r = runtime_state(&h, &c, &st, &e);
        assert_error(r, e, EPROTO, "module 'test-runtime': state: invalid status for 'c1'");
        assert_int_equal(st.size, 0);
        ocid_error_clear(&e);
        rec.status = "stopped";
        rec.state_pid = -1;
        r = runtime_state(&h, &c, &st, &e);
        assert_error(r, e, EPROTO, "module 'test-runtime': state: negative process ID for 'c1'");
        ocid_error_clear(&e);
        rec.state_pid = 0;
        r = runtime_state(&h, &c, &st, &e);
        assert_no_error(r, e);
        assert_string_equal(st.status, "stopped");

        /* Longer than the cap: cut and flagged. */
        rec.out = "0123456789";
        rec.out_len = 10;
        r = runtime_exec_sync(&h, &c, "{}", 0, 4, &res, &e);
        assert_no_error(r, e);
        assert_int_equal(res.out_len, 4);
        assert_string_equal(res.out, "0123");
        assert_int_equal(res.out_truncated, 1);
        assert_int_equal(res.err_len, 4);
        assert_string_equal(res.err, "part");
        assert_int_equal(res.err_truncated, 1);
        runtime_exec_result_done(&res);
        assert_null(res.out);

        /* No output at all: empty strings, never NULL. */
        rec.out_null = 1;
        r = runtime_exec_sync(&h, &c, "{}", 0, 0, &res, &e);
        assert_no_error(r, e);
        assert_non_null(res.out);
        assert_string_equal(res.out, "");
        assert_int_equal(res.out_len, 0);
        assert_int_equal(res.out_truncated, 0);
        runtime_exec_result_done(&res);
}

/* A module without the ops (the fake test module leaves them NULL; an old
 * module's table is too short to have them): EOPNOTSUPP naming the op. */
static void test_ops_unsupported(void **state)
{
        _cleanup_(module_finip) struct ocid_module *fake = test_module_start("fake-runtime", NULL);
        _cleanup_(module_finip) struct ocid_module *old = NULL;
        struct ocid_module *mods[2];
        struct ocid_runtime_container c = t_container("c1");
        struct ocid_runtime_state st;
        struct ocid_runtime_exec_result res;
        _cleanup_error_ struct ocid_error *e = NULL;
        int32_t pid = 0;
        int r;

        t_old_info = test_runtime_LTX_ocid_module_info;
        t_old_info.ops_size = offsetof(struct ocid_runtime_ops, create);
        old = t_module(&t_old_info);
        mods[0] = fake;
        mods[1] = old;
        for (size_t i = 0; i < ELEMENTSOF(mods); i++) {
                struct modules_handler h = t_handler(mods[i]);
                _cleanup_free_ char *prefix = xasprintf("module '%s' does not support ", mods[i]->name);
                _cleanup_free_ char *msg = NULL;

#define UNSUPPORTED(call, op)                                                 \
                do {                                                          \
                        r = (call);                                           \
                        free(msg);                                            \
                        msg = xasprintf("%s%s", prefix, op);                  \
                        assert_error(r, e, EOPNOTSUPP, msg);                  \
                        ocid_error_clear(&e);                                 \
                } while (0)
                UNSUPPORTED(runtime_create(&h, &c, 0, &pid, &e), "create");
                UNSUPPORTED(runtime_start(&h, &c, &e), "start");
                UNSUPPORTED(runtime_kill(&h, &c, 9, 0, &e), "kill");
                UNSUPPORTED(runtime_delete(&h, &c, 1, &e), "delete");
                UNSUPPORTED(runtime_state(&h, &c, &st, &e), "state");
                UNSUPPORTED(runtime_exec_sync(&h, &c, "{}", 0, 0, &res, &e), "exec_sync");
                UNSUPPORTED(runtime_update(&h, &c, "{}", &e), "update");
                UNSUPPORTED(runtime_pause(&h, &c, &e), "pause");
                UNSUPPORTED(runtime_resume(&h, &c, &e), "resume");
                UNSUPPORTED(runtime_reopen_log(&h, &c, &e), "reopen_log");
#undef UNSUPPORTED
        }
        assert_null(rec.calls);
}

static void test_ops_wrong_kind(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-network", NULL);
        struct modules_handler h = t_handler(m);
        struct ocid_runtime_container c = t_container("c1");
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        r = runtime_kill(&h, &c, 9, 0, &e);
        assert_error(r, e, EINVAL, "module 'fake-network' is a network module, not a runtime module");
        ocid_error_clear(&e);
        h.module = NULL;
        r = runtime_pause(&h, &c, &e);
        assert_error(r, e, EINVAL, "pause: no module");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_handler_ready),
                cmocka_unit_test(test_handler_not_ready),
                cmocka_unit_test(test_handler_error),
                cmocka_unit_test(test_wrong_kind),
                cmocka_unit_test_setup_teardown(test_ops_pass_through, rec_reset, rec_reset),
                cmocka_unit_test_setup_teardown(test_ops_fail, rec_reset, rec_reset),
                cmocka_unit_test_setup_teardown(test_ops_invalid, rec_reset, rec_reset),
                cmocka_unit_test_setup_teardown(test_results_checked, rec_reset, rec_reset),
                cmocka_unit_test_setup_teardown(test_ops_unsupported, rec_reset, rec_reset),
                cmocka_unit_test_setup_teardown(test_ops_wrong_kind, rec_reset, rec_reset),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
