/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "../../test-common.h"
#include "spec-test.h"

#include <json-c/json.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "spec/resources.h"
#include "spec/spec.h"

#define MiB (INT64_C(1024) * 1024)

static char *hugepages;

static int group_setup(void **state)
{
        hugepages = scratch_dir();
        put_dir(hugepages, "hugepages-2048kB");
        put_dir(hugepages, "hugepages-1048576kB");
        return 0;
}

static int group_teardown(void **state)
{
        scratch_remove(hugepages);
        return 0;
}

static struct spec_host host_v1(void)
{
        return (struct spec_host) { .cgroup_v2 = false, .swap_accounting = true, .oom_score_adj = 0,
                                    .hugepages_dir = hugepages };
}

/* Converts; returns the JSON text (or NULL after the expected error). */
static char *convert(const Runtime__V1__LinuxContainerResources *r, const struct spec_host *h, int *oom,
                     const char *error_needle)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        int rr, dummy;

        rr = resources_to_oci(r, h, &o, oom ? oom : &dummy, &err);
        if (error_needle) {
                assert_int_equal(rr, -EINVAL);
                assert_null(o);
                if (!strstr(ocid_error_message(&err), error_needle))
                        fail_msg("error '%s' lacks '%s'", ocid_error_message(&err), error_needle);
                return NULL;
        }
        if (rr < 0)
                fail_msg("resources_to_oci: %s", ocid_error_message(&err));
        return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

static void test_full(void **state)
{
        Runtime__V1__LinuxContainerResources r = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
        Runtime__V1__HugepageLimit h1 = RUNTIME__V1__HUGEPAGE_LIMIT__INIT, h2 = RUNTIME__V1__HUGEPAGE_LIMIT__INIT;
        Runtime__V1__HugepageLimit *hs[] = { &h1, &h2 };
        struct spec_host h = host_v1();
        _cleanup_free_ char *j = NULL;
        int oom = 0;

        r.cpu_shares = 512;
        r.cpu_quota = 50000;
        r.cpu_period = 100000;
        r.cpuset_cpus = "0-3,5";
        r.cpuset_mems = "0";
        r.memory_limit_in_bytes = 128 * MiB;
        r.memory_swap_limit_in_bytes = 256 * MiB;
        r.oom_score_adj = 500;
        h1.page_size = "2MB";
        h1.limit = 0;
        h2.page_size = "1GB";
        h2.limit = 1073741824;
        r.n_hugepage_limits = 2;
        r.hugepage_limits = hs;
        j = convert(&r, &h, &oom, NULL);
        assert_string_equal(j, "{\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000,\"cpus\":\"0-3,5\",\"mems\":\"0\"},"
                               "\"memory\":{\"limit\":134217728,\"swap\":268435456},"
                               "\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":0},{\"pageSize\":\"1GB\",\"limit\":1073741824}]}");
        assert_int_equal(oom, 500);
}

static void test_empty(void **state)
{
        Runtime__V1__LinuxContainerResources r = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
        struct spec_host h = host_v1();
        _cleanup_free_ char *a = NULL, *b = NULL;
        int oom = 7;

        a = convert(&r, &h, &oom, NULL);
        assert_string_equal(a, "{}");
        assert_int_equal(oom, 0);
        b = convert(NULL, &h, &oom, NULL);
        assert_string_equal(b, "{}");
        assert_int_equal(oom, 0);
        h.oom_score_adj = -500;
        free(convert(NULL, &h, &oom, NULL));
        assert_int_equal(oom, 0);
        h.oom_score_adj = 300;
        free(convert(NULL, &h, &oom, NULL));
        assert_int_equal(oom, 300);
}

static void test_cpu_ranges(void **state)
{
        Runtime__V1__LinuxContainerResources r = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
        struct spec_host h = host_v1();

        r.cpu_shares = 1;
        convert(&r, &h, NULL, "container config: linux.resources.cpu_shares: 1 is out of range (2 to 262144");
        r.cpu_shares = 262145;
        convert(&r, &h, NULL, "cpu_shares: 262145 is out of range");
        r.cpu_shares = -5;
        convert(&r, &h, NULL, "cpu_shares: -5");
        r.cpu_shares = 2;
        free(convert(&r, &h, NULL, NULL));
        r.cpu_shares = 262144;
        free(convert(&r, &h, NULL, NULL));

        r.cpu_period = 999;
        convert(&r, &h, NULL, "cpu_period: 999 µs is out of range (1000 to 1000000");
        r.cpu_period = 1000001;
        convert(&r, &h, NULL, "cpu_period");
        r.cpu_period = 1000;
        free(convert(&r, &h, NULL, NULL));

        r.cpu_quota = 999;
        convert(&r, &h, NULL, "cpu_quota: 999 µs is out of range");
        r.cpu_quota = -2;
        convert(&r, &h, NULL, "cpu_quota: -2");
        r.cpu_quota = INT64_MAX;
        convert(&r, &h, NULL, "cpu_quota");
        r.cpu_quota = -1;
        free(convert(&r, &h, NULL, NULL));
        r.cpu_quota = 1000;
        free(convert(&r, &h, NULL, NULL));
}

