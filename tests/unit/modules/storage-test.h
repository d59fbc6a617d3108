/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the storage module tests share: layer tars built with libarchive, a
 * three-layer chain with whiteouts and an opaque directory, checks of a
 * root file system's view, and the cases both modules must pass alike.
 * Include after test-common.h and module-test.h. */

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h> /* memfd_create */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <ocid/host.h>
#include <ocid/json.h>

#include "storage.h"

/* ---- layer tars ---------------------------------------------------------------- */

enum { T_FILE, T_DIR, T_SYMLINK, T_HARDLINK, T_CHR, T_FIFO };

struct tentry {
        int type;
        const char *path;
        const char *data;       /* content, or link target */
        unsigned mode;          /* 0: 0644 files, 0755 directories */
        int64_t uid, gid;
        const char *xname;      /* one extended attribute */
        const char *xvalue;
        unsigned major, minor;
};

/* A memfd at offset 0 holding the entries as a pax tar, followed by some
 * padding after the end marker as real streams have. */
static inline int st_make_tar(const struct tentry *t, size_t n)
{
        struct archive *a = archive_write_new();
        int fd = memfd_create("layer", MFD_CLOEXEC);

        assert_non_null(a);
        assert_true(fd >= 0);
        assert_int_equal(archive_write_set_format_pax(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                size_t len = 0;

                archive_entry_set_pathname(e, t[i].path);
                archive_entry_set_uid(e, t[i].uid);
                archive_entry_set_gid(e, t[i].gid);
                archive_entry_set_mtime(e, 1600000000, 0);
                switch (t[i].type) {
                case T_FILE:
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, t[i].mode ? t[i].mode : 0644);
                        len = t[i].data ? strlen(t[i].data) : 0;
                        archive_entry_set_size(e, (la_int64_t) len);
                        break;
                case T_DIR:
                        archive_entry_set_filetype(e, AE_IFDIR);
                        archive_entry_set_perm(e, t[i].mode ? t[i].mode : 0755);
                        break;
                case T_SYMLINK:
                        archive_entry_set_filetype(e, AE_IFLNK);
                        archive_entry_set_perm(e, 0777);
                        archive_entry_set_symlink(e, t[i].data);
                        break;
                case T_HARDLINK:
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_hardlink(e, t[i].data);
                        archive_entry_set_size(e, 0);
                        break;
                case T_CHR:
                        archive_entry_set_filetype(e, AE_IFCHR);
                        archive_entry_set_perm(e, 0666);
                        archive_entry_set_rdevmajor(e, t[i].major);
                        archive_entry_set_rdevminor(e, t[i].minor);
                        break;
                case T_FIFO:
                        archive_entry_set_filetype(e, AE_IFIFO);
                        archive_entry_set_perm(e, 0600);
                        break;
                }
                if (t[i].xname)
                        archive_entry_xattr_add_entry(e, t[i].xname, t[i].xvalue, strlen(t[i].xvalue));
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                if (len)
                        assert_int_equal(archive_write_data(a, t[i].data, len), (la_ssize_t) len);
                archive_entry_free(e);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        assert_int_equal(archive_write_free(a), ARCHIVE_OK);
        assert_int_equal(write(fd, "\0\0\0\0\0\0\0\0", 8), 8);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

#define ST_N(a) (sizeof(a) / sizeof((a)[0]))

/* Layer IDs: 64 hex digits. */
static inline char *st_id(unsigned n)
{
        return xasprintf("%064x", n);
}

/* Creates layer `n` on `parent` (0: none) from entries; fails the test on
 * error. Returns the size the module reported. */
static inline uint64_t st_layer(struct ocid_module *m, unsigned n, unsigned parent, const struct tentry *t,
                                size_t count)
{
        _cleanup_free_ char *id = st_id(n), *pid = parent ? st_id(parent) : NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_close_ int fd = st_make_tar(t, count);
        uint64_t size = UINT64_MAX;
        int r;

        r = storage_layer_create(m, id, pid, fd, &size, &e);
        assert_no_error(r, e);
        /* read to the end, padding included */
        assert_int_equal(lseek(fd, 0, SEEK_CUR), lseek(fd, 0, SEEK_END));
        assert_int_equal(storage_layer_exists(m, id, &e), 1);
        return size;
}

/* ---- the chain: 1 <- 2 <- 3 ------------------------------------------------------- */

static const struct tentry st_layer1[] = {
        { T_DIR, "etc", NULL, 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "etc/hosts", "127.0.0.1 localhost\n", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_DIR, "bin", NULL, 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "bin/sh", "#!shell\n", 0755, 0, 0, "user.origin", "layer1", 0, 0 },
        { T_HARDLINK, "bin/ash", "bin/sh", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_DIR, "usr", NULL, 0, 0, 0, NULL, NULL, 0, 0 },
        { T_DIR, "usr/lib", NULL, 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "usr/lib/libc.so", "ELF", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_SYMLINK, "lib", "usr/lib", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_DIR, "home", NULL, 0, 0, 0, NULL, NULL, 0, 0 },
        { T_DIR, "home/user", NULL, 0700, 1000, 1000, NULL, NULL, 0, 0 },
        { T_FILE, "home/user/.profile", "PS1=$\n", 0600, 1000, 1000, NULL, NULL, 0, 0 },
        { T_DIR, "opq", NULL, 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "opq/old", "old", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_DIR, "opq/sub", NULL, 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "opq/sub/deep", "deep", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_DIR, "del", NULL, 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "del/x", "x", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "gone", "gone", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_DIR, "dev", NULL, 0, 0, 0, NULL, NULL, 0, 0 },
        { T_CHR, "dev/null", NULL, 0, 0, 0, NULL, NULL, 1, 3 },
        { T_FIFO, "run.fifo", NULL, 0, 0, 0, NULL, NULL, 0, 0 },
};

static const struct tentry st_layer2[] = {
        { T_FILE, "etc/hosts", "10.0.0.1 node\n", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_HARDLINK, "etc/hosts.link", "etc/hosts", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, ".wh.gone", "", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "opq/.wh..wh..opq", "", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "opq/new", "new", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "two", "2", 0, 0, 0, NULL, NULL, 0, 0 },
};

static const struct tentry st_layer3[] = {
        { T_FILE, ".wh.del", "", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "bin/su", "su", 04755, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "three", "3", 0, 0, 0, NULL, NULL, 0, 0 },
        { T_FILE, "usr/lib/libc.so", "ELF2", 0, 0, 0, NULL, NULL, 0, 0 },
};

/* Sizes of the regular files' content of each layer. */
#define ST_SIZE1 (26 + 20 + 8 + 3 + 6 + 3 + 4 + 1 + 4)
#define ST_SIZE2 (14 + 3 + 1)
#define ST_SIZE3 (2 + 1 + 4)

static inline void st_chain(struct ocid_module *m)
{
        assert_int_equal(st_layer(m, 1, 0, st_layer1, ST_N(st_layer1)), ST_SIZE1);
        assert_int_equal(st_layer(m, 2, 1, st_layer2, ST_N(st_layer2)), ST_SIZE2);
        assert_int_equal(st_layer(m, 3, 2, st_layer3, ST_N(st_layer3)), ST_SIZE3);
}

/* ---- reading a tree --------------------------------------------------------------- */

/* The content of root/rel, read without following a final symlink; NULL
 * when it does not exist. */
static inline char *st_read(const char *root, const char *rel)
{
        _cleanup_free_ char *p = ocid_path_join(root, rel);
        _cleanup_close_ int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char buf[4096];
        ssize_t n;

        if (fd < 0) {
                assert_int_equal(errno, ENOENT);
                return NULL;
        }
        n = read(fd, buf, sizeof(buf) - 1);
        assert_true(n >= 0);
        buf[n] = '\0';
        return xstrdup(buf);
}

#define assert_file(root, rel, text)                                              \
        do {                                                                      \
                char *_c = st_read((root), (rel));                                \
                if (!_c) {                                                        \
                        print_error("'%s/%s' is missing\n", (root), (rel));       \
                        fail();                                                   \
                }                                                                 \
                assert_string_equal(_c, (text));                                  \
                free(_c);                                                         \
        } while (0)

static inline bool st_exists(const char *root, const char *rel)
{
        _cleanup_free_ char *p = ocid_path_join(root, rel);
        struct stat st;

        return lstat(p, &st) == 0;
}

#define assert_absent(root, rel)                                                  \
        do {                                                                      \
                if (st_exists((root), (rel))) {                                   \
                        print_error("'%s/%s' should not exist\n", (root), (rel)); \
                        fail();                                                   \
                }                                                                 \
        } while (0)

static inline struct stat st_lstat(const char *root, const char *rel)
{
        _cleanup_free_ char *p = ocid_path_join(root, rel);
        struct stat st;

        if (lstat(p, &st) < 0) {
                print_error("lstat '%s': %s\n", p, strerror(errno));
                fail();
        }
        return st;
}

/* Names in root/rel, sorted, space-separated. */
static inline char *st_list(const char *root, const char *rel)
{
        _cleanup_free_ char *p = ocid_path_join(root, rel);
        struct dirent **names = NULL;
        char *out = xstrdup("");
        int n = scandir(p, &names, NULL, alphasort);

        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
                if (!streq(names[i]->d_name, ".") && !streq(names[i]->d_name, "..")) {
                        char *o = xasprintf("%s%s%s", out, *out ? " " : "", names[i]->d_name);

                        free(out);
                        out = o;
                }
                free(names[i]);
        }
        free(names);
        return out;
}

#define assert_list(root, rel, expected)                                          \
        do {                                                                      \
                char *_l = st_list((root), (rel));                                \
                assert_string_equal(_l, (expected));                              \
                free(_l);                                                         \
        } while (0)

/* The union of layers 1..3 with their whiteouts, as a container sees it. */
static inline void st_check_view3(const char *root)
{
        _cleanup_free_ char *sh = ocid_path_join(root, "bin/sh"), *lib = ocid_path_join(root, "lib");
        struct stat a, b;
        char target[64], x[16];
        ssize_t n;

        assert_list(root, "", "bin dev etc home lib opq run.fifo three two usr");
        assert_file(root, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
        assert_file(root, "etc/hosts", "10.0.0.1 node\n");
        assert_file(root, "etc/hosts.link", "10.0.0.1 node\n");
        assert_file(root, "bin/sh", "#!shell\n");
        assert_file(root, "bin/ash", "#!shell\n");
        assert_file(root, "usr/lib/libc.so", "ELF2");
        assert_file(root, "lib/libc.so", "ELF2");
        assert_file(root, "two", "2");
        assert_file(root, "three", "3");
        /* whiteouts: a file, a directory; an opaque directory */
        assert_absent(root, "gone");
        assert_absent(root, "del");
        assert_list(root, "opq", "new");
        assert_file(root, "opq/new", "new");
        /* links, modes, times, attributes */
        n = readlink(lib, target, sizeof(target) - 1);
        assert_true(n > 0);
        target[n] = '\0';
        assert_string_equal(target, "usr/lib");
        a = st_lstat(root, "bin/sh");
        b = st_lstat(root, "bin/ash");
        assert_int_equal(a.st_ino, b.st_ino);
        assert_int_equal(a.st_mode & 07777, 0755);
        assert_int_equal(a.st_mtim.tv_sec, 1600000000);
        a = st_lstat(root, "etc/hosts");
        b = st_lstat(root, "etc/hosts.link");
        assert_int_equal(a.st_ino, b.st_ino);
        assert_int_equal(st_lstat(root, "bin/su").st_mode & 07777, 04755);
        assert_true(S_ISFIFO(st_lstat(root, "run.fifo").st_mode));
        assert_int_equal(getxattr(sh, "user.origin", x, sizeof(x)), 6);
        assert_memory_equal(x, "layer1", 6);
        if (geteuid() == 0) {
                struct stat d = st_lstat(root, "dev/null");

                assert_true(S_ISCHR(d.st_mode));
                assert_int_equal(major(d.st_rdev), 1);
                assert_int_equal(minor(d.st_rdev), 3);
                assert_int_equal(st_lstat(root, "home/user").st_uid, 1000);
                assert_int_equal(st_lstat(root, "home/user/.profile").st_gid, 1000);
        } else {
                assert_absent(root, "dev/null");
        }
        assert_int_equal(st_lstat(root, "home/user").st_mode & 07777, 0700);
}

/* ---- mounts ------------------------------------------------------------------------- */

/* Unmounts everything mounted below dir (deepest first), lazily. */
static inline void st_unmount_below(const char *dir)
{
        for (int round = 0; round < 64; round++) {
                _cleanup_free_ char *info = NULL, *found = NULL;
                _cleanup_error_ struct ocid_error *e = NULL;
                size_t n = strlen(dir);

                if (ocid_read_file("/proc/self/mountinfo", 16u << 20, &info, NULL, &e) < 0)
                        return;
                for (char *line = strtok(info, "\n"); line; line = strtok(NULL, "\n")) {
                        char mnt[4096];

                        if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && strncmp(mnt, dir, n) == 0 &&
                            mnt[n] == '/') {
                                free(found);
                                found = xstrdup(mnt);
                        }
                }
                if (!found)
                        return;
                (void) umount2(found, MNT_DETACH);
        }
}

/* How many mounts sit exactly on path. */
static inline int st_mount_count(const char *path)
{
        _cleanup_free_ char *info = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        int count = 0;

        assert_int_equal(ocid_read_file("/proc/self/mountinfo", 16u << 20, &info, NULL, &e), 0);
        for (char *line = strtok(info, "\n"); line; line = strtok(NULL, "\n")) {
                char mnt[4096];

                if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && streq(mnt, path))
                        count++;
        }
        return count;
}

