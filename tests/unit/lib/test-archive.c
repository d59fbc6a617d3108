/* SPDX-License-Identifier: Apache-2.0 */
#include "lib-test.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <locale.h>
#include <stdbool.h>
#include <sys/mman.h> /* memfd_create */
#include <sys/stat.h>
#include <sys/syscall.h> /* SYS_openat2 */
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <ocid/archive.h>

/* ---- mock (STYLE §7): openat2 answers ENOSYS when armed -------------------------
 *
 * lib/archive.c calls syscall() only for openat2; each case runs twice, once
 * with the kernel's openat2 and once through the fallback path walk. */

static bool openat2_enosys;
static unsigned openat2_calls;

long __real_syscall(long nr, ...);
long __wrap_syscall(long nr, ...);
long __wrap_syscall(long nr, ...)
{
        va_list ap;
        int dfd;
        const char *path;
        void *how;
        size_t size;

        va_start(ap, nr);
        dfd = va_arg(ap, int);
        path = va_arg(ap, const char *);
        how = va_arg(ap, void *);
        size = va_arg(ap, size_t);
        va_end(ap);

        assert_int_equal(nr, SYS_openat2);
        openat2_calls++;
        if (openat2_enosys) {
                errno = ENOSYS;
                return -1;
        }
        return __real_syscall(nr, dfd, path, how, size);
}

/* ---- building archives ------------------------------------------------------- */

enum { T_FILE, T_DIR, T_SYMLINK, T_HARDLINK, T_CHR, T_BLK, T_FIFO };
enum { C_NONE, C_GZIP, C_ZSTD };

struct tentry {
        int type;
        const char *path;
        const char *data;   /* file content, or link target */
        unsigned mode;      /* 0: 0644 (files) or 0755 (directories) */
        int64_t uid, gid;
        int64_t mtime;      /* 0: 1600000000 */
        const char *xname;  /* one extended attribute */
        const void *xvalue;
        size_t xsize;       /* 0: strlen(xvalue) */
        unsigned major, minor;
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A memfd, at offset 0, holding the entries as a pax archive. Names are
 * written as UTF-8, as image builders do; the reader runs in the C locale,
 * as the daemon does. */
static int make_archive(const struct tentry *t, size_t n, int compression)
{
        struct archive *a = archive_write_new();
        int fd = memfd_create("layer", MFD_CLOEXEC);

        assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));

        assert_non_null(a);
        assert_true(fd >= 0);
        assert_int_equal(archive_write_set_format_pax(a), ARCHIVE_OK);
        if (compression == C_GZIP)
                assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
        else if (compression == C_ZSTD)
                assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);

        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                size_t len = 0;

                archive_entry_set_pathname(e, t[i].path);
                archive_entry_set_uid(e, t[i].uid);
                archive_entry_set_gid(e, t[i].gid);
                archive_entry_set_mtime(e, t[i].mtime ? t[i].mtime : 1600000000, 0);
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
                case T_BLK:
                        archive_entry_set_filetype(e, t[i].type == T_CHR ? AE_IFCHR : AE_IFBLK);
                        archive_entry_set_perm(e, t[i].mode ? t[i].mode : 0666);
                        archive_entry_set_rdevmajor(e, t[i].major);
                        archive_entry_set_rdevminor(e, t[i].minor);
                        break;
                case T_FIFO:
                        archive_entry_set_filetype(e, AE_IFIFO);
                        archive_entry_set_perm(e, t[i].mode ? t[i].mode : 0600);
                        break;
                }
                if (t[i].xname)
                        archive_entry_xattr_add_entry(e, t[i].xname, t[i].xvalue,
                                                      t[i].xsize ? t[i].xsize : strlen(t[i].xvalue));
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                if (len)
                        assert_int_equal(archive_write_data(a, t[i].data, len), (la_ssize_t) len);
                archive_entry_free(e);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        assert_int_equal(archive_write_free(a), ARCHIVE_OK);
        assert_non_null(setlocale(LC_CTYPE, "C"));
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

/* ---- fixture: <top>/layer is the destination, <top>/outside a sentinel --------- */

struct fixture {
        char *top, *dest, *outside, *secret;
        bool walk;
};

static int setup(void **state)
{
        struct fixture *f = xzalloc(sizeof(*f));

        f->walk = *state != NULL;
        f->top = make_tmpdir();
        f->dest = xasprintf("%s/layer", f->top);
        f->outside = xasprintf("%s/outside", f->top);
        f->secret = xasprintf("%s/secret", f->outside);
        assert_int_equal(mkdir(f->dest, 0755), 0);
        assert_int_equal(mkdir(f->outside, 0755), 0);
        write_text(f->secret, "secret");
        openat2_enosys = f->walk;
        openat2_calls = 0;
        *state = f;
        return 0;
}

static int make_dir_writable(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        if (type == FTW_D)
                (void) chmod(path, 0700);
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        openat2_enosys = false;
        /* read-only directories a test unpacked, for rm -rf without root */
        assert_int_equal(nftw(f->top, make_dir_writable, 64, FTW_PHYS | FTW_MOUNT), 0);
        rm_tmpdir(f->top);
        free(f->dest);
        free(f->outside);
        free(f->secret);
        free(f);
        return 0;
}

static char *at(const struct fixture *f, const char *rel)
{
        return xasprintf("%s/%s", f->dest, rel);
}

