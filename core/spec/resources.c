/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "spec/resources.h"
#include "spec/spec.h"

#define FIELD "container config: linux.resources."

static int parse_cpuset_id(const char **p, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                v = v * 10 + (uint64_t) (*s - '0');
                if (v > RESOURCES_CPUSET_MAX_ID)
                        return -ERANGE;
        }
        *p = s;
        *ret = v;
        return 0;
}

int resources_cpuset_check(const char *list, struct ocid_error **err)
{
        const char *p = list;

        if (!list || !*list)
                return ocid_error_msg(err, EINVAL, "empty list");
        if (strlen(list) > 65536)
                return ocid_error_msg(err, EINVAL, "list is too long");
        for (;;) {
                uint64_t lo, hi;
                int r = parse_cpuset_id(&p, &lo);

                if (r < 0)
                        return ocid_error_msg(err, EINVAL, "'%s': %s at offset %zu", list,
                                              r == -ERANGE ? "ID above 65535" : "expected a number",
                                              (size_t) (p - list));
                hi = lo;
                if (*p == '-') {
                        p++;
                        r = parse_cpuset_id(&p, &hi);
                        if (r < 0)
                                return ocid_error_msg(err, EINVAL, "'%s': %s at offset %zu", list,
                                                      r == -ERANGE ? "ID above 65535" : "expected a number",
                                                      (size_t) (p - list));
                        if (hi < lo)
                                return ocid_error_msg(err, EINVAL, "'%s': range %" PRIu64 "-%" PRIu64 " is descending",
                                                      list, lo, hi);
                }
                if (!*p)
                        return 0;
                if (*p != ',')
                        return ocid_error_msg(err, EINVAL, "'%s': unexpected character at offset %zu", list,
                                              (size_t) (p - list));
                p++;
        }
}

int resources_hugepage_size_parse(const char *text, uint64_t *ret_kb, struct ocid_error **err)
{
        static const struct {
                const char *suffix;
                uint64_t kb;
        } units[] = { { "KB", 1 }, { "kB", 1 }, { "MB", 1024 }, { "GB", 1024 * 1024 }, { "TB", 1024 * 1024 * 1024 } };
        uint64_t n = 0, kb;
        const char *p = text;

        if (!text || !*text)
                return ocid_error_msg(err, EINVAL, "empty page size");
        for (; *p >= '0' && *p <= '9'; p++) {
                n = n * 10 + (uint64_t) (*p - '0');
                if (n > 1024 * 1024)
                        return ocid_error_msg(err, EINVAL, "page size '%s' is absurd", text);
        }
        if (p == text || n == 0)
                return ocid_error_msg(err, EINVAL, "page size '%s' does not start with a positive number", text);
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(p, units[i].suffix)) {
                        kb = n * units[i].kb;
                        if ((kb & (kb - 1)) != 0)
                                return ocid_error_msg(err, EINVAL, "page size '%s' is not a power of two", text);
                        *ret_kb = kb;
                        return 0;
                }
        return ocid_error_msg(err, EINVAL, "page size '%s' has no unit (KB, MB, GB)", text);
}

int resources_unified_key_check(const char *key, struct ocid_error **err)
{
        const char *dot;
        size_t len = key ? strlen(key) : 0;

        if (len == 0 || len > 255)
                return ocid_error_msg(err, EINVAL, "empty or overlong cgroup file name");
        for (size_t i = 0; i < len; i++) {
                char c = key[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
                        return ocid_error_msg(err, EINVAL, "'%s' is not a cgroup file name", key);
        }
        dot = strchr(key, '.');
        if (!dot || dot == key || !dot[1] || strstr(key, ".."))
                return ocid_error_msg(err, EINVAL, "'%s' is not a cgroup file name (<controller>.<file>)", key);
        if (ocid_startswith(key, "cgroup."))
                return ocid_error_msg(err, EINVAL, "'%s' is a cgroup core file, which the runtime manages", key);
        return 0;
}

static int unified_value_check(const char *key, const char *value, struct ocid_error **err)
{
        size_t len = value ? strlen(value) : 0;

        if (len == 0 || len > 4096)
                return ocid_error_msg(err, EINVAL, FIELD "unified: '%s': empty or overlong value", key);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) value[i];
                if (c < 0x20 || c == 0x7f)
                        return ocid_error_msg(err, EINVAL, FIELD "unified: '%s': value contains the control character 0x%02x",
                                              key, c);
        }
        return 0;
}

static int hugepages(const Runtime__V1__LinuxContainerResources *r, const struct spec_host *host,
                     struct json_object *res, struct ocid_error **err)
{
        struct json_object *arr;
        uint64_t seen[RESOURCES_HUGEPAGES_MAX];
        const char *dir = host->hugepages_dir ? host->hugepages_dir : "/sys/kernel/mm/hugepages";

