/* SPDX-License-Identifier: Apache-2.0 */
/* oci-runc: runtime handlers served by the runc OCI runtime binary, run per
 * operation, each container under conmon (modules/oci-common). */

#define OCID_LOG_CATEGORY "oci-runc"

#include <ocid/module.h>

#include "../oci-common/oci-cli.h"

static const struct oci_flavour runc_flavour = {
        .module = "oci-runc",
        .default_root = "/run/runc",
};

static int runc_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        return oci_init(&runc_flavour, cfg, ret_state, err);
}

static const struct ocid_runtime_ops runc_ops = OCI_RUNTIME_OPS(runc_init);

OCID_MODULE_DEFINE(oci_runc, "oci-runc", OCID_MODULE_KIND_RUNTIME, &runc_ops);