static size_t count_dir(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

/* Nothing appeared beside the destination, and the sentinel is untouched. */
static void assert_outside_intact(const struct fixture *f)
{
        struct stat st;
        char *s = NULL;
        struct ocid_error *err = NULL;

        assert_int_equal(count_dir(f->top), 2);
        assert_int_equal(count_dir(f->outside), 1);
        assert_int_equal(lstat(f->secret, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_nlink, 1);
        assert_int_equal(ocid_read_file(f->secret, 100, &s, NULL, &err), 0);
        assert_string_equal(s, "secret");
        free(s);
}

static int extract(const struct fixture *f, const struct tentry *t, size_t n, uint32_t flags,
                   struct ocid_archive_stats *stats, struct ocid_error **err)
{
        int fd = make_archive(t, n, C_NONE);
        int r = ocid_archive_extract(fd, f->dest, flags, stats, err);

        close(fd);
        return r;
}

/* Extraction fails with code and exactly message; nothing outside changed. */
static void assert_refused(const struct fixture *f, const struct tentry *t, size_t n, uint32_t flags, int code,
                           const char *message)
{
        struct ocid_error *err = NULL;
        struct ocid_archive_stats stats = { .entries = 12345 };

        assert_int_equal(extract(f, t, n, flags, &stats, &err), -code);
        assert_err(err, code, message);
        assert_int_equal(stats.entries, 12345); /* untouched on failure */
        assert_outside_intact(f);
}

static void assert_extracts(const struct fixture *f, const struct tentry *t, size_t n, uint32_t flags,
                            struct ocid_archive_stats *stats)
{
        struct ocid_error *err = NULL;
        struct ocid_archive_stats s;

        if (extract(f, t, n, flags, stats ? stats : &s, &err) < 0)
                fail_msg("extract: %s", ocid_error_message(&err));
        assert_outside_intact(f);
}

static char *read_at(const struct fixture *f, const char *rel)
{
        _cleanup_free_ char *p = at(f, rel);
        struct ocid_error *err = NULL;
        char *s = NULL;

        if (ocid_read_file(p, 1 << 20, &s, NULL, &err) < 0)
                fail_msg("%s", ocid_error_message(&err));
        return s;
}

static void assert_content(const struct fixture *f, const char *rel, const char *text)
{
        _cleanup_free_ char *s = read_at(f, rel);

        assert_string_equal(s, text);
}

static struct stat lstat_at(const struct fixture *f, const char *rel)
{
        _cleanup_free_ char *p = at(f, rel);
        struct stat st;

        if (lstat(p, &st) < 0)
                fail_msg("lstat '%s': %s", rel, strerror(errno));
        return st;
}

static bool exists_at(const struct fixture *f, const char *rel)
{
        _cleanup_free_ char *p = at(f, rel);
        struct stat st;

        return lstat(p, &st) == 0;
}

static char *xattr_at(const struct fixture *f, const char *rel, const char *name)
{
        _cleanup_free_ char *p = at(f, rel);
        char buf[256];
        ssize_t n = lgetxattr(p, name, buf, sizeof(buf) - 1);

        if (n < 0)
                return NULL;
        buf[n] = '\0';
        return xstrdup(buf);
}

/* Fails when any name below dir starts with ".wh.". */
static void assert_no_whiteout_names(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;

        assert_non_null(d);
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (ocid_startswith(de->d_name, ".wh."))
                        fail_msg("'%s/%s' left in the output", dir, de->d_name);
                p = xasprintf("%s/%s", dir, de->d_name);
                if (de->d_type == DT_DIR)
                        assert_no_whiteout_names(p);
        }
        closedir(d);
}

static bool is_root(void)
{
        return geteuid() == 0;
}

/* Each case runs with openat2 and with the fallback walk. */
#define BOTH(name)                                                                                   \
        cmocka_unit_test_prestate_setup_teardown(name, setup, teardown, NULL),                      \
        cmocka_unit_test_prestate_setup_teardown(name, setup, teardown, (void *) 1)

/* ---- ordinary layers ------------------------------------------------------------- */

static void test_basic(void **state)
{
        struct fixture *f = *state;
        const struct tentry t[] = {
                { T_DIR, "./", .mode = 0751, .mtime = 1500000000 },
                { T_DIR, "etc", .mode = 0755, .mtime = 1000000 },
                { T_FILE, "etc/hosts", "127.0.0.1 localhost\n", 0640, 1001, 1002, 1234567890, "user.test", "hello" },
                { T_FILE, "bin/su", "su", 04755 },
                { T_FILE, "usr/bin/sg", "sg", 02755 },
                { T_DIR, "ro", .mode = 0555, .mtime = 2000000 },
                { T_FILE, "ro/f", "ro", 0444 },
                { T_DIR, "private", .mode = 0700, .uid = 1001, .gid = 1001 },
                { T_FILE, "private/key", "k", 0600, 1001, 1001 },
                { T_SYMLINK, "etc/localtime", "/usr/share/zoneinfo/UTC", .mtime = 1111, .uid = 7, .gid = 8 },
                { T_SYMLINK, "lib", "usr/lib" },
                { T_FILE, "usr/lib/libc.so", "ELF" },
                { T_HARDLINK, "bin/su2", "bin/su" },
                { T_HARDLINK, "bin/su3", "/bin/su" },
                { T_FILE, "/abs/file", "abs" },
                { T_FILE, "./dot/./x//file", "dot" },
                { T_FIFO, "run/fifo", .mode = 0620 },
                { T_DIR, "sneaky", .xname = "trusted.overlay.opaque", .xvalue = "y" },
                { T_FILE, "sel", "s", .xname = "security.selinux", .xvalue = "system_u:object_r:etc_t:s0" },
                { T_FILE, "caf\xc3\xa9/na\xc3\xafve.txt", "utf-8" },
        };
        struct ocid_archive_stats stats;
        struct stat st;
        _cleanup_free_ char *x = NULL, *sx = NULL, *tx = NULL;

        assert_extracts(f, t, N(t), 0, &stats);

        assert_content(f, "etc/hosts", "127.0.0.1 localhost\n");
        assert_content(f, "bin/su", "su");
        assert_content(f, "usr/lib/libc.so", "ELF");
        assert_content(f, "abs/file", "abs");
        assert_content(f, "dot/x/file", "dot");
        assert_content(f, "caf\xc3\xa9/na\xc3\xafve.txt", "utf-8");

        st = lstat_at(f, ".");
        assert_int_equal(st.st_mode & 07777, 0751);
        assert_int_equal(st.st_mtim.tv_sec, 1500000000);
        st = lstat_at(f, "etc/hosts");
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(st.st_mtim.tv_sec, 1234567890);
        assert_int_equal(st.st_uid, is_root() ? 1001 : getuid());
        assert_int_equal(st.st_gid, is_root() ? 1002 : getgid());
        assert_int_equal(lstat_at(f, "bin/su").st_mode & 07777, 04755);
        assert_int_equal(lstat_at(f, "usr/bin/sg").st_mode & 07777, 02755);
        /* directories: mode and mtime set after their contents */
        st = lstat_at(f, "etc");
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mtim.tv_sec, 1000000);
        st = lstat_at(f, "ro");
        assert_int_equal(st.st_mode & 07777, 0555);
        assert_int_equal(st.st_mtim.tv_sec, 2000000);
        assert_content(f, "ro/f", "ro");
        assert_int_equal(lstat_at(f, "ro/f").st_mode & 07777, 0444);
        /* directories made for entries the archive did not list */
        st = lstat_at(f, "usr/bin");
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0755);
        if (is_root()) {
                assert_int_equal(lstat_at(f, "private").st_uid, 1001);
                assert_int_equal(lstat_at(f, "private/key").st_gid, 1001);
        }

        st = lstat_at(f, "etc/localtime");
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(st.st_mtim.tv_sec, 1111);
        if (is_root())
                assert_int_equal(st.st_uid, 7);
        {
                _cleanup_free_ char *p = at(f, "etc/localtime");
                char buf[64];
                ssize_t n = readlink(p, buf, sizeof(buf));

                assert_int_equal(n, strlen("/usr/share/zoneinfo/UTC"));
                assert_memory_equal(buf, "/usr/share/zoneinfo/UTC", n);
        }
        assert_true(S_ISLNK(lstat_at(f, "lib").st_mode));

        st = lstat_at(f, "bin/su");
        assert_int_equal(st.st_nlink, 3);
        assert_int_equal(lstat_at(f, "bin/su2").st_ino, st.st_ino);
        assert_int_equal(lstat_at(f, "bin/su3").st_ino, st.st_ino);

        st = lstat_at(f, "run/fifo");
        assert_true(S_ISFIFO(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0620);

        x = xattr_at(f, "etc/hosts", "user.test");
        assert_non_null(x);
        assert_string_equal(x, "hello");
        /* never taken from a layer */
        tx = xattr_at(f, "sneaky", "trusted.overlay.opaque");
        assert_null(tx);
        sx = xattr_at(f, "sel", "security.selinux");
        assert_true(sx == NULL || !streq(sx, "system_u:object_r:etc_t:s0"));

        assert_int_equal(stats.entries, N(t));
        assert_int_equal(stats.files, 10);
        assert_int_equal(stats.dirs, 5);
        assert_int_equal(stats.symlinks, 2);
        assert_int_equal(stats.hardlinks, 2);
        assert_int_equal(stats.specials, 1);
        assert_int_equal(stats.whiteouts, 0);
        assert_int_equal(stats.skipped, 0);
        assert_int_equal(stats.xattrs_skipped, 2);
        assert_int_equal(stats.bytes, strlen("127.0.0.1 localhost\n") + 2 + 2 + 2 + 1 + 3 + 3 + 3 + 1 + 5);
}

