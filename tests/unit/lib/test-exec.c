/* SPDX-License-Identifier: Apache-2.0 */
#include "lib-test.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/prctl.h> /* PR_SET_CHILD_SUBREAPER */
#include <sys/stat.h>

#include <ocid/exec.h>

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static int run(const struct ocid_cmd *cmd, struct ocid_cmd_result *r)
{
        struct ocid_error *err = NULL;
        int ret = ocid_cmd_run(cmd, r, &err);

        if (ret < 0)
                fail_msg("ocid_cmd_run: %s", ocid_error_message(&err));
        assert_null(err);
        return ret;
}

static void test_exit_codes(void **state)
{
        struct ocid_cmd_result r;

        run(&(struct ocid_cmd){ .argv = ARGV("/bin/sh", "-c", "exit 7") }, &r);
        assert_int_equal(r.exit_code, 7);
        assert_int_equal(r.term_signal, 0);
        assert_int_equal(r.timed_out, 0);
        assert_string_equal(r.out, "");
        assert_int_equal(r.out_len, 0);
        assert_string_equal(r.err, "");
        ocid_cmd_result_done(&r);
        assert_null(r.out);
        assert_null(r.err);

        /* found on PATH */
        run(&(struct ocid_cmd){ .argv = ARGV("true") }, &r);
        assert_int_equal(r.exit_code, 0);
        ocid_cmd_result_done(&r);
        run(&(struct ocid_cmd){ .argv = ARGV("false") }, &r);
        assert_int_equal(r.exit_code, 1);
        ocid_cmd_result_done(&r);
}

static void test_signal(void **state)
{
        struct ocid_cmd_result r;

        run(&(struct ocid_cmd){ .argv = ARGV("/bin/sh", "-c", "echo before; kill -TERM $$; echo after") }, &r);
        assert_int_equal(r.exit_code, -1);
        assert_int_equal(r.term_signal, SIGTERM);
        assert_int_equal(r.timed_out, 0);
        assert_string_equal(r.out, "before\n");
        ocid_cmd_result_done(&r);
}

static void test_stdout_stderr(void **state)
{
        struct ocid_cmd_result r;

        run(&(struct ocid_cmd){ .argv = ARGV("/bin/sh", "-c", "echo out; echo err >&2; printf 'a\\0b'") }, &r);
        assert_int_equal(r.exit_code, 0);
        assert_int_equal(r.out_len, 7);
        assert_memory_equal(r.out, "out\na\0b", 8);
        assert_string_equal(r.err, "err\n");
        assert_int_equal(r.err_len, 4);
        assert_int_equal(r.out_truncated, 0);
        assert_int_equal(r.err_truncated, 0);
        ocid_cmd_result_done(&r);
}

static void test_input(void **state)
{
        size_t n = 4 << 20; /* far more than a pipe holds */
        _cleanup_free_ char *in = xmalloc(n);
        struct ocid_cmd_result r;

        for (size_t i = 0; i < n; i++)
                in[i] = (char) ('a' + i % 26);
        run(&(struct ocid_cmd){ .argv = ARGV("cat"), .input = in, .input_len = n, .max_output = n }, &r);
        assert_int_equal(r.exit_code, 0);
        assert_int_equal(r.out_len, n);
        assert_int_equal(r.out_truncated, 0);
        assert_memory_equal(r.out, in, n);
        ocid_cmd_result_done(&r);

        /* stdin is closed after the input: cat sees EOF */
        run(&(struct ocid_cmd){ .argv = ARGV("cat"), .input = "", .input_len = 0 }, &r);
        assert_int_equal(r.exit_code, 0);
        assert_int_equal(r.out_len, 0);
        ocid_cmd_result_done(&r);

        /* no input: /dev/null */
        run(&(struct ocid_cmd){ .argv = ARGV("/bin/sh", "-c", "cat; readlink /proc/self/fd/0") }, &r);
        assert_string_equal(r.out, "/dev/null\n");
        ocid_cmd_result_done(&r);
}

static void test_input_not_read(void **state)
{
        size_t n = 4 << 20;
        _cleanup_free_ char *in = xzalloc(n);
        struct ocid_cmd_result r;

        /* the child exits without reading: no hang, no SIGPIPE for us */
        run(&(struct ocid_cmd){ .argv = ARGV("/bin/sh", "-c", "exec 0<&-; echo gone"), .input = in,
                                .input_len = n, .timeout_ms = 20000 },
            &r);
        assert_int_equal(r.exit_code, 0);
        assert_int_equal(r.timed_out, 0);
        assert_string_equal(r.out, "gone\n");
        ocid_cmd_result_done(&r);
}

