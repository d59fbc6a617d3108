/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h> /* struct open_how, RESOLVE_* */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h> /* SYS_openat2 */
#include <sys/sysmacros.h> /* makedev */
#include <sys/xattr.h>
#include <unistd.h>

#include <ocid/archive.h>
#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "internal.h"

#define OCID_LOG_CATEGORY "archive"

#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"

/* Symlinks followed while resolving one path, as the kernel allows. */
#define MAX_SYMLINKS 40
/* Bound on the memory kept for directory metadata applied at the end. */
#define MAX_DIR_META_BYTES (128u << 20)
/* Extended attributes on one entry (a file system holds a few KiB of them). */
#define MAX_XATTRS 256

/* ---- a set of paths, kept as 64-bit hashes ------------------------------------
 *
 * The paths this layer created, so that its whiteouts spare its own entries.
 * Only hashes are kept, to bound memory whatever the names' length; a
 * collision can only make a whiteout of this layer spare a lower entry, which
 * the layer could do anyway by leaving the whiteout out. The set is closed
 * under prefixes: "a/b" in the set implies "a". */

struct pathset {
        uint64_t *slots; /* 0: empty */
        size_t cap;      /* a power of two, or 0 */
        size_t n;
};

static uint64_t hash_init(void) { return UINT64_C(0xcbf29ce484222325); }

static uint64_t hash_byte(uint64_t h, unsigned char c)
{
        return (h ^ c) * UINT64_C(0x100000001b3);
}

/* splitmix64's finaliser: spreads FNV's output over the table. */
static uint64_t hash_final(uint64_t h)
{
        h ^= h >> 30;
        h *= UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 27;
        h *= UINT64_C(0x94d049bb133111eb);
        h ^= h >> 31;
        return h ? h : 1;
}

static uint64_t hash_path(const char *p)
{
        uint64_t h = hash_init();

        while (*p)
                h = hash_byte(h, (unsigned char) *p++);
        return hash_final(h);
}

static bool pathset_has_hash(const struct pathset *s, uint64_t h)
{
        if (s->cap == 0)
                return false;
        for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
                if (s->slots[i] == h)
                        return true;
                if (s->slots[i] == 0)
                        return false;
        }
}

static bool pathset_contains(const struct pathset *s, const char *path)
{
        return pathset_has_hash(s, hash_path(path));
}

static void pathset_put(struct pathset *s, uint64_t h)
{
        if ((s->n + 1) * 2 > s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 1024;
                uint64_t *slots = xcalloc(cap, sizeof(*slots));

                for (size_t i = 0; i < s->cap; i++) {
                        uint64_t v = s->slots[i];
                        size_t j;

                        if (v == 0)
                                continue;
                        for (j = v & (cap - 1); slots[j]; j = (j + 1) & (cap - 1))
                                ;
                        slots[j] = v;
                }
                free(s->slots);
                s->slots = slots;
                s->cap = cap;
        }
        for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
                if (s->slots[i] == h)
                        return;
                if (s->slots[i] == 0) {
                        s->slots[i] = h;
                        s->n++;
                        return;
                }
        }
}

/* Adds path and all its prefixes ("a/b/c": "a", "a/b", "a/b/c"). The set
 * being closed under prefixes, the walk up stops at the first one present. */
static void pathset_add(struct pathset *s, const char *path)
{
        size_t len = strlen(path), n = 0;
        _cleanup_free_ uint64_t *prefixes = NULL;
        uint64_t h = hash_init();

        if (len == 0)
                return;
        prefixes = xcalloc(len / 2 + 1, sizeof(*prefixes));
        for (size_t i = 0; i <= len; i++) {
                if (i == len || path[i] == '/')
                        prefixes[n++] = hash_final(h);
                if (i < len)
                        h = hash_byte(h, (unsigned char) path[i]);
        }
        while (n > 0 && !pathset_has_hash(s, prefixes[n - 1]))
                pathset_put(s, prefixes[--n]);
}

static void pathset_done(struct pathset *s)
{
        free(s->slots);
        *s = (struct pathset) { 0 };
}

/* ---- extraction state ---------------------------------------------------------- */

/* Mode and times of a directory entry, applied once the layer is unpacked:
 * creating its contents changes the mtime, and a read-only mode would stop
 * an unprivileged extraction from creating them. */
struct dir_meta {
        char *path;
        mode_t mode;
        struct timespec times[2];
};

struct extract {
        int root;            /* O_PATH fd on the destination */
        dev_t dev;
        uint32_t flags;
        uint64_t max_entries;
        uint64_t max_bytes;
        bool privileged;     /* euid 0: owners, device nodes, capabilities */
        bool no_openat2;     /* the kernel said ENOSYS once */
        uint64_t objects;    /* entries plus directories created for them */
        struct pathset layer;
        struct dir_meta *dirs;
        size_t n_dirs, cap_dirs, dir_bytes;
        struct ocid_archive_stats stats;
};

static void extract_done(struct extract *x)
{
        if (x->root >= 0)
                (void) close(x->root);
        pathset_done(&x->layer);
        for (size_t i = 0; i < x->n_dirs; i++)
                free(x->dirs[i].path);
        free(x->dirs);
}

static void archive_read_freep(struct archive **a)
{
        if (*a)
                (void) archive_read_free(*a);
}

/* A name as it may appear in a message: control characters replaced, long
 * names cut. */
static char *display_name(const char *s)
{
        size_t len = strlen(s), n = len > 256 ? 256 : len;
        char *d = xmalloc(n + 4);

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                d[i] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
        }
        strcpy(d + n, len > n ? "..." : "");
        return d;
}

