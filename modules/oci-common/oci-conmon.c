/* SPDX-License-Identifier: Apache-2.0 */
/* Containers and exec sessions under conmon, the monitor. docs/modules.md
 * (oci-runc) describes the protocol: conmon reports on the pipe named by
 * _OCI_SYNCPIPE one JSON object per line, {"data": N} or {"data": N,
 * "message": "..."} (--api-version 1): first the process ID, or a value
 * <= 0 and the runtime's message when the runtime failed; for an exec
 * session then its exit status. */

#define OCID_LOG_CATEGORY "oci"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h> /* SYS_pidfd_open */
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/log.h>
#include <ocid/module.h>
#include <ocid/util.h>

#include "oci-cli.h"

extern char **environ;

/* conmon finds the sync pipe at this fd in its environment's _OCI_SYNCPIPE. */
#define OCI_SYNC_FD 3
/* The fds the parent hands to the child are moved at or above this, so
 * that no dup2() in the child clobbers another of them. */
#define OCI_HIGH_FD 10
/* What conmon says on the sync pipe: a few numbers and a runtime message. */
#define OCI_MAX_SYNC (256 * 1024)
/* conmon's own diagnostics (its stderr before it detaches) kept for errors. */
#define OCI_MAX_DIAG (64 * 1024)
/* After the exec of a timed-out session is killed, how long conmon may
 * take to reap it and report before it is killed too. */
#define OCI_EXEC_GRACE_MS 10000
/* Without a pidfd, a child's exit is noticed by polling this often. */
#define OCI_POLL_MS 20
/* The longest config.json read for an exec's process defaults. */
#define OCI_MAX_CONFIG (16 * 1024 * 1024)
/* A CRI log record's header: "<time> <stream> <tag> ". */
#define OCI_MAX_HEADER 128

static const char *oci_conmon_level(void)
{
        int level = ocid_log_get_level();

        if (level >= OCID_LOG_TRACE)
                return "trace";
        if (level >= OCID_LOG_DEBUG)
                return "debug";
        if (level >= OCID_LOG_INFO)
                return "info";
        if (level >= OCID_LOG_WARNING)
                return "warn";
        return "error";
}

static int oci_move_high(int fd)
{
        int high;

        if (fd >= OCI_HIGH_FD)
                return fd;
        high = fcntl(fd, F_DUPFD_CLOEXEC, OCI_HIGH_FD);
        if (high < 0) {
                int r = -errno;
                (void) close(fd);
                return r;
        }
        (void) close(fd);
        return high;
}

/* A close-on-exec pipe whose ends are >= OCI_HIGH_FD. */
static int oci_pipe(int fds[2], struct ocid_error **err)
{
        if (pipe2(fds, O_CLOEXEC) < 0)
                return ocid_error_set(err, errno, "pipe");
        for (int i = 0; i < 2; i++) {
                fds[i] = oci_move_high(fds[i]);
                if (fds[i] < 0) {
                        int r = fds[i];

                        if (i == 1)
                                (void) close(fds[0]);
                        fds[0] = fds[1] = -1;
                        return ocid_error_set(err, -r, "pipe");
                }
        }
        return 0;
}

static void oci_close(int *fd)
{
        if (*fd >= 0)
                (void) close(*fd);
        *fd = -1;
}

static int oci_set_nonblock(int fd)
{
        int fl = fcntl(fd, F_GETFL);

        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

/* Starts conmon (argv[0], an absolute path) in its own process group with
 * default signal handling, stdin on /dev/null, stdout and stderr on diag_fd,
 * sync_fd as fd 3 named by _OCI_SYNCPIPE, no other fd, in cwd. */
static int oci_spawn(const char *const *argv, const char *cwd, int sync_fd, int diag_fd, pid_t *ret_pid,
                     struct ocid_error **err)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        _cleanup_strv_ char **envp = NULL;
        sigset_t all, none;
        int r;

        for (char **e = environ; e && *e; e++)
                if (!ocid_startswith(*e, "_OCI_"))
                        ocid_strv_push(&envp, *e);
        ocid_strv_push(&envp, "_OCI_SYNCPIPE=3");

        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return ocid_error_set(err, r, "spawn '%s'", argv[0]);
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return ocid_error_set(err, r, "spawn '%s'", argv[0]);
        }
        r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, diag_fd, STDOUT_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, diag_fd, STDERR_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, sync_fd, OCI_SYNC_FD);
        if (r == 0)
                r = posix_spawn_file_actions_addclosefrom_np(&fa, OCI_SYNC_FD + 1);
        if (r == 0)
                r = posix_spawn_file_actions_addchdir_np(&fa, cwd);
        sigfillset(&all);
        sigemptyset(&none);
        if (r == 0)
                r = posix_spawnattr_setpgroup(&attr, 0);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &all);
        if (r == 0)
                r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                            POSIX_SPAWN_SETSIGDEF);
        if (r == 0)
                r = posix_spawn(ret_pid, argv[0], &fa, &attr, (char *const *) argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                return ocid_error_set(err, r, "spawn '%s'", argv[0]);
        return 0;
}

