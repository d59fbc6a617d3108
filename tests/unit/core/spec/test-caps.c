/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../test-common.h"

#include <json-c/json.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "spec/caps.h"

#define C(n) CAPS_BIT(n)
#define CHOWN 0
#define NET_BIND_SERVICE 10
#define NET_RAW 13
#define SYS_ADMIN 21
#define SYS_RESOURCE 24
#define MKNOD 27
#define KILL 5

/* The daemon on this kind of host: everything but CAP_SYS_RESOURCE. */
#define HELD (CAPS_ALL_KNOWN & ~C(SYS_RESOURCE))

static void test_parse(void **state)
{
        unsigned c;

        assert_int_equal(caps_parse("CAP_CHOWN", &c), 0);
        assert_int_equal(c, 0);
        assert_int_equal(caps_parse("chown", &c), 0);
        assert_int_equal(c, 0);
        assert_int_equal(caps_parse("Cap_Net_Raw", &c), 0);
        assert_int_equal(c, NET_RAW);
        assert_int_equal(caps_parse("net_bind_service", &c), 0);
        assert_int_equal(c, NET_BIND_SERVICE);
        assert_int_equal(caps_parse("CAP_CHECKPOINT_RESTORE", &c), 0);
        assert_int_equal(c, 40);
        assert_int_equal(caps_parse("CAP_", &c), -EINVAL);
        assert_int_equal(caps_parse("", &c), -EINVAL);
        assert_int_equal(caps_parse("CAP_FOO", &c), -EINVAL);
        assert_int_equal(caps_parse("ALL", &c), -EINVAL);
        assert_int_equal(caps_parse("CAP_CHOWN ", &c), -EINVAL);
        assert_string_equal(caps_name(21), "CAP_SYS_ADMIN");
        assert_null(caps_name(CAPS_COUNT));
        for (unsigned i = 0; i < CAPS_COUNT; i++) {
                assert_int_equal(caps_parse(caps_name(i), &c), 0);
                assert_int_equal(c, i);
        }
}

static void test_default_set(void **state)
{
        _cleanup_json_ struct json_object *j = caps_to_json(caps_default());

        assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
                            "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FOWNER\",\"CAP_FSETID\",\"CAP_KILL\","
                            "\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\"]");
        assert_false(caps_default() & C(NET_RAW));
        assert_false(caps_default() & C(MKNOD));
        assert_false(caps_default() & C(SYS_ADMIN));
}

static void test_no_request(void **state)
{
        uint64_t set, amb;

        assert_int_equal(caps_compute(NULL, false, HELD, &set, &amb, NULL), 0);
        assert_true(set == caps_default());
        assert_true(amb == 0);
        /* the defaults are cut to what the daemon holds */
        assert_int_equal(caps_compute(NULL, false, HELD & ~C(KILL), &set, &amb, NULL), 0);
        assert_true(set == (caps_default() & ~C(KILL)));
}

static void test_add_drop(void **state)
{
        char *add[] = { "NET_RAW", "cap_sys_admin" };
        char *drop[] = { "CAP_CHOWN", "kill" };
        struct caps_request req = { .add = add, .n_add = 2, .drop = drop, .n_drop = 2 };
        uint64_t set, amb;

        assert_int_equal(caps_compute(&req, false, HELD, &set, &amb, NULL), 0);
        assert_true(set == ((caps_default() | C(NET_RAW) | C(SYS_ADMIN)) & ~(C(CHOWN) | C(KILL))));
}

static void test_all(void **state)
{
        char *all[] = { "ALL" };
        char *nbs[] = { "NET_BIND_SERVICE" };
        char *chown[] = { "CHOWN" };
        uint64_t set, amb;

        /* drop ALL, add one: only that one */
        struct caps_request r1 = { .add = nbs, .n_add = 1, .drop = all, .n_drop = 1 };
        assert_int_equal(caps_compute(&r1, false, HELD, &set, &amb, NULL), 0);
        assert_true(set == C(NET_BIND_SERVICE));

        /* add ALL: what the daemon holds, never more; minus a drop */
        struct caps_request r2 = { .add = all, .n_add = 1, .drop = chown, .n_drop = 1 };
        assert_int_equal(caps_compute(&r2, false, HELD, &set, &amb, NULL), 0);
        assert_true(set == (HELD & ~C(CHOWN)));
        assert_false(set & C(SYS_RESOURCE));

        /* lower case "all" too */
        char *lall[] = { "all" };
        struct caps_request r3 = { .drop = lall, .n_drop = 1 };
        assert_int_equal(caps_compute(&r3, false, HELD, &set, &amb, NULL), 0);
        assert_true(set == 0);
}

