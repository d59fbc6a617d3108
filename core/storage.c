/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to the storage module. */

#include <ocid/module.h>

#include "module-loader.h"
#include "storage.h"

int storage_status(struct ocid_module *m, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        int r;

        r = module_check_callable(m, OCID_MODULE_KIND_STORAGE, "status", err);
        if (r < 0)
                return r;
        return module_status(m, ret_reason, ret_message, err);
}
