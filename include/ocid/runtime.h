/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#ifndef OCID_MODULE_ABI_MAJOR
#error "include <ocid/module.h>"
#endif

#include <stddef.h>
#include <stdint.h>

/* A runtime handler (a RuntimeClass name) as crio.conf defines it under
 * `runtimes.<name>`. One runtime module serves any number of handlers. */
struct ocid_runtime_handler {
        uint32_t size;          /* sizeof(struct ocid_runtime_handler) of the core */
        const char *name;       /* "runc" */
        const char *path;       /* absolute path of the OCI runtime binary */
        const char *root;       /* the runtime's own state root (--root) */
        const char *monitor;    /* absolute path of conmon */
};

/* True when the struct at p, whose first member `size` says how large the
 * caller's (core's) version of `type` is, holds `member`. Members are
 * appended by later minors: a module reads one only when this says so. */
#define OCID_RUNTIME_HAS(p, type, member)                                     \
        ((size_t) (p)->size >= offsetof(type, member) + sizeof(((type *) NULL)->member))

/* A container as the core passes it to the runtime ops. The core fills
 * `size`; the strings are valid during the call only. Which members an op
 * needs is said at the op; the others may be NULL. */
struct ocid_runtime_container {
        uint32_t size;
        /* The container ID: a letter or digit, then letters, digits, '_',
         * '.' or '-' (the core's IDs are 64 hex characters). Every op. */
        const char *id;
        /* The container's name, for the monitor's logs; may be NULL. */
        const char *name;
        /* The OCI bundle: the directory holding config.json. The monitor
         * keeps its attach socket (`attach`) and its control fifo (`ctl`)
         * there, so it must be the container's own directory. */
        const char *bundle;
        /* A directory of the container's own, private to the runtime
         * module (pid files, exit and OOM markers, scratch files of exec
         * sessions). The core creates it before create (mode 0700) and
         * removes it after delete. */
        const char *persist_dir;
        /* The CRI log file the monitor writes, one record per line:
         * "<RFC 3339 time with ns> stdout|stderr F|P <text>" (P: a partial
         * line, continued by the next record). No ':' in the path. */
        const char *log_path;
        /* The directory where the monitor writes `<id>`, holding the exit
         * status, when the container's init process exits. */
        const char *exit_dir;
        /* Size at which the monitor starts the log file afresh; <= 0:
         * unlimited. */
        int64_t log_size_max;
        /* 1: the process gets a pseudo-terminal (stdout and stderr merged). */
        int32_t terminal;
        /* 1: the process's stdin is a pipe fed through the attach socket. */
        int32_t stdin_open;
        /* 1: stdin closes when the first attached client detaches. */
        int32_t stdin_once;
        /* 1: cgroups are managed by systemd (cgroupsPath is
         * "slice:prefix:name"); 0: cgroupfs. */
        int32_t systemd_cgroup;
};

/* What `state` reports. The core sets `size`; the module fills the members
 * that size covers. */
struct ocid_runtime_state {
        uint32_t size;
        /* "created", "running", "paused" or "stopped". */
        char status[16];
        /* The container's init process (host PID namespace); 0 when it
         * has none any more. */
        int32_t pid;
        /* 1 when the monitor has recorded the init process's exit: then
         * exit_code and finished_ns are set. */
        int32_t exited;
        /* The exit status, or 128 + the signal that killed it. */
        int32_t exit_code;
        /* 1 when the monitor saw the kernel's OOM killer act in the
         * container's memory cgroup. */
        int32_t oom_killed;
        /* When the runtime created the container (ns since the epoch), 0
         * when unknown. */
        int64_t created_ns;
        /* When the exit was recorded (ns since the epoch), 0 when unknown. */
        int64_t finished_ns;
};

/* What `exec_sync` reports. The core sets `size` and frees `out` and `err`
 * with free(). */
struct ocid_runtime_exec_result {
        uint32_t size;
        /* The process's exit status, or 128 + signal; -1 when timed out. */
        int32_t exit_code;
        /* 1 when the timeout killed the process (and its process group). */
        int32_t timed_out;
        /* 1 when the stream had more than max_output bytes (the rest was
         * read and dropped). */
        int32_t out_truncated;
        int32_t err_truncated;
        /* The captured streams, each NUL-terminated (the NUL not counted)
         * and at most max_output bytes long. */
        char *out;
        uint64_t out_len;
        char *err;
        uint64_t err_len;
};

