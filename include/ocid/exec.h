/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Running a command with a timeout and captured, capped output. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ocid_error;

struct ocid_cmd {
        const char *const *argv;   /* argv[0] is an absolute path or found on PATH */
        const char *const *envp;   /* NULL: inherit the environment */
        const char *cwd;           /* NULL: inherit */
        const void *input;         /* written to stdin, then closed; NULL: /dev/null */
        size_t input_len;
        int64_t timeout_ms;        /* <= 0: no timeout */
        size_t max_output;         /* cap per stream; 0: 1 MiB */
};

struct ocid_cmd_result {
        int exit_code;     /* -1 when killed by a signal */
        int term_signal;   /* 0 when it exited */
        int timed_out;     /* 1 when the timeout killed it (the whole process group) */
        char *out;         /* captured stdout, NUL-terminated */
        size_t out_len;
        int out_truncated;
        char *err;         /* captured stderr, NUL-terminated */
        size_t err_len;
        int err_truncated;
};

/* Runs cmd to completion in its own process group and reaps it. Returns 0
 * when the command ran (whatever its exit code), or a negative errno when it
 * could not be started (including a failing exec or chdir in the child).
 * Every fd but 0-2 is closed in the child, its signal mask is empty and its
 * signal dispositions are the defaults. Output is read until the child
 * exits; what a grandchild writes after that is not waited for. Safe to
 * call from several threads at once. */
int ocid_cmd_run(const struct ocid_cmd *cmd, struct ocid_cmd_result *ret, struct ocid_error **err);

void ocid_cmd_result_done(struct ocid_cmd_result *r);