/* ---- cases both modules run ----------------------------------------------------------- */

/* Writes `text` to root/rel. */
static inline void st_write(const char *root, const char *rel, const char *text)
{
        test_write_file(root, rel, text);
}

static inline void st_unlink(const char *root, const char *rel)
{
        _cleanup_free_ char *p = ocid_path_join(root, rel);

        if (unlink(p) < 0) {
                print_error("unlink '%s': %s\n", p, strerror(errno));
                fail();
        }
}

/* Counts the leftovers named ".tmp-*" in <store>/<area>. */
static inline int st_tmp_count(const char *store, const char *area)
{
        _cleanup_free_ char *p = ocid_path_join(store, area);
        _cleanup_closedir_ DIR *d = opendir(p);
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (ocid_startswith(de->d_name, ".tmp-"))
                        n++;
        return n;
}

/* What a module test tells the shared cases. */
struct st_kind {
        const char *name;       /* "storage-vfs" */
        const char *writable;   /* the member of rootfs/<id>/ that takes writes */
        bool mounts;            /* rootfs_mount mounts something */
};

static char *st_tmp;                    /* the host root of the current test */
static struct ocid_module *st_m;        /* the module the current test started */

static inline int st_setup(void **state)
{
        st_tmp = test_tmpdir_new();
        ocid_host_set_paths(st_tmp, st_tmp);
        return 0;
}