static int oci_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
        long fd = syscall(SYS_pidfd_open, pid, 0);

        if (fd >= 0) {
                (void) fcntl((int) fd, F_SETFD, FD_CLOEXEC);
                return (int) fd;
        }
#endif
        return -1;
}

/* Reaps exactly pid without blocking: 1 reaped (*status set), 0 not yet. */
static int oci_reap(pid_t pid, int *status)
{
        for (;;) {
                pid_t r = waitpid(pid, status, WNOHANG);

                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return errno == ECHILD ? 1 : 0;
                return r == pid ? 1 : 0;
        }
}

/* Reaps pid, SIGKILLing it after timeout_ms. */
static void oci_reap_bounded(pid_t pid, int *status, int64_t timeout_ms)
{
        int64_t deadline = ocid_now_monotonic_ns() + timeout_ms * 1000000;

        while (!oci_reap(pid, status)) {
                if (ocid_now_monotonic_ns() >= deadline) {
                        (void) kill(pid, SIGKILL);
                        while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                                ;
                        return;
                }
                (void) poll(NULL, 0, 5);
        }
}

static int oci_remaining_ms(int64_t deadline_ns)
{
        int64_t left = deadline_ns - ocid_now_monotonic_ns();

        if (left <= 0)
                return 0;
        left = (left + 999999) / 1000000;
        return left > 1000000 ? 1000000 : (int) left;
}

/* A growing buffer with a cap: past it, data is dropped and counted. */
struct oci_buf {
        char *data;
        size_t len, cap, max;
        int truncated;
};

static void oci_buf_append(struct oci_buf *b, const char *p, size_t n)
{
        size_t take = n;

        if (b->len + take > b->max) {
                take = b->max - b->len;
                b->truncated = 1;
        }
        if (take == 0)
                return;
        if (b->len + take + 1 > b->cap) {
                size_t want = b->cap ? b->cap : 4096;

                while (want < b->len + take + 1)
                        want *= 2;
                if (want > b->max + 1)
                        want = b->max + 1;
                b->data = xrealloc(b->data, want);
                b->cap = want;
        }
        memcpy(b->data + b->len, p, take);
        b->len += take;
        b->data[b->len] = '\0';
}

static char *oci_buf_take(struct oci_buf *b, uint64_t *ret_len)
{
        char *s = b->data ? b->data : xstrdup("");

        if (ret_len)
                *ret_len = b->len;
        b->data = NULL;
        b->len = b->cap = 0;
        return s;
}

/* Reads what fd has into b (nonblocking). Returns 1 at EOF or error (fd
 * closed and set to -1), 0 otherwise. */
static int oci_drain(int *fd, struct oci_buf *b)
{
        char chunk[65536];

        for (;;) {
                ssize_t n = read(*fd, chunk, sizeof(chunk));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n <= 0) {
                        oci_close(fd);
                        return 1;
                }
                oci_buf_append(b, chunk, (size_t) n);
        }
}

/* The next complete line conmon wrote on the sync pipe: its number (the
 * "data" member, or the legacy "pid" / "exit_code") and message. 1 when a
 * line was taken, 0 when none is complete, -EPROTO for a line that is not
 * such an object. */
static int oci_sync_next(struct oci_buf *b, size_t *pos, int64_t *ret_data, char **ret_message)
{
        const char *start = (b->data ? b->data : "") + *pos;
        const char *nl = b->data ? memchr(start, '\n', b->len - *pos) : NULL;
        _cleanup_free_ char *line = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *v = NULL;

        if (!nl)
                return 0;
        line = xstrndup(start, (size_t) (nl - start));
        *pos += (size_t) (nl - start) + 1;
        o = json_tokener_parse(line);
        if (!o || !json_object_is_type(o, json_type_object))
                return -EPROTO;
        if (!json_object_object_get_ex(o, "data", &v) && !json_object_object_get_ex(o, "pid", &v) &&
            !json_object_object_get_ex(o, "exit_code", &v))
                return -EPROTO;
        if (!json_object_is_type(v, json_type_int))
                return -EPROTO;
        *ret_data = json_object_get_int64(v);
        *ret_message = xstrdup(ocid_json_get_string(o, "message"));
        return 1;
}

/* conmon's own words, for an error: its diagnostics on one line. */
static char *oci_diag_text(struct oci_buf *diag)
{
        char *m = oci_runtime_message(diag->data);

        return m ? m : xstrdup("no message");
}

static char *oci_status_text(int status)
{
        if (WIFEXITED(status))
                return xasprintf("exited with status %d", WEXITSTATUS(status));
        if (WIFSIGNALED(status))
                return xasprintf("was killed by signal %d", WTERMSIG(status));
        return xstrdup("ended");
}