/* "" for the root, else the path: for messages. */
static const char *shown(const char *path)
{
        return *path ? path : ".";
}

/* ---- names ----------------------------------------------------------------------- */

/* Normalises an entry name (or a hardlink target) into a path relative to
 * the layer root: a leading "/" and "." components are dropped, ".." is
 * refused. The root itself is "". */
static int normalize(const char *raw, char **ret, struct ocid_error **err)
{
        size_t len = strlen(raw);
        _cleanup_free_ char *out = NULL;
        const char *p = raw;
        size_t n = 0;
        long depth = 0;
        bool dotdot = false;

        if (len > OCID_ARCHIVE_MAX_NAME)
                return ocid_error_msg(err, ENAMETOOLONG, "name is longer than %u bytes", OCID_ARCHIVE_MAX_NAME);

        out = xmalloc(len + 1);
        while (*p) {
                const char *end;
                size_t c;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                end = strchrnul(p, '/');
                c = (size_t) (end - p);
                if (c == 2 && p[0] == '.' && p[1] == '.') {
                        dotdot = true;
                        if (--depth < 0)
                                return ocid_error_msg(err, EINVAL, "path escapes the layer");
                } else if (!(c == 1 && p[0] == '.')) {
                        if (c > NAME_MAX)
                                return ocid_error_msg(err, ENAMETOOLONG,
                                                      "path component is longer than %d bytes", NAME_MAX);
                        depth++;
                        if (n > 0)
                                out[n++] = '/';
                        memcpy(out + n, p, c);
                        n += c;
                }
                p = end;
        }
        if (dotdot)
                return ocid_error_msg(err, EINVAL, "path contains '..', which is refused");
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

/* Splits a normalised, non-root path into its parent ("" for the root) and
 * its last component, in place. */
static void split_path(char *path, const char **ret_parent, const char **ret_base)
{
        char *slash = strrchr(path, '/');

        if (!slash) {
                *ret_parent = "";
                *ret_base = path;
        } else {
                *slash = '\0';
                *ret_parent = path;
                *ret_base = slash + 1;
        }
}

static char *child_path(const char *parent, const char *name)
{
        return *parent ? xasprintf("%s/%s", parent, name) : xstrdup(name);
}

/* ---- resolution beneath the root ----------------------------------------------- */

static int resolve_openat2(struct extract *x, const char *path)
{
        struct open_how how = {
                .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };

        /* EAGAIN: a rename elsewhere on the system raced the lookup. */
        for (int i = 0; i < 32; i++) {
                long fd = syscall(SYS_openat2, x->root, path, &how, sizeof(how));

                if (fd >= 0)
                        return (int) fd;
                if (errno != EAGAIN && errno != EINTR)
                        return -errno;
        }
        return -EAGAIN;
}

static bool same_inode(const struct statx *a, const struct statx *b)
{
        return a->stx_ino == b->stx_ino && a->stx_dev_major == b->stx_dev_major &&
               a->stx_dev_minor == b->stx_dev_minor;
}

static int fd_statx(int fd, struct statx *st)
{
        if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE | STATX_INO, st) < 0)
                return -errno;
        return 0;
}

/* What openat2(RESOLVE_IN_ROOT | RESOLVE_NO_XDEV) does, one component at a
 * time: every component is opened O_NOFOLLOW; a symlink's target is spliced
 * into the rest of the path, an absolute one restarting at the root; ".."
 * never climbs above the root; a mount point is refused. */
static int resolve_walk(struct extract *x, const char *path)
{
        _cleanup_close_ int cur = -1;
        _cleanup_free_ char *buf = xstrdup(path);
        struct statx root_st, st;
        char *rest = buf;
        unsigned links = 0;
        int r;

        r = fd_statx(x->root, &root_st);
        if (r < 0)
                return r;
        cur = fcntl(x->root, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return -errno;

        while (*rest) {
                _cleanup_close_ int fd = -1;
                char *name = rest, *end;

                end = strchrnul(rest, '/');
                rest = *end ? end + 1 : end;
                *end = '\0';
                if (*name == '\0' || streq(name, "."))
                        continue;

                if (streq(name, "..")) {
                        r = fd_statx(cur, &st);
                        if (r < 0)
                                return r;
                        if (same_inode(&st, &root_st))
                                continue;
                        fd = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                } else {
                        fd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                }
                if (fd < 0)
                        return -errno;
                if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
                          STATX_TYPE | STATX_INO, &st) < 0)
                        return -errno;
                if (st.stx_dev_major != root_st.stx_dev_major || st.stx_dev_minor != root_st.stx_dev_minor ||
                    ((st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
                     (st.stx_attributes & STATX_ATTR_MOUNT_ROOT) && !same_inode(&st, &root_st)))
                        return -EXDEV;

                if (S_ISLNK(st.stx_mode)) {
                        char target[PATH_MAX + 1];
                        ssize_t n;
                        char *joined;

                        if (++links > MAX_SYMLINKS)
                                return -ELOOP;
                        n = readlinkat(fd, "", target, sizeof(target));
                        if (n < 0)
                                return -errno;
                        if ((size_t) n >= sizeof(target) - 1)
                                return -ENAMETOOLONG;
                        target[n] = '\0';
                        joined = xasprintf("%s/%s", target, rest);
                        free(buf);
                        buf = rest = joined;
                        if (target[0] == '/') {
                                int rfd = fcntl(x->root, F_DUPFD_CLOEXEC, 3);

                                if (rfd < 0)
                                        return -errno;
                                (void) close(cur);
                                cur = rfd;
                        }
                        continue;
                }
                if (!S_ISDIR(st.stx_mode))
                        return -ENOTDIR;
                (void) close(cur);
                cur = TAKE_FD(fd);
        }
        return TAKE_FD(cur);
}

