/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "internal.h"

/* ---- paths ---------------------------------------------------------------- */

/* Length of s without trailing slashes; "/" and "//" keep one. */
static size_t trimmed_len(const char *s)
{
        size_t n = strlen(s);

        while (n > 1 && s[n - 1] == '/')
                n--;
        return n;
}

OCID_EXPORT char *ocid_path_join_beneath(const char *root, const char *rel)
{
        size_t root_len = trimmed_len(root);
        size_t cap = root_len + (rel ? strlen(rel) : 0) + 2;
        char *out = xmalloc(cap);
        size_t len, base;
        const char *p = rel ? rel : "";

        memcpy(out, root, root_len);
        if (root_len == 1 && root[0] == '/')
                root_len = 0; /* components are appended as "/name" */
        len = base = root_len;

        while (*p) {
                const char *end;
                size_t n;

                while (*p == '/')
                        p++;
                end = strchrnul(p, '/');
                n = (size_t) (end - p);
                if (n == 0 || (n == 1 && p[0] == '.')) {
                        /* empty or ".": nothing */
                } else if (n == 2 && p[0] == '.' && p[1] == '.') {
                        /* drop the last component, never past root */
                        while (len > base && out[len - 1] != '/')
                                len--;
                        if (len > base)
                                len--;
                } else {
                        out[len++] = '/';
                        memcpy(out + len, p, n);
                        len += n;
                }
                p = end;
        }

        if (len == 0) {
                /* root was "/" (or "") and nothing was appended */
                if (root[0] == '/')
                        out[len++] = '/';
                else
                        out[len++] = '.';
        } else if (base == 0 && root[0] != '/') {
                /* root "": the result is relative, without a leading "/" */
                memmove(out, out + 1, --len);
        }
        out[len] = '\0';
        return out;
}

OCID_EXPORT char *ocid_path_join(const char *a, const char *b)
{
        size_t la = trimmed_len(a);

        while (*b == '/')
                b++;
        if (la == 0)
                return xstrdup(b);
        if (*b == '\0')
                return xstrndup(a, la);
        if (la == 1 && a[0] == '/')
                return xasprintf("/%s", b);
        return xasprintf("%.*s/%s", (int) la, a, b);
}

OCID_EXPORT int ocid_path_component_check(const char *name, struct ocid_error **err)
{
        if (!name || !*name)
                return ocid_error_msg(err, EINVAL, "empty path component");
        if (streq(name, ".") || streq(name, ".."))
                return ocid_error_msg(err, EINVAL, "invalid path component '%s'", name);
        if (strchr(name, '/'))
                return ocid_error_msg(err, EINVAL, "path component '%s' contains '/'", name);
        if (strlen(name) > NAME_MAX)
                return ocid_error_msg(err, ENAMETOOLONG, "path component '%.32s...' is longer than %d bytes",
                                      name, NAME_MAX);
        return 0;
}

/* ---- mkdir -p --------------------------------------------------------------- */

OCID_EXPORT int ocid_create_file_beneath(const char *root, const char *rel, mode_t dir_mode, mode_t mode,
                                         int *ret_fd, struct ocid_error **err)
{
        _cleanup_close_ int dfd = -1;
        const char *p = rel;

        if (!rel || !*rel || rel[0] == '/')
                return ocid_error_msg(err, EINVAL, "'%s' must be a relative path", rel ? rel : "");
        dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return ocid_error_set(err, errno, "open directory '%s'", root);

        for (;;) {
                _cleanup_free_ char *name = NULL;
                const char *end;
                int fd;

                while (*p == '/')
                        p++;
                end = strchrnul(p, '/');
                name = xstrndup(p, (size_t) (end - p));
                if (streq(name, ".") || streq(name, ".."))
                        return ocid_error_msg(err, EINVAL, "'%s' holds a '.' or '..' component", rel);
                while (*end == '/')
                        end++;
                if (!*end) {
                        /* the file itself: never through a symlink */
                        fd = openat(dfd, name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                                    mode);
                        if (fd < 0)
                                return ocid_error_set(err, errno, "create '%s' in '%s'", rel, root);
                        {
                                struct stat st;

                                if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                                        (void) close(fd);
                                        return ocid_error_msg(err, EINVAL, "'%s' in '%s' is not a regular file",
                                                              rel, root);
                                }
                        }
                        *ret_fd = fd;
                        return 0;
                }
                if (mkdirat(dfd, name, dir_mode) == 0) {
                        if (fchmodat(dfd, name, dir_mode, 0) < 0)
                                return ocid_error_set(err, errno, "create '%s' in '%s': chmod '%s'", rel, root,
                                                      name);
                } else if (errno != EEXIST) {
                        return ocid_error_set(err, errno, "create '%s' in '%s': mkdir '%s'", rel, root, name);
                }
                fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        int e = errno == ENOTDIR ? ELOOP : errno;
                        return ocid_error_set(err, e, "create '%s' in '%s': '%s' is not a plain directory", rel,
                                              root, name);
                }
                (void) close(dfd);
                dfd = fd;
                p = end;
        }
}

