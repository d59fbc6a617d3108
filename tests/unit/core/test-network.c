/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to the network module: against the loaded test modules (status,
 * ops a module lacks) and against a network module defined here and linked
 * into the test (the pod ops: arguments passed through, results parsed and
 * ordered, a bad result undone, errors forwarded). */

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>

#include "../test-common.h"
#include "../modules/module-test.h"

#include <ocid/json.h>

#include "network.h"

static int setup(void **state)
{
        setenv("OCID_MODULE_DIR", test_env_dir("OCID_TEST_MODULE_DIR"), 1);
        return 0;
}

static void test_ready(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-network", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = network_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);
        assert_null(reason);
        assert_null(message);
}

static void test_not_ready(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m =
                test_module_start("fake-network", "modules: { fake-network: { ready = false; }; };");
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL;
        int r;

        r = network_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        assert_string_equal(reason, "FakeNotReady");
        assert_string_equal(message, "fake-network is configured not ready");
}

/* A module that says "not ready" without why still gives the caller a
 * reason and a message. */
static void test_not_ready_quietly(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m =
                test_module_start("fake-network", "modules: { fake-network: { ready = false; quiet = true; }; };");
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL;
        int r;

        r = network_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        assert_string_equal(reason, "NotReady");
        assert_string_equal(message, "module 'fake-network' is not ready");
}

static void test_status_fails(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m =
                test_module_start("fake-network", "modules: { fake-network: { status_fails = true; }; };");
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = network_status(m, &reason, &message, &e);
        assert_error(r, e, EHOSTDOWN, "module 'fake-network': status: the fake backend is down");
        assert_null(reason);
        assert_null(message);

        /* The caller may pass no error at all. */
        r = network_status(m, &reason, &message, NULL);
        assert_int_equal(r, -EHOSTDOWN);
}

static void test_wrong_kind(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-storage", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        struct network_result res = { 0 };
        char *reason = NULL, *message = NULL;
        int r;

        r = network_status(m, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-storage' is a storage module, not a network module");
        ocid_error_clear(&e);
        r = network_pod_setup(m, &(struct ocid_network_pod) { .id = "p" }, &res, &e);
        assert_error(r, e, EINVAL, "module 'fake-storage' is a storage module, not a network module");
        ocid_error_clear(&e);
        r = network_pod_teardown(m, &(struct ocid_network_pod) { .id = "p" }, &e);
        assert_error(r, e, EINVAL, "module 'fake-storage' is a storage module, not a network module");
        ocid_error_clear(&e);
        r = network_pod_check(m, &(struct ocid_network_pod) { .id = "p" }, &e);
        assert_error(r, e, EINVAL, "module 'fake-storage' is a storage module, not a network module");
}

/* fake-network has only the common ops: the pod ops are not supported. */
static void test_pod_ops_unsupported(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-network", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_network_pod pod = { .id = "p" };
        struct network_result res = { 0 };
        int r;

        r = network_pod_setup(m, &pod, &res, &e);
        assert_error(r, e, EOPNOTSUPP, "module 'fake-network' does not support pod_setup");
        ocid_error_clear(&e);
        r = network_pod_teardown(m, &pod, &e);
        assert_error(r, e, EOPNOTSUPP, "module 'fake-network' does not support pod_teardown");
        ocid_error_clear(&e);
        r = network_pod_check(m, &pod, &e);
        assert_error(r, e, EOPNOTSUPP, "module 'fake-network' does not support pod_check");
        assert_null(res.json);
}

/* A network module linked into the test. Its state is `net`: what the ops
 * saw and what they answer. */
static struct {
        char *result;           /* pod_setup's JSON */
        int fail;               /* ops fail with this errno */
        int check_result;
        int setups, teardowns, checks;
        struct ocid_network_pod seen;   /* the last pod (strings valid during the call only) */
        char *seen_id, *seen_netns, *seen_ports;
} net;

static void net_seen(const struct ocid_network_pod *pod)
{
        net.seen = *pod;
        free(net.seen_id);
        free(net.seen_netns);
        free(net.seen_ports);
        net.seen_id = xstrdup(pod->id);
        net.seen_netns = xstrdup(pod->netns_path);
        net.seen_ports = xstrdup(OCID_NETWORK_POD_HAS(pod, port_mappings) ? pod->port_mappings : NULL);
}

static int net_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        *ret_state = &net;
        return 0;
}

