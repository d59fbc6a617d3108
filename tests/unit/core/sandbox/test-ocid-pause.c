/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox-test.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>    /* PR_SET_PDEATHSIG */
#include <sys/syscall.h>  /* SYS_rt_sigtimedwait */
#include <sys/wait.h>
#include <time.h>

/* ocid-pause, the infra container's process, run for real from the build
 * tree. */

#define WAIT_MS 5000

/* Every process a test forks, so that a failing test leaves none behind
 * (a leftover would also hold the TAP pipe open and stall the harness). */
static pid_t spawned[16];
static size_t n_spawned;

static void track(pid_t pid)
{
        assert_true(pid > 0);
        assert_true(n_spawned < ELEMENTSOF(spawned));
        spawned[n_spawned++] = pid;
}

/* In a forked child: die with the test process, whatever happens to it. */
static void die_with_parent(void)
{
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                _exit(119);
}

static int kill_spawned(void **state)
{
        for (size_t i = 0; i < n_spawned; i++) {
                (void) kill(spawned[i], SIGKILL);
                (void) waitpid(spawned[i], NULL, 0);
        }
        n_spawned = 0;
        return 0;
}

static void sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* The process state letter from /proc/<pid>/stat, or 0 when it is gone. */
static char proc_state(pid_t pid)
{
        _cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int) pid);
        _cleanup_free_ char *line = sandbox_test_read_line(path);
        const char *p;

        if (!line)
                return 0;
        p = strrchr(line, ')');   /* the name may hold spaces */
        assert_non_null(p);
        return p[2];
}

/* Waits until pid sits in sigtimedwait(): ocid-pause is then past its
 * set-up, with its signals blocked. (SigBlk in /proc/<pid>/status cannot
 * tell: the kernel unblocks the awaited signals for the wait.) The
 * syscall number in /proc/<pid>/syscall says it; wchan is the fallback. */
static void wait_ready(pid_t pid)
{
        _cleanup_free_ char *sys_path = xasprintf("/proc/%d/syscall", (int) pid);
        _cleanup_free_ char *wchan_path = xasprintf("/proc/%d/wchan", (int) pid);

        for (int waited = 0; waited < WAIT_MS; waited += 10) {
                _cleanup_free_ char *sys = sandbox_test_read_line(sys_path);
                _cleanup_free_ char *wchan = sandbox_test_read_line(wchan_path);
                char *end = NULL;
                long nr = sys ? strtol(sys, &end, 10) : -1;

                if (sys && end != sys && nr == SYS_rt_sigtimedwait)
                        return;
                if (wchan && ocid_startswith(wchan, "do_sigtimedwait"))
                        return;
                sleep_ms(10);
        }
        fail_msg("ocid-pause (pid %d) never became ready", (int) pid);
}

/* Waits until pid is gone from /proc (reaped); fails if it stays a zombie. */
static void wait_reaped(pid_t pid)
{
        char st = 0;

        for (int waited = 0; waited < WAIT_MS; waited += 10) {
                st = proc_state(pid);
                if (st == 0)
                        return;
                sleep_ms(10);
        }
        fail_msg("pid %d was never reaped (state '%c')", (int) pid, st);
}

static int exit_status_of(pid_t pid)
{
        int status;

        assert_int_equal(waitpid(pid, &status, 0), pid);
        /* reaped: not for kill_spawned() any more */
        for (size_t i = 0; i < n_spawned; i++)
                if (spawned[i] == pid)
                        spawned[i] = spawned[--n_spawned];
        if (!WIFEXITED(status))
                fail_msg("ocid-pause did not exit normally (status 0x%x)", status);
        return WEXITSTATUS(status);
}

static pid_t spawn_pause(const char *arg, int out_fd)
{
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                die_with_parent();
                if (out_fd >= 0)
                        (void) dup2(out_fd, STDOUT_FILENO);
                execl(OCID_TEST_PAUSE_BINARY, "ocid-pause", arg, (char *) NULL);
                _exit(127);
        }
        track(pid);
        return pid;
}

static void test_version(void **state)
{
        char buf[256];
        int p[2];
        ssize_t n;
        pid_t pid;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = spawn_pause("--version", p[1]);
        close(p[1]);
        n = read(p[0], buf, sizeof(buf) - 1);
        close(p[0]);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_string_equal(buf, "ocid-pause " PACKAGE_VERSION "\n");
        assert_int_equal(exit_status_of(pid), 0);

        pid = spawn_pause("--bogus", -1);
        assert_int_equal(exit_status_of(pid), 2);
}

static void check_signal(int sig)
{
        pid_t pid = spawn_pause(NULL, -1);

        wait_ready(pid);
        assert_int_equal(kill(pid, sig), 0);
        assert_int_equal(exit_status_of(pid), 0);
}

static void test_sigterm(void **state)
{
        check_signal(SIGTERM);
}

static void test_sigint(void **state)
{
        check_signal(SIGINT);
}

