/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to runtime modules. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/util.h>

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

/* A letter or digit, then letters, digits, '_', '.' or '-': safe as a
 * file name and as a command-line argument. */
static int runtime_id_check(const char *id, const char *op, struct ocid_error **err)
{
        if (!id || !*id)
                return ocid_error_msg(err, EINVAL, "%s: no container ID", op);
        if (strlen(id) > 255)
                return ocid_error_msg(err, EINVAL, "%s: container ID is longer than 255 characters", op);
        for (const char *p = id; *p; p++) {
                bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');

                if (!alnum && (p == id || (*p != '_' && *p != '.' && *p != '-')))
                        return ocid_error_msg(err, EINVAL, "%s: invalid container ID '%s'", op, id);
        }
        return 0;
}

/* Checks that h's module can run `op` and copies the container with the
 * core's size. */
static int runtime_prepare(const struct modules_handler *h, const struct ocid_runtime_container *c,
                           const char *op, struct ocid_runtime_container *ret, struct ocid_error **err)
{
        int r;

        if (!h)
                return ocid_error_msg(err, EINVAL, "%s: no runtime handler", op);
        r = module_check_callable(h->module, OCID_MODULE_KIND_RUNTIME, op, err);
        if (r < 0)
                return r;
        if (!c)
                return ocid_error_msg(err, EINVAL, "%s: no container", op);
        r = runtime_id_check(c->id, op, err);
        if (r < 0)
                return r;
        *ret = *c;
        ret->size = (uint32_t) sizeof(*ret);
        return 0;
}

static int runtime_unsupported(const struct modules_handler *h, const char *op, struct ocid_error **err)
{
        return ocid_error_msg(err, EOPNOTSUPP, "module '%s' does not support %s", h->module->name, op);
}

#define RUNTIME_OP(h, member) MODULE_OP((h)->module, struct ocid_runtime_ops, member)

typedef int (*runtime_simple_op)(void *state, const struct ocid_runtime_handler *h,
                                 const struct ocid_runtime_container *c, struct ocid_error **err);

static int runtime_call_simple(const struct modules_handler *h, const struct ocid_runtime_container *c,
                               const char *op, runtime_simple_op fn, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_runtime_container cc;
        int r;

        r = runtime_prepare(h, c, op, &cc, err);
        if (r < 0)
                return r;
        if (!fn)
                return runtime_unsupported(h, op, err);
        r = fn(h->module->state, &h->h, &cc, &e);
        return module_op_failed(h->module, op, r, &e, err);
}

int runtime_create(const struct modules_handler *h, const struct ocid_runtime_container *c,
                   int64_t timeout_ms, int32_t *ret_pid, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_runtime_container cc;
        int (*fn)(void *, const struct ocid_runtime_handler *, const struct ocid_runtime_container *, int64_t,
                  int32_t *, struct ocid_error **);
        int32_t pid = 0;
        int r;

        r = runtime_prepare(h, c, "create", &cc, err);
        if (r < 0)
                return r;
        fn = RUNTIME_OP(h, create);
        if (!fn)
                return runtime_unsupported(h, "create", err);
        r = fn(h->module->state, &h->h, &cc, timeout_ms, &pid, &e);
        if (r < 0)
                return module_op_failed(h->module, "create", r, &e, err);
        if (pid <= 0)
                return ocid_error_msg(err, EPROTO, "module '%s': create: reported no process ID for '%s'",
                                      h->module->name, cc.id);
        *ret_pid = pid;
        return 0;
}

int runtime_start(const struct modules_handler *h, const struct ocid_runtime_container *c,
                  struct ocid_error **err)
{
        return runtime_call_simple(h, c, "start", h && h->module ? RUNTIME_OP(h, start) : NULL, err);
}

int runtime_pause(const struct modules_handler *h, const struct ocid_runtime_container *c,
                  struct ocid_error **err)
{
        return runtime_call_simple(h, c, "pause", h && h->module ? RUNTIME_OP(h, pause) : NULL, err);
}

int runtime_resume(const struct modules_handler *h, const struct ocid_runtime_container *c,
                   struct ocid_error **err)
{
        return runtime_call_simple(h, c, "resume", h && h->module ? RUNTIME_OP(h, resume) : NULL, err);
}

int runtime_reopen_log(const struct modules_handler *h, const struct ocid_runtime_container *c,
                       struct ocid_error **err)
{
        return runtime_call_simple(h, c, "reopen_log", h && h->module ? RUNTIME_OP(h, reopen_log) : NULL,
                                   err);
}

int runtime_kill(const struct modules_handler *h, const struct ocid_runtime_container *c, int32_t signal,
                 int all, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_runtime_container cc;
        int (*fn)(void *, const struct ocid_runtime_handler *, const struct ocid_runtime_container *, int32_t,
                  int32_t, struct ocid_error **);
        int r;

        r = runtime_prepare(h, c, "kill", &cc, err);
        if (r < 0)
                return r;
        if (signal < 1 || signal > 64)
                return ocid_error_msg(err, EINVAL, "kill: invalid signal %d", (int) signal);
        fn = RUNTIME_OP(h, kill);
        if (!fn)
                return runtime_unsupported(h, "kill", err);
        r = fn(h->module->state, &h->h, &cc, signal, all ? 1 : 0, &e);
        return module_op_failed(h->module, "kill", r, &e, err);
}