/* Opens the directory at `path` (normalised; "" is the root) as an O_PATH
 * fd, following symlinks as if the layer root were "/". Returns the fd or
 * -errno. */
static int resolve_dir(struct extract *x, const char *path)
{
        int fd;

        if (*path == '\0') {
                fd = fcntl(x->root, F_DUPFD_CLOEXEC, 3);
                return fd < 0 ? -errno : fd;
        }
        if (!x->no_openat2) {
                fd = resolve_openat2(x, path);
                if (fd != -ENOSYS)
                        return fd;
                ocid_log(OCID_LOG_DEBUG, "openat2() is not available, resolving paths component by component");
                x->no_openat2 = true;
        }
        return resolve_walk(x, path);
}

static bool is_whiteout_device(const struct stat *st)
{
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static int count_object(struct extract *x, struct ocid_error **err)
{
        if (++x->objects > x->max_entries)
                return ocid_error_msg(err, E2BIG, "layer has more than %llu entries",
                                      (unsigned long long) x->max_entries);
        return 0;
}

static int set_opaque(struct extract *x, int dfd, const char *name, const char *path, struct ocid_error **err);

/* Opens the directory `path` like resolve_dir(); with `create`, missing
 * directories on the way are made (mode 0755), as tar does for an entry
 * whose parents the archive does not list. */
static int open_dir(struct extract *x, const char *path, bool create, int *ret_fd, struct ocid_error **err)
{
        _cleanup_free_ char *copy = NULL;
        _cleanup_close_ int pfd = -1;
        const char *parent, *base;
        struct stat st;
        int fd, r;

        fd = resolve_dir(x, path);
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        if (!create || (fd != -ENOENT && fd != -ENOTDIR) || *path == '\0')
                goto fail;

        copy = xstrdup(path);
        split_path(copy, &parent, &base);
        r = open_dir(x, parent, create, &pfd, err);
        if (r < 0)
                return r;

        if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return ocid_error_set(err, errno, "stat '%s'", path);
                r = count_object(x, err);
                if (r < 0)
                        return r;
                if (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST)
                        return ocid_error_set(err, errno, "create directory '%s'", path);
                /* the umask must not change the mode */
                if (fchmodat(pfd, base, 0755, AT_SYMLINK_NOFOLLOW) < 0)
                        return ocid_error_set(err, errno, "chmod directory '%s'", path);
        } else if ((x->flags & OCID_ARCHIVE_WHITEOUT_OVERLAY) && is_whiteout_device(&st)) {
                /* this layer whited the directory out, then put entries into
                 * it again: it hides what lower layers held there */
                if (unlinkat(pfd, base, 0) < 0)
                        return ocid_error_set(err, errno, "remove whiteout '%s'", path);
                if (mkdirat(pfd, base, 0755) < 0)
                        return ocid_error_set(err, errno, "create directory '%s'", path);
                if (fchmodat(pfd, base, 0755, AT_SYMLINK_NOFOLLOW) < 0)
                        return ocid_error_set(err, errno, "chmod directory '%s'", path);
                r = set_opaque(x, pfd, base, path, err);
                if (r < 0)
                        return r;
        }
        fd = resolve_dir(x, path);
        if (fd >= 0) {
                pathset_add(&x->layer, path);
                *ret_fd = fd;
                return 0;
        }

fail:
        switch (-fd) {
        case EXDEV:
                return ocid_error_msg(err, EXDEV, "directory '%s' is on another mount", shown(path));
        case ELOOP:
                return ocid_error_msg(err, ELOOP, "too many symbolic links resolving '%s'", shown(path));
        case ENOTDIR:
                return ocid_error_msg(err, ENOTDIR, "'%s' is not a directory", shown(path));
        default:
                return ocid_error_set(err, -fd, "open directory '%s'", shown(path));
        }
}

/* ---- removal ------------------------------------------------------------------ */

static int rm_at(struct extract *x, int dfd, const char *name, const char *path, struct ocid_error **err);

/* Removes every entry of the directory open as dfd. */
static int rm_children(struct extract *x, int dfd, const char *path, struct ocid_error **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd;

        fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return ocid_error_set(err, errno, "open directory '%s'", shown(path));
        d = fdopendir(fd);
        if (!d) {
                int r = ocid_error_set(err, errno, "open directory '%s'", shown(path));
                (void) close(fd);
                return r;
        }
        for (;;) {
                _cleanup_free_ char *child = NULL;
                int r;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return ocid_error_set(err, errno, "read directory '%s'", shown(path));
                        return 0;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                child = child_path(path, de->d_name);
                r = rm_at(x, dirfd(d), de->d_name, child, err);
                if (r < 0)
                        return r;
        }
}

/* Removes `name` below dfd and everything below it, never following a
 * symlink and never crossing a mount point. A missing entry is fine. */
static int rm_at(struct extract *x, int dfd, const char *name, const char *path, struct ocid_error **err)
{
        _cleanup_close_ int fd = -1;
        struct statx st;
        int r;

        if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                return ocid_error_set(err, errno, "stat '%s'", path);
        }
        if (!S_ISDIR(st.stx_mode)) {
                if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
                        return ocid_error_set(err, errno, "remove '%s'", path);
                return 0;
        }
        if (makedev(st.stx_dev_major, st.stx_dev_minor) != x->dev ||
            ((st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (st.stx_attributes & STATX_ATTR_MOUNT_ROOT)))
                return ocid_error_msg(err, EXDEV, "remove '%s': is a mount point, not crossing it", path);
        fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return ocid_error_set(err, errno, "open directory '%s'", path);
        r = rm_children(x, fd, path, err);
        if (r < 0)
                return r;
        if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return ocid_error_set(err, errno, "remove directory '%s'", path);
        return 0;
}