static void test_capability(void **state)
{
        struct fixture *f = *state;
        /* vfs_cap_data revision 2, effective, permitted = CAP_NET_RAW (13) */
        static const unsigned char cap[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x20 };
        const struct tentry t[] = {
                { T_FILE, "bin/ping", "ping", 0755, 0, 0, .xname = "security.capability", .xvalue = cap,
                  .xsize = sizeof(cap) },
        };
        struct ocid_archive_stats stats;
        _cleanup_free_ char *p = at(f, "bin/ping");
        unsigned char buf[64];
        ssize_t n;

        if (!is_root())
                skip();
        assert_extracts(f, t, N(t), 0, &stats);
        n = getxattr(p, "security.capability", buf, sizeof(buf));
        assert_int_equal(n, sizeof(cap));
        assert_memory_equal(buf, cap, sizeof(cap));
        assert_int_equal(stats.xattrs_skipped, 0);
}

static void test_replace(void **state)
{
        struct fixture *f = *state;
        const struct tentry t[] = {
                { T_FILE, "a", "first" },
                { T_HARDLINK, "a-link", "a" },
                { T_FILE, "a", "second" },       /* the hardlink keeps the first */
                { T_DIR, "d" },
                { T_FILE, "d/inner", "x" },
                { T_FILE, "d", "now a file" },   /* a directory with contents replaced */
                { T_FILE, "f" },
                { T_DIR, "f", .mode = 0700 },    /* a file replaced by a directory */
                { T_FILE, "s", "file" },
                { T_SYMLINK, "s", "target" },   /* a file replaced by a symlink */
                { T_DIR, "keep", .mode = 0700 },
                { T_FILE, "keep/one", "1" },
                { T_DIR, "keep", .mode = 0750 }, /* a directory updated, contents kept */
        };

        assert_extracts(f, t, N(t), 0, NULL);
        assert_content(f, "a", "second");
        assert_content(f, "a-link", "first");
        assert_content(f, "d", "now a file");
        assert_true(S_ISDIR(lstat_at(f, "f").st_mode));
        assert_int_equal(lstat_at(f, "f").st_mode & 07777, 0700);
        assert_true(S_ISLNK(lstat_at(f, "s").st_mode));
        assert_content(f, "keep/one", "1");
        assert_int_equal(lstat_at(f, "keep").st_mode & 07777, 0750);
}

/* ---- compression and broken input --------------------------------------------------- */