int runtime_delete(const struct modules_handler *h, const struct ocid_runtime_container *c, int force,
                   struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_runtime_container cc;
        int (*fn)(void *, const struct ocid_runtime_handler *, const struct ocid_runtime_container *, int32_t,
                  struct ocid_error **);
        int r;

        r = runtime_prepare(h, c, "delete", &cc, err);
        if (r < 0)
                return r;
        fn = RUNTIME_OP(h, delete);
        if (!fn)
                return runtime_unsupported(h, "delete", err);
        r = fn(h->module->state, &h->h, &cc, force ? 1 : 0, &e);
        return module_op_failed(h->module, "delete", r, &e, err);
}

static bool runtime_status_valid(const char *s)
{
        return streq(s, "created") || streq(s, "running") || streq(s, "paused") || streq(s, "stopped");
}

int runtime_state(const struct modules_handler *h, const struct ocid_runtime_container *c,
                  struct ocid_runtime_state *ret, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_runtime_container cc;
        struct ocid_runtime_state st = { .size = (uint32_t) sizeof(st) };
        int (*fn)(void *, const struct ocid_runtime_handler *, const struct ocid_runtime_container *,
                  struct ocid_runtime_state *, struct ocid_error **);
        int r;

        r = runtime_prepare(h, c, "state", &cc, err);
        if (r < 0)
                return r;
        fn = RUNTIME_OP(h, state);
        if (!fn)
                return runtime_unsupported(h, "state", err);
        r = fn(h->module->state, &h->h, &cc, &st, &e);
        if (r < 0)
                return module_op_failed(h->module, "state", r, &e, err);
        st.size = (uint32_t) sizeof(st);
        if (!memchr(st.status, '\0', sizeof(st.status)) || !runtime_status_valid(st.status))
                return ocid_error_msg(err, EPROTO, "module '%s': state: invalid status for '%s'",
                                      h->module->name, cc.id);
        if (st.pid < 0)
                return ocid_error_msg(err, EPROTO, "module '%s': state: negative process ID for '%s'",
                                      h->module->name, cc.id);
        *ret = st;
        return 0;
}

void runtime_exec_result_done(struct ocid_runtime_exec_result *r)
{
        if (!r)
                return;
        free(r->out);
        free(r->err);
        r->out = r->err = NULL;
        r->out_len = r->err_len = 0;
}

/* Makes a stream the module returned safe: never NULL, at most max bytes,
 * NUL-terminated at its length. */
static void runtime_exec_stream_fix(char **buf, uint64_t *len, int32_t *truncated, uint64_t max)
{
        if (!*buf) {
                *buf = xstrdup("");
                *len = 0;
                return;
        }
        if (*len > max) {
                *len = max;
                *truncated = 1;
        }
        (*buf)[*len] = '\0';
}

int runtime_exec_sync(const struct modules_handler *h, const struct ocid_runtime_container *c,
                      const char *process_json, int64_t timeout_ms, uint64_t max_output,
                      struct ocid_runtime_exec_result *ret, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_runtime_container cc;
        struct ocid_runtime_exec_result res = { .size = (uint32_t) sizeof(res) };
        int (*fn)(void *, const struct ocid_runtime_handler *, const struct ocid_runtime_container *,
                  const char *, int64_t, uint64_t, struct ocid_runtime_exec_result *, struct ocid_error **);
        int r;

        r = runtime_prepare(h, c, "exec_sync", &cc, err);
        if (r < 0)
                return r;
        if (!process_json || !*process_json)
                return ocid_error_msg(err, EINVAL, "exec_sync: no process");
        fn = RUNTIME_OP(h, exec_sync);
        if (!fn)
                return runtime_unsupported(h, "exec_sync", err);
        if (max_output == 0)
                max_output = RUNTIME_EXEC_MAX_OUTPUT;
        r = fn(h->module->state, &h->h, &cc, process_json, timeout_ms, max_output, &res, &e);
        if (r < 0) {
                runtime_exec_result_done(&res);
                return module_op_failed(h->module, "exec_sync", r, &e, err);
        }
        res.size = (uint32_t) sizeof(res);
        runtime_exec_stream_fix(&res.out, &res.out_len, &res.out_truncated, max_output);
        runtime_exec_stream_fix(&res.err, &res.err_len, &res.err_truncated, max_output);
        if (res.timed_out)
                res.exit_code = -1;
        *ret = res;
        return 0;
}

int runtime_update(const struct modules_handler *h, const struct ocid_runtime_container *c,
                   const char *resources_json, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct ocid_runtime_container cc;
        int (*fn)(void *, const struct ocid_runtime_handler *, const struct ocid_runtime_container *,
                  const char *, struct ocid_error **);
        int r;

        r = runtime_prepare(h, c, "update", &cc, err);
        if (r < 0)
                return r;
        o = resources_json ? json_tokener_parse(resources_json) : NULL;
        if (!o || !json_object_is_type(o, json_type_object))
                return ocid_error_msg(err, EINVAL, "update: resources are not a JSON object");
        fn = RUNTIME_OP(h, update);
        if (!fn)
                return runtime_unsupported(h, "update", err);
        r = fn(h->module->state, &h->h, &cc, resources_json, &e);
        return module_op_failed(h->module, "update", r, &e, err);
}
