/* SPDX-License-Identifier: Apache-2.0 */
/* oci-runc: runtime handlers served by the runc OCI runtime binary, run per
 * operation. This minor implements the module's life and each handler's
 * readiness (modules/oci-common); the runtime ops come with later ABI
 * minors. */

#define OCID_LOG_CATEGORY "oci-runc"

#include <ocid/module.h>

#include "../oci-common/oci-cli.h"

static const struct ocid_runtime_ops runc_ops = {
        .base = {
                .init = oci_init,
                .fini = oci_fini,
                .check = oci_check,
                .status = oci_status,
                .info = oci_info,
        },
        .handler_status = oci_handler_status,
};

OCID_MODULE_DEFINE(oci_runc, "oci-runc", OCID_MODULE_KIND_RUNTIME, &runc_ops);