OCID_EXPORT int ocid_mkdir_p(const char *path, mode_t mode, struct ocid_error **err)
{
        _cleanup_close_ int dfd = -1;
        const char *p = path;

        if (!path || !*path)
                return ocid_error_msg(err, EINVAL, "mkdir: empty path");

        dfd = open(path[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return ocid_error_set(err, errno, "open '%s'", path[0] == '/' ? "/" : ".");

        while (*p) {
                _cleanup_free_ char *name = NULL;
                const char *end;
                int fd;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                end = strchrnul(p, '/');
                name = xstrndup(p, (size_t) (end - p));
                p = end;

                if (mkdirat(dfd, name, mode) == 0) {
                        /* the umask must not change the mode asked for */
                        if (fchmodat(dfd, name, mode, 0) < 0)
                                return ocid_error_set(err, errno, "create directory '%s': chmod '%.*s'", path,
                                                      (int) (end - path), path);
                } else if (errno != EEXIST) {
                        return ocid_error_set(err, errno, "create directory '%s': mkdir '%.*s'", path,
                                              (int) (end - path), path);
                }
                fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return ocid_error_set(err, errno, "create directory '%s': open '%.*s'", path,
                                              (int) (end - path), path);
                (void) close(dfd);
                dfd = fd;
        }
        return 0;
}

/* ---- atomic write -------------------------------------------------------- */

/* Splits path into an open directory fd and the last component. */
static int open_parent(const char *path, int flags, int *ret_dfd, char **ret_base, struct ocid_error **err)
{
        _cleanup_free_ char *dir = NULL;
        size_t len = trimmed_len(path);
        const char *slash;
        int fd;

        if (len == 0 || (len == 1 && path[0] == '/'))
                return ocid_error_msg(err, EINVAL, "invalid path '%s'", path);
        slash = memrchr(path, '/', len);
        if (!slash)
                dir = xstrdup(".");
        else if (slash == path)
                dir = xstrdup("/");
        else
                dir = xstrndup(path, (size_t) (slash - path));

        fd = open(dir, flags | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return ocid_error_set(err, errno, "open directory '%s'", dir);
        *ret_dfd = fd;
        *ret_base = slash ? xstrndup(slash + 1, (size_t) (path + len - slash - 1)) : xstrndup(path, len);
        return 0;
}

OCID_EXPORT int ocid_write_all(int fd, const void *data, size_t len)
{
        const char *p = data;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

OCID_EXPORT int ocid_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                       struct ocid_error **err)
{
        _cleanup_close_ int dfd = -1, fd = -1;
        _cleanup_free_ char *base = NULL, *tmp = NULL;
        char id[65];
        int r;

        r = open_parent(path, O_RDONLY, &dfd, &base, err);
        if (r < 0)
                return r;
        r = ocid_path_component_check(base, err);
        if (r < 0)
                return ocid_error_prefix(err, "write '%s'", path);
        r = ocid_random_id(id, err);
        if (r < 0)
                return r;
        /* ".<base>.<16 hex>.tmp", with base cut so that the name fits */
        tmp = xasprintf(".%.200s.%.16s.tmp", base, id);

        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return ocid_error_set(err, errno, "create temporary file for '%s'", path);

        r = ocid_write_all(fd, data, len);
        if (r < 0) {
                r = ocid_error_set(err, -r, "write '%s'", path);
                goto fail;
        }
        if (fsync(fd) < 0) {
                r = ocid_error_set(err, errno, "fsync '%s'", path);
                goto fail;
        }
        if (fchmod(fd, mode) < 0) {
                r = ocid_error_set(err, errno, "chmod '%s'", path);
                goto fail;
        }
        if (close(TAKE_FD(fd)) < 0) {
                r = ocid_error_set(err, errno, "close '%s'", path);
                goto fail;
        }
        if (renameat(dfd, tmp, dfd, base) < 0) {
                r = ocid_error_set(err, errno, "rename temporary file to '%s'", path);
                goto fail;
        }
        if (fsync(dfd) < 0)
                return ocid_error_set(err, errno, "fsync directory of '%s'", path);
        return 0;

fail:
        (void) unlinkat(dfd, tmp, 0);
        return r;
}

/* ---- read ---------------------------------------------------------------- */

OCID_EXPORT int ocid_read_file(const char *path, size_t max, char **ret, size_t *ret_len,
                               struct ocid_error **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap;
        struct stat st;

        /* O_NONBLOCK: opening a FIFO must not hang; it is refused below. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return ocid_error_set(err, errno, "open '%s'", path);
        if (fstat(fd, &st) < 0)
                return ocid_error_set(err, errno, "stat '%s'", path);
        if (S_ISDIR(st.st_mode))
                return ocid_error_set(err, EISDIR, "read '%s'", path);
        if (!S_ISREG(st.st_mode))
                return ocid_error_msg(err, EINVAL, "read '%s': not a regular file", path);
        if ((uint64_t) st.st_size > max)
                return ocid_error_msg(err, EFBIG, "read '%s': file is larger than %zu bytes", path, max);

        /* The size is a hint (files in /proc say 0): read to EOF, never
         * more than max bytes. */
        cap = (size_t) st.st_size + 1;
        if (cap < 4096)
                cap = 4096;
        if (max < SIZE_MAX - 1 && cap > max + 2)
                cap = max + 2;
        buf = xmalloc(cap);
        for (;;) {
                ssize_t n;

                if (len + 1 >= cap) {
                        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
                        if (max < SIZE_MAX - 1 && cap > max + 2)
                                cap = max + 2;
                        buf = xrealloc(buf, cap);
                }
                n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return ocid_error_set(err, errno, "read '%s'", path);
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > max)
                        return ocid_error_msg(err, EFBIG, "read '%s': file is larger than %zu bytes", path,
                                              max);
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

/* ---- rm -rf --------------------------------------------------------------- */

/* True when `name` below dfd is the root of a mount: another device than the
 * tree being removed, or a bind mount of the same one. */
static bool is_mount_point(int dfd, const char *name, const struct stat *st, dev_t dev)
{
        struct statx stx;

        if (st->st_dev != dev)
                return true;
        if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, 0, &stx) == 0 &&
            (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
                return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
        return false;
}

/* Empties the directory open as `fd` (consumed), whose path is `path`. The
 * first error is kept; the removal goes on with the other entries. */
static int rm_children(int fd, const char *path, dev_t dev, struct ocid_error **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int ret = 0;

        d = fdopendir(fd);
        if (!d) {
                int r = ocid_error_set(err, errno, "open directory '%s'", path);
                (void) close(fd);
                return r;
        }
        for (;;) {
                _cleanup_free_ char *child = NULL;
                struct stat st;
                int r = 0;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0 && ret == 0)
                                ret = ocid_error_set(err, errno, "read directory '%s'", path);
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                child = ocid_path_join(path, de->d_name);

                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        r = ocid_error_set(ret ? NULL : err, errno, "stat '%s'", child);
                } else if (S_ISDIR(st.st_mode)) {
                        int cfd;

                        if (is_mount_point(dirfd(d), de->d_name, &st, dev)) {
                                r = ocid_error_msg(ret ? NULL : err, EXDEV,
                                                   "remove '%s': is a mount point, not crossing it", child);
                        } else {
                                cfd = openat(dirfd(d), de->d_name,
                                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                                if (cfd < 0)
                                        r = ocid_error_set(ret ? NULL : err, errno, "open directory '%s'",
                                                           child);
                                else
                                        r = rm_children(cfd, child, dev, ret ? NULL : err);
                                if (r >= 0 && unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 &&
                                    errno != ENOENT)
                                        r = ocid_error_set(ret ? NULL : err, errno, "remove directory '%s'",
                                                           child);
                        }
                } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
                        r = ocid_error_set(ret ? NULL : err, errno, "remove '%s'", child);
                }
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

OCID_EXPORT int ocid_rm_rf(const char *path, struct ocid_error **err)
{
        _cleanup_close_ int dfd = -1;
        _cleanup_free_ char *base = NULL;
        struct stat st, parent;
        int fd, r;

        if (!path || trimmed_len(path) == 0 || (trimmed_len(path) == 1 && path[0] == '/'))
                return ocid_error_msg(err, EINVAL, "refusing to remove '%s'", path ? path : "");
        r = open_parent(path, O_RDONLY, &dfd, &base, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return ocid_error_set(err, -r, "remove '%s'", path);
        if (streq(base, ".") || streq(base, ".."))
                return ocid_error_msg(err, EINVAL, "refusing to remove '%s'", path);

        if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return ocid_error_set(err, errno, "stat '%s'", path);
        }
        if (!S_ISDIR(st.st_mode)) {
                if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT)
                        return ocid_error_set(err, errno, "remove '%s'", path);
                return 0;
        }
        /* Emptying a mounted file system (a container's rootfs that failed
         * to unmount, say) would destroy what lies below it: refuse. */
        if (fstat(dfd, &parent) < 0)
                return ocid_error_set(err, errno, "stat parent of '%s'", path);
        if (is_mount_point(dfd, base, &st, parent.st_dev))
                return ocid_error_msg(err, EBUSY, "remove '%s': is a mount point", path);

        fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return ocid_error_set(err, errno, "open directory '%s'", path);
        }
        r = rm_children(fd, path, st.st_dev, err);
        if (r < 0)
                return r;
        if (unlinkat(dfd, base, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return ocid_error_set(err, errno, "remove directory '%s'", path);
        return 0;
}
