/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to security modules, against the test modules: the test
 * security module has no status op, which is "not supported"; the chain
 * (order, skipped modules, refusals, labels, the per-pod hooks and their
 * rollback) runs on fake-sec-a and fake-sec-b, which trace every op. */

#include <errno.h>
#include <stdlib.h>

#include "../test-common.h"
#include "../modules/module-test.h"

#include <json-c/json.h>
#include <ocid/json.h>

#include "modules.h"
#include "security.h"

#define CID "1111111111111111111111111111111111111111111111111111111111111111"
#define PID "2222222222222222222222222222222222222222222222222222222222222222"

static int setup(void **state)
{
        setenv("OCID_MODULE_DIR", test_env_dir("OCID_TEST_MODULE_DIR"), 1);
        return 0;
}

static void test_not_supported(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-security", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = security_status(m, &reason, &message, &e);
        assert_error(r, e, EOPNOTSUPP, "module 'fake-security' does not support status");
        assert_null(reason);
        assert_null(message);
}

static void test_wrong_kind(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-runtime", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = security_status(m, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-runtime' is a runtime module, not a security module");
}

static void test_not_initialised(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = module_load(NULL, "fake-security", 0, &m, &e);
        assert_no_error(r, e);
        r = security_status(m, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-security': status: not initialised");
}

/* ---- the chain ------------------------------------------------------------ */

struct chain {
        char *dir;
        char *trace;
        struct ocid_module *mods[4];
        struct ocid_modules set;
};

/* Starts the named modules in that order; `extra[i]` is added to module
 * i's group (NULL: nothing). Every chain module traces to one file. */
static void chain_start(struct chain *c, const char *const *names, const char *const *extra)
{
        c->dir = test_tmpdir_new();
        c->trace = ocid_path_join(c->dir, "trace");
        for (size_t i = 0; names[i]; i++) {
                _cleanup_free_ char *text = NULL;

                if (ocid_startswith(names[i], "fake-sec-"))
                        text = xasprintf("modules: { %s: { trace = \"%s\"; %s }; };", names[i], c->trace,
                                         extra && extra[i] ? extra[i] : "");
                c->mods[i] = test_module_start(names[i], text);
                c->set.n_security = i + 1;
        }
        c->set.security = c->mods;
}

static void chain_stop(struct chain *c)
{
        for (size_t i = 0; i < c->set.n_security; i++)
                module_fini(c->mods[i]);
        test_tmpdir_free(c->dir);
        free(c->trace);
}

static char *chain_trace(const struct chain *c)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        char *text = NULL;
        int r = ocid_read_file(c->trace, 1 << 20, &text, NULL, &e);

        if (r < 0 && ocid_error_code(&e) == ENOENT)
                return xstrdup("");
        assert_no_error(r, e);
        return text;
}

static void test_chain_order(void **state)
{
        static const char *const names[] = { "fake-sec-b", "fake-security", "fake-sec-a", NULL };
        static const char *const extra[] = { "label = \"lb\";", NULL, "label = \"la\";" };
        static const char *const relabel[] = { "/srv/data", NULL };
        _cleanup_json_ struct json_object *spec = json_object_new_object();
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *label = NULL, *trace = NULL, *want = NULL;
        struct chain c = { 0 };
        struct ocid_security_request req = {
                .size = 8,   /* a smaller caller: the chain passes the core's own size */
                .container_id = CID,
                .pod_id = PID,
                .privileged = 7,
                .seccomp = { OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL },
                .apparmor = { OCID_SECURITY_PROFILE_LOCALHOST, "my-profile" },
                .relabel = relabel,
        };
        struct json_object *ann;
        int r;

        setup(NULL);
        chain_start(&c, names, extra);
        r = security_apply_chain(&c.set, &req, spec, &label, &e);
        assert_no_error(r, e);
        assert_true(json_object_object_get_ex(spec, "annotations", &ann));
        assert_string_equal(ocid_json_get_string(ann, "chain"), "fake-sec-b,fake-sec-a");
        assert_string_equal(label, "la");
        trace = chain_trace(&c);
        want = xasprintf("apply fake-sec-b (none) size=%zu privileged=1 seccomp=1 apparmor=3 relabel=/srv/data\n"
                         "apply fake-sec-a lb size=%zu privileged=1 seccomp=1 apparmor=3 relabel=/srv/data\n",
                         sizeof(req), sizeof(req));
        assert_string_equal(trace, want);

        /* no relabel paths: the modules get an empty list, never NULL */
        {
                _cleanup_json_ struct json_object *spec2 = json_object_new_object();

                req.relabel = NULL;
                r = security_apply_chain(&c.set, &req, spec2, NULL, &e);
                assert_no_error(r, e);
        }
        chain_stop(&c);
}