static int net_pod_setup(void *state, const struct ocid_network_pod *pod, char **ret_result, struct ocid_error **err)
{
        assert_ptr_equal(state, &net);
        net.setups++;
        net_seen(pod);
        if (net.fail)
                return ocid_error_msg(err, net.fail, "the test network refuses pod '%s'", pod->id);
        *ret_result = xstrdup(net.result);
        return 0;
}

static int net_pod_teardown(void *state, const struct ocid_network_pod *pod, struct ocid_error **err)
{
        net.teardowns++;
        net_seen(pod);
        if (net.fail)
                return ocid_error_msg(err, net.fail, "cannot tear down '%s'", pod->id);
        return 0;
}

static int net_pod_check(void *state, const struct ocid_network_pod *pod, struct ocid_error **err)
{
        net.checks++;
        net_seen(pod);
        if (net.fail)
                return ocid_error_set(err, net.fail, "check '%s'", pod->id);
        return net.check_result;
}

static const struct ocid_network_ops net_ops = {
        .base = { .init = net_init },
        .pod_setup = net_pod_setup,
        .pod_teardown = net_pod_teardown,
        .pod_check = net_pod_check,
};

OCID_MODULE_DEFINE(test_net, "test-net", OCID_MODULE_KIND_NETWORK, &net_ops);

static int net_setup(void **state)
{
        struct ocid_module *m = test_module_linked(&test_net_LTX_ocid_module_info);
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        free(net.result);
        free(net.seen_id);
        free(net.seen_netns);
        free(net.seen_ports);
        memset(&net, 0, sizeof(net));
        r = module_init(m, NULL, &e);
        assert_no_error(r, e);
        *state = m;
        return 0;
}

static int net_teardown(void **state)
{
        module_fini(*state);
        return 0;
}

/* The pod reaches the module as given, with the size the core was built
 * with whatever the caller set; the addresses come back IPv4 first. */
static void test_pod_setup(void **state)
{
        struct ocid_module *m = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct network_result res = { 0 };
        struct ocid_network_pod pod = {
                .size = 3, .id = "pod1", .name = "web", .namespace_ = "default", .uid = "u",
                .netns_path = "/run/ocid/ns/net/pod1", .port_mappings = "[]",
        };
        int r;

        net.result = xstrdup("{\"ips\":[\"fd00::5\",\"10.88.0.5\",\"10.88.0.6\"],\"network\":\"n\",\"extra\":{\"a\":1}}");
        r = network_pod_setup(m, &pod, &res, &e);
        assert_no_error(r, e);
        assert_int_equal(net.setups, 1);
        assert_int_equal(net.seen.size, sizeof(struct ocid_network_pod));
        assert_string_equal(net.seen_id, "pod1");
        assert_string_equal(net.seen_netns, "/run/ocid/ns/net/pod1");
        assert_string_equal(net.seen_ports, "[]");
        assert_int_equal(ocid_strv_length(res.ips), 3);
        assert_string_equal(res.ips[0], "10.88.0.5");
        assert_string_equal(res.ips[1], "10.88.0.6");
        assert_string_equal(res.ips[2], "fd00::5");
        o = json_tokener_parse(res.json);
        assert_string_equal(ocid_json_get_string(o, "network"), "n");
        assert_non_null(json_object_object_get(o, "extra"));
        network_result_done(&res);
        network_result_done(&res);
        assert_null(res.json);

        /* No addresses is a valid answer. */
        free(net.result);
        net.result = xstrdup("{\"ips\":[]}");
        r = network_pod_setup(m, &pod, &res, &e);
        assert_no_error(r, e);
        assert_non_null(res.ips);
        assert_null(res.ips[0]);
        network_result_done(&res);
        assert_int_equal(net.teardowns, 0);
}

