/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Dispatch to the storage module: the only callers of its ops. A NULL op is
 * -EOPNOTSUPP with "module '<name>' does not support <op>". */

struct ocid_error;
struct ocid_module;

/* Readiness of the storage module: 1 ready; 0 not ready with *ret_reason and
 * *ret_message set (owned by the caller); < 0 on error. */
int storage_status(struct ocid_module *m, char **ret_reason, char **ret_message, struct ocid_error **err);
