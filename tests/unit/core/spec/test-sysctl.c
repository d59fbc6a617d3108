/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "../../test-common.h"

#include <json-c/json.h>

#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "spec/sysctl.h"

static void expect_normal(const char *key, const char *want, int ns)
{
        _cleanup_free_ char *out = NULL;

        assert_int_equal(sysctl_normalize(key, &out, NULL), ns);
        assert_string_equal(out, want);
}

static void expect_refused(const char *key, const char *needle)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        char *out = NULL;

        assert_int_equal(sysctl_normalize(key, &out, &err), -EINVAL);
        assert_null(out);
        if (!strstr(ocid_error_message(&err), needle))
                fail_msg("'%s': error '%s' lacks '%s'", key, ocid_error_message(&err), needle);
}

static void test_namespaced_keys(void **state)
{
        expect_normal("net.ipv4.ip_forward", "net.ipv4.ip_forward", SYSCTL_NS_NET);
        expect_normal("net.core.somaxconn", "net.core.somaxconn", SYSCTL_NS_NET);
        expect_normal("kernel.shm_rmid_forced", "kernel.shm_rmid_forced", SYSCTL_NS_IPC);
        expect_normal("kernel.shmmax", "kernel.shmmax", SYSCTL_NS_IPC);
        expect_normal("kernel.msgmax", "kernel.msgmax", SYSCTL_NS_IPC);
        expect_normal("kernel.sem", "kernel.sem", SYSCTL_NS_IPC);
        expect_normal("fs.mqueue.msg_max", "fs.mqueue.msg_max", SYSCTL_NS_IPC);
}

static void test_slash_form(void **state)
{
        expect_normal("net/ipv4/ip_forward", "net.ipv4.ip_forward", SYSCTL_NS_NET);
        /* a dot inside a component survives as '/' (the kubelet's form) */
        expect_normal("net/ipv4/conf/eth0.100/forwarding", "net.ipv4.conf.eth0/100.forwarding", SYSCTL_NS_NET);
        /* the first separator decides: here '.' is the separator */
        expect_normal("net.ipv4.conf.eth0/100.forwarding", "net.ipv4.conf.eth0/100.forwarding", SYSCTL_NS_NET);
        expect_normal("kernel/shmmax", "kernel.shmmax", SYSCTL_NS_IPC);
}

static void test_not_namespaced(void **state)
{
        expect_refused("kernel.core_pattern", "is not namespaced");
        expect_refused("vm.swappiness", "is not namespaced");
        expect_refused("kernel.hostname", "is not namespaced");
        expect_refused("kernel.semx", "is not namespaced");
        expect_refused("fs.mqueue", "is not namespaced");
        expect_refused("net", "is not namespaced");
        expect_refused("kernel/core_pattern", "is not namespaced");
}

static void test_bad_names(void **state)
{
        expect_refused("", "empty sysctl name");
        expect_refused("Net.ipv4.ip_forward", "invalid character");
        expect_refused("net.ipv4.ip_forward ", "invalid character");
        expect_refused("net.ipv4.ip_forward\nkernel.core_pattern", "invalid character");
        expect_refused("net.ipv4.ip_forward=1", "invalid character");
        expect_refused("net..ipv4", "empty name component");
        expect_refused("net.ipv4.", "empty name component");
        /* climbing out of net/ with '..' in the slash form */
        expect_refused("net/../kernel/core_pattern", "'.' or '..'");
        expect_refused("net/./ipv4", "'.' or '..'");
        expect_refused("net.ipv4.conf.//.x", "'.' or '..'");
}

static void test_values(void **state)
{
        _cleanup_error_ struct ocid_error *err = NULL;

        assert_int_equal(sysctl_value_check("1", NULL), 0);
        assert_int_equal(sysctl_value_check("4096 87380 6291456", NULL), 0);
        assert_int_equal(sysctl_value_check("", &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(sysctl_value_check("1\nkernel.core_pattern=|/x", &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "control character 0x0a"));
        ocid_error_clear(&err);
        assert_int_equal(sysctl_value_check("1 kernel.core_pattern=|/x", &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "'='"));
        ocid_error_clear(&err);
        assert_int_equal(sysctl_value_check("1\r", &err), -EINVAL);
}

static void test_add(void **state)
{
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_error_ struct ocid_error *err = NULL;

        assert_int_equal(sysctl_add(o, "net/ipv4/ip_forward", "1", false, false, NULL), 0);
        assert_int_equal(sysctl_add(o, "kernel.shmmax", "68719476736", false, false, NULL), 0);
        assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                            "{\"net.ipv4.ip_forward\":\"1\",\"kernel.shmmax\":\"68719476736\"}");

        /* the same key in both forms */
        assert_int_equal(sysctl_add(o, "net.ipv4.ip_forward", "0", false, false, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "given twice"));
        ocid_error_clear(&err);

        /* the injection from issue 6: the error names the key */
        assert_int_equal(sysctl_add(o, "net.core.somaxconn", "1\nkernel.core_pattern=|/x", false, false, &err),
                         -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "pod config: linux.sysctls: sysctl 'net.core.somaxconn'"));
        ocid_error_clear(&err);

        assert_int_equal(sysctl_add(o, "kernel.core_pattern", "|/x", false, false, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "pod config: linux.sysctls: sysctl 'kernel.core_pattern' is not namespaced"));
        assert_int_equal(json_object_object_length(o), 2);
}

static void test_host_namespaces(void **state)
{
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_error_ struct ocid_error *err = NULL;

        assert_int_equal(sysctl_add(o, "net.ipv4.ip_forward", "1", true, false, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "'net.ipv4.ip_forward' is not allowed with the host network namespace"));
        ocid_error_clear(&err);
        assert_int_equal(sysctl_add(o, "kernel.shmmax", "1", false, true, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "host IPC namespace"));
        ocid_error_clear(&err);
        assert_int_equal(sysctl_add(o, "fs.mqueue.msg_max", "10", false, true, &err), -EINVAL);
        ocid_error_clear(&err);
        /* the other namespace is fine */
        assert_int_equal(sysctl_add(o, "kernel.shmmax", "1", true, false, NULL), 0);
        assert_int_equal(sysctl_add(o, "net.ipv4.ip_forward", "1", false, true, NULL), 0);
}

OCID_TEST_MAIN(cmocka_unit_test(test_namespaced_keys),
               cmocka_unit_test(test_slash_form),
               cmocka_unit_test(test_not_namespaced),
               cmocka_unit_test(test_bad_names),
               cmocka_unit_test(test_values),
               cmocka_unit_test(test_add),
               cmocka_unit_test(test_host_namespaces))
