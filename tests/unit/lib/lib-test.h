/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Helpers shared by the libocid unit tests. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test-common.h"

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

/* A fresh directory below $TMPDIR; removed by rm_tmpdir(). */
static inline char *make_tmpdir(void)
{
        const char *base = getenv("TMPDIR");
        char *t = xasprintf("%s/ocid-lib-test.XXXXXX", base && *base ? base : "/tmp");

        assert_non_null(mkdtemp(t));
        return t;
}

static inline void rm_tmpdir(char *t)
{
        struct ocid_error *err = NULL;

        if (!t)
                return;
        assert_int_equal(ocid_rm_rf(t, &err), 0);
        free(t);
}

static inline void write_text(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

/* Runs fn in a child with stderr silenced; returns the raw wait status. */
static inline int run_in_child(void (*fn)(void))
{
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                FILE *null = freopen("/dev/null", "w", stderr);
                (void) null;
                fn();
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return status;
}

#define assert_aborts(fn)                                                     \
        do {                                                                  \
                int _st = run_in_child(fn);                                   \
                assert_true(WIFSIGNALED(_st));                                \
                assert_int_equal(WTERMSIG(_st), SIGABRT);                     \
        } while (0)

#define assert_err(err, code, text)                                           \
        do {                                                                  \
                assert_int_equal(ocid_error_code(&(err)), (code));            \
                assert_string_equal(ocid_error_message(&(err)), (text));      \
                ocid_error_clear(&(err));                                     \
        } while (0)
