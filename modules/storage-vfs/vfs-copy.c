/* SPDX-License-Identifier: Apache-2.0 */
/* storage-vfs: a full copy of a directory tree; see vfs-copy.h. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "../storage-common/sc-tree.h"
#include "vfs-copy.h"

struct vfs_copy {
        const char *what;
        dev_t src_dev;
        int dst_root;                   /* the destination's top directory */
        bool root;                      /* running as root: owners and device nodes */
        struct sc_inode_map links;      /* source inodes with several links -> copy's path */
        char *path;                     /* current path below the top, for links and messages */
        size_t len, cap;
};

static size_t vfs_path_push(struct vfs_copy *c, const char *name)
{
        size_t old = c->len, n = strlen(name);

        if (c->len + n + 2 > c->cap) {
                c->cap = (c->len + n + 2) * 2;
                c->path = xrealloc(c->path, c->cap);
        }
        if (c->len > 0)
                c->path[c->len++] = '/';
        memcpy(c->path + c->len, name, n);
        c->len += n;
        c->path[c->len] = '\0';
        return old;
}

static void vfs_path_pop(struct vfs_copy *c, size_t old)
{
        c->len = old;
        if (c->path)
                c->path[old] = '\0';
}

static const char *vfs_path(const struct vfs_copy *c)
{
        return c->len ? c->path : ".";
}

static int vfs_fail(struct vfs_copy *c, struct ocid_error **err, int code, const char *step)
{
        return ocid_error_set(err, code, "copy %s: %s '%s'", c->what, step, vfs_path(c));
}

/* ---- extended attributes ---------------------------------------------------- */

/* An inode to read or write extended attributes of: an open fd, or a path
 * whose last component is not followed. */
struct vfs_xh {
        int fd;
        const char *path;
};

static ssize_t vfs_xlist(const struct vfs_xh *h, char *buf, size_t n)
{
        return h->fd >= 0 ? flistxattr(h->fd, buf, n) : llistxattr(h->path, buf, n);
}

static ssize_t vfs_xget(const struct vfs_xh *h, const char *name, void *buf, size_t n)
{
        return h->fd >= 0 ? fgetxattr(h->fd, name, buf, n) : lgetxattr(h->path, name, buf, n);
}

static int vfs_xset(const struct vfs_xh *h, const char *name, const void *buf, size_t n)
{
        return h->fd >= 0 ? fsetxattr(h->fd, name, buf, n, 0) : lsetxattr(h->path, name, buf, n, 0);
}

static int vfs_copy_xattrs(struct vfs_copy *c, const struct vfs_xh *src, const struct vfs_xh *dst,
                           struct ocid_error **err)
{
        _cleanup_free_ char *names = NULL;
        ssize_t n;

        for (;;) {
                n = vfs_xlist(src, NULL, 0);
                if (n < 0) {
                        if (errno == ENOTSUP)
                                return 0;
                        return vfs_fail(c, err, errno, "list extended attributes of");
                }
                if (n == 0)
                        return 0;
                free(names);
                names = xmalloc((size_t) n);
                n = vfs_xlist(src, names, (size_t) n);
                if (n >= 0)
                        break;
                if (errno != ERANGE)
                        return vfs_fail(c, err, errno, "list extended attributes of");
        }
        for (char *name = names; name < names + n; name += strlen(name) + 1) {
                _cleanup_free_ void *value = NULL;
                ssize_t len;

                for (;;) {
                        len = vfs_xget(src, name, NULL, 0);
                        if (len < 0)
                                break;
                        free(value);
                        value = xmalloc((size_t) len + 1);
                        len = vfs_xget(src, name, value, (size_t) len);
                        if (len >= 0 || errno != ERANGE)
                                break;
                }
                if (len < 0) {
                        if (errno == ENODATA)
                                continue;
                        return vfs_fail(c, err, errno, "read extended attributes of");
                }
                if (vfs_xset(dst, name, value, (size_t) len) < 0) {
                        /* Not supported here, or not the caller's to set
                         * (security.* and trusted.* without privilege). */
                        if (errno == ENOTSUP || (errno == EPERM && !c->root))
                                continue;
                        return vfs_fail(c, err, errno, "set extended attributes of");
                }
        }
        return 0;
}

/* ---- metadata --------------------------------------------------------------- */

/* Owner, mode, extended attributes and times of an open file or directory. */
static int vfs_meta_fd(struct vfs_copy *c, int src_fd, int dst_fd, const struct stat *st,
                       struct ocid_error **err)
{
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        struct vfs_xh xs = { src_fd, NULL }, xd = { dst_fd, NULL };
        int r;