static void test_unknown_and_unheld(void **state)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        char *bad[] = { "CAP_DOES_NOT_EXIST" };
        char *res[] = { "SYS_RESOURCE" };
        char *empty[] = { "" };
        uint64_t set = 7, amb = 7;

        struct caps_request r1 = { .add = bad, .n_add = 1 };
        assert_int_equal(caps_compute(&r1, false, HELD, &set, &amb, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "add_capabilities: unknown capability 'CAP_DOES_NOT_EXIST'"));
        assert_true(set == 7);
        ocid_error_clear(&err);

        struct caps_request r2 = { .drop = bad, .n_drop = 1 };
        assert_int_equal(caps_compute(&r2, false, HELD, &set, &amb, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "drop_capabilities"));
        ocid_error_clear(&err);

        /* a capability the daemon lacks cannot be granted */
        struct caps_request r3 = { .add = res, .n_add = 1 };
        assert_int_equal(caps_compute(&r3, false, HELD, &set, &amb, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "CAP_SYS_RESOURCE is not held by the daemon"));
        ocid_error_clear(&err);

        /* but dropping it is fine */
        struct caps_request r4 = { .drop = res, .n_drop = 1 };
        assert_int_equal(caps_compute(&r4, false, HELD, &set, &amb, NULL), 0);

        struct caps_request r5 = { .add = empty, .n_add = 1 };
        assert_int_equal(caps_compute(&r5, false, HELD, &set, &amb, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "empty capability name"));
}

static void test_privileged(void **state)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        char *all[] = { "ALL" };
        char *bad[] = { "NOPE" };
        uint64_t set, amb;

        /* everything the daemon holds, drops ignored */
        struct caps_request r1 = { .drop = all, .n_drop = 1 };
        assert_int_equal(caps_compute(&r1, true, HELD, &set, &amb, NULL), 0);
        assert_true(set == HELD);
        assert_false(set & C(SYS_RESOURCE));
        /* names are still checked */
        struct caps_request r2 = { .drop = bad, .n_drop = 1 };
        assert_int_equal(caps_compute(&r2, true, HELD, &set, &amb, &err), -EINVAL);
}

static void test_ambient(void **state)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        char *amb_names[] = { "NET_RAW" };
        char *all[] = { "ALL" };
        uint64_t set, amb;

        struct caps_request r1 = { .ambient = amb_names, .n_ambient = 1, .drop = all, .n_drop = 1 };
        assert_int_equal(caps_compute(&r1, false, HELD, &set, &amb, NULL), 0);
        assert_true(amb == C(NET_RAW));
        assert_true(set == C(NET_RAW));

        struct caps_request r2 = { .ambient = all, .n_ambient = 1 };
        assert_int_equal(caps_compute(&r2, false, HELD, &set, &amb, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "'ALL' is not allowed"));
}

/* capget() agrees with the kernel's own report in /proc/self/status. */
static void test_probe(void **state)
{
        _cleanup_free_ char *status = NULL;
        unsigned long long want;
        uint64_t caps = 0;
        const char *line;

        assert_int_equal(ocid_read_file("/proc/self/status", 1 << 20, &status, NULL, NULL), 0);
        line = strstr(status, "\nCapEff:");
        assert_non_null(line);
        assert_int_equal(sscanf(line, "\nCapEff: %llx", &want), 1);
        assert_int_equal(caps_probe_effective(&caps, NULL), 0);
        assert_true(caps == (uint64_t) want);
}

OCID_TEST_MAIN(cmocka_unit_test(test_parse),
               cmocka_unit_test(test_default_set),
               cmocka_unit_test(test_no_request),
               cmocka_unit_test(test_add_drop),
               cmocka_unit_test(test_all),
               cmocka_unit_test(test_unknown_and_unheld),
               cmocka_unit_test(test_privileged),
               cmocka_unit_test(test_ambient),
               cmocka_unit_test(test_probe))
