/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the OCI runtime modules that drive a runc-compatible command line
 * (oci-runc, oci-crun) share. Compiled into each of them; hidden, so that
 * each module still exports only its descriptor. */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* pid_t */

#include <ocid/module.h>

#define OCI_HIDDEN __attribute__((visibility("hidden")))

/* What differs between the runtimes. */
struct oci_flavour {
        const char *module;        /* "oci-runc" */
        const char *default_root;  /* the runtime's --root default, for a handler without root */
};

struct oci_binary;

struct oci_state {
        const struct oci_flavour *flavour;
        int64_t command_timeout_ms;     /* modules.<name>.command_timeout */
        pthread_mutex_t lock;           /* guards binaries: ops run on worker threads */
        struct oci_binary *binaries;
        size_t n_binaries;
};

/* modules.<name>: `command_timeout` (seconds, 1 to 3600, default 120), the
 * longest a runtime command (start, kill, delete, state, update, pause,
 * resume) or a wait for the monitor may take. Any other key is an error. */
#define OCI_DEFAULT_COMMAND_TIMEOUT_S 120
OCI_HIDDEN int oci_check(const config_setting_t *cfg, struct ocid_error **err);

/* Creates the module's state after oci_check. */
OCI_HIDDEN int oci_init(const struct oci_flavour *flavour, const config_setting_t *cfg, void **ret_state,
                        struct ocid_error **err);
OCI_HIDDEN void oci_fini(void *state);

/* A handler is ready when its binary exists, is an executable regular file
 * and `<path> --version` succeeds within OCI_VERSION_TIMEOUT_MS; otherwise
 * not ready with reason "RuntimeBinaryUnavailable" and a message naming the
 * path and the error. The version of an unchanged binary is remembered. */
#define OCI_VERSION_TIMEOUT_MS 10000
#define OCI_REASON_UNAVAILABLE "RuntimeBinaryUnavailable"
OCI_HIDDEN int oci_handler_status(void *state, const struct ocid_runtime_handler *h,
                                  char **ret_reason, char **ret_message, struct ocid_error **err);

/* The module as a whole is ready; its handlers carry the readiness. */
OCI_HIDDEN int oci_status(void *state, char **ret_reason, char **ret_message, struct ocid_error **err);

/* {"command_timeout": s, "binaries": [{"path", "version" | "error"}]}: the
 * binaries the handlers named so far. */
OCI_HIDDEN int oci_info(void *state, char **ret_json, struct ocid_error **err);

/* Running the runtime's command line (oci-cli.c). */

/* The handler's state root: h->root, or the flavour's default. */
OCI_HIDDEN const char *oci_root(const struct oci_state *s, const struct ocid_runtime_handler *h);

/* Checks what every op needs: a handler with a binary path and a container
 * with an ID; `need` lists further members by letter: b bundle, p
 * persist_dir, l log_path, e exit_dir, m the handler's monitor. */
OCI_HIDDEN int oci_check_args(const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                              const char *need, struct ocid_error **err);

/* Runs `<path> [--root=R] [--systemd-cgroup] args...` with the command
 * timeout. 0: it exited 0 (*ret_out, when not NULL, is its stdout). 1: it
 * ran and failed; *ret_failure says how ("exited with status 1: <the
 * runtime's message>"). < 0: it could not run or timed out (err set). */
OCI_HIDDEN int oci_run(struct oci_state *s, const struct ocid_runtime_handler *h,
                       const struct ocid_runtime_container *c, const char *const *args,
                       char **ret_out, char **ret_failure, struct ocid_error **err);

/* The runtime's message in what it printed: the msg of its logrus or JSON
 * error lines, else the text itself, trimmed, on one line; NULL when it
 * printed nothing. */
OCI_HIDDEN char *oci_runtime_message(const char *text);

/* 1 when the runtime keeps a state directory for id under its root, 0
 * when not, < 0 when that cannot be told. */
OCI_HIDDEN int oci_runtime_knows(struct oci_state *s, const struct ocid_runtime_handler *h, const char *id);

/* `<runtime> state <id>`: fills *ret (status, pid, created_ns as its size
 * allows). -ENOENT when the runtime does not know the container. */
OCI_HIDDEN int oci_runtime_state(struct oci_state *s, const struct ocid_runtime_handler *h,
                                 const struct ocid_runtime_container *c, struct ocid_runtime_state *ret,
                                 struct ocid_error **err);