/* A result that does not parse is the module's bug: the pod is torn down
 * again and the error says why. */
static void test_pod_setup_bad_result(void **state)
{
        static const struct {
                const char *json, *needle;
        } cases[] = {
                { "not json", "module 'test-net': pod_setup: invalid result: network result is not a JSON object" },
                { "[\"10.0.0.1\"]", "network result is not a JSON object" },
                { "{\"ip\":\"10.0.0.1\"}", "network result has no \"ips\" array" },
                { "{\"ips\":\"10.0.0.1\"}", "network result has no \"ips\" array" },
                { "{\"ips\":[\"10.0.0.1\",\"10.0.0.256\"]}", "network result: ips[1] is not an IP address" },
                { "{\"ips\":[\"10.0.0.1/24\"]}", "network result: ips[0] is not an IP address" },
                { "{\"ips\":[4]}", "network result: ips[0] is not an IP address" },
        };
        struct ocid_module *m = *state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_error_ struct ocid_error *e = NULL;
                struct network_result res = { 0 };
                int r;

                free(net.result);
                net.result = xstrdup(cases[i].json);
                r = network_pod_setup(m, &(struct ocid_network_pod) { .id = "pod1" }, &res, &e);
                assert_error(r, e, EPROTO, cases[i].needle);
                assert_int_equal(net.teardowns, (int) i + 1);
                assert_string_equal(net.seen_id, "pod1");
                assert_null(res.json);
                assert_null(res.ips);
        }
}

static void test_pod_ops_fail(void **state)
{
        struct ocid_module *m = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_network_pod pod = { .id = "pod1" };
        struct network_result res = { 0 };
        int r;

        net.fail = EEXIST;
        r = network_pod_setup(m, &pod, &res, &e);
        assert_error(r, e, EEXIST, "module 'test-net': pod_setup: the test network refuses pod 'pod1'");
        assert_int_equal(net.teardowns, 0);
        assert_null(res.json);
        ocid_error_clear(&e);

        net.fail = EBUSY;
        r = network_pod_teardown(m, &pod, &e);
        assert_error(r, e, EBUSY, "module 'test-net': pod_teardown: cannot tear down 'pod1'");
        ocid_error_clear(&e);
        r = network_pod_check(m, &pod, &e);
        assert_error(r, e, EBUSY, "module 'test-net': pod_check: check 'pod1': ");
        ocid_error_clear(&e);

        /* The caller may pass no error at all. */
        assert_int_equal(network_pod_setup(m, &pod, &res, NULL), -EBUSY);
        assert_int_equal(network_pod_teardown(m, &pod, NULL), -EBUSY);
        assert_int_equal(network_pod_check(m, &pod, NULL), -EBUSY);
}