/* Liveness of the monitor. */

/* The pid in a pid file, or 0. */
static pid_t oci_read_pid_file(const char *path)
{
        _cleanup_free_ char *text = NULL;
        int64_t v;
        size_t len;

        if (ocid_read_file(path, 64, &text, &len, NULL) < 0)
                return 0;
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
                text[--len] = '\0';
        if (ocid_parse_int64(text, &v) < 0 || v <= 1 || v > INT32_MAX)
                return 0;
        return (pid_t) v;
}

/* The state letter and start time of /proc/<pid>; -ENOENT when there is
 * no such process. */
static int oci_proc_stat(pid_t pid, char *ret_state, unsigned long long *ret_start)
{
        char path[64];
        _cleanup_free_ char *stat = NULL;
        const char *p;

        (void) snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (ocid_read_file(path, 4096, &stat, NULL, NULL) < 0)
                return -ENOENT;
        p = strrchr(stat, ')');
        /* after the name: state, then 18 fields, then the start time */
        if (!p || sscanf(p + 1, " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
                         ret_state, ret_start) != 2)
                return -EIO;
        return 0;
}

static bool oci_proc_alive(char state)
{
        return state != 'Z' && state != 'X' && state != 'x';
}

/* 1 when pid is a live process whose command line has the arguments a, b
 * next to each other, or, exiting (its command line gone), is named comm. */
static int oci_process_has_args(pid_t pid, const char *comm, const char *a, const char *b)
{
        char path[64], state;
        _cleanup_free_ char *cmdline = NULL, *name = NULL;
        unsigned long long start;
        const char *p, *end;
        size_t len;

        if (oci_proc_stat(pid, &state, &start) < 0 || !oci_proc_alive(state))
                return 0;
        (void) snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
        if (ocid_read_file(path, 256 * 1024, &cmdline, &len, NULL) < 0)
                return 0;
        if (len == 0) {
                (void) snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
                if (ocid_read_file(path, 64, &name, &len, NULL) < 0)
                        return 0;
                if (len > 0 && name[len - 1] == '\n')
                        name[--len] = '\0';
                return streq(name, comm);
        }
        end = cmdline + len;
        for (p = cmdline; p < end; p += strlen(p) + 1)
                if (streq(p, a) && p + strlen(p) + 1 < end && streq(p + strlen(p) + 1, b))
                        return 1;
        return 0;
}

pid_t oci_conmon_pid(const struct ocid_runtime_container *c)
{
        _cleanup_free_ char *path = NULL;
        pid_t pid;

        if (!c->persist_dir)
                return 0;
        path = ocid_path_join(c->persist_dir, "conmon.pid");
        pid = oci_read_pid_file(path);
        if (pid <= 0 || !oci_process_has_args(pid, "conmon", "-c", c->id))
                return 0;
        return pid;
}

/* True while the process that had start time `start` is alive: its
 * command line may be gone already while it exits, its start time not. */
static bool oci_still_alive(pid_t pid, unsigned long long start)
{
        unsigned long long now_start;
        char state;

        return oci_proc_stat(pid, &state, &now_start) == 0 && now_start == start && oci_proc_alive(state);
}

void oci_conmon_wait_gone(const struct ocid_runtime_container *c, int64_t timeout_ms)
{
        int64_t deadline = ocid_now_monotonic_ns() + timeout_ms * 1000000;
        unsigned long long start;
        pid_t pid = oci_conmon_pid(c);
        char state;

        if (pid <= 0 || oci_proc_stat(pid, &state, &start) < 0)
                return;
        while (oci_still_alive(pid, start)) {
                if (ocid_now_monotonic_ns() >= deadline) {
                        ocid_log(OCID_LOG_WARNING, "conmon %d of container '%s' did not exit, killing it",
                                 (int) pid, c->id);
                        (void) kill(pid, SIGKILL);
                        deadline = ocid_now_monotonic_ns() + 2000000000LL;
                        while (oci_still_alive(pid, start) && ocid_now_monotonic_ns() < deadline)
                                (void) poll(NULL, 0, 10);
                        return;
                }
                (void) poll(NULL, 0, 10);
        }
}

/* Removes what a previous life of the container left in persist_dir. */
static void oci_persist_clear(const char *dir, const char *const *names)
{
        for (size_t i = 0; names[i]; i++) {
                _cleanup_free_ char *p = ocid_path_join(dir, names[i]);

                if (unlink(p) < 0 && errno != ENOENT)
                        ocid_log(OCID_LOG_DEBUG, "unlink '%s': %s, ignoring", p, strerror(errno));
        }
}