static void check_compressed(struct fixture *f, int compression)
{
        const struct tentry t[] = {
                { T_DIR, "d" },
                { T_FILE, "d/f", "compressed content" },
                { T_SYMLINK, "d/l", "f" },
        };
        struct ocid_error *err = NULL;
        struct ocid_archive_stats stats;
        int fd = make_archive(t, N(t), compression);

        if (ocid_archive_extract(fd, f->dest, 0, &stats, &err) < 0)
                fail_msg("%s", ocid_error_message(&err));
        close(fd);
        assert_content(f, "d/f", "compressed content");
        assert_true(S_ISLNK(lstat_at(f, "d/l").st_mode));
        assert_int_equal(stats.entries, 3);
        assert_int_equal(stats.bytes, strlen("compressed content"));
}

static void test_gzip(void **state)
{
        check_compressed(*state, C_GZIP);
}

static void test_zstd(void **state)
{
        check_compressed(*state, C_ZSTD);
}

static void test_garbage(void **state)
{
        struct fixture *f = *state;
        struct ocid_error *err = NULL;
        int fd = memfd_create("junk", MFD_CLOEXEC);
        const char junk[] = "this is not an archive, not even close to one";

        assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_true(ocid_archive_extract(fd, f->dest, 0, NULL, &err) < 0);
        assert_non_null(strstr(ocid_error_message(&err), "read layer: "));
        assert_non_null(strstr(ocid_error_message(&err), "nrecognized archive format"));
        ocid_error_clear(&err);
        close(fd);
        assert_int_equal(count_dir(f->dest), 0);
}

static void test_truncated(void **state)
{
        struct fixture *f = *state;
        static char big[200000];
        const struct tentry t[] = {
                { T_FILE, "one", "1" },
                { T_FILE, "big", big },
        };
        struct ocid_error *err = NULL;
        struct stat st;
        int fd, cut;

        uint32_t seed = 2463534242u;

        /* letters at random: compressing leaves most of the size */
        for (size_t i = 0; i < sizeof(big) - 1; i++) {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                big[i] = (char) ('a' + seed % 26);
        }
        fd = make_archive(t, N(t), C_GZIP);
        assert_int_equal(fstat(fd, &st), 0);
        cut = memfd_create("cut", MFD_CLOEXEC);
        assert_true(cut >= 0);
        assert_int_equal(copy_file_range(fd, NULL, cut, NULL, (size_t) st.st_size / 2, 0), st.st_size / 2);
        close(fd);
        assert_int_equal(lseek(cut, 0, SEEK_SET), 0);

        assert_true(ocid_archive_extract(cut, f->dest, 0, NULL, &err) < 0);
        assert_non_null(strstr(ocid_error_message(&err), "layer entry 'big': read content: "));
        ocid_error_clear(&err);
        close(cut);
}

static void test_empty(void **state)
{
        struct fixture *f = *state;
        struct ocid_error *err = NULL;
        struct ocid_archive_stats stats = { .entries = 99 };
        int fd = memfd_create("empty", MFD_CLOEXEC);

        assert_int_equal(ocid_archive_extract(fd, f->dest, 0, &stats, &err), 0);
        assert_int_equal(stats.entries, 0);
        close(fd);
        fd = make_archive(NULL, 0, C_GZIP);
        assert_int_equal(ocid_archive_extract(fd, f->dest, 0, &stats, &err), 0);
        assert_int_equal(stats.entries, 0);
        close(fd);
        assert_int_equal(count_dir(f->dest), 0);
}

/* ---- hostile layers -------------------------------------------------------------- */

static void test_escape_dotdot(void **state)
{
        struct fixture *f = *state;
        const struct tentry up[] = { { T_FILE, "../x", "x" } };
        const struct tentry deep[] = { { T_FILE, "ok", "ok" }, { T_FILE, "a/../../x", "x" } };
        const struct tentry inside[] = { { T_FILE, "a/../b", "x" } };
        const struct tentry dir[] = { { T_DIR, "../../outside-dir" } };
        const struct tentry sym[] = { { T_SYMLINK, "../link", "/" } };

        assert_refused(f, up, N(up), 0, EINVAL, "layer entry '../x': path escapes the layer");
        assert_refused(f, deep, N(deep), 0, EINVAL, "layer entry 'a/../../x': path escapes the layer");
        assert_refused(f, inside, N(inside), 0, EINVAL,
                       "layer entry 'a/../b': path contains '..', which is refused");
        /* libarchive writes directory names with a trailing "/" */
        assert_refused(f, dir, N(dir), 0, EINVAL, "layer entry '../../outside-dir/': path escapes the layer");
        assert_refused(f, sym, N(sym), 0, EINVAL, "layer entry '../link': path escapes the layer");
        /* the entry before the bad one was unpacked, nothing else */
        assert_int_equal(count_dir(f->dest), 1);
        assert_content(f, "ok", "ok");
}

static void test_escape_absolute(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *abs = xasprintf("%s/planted", f->outside);
        const struct tentry t[] = {
                { T_FILE, abs, "inside after all" },
                { T_DIR, "/" },
        };

        assert_extracts(f, t, N(t), 0, NULL);
        /* the absolute name lands below the layer root */
        {
                _cleanup_free_ char *rel = xasprintf("%s/planted", f->outside + 1);
                assert_content(f, rel, "inside after all");
        }
}

static void test_escape_symlink_root(void **state)
{
        struct fixture *f = *state;
        struct stat before, after;
        const struct tentry t[] = {
                { T_SYMLINK, "link", "/" },
                { T_FILE, "link/etc/passwd", "root::0:0::/:/bin/sh\n" },
                { T_DIR, f->outside },
                { T_SYMLINK, "absl", f->outside },
                { T_FILE, "absl/evil", "evil" },
                { T_FILE, "absl/secret", "overwritten?" },
        };
        /* a symlink to where nothing is inside the root: no directory is
         * made through it */
        const struct tentry dangling[] = {
                { T_SYMLINK, "dangling", "/nowhere/at/all" },
                { T_FILE, "dangling/evil", "evil" },
        };

        assert_int_equal(stat("/etc/passwd", &before), 0);
        assert_extracts(f, t, N(t), 0, NULL);
        assert_int_equal(stat("/etc/passwd", &after), 0);
        assert_int_equal(before.st_ino, after.st_ino);
        assert_int_equal(before.st_size, after.st_size);
        assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
        /* resolved as if the layer were "/" */
        assert_content(f, "etc/passwd", "root::0:0::/:/bin/sh\n");
        {
                _cleanup_free_ char *evil = xasprintf("%s/evil", f->outside + 1);
                _cleanup_free_ char *secret = xasprintf("%s/secret", f->outside + 1);
                assert_content(f, evil, "evil");
                assert_content(f, secret, "overwritten?");
        }
        if (!f->walk)
                assert_true(openat2_calls > 0);
        assert_refused(f, dangling, N(dangling), 0, ENOENT,
                       "layer entry 'dangling/evil': open directory 'dangling': No such file or directory");
        assert_false(exists_at(f, "nowhere"));
}

