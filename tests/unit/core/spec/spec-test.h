/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Helpers of the spec builder tests: scratch directories with crafted
 * files (a rootfs with its own /etc/passwd, a fake mountinfo, ...). */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

/* A new empty directory below $TMPDIR (or /tmp). */
static inline char *scratch_dir(void)
{
        const char *base = getenv("TMPDIR");
        char *t = xasprintf("%s/ocid-spec-test-XXXXXX", base && *base ? base : "/tmp");

        if (!mkdtemp(t)) {
                fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
                abort();
        }
        return t;
}

static inline void scratch_remove(char *dir)
{
        if (dir)
                (void) ocid_rm_rf(dir, NULL);
        free(dir);
}

/* Writes dir/rel (parents created) with the given bytes. */
static inline void put_file_len(const char *dir, const char *rel, const char *data, size_t len)
{
        char *path = xasprintf("%s/%s", dir, rel);
        char *slash = strrchr(path, '/');
        FILE *f;

        *slash = '\0';
        if (ocid_mkdir_p(path, 0755, NULL) < 0)
                abort();
        *slash = '/';
        f = fopen(path, "we");
        if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
                abort();
        free(path);
}

static inline void put_file(const char *dir, const char *rel, const char *text)
{
        put_file_len(dir, rel, text, strlen(text));
}

/* Makes dir/rel a symlink to target (parents created). */
static inline void put_symlink(const char *dir, const char *rel, const char *target)
{
        char *path = xasprintf("%s/%s", dir, rel);
        char *slash = strrchr(path, '/');

        *slash = '\0';
        if (ocid_mkdir_p(path, 0755, NULL) < 0)
                abort();
        *slash = '/';
        if (symlink(target, path) < 0)
                abort();
        free(path);
}

static inline void put_dir(const char *dir, const char *rel)
{
        char *path = xasprintf("%s/%s", dir, rel);

        if (ocid_mkdir_p(path, 0755, NULL) < 0)
                abort();
        free(path);
}

static inline int open_dir(const char *dir)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                abort();
        return fd;
}

/* The message of *err contains needle. */
#define assert_error_contains(err, needle)                                    \
        do {                                                                  \
                const char *_m = ocid_error_message(&(err));                  \
                if (!strstr(_m, (needle)))                                    \
                        fail_msg("error '%s' lacks '%s'", _m, (needle));      \
        } while (0)
