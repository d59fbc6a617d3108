/* SPDX-License-Identifier: Apache-2.0 */
/* Disk usage of the storage modules' trees, and the mount point that holds
 * them. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/fs.h>
#include <ocid/util.h>

#include "sc-store.h"
#include "sc-tree.h"

struct sc_usage_walk {
        dev_t dev;
        struct sc_inode_map seen;       /* inodes with more than one link, counted */
        uint64_t bytes, inodes;
        const char *root;               /* for messages */
};

static void sc_usage_count(struct sc_usage_walk *w, const struct stat *st)
{
        if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
                if (sc_inode_map_get(&w->seen, st->st_dev, st->st_ino))
                        return;
                sc_inode_map_put(&w->seen, st->st_dev, st->st_ino, NULL);
        }
        w->bytes += (uint64_t) st->st_blocks * 512u;
        w->inodes++;
}

/* True when name below dfd is the root of another mount (a mounted rootfs,
 * or a bind mount of the same file system). */
static bool sc_is_mount(struct sc_usage_walk *w, int dfd, const char *name, const struct stat *st)
{
        struct statx stx;

        if (st->st_dev != w->dev)
                return true;
        return statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, 0, &stx) == 0 &&
               (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
               (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* Counts what is below the directory open as *fd (owned by the caller; at
 * depth SC_FD_DEPTH and beyond it is closed while a child is walked and
 * reopened after). Entries that vanish meanwhile, and directories the
 * caller may not read, are passed over. */
static int sc_usage_dir(struct sc_usage_walk *w, int *fd, unsigned depth, struct ocid_error **err)
{
        _cleanup_strv_ char **names = NULL;
        struct stat self;
        int r;

        if (fstat(*fd, &self) < 0)
                return ocid_error_set(err, errno, "stat below '%s'", w->root);
        r = sc_read_names(*fd, &names);
        if (r == -EACCES)
                return 0;
        if (r < 0)
                return ocid_error_set(err, -r, "read a directory below '%s'", w->root);
        for (char **n = names; *n; n++) {
                struct stat st;
                int cfd;

                if (fstatat(*fd, *n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return ocid_error_set(err, errno, "stat '%s' below '%s'", *n, w->root);
                }
                if (S_ISDIR(st.st_mode) && sc_is_mount(w, *fd, *n, &st))
                        continue;
                sc_usage_count(w, &st);
                if (!S_ISDIR(st.st_mode))
                        continue;
                cfd = openat(*fd, *n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cfd < 0) {
                        if (errno == ENOENT || errno == EACCES)
                                continue;
                        return ocid_error_set(err, errno, "open '%s' below '%s'", *n, w->root);
                }
                if (depth >= SC_FD_DEPTH) {
                        (void) close(*fd);
                        *fd = -1;
                }
                r = sc_usage_dir(w, &cfd, depth + 1, err);
                if (r >= 0 && *fd < 0) {
                        *fd = sc_reopen_parent(cfd, self.st_dev, self.st_ino);
                        if (*fd < 0)
                                r = ocid_error_set(err, -*fd, "reopen a directory below '%s'", w->root);
                }
                if (cfd >= 0)
                        (void) close(cfd);
                if (r < 0)
                        return r;
        }
        return 0;
}

int sc_tree_usage(const char *path, uint64_t *ret_bytes, uint64_t *ret_inodes, struct ocid_error **err)
{
        struct sc_usage_walk w = { .root = path };
        struct stat st;
        int fd, r;

        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return ocid_error_set(err, errno, "open '%s'", path);
        if (fstat(fd, &st) < 0) {
                r = ocid_error_set(err, errno, "stat '%s'", path);
                (void) close(fd);
                return r;
        }
        w.dev = st.st_dev;
        sc_usage_count(&w, &st);
        r = sc_usage_dir(&w, &fd, 0, err);
        if (fd >= 0)
                (void) close(fd);
        sc_inode_map_done(&w.seen);
        if (r < 0)
                return r;
        *ret_bytes = w.bytes;
        *ret_inodes = w.inodes;
        return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *sc_unescape(const char *s, size_t n)
{
        char *out = xmalloc(n + 1);
        size_t j = 0;

        for (size_t i = 0; i < n; i++) {
                if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
                    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        out[j++] = (char) ((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
                        i += 3;
                } else
                        out[j++] = s[i];
        }
        out[j] = '\0';
        return out;
}

/* True when dir is mnt or below it. */
static bool sc_path_under(const char *dir, const char *mnt)
{
        size_t n = strlen(mnt);

        if (streq(mnt, "/"))
                return dir[0] == '/';
        return strncmp(dir, mnt, n) == 0 && (dir[n] == '\0' || dir[n] == '/');
}

char *sc_mountinfo_lookup(const char *mountinfo, const char *path)
{
        char *best = NULL;

        for (const char *line = mountinfo; line && *line;) {
                const char *end = strchrnul(line, '\n');
                const char *p = line;

                /* fields: id parent major:minor root mount-point ... */
                for (int field = 0; field < 4 && p < end; field++) {
                        p = memchr(p, ' ', (size_t) (end - p));
                        if (!p)
                                break;
                        p++;
                }
                if (p && p < end) {
                        const char *q = memchr(p, ' ', (size_t) (end - p));
                        _cleanup_free_ char *mnt = sc_unescape(p, (size_t) ((q ? q : end) - p));

                        /* Later lines are later mounts: an equal mount point
                         * further down covers the earlier one. */
                        if (mnt[0] == '/' && sc_path_under(path, mnt) &&
                            (!best || strlen(mnt) >= strlen(best))) {
                                free(best);
                                best = TAKE_PTR(mnt);
                        }
                }
                line = *end ? end + 1 : end;
        }
        return best;
}

/* Without /proc: the highest ancestor on the same device. */
static char *sc_mountpoint_by_dev(const char *path)
{
        _cleanup_free_ char *p = xstrdup(path);
        struct stat st, up;

        if (stat(p, &st) < 0)
                return NULL;
        for (;;) {
                char *slash = strrchr(p, '/');

                if (!slash || slash == p) {
                        if (stat("/", &up) == 0 && up.st_dev == st.st_dev)
                                return xstrdup("/");
                        return TAKE_PTR(p);
                }
                *slash = '\0';
                if (stat(p, &up) < 0 || up.st_dev != st.st_dev) {
                        *slash = '/';
                        return TAKE_PTR(p);
                }
        }
}

int sc_store_mountpoint(struct sc_store *s, const char **ret, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *resolved = NULL, *info = NULL, *mnt = NULL;
        size_t n;

        resolved = realpath(s->dir, NULL);
        if (!resolved)
                return ocid_error_set(err, errno, "resolve '%s'", s->dir);
        if (ocid_read_file("/proc/self/mountinfo", 16u << 20, &info, NULL, &e) >= 0)
                mnt = sc_mountinfo_lookup(info, resolved);
        if (!mnt)
                mnt = sc_mountpoint_by_dev(resolved);
        if (!mnt)
                return ocid_error_set(err, errno ? errno : ENOENT, "find the mount point of '%s'", resolved);

        /* Callers keep the string until fini: keep every one returned. */
        pthread_mutex_lock(&s->lock);
        n = ocid_strv_length(s->mountpoints);
        if (n == 0 || !streq(s->mountpoints[n - 1], mnt)) {
                ocid_strv_push(&s->mountpoints, mnt);
                n++;
        }
        *ret = s->mountpoints[n - 1];
        pthread_mutex_unlock(&s->lock);
        return 0;
}

int sc_usage(struct sc_store *s, struct ocid_storage_usage *ret, struct ocid_error **err)
{
        uint64_t bytes = 0, inodes = 0;
        const char *mnt = NULL;
        int r;

        r = sc_tree_usage(s->dir, &bytes, &inodes, err);
        if (r < 0)
                return r;
        r = sc_store_mountpoint(s, &mnt, err);
        if (r < 0)
                return r;
        ret->bytes = bytes;
        ret->inodes = inodes;
        ret->mountpoint = mnt;
        return 0;
}

int sc_rootfs_usage(struct sc_store *s, const char *id, const char *member, struct ocid_storage_usage *ret,
                    struct ocid_error **err)
{
        _cleanup_free_ char *path = NULL;
        uint64_t bytes = 0, inodes = 0;
        const char *mnt = NULL;
        int r;

        r = sc_rootfs_id_check(id, err);
        if (r < 0)
                return r;
        if (!sc_rootfs_exists(s, id))
                return ocid_error_msg(err, ENOENT, "rootfs '%s' does not exist", id);
        path = xasprintf("%s/%s/%s/%s", s->dir, SC_ROOTFS, id, member);
        r = sc_tree_usage(path, &bytes, &inodes, err);
        if (r < 0)
                return r;
        r = sc_store_mountpoint(s, &mnt, err);
        if (r < 0)
                return r;
        ret->bytes = bytes;
        ret->inodes = inodes;
        ret->mountpoint = mnt;
        return 0;
}
