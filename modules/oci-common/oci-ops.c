/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime ops that run one runtime command (start, kill, delete, state,
 * update, pause, resume) and the monitor's log reopening. create and
 * exec_sync, which run under conmon, are in oci-conmon.c. */

#define OCID_LOG_CATEGORY "oci"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/fs.h>
#include <ocid/module.h>
#include <ocid/util.h>

#include "oci-cli.h"

/* conmon's control fifo in the bundle: "<type> <height> <width>\n", type
 * 1 resizes the terminal, 2 reopens the log files. */
#define OCI_CTL_REOPEN_LOG "2 0 0\n"

/* Runs `args` on c; a failure is classified by oci_failed with flags. */
static int oci_simple(struct oci_state *s, const struct ocid_runtime_handler *h,
                      const struct ocid_runtime_container *c, const char *what, const char *const *args,
                      int flags, struct ocid_error **err)
{
        _cleanup_free_ char *failure = NULL;
        int r;

        r = oci_run(s, h, c, args, NULL, &failure, err);
        if (r <= 0)
                return r;
        return oci_failed(s, h, c, what, failure, flags, err);
}

int oci_start(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
              struct ocid_error **err)
{
        int r = oci_check_args(h, c, "", err);

        if (r < 0)
                return r;
        return oci_simple(state, h, c, "start", (const char *const[]){ "start", c->id, NULL }, 0, err);
}

int oci_kill(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
             int32_t signal, int32_t all, struct ocid_error **err)
{
        char sig[16];
        int r = oci_check_args(h, c, "", err);

        if (r < 0)
                return r;
        if (signal < 1 || signal > 64)
                return ocid_error_msg(err, EINVAL, "invalid signal %d", (int) signal);
        (void) snprintf(sig, sizeof(sig), "%d", (int) signal);
        if (all)
                return oci_simple(state, h, c, "signal", (const char *const[]){ "kill", "--all", c->id, sig, NULL },
                                  OCI_STOPPED_ESRCH, err);
        return oci_simple(state, h, c, "signal", (const char *const[]){ "kill", c->id, sig, NULL },
                          OCI_STOPPED_ESRCH, err);
}

int oci_pause(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
              struct ocid_error **err)
{
        struct oci_state *s = state;
        int64_t deadline;
        int r = oci_check_args(h, c, "", err);

        if (r < 0)
                return r;
        r = oci_simple(s, h, c, "pause", (const char *const[]){ "pause", c->id, NULL }, OCI_STOPPED_ESRCH, err);
        if (r < 0)
                return r;
        /* A runtime may return while the cgroup v1 freezer is still
         * FREEZING: paused means every process is frozen. */
        deadline = ocid_now_monotonic_ns() + s->command_timeout_ms * 1000000;
        for (;;) {
                struct ocid_runtime_state st = { .size = sizeof(st) };

                r = oci_runtime_state(s, h, c, &st, err);
                if (r < 0)
                        return r;
                if (streq(st.status, "paused"))
                        return 0;
                if (streq(st.status, "stopped"))
                        return ocid_error_msg(err, ESRCH, "container '%s' is not running", c->id);
                if (ocid_now_monotonic_ns() >= deadline)
                        return ocid_error_msg(err, ETIMEDOUT, "container '%s' is still %s after pause", c->id,
                                              st.status);
                (void) poll(NULL, 0, 10);
        }
}

int oci_resume(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
               struct ocid_error **err)
{
        int r = oci_check_args(h, c, "", err);

        if (r < 0)
                return r;
        return oci_simple(state, h, c, "resume", (const char *const[]){ "resume", c->id, NULL },
                          OCI_STOPPED_ESRCH, err);
}

int oci_delete(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
               int32_t force, struct ocid_error **err)
{
        struct oci_state *s = state;
        _cleanup_free_ char *failure = NULL;
        const char *args_force[] = { "delete", "--force", c ? c->id : NULL, NULL };
        const char *args[] = { "delete", c ? c->id : NULL, NULL };
        int r;

        r = oci_check_args(h, c, "p", err);
        if (r < 0)
                return r;
        r = oci_runtime_knows(s, h, c->id);
        if (r < 0)
                return ocid_error_set(err, -r, "container '%s': look up in '%s'", c->id, oci_root(s, h));
        if (r > 0) {
                r = oci_run(s, h, c, force ? args_force : args, NULL, &failure, err);
                if (r < 0)
                        return r;
                /* Gone meanwhile is as good as deleted. */
                if (r > 0 && oci_runtime_knows(s, h, c->id) != 0)
                        return oci_failed(s, h, c, "delete", failure, force ? 0 : OCI_BUSY_UNLESS_STOPPED, err);
        }
        /* The monitor records the exit, then ends: wait for it, so that
         * the exit file is there and nothing writes into persist_dir. */
        oci_conmon_wait_gone(c, s->command_timeout_ms);
        return 0;
}

/* The exit conmon recorded in persist_dir: 1 with the status and the time,
 * 0 when there is none (yet). */