static void test_escape_symlink_relative(void **state)
{
        struct fixture *f = *state;
        const struct tentry t[] = {
                { T_SYMLINK, "up", "../.." },
                { T_FILE, "up/escaped", "e" },
                { T_DIR, "outside" },
                { T_SYMLINK, "a/b/c", "../../../../outside" },
                { T_FILE, "a/b/c/secret", "no" },
                { T_SYMLINK, "loop1", "loop2" },
                { T_SYMLINK, "loop2", "loop1" },
        };
        const struct tentry loop[] = { { T_FILE, "loop1/x", "x" } };

        assert_extracts(f, t, N(t), 0, NULL);
        assert_content(f, "escaped", "e");
        assert_content(f, "outside/secret", "no");
        assert_refused(f, loop, N(loop), 0, ELOOP,
                       "layer entry 'loop1/x': too many symbolic links resolving 'loop1'");
}

static void test_escape_hardlink(void **state)
{
        struct fixture *f = *state;
        struct stat before, after;
        _cleanup_free_ char *abs_secret = xstrdup(f->secret);
        const struct tentry passwd[] = { { T_HARDLINK, "h", "/etc/passwd" } };
        const struct tentry up[] = { { T_HARDLINK, "h", "../outside/secret" } };
        const struct tentry abs[] = { { T_HARDLINK, "h", abs_secret } };
        const struct tentry via[] = {
                { T_SYMLINK, "l", f->outside },
                { T_HARDLINK, "h", "l/secret" },
        };
        const struct tentry via_rel[] = {
                { T_SYMLINK, "r", "../outside" },
                { T_HARDLINK, "h", "r/secret" },
        };
        const struct tentry dir[] = { { T_DIR, "d" }, { T_HARDLINK, "h", "d" } };
        const struct tentry root[] = { { T_HARDLINK, "h", "/" } };

        assert_int_equal(stat("/etc/passwd", &before), 0);
        assert_refused(f, passwd, N(passwd), 0, ENOENT,
                       "layer entry 'h': hardlink target '/etc/passwd' does not exist in the layer");
        assert_int_equal(stat("/etc/passwd", &after), 0);
        assert_int_equal(before.st_nlink, after.st_nlink);
        assert_refused(f, up, N(up), 0, EINVAL,
                       "layer entry 'h': hardlink target '../outside/secret': path escapes the layer");
        {
                _cleanup_free_ char *msg = xasprintf(
                        "layer entry 'h': hardlink target '%s' does not exist in the layer", abs_secret);
                assert_refused(f, abs, N(abs), 0, ENOENT, msg);
        }
        assert_refused(f, via, N(via), 0, ENOENT,
                       "layer entry 'h': hardlink target 'l/secret' does not exist in the layer");
        assert_refused(f, via_rel, N(via_rel), 0, ENOENT,
                       "layer entry 'h': hardlink target 'r/secret' does not exist in the layer");
        assert_refused(f, dir, N(dir), 0, EPERM, "layer entry 'h': hardlink target 'd' is a directory");
        assert_refused(f, root, N(root), 0, EPERM, "layer entry 'h': hardlink target '/' is the layer root");
        assert_false(exists_at(f, "h"));
}

static void test_escape_hardlink_to_symlink(void **state)
{
        struct fixture *f = *state;
        const struct tentry t[] = {
                { T_SYMLINK, "s", f->secret },
                { T_HARDLINK, "h", "s" },
        };

        /* linking a symlink links the symlink itself */
        assert_extracts(f, t, N(t), 0, NULL);
        assert_true(S_ISLNK(lstat_at(f, "h").st_mode));
        assert_int_equal(lstat_at(f, "h").st_ino, lstat_at(f, "s").st_ino);
}

static void test_escape_replace_symlink(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *target = xasprintf("%s/target", f->outside);
        _cleanup_free_ char *pre = at(f, "pre");
        _cleanup_free_ char *pre_dir = at(f, "pre-dir");
        const struct tentry t[] = {
                { T_DIR, f->outside },
                { T_SYMLINK, "f", target },
                { T_FILE, "f", "replaces the link" },
                { T_SYMLINK, "g", f->secret },
                { T_FILE, "g", "not into the secret" },
                { T_SYMLINK, "d", f->outside },
                { T_DIR, "d" },
                { T_FILE, "d/file", "in d" },
                { T_FILE, "pre", "replaces a link that was there" },
                { T_FILE, "pre-dir/x", "below a link that was there" },
                { T_SYMLINK, "n", f->outside },
                { T_FIFO, "n" },
                { T_SYMLINK, "sl", f->secret },
                { T_SYMLINK, "sl", "elsewhere" },
        };

        /* links that were in the destination before (a lower layer) */
        assert_int_equal(symlink(f->secret, pre), 0);
        assert_int_equal(symlink(f->outside, pre_dir), 0);
        assert_extracts(f, t, N(t), OCID_ARCHIVE_WHITEOUT_APPLY, NULL);
        assert_true(S_ISREG(lstat_at(f, "f").st_mode));
        assert_content(f, "f", "replaces the link");
        assert_content(f, "g", "not into the secret");
        assert_true(S_ISDIR(lstat_at(f, "d").st_mode));
        assert_content(f, "d/file", "in d");
        assert_content(f, "pre", "replaces a link that was there");
        assert_true(S_ISREG(lstat_at(f, "pre").st_mode));
        {
                /* pre-dir is followed inside the root only */
                _cleanup_free_ char *rel = xasprintf("%s/x", f->outside + 1);
                assert_content(f, rel, "below a link that was there");
        }
        assert_true(S_ISFIFO(lstat_at(f, "n").st_mode));
        assert_true(S_ISLNK(lstat_at(f, "sl").st_mode));
}