/* Best effort, after a failed create: nothing of the container stays. */
static void oci_create_undo(struct oci_state *s, const struct ocid_runtime_handler *h,
                            const struct ocid_runtime_container *c)
{
        const char *args[] = { "delete", "--force", c->id, NULL };
        _cleanup_free_ char *failure = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        pid_t pid = oci_conmon_pid(c);

        if (pid > 0)
                (void) kill(pid, SIGKILL);
        if (oci_runtime_knows(s, h, c->id) > 0 && oci_run(s, h, c, args, NULL, &failure, &e) != 0)
                ocid_log(OCID_LOG_WARNING, "cleaning up container '%s' after a failed create: %s, ignoring",
                         c->id, failure ? failure : ocid_error_message(&e));
        oci_conmon_wait_gone(c, 2000);
}

int oci_create(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
               int64_t timeout_ms, int32_t *ret_pid, struct ocid_error **err)
{
        static const char *const stale[] = { "exit", "oom", "pid", "conmon.pid", NULL };
        struct oci_state *s = state;
        _cleanup_strv_ char **argv = NULL;
        _cleanup_free_ char *pid_file = NULL, *conmon_pid_file = NULL, *log = NULL, *root = NULL;
        _cleanup_free_ char *message = NULL, *diag_text = NULL, *status_text = NULL, *log_size = NULL;
        struct oci_buf sync = { .max = OCI_MAX_SYNC }, diag = { .max = OCI_MAX_DIAG };
        int sync_pipe[2] = { -1, -1 }, diag_pipe[2] = { -1, -1 }, pidfd = -1;
        int64_t deadline = 0, data = 0;
        size_t pos = 0;
        bool reaped = false, got = false, timed_out = false;
        int status = 0, r;
        pid_t pid = 0;

        r = oci_check_args(h, c, "bplem", err);
        if (r < 0)
                return r;
        if (strchr(c->log_path, ':'))
                return ocid_error_msg(err, EINVAL, "container '%s': log path '%s' contains ':'", c->id,
                                      c->log_path);
        r = oci_runtime_knows(s, h, c->id);
        if (r < 0)
                return ocid_error_set(err, -r, "container '%s': look up in '%s'", c->id, oci_root(s, h));
        if (r > 0)
                return ocid_error_msg(err, EEXIST, "container '%s' exists already", c->id);
        if (oci_conmon_pid(c) > 0)
                return ocid_error_msg(err, EEXIST, "container '%s' still has a monitor", c->id);
        oci_persist_clear(c->persist_dir, stale);

        pid_file = ocid_path_join(c->persist_dir, "pid");
        conmon_pid_file = ocid_path_join(c->persist_dir, "conmon.pid");
        log = xasprintf("k8s-file:%s", c->log_path);
        root = xasprintf("--runtime-arg=--root=%s", oci_root(s, h));
        argv = ocid_strv_copy((const char *const[]){
                h->monitor, "--api-version", "1", "-c", c->id, "-u", c->id, "-n", c->name ? c->name : c->id,
                "-r", h->path, "-b", c->bundle, "-p", pid_file, "-P", conmon_pid_file, "-l", log,
                "--exit-dir", c->exit_dir, "--persist-dir", c->persist_dir, "--full-attach",
                "--socket-dir-path", c->persist_dir, "--syslog", "--log-level", oci_conmon_level(), root,
                NULL });
        if (c->systemd_cgroup)
                ocid_strv_push(&argv, "--systemd-cgroup");
        if (c->terminal)
                ocid_strv_push(&argv, "--terminal");
        if (c->stdin_open) {
                ocid_strv_push(&argv, "--stdin");
                if (!c->stdin_once)
                        ocid_strv_push(&argv, "--leave-stdin-open");
        }
        if (c->log_size_max > 0) {
                log_size = xasprintf("--log-size-max=%lld", (long long) c->log_size_max);
                ocid_strv_push(&argv, log_size);
        }

        r = oci_pipe(sync_pipe, err);
        if (r < 0)
                return r;
        r = oci_pipe(diag_pipe, err);
        if (r < 0)
                goto out;
        r = oci_spawn((const char *const *) argv, c->persist_dir, sync_pipe[1], diag_pipe[1], &pid, err);
        if (r < 0)
                goto out;
        oci_close(&sync_pipe[1]);
        oci_close(&diag_pipe[1]);
        (void) oci_set_nonblock(sync_pipe[0]);
        (void) oci_set_nonblock(diag_pipe[0]);
        pidfd = oci_pidfd_open(pid);
        if (timeout_ms > 0 && timeout_ms < INT64_MAX / 4000000)
                deadline = ocid_now_monotonic_ns() + timeout_ms * 1000000;

        /* The first conmon forks the monitor and exits; the monitor runs
         * `<runtime> create` and reports on the sync pipe. */
        while (!got && sync_pipe[0] >= 0) {
                struct pollfd pfd[3];
                int n = 0, wait_ms = -1;

                pfd[n++] = (struct pollfd){ .fd = sync_pipe[0], .events = POLLIN };
                if (diag_pipe[0] >= 0)
                        pfd[n++] = (struct pollfd){ .fd = diag_pipe[0], .events = POLLIN };
                if (!reaped && pidfd >= 0)
                        pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
                else if (!reaped)
                        wait_ms = OCI_POLL_MS;
                if (deadline) {
                        int left = oci_remaining_ms(deadline);

                        if (left == 0) {
                                timed_out = true;
                                break;
                        }
                        if (wait_ms < 0 || left < wait_ms)
                                wait_ms = left;
                }
                if (poll(pfd, (nfds_t) n, wait_ms) < 0 && errno != EINTR) {
                        r = ocid_error_set(err, errno, "create container '%s': poll", c->id);
                        goto out;
                }
                if (diag_pipe[0] >= 0)
                        (void) oci_drain(&diag_pipe[0], &diag);
                if (!reaped)
                        reaped = oci_reap(pid, &status) > 0;
                (void) oci_drain(&sync_pipe[0], &sync);
                r = oci_sync_next(&sync, &pos, &data, &message);
                if (r < 0) {
                        r = ocid_error_msg(err, EPROTO, "create container '%s': conmon wrote an invalid report",
                                           c->id);
                        oci_create_undo(s, h, c);
                        goto out;
                }
                got = r > 0;
        }
        if (timed_out && !reaped)
                /* the first conmon hangs: it and its process group */
                (void) kill(-pid, SIGKILL);
        if (!reaped)
                oci_reap_bounded(pid, &status, 5000);
        reaped = true;
        if (diag_pipe[0] >= 0)
                (void) oci_drain(&diag_pipe[0], &diag);

        if (timed_out) {
                oci_create_undo(s, h, c);
                r = ocid_error_msg(err, ETIMEDOUT, "create container '%s': timed out after %lld ms", c->id,
                                   (long long) timeout_ms);
                goto out;
        }
        if (!got) {
                diag_text = oci_diag_text(&diag);
                status_text = oci_status_text(status);
                oci_create_undo(s, h, c);
                r = ocid_error_msg(err, EIO, "create container '%s': conmon %s without a report: %s", c->id,
                                   status_text, diag_text);
                goto out;
        }
        if (data <= 0 || data > INT32_MAX) {
                _cleanup_free_ char *why = oci_runtime_message(message);

                /* conmon exits after reporting; the runtime cleaned up. */
                oci_create_undo(s, h, c);
                r = ocid_error_msg(err, EIO, "create container '%s': %s", c->id,
                                   why ? why : "the runtime failed without a message");
                goto out;
        }
        ocid_log(OCID_LOG_DEBUG, "container '%s' created, init process %lld", c->id, (long long) data);
        *ret_pid = (int32_t) data;
        r = 0;
out:
        if (!reaped && pid > 0)
                oci_reap_bounded(pid, &status, 5000);
        oci_close(&pidfd);
        oci_close(&sync_pipe[0]);
        oci_close(&sync_pipe[1]);
        oci_close(&diag_pipe[0]);
        oci_close(&diag_pipe[1]);
        free(sync.data);
        free(diag.data);
        return r;
}