static void test_cpuset_syntax(void **state)
{
        const char *good[] = { "0", "0-3", "0-3,5", "1,2,3", "0-0", "65535", "7-8,10-12" };
        const char *bad[] = { "", "-1", "3-1", "0,", ",0", "0-", "a", "0 -3", "0-3 ", "1,,2", "65536", "0-65536",
                              "0x1", "1-2-3", "0\n1" };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (resources_cpuset_check(good[i], NULL) < 0)
                        fail_msg("'%s' refused", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_error_ struct ocid_error *err = NULL;
                if (resources_cpuset_check(bad[i], &err) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i]);
        }
        {
                Runtime__V1__LinuxContainerResources r = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
                struct spec_host h = host_v1();
                r.cpuset_cpus = "3-1";
                convert(&r, &h, NULL, "container config: linux.resources.cpuset_cpus: '3-1': range 3-1 is descending");
                r.cpuset_cpus = "";
                r.cpuset_mems = "0,x";
                convert(&r, &h, NULL, "linux.resources.cpuset_mems: '0,x'");
        }
}

static void test_memory(void **state)
{
        Runtime__V1__LinuxContainerResources r = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
        struct spec_host h = host_v1();
        _cleanup_free_ char *j = NULL;

        r.memory_limit_in_bytes = 12 * MiB - 1;
        convert(&r, &h, NULL, "memory_limit_in_bytes: 12582911 is out of range");
        r.memory_limit_in_bytes = -1;
        convert(&r, &h, NULL, "memory_limit_in_bytes: -1");
        r.memory_limit_in_bytes = INT64_MAX;
        convert(&r, &h, NULL, "memory_limit_in_bytes");
        r.memory_limit_in_bytes = 12 * MiB;
        free(convert(&r, &h, NULL, NULL));

        /* swap counts memory plus swap */
        r.memory_swap_limit_in_bytes = 12 * MiB - 4096;
        convert(&r, &h, NULL, "memory_swap_limit_in_bytes: 12578816 is below memory_limit_in_bytes");
        r.memory_swap_limit_in_bytes = -2;
        convert(&r, &h, NULL, "memory_swap_limit_in_bytes: -2 is out of range");
        r.memory_swap_limit_in_bytes = -1;
        j = convert(&r, &h, NULL, NULL);
        assert_string_equal(j, "{\"memory\":{\"limit\":12582912,\"swap\":-1}}");
        r.memory_limit_in_bytes = 0;
        r.memory_swap_limit_in_bytes = 64 * MiB;
        convert(&r, &h, NULL, "memory_swap_limit_in_bytes: set without memory_limit_in_bytes");
}

static void test_swap_without_accounting(void **state)
{
        Runtime__V1__LinuxContainerResources r = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
        struct spec_host h = host_v1();
        _cleanup_free_ char *a = NULL, *b = NULL;

        h.swap_accounting = false;
        r.memory_limit_in_bytes = 64 * MiB;
        /* "no swap" (swap == limit), as the kubelet sends it: nothing to set */
        r.memory_swap_limit_in_bytes = 64 * MiB;
        a = convert(&r, &h, NULL, NULL);
        assert_string_equal(a, "{\"memory\":{\"limit\":67108864}}");
        r.memory_swap_limit_in_bytes = -1;
        b = convert(&r, &h, NULL, NULL);
        assert_string_equal(b, "{\"memory\":{\"limit\":67108864}}");
        r.memory_swap_limit_in_bytes = 128 * MiB;
        convert(&r, &h, NULL, "this host has no swap accounting");
}

static void test_oom_score_adj(void **state)
{
        Runtime__V1__LinuxContainerResources r = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
        struct spec_host h = host_v1();
        int oom = 0;

        r.oom_score_adj = -1001;
        convert(&r, &h, NULL, "oom_score_adj: -1001 is out of range (-1000 to 1000)");
        r.oom_score_adj = 1001;
        convert(&r, &h, NULL, "oom_score_adj: 1001");
        /* never below the daemon's own value */
        h.oom_score_adj = -500;
        r.oom_score_adj = -998;
        free(convert(&r, &h, &oom, NULL));
        assert_int_equal(oom, -500);
        r.oom_score_adj = -100;
        free(convert(&r, &h, &oom, NULL));
        assert_int_equal(oom, -100);
        h.oom_score_adj = 0;
        r.oom_score_adj = -1000;
        free(convert(&r, &h, &oom, NULL));
        assert_int_equal(oom, 0);
        r.oom_score_adj = 1000;
        free(convert(&r, &h, &oom, NULL));
        assert_int_equal(oom, 1000);
}