static void test_chain_refusal(void **state)
{
        static const char *const names[] = { "fake-sec-a", "fake-sec-b", NULL };
        static const char *const extra[] = { "refuse = true; label = \"x\";", NULL };
        _cleanup_json_ struct json_object *spec = json_object_new_object();
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *label = NULL, *trace = NULL;
        struct chain c = { 0 };
        struct ocid_security_request req = { .size = sizeof(req), .container_id = CID, .pod_id = PID };
        int r;

        setup(NULL);
        chain_start(&c, names, extra);
        r = security_apply_chain(&c.set, &req, spec, &label, &e);
        assert_error(r, e, EACCES, "module 'fake-sec-a': apply: refused by fake-sec-a");
        assert_null(label);
        trace = chain_trace(&c);
        assert_null(strstr(trace, "fake-sec-b"));   /* the chain stopped */
        chain_stop(&c);
}

static void test_chain_request_checks(void **state)
{
        static const char *const names[] = { "fake-sec-a", NULL };
        struct chain c = { 0 };
        struct {
                struct ocid_security_request req;
                const char *msg;
        } cases[] = {
                { { .container_id = NULL, .pod_id = PID }, "security: no container ID" },
                { { .container_id = "abc", .pod_id = PID }, "security: invalid container ID 'abc'" },
                { { .container_id = CID, .pod_id = CID "0" }, "security: invalid pod ID" },
                { { .container_id = CID, .pod_id = "../../etc" }, "security: invalid pod ID '../../etc'" },
                { { .container_id = CID, .pod_id = PID, .seccomp = { 9, NULL } }, "seccomp profile: unknown profile type 9" },
                { { .container_id = CID, .pod_id = PID, .seccomp = { OCID_SECURITY_PROFILE_LOCALHOST, "" } },
                  "seccomp profile: a Localhost profile needs localhost_ref" },
                { { .container_id = CID, .pod_id = PID, .apparmor = { OCID_SECURITY_PROFILE_LOCALHOST, NULL } },
                  "AppArmor profile: a Localhost profile needs localhost_ref" },
        };
        _cleanup_free_ char *trace = NULL;

        setup(NULL);
        chain_start(&c, names, NULL);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ struct json_object *spec = json_object_new_object();
                _cleanup_error_ struct ocid_error *e = NULL;
                int r = security_apply_chain(&c.set, &cases[i].req, spec, NULL, &e);

                assert_error(r, e, EINVAL, cases[i].msg);
        }
        {
                _cleanup_json_ struct json_object *arr = json_object_new_array();
                _cleanup_error_ struct ocid_error *e = NULL;
                struct ocid_security_request req = { .container_id = CID, .pod_id = PID };
                int r = security_apply_chain(&c.set, &req, arr, NULL, &e);

                assert_error(r, e, EINVAL, "security: the spec is not a JSON object");
        }
        trace = chain_trace(&c);
        assert_string_equal(trace, "");   /* no module saw a bad request */
        {
                /* no security modules: nothing to do */
                _cleanup_json_ struct json_object *spec = json_object_new_object();
                _cleanup_error_ struct ocid_error *e = NULL;
                struct ocid_security_request req = { .container_id = CID, .pod_id = PID };
                struct ocid_modules none = { 0 };

                assert_int_equal(security_apply_chain(&none, &req, spec, NULL, &e), 0);
                assert_int_equal(security_apply_chain(NULL, &req, spec, NULL, &e), 0);
                assert_int_equal(security_pod_create_chain(NULL, &(struct ocid_security_pod) { .pod_id = PID },
                                                           NULL, NULL, &e), 0);
                assert_int_equal(security_pod_remove_chain(NULL, PID, &e), 0);
                assert_null(e);
        }
        chain_stop(&c);
}