static void test_timeout_kills_group(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *pidfile = NULL, *script = NULL, *s = NULL;
        struct ocid_error *err = NULL;
        struct ocid_cmd_result r;
        int64_t start;
        int status;
        int64_t gp;
        pid_t grandchild;

        /* orphans are reparented to us, so that we can see how they died */
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
        pidfile = xasprintf("%s/pid", t);
        script = xasprintf("sleep 100 & echo $! > %s; echo started; wait", pidfile);

        start = ocid_now_monotonic_ns();
        run(&(struct ocid_cmd){ .argv = ARGV("/bin/sh", "-c", script), .timeout_ms = 500 }, &r);
        assert_true(ocid_now_monotonic_ns() - start < 10 * 1000000000LL);
        assert_true(ocid_now_monotonic_ns() - start >= 500 * 1000000LL);
        assert_int_equal(r.timed_out, 1);
        assert_int_equal(r.exit_code, -1);
        assert_int_equal(r.term_signal, SIGKILL);
        assert_string_equal(r.out, "started\n");
        ocid_cmd_result_done(&r);

        assert_int_equal(ocid_read_file(pidfile, 64, &s, NULL, &err), 0);
        s[strcspn(s, "\n")] = '\0';
        assert_int_equal(ocid_parse_int64(s, &gp), 0);
        grandchild = (pid_t) gp;
        assert_true(grandchild > 0);
        assert_int_equal(waitpid(grandchild, &status, 0), grandchild);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
        rm_tmpdir(TAKE_PTR(t));
}

static void test_no_timeout_when_fast(void **state)
{
        struct ocid_cmd_result r;

        run(&(struct ocid_cmd){ .argv = ARGV("/bin/sh", "-c", "echo quick"), .timeout_ms = 10000 }, &r);
        assert_int_equal(r.timed_out, 0);
        assert_int_equal(r.exit_code, 0);
        ocid_cmd_result_done(&r);
}

static void test_output_cap(void **state)
{
        struct ocid_cmd_result r;

        /* 5 MiB on stdout, default cap 1 MiB: the child is drained to its end */
        run(&(struct ocid_cmd){ .argv = ARGV("/bin/sh", "-c", "head -c 5242880 /dev/zero; echo finished >&2"),
                                .timeout_ms = 30000 },
            &r);
        assert_int_equal(r.exit_code, 0);
        assert_int_equal(r.timed_out, 0);
        assert_int_equal(r.out_len, 1 << 20);
        assert_int_equal(r.out_truncated, 1);
        assert_int_equal(r.out[r.out_len], '\0');
        assert_string_equal(r.err, "finished\n");
        assert_int_equal(r.err_truncated, 0);
        ocid_cmd_result_done(&r);

        /* a small cap on both streams; exactly the cap is not truncated */
        run(&(struct ocid_cmd){ .argv = ARGV("/bin/sh", "-c", "printf 0123456789; printf abcde >&2"),
                                .max_output = 5 },
            &r);
        assert_string_equal(r.out, "01234");
        assert_int_equal(r.out_truncated, 1);
        assert_string_equal(r.err, "abcde");
        assert_int_equal(r.err_truncated, 0);
        ocid_cmd_result_done(&r);
}

