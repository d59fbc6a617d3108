/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h> /* SYS_pidfd_open */
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/exec.h>
#include <ocid/util.h>

#include "internal.h"

#define DEFAULT_MAX_OUTPUT (1024 * 1024)
/* Without a pidfd, the child's exit is noticed by polling this often. */
#define REAP_POLL_MS 20

extern char **environ;

struct capture {
        int fd;
        char *buf;
        size_t len, cap, max;
        int truncated;
};

static void capture_done(struct capture *c)
{
        if (c->fd >= 0)
                (void) close(c->fd);
        c->fd = -1;
        free(c->buf);
        c->buf = NULL;
}

/* Reads what is available. Returns 1 at EOF or on a read error (the stream
 * is then closed), 0 otherwise. Past the cap, data is read and dropped, so
 * that the child never blocks on a full pipe. */
static int capture_read(struct capture *c)
{
        char scratch[65536];

        for (;;) {
                ssize_t n;
                size_t room = c->max - c->len;

                if (room > 0) {
                        if (c->cap - c->len < 2) {
                                size_t want = c->cap ? c->cap * 2 : 8192;
                                if (want > c->max + 1)
                                        want = c->max + 1;
                                c->buf = xrealloc(c->buf, want);
                                c->cap = want;
                        }
                        room = c->cap - c->len - 1;
                        if (room > c->max - c->len)
                                room = c->max - c->len;
                        n = read(c->fd, c->buf + c->len, room);
                } else {
                        n = read(c->fd, scratch, sizeof(scratch));
                }
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        break; /* treat as EOF */
                }
                if (n == 0)
                        break;
                if (room > 0)
                        c->len += (size_t) n;
                else
                        c->truncated = 1;
        }
        (void) close(c->fd);
        c->fd = -1;
        return 1;
}

static char *capture_take(struct capture *c, size_t *ret_len)
{
        char *s = c->buf ? c->buf : xmalloc(1);

        s[c->len] = '\0';
        *ret_len = c->len;
        c->buf = NULL;
        return s;
}

/* A pipe whose ends are both >= 3, so that the dup2() to 0-2 in the child
 * cannot clobber one of them. */
static int make_pipe(int fds[2])
{
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        for (int i = 0; i < 2; i++) {
                if (fds[i] < 3) {
                        int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                        if (fd < 0) {
                                int r = -errno;
                                (void) close(fds[0]);
                                (void) close(fds[1]);
                                return r;
                        }
                        (void) close(fds[i]);
                        fds[i] = fd;
                }
        }
        return 0;
}

static void close_pipe(int fds[2])
{
        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0) {
                        (void) close(fds[i]);
                        fds[i] = -1;
                }
}

static int set_nonblock(int fd)
{
        int fl = fcntl(fd, F_GETFL);

        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

static int pidfd_open_nointr(pid_t pid)
{
#ifdef SYS_pidfd_open
        long fd = syscall(SYS_pidfd_open, pid, 0);
        if (fd >= 0) {
                (void) fcntl((int) fd, F_SETFD, FD_CLOEXEC); /* pidfds are CLOEXEC already */
                return (int) fd;
        }
#endif
        return -1;
}

/* Waits for exactly this pid (never -1: the daemon has other children). */
static int reap(pid_t pid, int options, int *status)
{
        for (;;) {
                pid_t r = waitpid(pid, status, options);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                return r == pid ? 1 : 0;
        }
}

struct spawn_setup {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        bool fa_init, attr_init;
};

static void spawn_setup_done(struct spawn_setup *s)
{
        if (s->fa_init)
                posix_spawn_file_actions_destroy(&s->fa);
        if (s->attr_init)
                posix_spawnattr_destroy(&s->attr);
}

static int spawn_setup_init(struct spawn_setup *s, const struct ocid_cmd *cmd, int in_fd, int out_fd, int err_fd)
{
        sigset_t all, none;
        int r;

        r = posix_spawn_file_actions_init(&s->fa);
        if (r != 0)
                return -r;
        s->fa_init = true;
        r = posix_spawnattr_init(&s->attr);
        if (r != 0)
                return -r;
        s->attr_init = true;

        if (in_fd >= 0)
                r = posix_spawn_file_actions_adddup2(&s->fa, in_fd, STDIN_FILENO);
        else
                r = posix_spawn_file_actions_addopen(&s->fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&s->fa, out_fd, STDOUT_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&s->fa, err_fd, STDERR_FILENO);
        /* every fd but 0-2 closed in the child (close_range underneath) */
        if (r == 0)
                r = posix_spawn_file_actions_addclosefrom_np(&s->fa, 3);
        if (r == 0 && cmd->cwd)
                r = posix_spawn_file_actions_addchdir_np(&s->fa, cmd->cwd);
        if (r != 0)
                return -r;

        /* A new process group, so that a timeout kills grandchildren too;
         * default signal dispositions and an empty mask, whatever the
         * calling thread blocks or the daemon ignores (SIGPIPE). */
        sigfillset(&all);
        sigemptyset(&none);
        r = posix_spawnattr_setpgroup(&s->attr, 0);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&s->attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&s->attr, &all);
        if (r == 0)
                r = posix_spawnattr_setflags(&s->attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                               POSIX_SPAWN_SETSIGDEF);
        return -r;
}