static void test_pod_chain(void **state)
{
        static const char *const names[] = { "fake-sec-a", "fake-security", "fake-sec-b", NULL };
        static const char *const extra[] = { "label = \"la\";", NULL, "label = \"lb\";" };
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *pl = NULL, *ml = NULL, *trace = NULL;
        struct chain c = { 0 };
        struct ocid_security_pod pod = { .size = 4, .pod_id = PID, .selinux_level = "s0:c1,c2", .restore = 5 };
        int r;

        setup(NULL);
        chain_start(&c, names, extra);
        r = security_pod_create_chain(&c.set, &pod, &pl, &ml, &e);
        assert_no_error(r, e);
        assert_string_equal(pl, "lb_process");   /* the last module's labels win */
        assert_string_equal(ml, "lb_mount");
        r = security_pod_remove_chain(&c.set, PID, &e);
        assert_no_error(r, e);
        trace = chain_trace(&c);
        assert_string_equal(trace, "pod_create fake-sec-a restore=1 level=s0:c1,c2\n"
                                   "pod_create fake-sec-b restore=1 level=s0:c1,c2\n"
                                   "pod_remove fake-sec-b -\n"
                                   "pod_remove fake-sec-a -\n");
        r = security_pod_remove_chain(&c.set, "bad id", &e);
        assert_error(r, e, EINVAL, "security: invalid pod ID 'bad id'");
        chain_stop(&c);
}

static void test_pod_create_rollback(void **state)
{
        static const char *const names[] = { "fake-sec-a", "fake-sec-b", NULL };
        static const char *const extra[] = { "label = \"la\";", "fail_pod_create = true;" };
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *pl = NULL, *ml = NULL, *trace = NULL;
        struct chain c = { 0 };
        struct ocid_security_pod pod = { .pod_id = PID };
        int r;

        setup(NULL);
        chain_start(&c, names, extra);
        r = security_pod_create_chain(&c.set, &pod, &pl, &ml, &e);
        assert_error(r, e, EIO, "module 'fake-sec-b': pod_create: pod_create failure requested");
        assert_null(pl);
        assert_null(ml);
        trace = chain_trace(&c);
        assert_string_equal(trace, "pod_create fake-sec-a restore=0 level=(none)\n"
                                   "pod_create fake-sec-b restore=0 level=(none)\n"
                                   "pod_remove fake-sec-a -\n");
        chain_stop(&c);
}

static void test_pod_remove_every_module(void **state)
{
        static const char *const names[] = { "fake-sec-a", "fake-sec-b", NULL };
        static const char *const extra[] = { "fail_pod_remove = true;", "fail_pod_remove = true;" };
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *trace = NULL;
        struct chain c = { 0 };
        int r;

        setup(NULL);
        chain_start(&c, names, extra);
        r = security_pod_remove_chain(&c.set, PID, &e);
        assert_error(r, e, EIO, "module 'fake-sec-b': pod_remove: pod_remove failure requested");
        trace = chain_trace(&c);
        assert_string_equal(trace, "pod_remove fake-sec-b -\npod_remove fake-sec-a -\n");
        chain_stop(&c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_not_supported),
                cmocka_unit_test(test_wrong_kind),
                cmocka_unit_test(test_not_initialised),
                cmocka_unit_test(test_chain_order),
                cmocka_unit_test(test_chain_refusal),
                cmocka_unit_test(test_chain_request_checks),
                cmocka_unit_test(test_pod_chain),
                cmocka_unit_test(test_pod_create_rollback),
                cmocka_unit_test(test_pod_remove_every_module),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
