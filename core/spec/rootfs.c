/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h> /* struct open_how, RESOLVE_* */
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>   /* SYS_openat2 */
#include <unistd.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/util.h>

#include "spec/rootfs.h"

#define ROOTFS_MAX_SYMLINKS 40

static int open_in_root(int rootfs_fd, const char *path, uint64_t flags)
{
        /* openat2() refuses O_PATH with anything but O_CLOEXEC, O_DIRECTORY
         * and O_NOFOLLOW. */
        struct open_how how = {
                .flags = flags | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        long fd;

        while (*path == '/')
                path++;
        if (!*path)
                path = ".";
        do
                fd = syscall(SYS_openat2, rootfs_fd, path, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN);
        return fd < 0 ? -errno : (int) fd;
}

int rootfs_read_file(int rootfs_fd, const char *path, size_t max, char **ret, size_t *ret_len,
                     struct ocid_error **err)
{
        _cleanup_close_ int pfd = -1, fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st1, st2;
        size_t len = 0;

        /* First an O_PATH handle: a FIFO or a device is refused before it is
         * ever opened (opening either can block or have side effects). */
        pfd = open_in_root(rootfs_fd, path, O_PATH);
        if (pfd < 0)
                return ocid_error_set(err, -pfd, "open '%s' in the container's rootfs", path);
        if (fstat(pfd, &st1) < 0)
                return ocid_error_set(err, errno, "stat '%s' in the container's rootfs", path);
        if (!S_ISREG(st1.st_mode))
                return ocid_error_msg(err, EINVAL, "'%s' in the container's rootfs is not a regular file", path);
        if ((uint64_t) st1.st_size > max)
                return ocid_error_msg(err, EFBIG, "'%s' in the container's rootfs is larger than %zu bytes", path, max);

        fd = open_in_root(rootfs_fd, path, O_RDONLY | O_NONBLOCK);
        if (fd < 0)
                return ocid_error_set(err, -fd, "open '%s' in the container's rootfs", path);
        if (fstat(fd, &st2) < 0)
                return ocid_error_set(err, errno, "stat '%s' in the container's rootfs", path);
        if (st1.st_dev != st2.st_dev || st1.st_ino != st2.st_ino || !S_ISREG(st2.st_mode))
                return ocid_error_msg(err, EAGAIN, "'%s' in the container's rootfs changed while it was opened", path);

        buf = xmalloc(max + 1);
        for (;;) {
                ssize_t n = read(fd, buf + len, max + 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return ocid_error_set(err, errno, "read '%s' in the container's rootfs", path);
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > max)
                        return ocid_error_msg(err, EFBIG, "'%s' in the container's rootfs is larger than %zu bytes",
                                              path, max);
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

/* Drops the last component of an absolute path kept as "" (root) or
 * "/a/b". */
static void pop_component(char *resolved)
{
        char *slash = strrchr(resolved, '/');

        if (slash)
                *slash = '\0';
}

int rootfs_resolve(int rootfs_fd, const char *path, char **ret, struct ocid_error **err)
{
        _cleanup_free_ char *resolved = NULL, *todo = NULL;
        unsigned links = 0;
        size_t pos = 0;

        if (!path || path[0] != '/')
                return ocid_error_msg(err, EINVAL, "path '%s' is not absolute", path ? path : "");
        if (strlen(path) >= PATH_MAX)
                return ocid_error_msg(err, ENAMETOOLONG, "path is longer than %d bytes", PATH_MAX - 1);

        resolved = xmalloc(PATH_MAX + 1);
        resolved[0] = '\0';
        todo = xstrdup(path);
        for (;;) {
                char link[PATH_MAX];
                const char *comp;
                size_t clen, rlen;
                ssize_t n;

                while (todo[pos] == '/')
                        pos++;
                if (!todo[pos])
                        break;
                comp = todo + pos;
                clen = strcspn(comp, "/");
                pos += clen;

                if (clen == 1 && comp[0] == '.')
                        continue;
                if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
                        pop_component(resolved);
                        continue;
                }
                rlen = strlen(resolved);
                if (rlen + 1 + clen >= PATH_MAX)
                        return ocid_error_msg(err, ENAMETOOLONG, "path '%s' resolves to more than %d bytes", path,
                                              PATH_MAX - 1);
                resolved[rlen] = '/';
                memcpy(resolved + rlen + 1, comp, clen);
                resolved[rlen + 1 + clen] = '\0';

                /* Every component before this one is a resolved directory
                 * (or missing), so this looks at the one entry only. */
                n = readlinkat(rootfs_fd, resolved + 1, link, sizeof(link));
                if (n < 0) {
                        if (errno == EINVAL || errno == ENOENT || errno == ENOTDIR)
                                continue; /* not a symlink, or not there yet */
                        return ocid_error_set(err, errno, "resolve '%s' in the container's rootfs", path);
                }
                if ((size_t) n >= sizeof(link))
                        return ocid_error_msg(err, ENAMETOOLONG, "resolve '%s': a symlink target is too long", path);
                if (++links > ROOTFS_MAX_SYMLINKS)
                        return ocid_error_set(err, ELOOP, "resolve '%s' in the container's rootfs", path);
                link[n] = '\0';

                /* The link replaces its own component: continue with the
                 * target followed by what was left. */
                resolved[rlen] = '\0';
                if (link[0] == '/')
                        resolved[0] = '\0';
                if (strlen(link) + strlen(todo + pos) + 1 >= PATH_MAX)
                        return ocid_error_msg(err, ENAMETOOLONG, "path '%s' resolves to more than %d bytes", path,
                                              PATH_MAX - 1);
                {
                        char *next = xasprintf("%s/%s", link, todo + pos);
                        free(todo);
                        todo = next;
                        pos = 0;
                }
        }
        *ret = resolved[0] ? xstrdup(resolved) : xstrdup("/");
        return 0;
}
