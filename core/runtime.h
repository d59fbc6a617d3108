/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Dispatch to runtime modules: the only callers of their ops. A NULL op is
 * -EOPNOTSUPP with "module '<name>' does not support <op>". */

struct ocid_error;
struct ocid_module;
struct modules_handler;

/* Readiness of one runtime handler (its module's handler_status): 1 ready;
 * 0 not ready with *ret_reason and *ret_message set (owned by the caller);
 * < 0 on error. */
int runtime_handler_status(const struct modules_handler *h, char **ret_reason, char **ret_message,
                           struct ocid_error **err);

/* Readiness of a runtime module as a whole (base status). */
int runtime_status(struct ocid_module *m, char **ret_reason, char **ret_message, struct ocid_error **err);
