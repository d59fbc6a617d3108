/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Dispatch to runtime modules: the only callers of their ops. A NULL op is
 * -EOPNOTSUPP with "module '<name>' does not support <op>"; a failing op's
 * error reads "module '<name>': <op>: <the module's message>" and keeps the
 * module's errno (ENOENT: the runtime does not know the container; ESRCH:
 * it is not running; EBUSY: delete of a running container without force;
 * ETIMEDOUT). The contracts of the ops are in <ocid/runtime.h>. */

#include <stdint.h>

#include <ocid/module.h>

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

/* The wrappers below copy *c and set its size themselves, so the caller
 * need not; c->id must be a valid container ID (EINVAL otherwise). */

/* ops->create: *ret_pid is the container's init process (> 0). */
int runtime_create(const struct modules_handler *h, const struct ocid_runtime_container *c,
                   int64_t timeout_ms, int32_t *ret_pid, struct ocid_error **err);

int runtime_start(const struct modules_handler *h, const struct ocid_runtime_container *c,
                  struct ocid_error **err);

/* signal is 1 to 64 (EINVAL otherwise); all != 0 signals every process. */
int runtime_kill(const struct modules_handler *h, const struct ocid_runtime_container *c, int32_t signal,
                 int all, struct ocid_error **err);

/* A container that does not exist is success. */
int runtime_delete(const struct modules_handler *h, const struct ocid_runtime_container *c, int force,
                   struct ocid_error **err);

/* Fills *ret (its size set here). A status other than "created",
 * "running", "paused" or "stopped", or a negative pid, is EPROTO. */
int runtime_state(const struct modules_handler *h, const struct ocid_runtime_container *c,
                  struct ocid_runtime_state *ret, struct ocid_error **err);

/* Fills *ret (zeroed and sized here; free with runtime_exec_result_done).
 * max_output 0 means RUNTIME_EXEC_MAX_OUTPUT. On return out and err are
 * never NULL and never longer than the cap. */
#define RUNTIME_EXEC_MAX_OUTPUT (16u * 1024 * 1024)
int runtime_exec_sync(const struct modules_handler *h, const struct ocid_runtime_container *c,
                      const char *process_json, int64_t timeout_ms, uint64_t max_output,
                      struct ocid_runtime_exec_result *ret, struct ocid_error **err);
void runtime_exec_result_done(struct ocid_runtime_exec_result *r);

/* resources_json: an OCI linux.resources object (EINVAL when it does not
 * parse as a JSON object). */
int runtime_update(const struct modules_handler *h, const struct ocid_runtime_container *c,
                   const char *resources_json, struct ocid_error **err);

int runtime_pause(const struct modules_handler *h, const struct ocid_runtime_container *c,
                  struct ocid_error **err);
int runtime_resume(const struct modules_handler *h, const struct ocid_runtime_container *c,
                   struct ocid_error **err);
int runtime_reopen_log(const struct modules_handler *h, const struct ocid_runtime_container *c,
                       struct ocid_error **err);