static void test_names(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *longname = xmalloc(5000);
        _cleanup_free_ char *longcomp = xmalloc(300);
        _cleanup_free_ char *msg = NULL;
        _cleanup_free_ char *longtarget = xmalloc(5000);
        const struct tentry tl[] = { { T_FILE, longname, "x" } };
        const struct tentry tc[] = { { T_FILE, longcomp, "x" } };
        const struct tentry ctrl[] = { { T_FILE, "bad\n\x1b[31m/../../x", "x" } };
        const struct tentry tt[] = { { T_SYMLINK, "s", longtarget } };
        const struct tentry notdir[] = { { T_FILE, "file", "f" }, { T_FILE, "file/below", "x" } };
        const struct tentry rootfile[] = { { T_FILE, ".", "x" } };

        memset(longname, 'a', 4999);
        for (size_t i = 100; i < 4999; i += 100)
                longname[i] = '/';
        longname[4999] = '\0';
        memset(longcomp, 'b', 299);
        longcomp[299] = '\0';
        memset(longtarget, 'c', 4999);
        longtarget[4999] = '\0';

        msg = xasprintf("layer entry '%.256s...': name is longer than 4096 bytes", longname);
        assert_refused(f, tl, N(tl), 0, ENAMETOOLONG, msg);
        free(msg);
        msg = xasprintf("layer entry '%.256s...': path component is longer than 255 bytes", longcomp);
        assert_refused(f, tc, N(tc), 0, ENAMETOOLONG, msg);
        assert_refused(f, ctrl, N(ctrl), 0, EINVAL, "layer entry 'bad??[31m/../../x': path escapes the layer");
        assert_refused(f, tt, N(tt), 0, ENAMETOOLONG,
                       "layer entry 's': symbolic link target is longer than 4096 bytes");
        assert_refused(f, notdir, N(notdir), 0, ENOTDIR, "layer entry 'file/below': 'file' is not a directory");
        assert_refused(f, rootfile, N(rootfile), 0, EINVAL, "layer entry '.': the layer root is not a directory");
}

/* ---- whiteouts ------------------------------------------------------------------- */

static void populate_lower(struct fixture *f)
{
        static const char *files[] = { "a/x", "a/y", "b/old", "b/sub/old2", "c/keep", "d/deep/file",
                                       "e/lowerfile", "f/lower" };

        for (size_t i = 0; i < N(files); i++) {
                _cleanup_free_ char *p = at(f, files[i]), *dir = xstrdup(p);
                struct ocid_error *err = NULL;

                *strrchr(dir, '/') = '\0';
                assert_int_equal(ocid_mkdir_p(dir, 0755, &err), 0);
                write_text(p, "lower");
        }
}

static void test_whiteout_apply(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *wh_secret = xasprintf("%s/.wh.secret", f->outside);
        const struct tentry t[] = {
                { T_FILE, "a/.wh.x" },
                { T_FILE, "b/new", "new" },
                { T_FILE, "b/sub/new2", "new2" },
                { T_FILE, "b/.wh..wh..opq" },
                { T_FILE, "c/mine", "mine" },
                { T_FILE, "c/.wh.mine" },
                { T_FILE, ".wh.d" },
                { T_FILE, ".wh.nonexistent" },
                { T_FILE, "a/.wh..." },
                { T_FILE, ".wh..wh.plnk/123.456", "aufs" },
                { T_FILE, ".wh..wh.aufs" },
                { T_DIR, "e" },
                { T_FILE, "e/new", "new" },
                { T_FILE, "e/.wh..wh..opq" },
                { T_FILE, "zz/.wh.q" },
                { T_DIR, "f/.wh.inside/" },
                { T_FILE, "f/.wh.inside/file" },
                { T_SYMLINK, "out", f->outside },
                { T_FILE, "out/.wh.secret" },
                { T_FILE, "out/.wh..wh..opq" },
                { T_FILE, wh_secret },
        };
        struct ocid_archive_stats stats;

        populate_lower(f);
        assert_extracts(f, t, N(t), OCID_ARCHIVE_WHITEOUT_APPLY, &stats);

        assert_false(exists_at(f, "a/x"));
        assert_content(f, "a/y", "lower");
        assert_false(exists_at(f, "b/old"));
        assert_false(exists_at(f, "b/sub/old2"));
        assert_content(f, "b/new", "new");
        assert_content(f, "b/sub/new2", "new2");
        assert_content(f, "c/mine", "mine");
        assert_content(f, "c/keep", "lower");
        assert_false(exists_at(f, "d"));
        assert_false(exists_at(f, "e/lowerfile"));
        assert_content(f, "e/new", "new");
        assert_false(exists_at(f, "zz"));
        /* ".wh.inside/" whites out "inside" (absent); what is below it is skipped */
        assert_content(f, "f/lower", "lower");
        assert_false(exists_at(f, "f/inside"));
        assert_no_whiteout_names(f->dest);

        /* a/x, b (opaque), d, e (opaque); "out" leads nowhere inside the
         * root, so its whiteouts have nothing to do */
        assert_int_equal(stats.whiteouts, 4);
        assert_int_equal(stats.skipped, 11);
}