/* Also after a failed test: its mounts and its module go. */
static inline int st_teardown(void **state)
{
        module_fini(st_m);
        st_m = NULL;
        st_unmount_below(st_tmp);
        test_tmpdir_free(st_tmp);
        st_tmp = NULL;
        return 0;
}

/* Starts module k for the current test (st_teardown finalises it). */
static inline struct ocid_module *st_start(const char *name)
{
        module_fini(st_m);
        st_m = test_module_start(name, NULL);
        return st_m;
}

static inline void st_stop(void)
{
        module_fini(st_m);
        st_m = NULL;
}

static inline char *st_store(const struct st_kind *k)
{
        return ocid_path_join(st_tmp, k->name);
}

static inline char *st_mount(struct ocid_module *m, const char *id)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        char *path = NULL;
        int r;

        r = storage_rootfs_mount(m, id, &path, &e);
        assert_no_error(r, e);
        return path;
}

static inline void st_ok(int r, struct ocid_error **e)
{
        assert_no_error(r, *e);
}

/* The union of the chain through a mounted rootfs; writes go to its
 * writable part and never to the layers; they survive an unmount; remove
 * unmounts. */
static inline void st_case_view(const struct st_kind *k)
{
        struct ocid_module *m = st_start(k->name);
        _cleanup_free_ char *store = st_store(k), *path = NULL, *again = NULL, *expect = NULL;
        _cleanup_free_ char *writable = NULL, *l1 = st_id(1), *l3 = st_id(3), *layer1 = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        st_chain(m);
        r = storage_rootfs_create(m, "c1", l3, &e);
        st_ok(r, &e);
        path = st_mount(m, "c1");
        expect = xasprintf("%s/rootfs/c1/%s", store, k->mounts ? "merged" : "root");
        assert_string_equal(path, expect);
        st_check_view3(path);
        again = st_mount(m, "c1");
        assert_string_equal(again, path);
        if (k->mounts)
                assert_int_equal(st_mount_count(path), 1);

        /* Writes land in the writable part. */
        writable = xasprintf("%s/rootfs/c1/%s", store, k->writable);
        st_write(path, "new-file", "hello");
        assert_file(writable, "new-file", "hello");
        st_write(path, "etc/hosts", "changed\n");
        assert_file(writable, "etc/hosts", "changed\n");
        assert_file(path, "etc/hosts.link", k->mounts ? "10.0.0.1 node\n" : "changed\n");
        st_unlink(path, "etc/passwd");
        assert_absent(path, "etc/passwd");
        /* the layers are untouched */
        layer1 = xasprintf("%s/layers/%s/%s", store, l1, k->mounts ? "diff" : "root");
        assert_file(layer1, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
        assert_file(layer1, "etc/hosts", "127.0.0.1 localhost\n");

        r = storage_rootfs_unmount(m, "c1", &e);
        st_ok(r, &e);
        if (k->mounts) {
                assert_int_equal(st_mount_count(path), 0);
                assert_absent(path, "etc");
        }
        r = storage_rootfs_unmount(m, "c1", &e);
        st_ok(r, &e);

        /* Mounted again, the changes are there. */
        free(again);
        again = st_mount(m, "c1");
        assert_file(again, "new-file", "hello");
        assert_absent(again, "etc/passwd");
        assert_file(again, "etc/hosts", "changed\n");
        assert_absent(again, "gone");

        /* Remove while mounted: unmounted first. */
        r = storage_rootfs_remove(m, "c1", &e);
        st_ok(r, &e);
        if (k->mounts)
                assert_int_equal(st_mount_count(path), 0);
        assert_absent(store, "rootfs/c1");
        free(again);
        again = NULL;
        r = storage_rootfs_mount(m, "c1", &again, &e);
        assert_error(r, e, ENOENT, "rootfs 'c1' does not exist");
        assert_null(again);
        ocid_error_clear(&e);
        r = storage_rootfs_unmount(m, "c1", &e);
        assert_error(r, e, ENOENT, "rootfs 'c1' does not exist");
}

/* Two rootfs share a layer; a rootfs on a middle layer sees only the
 * layers below it; layers in use cannot go. */
static inline void st_case_sharing(const struct st_kind *k)
{
        struct ocid_module *m = st_start(k->name);
        _cleanup_free_ char *l1 = st_id(1), *l2 = st_id(2), *l3 = st_id(3), *l9 = st_id(9);
        _cleanup_free_ char *p1 = NULL, *p2 = NULL, *p3 = NULL, *msg = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        st_chain(m);
        st_ok(storage_rootfs_create(m, "c1", l3, &e), &e);
        st_ok(storage_rootfs_create(m, "c2", l3, &e), &e);
        st_ok(storage_rootfs_create(m, "c3", l2, &e), &e);
        p1 = st_mount(m, "c1");
        p2 = st_mount(m, "c2");
        p3 = st_mount(m, "c3");
        st_check_view3(p1);
        st_check_view3(p2);
        st_write(p1, "three", "c1 was here");
        st_write(p2, "mine", "c2");
        assert_file(p1, "three", "c1 was here");
        assert_file(p2, "three", "3");
        assert_absent(p1, "mine");
        assert_file(p2, "mine", "c2");
        /* layer 2's view: no layer 3, so del is there */
        assert_file(p3, "del/x", "x");
        assert_absent(p3, "three");
        assert_absent(p3, "gone");
        assert_list(p3, "opq", "new");
        assert_file(p3, "usr/lib/libc.so", "ELF");

        /* in use */
        r = storage_layer_remove(m, l3, &e);
        assert_error(r, e, EBUSY, "is in use by rootfs 'c");
        ocid_error_clear(&e);
        r = storage_layer_remove(m, l2, &e);
        msg = xasprintf("layer '%s' is in use: it is the parent of layer '%s'", l2, l3);
        assert_error(r, e, EBUSY, msg);
        ocid_error_clear(&e);
        r = storage_layer_remove(m, l1, &e);
        assert_error(r, e, EBUSY, "in use");
        ocid_error_clear(&e);

        st_ok(storage_rootfs_remove(m, "c1", &e), &e);
        r = storage_layer_remove(m, l3, &e);
        assert_error(r, e, EBUSY, "is in use by rootfs 'c2'");
        ocid_error_clear(&e);
        st_ok(storage_rootfs_remove(m, "c2", &e), &e);
        st_ok(storage_layer_remove(m, l3, &e), &e);
        assert_int_equal(storage_layer_exists(m, l3, &e), 0);
        r = storage_layer_remove(m, l2, &e);
        assert_error(r, e, EBUSY, "is in use by rootfs 'c3'");
        ocid_error_clear(&e);
        assert_file(p3, "two", "2");
        st_ok(storage_rootfs_remove(m, "c3", &e), &e);
        st_ok(storage_layer_remove(m, l2, &e), &e);
        st_ok(storage_layer_remove(m, l1, &e), &e);
        assert_int_equal(storage_layer_exists(m, l1, &e), 0);

        /* absent */
        r = storage_layer_remove(m, l1, &e);
        free(msg);
        msg = xasprintf("layer '%s' does not exist", l1);
        assert_error(r, e, ENOENT, msg);
        ocid_error_clear(&e);
        r = storage_layer_remove(m, l9, &e);
        assert_error(r, e, ENOENT, "does not exist");
        ocid_error_clear(&e);
        r = storage_rootfs_remove(m, "c1", &e);
        assert_error(r, e, ENOENT, "rootfs 'c1' does not exist");
        free(msg);
        msg = st_store(k);
        assert_int_equal(st_tmp_count(msg, "layers"), 0);
        assert_int_equal(st_tmp_count(msg, "rootfs"), 0);
}

/* Existing IDs, missing parents, bad IDs, a hostile layer: errors that
 * leave nothing behind. */
static inline void st_case_errors(const struct st_kind *k)
{
        static const struct tentry hostile[] = {
                { T_FILE, "fine", "fine", 0, 0, 0, NULL, NULL, 0, 0 },
                { T_FILE, "../escaped", "x", 0, 0, 0, NULL, NULL, 0, 0 },
        };
        static const struct tentry tiny[] = {
                { T_FILE, "f", "f", 0, 0, 0, NULL, NULL, 0, 0 },
        };
        struct ocid_module *m = st_start(k->name);
        _cleanup_free_ char *l1 = st_id(1), *l2 = st_id(2), *l9 = st_id(9), *store = st_store(k);
        _cleanup_free_ char *msg = NULL, *path = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_close_ int fd = -1;
        uint64_t size = 77;
        int r;

        st_layer(m, 1, 0, tiny, ST_N(tiny));

        fd = st_make_tar(tiny, ST_N(tiny));
        r = storage_layer_create(m, l1, NULL, fd, &size, &e);
        msg = xasprintf("module '%s': layer_create: layer '%s' already exists", k->name, l1);
        assert_error(r, e, EEXIST, msg);
        assert_int_equal(size, 77);
        ocid_error_clear(&e);

        (void) lseek(fd, 0, SEEK_SET);
        r = storage_layer_create(m, l2, l9, fd, &size, &e);
        free(msg);
        msg = xasprintf("layer '%s' does not exist", l9);
        assert_error(r, e, ENOENT, msg);
        ocid_error_clear(&e);

        (void) lseek(fd, 0, SEEK_SET);
        r = storage_layer_create(m, "sha256:abc", NULL, fd, &size, &e);
        assert_error(r, e, EINVAL, "invalid layer ID 'sha256:abc'");
        ocid_error_clear(&e);
        r = storage_layer_create(m, l2, "ABCDEF", fd, &size, &e);
        assert_error(r, e, EINVAL, "parent: invalid layer ID 'ABCDEF'");
        ocid_error_clear(&e);
        r = storage_layer_create(m, l1, l1, fd, &size, &e);
        assert_error(r, e, EINVAL, "cannot be its own parent");
        ocid_error_clear(&e);

        /* hostile: nothing outside, nothing left, the parent free again */
        (void) close(fd);
        fd = st_make_tar(hostile, ST_N(hostile));
        r = storage_layer_create(m, l2, l1, fd, &size, &e);
        assert_error(r, e, EINVAL, "layer entry '../escaped': path escapes the layer");
        ocid_error_clear(&e);
        assert_int_equal(storage_layer_exists(m, l2, &e), 0);
        assert_absent(store, "escaped");
        assert_absent(store, "layers/escaped");
        assert_int_equal(st_tmp_count(store, "layers"), 0);

        st_ok(storage_rootfs_create(m, "c1", l1, &e), &e);
        r = storage_rootfs_create(m, "c1", l1, &e);
        assert_error(r, e, EEXIST, "rootfs 'c1' already exists");
        ocid_error_clear(&e);
        r = storage_rootfs_create(m, "c2", l9, &e);
        assert_error(r, e, ENOENT, msg);
        ocid_error_clear(&e);
        r = storage_rootfs_create(m, "../c2", l1, &e);
        assert_error(r, e, EINVAL, "invalid rootfs ID '../c2'");
        ocid_error_clear(&e);
        r = storage_rootfs_create(m, "a,lowerdir=x", NULL, &e);
        assert_error(r, e, EINVAL, "invalid rootfs ID");
        ocid_error_clear(&e);
        r = storage_rootfs_mount(m, ".tmp-c1", &path, &e);
        assert_error(r, e, EINVAL, "invalid rootfs ID");
        ocid_error_clear(&e);
        assert_int_equal(storage_layer_exists(m, "nothex", &e), 0);
        assert_int_equal(st_tmp_count(store, "rootfs"), 0);
        st_ok(storage_rootfs_remove(m, "c1", &e), &e);
        st_ok(storage_layer_remove(m, l1, &e), &e);
}

/* What a crash leaves (temporary directories) is gone after a restart; what
 * was complete stays. */
static inline void st_case_leftovers(const struct st_kind *k)
{
        static const struct tentry tiny[] = {
                { T_DIR, "ro", NULL, 0555, 0, 0, NULL, NULL, 0, 0 },
                { T_FILE, "ro/f", "f", 0444, 0, 0, NULL, NULL, 0, 0 },
        };
        struct ocid_module *m = st_start(k->name);
        _cleanup_free_ char *l1 = st_id(1), *store = st_store(k), *tmp1 = NULL, *tmp2 = NULL, *sub = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;

        st_layer(m, 1, 0, tiny, ST_N(tiny));
        st_ok(storage_rootfs_create(m, "c1", l1, &e), &e);
        st_stop();

        /* a layer half unpacked, a rootfs half removed */
        tmp1 = xasprintf("%s/layers/.tmp-%s-Ab12Cd", store, l1);
        sub = xasprintf("%s/diff", tmp1);
        assert_int_equal(mkdir(tmp1, 0700), 0);
        assert_int_equal(mkdir(sub, 0755), 0);
        test_write_file(sub, "partial", "par");
        assert_int_equal(chmod(sub, 0555), 0);
        tmp2 = xasprintf("%s/rootfs/.tmp-c2-rm-0123456789ab", store);
        assert_int_equal(mkdir(tmp2, 0700), 0);
        test_write_file(tmp2, "meta.json", "{}");
        assert_int_equal(st_tmp_count(store, "layers"), 1);
        assert_int_equal(st_tmp_count(store, "rootfs"), 1);

        m = st_start(k->name);
        assert_int_equal(st_tmp_count(store, "layers"), 0);
        assert_int_equal(st_tmp_count(store, "rootfs"), 0);
        assert_int_equal(storage_layer_exists(m, l1, &e), 1);
        path = st_mount(m, "c1");
        assert_file(path, "ro/f", "f");
        st_ok(storage_rootfs_remove(m, "c1", &e), &e);
        st_ok(storage_layer_remove(m, l1, &e), &e);
}

/* Usage of the store and of one rootfs: plausible, and growing with a
 * file written into the rootfs. */
static inline void st_case_usage(const struct st_kind *k)
{
        struct ocid_module *m = st_start(k->name);
        _cleanup_free_ char *l3 = st_id(3), *store = st_store(k), *path = NULL, *big = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_storage_usage empty, full, c0, c1, after;
        struct stat a, b;
        size_t len;

        st_ok(storage_usage(m, &empty, &e), &e);
        /* the store directory itself and its areas at least */
        assert_true(empty.inodes >= 3);
        assert_true(empty.bytes > 0);
        assert_non_null(empty.mountpoint);
        len = strlen(empty.mountpoint);
        assert_true(streq(empty.mountpoint, "/") ||
                    (strncmp(store, empty.mountpoint, len) == 0 && store[len] == '/'));
        assert_int_equal(stat(empty.mountpoint, &a), 0);
        assert_int_equal(stat(store, &b), 0);
        assert_int_equal(a.st_dev, b.st_dev);

        st_chain(m);
        st_ok(storage_usage(m, &full, &e), &e);
        /* at least every entry of layer 1 once more */
        assert_true(full.inodes >= empty.inodes + ST_N(st_layer1) - 1);
        assert_true(full.bytes > empty.bytes);
        st_ok(storage_rootfs_create(m, "c1", l3, &e), &e);
        path = st_mount(m, "c1");
        st_ok(storage_rootfs_usage(m, "c1", &c0, &e), &e);
        assert_true(c0.inodes >= 1);
        assert_string_equal(c0.mountpoint, empty.mountpoint);

        big = xmalloc(200001);
        memset(big, 'x', 200000);
        big[200000] = '\0';
        st_write(path, "big", big);
        st_ok(storage_rootfs_usage(m, "c1", &c1, &e), &e);
        assert_int_equal(c1.inodes, c0.inodes + 1);
        assert_true(c1.bytes >= c0.bytes + 200000);
        st_ok(storage_usage(m, &after, &e), &e);
        st_ok(storage_usage(m, &full, &e), &e);
        assert_true(after.bytes >= 200000);
        st_ok(storage_rootfs_remove(m, "c1", &e), &e);
        st_ok(storage_usage(m, &after, &e), &e);
        assert_true(after.bytes < full.bytes);
        assert_true(after.inodes < full.inodes);
        assert_int_equal(storage_rootfs_usage(m, "c1", &c1, &e), -ENOENT);
}

/* A rootfs without layers: empty, writable. */
static inline void st_case_empty_rootfs(const struct st_kind *k)
{
        struct ocid_module *m = st_start(k->name);
        _cleanup_free_ char *store = st_store(k), *path = NULL, *writable = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;

        st_ok(storage_rootfs_create(m, "scratch", NULL, &e), &e);
        path = st_mount(m, "scratch");
        assert_list(path, "", "");
        st_write(path, "hello", "world");
        writable = xasprintf("%s/rootfs/scratch/%s", store, k->writable);
        assert_file(writable, "hello", "world");
        if (k->mounts)
                assert_list(store, "empty", "");
        st_ok(storage_rootfs_remove(m, "scratch", &e), &e);
}

/* A chain of n layers: layer i adds n/<i>; every tenth layer also removes
 * the file of the layer before it and makes dir d opaque. */
static inline void st_case_long_chain(const struct st_kind *k, unsigned n)
{
        struct ocid_module *m = st_start(k->name);
        _cleanup_free_ char *top = st_id(n), *path = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;

        for (unsigned i = 1; i <= n; i++) {
                _cleanup_free_ char *f = xasprintf("n/%u", i), *prev = xasprintf("n/.wh.%u", i - 1);
                _cleanup_free_ char *d = xasprintf("d/%u", i);
                struct tentry t[] = {
                        { T_FILE, f, f, 0, 0, 0, NULL, NULL, 0, 0 },
                        { T_FILE, d, d, 0, 0, 0, NULL, NULL, 0, 0 },
                        { T_FILE, prev, "", 0, 0, 0, NULL, NULL, 0, 0 },
                        { T_FILE, "d/.wh..wh..opq", "", 0, 0, 0, NULL, NULL, 0, 0 },
                };

                st_layer(m, i, i - 1, t, i % 10 == 0 ? 4 : 2);
        }
        st_ok(storage_rootfs_create(m, "long", top, &e), &e);
        path = st_mount(m, "long");
        for (unsigned i = 1; i <= n; i++) {
                _cleanup_free_ char *f = xasprintf("n/%u", i), *d = xasprintf("d/%u", i);

                if (i % 10 == 9 && i < n)
                        assert_absent(path, f);
                else
                        assert_file(path, f, f);
                /* d holds the files of the last tenth layer and after */
                if (i >= (n / 10) * 10 || n < 10)
                        assert_file(path, d, d);
                else
                        assert_absent(path, d);
        }
        st_ok(storage_rootfs_remove(m, "long", &e), &e);
}

/* ---- concurrency ---------------------------------------------------------------------- */

#include <pthread.h>

struct st_child {
        struct ocid_module *m;
        char *id, *parent;
        int fd;
        int r;                  /* the create's result */
        char *message;
};

static void *st_child_thread(void *arg)
{
        struct st_child *c = arg;
        struct ocid_error *e = NULL;
        uint64_t size;

        c->r = storage_layer_create(c->m, c->id, c->parent, c->fd, &size, &e);
        c->message = e ? xstrdup(e->message) : NULL;
        ocid_error_free(e);
        return NULL;
}

/* Layers created on a parent while the parent is removed: the remove
 * either wins (and every create fails with ENOENT) or loses with EBUSY;
 * never a child without its parent. */
static inline void st_case_concurrent(const struct st_kind *k)
{
        static const struct tentry t[] = {
                { T_DIR, "d", NULL, 0, 0, 0, NULL, NULL, 0, 0 },
                { T_FILE, "d/f", "content", 0, 0, 0, NULL, NULL, 0, 0 },
        };
        struct ocid_module *m = st_start(k->name);
        unsigned won = 0, lost = 0;

        for (unsigned round = 0; round < 12; round++) {
                _cleanup_free_ char *parent = st_id(1000 + round);
                _cleanup_error_ struct ocid_error *e = NULL;
                struct st_child c[4];
                pthread_t th[4];
                int r;

                st_layer(m, 1000 + round, 0, t, ST_N(t));
                for (unsigned i = 0; i < 4; i++) {
                        c[i] = (struct st_child) { m, st_id(2000 + round * 10 + i), xstrdup(parent),
                                                   st_make_tar(t, ST_N(t)), 0, NULL };
                        assert_int_equal(pthread_create(&th[i], NULL, st_child_thread, &c[i]), 0);
                        if (i == round % 4)
                                (void) usleep(200 * (round % 3));
                }
                r = storage_layer_remove(m, parent, &e);
                for (unsigned i = 0; i < 4; i++)
                        assert_int_equal(pthread_join(th[i], NULL), 0);
                if (r == 0) {
                        won++;
                        assert_int_equal(storage_layer_exists(m, parent, &e), 0);
                } else {
                        lost++;
                        assert_int_equal(r, -EBUSY);
                        assert_int_equal(storage_layer_exists(m, parent, &e), 1);
                }
                ocid_error_clear(&e);
                for (unsigned i = 0; i < 4; i++) {
                        if (c[i].r == 0) {
                                assert_int_equal(r, -EBUSY);
                                st_ok(storage_layer_remove(m, c[i].id, &e), &e);
                        } else {
                                assert_int_equal(c[i].r, -ENOENT);
                                assert_contains(c[i].message, "does not exist");
                        }
                        (void) close(c[i].fd);
                        free(c[i].id);
                        free(c[i].parent);
                        free(c[i].message);
                }
                if (r < 0)
                        st_ok(storage_layer_remove(m, parent, &e), &e);
        }
        print_message("parent removal won %u, lost %u of 12\n", won, lost);
        assert_int_equal(won + lost, 12);
}