/* ABI 1.0: the runtime ops table. Later minors append members at the end.
 *
 * Every op but handler_status gets the handler and the container. Ops on
 * different containers run concurrently on worker threads; the core never
 * runs two ops on one container at once, except exec_sync, of which any
 * number may run beside each other and beside the other ops. The module
 * keeps no container in memory: the container lives on in its monitor, and
 * a module instance started later (a restarted daemon) serves it with the
 * same ops. Errors: a container the runtime does not know is -ENOENT; an op
 * that needs a running container, given a stopped one, is -ESRCH. */
struct ocid_runtime_ops {
        struct ocid_module_ops base;
        /* Readiness of one handler, as base.status. */
        int (*handler_status)(void *state, const struct ocid_runtime_handler *h,
                              char **ret_reason, char **ret_message, struct ocid_error **err);

        /* Creates the container from c->bundle under a monitor that
         * outlives the daemon, holds the container's stdio, writes
         * c->log_path and records the exit in c->exit_dir. Needs id,
         * bundle, persist_dir, log_path and exit_dir. Returns once the
         * runtime has created it ("created", its init process waiting for
         * start) with *ret_pid, the init process; on failure the runtime's
         * own message is in the error and nothing is left behind. An
         * existing ID is -EEXIST. timeout_ms <= 0: no timeout; on timeout
         * -ETIMEDOUT, and what was started is removed. */
        int (*create)(void *state, const struct ocid_runtime_handler *h,
                      const struct ocid_runtime_container *c, int64_t timeout_ms,
                      int32_t *ret_pid, struct ocid_error **err);
        /* Starts a created container's process. */
        int (*start)(void *state, const struct ocid_runtime_handler *h,
                     const struct ocid_runtime_container *c, struct ocid_error **err);
        /* Sends signal to the init process, or with all = 1 to every
         * process of the container. A stopped container is -ESRCH. */
        int (*kill)(void *state, const struct ocid_runtime_handler *h,
                    const struct ocid_runtime_container *c, int32_t signal, int32_t all,
                    struct ocid_error **err);
        /* Removes the container from the runtime and waits for its monitor
         * to finish (it records the exit first). A container that does not
         * exist is success. One that is not stopped is -EBUSY unless
         * force = 1, which kills it (SIGKILL) first. Needs persist_dir. */
        int (*delete)(void *state, const struct ocid_runtime_handler *h,
                      const struct ocid_runtime_container *c, int32_t force, struct ocid_error **err);
        /* The container's state; -ENOENT when the runtime does not know
         * it. Needs persist_dir for the exit and OOM members. */
        int (*state)(void *state, const struct ocid_runtime_handler *h,
                     const struct ocid_runtime_container *c, struct ocid_runtime_state *ret,
                     struct ocid_error **err);
        /* Runs a process in the running container and waits for it.
         * process_json is an OCI runtime-spec "process" object with at
         * least "args"; its members replace those of the bundle's
         * config.json process (so that "args" alone runs with the
         * container's user, environment and working directory); it never
         * gets a terminal. stdout and stderr are
         * captured apart, each up to max_output bytes (0: 16 MiB). With
         * timeout_ms > 0 the process and its process group are killed when
         * it runs longer, and reaped before the op returns (orphans it
         * leaves inside the container's PID namespace are the container
         * init's to reap). Needs bundle and persist_dir. */
        int (*exec_sync)(void *state, const struct ocid_runtime_handler *h,
                         const struct ocid_runtime_container *c, const char *process_json,
                         int64_t timeout_ms, uint64_t max_output,
                         struct ocid_runtime_exec_result *ret, struct ocid_error **err);
        /* Applies an OCI runtime-spec "linux.resources" object to the
         * container's cgroups. Needs persist_dir. */
        int (*update)(void *state, const struct ocid_runtime_handler *h,
                      const struct ocid_runtime_container *c, const char *resources_json,
                      struct ocid_error **err);
        /* Freezes and thaws every process of the container. */
        int (*pause)(void *state, const struct ocid_runtime_handler *h,
                     const struct ocid_runtime_container *c, struct ocid_error **err);
        int (*resume)(void *state, const struct ocid_runtime_handler *h,
                      const struct ocid_runtime_container *c, struct ocid_error **err);
        /* Makes the monitor close c->log_path and open it afresh (after the
         * caller renamed it away), and returns once the new file exists.
         * Needs bundle and log_path. A container whose monitor is gone
         * (it has stopped) is -ESRCH. */
        int (*reopen_log)(void *state, const struct ocid_runtime_handler *h,
                          const struct ocid_runtime_container *c, struct ocid_error **err);
};