        if (r->n_hugepage_limits == 0)
                return 0;
        if (r->n_hugepage_limits > RESOURCES_HUGEPAGES_MAX)
                return ocid_error_msg(err, EINVAL, FIELD "hugepage_limits: more than %d entries", RESOURCES_HUGEPAGES_MAX);
        arr = json_object_new_array();
        json_object_object_add(res, "hugepageLimits", arr);
        for (size_t i = 0; i < r->n_hugepage_limits; i++) {
                const Runtime__V1__HugepageLimit *h = r->hugepage_limits[i];
                _cleanup_free_ char *path = NULL;
                struct json_object *o;
                struct stat st;
                uint64_t kb;
                int rr;

                if (!h)
                        return ocid_error_msg(err, EINVAL, FIELD "hugepage_limits: entry %zu is empty", i);
                rr = resources_hugepage_size_parse(h->page_size, &kb, err);
                if (rr < 0)
                        return ocid_error_prefix(err, FIELD "hugepage_limits");
                for (size_t j = 0; j < i; j++)
                        if (seen[j] == kb)
                                return ocid_error_msg(err, EINVAL, FIELD "hugepage_limits: page size '%s' is given twice",
                                                      h->page_size);
                seen[i] = kb;
                path = xasprintf("%s/hugepages-%" PRIu64 "kB", dir, kb);
                if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                        return ocid_error_msg(err, EINVAL, FIELD "hugepage_limits: page size '%s' is not supported by this host",
                                              h->page_size);
                if (h->limit > (uint64_t) INT64_MAX)
                        return ocid_error_msg(err, EINVAL, FIELD "hugepage_limits: limit %" PRIu64 " for '%s' is absurd",
                                              h->limit, h->page_size);
                o = json_object_new_object();
                json_object_object_add(o, "pageSize", json_object_new_string(h->page_size));
                json_object_object_add(o, "limit", json_object_new_uint64(h->limit));
                json_object_array_add(arr, o);
        }
        return 0;
}