/* Other signals do not end it; SIGKILL does. */
static void test_other_signals(void **state)
{
        pid_t pid = spawn_pause(NULL, -1);
        int status;

        wait_ready(pid);
        assert_int_equal(kill(pid, SIGCHLD), 0);
        sleep_ms(50);
        assert_true(proc_state(pid) != 0 && proc_state(pid) != 'Z');
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        n_spawned = 0;
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* A child that ocid-pause inherits (forked before the exec) exits while it
 * runs: no zombie may remain. Another one that exited before the exec is
 * reaped at start. */
static void test_reaps_children(void **state)
{
        int report[2], go[2];
        pid_t pid, kids[2];

        assert_int_equal(pipe2(report, O_CLOEXEC), 0);
        assert_int_equal(pipe2(go, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                pid_t early, late;
                char c;

                die_with_parent();
                early = fork();
                if (early == 0)
                        _exit(0);
                late = fork();
                if (late == 0) {
                        close(go[1]);
                        while (read(go[0], &c, 1) < 0 && errno == EINTR)
                                ;
                        _exit(3);
                }
                if (early < 0 || late < 0)
                        _exit(126);
                /* let the early one become a zombie before the exec */
                while (waitid(P_PID, (id_t) early, NULL, WEXITED | WNOWAIT) < 0 && errno == EINTR)
                        ;
                if (write(report[1], (pid_t[]) { early, late }, 2 * sizeof(pid_t)) != 2 * sizeof(pid_t))
                        _exit(125);
                execl(OCID_TEST_PAUSE_BINARY, "ocid-pause", (char *) NULL);
                _exit(127);
        }
        track(pid);
        close(report[1]);
        close(go[0]);
        assert_int_equal(read(report[0], kids, sizeof(kids)), (ssize_t) sizeof(kids));
        close(report[0]);

        wait_ready(pid);
        wait_reaped(kids[0]);
        /* the late child is alive until told to go */
        assert_true(proc_state(kids[1]) != 0 && proc_state(kids[1]) != 'Z');
        close(go[1]);
        wait_reaped(kids[1]);

        assert_int_equal(kill(pid, SIGTERM), 0);
        assert_int_equal(exit_status_of(pid), 0);
}

/* As PID 1 of a PID namespace: an orphaned grandchild is reparented to it
 * and reaped, and SIGTERM from the parent namespace ends it with 0. */
static void test_pid1(void **state)
{
        int report[2], go[2], status;
        pid_t outer, init_pid = 0, orphan = 0;
        struct {
                char who;
                pid_t pid;
        } msg;

        REQUIRE_ROOT();
        assert_int_equal(pipe2(report, O_CLOEXEC), 0);
        assert_int_equal(pipe2(go, O_CLOEXEC), 0);
        outer = fork();
        assert_true(outer >= 0);
        if (outer == 0) {
                pid_t init;

                die_with_parent();
                close(report[0]);
                if (unshare(CLONE_NEWPID) < 0)
                        _exit(120);
                init = fork();
                if (init < 0)
                        _exit(121);
                if (init == 0) {
                        pid_t mid;

                        die_with_parent();  /* everything in the namespace dies with it */
                        mid = fork();

                        if (mid == 0) {
                                pid_t g = fork();

                                if (g == 0) {
                                        /* /proc belongs to the parent
                                         * namespace: /proc/self is the pid
                                         * as seen from there */
                                        char self[32] = "";
                                        int64_t v = 0;
                                        char c;

                                        close(go[1]);
                                        if (readlink("/proc/self", self, sizeof(self) - 1) < 0 ||
                                            ocid_parse_int64(self, &v) < 0)
                                                _exit(122);
                                        msg.who = 'g';
                                        msg.pid = (pid_t) v;
                                        if (write(report[1], &msg, sizeof(msg)) != sizeof(msg))
                                                _exit(123);
                                        while (read(go[0], &c, 1) < 0 && errno == EINTR)
                                                ;
                                        _exit(0);
                                }
                                _exit(g < 0 ? 124 : 0);  /* orphans g */
                        }
                        execl(OCID_TEST_PAUSE_BINARY, "ocid-pause", (char *) NULL);
                        _exit(127);
                }
                close(go[0]);
                close(go[1]);
                msg.who = 'i';
                msg.pid = init;
                if (write(report[1], &msg, sizeof(msg)) != sizeof(msg))
                        _exit(125);
                close(report[1]);
                while (waitpid(init, &status, 0) < 0 && errno == EINTR)
                        ;
                _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status));
        }
        track(outer);
        close(report[1]);
        close(go[0]);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(read(report[0], &msg, sizeof(msg)), (ssize_t) sizeof(msg));
                if (msg.who == 'i')
                        init_pid = msg.pid;
                else
                        orphan = msg.pid;
        }
        close(report[0]);
        assert_true(init_pid > 0 && orphan > 0);

        wait_ready(init_pid);
        /* The orphan now belongs to ocid-pause. */
        {
                _cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int) orphan);
                _cleanup_free_ char *line = sandbox_test_read_line(path);
                const char *p = line ? strrchr(line, ')') : NULL;
                long long ppid = 0;

                assert_non_null(p);
                assert_int_equal(sscanf(p + 2, "%*c %lld", &ppid), 1);
                for (int waited = 0; ppid != init_pid && waited < WAIT_MS; waited += 10) {
                        sleep_ms(10);
                        free(line);
                        line = sandbox_test_read_line(path);
                        p = line ? strrchr(line, ')') : NULL;
                        assert_non_null(p);
                        assert_int_equal(sscanf(p + 2, "%*c %lld", &ppid), 1);
                }
                assert_int_equal(ppid, init_pid);
        }
        close(go[1]);
        wait_reaped(orphan);

        assert_int_equal(kill(init_pid, SIGTERM), 0);
        assert_int_equal(exit_status_of(outer), 0);
}

#define T(fn) cmocka_unit_test_teardown(fn, kill_spawned)

OCID_TEST_MAIN(T(test_version),
               T(test_sigterm),
               T(test_sigint),
               T(test_other_signals),
               T(test_reaps_children),
               T(test_pid1))