static int64_t remaining_ms(int64_t deadline_ns)
{
        int64_t left = deadline_ns - ocid_now_monotonic_ns();

        if (left <= 0)
                return 0;
        return (left + 999999) / 1000000;
}

OCID_EXPORT int ocid_cmd_run(const struct ocid_cmd *cmd, struct ocid_cmd_result *ret, struct ocid_error **err)
{
        struct capture out = { .fd = -1 }, errc = { .fd = -1 };
        struct spawn_setup setup = { 0 };
        int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
        _cleanup_close_ int pidfd = -1;
        sigset_t pipe_set, old_mask, pending_before;
        const char *name;
        const char *input_p = NULL;
        size_t input_left = 0;
        int64_t deadline = 0;
        bool exited = false, sigpipe_blocked = false;
        int status = 0, timed_out = 0, r;
        pid_t pid;

        memset(ret, 0, sizeof(*ret));
        if (!cmd || !cmd->argv || !cmd->argv[0] || !cmd->argv[0][0])
                return ocid_error_msg(err, EINVAL, "run command: empty argv");
        name = cmd->argv[0];
        out.max = errc.max = cmd->max_output ? cmd->max_output : DEFAULT_MAX_OUTPUT;

        r = make_pipe(out_pipe);
        if (r == 0)
                r = make_pipe(err_pipe);
        if (r == 0 && cmd->input)
                r = make_pipe(in_pipe);
        if (r < 0) {
                r = ocid_error_set(err, -r, "run '%s': pipe", name);
                goto out;
        }
        r = spawn_setup_init(&setup, cmd, in_pipe[0], out_pipe[1], err_pipe[1]);
        if (r < 0) {
                r = ocid_error_set(err, -r, "run '%s': prepare spawn", name);
                goto out;
        }

        /* posix_spawn (vfork-like in glibc) reports a failing exec, chdir
         * or dup2 of the child as its return value. */
        r = posix_spawnp(&pid, name, &setup.fa, &setup.attr, (char *const *) cmd->argv,
                         cmd->envp ? (char *const *) cmd->envp : environ);
        if (r != 0) {
                if (cmd->cwd)
                        r = ocid_error_set(err, r, "run '%s' in '%s'", name, cmd->cwd);
                else
                        r = ocid_error_set(err, r, "run '%s'", name);
                goto out;
        }

        /* The parent keeps only its ends. */
        (void) close(TAKE_FD(in_pipe[0]));
        (void) close(TAKE_FD(out_pipe[1]));
        (void) close(TAKE_FD(err_pipe[1]));
        out.fd = TAKE_FD(out_pipe[0]);
        errc.fd = TAKE_FD(err_pipe[0]);
        (void) set_nonblock(out.fd);
        (void) set_nonblock(errc.fd);
        if (cmd->input) {
                input_p = cmd->input;
                input_left = cmd->input_len;
                (void) set_nonblock(in_pipe[1]);
                if (input_left == 0)
                        (void) close(TAKE_FD(in_pipe[1]));
                /* Writing to a pipe the child closed raises SIGPIPE in this
                 * thread: block it here, and consume one we caused. */
                sigemptyset(&pipe_set);
                sigaddset(&pipe_set, SIGPIPE);
                sigemptyset(&pending_before);
                (void) sigpending(&pending_before);
                if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask) == 0)
                        sigpipe_blocked = true;
        }
        pidfd = pidfd_open_nointr(pid);
        if (cmd->timeout_ms > 0 && cmd->timeout_ms < INT64_MAX / 4000000)
                deadline = ocid_now_monotonic_ns() + cmd->timeout_ms * 1000000;

        while (!exited) {
                struct pollfd pfd[4];
                int n = 0, i_out = -1, i_err = -1, i_in = -1, i_pid = -1;
                int timeout = -1;

                if (out.fd >= 0) {
                        i_out = n;
                        pfd[n++] = (struct pollfd){ .fd = out.fd, .events = POLLIN };
                }
                if (errc.fd >= 0) {
                        i_err = n;
                        pfd[n++] = (struct pollfd){ .fd = errc.fd, .events = POLLIN };
                }
                if (in_pipe[1] >= 0) {
                        i_in = n;
                        pfd[n++] = (struct pollfd){ .fd = in_pipe[1], .events = POLLOUT };
                }
                if (pidfd >= 0) {
                        i_pid = n;
                        pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
                } else {
                        timeout = REAP_POLL_MS;
                }
                if (deadline && !timed_out) {
                        int64_t left = remaining_ms(deadline);
                        if (timeout < 0 || left < timeout)
                                timeout = (int) (left > 1000000 ? 1000000 : left);
                }

                if (poll(pfd, (nfds_t) n, timeout) < 0 && errno != EINTR) {
                        /* cannot wait any more: kill and reap rather than leak */
                        r = ocid_error_set(err, errno, "run '%s': poll", name);
                        (void) kill(-pid, SIGKILL);
                        (void) reap(pid, 0, &status);
                        goto out;
                }

                if (i_out >= 0 && pfd[i_out].revents)
                        (void) capture_read(&out);
                if (i_err >= 0 && pfd[i_err].revents)
                        (void) capture_read(&errc);
                if (i_in >= 0 && pfd[i_in].revents) {
                        ssize_t w = write(in_pipe[1], input_p, input_left);
                        if (w > 0) {
                                input_p += w;
                                input_left -= (size_t) w;
                        }
                        /* all written, or the child stopped reading (EPIPE) */
                        if (input_left == 0 || (w < 0 && errno != EAGAIN && errno != EINTR) ||
                            (pfd[i_in].revents & (POLLERR | POLLHUP)))
                                (void) close(TAKE_FD(in_pipe[1]));
                }

                if (i_pid < 0 || pfd[i_pid].revents) {
                        r = reap(pid, WNOHANG, &status);
                        if (r < 0) {
                                r = ocid_error_set(err, -r, "run '%s': wait", name);
                                (void) kill(-pid, SIGKILL);
                                goto out;
                        }
                        exited = r > 0;
                }
                if (!exited && deadline && !timed_out && remaining_ms(deadline) == 0) {
                        /* the whole group: grandchildren too */
                        (void) kill(-pid, SIGKILL);
                        timed_out = 1;
                        r = reap(pid, 0, &status);
                        if (r < 0) {
                                r = ocid_error_set(err, -r, "run '%s': wait", name);
                                goto out;
                        }
                        exited = true;
                }
        }

        /* What the child wrote before it exited is in the pipes; a
         * grandchild that still holds them is not waited for. */
        if (out.fd >= 0)
                (void) capture_read(&out);
        if (errc.fd >= 0)
                (void) capture_read(&errc);

        if (WIFEXITED(status)) {
                ret->exit_code = WEXITSTATUS(status);
                ret->term_signal = 0;
        } else {
                ret->exit_code = -1;
                ret->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        }
        ret->timed_out = timed_out;
        ret->out_truncated = out.truncated;
        ret->err_truncated = errc.truncated;
        ret->out = capture_take(&out, &ret->out_len);
        ret->err = capture_take(&errc, &ret->err_len);
        r = 0;

out:
        if (sigpipe_blocked) {
                sigset_t pending;
                struct timespec zero = { 0, 0 };

                if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) &&
                    !sigismember(&pending_before, SIGPIPE))
                        (void) sigtimedwait(&pipe_set, NULL, &zero);
                (void) pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
        }
        spawn_setup_done(&setup);
        close_pipe(in_pipe);
        close_pipe(out_pipe);
        close_pipe(err_pipe);
        capture_done(&out);
        capture_done(&errc);
        return r;
}

OCID_EXPORT void ocid_cmd_result_done(struct ocid_cmd_result *r)
{
        if (!r)
                return;
        free(r->out);
        free(r->err);
        memset(r, 0, sizeof(*r));
}