/* exec_sync */

/* Splits the CRI log records conmon writes ("<time> <stream> <F|P>
 * <text>\n") back into the two streams: an F record's text ends with the
 * newline that ended the line, a P record's newline is conmon's own. */
struct oci_log_split {
        struct oci_buf *out, *err;
        char header[OCI_MAX_HEADER];
        size_t header_len;
        int spaces;
        int in_text;            /* after the header, until the newline */
        int skip;               /* a malformed record: up to its newline */
        int partial;
        struct oci_buf *dst;
};

static void oci_log_header_done(struct oci_log_split *p)
{
        char *stream, *tag;

        p->header[p->header_len] = '\0';
        stream = strchr(p->header, ' ');
        tag = stream ? strchr(stream + 1, ' ') : NULL;
        p->dst = NULL;
        if (stream && tag) {
                stream++;
                *tag++ = '\0';
                if (streq(stream, "stdout"))
                        p->dst = p->out;
                else if (streq(stream, "stderr"))
                        p->dst = p->err;
        }
        if (!p->dst || !tag || (tag[0] != 'F' && tag[0] != 'P') || tag[1] != ' ') {
                p->skip = 1;
                return;
        }
        p->partial = tag[0] == 'P';
        p->in_text = 1;
}

static void oci_log_feed(struct oci_log_split *p, const char *data, size_t n)
{
        while (n > 0) {
                if (p->in_text || p->skip) {
                        const char *nl = memchr(data, '\n', n);
                        size_t span = nl ? (size_t) (nl - data) : n;

                        if (p->in_text)
                                oci_buf_append(p->dst, data, span);
                        data += span;
                        n -= span;
                        if (!nl)
                                return;
                        if (p->in_text && !p->partial)
                                oci_buf_append(p->dst, "\n", 1);
                        data++;
                        n--;
                        p->in_text = p->skip = 0;
                        p->header_len = 0;
                        p->spaces = 0;
                        continue;
                }
                if (*data == '\n' || p->header_len + 1 >= sizeof(p->header)) {
                        /* a record without text, or not a record */
                        p->skip = *data != '\n';
                        p->header_len = 0;
                        p->spaces = 0;
                        data++;
                        n--;
                        continue;
                }
                p->header[p->header_len++] = *data;
                if (*data == ' ' && ++p->spaces == 3)
                        oci_log_header_done(p);
                data++;
                n--;
        }
}