/* Removes from the directory open as dfd (at `path`) everything this layer
 * did not create, keeping this layer's entries and descending into its
 * directories: the directory becomes opaque. */
static int prune_lower(struct extract *x, int dfd, const char *path, struct ocid_error **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd;

        fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return ocid_error_set(err, errno, "open directory '%s'", shown(path));
        d = fdopendir(fd);
        if (!d) {
                int r = ocid_error_set(err, errno, "open directory '%s'", shown(path));
                (void) close(fd);
                return r;
        }
        for (;;) {
                _cleanup_free_ char *child = NULL;
                _cleanup_close_ int cfd = -1;
                struct stat st;
                int r;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return ocid_error_set(err, errno, "read directory '%s'", shown(path));
                        return 0;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                child = child_path(path, de->d_name);
                if (!pathset_contains(&x->layer, child)) {
                        r = rm_at(x, dirfd(d), de->d_name, child, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return ocid_error_set(err, errno, "stat '%s'", child);
                if (!S_ISDIR(st.st_mode))
                        continue;
                cfd = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cfd < 0)
                        return ocid_error_set(err, errno, "open directory '%s'", child);
                r = prune_lower(x, cfd, child, err);
                if (r < 0)
                        return r;
        }
}

/* Clears the way for a new entry `name` below pfd. With keep_dir, an
 * existing directory stays (a directory entry updates it) and 1 is returned.
 * Whatever else is there, including a symlink, is removed: a new entry
 * replaces a symlink, it never writes through it. */
static int clear_path(struct extract *x, int pfd, const char *name, const char *path, bool keep_dir,
                      struct ocid_error **err)
{
        struct stat st;

        if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return ocid_error_set(err, errno, "stat '%s'", path);
        }
        if (keep_dir && S_ISDIR(st.st_mode))
                return 1;
        return rm_at(x, pfd, name, path, err);
}

/* ---- metadata ------------------------------------------------------------------ */

static void entry_times(struct archive_entry *e, struct timespec times[2])
{
        if (archive_entry_mtime_is_set(e)) {
                times[1].tv_sec = archive_entry_mtime(e);
                times[1].tv_nsec = archive_entry_mtime_nsec(e);
        } else {
                times[1].tv_sec = 0;
                times[1].tv_nsec = UTIME_OMIT;
        }
        if (archive_entry_atime_is_set(e)) {
                times[0].tv_sec = archive_entry_atime(e);
                times[0].tv_nsec = archive_entry_atime_nsec(e);
        } else {
                times[0] = times[1];
        }
        for (int i = 0; i < 2; i++)
                if (times[i].tv_nsec != UTIME_OMIT && (times[i].tv_nsec < 0 || times[i].tv_nsec > 999999999))
                        times[i].tv_nsec = 0;
}

static int chown_at(struct extract *x, struct archive_entry *e, int dfd, const char *name, const char *path,
                    struct ocid_error **err)
{
        int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);

        if (!x->privileged)
                return 0;
        if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
                return ocid_error_msg(err, EINVAL, "owner %lld:%lld is out of range", (long long) uid,
                                      (long long) gid);
        if (fchownat(dfd, name, (uid_t) uid, (gid_t) gid, AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH)) < 0)
                return ocid_error_set(err, errno, "chown '%s' to %lld:%lld", shown(path), (long long) uid,
                                      (long long) gid);
        return 0;
}

/* Which extended attributes of a layer are kept: user.* (on files and
 * directories, the only objects the kernel allows them on) and, when root,
 * security.capability on files. trusted.* (overlay's own trusted.overlay.*
 * among them), security.selinux and system.* are the host's business. */
static bool xattr_kept(struct extract *x, const char *name, mode_t type)
{
        if (ocid_startswith(name, "user."))
                return S_ISREG(type) || S_ISDIR(type);
        if (streq(name, "security.capability"))
                return x->privileged && S_ISREG(type);
        return false;
}

static int set_xattrs(struct extract *x, struct archive_entry *e, int fd, mode_t type, const char *path,
                      struct ocid_error **err)
{
        const char *seen[MAX_XATTRS];
        size_t n_seen = 0;
        const char *name;
        const void *value;
        size_t size;

        if (archive_entry_xattr_reset(e) == 0)
                return 0;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
                bool dup = false;

                if (!name)
                        continue;
                /* libarchive's own writer records each attribute twice
                 * (LIBARCHIVE.xattr and SCHILY.xattr): the first wins */
                for (size_t i = 0; i < n_seen && !dup; i++)
                        dup = streq(seen[i], name);
                if (dup)
                        continue;
                if (n_seen == MAX_XATTRS)
                        return ocid_error_msg(err, E2BIG, "more than %d extended attributes", MAX_XATTRS);
                seen[n_seen++] = name;

                if (!xattr_kept(x, name, type)) {
                        ocid_log(OCID_LOG_DEBUG, "'%s': extended attribute '%s' not kept", shown(path), name);
                        x->stats.xattrs_skipped++;
                        continue;
                }
                if (fsetxattr(fd, name, value, size, 0) < 0) {
                        if (errno != EOPNOTSUPP)
                                return ocid_error_set(err, errno, "set extended attribute '%s' on '%s'", name,
                                                      shown(path));
                        ocid_log(OCID_LOG_DEBUG, "'%s': the file system does not support '%s', ignoring",
                                 shown(path), name);
                        x->stats.xattrs_skipped++;
                }
        }
        return 0;
}