int resources_to_oci(const Runtime__V1__LinuxContainerResources *r, const struct spec_host *host,
                     struct json_object **ret, int *ret_oom_score_adj, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *res = json_object_new_object();
        struct json_object *cpu, *mem;
        int64_t oom = 0;
        int rr;

        if (!r) {
                *ret_oom_score_adj = host->oom_score_adj > 0 ? host->oom_score_adj : 0;
                *ret = TAKE_PTR(res);
                return 0;
        }

        /* cpu */
        if (r->cpu_shares != 0 && (r->cpu_shares < RESOURCES_CPU_SHARES_MIN || r->cpu_shares > RESOURCES_CPU_SHARES_MAX))
                return ocid_error_msg(err, EINVAL, FIELD "cpu_shares: %" PRId64 " is out of range (%d to %d, or 0 for none)",
                                      r->cpu_shares, RESOURCES_CPU_SHARES_MIN, RESOURCES_CPU_SHARES_MAX);
        if (r->cpu_period != 0 && (r->cpu_period < RESOURCES_CPU_PERIOD_MIN || r->cpu_period > RESOURCES_CPU_PERIOD_MAX))
                return ocid_error_msg(err, EINVAL, FIELD "cpu_period: %" PRId64 " µs is out of range (%d to %d, or 0 for the default)",
                                      r->cpu_period, RESOURCES_CPU_PERIOD_MIN, RESOURCES_CPU_PERIOD_MAX);
        if (r->cpu_quota != 0 && r->cpu_quota != -1 &&
            (r->cpu_quota < RESOURCES_CPU_QUOTA_MIN || r->cpu_quota > RESOURCES_CPU_QUOTA_MAX))
                return ocid_error_msg(err, EINVAL, FIELD "cpu_quota: %" PRId64 " µs is out of range (%d to %" PRId64 ", -1 for unlimited or 0 for none)",
                                      r->cpu_quota, RESOURCES_CPU_QUOTA_MIN, RESOURCES_CPU_QUOTA_MAX);
        cpu = json_object_new_object();
        json_object_object_add(res, "cpu", cpu);
        if (r->cpu_shares)
                json_object_object_add(cpu, "shares", json_object_new_uint64((uint64_t) r->cpu_shares));
        if (r->cpu_quota)
                json_object_object_add(cpu, "quota", json_object_new_int64(r->cpu_quota));
        if (r->cpu_period)
                json_object_object_add(cpu, "period", json_object_new_uint64((uint64_t) r->cpu_period));
        if (r->cpuset_cpus && *r->cpuset_cpus) {
                rr = resources_cpuset_check(r->cpuset_cpus, err);
                if (rr < 0)
                        return ocid_error_prefix(err, FIELD "cpuset_cpus");
                json_object_object_add(cpu, "cpus", json_object_new_string(r->cpuset_cpus));
        }
        if (r->cpuset_mems && *r->cpuset_mems) {
                rr = resources_cpuset_check(r->cpuset_mems, err);
                if (rr < 0)
                        return ocid_error_prefix(err, FIELD "cpuset_mems");
                json_object_object_add(cpu, "mems", json_object_new_string(r->cpuset_mems));
        }

        /* memory */
        if (r->memory_limit_in_bytes != 0 &&
            (r->memory_limit_in_bytes < RESOURCES_MEMORY_MIN || r->memory_limit_in_bytes > RESOURCES_MEMORY_MAX))
                return ocid_error_msg(err, EINVAL, FIELD "memory_limit_in_bytes: %" PRId64 " is out of range (%" PRId64 " (12 MiB) to %" PRId64 " (1 EiB), or 0 for none)",
                                      r->memory_limit_in_bytes, RESOURCES_MEMORY_MIN, RESOURCES_MEMORY_MAX);
        mem = json_object_new_object();
        json_object_object_add(res, "memory", mem);
        if (r->memory_limit_in_bytes)
                json_object_object_add(mem, "limit", json_object_new_int64(r->memory_limit_in_bytes));
        if (r->memory_swap_limit_in_bytes == -1) {
                if (host->swap_accounting)
                        json_object_object_add(mem, "swap", json_object_new_int64(-1));
        } else if (r->memory_swap_limit_in_bytes != 0) {
                if (r->memory_swap_limit_in_bytes < 0 || r->memory_swap_limit_in_bytes > RESOURCES_MEMORY_MAX)
                        return ocid_error_msg(err, EINVAL, FIELD "memory_swap_limit_in_bytes: %" PRId64 " is out of range",
                                              r->memory_swap_limit_in_bytes);
                if (r->memory_limit_in_bytes == 0)
                        return ocid_error_msg(err, EINVAL, FIELD "memory_swap_limit_in_bytes: set without memory_limit_in_bytes");
                if (r->memory_swap_limit_in_bytes < r->memory_limit_in_bytes)
                        return ocid_error_msg(err, EINVAL, FIELD "memory_swap_limit_in_bytes: %" PRId64 " is below memory_limit_in_bytes %" PRId64 " (it counts memory plus swap)",
                                              r->memory_swap_limit_in_bytes, r->memory_limit_in_bytes);
                if (host->swap_accounting)
                        json_object_object_add(mem, "swap", json_object_new_int64(r->memory_swap_limit_in_bytes));
                else if (r->memory_swap_limit_in_bytes != r->memory_limit_in_bytes)
                        return ocid_error_msg(err, EINVAL, FIELD "memory_swap_limit_in_bytes: this host has no swap accounting, so swap cannot be limited");
        }

        /* oom_score_adj */
        oom = r->oom_score_adj;
        if (oom < -1000 || oom > 1000)
                return ocid_error_msg(err, EINVAL, FIELD "oom_score_adj: %" PRId64 " is out of range (-1000 to 1000)", oom);
        if (oom < host->oom_score_adj)
                oom = host->oom_score_adj;

        rr = hugepages(r, host, res, err);
        if (rr < 0)
                return rr;

        if (r->n_unified > 0) {
                struct json_object *u;

                if (!host->cgroup_v2)
                        return ocid_error_msg(err, EINVAL, FIELD "unified: this host uses cgroup v1; unified (cgroup v2) settings cannot apply");
                if (r->n_unified > RESOURCES_UNIFIED_MAX)
                        return ocid_error_msg(err, EINVAL, FIELD "unified: more than %d entries", RESOURCES_UNIFIED_MAX);
                u = json_object_new_object();
                json_object_object_add(res, "unified", u);
                for (size_t i = 0; i < r->n_unified; i++) {
                        const char *k = r->unified[i] ? r->unified[i]->key : NULL;
                        const char *v = r->unified[i] ? r->unified[i]->value : NULL;

                        rr = resources_unified_key_check(k, err);
                        if (rr < 0)
                                return ocid_error_prefix(err, FIELD "unified");
                        rr = unified_value_check(k, v, err);
                        if (rr < 0)
                                return rr;
                        if (json_object_object_get_ex(u, k, NULL))
                                return ocid_error_msg(err, EINVAL, FIELD "unified: '%s' is given twice", k);
                        json_object_object_add(u, k, json_object_new_string(v));
                }
        }

        /* No empty objects: a runtime reads "cpu": {} as "nothing to set",
         * but the spec is easier to read without them. */
        if (json_object_object_length(cpu) == 0)
                json_object_object_del(res, "cpu");
        if (json_object_object_length(mem) == 0)
                json_object_object_del(res, "memory");

        *ret_oom_score_adj = (int) oom;
        *ret = TAKE_PTR(res);
        return 0;
}