static int oci_read_exit(const char *persist_dir, int32_t *ret_code, int64_t *ret_ns)
{
        _cleanup_free_ char *path = ocid_path_join(persist_dir, "exit"), *text = NULL;
        struct stat st;
        int64_t v;
        size_t len;

        if (ocid_read_file(path, 64, &text, &len, NULL) < 0 || stat(path, &st) < 0)
                return 0;
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
                text[--len] = '\0';
        if (ocid_parse_int64(text, &v) < 0 || v < INT32_MIN || v > INT32_MAX)
                return 0;
        *ret_code = (int32_t) v;
        *ret_ns = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        return 1;
}

int oci_state(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
              struct ocid_runtime_state *ret, struct ocid_error **err)
{
        int32_t code = 0;
        int64_t finished = 0;
        int exited = 0, oom = 0, r;

        r = oci_check_args(h, c, "", err);
        if (r < 0)
                return r;
        if (!ret || ret->size < offsetof(struct ocid_runtime_state, status) + sizeof(ret->status))
                return ocid_error_msg(err, EINVAL, "state description too small");
        r = oci_runtime_state(state, h, c, ret, err);
        if (r < 0)
                return r;
        if (c->persist_dir) {
                _cleanup_free_ char *oom_path = ocid_path_join(c->persist_dir, "oom");

                exited = oci_read_exit(c->persist_dir, &code, &finished);
                oom = access(oom_path, F_OK) == 0;
        }
        if (OCID_RUNTIME_HAS(ret, struct ocid_runtime_state, exited))
                ret->exited = exited;
        if (OCID_RUNTIME_HAS(ret, struct ocid_runtime_state, exit_code))
                ret->exit_code = exited ? code : 0;
        if (OCID_RUNTIME_HAS(ret, struct ocid_runtime_state, oom_killed))
                ret->oom_killed = oom;
        if (OCID_RUNTIME_HAS(ret, struct ocid_runtime_state, finished_ns))
                ret->finished_ns = exited ? finished : 0;
        return 0;
}

int oci_update(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
               const char *resources_json, struct ocid_error **err)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        r = oci_check_args(h, c, "p", err);
        if (r < 0)
                return r;
        if (!resources_json)
                return ocid_error_msg(err, EINVAL, "no resources");
        path = ocid_path_join(c->persist_dir, "update-XXXXXX");
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0)
                return ocid_error_set(err, errno, "create '%s'", path);
        r = ocid_write_all(fd, resources_json, strlen(resources_json));
        if (r < 0) {
                r = ocid_error_set(err, -r, "write '%s'", path);
                (void) unlink(path);
                return r;
        }
        r = oci_simple(state, h, c, "update",
                       (const char *const[]){ "update", "--resources", path, c->id, NULL }, OCI_STOPPED_ESRCH, err);
        (void) unlink(path);
        return r;
}

/* Writes all of data to a fifo whose reader may go away: EPIPE instead of
 * a SIGPIPE for the calling thread. */
static int oci_write_fifo(int fd, const char *data, size_t len)
{
        sigset_t pipe_set, old, pending_before, pending;
        struct timespec zero = { 0, 0 };
        int r;

        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigemptyset(&pending_before);
        (void) sigpending(&pending_before);
        if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
                return ocid_write_all(fd, data, len);
        r = ocid_write_all(fd, data, len);
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) && !sigismember(&pending_before, SIGPIPE))
                (void) sigtimedwait(&pipe_set, NULL, &zero);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        return r;
}

int oci_reopen_log(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                   struct ocid_error **err)
{
        struct oci_state *s = state;
        _cleanup_free_ char *ctl = NULL;
        _cleanup_close_ int fd = -1;
        struct stat before, now;
        bool had_before;
        int64_t deadline;
        int r;

        r = oci_check_args(h, c, "bl", err);
        if (r < 0)
                return r;
        had_before = stat(c->log_path, &before) == 0;
        ctl = ocid_path_join(c->bundle, "ctl");
        /* Without a reader (conmon gone), the open fails with ENXIO. */
        fd = open(ctl, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 && (errno == ENXIO || errno == ENOENT))
                return ocid_error_msg(err, ESRCH, "container '%s' has no running monitor", c->id);
        if (fd < 0)
                return ocid_error_set(err, errno, "open '%s'", ctl);
        r = oci_write_fifo(fd, OCI_CTL_REOPEN_LOG, strlen(OCI_CTL_REOPEN_LOG));
        if (r == -EPIPE)
                return ocid_error_msg(err, ESRCH, "container '%s' has no running monitor", c->id);
        if (r < 0)
                return ocid_error_set(err, -r, "write '%s'", ctl);

        /* conmon opens "<log>.tmp" and renames it over the log. */
        deadline = ocid_now_monotonic_ns() + s->command_timeout_ms * 1000000;
        for (;;) {
                if (stat(c->log_path, &now) == 0 &&
                    (!had_before || now.st_ino != before.st_ino || now.st_dev != before.st_dev))
                        return 0;
                if (ocid_now_monotonic_ns() >= deadline)
                        return ocid_error_msg(err, ETIMEDOUT, "container '%s': the monitor did not reopen '%s'",
                                              c->id, c->log_path);
                (void) poll(NULL, 0, 5);
        }
}