/* After a runtime command on c failed with `failure`: -ENOENT when the
 * runtime does not know the container, -ESRCH when it is stopped (and
 * stopped_is_esrch), -EBUSY when it is not stopped (and busy_unless_stopped),
 * else -EIO; the error names the command and the failure. */
#define OCI_STOPPED_ESRCH 1
#define OCI_BUSY_UNLESS_STOPPED 2
OCI_HIDDEN int oci_failed(struct oci_state *s, const struct ocid_runtime_handler *h,
                          const struct ocid_runtime_container *c, const char *what, const char *failure,
                          int flags, struct ocid_error **err);

/* Parses an RFC 3339 time ("2024-01-02T03:04:05.123456789Z", or with an
 * offset) into ns since the epoch. */
OCI_HIDDEN int oci_parse_time(const char *s, int64_t *ret_ns);

/* The monitor (oci-conmon.c). */

/* The conmon of container c when it is still running (its pid file in
 * persist_dir names a live, non-zombie conmon process for c->id), else 0. */
OCI_HIDDEN pid_t oci_conmon_pid(const struct ocid_runtime_container *c);

/* Waits up to timeout_ms for c's conmon to be gone; SIGKILLs it then. */
OCI_HIDDEN void oci_conmon_wait_gone(const struct ocid_runtime_container *c, int64_t timeout_ms);

/* The runtime ops (oci-ops.c, oci-conmon.c), as <ocid/runtime.h> describes them. */
OCI_HIDDEN int oci_create(void *state, const struct ocid_runtime_handler *h,
                          const struct ocid_runtime_container *c, int64_t timeout_ms, int32_t *ret_pid,
                          struct ocid_error **err);
OCI_HIDDEN int oci_start(void *state, const struct ocid_runtime_handler *h,
                         const struct ocid_runtime_container *c, struct ocid_error **err);
OCI_HIDDEN int oci_kill(void *state, const struct ocid_runtime_handler *h,
                        const struct ocid_runtime_container *c, int32_t signal, int32_t all,
                        struct ocid_error **err);
OCI_HIDDEN int oci_delete(void *state, const struct ocid_runtime_handler *h,
                          const struct ocid_runtime_container *c, int32_t force, struct ocid_error **err);
OCI_HIDDEN int oci_state(void *state, const struct ocid_runtime_handler *h,
                         const struct ocid_runtime_container *c, struct ocid_runtime_state *ret,
                         struct ocid_error **err);
OCI_HIDDEN int oci_exec_sync(void *state, const struct ocid_runtime_handler *h,
                             const struct ocid_runtime_container *c, const char *process_json,
                             int64_t timeout_ms, uint64_t max_output, struct ocid_runtime_exec_result *ret,
                             struct ocid_error **err);
OCI_HIDDEN int oci_update(void *state, const struct ocid_runtime_handler *h,
                          const struct ocid_runtime_container *c, const char *resources_json,
                          struct ocid_error **err);
OCI_HIDDEN int oci_pause(void *state, const struct ocid_runtime_handler *h,
                         const struct ocid_runtime_container *c, struct ocid_error **err);
OCI_HIDDEN int oci_resume(void *state, const struct ocid_runtime_handler *h,
                          const struct ocid_runtime_container *c, struct ocid_error **err);
OCI_HIDDEN int oci_reopen_log(void *state, const struct ocid_runtime_handler *h,
                              const struct ocid_runtime_container *c, struct ocid_error **err);

/* The ops table both modules export, with their own init. */
#define OCI_RUNTIME_OPS(init_fn)                                              \
        {                                                                     \
                .base = {                                                     \
                        .init = (init_fn),                                    \
                        .fini = oci_fini,                                     \
                        .check = oci_check,                                   \
                        .status = oci_status,                                 \
                        .info = oci_info,                                     \
                },                                                            \
                .handler_status = oci_handler_status,                         \
                .create = oci_create,                                         \
                .start = oci_start,                                           \
                .kill = oci_kill,                                             \
                .delete = oci_delete,                                         \
                .state = oci_state,                                           \
                .exec_sync = oci_exec_sync,                                   \
                .update = oci_update,                                         \
                .pause = oci_pause,                                           \
                .resume = oci_resume,                                         \
                .reopen_log = oci_reopen_log,                                 \
        }