static int set_opaque(struct extract *x, int dfd, const char *name, const char *path, struct ocid_error **err)
{
        const char *attr = (x->flags & OCID_ARCHIVE_OVERLAY_USERXATTR) ? "user.overlay.opaque"
                                                                       : "trusted.overlay.opaque";
        _cleanup_close_ int fd = -1;

        fd = openat(dfd, *name ? name : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return ocid_error_set(err, errno, "open directory '%s'", shown(path));
        if (fsetxattr(fd, attr, "y", 1, 0) < 0)
                return ocid_error_set(err, errno, "mark directory '%s' opaque (%s)", shown(path), attr);
        return 0;
}

/* ---- entries ----------------------------------------------------------------- */

static int write_all_at(int fd, const char *p, size_t len, int64_t off)
{
        while (len > 0) {
                ssize_t n = pwrite(fd, p, len, (off_t) off);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
                off += n;
        }
        return 0;
}

static int copy_data(struct extract *x, struct archive *a, struct archive_entry *e, int fd, const char *path,
                     struct ocid_error **err)
{
        int64_t size = archive_entry_size(e), end = 0;

        for (;;) {
                const void *buf;
                size_t len;
                la_int64_t off;
                int r;

                r = archive_read_data_block(a, &buf, &len, &off);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return ocid_error_msg(err, archive_errno(a) > 0 ? archive_errno(a) : EIO,
                                              "read content: %s", archive_error_string(a) ?: "unknown error");
                if (off < 0 || (uint64_t) off > INT64_MAX - len)
                        return ocid_error_msg(err, EINVAL, "content offset out of range");
                if (x->max_bytes && x->stats.bytes + len > x->max_bytes)
                        return ocid_error_msg(err, EFBIG, "layer content exceeds %llu bytes",
                                              (unsigned long long) x->max_bytes);
                r = write_all_at(fd, buf, len, off);
                if (r < 0)
                        return ocid_error_set(err, -r, "write '%s'", path);
                x->stats.bytes += len;
                if (off + (int64_t) len > end)
                        end = off + (int64_t) len;
        }
        /* a sparse file may end in a hole */
        if (size > end && ftruncate(fd, (off_t) size) < 0)
                return ocid_error_set(err, errno, "truncate '%s'", path);
        return 0;
}

static int extract_file(struct extract *x, struct archive *a, struct archive_entry *e, int pfd,
                        const char *base, const char *path, struct ocid_error **err)
{
        _cleanup_close_ int fd = -1;
        struct timespec times[2];
        int r;

        r = clear_path(x, pfd, base, path, false, err);
        if (r < 0)
                return r;
        fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return ocid_error_set(err, errno, "create '%s'", path);
        r = copy_data(x, a, e, fd, path, err);
        if (r < 0)
                return r;
        /* in this order: chown clears set-id bits and capabilities, writing
         * clears capabilities */
        r = chown_at(x, e, fd, "", path, err);
        if (r < 0)
                return r;
        r = set_xattrs(x, e, fd, S_IFREG, path, err);
        if (r < 0)
                return r;
        if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
                return ocid_error_set(err, errno, "chmod '%s'", path);
        entry_times(e, times);
        if (futimens(fd, times) < 0)
                return ocid_error_set(err, errno, "set times of '%s'", path);
        x->stats.files++;
        return 0;
}

static int extract_dir(struct extract *x, struct archive_entry *e, int pfd, const char *base, const char *path,
                       struct ocid_error **err)
{
        _cleanup_close_ int fd = -1;
        struct dir_meta *m;
        bool opaque = false;
        struct stat st;
        int r;

        if (*path) {
                if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && (x->flags & OCID_ARCHIVE_WHITEOUT_OVERLAY) &&
                    is_whiteout_device(&st))
                        opaque = true; /* whited out, then made again by this layer */
                r = clear_path(x, pfd, base, path, true, err);
                if (r < 0)
                        return r;
                if (r == 0 && mkdirat(pfd, base, 0700) < 0)
                        return ocid_error_set(err, errno, "create directory '%s'", path);
        }
        fd = openat(pfd, *path ? base : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return ocid_error_set(err, errno, "open directory '%s'", shown(path));
        r = chown_at(x, e, fd, "", path, err);
        if (r < 0)
                return r;
        r = set_xattrs(x, e, fd, S_IFDIR, path, err);
        if (r < 0)
                return r;
        if (opaque) {
                r = set_opaque(x, fd, "", path, err);
                if (r < 0)
                        return r;
        }

        if (x->dir_bytes + strlen(path) + 1 > MAX_DIR_META_BYTES)
                return ocid_error_msg(err, E2BIG, "layer has too many directories");
        if (x->n_dirs == x->cap_dirs) {
                x->cap_dirs = x->cap_dirs ? x->cap_dirs * 2 : 64;
                x->dirs = xreallocarray(x->dirs, x->cap_dirs, sizeof(*x->dirs));
        }
        m = &x->dirs[x->n_dirs++];
        m->path = xstrdup(path);
        m->mode = archive_entry_perm(e) & 07777;
        entry_times(e, m->times);
        x->dir_bytes += strlen(path) + 1;
        x->stats.dirs++;
        return 0;
}

static int extract_symlink(struct extract *x, struct archive_entry *e, int pfd, const char *base,
                           const char *path, struct ocid_error **err)
{
        const char *target = archive_entry_symlink(e);
        struct timespec times[2];
        int r;

        if (!target || !*target)
                return ocid_error_msg(err, EINVAL, "symbolic link without a target");
        if (strlen(target) > OCID_ARCHIVE_MAX_NAME)
                return ocid_error_msg(err, ENAMETOOLONG, "symbolic link target is longer than %u bytes",
                                      OCID_ARCHIVE_MAX_NAME);
        r = clear_path(x, pfd, base, path, false, err);
        if (r < 0)
                return r;
        /* The target is stored as it is: only ever followed inside the
         * layer root (by this code) or inside the container. */
        if (symlinkat(target, pfd, base) < 0)
                return ocid_error_set(err, errno, "create symbolic link '%s'", path);
        r = chown_at(x, e, pfd, base, path, err);
        if (r < 0)
                return r;
        entry_times(e, times);
        if (utimensat(pfd, base, times, AT_SYMLINK_NOFOLLOW) < 0)
                return ocid_error_set(err, errno, "set times of '%s'", path);
        x->stats.symlinks++;
        return 0;
}

static int extract_hardlink(struct extract *x, struct archive_entry *e, int pfd, const char *base,
                            const char *path, struct ocid_error **err)
{
        _cleanup_free_ char *target = NULL, *shown_target = NULL;
        _cleanup_close_ int tfd = -1;
        const char *tparent, *tbase;
        struct stat st, cur;
        int r;

        shown_target = display_name(archive_entry_hardlink(e));
        r = normalize(archive_entry_hardlink(e), &target, err);
        if (r < 0)
                return ocid_error_prefix(err, "hardlink target '%s'", shown_target);
        if (*target == '\0')
                return ocid_error_msg(err, EPERM, "hardlink target '%s' is the layer root", shown_target);
        split_path(target, &tparent, &tbase);
        tfd = resolve_dir(x, tparent);
        if (tfd < 0 && tfd != -ENOENT && tfd != -ENOTDIR && tfd != -ELOOP)
                return ocid_error_set(err, -tfd, "hardlink target '%s'", shown_target);
        if (tfd < 0 || fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return ocid_error_msg(err, ENOENT, "hardlink target '%s' does not exist in the layer",
                                      shown_target);
        if (S_ISDIR(st.st_mode))
                return ocid_error_msg(err, EPERM, "hardlink target '%s' is a directory", shown_target);
        if (fstatat(pfd, base, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_dev == st.st_dev &&
            cur.st_ino == st.st_ino) {
                x->stats.hardlinks++;
                return 0; /* already that file */
        }
        r = clear_path(x, pfd, base, path, false, err);
        if (r < 0)
                return r;
        /* flags 0: a symlink target is linked itself, never followed */
        if (linkat(tfd, tbase, pfd, base, 0) < 0)
                return ocid_error_set(err, errno, "link '%s' to '%s'", path, shown_target);
        x->stats.hardlinks++;
        return 0;
}

static int extract_special(struct extract *x, struct archive_entry *e, mode_t type, int pfd, const char *base,
                           const char *path, struct ocid_error **err)
{
        mode_t mode = archive_entry_perm(e) & 07777;
        dev_t rdev = 0;
        struct timespec times[2];
        int r;

        if (type != S_IFIFO) {
                if (!x->privileged) {
                        ocid_log(OCID_LOG_DEBUG, "'%s': device node skipped, not running as root", path);
                        x->stats.skipped++;
                        return 0;
                }
                rdev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
        }
        r = clear_path(x, pfd, base, path, false, err);
        if (r < 0)
                return r;
        if (mknodat(pfd, base, type | mode, rdev) < 0) {
                if (errno == EPERM && type != S_IFIFO) {
                        /* root in a user namespace */
                        ocid_log(OCID_LOG_DEBUG, "'%s': device node skipped, not permitted", path);
                        x->stats.skipped++;
                        return 0;
                }
                return ocid_error_set(err, errno, "create '%s'", path);
        }
        r = chown_at(x, e, pfd, base, path, err);
        if (r < 0)
                return r;
        if (fchmodat(pfd, base, mode, AT_SYMLINK_NOFOLLOW) < 0)
                return ocid_error_set(err, errno, "chmod '%s'", path);
        entry_times(e, times);
        if (utimensat(pfd, base, times, AT_SYMLINK_NOFOLLOW) < 0)
                return ocid_error_set(err, errno, "set times of '%s'", path);
        x->stats.specials++;
        return 0;
}

/* ".wh.NAME" in `parent` (and NAME in the layer already: ours), or, with
 * name NULL, ".wh..wh..opq" in `parent`. */
static int extract_whiteout(struct extract *x, const char *parent, const char *name, struct ocid_error **err)
{
        bool overlay = x->flags & OCID_ARCHIVE_WHITEOUT_OVERLAY;
        _cleanup_free_ char *target = NULL;
        _cleanup_close_ int pfd = -1;
        struct stat st;
        int r;

        if (!(x->flags & (OCID_ARCHIVE_WHITEOUT_OVERLAY | OCID_ARCHIVE_WHITEOUT_APPLY))) {
                x->stats.skipped++;
                return 0;
        }

        if (overlay) {
                r = open_dir(x, parent, true, &pfd, err);
                if (r < 0)
                        return r;
                pathset_add(&x->layer, parent);
        } else {
                pfd = resolve_dir(x, parent);
                if (pfd == -ENOENT || pfd == -ENOTDIR || pfd == -ELOOP) {
                        x->stats.skipped++; /* nothing to white out */
                        return 0;
                }
                if (pfd < 0)
                        return ocid_error_set(err, -pfd, "open directory '%s'", shown(parent));
        }

        if (!name) {
                r = overlay ? set_opaque(x, pfd, "", parent, err) : prune_lower(x, pfd, parent, err);
                if (r < 0)
                        return r;
                x->stats.whiteouts++;
                return 0;
        }

        target = child_path(parent, name);
        if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return ocid_error_set(err, errno, "stat '%s'", target);
                st.st_mode = 0;
        }
        if (pathset_contains(&x->layer, target)) {
                /* A whiteout never hides an entry of its own layer. A
                 * directory of this layer loses what lower layers held. */
                if (!S_ISDIR(st.st_mode)) {
                        x->stats.skipped++;
                        return 0;
                }
                if (overlay) {
                        r = set_opaque(x, pfd, name, target, err);
                } else {
                        _cleanup_close_ int dfd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                        if (dfd < 0)
                                return ocid_error_set(err, errno, "open directory '%s'", target);
                        r = prune_lower(x, dfd, target, err);
                }
                if (r < 0)
                        return r;
                x->stats.whiteouts++;
                return 0;
        }

        if (!overlay) {
                if (st.st_mode == 0) {
                        x->stats.skipped++;
                        return 0;
                }
                r = rm_at(x, pfd, name, target, err);
                if (r < 0)
                        return r;
                x->stats.whiteouts++;
                return 0;
        }

        if (st.st_mode != 0) {
                r = rm_at(x, pfd, name, target, err);
                if (r < 0)
                        return r;
        }
        if (mknodat(pfd, name, S_IFCHR, makedev(0, 0)) < 0)
                return ocid_error_set(err, errno, "create whiteout device '%s'", target);
        x->stats.whiteouts++;
        return 0;
}

/* True when a component other than the last starts with ".wh.": such an
 * entry lives inside a whiteout or AUFS metadata, never in a layer's tree. */
static bool in_whiteout_dir(const char *path)
{
        for (const char *p = path; *p;) {
                const char *end = strchrnul(p, '/');

                if (!*end)
                        return false;
                if (ocid_startswith(p, WH_PREFIX))
                        return true;
                p = end + 1;
        }
        return false;
}

static int extract_entry(struct extract *x, struct archive *a, struct archive_entry *e, const char *raw,
                         struct ocid_error **err)
{
        _cleanup_free_ char *path = NULL, *split = NULL;
        _cleanup_close_ int pfd = -1;
        const char *parent, *base, *wh;
        mode_t type = archive_entry_filetype(e);
        bool hardlink = archive_entry_hardlink(e) != NULL;
        int r;

        r = normalize(raw, &path, err);
        if (r < 0)
                return r;

        if (*path == '\0') {
                /* the layer root: only its metadata */
                if (hardlink || type != AE_IFDIR)
                        return ocid_error_msg(err, EINVAL, "the layer root is not a directory");
                return extract_dir(x, e, x->root, "", "", err);
        }

        if (in_whiteout_dir(path)) {
                ocid_log(OCID_LOG_DEBUG, "'%s': inside a whiteout or AUFS metadata, skipped", path);
                x->stats.skipped++;
                return 0;
        }

        split = xstrdup(path);
        split_path(split, &parent, &base);

        wh = ocid_startswith(base, WH_PREFIX);
        if (wh) {
                if (streq(base, WH_OPAQUE))
                        return extract_whiteout(x, parent, NULL, err);
                if (ocid_startswith(base, WH_META_PREFIX) || *wh == '\0' || streq(wh, ".") || streq(wh, "..")) {
                        ocid_log(OCID_LOG_DEBUG, "'%s': AUFS metadata or empty whiteout, skipped", path);
                        x->stats.skipped++;
                        return 0;
                }
                return extract_whiteout(x, parent, wh, err);
        }

        if (!hardlink && type == AE_IFSOCK) {
                ocid_log(OCID_LOG_DEBUG, "'%s': socket skipped", path);
                x->stats.skipped++;
                return 0;
        }
        if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFCHR &&
            type != AE_IFBLK && type != AE_IFIFO)
                return ocid_error_msg(err, EINVAL, "unknown entry type 0%o", (unsigned) type);

        r = open_dir(x, parent, true, &pfd, err);
        if (r < 0)
                return r;

        if (hardlink)
                r = extract_hardlink(x, e, pfd, base, path, err);
        else if (type == AE_IFREG)
                r = extract_file(x, a, e, pfd, base, path, err);
        else if (type == AE_IFDIR)
                r = extract_dir(x, e, pfd, base, path, err);
        else if (type == AE_IFLNK)
                r = extract_symlink(x, e, pfd, base, path, err);
        else
                r = extract_special(x, e, type, pfd, base, path, err);
        if (r < 0)
                return r;
        pathset_add(&x->layer, path);
        return 0;
}

/* Modes and times of the directory entries, latest entry first: a
 * directory gets its final mode after its children their times, and of two
 * entries for one directory the later wins. */
static int apply_dir_meta(struct extract *x, struct ocid_error **err)
{
        struct pathset done = { 0 };
        int ret = 0;

        for (size_t i = x->n_dirs; i-- > 0;) {
                struct dir_meta *m = &x->dirs[i];
                _cleanup_free_ char *copy = NULL;
                _cleanup_close_ int pfd = -1;
                const char *parent, *base;
                uint64_t h = hash_path(m->path);
                struct stat st;

                if (pathset_has_hash(&done, h))
                        continue;
                pathset_put(&done, h);

                if (*m->path == '\0') {
                        pfd = fcntl(x->root, F_DUPFD_CLOEXEC, 3);
                        base = ".";
                } else {
                        copy = xstrdup(m->path);
                        split_path(copy, &parent, &base);
                        pfd = resolve_dir(x, parent);
                }
                /* gone, or replaced by a later entry: nothing to do */
                if (pfd < 0 || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                if (fchmodat(pfd, base, m->mode, AT_SYMLINK_NOFOLLOW) < 0) {
                        ret = ocid_error_set(err, errno, "chmod directory '%s'", shown(m->path));
                        break;
                }
                if (utimensat(pfd, base, m->times, AT_SYMLINK_NOFOLLOW) < 0) {
                        ret = ocid_error_set(err, errno, "set times of directory '%s'", shown(m->path));
                        break;
                }
        }
        pathset_done(&done);
        return ret;
}

/* ---- entry point --------------------------------------------------------------- */

OCID_EXPORT int ocid_archive_extract_full(int fd, const char *dest_dir, const struct ocid_archive_options *opts,
                                          struct ocid_archive_stats *ret, struct ocid_error **err)
{
        static const struct ocid_archive_options defaults = { 0 };
        const uint32_t known = OCID_ARCHIVE_WHITEOUT_OVERLAY | OCID_ARCHIVE_WHITEOUT_APPLY |
                               OCID_ARCHIVE_OVERLAY_USERXATTR;
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        _cleanup_(extract_done) struct extract x = { .root = -1 };
        struct stat st;
        int r;

        if (!opts)
                opts = &defaults;
        if ((opts->flags & ~known) || opts->reserved0)
                return ocid_error_msg(err, EINVAL, "extract layer: unknown flags 0x%x", opts->flags & ~known);
        for (size_t i = 0; i < ELEMENTSOF(opts->reserved); i++)
                if (opts->reserved[i])
                        return ocid_error_msg(err, EINVAL, "extract layer: reserved option set");
        if ((opts->flags & OCID_ARCHIVE_WHITEOUT_OVERLAY) && (opts->flags & OCID_ARCHIVE_WHITEOUT_APPLY))
                return ocid_error_msg(err, EINVAL, "extract layer: both whiteout modes requested");
        if ((opts->flags & OCID_ARCHIVE_OVERLAY_USERXATTR) && !(opts->flags & OCID_ARCHIVE_WHITEOUT_OVERLAY))
                return ocid_error_msg(err, EINVAL, "extract layer: user xattrs asked for without overlay whiteouts");

        x.flags = opts->flags;
        x.max_entries = opts->max_entries ? opts->max_entries : OCID_ARCHIVE_MAX_ENTRIES;
        x.max_bytes = opts->max_bytes;
        x.privileged = geteuid() == 0;

        x.root = open(dest_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (x.root < 0)
                return ocid_error_set(err, errno, "open layer directory '%s'", dest_dir);
        if (fstat(x.root, &st) < 0)
                return ocid_error_set(err, errno, "stat layer directory '%s'", dest_dir);
        x.dev = st.st_dev;

        a = archive_read_new();
        if (!a)
                libocid_die("archive_read_new: out of memory");
        /* ARCHIVE_WARN: libarchive built without the library runs the
         * external program instead */
        if (archive_read_support_filter_gzip(a) < ARCHIVE_WARN ||
            archive_read_support_filter_zstd(a) < ARCHIVE_WARN ||
            archive_read_support_format_tar(a) != ARCHIVE_OK ||
            archive_read_support_format_empty(a) != ARCHIVE_OK)
                return ocid_error_msg(err, ENOTSUP, "extract layer: libarchive lacks gzip, zstd or tar: %s",
                                      archive_error_string(a) ?: "unknown error");
        if (archive_read_open_fd(a, fd, 128 * 1024) != ARCHIVE_OK)
                return ocid_error_msg(err, archive_errno(a) > 0 ? archive_errno(a) : EINVAL,
                                      "read layer: %s", archive_error_string(a) ?: "unknown error");

        for (;;) {
                struct archive_entry *e;
                _cleanup_free_ char *name = NULL;
                const char *raw;

                r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r == ARCHIVE_RETRY)
                        continue;
                if (r < ARCHIVE_WARN)
                        return ocid_error_msg(err, archive_errno(a) > 0 ? archive_errno(a) : EINVAL,
                                              "read layer: %s", archive_error_string(a) ?: "unknown error");
                if (r == ARCHIVE_WARN)
                        ocid_log(OCID_LOG_DEBUG, "read layer: %s", archive_error_string(a) ?: "warning");

                x.stats.entries++;
                r = count_object(&x, err);
                if (r < 0)
                        return r;
                raw = archive_entry_pathname(e);
                if (!raw)
                        return ocid_error_msg(err, EINVAL, "layer entry %llu has no usable name",
                                              (unsigned long long) x.stats.entries);
                r = extract_entry(&x, a, e, raw, err);
                if (r < 0) {
                        name = display_name(raw);
                        return ocid_error_prefix(err, "layer entry '%s'", name);
                }
        }

        r = apply_dir_meta(&x, err);
        if (r < 0)
                return r;
        if (ret)
                *ret = x.stats;
        return 0;
}

OCID_EXPORT int ocid_archive_extract(int fd, const char *dest_dir, uint32_t flags, struct ocid_archive_stats *ret,
                                     struct ocid_error **err)
{
        struct ocid_archive_options opts = { .flags = flags };

        return ocid_archive_extract_full(fd, dest_dir, &opts, ret, err);
}