static void test_whiteout_overlay(void **state)
{
        struct fixture *f = *state;
        const struct tentry t[] = {
                { T_FILE, "a/.wh.x" },
                { T_DIR, "b" },
                { T_FILE, "b/.wh..wh..opq" },
                { T_FILE, "c/mine", "mine" },
                { T_FILE, "c/.wh.mine" },
                { T_DIR, "d" },
                { T_FILE, ".wh.d" },
                { T_FILE, ".wh.gone" },
                { T_FILE, "gone/f", "back" },
                { T_FILE, ".wh.again" },
                { T_DIR, "again", .mode = 0711 },
                { T_FILE, "a/.wh..." },
                { T_FILE, ".wh..wh.plnk" },
        };
        struct ocid_archive_stats stats;
        struct stat st;
        _cleanup_free_ char *b = NULL, *d = NULL, *gone = NULL, *again = NULL;

        if (!is_root())
                skip(); /* trusted.overlay.* needs CAP_SYS_ADMIN */
        assert_extracts(f, t, N(t), OCID_ARCHIVE_WHITEOUT_OVERLAY, &stats);

        st = lstat_at(f, "a/x");
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(st.st_rdev, makedev(0, 0));
        b = xattr_at(f, "b", "trusted.overlay.opaque");
        assert_non_null(b);
        assert_string_equal(b, "y");
        assert_content(f, "c/mine", "mine");
        d = xattr_at(f, "d", "trusted.overlay.opaque");
        assert_non_null(d);
        assert_string_equal(d, "y");
        assert_true(S_ISDIR(lstat_at(f, "gone").st_mode));
        gone = xattr_at(f, "gone", "trusted.overlay.opaque");
        assert_non_null(gone);
        assert_content(f, "gone/f", "back");
        st = lstat_at(f, "again");
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0711);
        again = xattr_at(f, "again", "trusted.overlay.opaque");
        assert_non_null(again);
        assert_no_whiteout_names(f->dest);
        assert_int_equal(stats.whiteouts, 5);
        assert_int_equal(stats.skipped, 3);
}

static void test_whiteout_overlay_userxattr(void **state)
{
        struct fixture *f = *state;
        const struct tentry t[] = {
                { T_DIR, "b" },
                { T_FILE, "b/.wh..wh..opq" },
        };
        _cleanup_free_ char *v = NULL, *trusted = NULL;

        assert_extracts(f, t, N(t), OCID_ARCHIVE_WHITEOUT_OVERLAY | OCID_ARCHIVE_OVERLAY_USERXATTR, NULL);
        v = xattr_at(f, "b", "user.overlay.opaque");
        assert_non_null(v);
        assert_string_equal(v, "y");
        trusted = xattr_at(f, "b", "trusted.overlay.opaque");
        assert_null(trusted);
        assert_no_whiteout_names(f->dest);
}

static void test_whiteout_none(void **state)
{
        struct fixture *f = *state;
        const struct tentry t[] = {
                { T_FILE, ".wh.x" },
                { T_FILE, "d/.wh..wh..opq" },
                { T_FILE, "x", "x" },
        };
        struct ocid_archive_stats stats;

        assert_extracts(f, t, N(t), 0, &stats);
        assert_int_equal(stats.skipped, 2);
        assert_int_equal(count_dir(f->dest), 1);
        assert_content(f, "x", "x");
}

/* ---- devices and privileges ------------------------------------------------------- */

static const struct tentry special_layer[] = {
        { T_CHR, "dev/null", .major = 1, .minor = 3, .mode = 0666 },
        { T_BLK, "dev/loop9", .major = 7, .minor = 9, .mode = 0660 },
        { T_FIFO, "dev/fifo", .mode = 0640 },
        { T_FILE, "bin/suid", "s", 04755, 1234, 1234 },
        { T_DIR, "ro", .mode = 0555 },
        { T_FILE, "ro/f", "f", 0444 },
        { T_FILE, "xattr", "x", .xname = "user.kept", .xvalue = "v" },
};

static void test_devices_root(void **state)
{
        struct fixture *f = *state;
        struct ocid_archive_stats stats;
        struct stat st;

        if (!is_root())
                skip();
        assert_extracts(f, special_layer, N(special_layer), 0, &stats);
        st = lstat_at(f, "dev/null");
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(st.st_rdev, makedev(1, 3));
        assert_int_equal(st.st_mode & 07777, 0666);
        st = lstat_at(f, "dev/loop9");
        assert_true(S_ISBLK(st.st_mode));
        assert_int_equal(st.st_rdev, makedev(7, 9));
        assert_int_equal(st.st_mode & 07777, 0660);
        st = lstat_at(f, "bin/suid");
        assert_int_equal(st.st_uid, 1234);
        assert_int_equal(st.st_mode & 07777, 04755);
        assert_int_equal(stats.specials, 3);
        assert_int_equal(stats.skipped, 0);
}

/* Without root: device nodes are skipped and counted, owners are not set,
 * the rest is as with root. As root, the extraction runs in a child that
 * drops to nobody. */
static void test_devices_unprivileged(void **state)
{
        struct fixture *f = *state;
        struct ocid_archive_stats stats = { 0 };
        int pipefd[2];
        struct stat st;
        uid_t uid = getuid();

        if (is_root()) {
                pid_t pid;
                int status;
                ssize_t n;

                uid = 65534;
                assert_int_equal(chmod(f->top, 0711), 0);
                assert_int_equal(chown(f->dest, uid, uid), 0);
                assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
                pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        struct ocid_error *err = NULL;
                        int fd = make_archive(special_layer, N(special_layer), C_NONE);

                        if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
                            setresuid(uid, uid, uid) < 0)
                                _exit(2);
                        if (ocid_archive_extract(fd, f->dest, 0, &stats, &err) < 0) {
                                (void) !write(STDERR_FILENO, ocid_error_message(&err),
                                              strlen(ocid_error_message(&err)));
                                _exit(1);
                        }
                        (void) !write(pipefd[1], &stats, sizeof(stats));
                        _exit(0);
                }
                close(pipefd[1]);
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
                n = read(pipefd[0], &stats, sizeof(stats));
                assert_int_equal(n, sizeof(stats));
                close(pipefd[0]);
        } else {
                assert_extracts(f, special_layer, N(special_layer), 0, &stats);
        }

        assert_false(exists_at(f, "dev/null"));
        assert_false(exists_at(f, "dev/loop9"));
        assert_true(S_ISFIFO(lstat_at(f, "dev/fifo").st_mode));
        st = lstat_at(f, "bin/suid");
        assert_int_equal(st.st_uid, uid);
        assert_int_equal(st.st_mode & 07777, 04755);
        assert_int_equal(lstat_at(f, "ro").st_mode & 07777, 0555);
        assert_content(f, "ro/f", "f");
        {
                _cleanup_free_ char *v = xattr_at(f, "xattr", "user.kept");
                assert_non_null(v);
                assert_string_equal(v, "v");
        }
        assert_int_equal(stats.skipped, 2);
        assert_int_equal(stats.specials, 1);
        assert_int_equal(stats.files, 3);
        assert_outside_intact(f);
}

