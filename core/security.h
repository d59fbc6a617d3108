/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Dispatch to the security modules: the only callers of their ops. A NULL
 * op is -EOPNOTSUPP with "module '<name>' does not support <op>" where one
 * module is called; in a chain, a module without the op is skipped (it has
 * nothing to do at that step). */

#include <ocid/module.h>

struct json_object;
struct ocid_error;
struct ocid_module;
struct ocid_modules;

/* Readiness of the security module: 1 ready; 0 not ready with *ret_reason and
 * *ret_message set (owned by the caller); < 0 on error. */
int security_status(struct ocid_module *m, char **ret_reason, char **ret_message, struct ocid_error **err);

/* Runs `apply` of every configured security module, in the configured
 * order, on the container's spec. The request is checked first (IDs,
 * profile types, a LOCALHOST profile names something); the core's copy of
 * it goes to the modules, with `size` set and mount_label starting NULL.
 * The first module that refuses stops the chain: its error comes back as
 * "module '<name>': apply: <its message>" with its code. On success
 * *ret_mount_label (when not NULL) receives the mount label the chain
 * settled on, or NULL. m NULL or without security modules: nothing to do. */
int security_apply_chain(const struct ocid_modules *m, const struct ocid_security_request *req,
                         struct json_object *spec, char **ret_mount_label, struct ocid_error **err);

/* Runs `pod_create` of every security module in order. The labels a
 * module returns replace those of the modules before it; the result (each
 * may be NULL) goes to *ret_process_label and *ret_mount_label when not
 * NULL. When a module fails, pod_remove runs on the modules whose
 * pod_create succeeded, in reverse order, and the error names the module. */
int security_pod_create_chain(const struct ocid_modules *m, const struct ocid_security_pod *pod,
                              char **ret_process_label, char **ret_mount_label, struct ocid_error **err);

/* Runs `pod_remove` of every security module in reverse order. Every module
 * is called even when one fails; the first error is returned. */
int security_pod_remove_chain(const struct ocid_modules *m, const char *pod_id, struct ocid_error **err);
