/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Helpers shared by the sandbox tests: a temporary runroot, a private mount
 * namespace for the tests that mount, small file and /proc readers. */

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../test-common.h"

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

/* Skips the calling test unless it runs as root. */
#define REQUIRE_ROOT()                                                        \
        do {                                                                  \
                if (geteuid() != 0) {                                         \
                        print_message("# skipped: needs root\n");             \
                        skip();                                               \
                }                                                             \
        } while (0)

/* As root, moves the whole test program into a mount namespace of its own
 * whose mounts never propagate back to the host: whatever a failing test
 * leaves mounted disappears with the process. Returns 0 (also when not
 * root: those tests skip). */
static inline int sandbox_test_private_mounts(void **state)
{
        (void) state;
        if (geteuid() != 0)
                return 0;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
                fprintf(stderr, "# cannot make a private mount namespace: %s\n", strerror(errno));
                return -1;
        }
        return 0;
}

static inline char *sandbox_test_tmpdir(const char *tag)
{
        const char *base = getenv("TMPDIR");
        char *t = xasprintf("%s/ocid-test-%s-XXXXXX", base && *base ? base : "/tmp", tag);

        assert_non_null(mkdtemp(t));
        return t;
}

/* Reads a whole small file; fails the test when it cannot. */
static inline char *sandbox_test_read(const char *path)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        char *s = NULL;

        if (ocid_read_file(path, 1 << 20, &s, NULL, &err) < 0)
                fail_msg("read '%s': %s", path, ocid_error_message(&err));
        return s;
}

/* The first line of a /proc file, without its newline; NULL if unreadable. */
static inline char *sandbox_test_read_line(const char *path)
{
        char *s = NULL;
        size_t n = 0;
        FILE *f = fopen(path, "re");
        ssize_t len;

        if (!f)
                return NULL;
        len = getline(&s, &n, f);
        fclose(f);
        if (len < 0) {
                free(s);
                return NULL;
        }
        if (len > 0 && s[len - 1] == '\n')
                s[len - 1] = '\0';
        return s;
}

/* The number of mounts on path in the mount namespace that `mountinfo`
 * (a /proc/<pid>/mountinfo file) describes, by its field 5; *ret_shared
 * tells whether one carries a "shared:" propagation tag. */
static inline int sandbox_test_mounts_in(const char *mountinfo, const char *path, bool *ret_shared)
{
        FILE *f = fopen(mountinfo, "re");
        char *line = NULL;
        size_t n = 0;
        int count = 0;

        assert_non_null(f);
        if (ret_shared)
                *ret_shared = false;
        while (getline(&line, &n, f) > 0) {
                char *save = NULL, *tok;
                int field = 0;
                bool hit = false;

                for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
                        field++;
                        if (field == 5 && streq(tok, path))
                                hit = true;
                        if (hit && field > 6 && streq(tok, "-"))
                                break;
                        if (hit && field > 6 && ret_shared && ocid_startswith(tok, "shared:"))
                                *ret_shared = true;
                }
                if (hit)
                        count++;
        }
        free(line);
        fclose(f);
        return count;
}

/* The same for this process's own mount namespace. */
static inline int sandbox_test_mounts_on(const char *path, bool *ret_shared)
{
        return sandbox_test_mounts_in("/proc/self/mountinfo", path, ret_shared);
}

static inline bool sandbox_test_exists(const char *path)
{
        struct stat st;

        return lstat(path, &st) == 0;
}
