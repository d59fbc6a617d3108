/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* CRI LinuxContainerResources to the OCI linux.resources object, with
 * every value range-checked: a kubelet never sends an absurd value, so one
 * is refused with a message that names the field. */

#include <stdint.h>

#include "server/cri-proto.h"

struct json_object;
struct ocid_error;
struct spec_host;

#define RESOURCES_CPU_SHARES_MIN   2
#define RESOURCES_CPU_SHARES_MAX   262144
#define RESOURCES_CPU_PERIOD_MIN   1000        /* µs, the kernel's bounds */
#define RESOURCES_CPU_PERIOD_MAX   1000000
#define RESOURCES_CPU_QUOTA_MIN    1000
#define RESOURCES_CPU_QUOTA_MAX    ((INT64_C(1) << 44) - 1)  /* the kernel's max_cfs_runtime */
#define RESOURCES_MEMORY_MIN       (INT64_C(12) * 1024 * 1024)
#define RESOURCES_MEMORY_MAX       (INT64_C(1) << 60)         /* 1 EiB */
#define RESOURCES_CPUSET_MAX_ID    65535
#define RESOURCES_UNIFIED_MAX      256
#define RESOURCES_HUGEPAGES_MAX    64

/* A cpuset list: "0-3,5,7-8"; ranges ascending, IDs up to
 * RESOURCES_CPUSET_MAX_ID, no spaces, no empty entries. */
int resources_cpuset_check(const char *list, struct ocid_error **err);

/* A huge page size as Kubernetes writes it ("2MB", "1GB", "64KB"), in kB.
 * It must be a power of two. */
int resources_hugepage_size_parse(const char *text, uint64_t *ret_kb, struct ocid_error **err);

/* A cgroup v2 file name for `unified`: "<controller>.<name>", lowercase
 * letters, digits, '_' and '.', not a cgroup.* core file. */
int resources_unified_key_check(const char *key, struct ocid_error **err);

/* Fills *ret with the OCI linux.resources object (without devices) and
 * *ret_oom_score_adj with the process's oom_score_adj: the CRI value, but
 * never below the daemon's own (host->oom_score_adj), which it could not
 * lower without CAP_SYS_RESOURCE. r may be NULL (no limits). Errors are
 * -EINVAL "container config: linux.resources.<field>: ...". */
int resources_to_oci(const Runtime__V1__LinuxContainerResources *r, const struct spec_host *host,
                     struct json_object **ret, int *ret_oom_score_adj, struct ocid_error **err);