static void test_pod_teardown_check(void **state)
{
        struct ocid_module *m = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        r = network_pod_teardown(m, &(struct ocid_network_pod) { .id = "pod2", .netns_path = "/x" }, &e);
        assert_no_error(r, e);
        assert_int_equal(net.teardowns, 1);
        assert_string_equal(net.seen_id, "pod2");
        assert_string_equal(net.seen_netns, "/x");
        assert_int_equal(net.seen.size, sizeof(struct ocid_network_pod));

        net.check_result = 1;
        r = network_pod_check(m, &(struct ocid_network_pod) { .id = "pod2" }, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);
        net.check_result = 0;
        r = network_pod_check(m, &(struct ocid_network_pod) { .id = "pod2" }, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        assert_int_equal(net.checks, 2);
}

/* Every pod op needs a pod with an ID; the module is not called. */
static void test_no_pod_id(void **state)
{
        struct ocid_module *m = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct network_result res = { 0 };
        int r;

        r = network_pod_setup(m, NULL, &res, &e);
        assert_error(r, e, EINVAL, "pod_setup: no pod ID");
        ocid_error_clear(&e);
        r = network_pod_setup(m, &(struct ocid_network_pod) { .id = "" }, &res, &e);
        assert_error(r, e, EINVAL, "pod_setup: no pod ID");
        ocid_error_clear(&e);
        r = network_pod_teardown(m, &(struct ocid_network_pod) { .name = "x" }, &e);
        assert_error(r, e, EINVAL, "pod_teardown: no pod ID");
        ocid_error_clear(&e);
        r = network_pod_check(m, NULL, &e);
        assert_error(r, e, EINVAL, "pod_check: no pod ID");
        assert_int_equal(net.setups + net.teardowns + net.checks, 0);
}

/* A module built before the pod ops were appended (its ops_size covers the
 * common ops only) does not support them, whatever follows its table. */
static void test_older_module(void **state)
{
        struct ocid_module_info info = test_net_LTX_ocid_module_info;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct network_result res = { 0 };
        struct ocid_module *m;
        int r;

        info.ops_size = (uint32_t) sizeof(struct ocid_module_ops);
        m = test_module_linked(&info);
        r = module_init(m, NULL, &e);
        assert_no_error(r, e);
        r = network_pod_setup(m, &(struct ocid_network_pod) { .id = "p" }, &res, &e);
        assert_error(r, e, EOPNOTSUPP, "module 'test-net' does not support pod_setup");
        ocid_error_clear(&e);
        r = network_pod_teardown(m, &(struct ocid_network_pod) { .id = "p" }, &e);
        assert_error(r, e, EOPNOTSUPP, "module 'test-net' does not support pod_teardown");
        assert_int_equal(net.setups + net.teardowns, 0);
        module_fini(m);
}

static void test_not_initialised(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_linked(&test_net_LTX_ocid_module_info);
        _cleanup_error_ struct ocid_error *e = NULL;
        struct network_result res = { 0 };
        int r;

        r = network_pod_setup(m, &(struct ocid_network_pod) { .id = "p" }, &res, &e);
        assert_error(r, e, EINVAL, "module 'test-net': pod_setup: not initialised");
        ocid_error_clear(&e);
        r = network_pod_teardown(NULL, &(struct ocid_network_pod) { .id = "p" }, &e);
        assert_error(r, e, EINVAL, "pod_teardown: no module");
}

/* A result the core stored is read back the same way. */
static void test_result_parse(void **state)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct network_result res = { 0 };
        int r;

        r = network_result_parse("{ \"ips\": [ \"::1\", \"127.0.0.1\" ], \"gateways\": [] }", &res, &e);
        assert_no_error(r, e);
        assert_string_equal(res.ips[0], "127.0.0.1");
        assert_string_equal(res.ips[1], "::1");
        assert_string_equal(res.json, "{\"ips\":[\"::1\",\"127.0.0.1\"],\"gateways\":[]}");
        network_result_done(&res);
        network_result_done(NULL);

        r = network_result_parse(NULL, &res, &e);
        assert_error(r, e, EPROTO, "network result is not a JSON object");
        assert_null(res.json);
}

int main(void)
{
#define N(t) cmocka_unit_test_setup_teardown(t, net_setup, net_teardown)
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ready),
                cmocka_unit_test(test_not_ready),
                cmocka_unit_test(test_not_ready_quietly),
                cmocka_unit_test(test_status_fails),
                cmocka_unit_test(test_wrong_kind),
                cmocka_unit_test(test_pod_ops_unsupported),
                N(test_pod_setup),
                N(test_pod_setup_bad_result),
                N(test_pod_ops_fail),
                N(test_pod_teardown_check),
                N(test_no_pod_id),
                N(test_older_module),
                cmocka_unit_test(test_not_initialised),
                cmocka_unit_test(test_result_parse),
        };
#undef N

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