/* The process to exec: the bundle's process with process_json's members
 * over it, never with a terminal. */
static int oci_exec_process(const struct ocid_runtime_container *c, const char *process_json,
                            struct json_object **ret, struct ocid_error **err)
{
        _cleanup_free_ char *config_path = ocid_path_join(c->bundle, "config.json");
        _cleanup_json_ struct json_object *config = NULL, *over = NULL, *process = NULL;
        struct json_object *base = NULL, *args;
        int r;

        over = json_tokener_parse(process_json);
        if (!over || !json_object_is_type(over, json_type_object))
                return ocid_error_msg(err, EINVAL, "exec process is not a JSON object");
        if (!json_object_object_get_ex(over, "args", &args) || !json_object_is_type(args, json_type_array) ||
            json_object_array_length(args) == 0)
                return ocid_error_msg(err, EINVAL, "exec process has no args");
        r = ocid_json_read_file(config_path, OCI_MAX_CONFIG, &config, err);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(config, "process", &base) && json_object_is_type(base, json_type_object))
                r = json_object_deep_copy(base, &process, NULL);
        else
                process = json_object_new_object();
        if (r < 0 || !process)
                return ocid_error_msg(err, ENOMEM, "copy the process of '%s'", config_path);
        json_object_object_foreach(over, key, val)
                json_object_object_add(process, key, json_object_get(val));
        json_object_object_add(process, "terminal", json_object_new_boolean(0));
        json_object_object_del(process, "consoleSize");
        *ret = TAKE_PTR(process);
        return 0;
}

/* Kills a timed-out exec: its process group (the runtime gives it a
 * session of its own) and the process itself. */
static void oci_exec_kill(pid_t exec_pid, pid_t conmon)
{
        pid_t pgid = getpgid(exec_pid);

        if (pgid > 1 && pgid != getpgid(conmon) && pgid != getpgrp())
                (void) kill(-pgid, SIGKILL);
        (void) kill(exec_pid, SIGKILL);
}

/* Reads what the fifo holds into the splitter. Returns 0 when the read
 * ended with end-of-file (no writer), 1 when with EAGAIN. */
static int oci_log_read(int fd, struct oci_log_split *split)
{
        char chunk[65536];

        for (;;) {
                ssize_t k = read(fd, chunk, sizeof(chunk));

                if (k > 0)
                        oci_log_feed(split, chunk, (size_t) k);
                else if (k < 0 && errno == EINTR)
                        continue;
                else
                        return k == 0 ? 0 : 1;
        }
}

/* What conmon reported on the sync pipe of an exec session. */
struct oci_exec_reports {
        size_t pos;
        int n;                  /* reports seen */
        int invalid;            /* a line that is not a report */
        int64_t pid;            /* the first: the process, or <= 0 when it did not start */
        char *pid_message;
        int64_t code;           /* the second: its exit status */
        char *code_message;
};

static void oci_exec_reports_take(struct oci_exec_reports *rep, struct oci_buf *sync)
{
        for (;;) {
                int64_t data = 0;
                char *m = NULL;
                int r = oci_sync_next(sync, &rep->pos, &data, &m);

                if (r == 0)
                        return;
                if (r < 0) {
                        rep->invalid = 1;
                        continue;
                }
                if (rep->n == 0) {
                        rep->pid = data;
                        rep->pid_message = m;
                } else if (rep->n == 1) {
                        rep->code = data;
                        rep->code_message = m;
                } else
                        free(m);
                rep->n++;
        }
}

int oci_exec_sync(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                  const char *process_json, int64_t timeout_ms, uint64_t max_output,
                  struct ocid_runtime_exec_result *ret, struct ocid_error **err)
{
        struct oci_state *s = state;
        _cleanup_json_ struct json_object *process = NULL;
        _cleanup_strv_ char **argv = NULL;
        _cleanup_free_ char *session = NULL, *spec = NULL, *fifo = NULL, *pid_file = NULL, *log = NULL;
        _cleanup_free_ char *root = NULL, *name = NULL, *diag_text = NULL, *status_text = NULL;
        struct oci_buf sync = { .max = OCI_MAX_SYNC }, diag = { .max = OCI_MAX_DIAG };
        struct oci_buf out = { 0 }, errb = { 0 };
        struct oci_log_split split = { .out = &out, .err = &errb };
        struct oci_exec_reports rep = { 0 };
        int sync_pipe[2] = { -1, -1 }, diag_pipe[2] = { -1, -1 }, fifo_fd = -1, pidfd = -1;
        int64_t deadline = 0, grace = 0;
        int status = 0, r;
        bool reaped = false, killed = false, conmon_killed = false;
        pid_t pid = 0;
        char id[65];