        if (c->root && fchown(dst_fd, st->st_uid, st->st_gid) < 0)
                return vfs_fail(c, err, errno, "set the owner of");
        if (fchmod(dst_fd, st->st_mode & 07777) < 0)
                return vfs_fail(c, err, errno, "set the mode of");
        r = vfs_copy_xattrs(c, &xs, &xd, err);
        if (r < 0)
                return r;
        if (futimens(dst_fd, ts) < 0)
                return vfs_fail(c, err, errno, "set the times of");
        return 0;
}

/* The same for a symlink or node `name` of the directories sfd and dfd. */
static int vfs_meta_at(struct vfs_copy *c, int sfd, int dfd, const char *name, const struct stat *st,
                       struct ocid_error **err)
{
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        char spath[64 + NAME_MAX], dpath[64 + NAME_MAX];
        struct vfs_xh xs = { -1, spath }, xd = { -1, dpath };
        int r;

        if (c->root && fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                return vfs_fail(c, err, errno, "set the owner of");
        /* The name was just made by mknodat: not a symlink, nothing to follow. */
        if (!S_ISLNK(st->st_mode) && fchmodat(dfd, name, st->st_mode & 07777, 0) < 0)
                return vfs_fail(c, err, errno, "set the mode of");
        /* The directory by its fd, then one component not followed. */
        (void) snprintf(spath, sizeof(spath), "/proc/self/fd/%d/%s", sfd, name);
        (void) snprintf(dpath, sizeof(dpath), "/proc/self/fd/%d/%s", dfd, name);
        r = vfs_copy_xattrs(c, &xs, &xd, err);
        if (r < 0)
                return r;
        if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return vfs_fail(c, err, errno, "set the times of");
        return 0;
}

/* ---- entries ------------------------------------------------------------------ */

static int vfs_copy_data(struct vfs_copy *c, int in, int out, struct ocid_error **err)
{
        bool plain = false;
        char buf[65536];

        for (;;) {
                ssize_t n;

                if (!plain) {
                        n = copy_file_range(in, NULL, out, NULL, 1u << 30, 0);
                        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                                      errno == EOPNOTSUPP || errno == EBADF)) {
                                /* Not between these files: plain reads and
                                 * writes, from where it stopped. */
                                plain = true;
                                continue;
                        }
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return vfs_fail(c, err, errno, "copy the content of");
                        if (n == 0)
                                return 0;
                        continue;
                }
                n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vfs_fail(c, err, errno, "read");
                if (n == 0)
                        return 0;
                for (ssize_t done = 0; done < n;) {
                        ssize_t w = write(out, buf + done, (size_t) (n - done));

                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return vfs_fail(c, err, errno, "write");
                        done += w;
                }
        }
}

static int vfs_copy_file(struct vfs_copy *c, int sfd, int dfd, const char *name, const struct stat *st,
                         struct ocid_error **err)
{
        _cleanup_close_ int in = -1, out = -1;
        struct stat now;
        int r;

        in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (in < 0)
                return vfs_fail(c, err, errno, "open");
        /* The name may have changed under us: copy only what was stat'ed. */
        if (fstat(in, &now) < 0 || now.st_ino != st->st_ino || now.st_dev != st->st_dev ||
            !S_ISREG(now.st_mode))
                return vfs_fail(c, err, ESTALE, "open");
        out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return vfs_fail(c, err, errno, "create");
        r = vfs_copy_data(c, in, out, err);
        if (r < 0)
                return r;
        return vfs_meta_fd(c, in, out, st, err);
}

static int vfs_copy_symlink(struct vfs_copy *c, int sfd, int dfd, const char *name, const struct stat *st,
                            struct ocid_error **err)
{
        size_t size = st->st_size > 0 && st->st_size < PATH_MAX ? (size_t) st->st_size + 1 : PATH_MAX;
        _cleanup_free_ char *target = xmalloc(size);
        ssize_t n = readlinkat(sfd, name, target, size);

        if (n < 0)
                return vfs_fail(c, err, errno, "read the link");
        if ((size_t) n >= size)
                return vfs_fail(c, err, ENAMETOOLONG, "read the link");
        target[n] = '\0';
        if (symlinkat(target, dfd, name) < 0)
                return vfs_fail(c, err, errno, "create the link");
        return vfs_meta_at(c, sfd, dfd, name, st, err);
}

static int vfs_copy_node(struct vfs_copy *c, int sfd, int dfd, const char *name, const struct stat *st,
                         struct ocid_error **err)
{
        if (mknodat(dfd, name, (st->st_mode & S_IFMT) | 0600, S_ISFIFO(st->st_mode) ? 0 : st->st_rdev) < 0)
                return vfs_fail(c, err, errno, "create the node");
        return vfs_meta_at(c, sfd, dfd, name, st, err);
}

static int vfs_copy_dir(struct vfs_copy *c, int *sfd, int *dfd, unsigned depth, struct ocid_error **err);