static void test_hugepages(void **state)
{
        Runtime__V1__LinuxContainerResources r = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
        Runtime__V1__HugepageLimit a = RUNTIME__V1__HUGEPAGE_LIMIT__INIT, b = RUNTIME__V1__HUGEPAGE_LIMIT__INIT;
        Runtime__V1__HugepageLimit *hs[] = { &a, &b };
        struct spec_host h = host_v1();
        uint64_t kb;

        assert_int_equal(resources_hugepage_size_parse("2MB", &kb, NULL), 0);
        assert_int_equal(kb, 2048);
        assert_int_equal(resources_hugepage_size_parse("1GB", &kb, NULL), 0);
        assert_int_equal(kb, 1048576);
        assert_int_equal(resources_hugepage_size_parse("64KB", &kb, NULL), 0);
        assert_int_equal(kb, 64);
        assert_int_equal(resources_hugepage_size_parse("2mb", &kb, NULL), -EINVAL);
        assert_int_equal(resources_hugepage_size_parse("3MB", &kb, NULL), -EINVAL);
        assert_int_equal(resources_hugepage_size_parse("0MB", &kb, NULL), -EINVAL);
        assert_int_equal(resources_hugepage_size_parse("MB", &kb, NULL), -EINVAL);
        assert_int_equal(resources_hugepage_size_parse("2", &kb, NULL), -EINVAL);
        assert_int_equal(resources_hugepage_size_parse("2 MB", &kb, NULL), -EINVAL);
        assert_int_equal(resources_hugepage_size_parse("99999999999999999999MB", &kb, NULL), -EINVAL);

        r.hugepage_limits = hs;
        r.n_hugepage_limits = 1;
        a.page_size = "16MB";
        convert(&r, &h, NULL, "hugepage_limits: page size '16MB' is not supported by this host");
        a.page_size = "2MB";
        a.limit = UINT64_MAX;
        convert(&r, &h, NULL, "is absurd");
        a.limit = 2097152;
        r.n_hugepage_limits = 2;
        b.page_size = "2MB";
        convert(&r, &h, NULL, "page size '2MB' is given twice");
        b.page_size = "abc";
        convert(&r, &h, NULL, "linux.resources.hugepage_limits: page size 'abc'");
}

static void test_unified(void **state)
{
        Runtime__V1__LinuxContainerResources r = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
        Runtime__V1__LinuxContainerResources__UnifiedEntry e1 = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__UNIFIED_ENTRY__INIT;
        Runtime__V1__LinuxContainerResources__UnifiedEntry e2 = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__UNIFIED_ENTRY__INIT;
        Runtime__V1__LinuxContainerResources__UnifiedEntry *es[] = { &e1, &e2 };
        struct spec_host h = host_v1();
        _cleanup_free_ char *j = NULL;

        e1.key = "memory.high";
        e1.value = "104857600";
        e2.key = "pids.max";
        e2.value = "max";
        r.unified = es;
        r.n_unified = 2;
        convert(&r, &h, NULL, "unified: this host uses cgroup v1");
        h.cgroup_v2 = true;
        j = convert(&r, &h, NULL, NULL);
        assert_string_equal(j, "{\"unified\":{\"memory.high\":\"104857600\",\"pids.max\":\"max\"}}");

        e2.key = "cgroup.procs";
        convert(&r, &h, NULL, "'cgroup.procs' is a cgroup core file");
        e2.key = "../memory.max";
        convert(&r, &h, NULL, "unified: '../memory.max' is not a cgroup file name");
        e2.key = "memory";
        convert(&r, &h, NULL, "is not a cgroup file name");
        e2.key = "memory.high";
        convert(&r, &h, NULL, "'memory.high' is given twice");
        e2.key = "memory.max";
        e2.value = "1\nmemory.high=1";
        convert(&r, &h, NULL, "unified: 'memory.max': value contains the control character 0x0a");
        e2.value = "";
        convert(&r, &h, NULL, "empty or overlong value");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full),
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_cpu_ranges),
                cmocka_unit_test(test_cpuset_syntax),
                cmocka_unit_test(test_memory),
                cmocka_unit_test(test_swap_without_accounting),
                cmocka_unit_test(test_oom_score_adj),
                cmocka_unit_test(test_hugepages),
                cmocka_unit_test(test_unified),
        };
        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
