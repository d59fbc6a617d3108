/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to runtime modules. */

#include <errno.h>

#include <ocid/error.h>
#include <ocid/module.h>

#include "module-loader.h"
#include "modules.h"
#include "runtime.h"

int runtime_handler_status(const struct modules_handler *h, char **ret_reason, char **ret_message,
                           struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL;
        int (*handler_status)(void *, const struct ocid_runtime_handler *, char **, char **,
                              struct ocid_error **);
        int r;

        if (!h)
                return ocid_error_msg(err, EINVAL, "handler_status: no runtime handler");
        r = module_check_callable(h->module, OCID_MODULE_KIND_RUNTIME, "handler_status", err);
        if (r < 0)
                return r;
        handler_status = MODULE_OP(h->module, struct ocid_runtime_ops, handler_status);
        if (!handler_status)
                return ocid_error_msg(err, EOPNOTSUPP, "module '%s' does not support handler_status",
                                      h->module->name);
        r = handler_status(h->module->state, &h->h, &reason, &message, &e);
        if (r < 0)
                return module_op_failed(h->module, "handler_status", r, &e, err);
        r = module_status_result(h->module, "handler_status", r, &reason, &message);
        *ret_reason = TAKE_PTR(reason);
        *ret_message = TAKE_PTR(message);
        return r;
}

int runtime_status(struct ocid_module *m, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        int r;

        r = module_check_callable(m, OCID_MODULE_KIND_RUNTIME, "status", err);
        if (r < 0)
                return r;
        return module_status(m, ret_reason, ret_message, err);
}