static int vfs_copy_subdir(struct vfs_copy *c, int *sfd, int *dfd, const char *name, const struct stat *st,
                           unsigned depth, struct ocid_error **err)
{
        _cleanup_close_ int csfd = -1, cdfd = -1;
        struct stat sp, dp;
        int r;

        if (st->st_dev != c->src_dev)
                return vfs_fail(c, err, EXDEV, "not crossing the mount point");
        if (mkdirat(*dfd, name, 0700) < 0)
                return vfs_fail(c, err, errno, "create the directory");
        csfd = openat(*sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (csfd < 0)
                return vfs_fail(c, err, errno, "open");
        cdfd = openat(*dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cdfd < 0)
                return vfs_fail(c, err, errno, "open the copy of");

        if (depth >= SC_FD_DEPTH) {
                if (fstat(*sfd, &sp) < 0 || fstat(*dfd, &dp) < 0)
                        return vfs_fail(c, err, errno, "stat the parent of");
                (void) close(*sfd);
                (void) close(*dfd);
                *sfd = *dfd = -1;
        }
        r = vfs_copy_dir(c, &csfd, &cdfd, depth + 1, err);
        if (r >= 0 && *sfd < 0) {
                *sfd = sc_reopen_parent(csfd, sp.st_dev, sp.st_ino);
                if (*sfd < 0)
                        return vfs_fail(c, err, -*sfd, "reopen the parent of");
                *dfd = sc_reopen_parent(cdfd, dp.st_dev, dp.st_ino);
                if (*dfd < 0)
                        return vfs_fail(c, err, -*dfd, "reopen the parent of");
        }
        if (r < 0)
                return r;
        /* After its entries, which change its times and may need it writable. */
        return vfs_meta_fd(c, csfd, cdfd, st, err);
}

static int vfs_copy_entry(struct vfs_copy *c, int *sfd, int *dfd, const char *name, unsigned depth,
                          struct ocid_error **err)
{
        const struct sc_inode_entry *link;
        struct stat st;
        int r;

        if (fstatat(*sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return vfs_fail(c, err, errno, "stat");
        if (S_ISDIR(st.st_mode))
                return vfs_copy_subdir(c, sfd, dfd, name, &st, depth, err);
        if (S_ISSOCK(st.st_mode) || ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && !c->root))
                return 0;

        if (st.st_nlink > 1) {
                link = sc_inode_map_get(&c->links, st.st_dev, st.st_ino);
                if (link) {
                        if (linkat(c->dst_root, link->path, *dfd, name, 0) < 0)
                                return vfs_fail(c, err, errno, "link");
                        return 0;
                }
        }
        if (S_ISREG(st.st_mode))
                r = vfs_copy_file(c, *sfd, *dfd, name, &st, err);
        else if (S_ISLNK(st.st_mode))
                r = vfs_copy_symlink(c, *sfd, *dfd, name, &st, err);
        else
                r = vfs_copy_node(c, *sfd, *dfd, name, &st, err);
        if (r >= 0 && st.st_nlink > 1)
                sc_inode_map_put(&c->links, st.st_dev, st.st_ino, c->path);
        return r;
}

/* Copies the entries of *sfd into *dfd (both owned by the caller; see
 * SC_FD_DEPTH for why they may be reopened). */
static int vfs_copy_dir(struct vfs_copy *c, int *sfd, int *dfd, unsigned depth, struct ocid_error **err)
{
        _cleanup_strv_ char **names = NULL;
        int r;

        r = sc_read_names(*sfd, &names);
        if (r < 0)
                return vfs_fail(c, err, -r, "read the directory");
        for (char **n = names; *n; n++) {
                size_t old = vfs_path_push(c, *n);

                r = vfs_copy_entry(c, sfd, dfd, *n, depth, err);
                vfs_path_pop(c, old);
                if (r < 0)
                        return r;
        }
        return 0;
}

int vfs_copy_tree(int src_fd, int dst_fd, const char *what, struct ocid_error **err)
{
        struct vfs_copy c = { .what = what, .dst_root = dst_fd, .root = geteuid() == 0 };
        int sfd = -1, dfd = -1, r;
        struct stat st;

        if (fstat(src_fd, &st) < 0)
                return ocid_error_set(err, errno, "copy %s: stat", what);
        c.src_dev = st.st_dev;
        /* Own fds, which the walk may close and reopen. */
        sfd = fcntl(src_fd, F_DUPFD_CLOEXEC, 3);
        dfd = fcntl(dst_fd, F_DUPFD_CLOEXEC, 3);
        if (sfd < 0 || dfd < 0)
                r = ocid_error_set(err, errno, "copy %s: dup", what);
        else
                r = vfs_copy_dir(&c, &sfd, &dfd, 0, err);
        if (sfd >= 0)
                (void) close(sfd);
        if (dfd >= 0)
                (void) close(dfd);
        if (r >= 0)
                r = vfs_meta_fd(&c, src_fd, dst_fd, &st, err);
        sc_inode_map_done(&c.links);
        free(c.path);
        return r;
}