/* ---- limits and arguments ---------------------------------------------------------- */

static void test_limits(void **state)
{
        struct fixture *f = *state;
        const struct tentry five[] = {
                { T_FILE, "1" }, { T_FILE, "2" }, { T_FILE, "3" }, { T_FILE, "4" }, { T_FILE, "5" },
        };
        const struct tentry deep[] = { { T_FILE, "a/b/c/d/file" } };
        const struct tentry big[] = { { T_FILE, "small", "12345" }, { T_FILE, "big", "0123456789" } };
        struct ocid_archive_options opts = { .max_entries = 3 };
        struct ocid_error *err = NULL;
        int fd;

        fd = make_archive(five, N(five), C_NONE);
        assert_int_equal(ocid_archive_extract_full(fd, f->dest, &opts, NULL, &err), -E2BIG);
        assert_err(err, E2BIG, "layer has more than 3 entries");
        close(fd);

        /* directories made for an entry count too */
        fd = make_archive(deep, N(deep), C_NONE);
        assert_int_equal(ocid_archive_extract_full(fd, f->dest, &opts, NULL, &err), -E2BIG);
        assert_err(err, E2BIG, "layer entry 'a/b/c/d/file': layer has more than 3 entries");
        close(fd);

        opts = (struct ocid_archive_options) { .max_bytes = 10 };
        fd = make_archive(big, N(big), C_NONE);
        assert_int_equal(ocid_archive_extract_full(fd, f->dest, &opts, NULL, &err), -EFBIG);
        assert_err(err, EFBIG, "layer entry 'big': layer content exceeds 10 bytes");
        close(fd);
        assert_outside_intact(f);
}

static void test_arguments(void **state)
{
        struct fixture *f = *state;
        struct ocid_error *err = NULL;
        struct ocid_archive_options opts = { .reserved = { 1 } };
        _cleanup_free_ char *missing = xasprintf("%s/missing", f->top);
        _cleanup_free_ char *msg = xasprintf("open layer directory '%s': %s", missing, strerror(ENOENT));
        int fd = make_archive(NULL, 0, C_NONE);

        assert_int_equal(ocid_archive_extract(fd, f->dest, 1u << 7, NULL, &err), -EINVAL);
        assert_err(err, EINVAL, "extract layer: unknown flags 0x80");
        assert_int_equal(ocid_archive_extract(fd, f->dest,
                                              OCID_ARCHIVE_WHITEOUT_OVERLAY | OCID_ARCHIVE_WHITEOUT_APPLY, NULL,
                                              &err),
                         -EINVAL);
        assert_err(err, EINVAL, "extract layer: both whiteout modes requested");
        assert_int_equal(ocid_archive_extract(fd, f->dest, OCID_ARCHIVE_OVERLAY_USERXATTR, NULL, &err), -EINVAL);
        assert_err(err, EINVAL, "extract layer: user xattrs asked for without overlay whiteouts");
        assert_int_equal(ocid_archive_extract_full(fd, f->dest, &opts, NULL, &err), -EINVAL);
        assert_err(err, EINVAL, "extract layer: reserved option set");
        assert_int_equal(ocid_archive_extract(fd, missing, 0, NULL, &err), -ENOENT);
        assert_err(err, ENOENT, msg);
        close(fd);
}

/* openat2 is what resolves paths when the kernel has it; without it (ENOSYS)
 * the walk takes over after one try. */
static void test_resolver(void **state)
{
        struct fixture *f = *state;
        const struct tentry t[] = {
                { T_FILE, "a/b/f", "f" },
                { T_SYMLINK, "l", "a/b" },
                { T_FILE, "l/g", "g" },
                { T_SYMLINK, "abs", "/a" },
                { T_FILE, "abs/b/h", "h" },
                { T_SYMLINK, "dd", "a/b/../../a/./b/../../.." },
                { T_FILE, "dd/top", "top" },
        };

        assert_extracts(f, t, N(t), 0, NULL);
        assert_content(f, "a/b/g", "g");
        assert_content(f, "a/b/h", "h");
        assert_content(f, "top", "top");
        if (f->walk)
                assert_int_equal(openat2_calls, 1);
        else
                assert_true(openat2_calls >= 4);
}

OCID_TEST_MAIN(BOTH(test_basic), BOTH(test_capability), BOTH(test_replace), BOTH(test_gzip), BOTH(test_zstd),
               BOTH(test_garbage), BOTH(test_truncated), BOTH(test_empty), BOTH(test_escape_dotdot),
               BOTH(test_escape_absolute), BOTH(test_escape_symlink_root), BOTH(test_escape_symlink_relative),
               BOTH(test_escape_hardlink), BOTH(test_escape_hardlink_to_symlink),
               BOTH(test_escape_replace_symlink), BOTH(test_names), BOTH(test_whiteout_apply),
               BOTH(test_whiteout_overlay), BOTH(test_whiteout_overlay_userxattr), BOTH(test_whiteout_none),
               BOTH(test_devices_root), BOTH(test_devices_unprivileged), BOTH(test_limits),
               BOTH(test_arguments), BOTH(test_resolver))
