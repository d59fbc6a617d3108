/* SPDX-License-Identifier: Apache-2.0 */
/* oci-crun: runtime handlers served by the crun OCI runtime binary, run per
 * operation, each container under conmon (modules/oci-common). crun
 * refuses a cgroup v1 host that also mounts cgroup v2 (hybrid): see
 * docs/modules.md. */

#define OCID_LOG_CATEGORY "oci-crun"

#include <ocid/module.h>

#include "../oci-common/oci-cli.h"

static const struct oci_flavour crun_flavour = {
        .module = "oci-crun",
        .default_root = "/run/crun",
};

static int crun_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        return oci_init(&crun_flavour, cfg, ret_state, err);
}

static const struct ocid_runtime_ops crun_ops = OCI_RUNTIME_OPS(crun_init);

OCID_MODULE_DEFINE(oci_crun, "oci-crun", OCID_MODULE_KIND_RUNTIME, &crun_ops);