static void test_exec_failures(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *noexec = NULL;
        struct ocid_error *err = NULL;
        struct ocid_cmd_result r;

        assert_int_equal(ocid_cmd_run(&(struct ocid_cmd){ .argv = ARGV("/nonexistent/ocid-cmd") }, &r, &err),
                         -ENOENT);
        assert_err(err, ENOENT, "run '/nonexistent/ocid-cmd': No such file or directory");
        assert_null(r.out);

        assert_int_equal(ocid_cmd_run(&(struct ocid_cmd){ .argv = ARGV("ocid-no-such-command") }, &r, &err), -ENOENT);
        assert_non_null(strstr(ocid_error_message(&err), "ocid-no-such-command"));
        ocid_error_clear(&err);

        noexec = xasprintf("%s/script", t);
        write_text(noexec, "#!/bin/sh\necho no\n");
        assert_int_equal(chmod(noexec, 0644), 0);
        /* no x bit at all: not even root may execute it */
        assert_int_equal(ocid_cmd_run(&(struct ocid_cmd){ .argv = ARGV(noexec) }, &r, &err), -EACCES);
        assert_non_null(strstr(ocid_error_message(&err), noexec));
        ocid_error_clear(&err);

        assert_int_equal(ocid_cmd_run(&(struct ocid_cmd){ .argv = ARGV("true"), .cwd = "/nonexistent-dir" }, &r,
                                      &err),
                         -ENOENT);
        assert_non_null(strstr(ocid_error_message(&err), "/nonexistent-dir"));
        ocid_error_clear(&err);

        assert_int_equal(ocid_cmd_run(&(struct ocid_cmd){ .argv = (const char *const[]){ NULL } }, &r, &err),
                         -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(ocid_cmd_run(&(struct ocid_cmd){ 0 }, &r, &err), -EINVAL);
        ocid_error_clear(&err);
        rm_tmpdir(TAKE_PTR(t));
}

static void test_cwd_and_env(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *expect = NULL;
        struct ocid_cmd_result r;

        run(&(struct ocid_cmd){ .argv = ARGV("/bin/pwd"), .cwd = t }, &r);
        expect = xasprintf("%s\n", t);
        assert_string_equal(r.out, expect);
        ocid_cmd_result_done(&r);

        run(&(struct ocid_cmd){ .argv = ARGV("/usr/bin/env"), .envp = ARGV("FOO=bar", "X=1") }, &r);
        assert_string_equal(r.out, "FOO=bar\nX=1\n");
        ocid_cmd_result_done(&r);

        /* NULL envp inherits */
        setenv("OCID_TEST_INHERITED", "yes", 1);
        run(&(struct ocid_cmd){ .argv = ARGV("/bin/sh", "-c", "echo $OCID_TEST_INHERITED") }, &r);
        assert_string_equal(r.out, "yes\n");
        ocid_cmd_result_done(&r);
        rm_tmpdir(TAKE_PTR(t));
}

/* The SigIgn mask of the child's /proc status, from its output. */
static uint64_t sig_ignored(const char *out)
{
        const char *line = strstr(out, "SigIgn:\t");
        _cleanup_free_ char *hex = NULL;
        uint64_t mask = 0;

        assert_non_null(line);
        line += strlen("SigIgn:\t");
        hex = xstrndup(line, strcspn(line, "\n"));
        assert_int_equal(strlen(hex), 16);
        for (const char *c = hex; *c; c++)
                mask = mask << 4 | (uint64_t) (*c <= '9' ? *c - '0' : *c - 'a' + 10);
        return mask;
}

static void test_child_environment(void **state)
{
        _cleanup_free_ char *script = NULL;
        struct ocid_cmd_result r;
        int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
        int fd = fcntl(leak, F_DUPFD, 77);
        uint64_t ign;

        assert_true(fd >= 77);
        close(leak);
        /* signals the daemon ignores are not ignored in the child */
        signal(SIGUSR1, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        script = xasprintf("[ -e /proc/$$/fd/%d ] && echo open || echo closed;"
                           "set -- $(cut -d' ' -f5 /proc/$$/stat); [ \"$1\" = $$ ] && echo leader;"
                           "grep SigIgn /proc/$$/status",
                           fd);
        run(&(struct ocid_cmd){ .argv = ARGV("/bin/sh", "-c", script) }, &r);
        signal(SIGUSR1, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        close(fd);
        assert_non_null(ocid_startswith(r.out, "closed\nleader\nSigIgn:"));
        /* glibc's posix_spawn leaves its two internal real-time signals
         * (32, 33) ignored; every standard signal must be at its default */
        ign = sig_ignored(r.out);
        assert_true((ign & 0x7fffffffULL) == 0);
        ocid_cmd_result_done(&r);
}

#define THREADS 8
#define RUNS 10

static void *run_many(void *arg)
{
        long id = (long) (intptr_t) arg;

        for (int i = 0; i < RUNS; i++) {
                _cleanup_free_ char *expect = xasprintf("%ld-%d\n", id, i);
                _cleanup_free_ char *script = xasprintf("echo %ld-%d", id, i);
                struct ocid_error *err = NULL;
                struct ocid_cmd_result r;

                if (ocid_cmd_run(&(struct ocid_cmd){ .argv = ARGV("/bin/sh", "-c", script), .timeout_ms = 30000 },
                                 &r, &err) < 0 ||
                    !streq(r.out, expect) || r.exit_code != 0) {
                        ocid_error_clear(&err);
                        ocid_cmd_result_done(&r);
                        return (void *) 1;
                }
                ocid_cmd_result_done(&r);
        }
        return NULL;
}

static void test_threads(void **state)
{
        pthread_t t[THREADS];

        for (long i = 0; i < THREADS; i++)
                assert_int_equal(pthread_create(&t[i], NULL, run_many, (void *) (intptr_t) i), 0);
        for (int i = 0; i < THREADS; i++) {
                void *res;
                pthread_join(t[i], &res);
                assert_null(res);
        }
}

static void test_result_done_null(void **state)
{
        struct ocid_cmd_result r = { 0 };

        ocid_cmd_result_done(&r);
        ocid_cmd_result_done(NULL);
}

OCID_TEST_MAIN(cmocka_unit_test(test_exit_codes), cmocka_unit_test(test_signal), cmocka_unit_test(test_stdout_stderr),
               cmocka_unit_test(test_input), cmocka_unit_test(test_input_not_read),
               cmocka_unit_test(test_timeout_kills_group), cmocka_unit_test(test_no_timeout_when_fast),
               cmocka_unit_test(test_output_cap), cmocka_unit_test(test_exec_failures),
               cmocka_unit_test(test_cwd_and_env), cmocka_unit_test(test_child_environment),
               cmocka_unit_test(test_threads), cmocka_unit_test(test_result_done_null))