        r = oci_check_args(h, c, "bpm", err);
        if (r < 0)
                return r;
        if (!ret || ret->size < sizeof(struct ocid_runtime_exec_result))
                return ocid_error_msg(err, EINVAL, "exec result description too small");
        if (max_output == 0 || max_output > SIZE_MAX / 2)
                return ocid_error_msg(err, EINVAL, "invalid output cap %llu", (unsigned long long) max_output);
        out.max = errb.max = (size_t) max_output;
        r = oci_exec_process(c, process_json, &process, err);
        if (r < 0)
                return r;

        /* The session's files: the process, the log fifo, the pid file. */
        r = ocid_random_id(id, err);
        if (r < 0)
                return r;
        session = xasprintf("exec-%.16s", id);
        name = xasprintf("%s.json", session);
        spec = ocid_path_join(c->persist_dir, name);
        free(name);
        name = xasprintf("%s.log", session);
        fifo = ocid_path_join(c->persist_dir, name);
        free(name);
        name = xasprintf("%s.pid", session);
        pid_file = ocid_path_join(c->persist_dir, name);
        r = ocid_json_write_file_atomic(spec, process, 0600, err);
        if (r < 0)
                return r;
        if (mkfifo(fifo, 0600) < 0) {
                r = ocid_error_set(err, errno, "mkfifo '%s'", fifo);
                goto out;
        }
        /* Open for reading first: conmon's open for writing then returns
         * at once, and EOF comes when conmon is done with it. */
        fifo_fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fifo_fd < 0) {
                r = ocid_error_set(err, errno, "open '%s'", fifo);
                goto out;
        }

        log = xasprintf("k8s-file:%s", fifo);
        root = xasprintf("--runtime-arg=--root=%s", oci_root(s, h));
        argv = ocid_strv_copy((const char *const[]){
                h->monitor, "--api-version", "1", "--sync", "-c", c->id, "-u", session, "-n",
                c->name ? c->name : c->id, "-r", h->path, "-e", "--exec-process-spec", spec, "-p", pid_file,
                "-l", log, "--no-sync-log", "--syslog", "--log-level", oci_conmon_level(), root, NULL });

        r = oci_pipe(sync_pipe, err);
        if (r < 0)
                goto out;
        r = oci_pipe(diag_pipe, err);
        if (r < 0)
                goto out;
        r = oci_spawn((const char *const *) argv, c->persist_dir, sync_pipe[1], diag_pipe[1], &pid, err);
        if (r < 0)
                goto out;
        oci_close(&sync_pipe[1]);
        oci_close(&diag_pipe[1]);
        (void) oci_set_nonblock(sync_pipe[0]);
        (void) oci_set_nonblock(diag_pipe[0]);
        pidfd = oci_pidfd_open(pid);
        if (timeout_ms > 0 && timeout_ms < INT64_MAX / 4000000)
                deadline = ocid_now_monotonic_ns() + timeout_ms * 1000000;

        /* With --sync conmon stays this process's child: it runs `<runtime>
         * exec --detach`, adopts the process (it is a subreaper), reports
         * its pid and then its exit status, reaps all it adopted, exits. */
        while (!reaped) {
                struct pollfd pfd[4];
                int n = 0, wait_ms = -1, i_fifo = -1;

                if (sync_pipe[0] >= 0)
                        pfd[n++] = (struct pollfd){ .fd = sync_pipe[0], .events = POLLIN };
                if (fifo_fd >= 0) {
                        i_fifo = n;
                        pfd[n++] = (struct pollfd){ .fd = fifo_fd, .events = POLLIN };
                }
                if (diag_pipe[0] >= 0)
                        pfd[n++] = (struct pollfd){ .fd = diag_pipe[0], .events = POLLIN };
                if (pidfd >= 0)
                        pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
                else
                        wait_ms = OCI_POLL_MS;
                if (deadline && !killed) {
                        int left = oci_remaining_ms(deadline);

                        if (wait_ms < 0 || left < wait_ms)
                                wait_ms = left;
                }
                if (grace) {
                        int left = oci_remaining_ms(grace);

                        if (wait_ms < 0 || left < wait_ms)
                                wait_ms = left;
                }
                if (poll(pfd, (nfds_t) n, wait_ms) < 0 && errno != EINTR) {
                        r = ocid_error_set(err, errno, "exec in container '%s': poll", c->id);
                        goto out;
                }
                if (fifo_fd >= 0 && oci_log_read(fifo_fd, &split) == 0 && i_fifo >= 0 &&
                    (pfd[i_fifo].revents & POLLHUP))
                        /* the writer came and went: conmon is done with the log */
                        oci_close(&fifo_fd);
                if (diag_pipe[0] >= 0)
                        (void) oci_drain(&diag_pipe[0], &diag);
                if (sync_pipe[0] >= 0)
                        (void) oci_drain(&sync_pipe[0], &sync);
                oci_exec_reports_take(&rep, &sync);
                reaped = oci_reap(pid, &status) > 0;
                if (reaped)
                        break;

                if (deadline && !killed && rep.n < 2 && oci_remaining_ms(deadline) == 0) {
                        if (rep.n == 1 && rep.pid > 0 && rep.pid <= INT32_MAX) {
                                ocid_log(OCID_LOG_DEBUG, "exec %s in container '%s' timed out, killing %lld",
                                         session, c->id, (long long) rep.pid);
                                oci_exec_kill((pid_t) rep.pid, pid);
                                killed = true;
                                grace = ocid_now_monotonic_ns() + (int64_t) OCI_EXEC_GRACE_MS * 1000000;
                        } else if (!grace)
                                /* not started yet: it has the grace to start, and is killed then */
                                grace = ocid_now_monotonic_ns() + (int64_t) OCI_EXEC_GRACE_MS * 1000000;
                }
                if (grace && oci_remaining_ms(grace) == 0) {
                        ocid_log(OCID_LOG_WARNING, "conmon of exec %s in container '%s' does not finish, "
                                 "killing it", session, c->id);
                        if (rep.n == 1 && rep.pid > 0 && rep.pid <= INT32_MAX)
                                oci_exec_kill((pid_t) rep.pid, pid);
                        (void) kill(pid, SIGKILL);
                        oci_reap_bounded(pid, &status, 5000);
                        reaped = true;
                        conmon_killed = true;
                }
        }
        /* conmon is gone: what it wrote is all there is. */
        if (fifo_fd >= 0)
                (void) oci_log_read(fifo_fd, &split);
        if (sync_pipe[0] >= 0)
                (void) oci_drain(&sync_pipe[0], &sync);
        if (diag_pipe[0] >= 0)
                (void) oci_drain(&diag_pipe[0], &diag);
        oci_exec_reports_take(&rep, &sync);

        if (rep.invalid) {
                r = ocid_error_msg(err, EPROTO, "exec in container '%s': conmon wrote an invalid report", c->id);
                goto out;
        }
        if (rep.n >= 1 && rep.pid <= 0) {
                _cleanup_free_ char *why = oci_runtime_message(rep.pid_message);

                r = oci_failed(s, h, c, "exec in", why ? why : "the runtime failed without a message",
                               OCI_STOPPED_ESRCH, err);
                goto out;
        }
        if (rep.n == 0) {
                if (grace) {
                        r = ocid_error_msg(err, ETIMEDOUT, "exec in container '%s': timed out before it started",
                                           c->id);
                        goto out;
                }
                diag_text = oci_diag_text(&diag);
                status_text = oci_status_text(status);
                r = ocid_error_msg(err, EIO, "exec in container '%s': conmon %s without a report: %s", c->id,
                                   status_text, diag_text);
                goto out;
        }
        if (rep.n == 1 && !killed) {
                diag_text = oci_diag_text(&diag);
                status_text = oci_status_text(status);
                r = ocid_error_msg(err, EIO, "exec in container '%s': conmon %s without the exit status: %s",
                                   c->id, status_text, diag_text);
                goto out;
        }
        /* Killed for the timeout unless it exited on its own meanwhile
         * (then its status is not the SIGKILL's). */
        if (killed && (rep.n == 1 || conmon_killed || rep.code == 128 + SIGKILL || rep.code < 0)) {
                ret->timed_out = 1;
                ret->exit_code = -1;
        } else {
                ret->timed_out = 0;
                ret->exit_code = rep.code < 0 ? -1 : (int32_t) (rep.code > INT32_MAX ? INT32_MAX : rep.code);
        }
        ret->out_truncated = out.truncated;
        ret->err_truncated = errb.truncated;
        ret->out = oci_buf_take(&out, &ret->out_len);
        ret->err = oci_buf_take(&errb, &ret->err_len);
        r = 0;
out:
        if (!reaped && pid > 0) {
                if (rep.n == 1 && rep.pid > 0 && rep.pid <= INT32_MAX)
                        oci_exec_kill((pid_t) rep.pid, pid);
                (void) kill(pid, SIGKILL);
                oci_reap_bounded(pid, &status, 5000);
        }
        oci_close(&pidfd);
        oci_close(&fifo_fd);
        oci_close(&sync_pipe[0]);
        oci_close(&sync_pipe[1]);
        oci_close(&diag_pipe[0]);
        oci_close(&diag_pipe[1]);
        if (spec)
                (void) unlink(spec);
        if (fifo)
                (void) unlink(fifo);
        if (pid_file)
                (void) unlink(pid_file);
        free(rep.pid_message);
        free(rep.code_message);
        free(sync.data);
        free(diag.data);
        free(out.data);
        free(errb.data);
        return r;
}
