/* SPDX-License-Identifier: Apache-2.0 */
#include "lib-test.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h> /* mount, MS_PRIVATE */
#include <sys/stat.h>

/* ---- mocks (STYLE §7): off unless a test arms them -------------------------- */

/* fail the Nth call (1-based) from now on with the errno; 0: never */
static int fsync_fail_at, fsync_errno, fsync_calls;
static int renameat_errno;
static int write_errno;

int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __wrap_fsync(int fd)
{
        if (fsync_fail_at && ++fsync_calls == fsync_fail_at) {
                errno = fsync_errno;
                return -1;
        }
        return __real_fsync(fd);
}

int __real_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int __wrap_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int __wrap_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
        if (renameat_errno) {
                errno = renameat_errno;
                return -1;
        }
        return __real_renameat(olddirfd, oldpath, newdirfd, newpath);
}

ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
        if (write_errno && fd > STDERR_FILENO) {
                errno = write_errno;
                return -1;
        }
        return __real_write(fd, buf, n);
}

static int reset_mocks(void **state)
{
        fsync_fail_at = fsync_errno = fsync_calls = 0;
        renameat_errno = write_errno = 0;
        return 0;
}

/* ---- helpers ----------------------------------------------------------- */

static char *read_text(const char *path)
{
        struct ocid_error *err = NULL;
        char *s = NULL;

        assert_int_equal(ocid_read_file(path, 1 << 20, &s, NULL, &err), 0);
        return s;
}

/* Number of entries in dir, "." and ".." aside. */
static int count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

static bool exists(const char *path)
{
        struct stat st;

        return lstat(path, &st) == 0;
}

/* ---- paths ---------------------------------------------------------------- */

static void check_beneath(const char *root, const char *rel, const char *expect)
{
        _cleanup_free_ char *p = ocid_path_join_beneath(root, rel);

        if (!streq(p, expect))
                fail_msg("join_beneath('%s', '%s') = '%s', expected '%s'", root, rel, p, expect);
}

static void test_path_join_beneath(void **state)
{
        check_beneath("/root", "../../etc", "/root/etc");
        check_beneath("/root", "/a/../../b", "/root/b");
        check_beneath("/root", "a//b/./c", "/root/a/b/c");
        check_beneath("/root", "", "/root");
        check_beneath("/root", "/", "/root");
        check_beneath("/root", NULL, "/root");
        check_beneath("/root/", "x/", "/root/x");
        check_beneath("/root", "a/b/../c", "/root/a/c");
        check_beneath("/root", "a/b/../../..", "/root");
        check_beneath("/root", "..", "/root");
        check_beneath("/root", "...", "/root/...");
        check_beneath("/root", "a/.b/..c", "/root/a/.b/..c");
        check_beneath("/", "../etc", "/etc");
        check_beneath("/", "", "/");
        check_beneath("/", "a/..", "/");
        check_beneath("//", "x", "/x");
        check_beneath("rel", "../x", "rel/x");
        check_beneath("", "a/b", "a/b");
        check_beneath("", "..", ".");
}

static void check_join(const char *a, const char *b, const char *expect)
{
        _cleanup_free_ char *p = ocid_path_join(a, b);

        if (!streq(p, expect))
                fail_msg("join('%s', '%s') = '%s', expected '%s'", a, b, p, expect);
}

static void test_path_join(void **state)
{
        check_join("/a", "b", "/a/b");
        check_join("/a/", "b", "/a/b");
        check_join("/a//", "//b", "/a/b");
        check_join("/", "b", "/b");
        check_join("/", "/b/c", "/b/c");
        check_join("a", "b/", "a/b/");
        check_join("", "b", "b");
        check_join("/a", "", "/a");
        check_join("/a/", "/", "/a");
        check_join("/", "", "/");
}

static void test_path_component_check(void **state)
{
        struct ocid_error *err = NULL;
        char long_name[300];

        assert_int_equal(ocid_path_component_check("abc", &err), 0);
        assert_int_equal(ocid_path_component_check("...", &err), 0);
        assert_int_equal(ocid_path_component_check(".hidden", &err), 0);
        assert_null(err);

        assert_int_equal(ocid_path_component_check("", &err), -EINVAL);
        assert_err(err, EINVAL, "empty path component");
        assert_int_equal(ocid_path_component_check(NULL, &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(ocid_path_component_check(".", &err), -EINVAL);
        assert_err(err, EINVAL, "invalid path component '.'");
        assert_int_equal(ocid_path_component_check("..", &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(ocid_path_component_check("a/b", &err), -EINVAL);
        assert_err(err, EINVAL, "path component 'a/b' contains '/'");

        memset(long_name, 'n', 255);
        long_name[255] = '\0';
        assert_int_equal(ocid_path_component_check(long_name, &err), 0);
        long_name[255] = 'n';
        long_name[256] = '\0';
        assert_int_equal(ocid_path_component_check(long_name, &err), -ENAMETOOLONG);
        ocid_error_clear(&err);
}

/* ---- mkdir -p ------------------------------------------------------------- */

static void test_mkdir_p(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *deep = NULL, *file = NULL, *under = NULL;
        struct ocid_error *err = NULL;
        struct stat st;
        mode_t old = umask(077);

        deep = xasprintf("%s/a//b/./c/", t);
        assert_int_equal(ocid_mkdir_p(deep, 0751, &err), 0);
        assert_null(err);
        assert_int_equal(stat(deep, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        /* the umask does not narrow the mode asked for */
        assert_int_equal(st.st_mode & 07777, 0751);
        /* existing directories are fine, their mode is left alone */
        assert_int_equal(ocid_mkdir_p(deep, 0700, &err), 0);
        assert_int_equal(stat(deep, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0751);
        umask(old);

        file = xasprintf("%s/file", t);
        write_text(file, "x");
        assert_int_equal(ocid_mkdir_p(file, 0755, &err), -ENOTDIR);
        ocid_error_clear(&err);
        under = xasprintf("%s/file/sub", t);
        assert_int_equal(ocid_mkdir_p(under, 0755, &err), -ENOTDIR);
        {
                _cleanup_free_ char *expect = xasprintf("create directory '%s': open '%s': Not a directory",
                                                        under, file);
                assert_err(err, ENOTDIR, expect);
        }

        assert_int_equal(ocid_mkdir_p("", 0755, &err), -EINVAL);
        ocid_error_clear(&err);
        rm_tmpdir(TAKE_PTR(t));
}

static void test_mkdir_p_relative(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *cwd = getcwd(NULL, 0);
        struct ocid_error *err = NULL;
        struct stat st;

        assert_int_equal(chdir(t), 0);
        assert_int_equal(ocid_mkdir_p("x/y", 0700, &err), 0);
        assert_int_equal(stat("x/y", &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(chdir(cwd), 0);
        rm_tmpdir(TAKE_PTR(t));
}

/* ---- atomic write ---------------------------------------------------------- */

static void test_write_atomic(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *p = NULL, *s = NULL;
        struct ocid_error *err = NULL;
        struct stat st;

        p = xasprintf("%s/record.json", t);
        assert_int_equal(ocid_write_file_atomic(p, "first", 5, 0640, &err), 0);
        assert_null(err);
        s = read_text(p);
        assert_string_equal(s, "first");
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);

        /* overwrite: new content and mode, no temporary file left behind */
        assert_int_equal(ocid_write_file_atomic(p, "second!", 7, 0600, &err), 0);
        free(s);
        s = read_text(p);
        assert_string_equal(s, "second!");
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(count_entries(t), 1);

        /* empty content */
        assert_int_equal(ocid_write_file_atomic(p, "", 0, 0600, &err), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_size, 0);
        rm_tmpdir(TAKE_PTR(t));
}

static void test_write_atomic_bad_paths(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *p = NULL;
        struct ocid_error *err = NULL;

        p = xasprintf("%s/missing/record", t);
        assert_int_equal(ocid_write_file_atomic(p, "x", 1, 0600, &err), -ENOENT);
        assert_non_null(strstr(ocid_error_message(&err), "missing"));
        ocid_error_clear(&err);
        free(p);

        p = xasprintf("%s/..", t);
        assert_int_equal(ocid_write_file_atomic(p, "x", 1, 0600, &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(ocid_write_file_atomic("/", "x", 1, 0600, &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(count_entries(t), 0);
        rm_tmpdir(TAKE_PTR(t));
}

/* Each armed failure must leave the old content and no temporary file. */
static void check_failure_keeps_old(int expect_errno, const char *expect_text)
{
        _cleanup_free_ char *t = make_tmpdir(), *p = NULL, *s = NULL;
        struct ocid_error *err = NULL;
        int f = fsync_fail_at, r = renameat_errno, w = write_errno;

        p = xasprintf("%s/rec", t);
        reset_mocks(NULL);
        assert_int_equal(ocid_write_file_atomic(p, "old", 3, 0600, &err), 0);
        fsync_fail_at = f;
        fsync_errno = f ? expect_errno : 0;
        renameat_errno = r;
        write_errno = w;

        assert_int_equal(ocid_write_file_atomic(p, "new content", 11, 0600, &err), -expect_errno);
        assert_non_null(strstr(ocid_error_message(&err), expect_text));
        assert_non_null(strstr(ocid_error_message(&err), p));
        ocid_error_clear(&err);
        reset_mocks(NULL);
        s = read_text(p);
        assert_string_equal(s, "old");
        assert_int_equal(count_entries(t), 1);
        rm_tmpdir(TAKE_PTR(t));
}

static void test_write_atomic_fsync_fails(void **state)
{
        fsync_fail_at = 1;
        check_failure_keeps_old(EIO, "fsync");
}

static void test_write_atomic_rename_fails(void **state)
{
        renameat_errno = EXDEV;
        check_failure_keeps_old(EXDEV, "rename");
}

static void test_write_atomic_write_fails(void **state)
{
        write_errno = ENOSPC;
        check_failure_keeps_old(ENOSPC, "No space left on device");
}

static void test_write_atomic_dir_fsync_fails(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *p = NULL, *s = NULL;
        struct ocid_error *err = NULL;

        p = xasprintf("%s/rec", t);
        fsync_fail_at = 2; /* the file's fsync passes, the directory's fails */
        fsync_errno = EIO;
        assert_int_equal(ocid_write_file_atomic(p, "new", 3, 0600, &err), -EIO);
        assert_non_null(strstr(ocid_error_message(&err), "fsync directory"));
        ocid_error_clear(&err);
        reset_mocks(NULL);
        /* renamed already: the new content is there, reported as unsynced */
        s = read_text(p);
        assert_string_equal(s, "new");
        assert_int_equal(count_entries(t), 1);
        rm_tmpdir(TAKE_PTR(t));
}

/* ---- read ------------------------------------------------------------------ */

static void test_read_file(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *p = NULL, *s = NULL, *fifo = NULL;
        struct ocid_error *err = NULL;
        size_t len = 99;

        p = xasprintf("%s/f", t);
        assert_int_equal(ocid_write_file_atomic(p, "a\0b", 3, 0600, &err), 0);
        assert_int_equal(ocid_read_file(p, 3, &s, &len, &err), 0);
        assert_int_equal(len, 3);
        assert_memory_equal(s, "a\0b", 4); /* NUL-terminated */
        free(TAKE_PTR(s));

        assert_int_equal(ocid_read_file(p, 2, &s, NULL, &err), -EFBIG);
        assert_null(s);
        assert_non_null(strstr(ocid_error_message(&err), p));
        ocid_error_clear(&err);

        /* files that report size 0 are read to EOF, still capped */
        assert_int_equal(ocid_read_file("/proc/self/status", 1 << 20, &s, &len, &err), 0);
        assert_non_null(strstr(s, "Pid:"));
        assert_int_equal(strlen(s), len);
        free(TAKE_PTR(s));
        assert_int_equal(ocid_read_file("/proc/self/status", 10, &s, &len, &err), -EFBIG);
        ocid_error_clear(&err);

        assert_int_equal(ocid_read_file(t, 100, &s, NULL, &err), -EISDIR);
        ocid_error_clear(&err);

        fifo = xasprintf("%s/fifo", t);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_int_equal(ocid_read_file(fifo, 100, &s, NULL, &err), -EINVAL);
        {
                _cleanup_free_ char *expect = xasprintf("read '%s': not a regular file", fifo);
                assert_err(err, EINVAL, expect);
        }

        free(p);
        p = xasprintf("%s/none", t);
        assert_int_equal(ocid_read_file(p, 100, &s, NULL, &err), -ENOENT);
        assert_null(s);
        ocid_error_clear(&err);

        /* an empty file */
        write_text(p, "");
        assert_int_equal(ocid_read_file(p, 0, &s, &len, &err), 0);
        assert_int_equal(len, 0);
        assert_string_equal(s, "");
        rm_tmpdir(TAKE_PTR(t));
}

/* ---- rm -rf ---------------------------------------------------------------- */

static void test_rm_rf_tree(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *tree = NULL, *outside = NULL, *keep = NULL, *p = NULL;
        struct ocid_error *err = NULL;

        tree = xasprintf("%s/tree", t);
        outside = xasprintf("%s/outside", t);
        keep = xasprintf("%s/outside/keep", t);
        assert_int_equal(ocid_mkdir_p(outside, 0755, &err), 0);
        write_text(keep, "precious");

        p = xasprintf("%s/a/b/c/d", tree);
        assert_int_equal(ocid_mkdir_p(p, 0755, &err), 0);
        free(p);
        p = xasprintf("%s/a/b/file", tree);
        write_text(p, "x");
        free(p);
        p = xasprintf("%s/a/link-to-outside", tree);
        assert_int_equal(symlink(outside, p), 0);
        free(p);
        p = xasprintf("%s/a/b/c/fifo", tree);
        assert_int_equal(mkfifo(p, 0600), 0);
        free(p);
        assert_int_equal(ocid_rm_rf(tree, &err), 0);
        assert_null(err);
        assert_false(exists(tree));
        /* the symlink was removed, not followed */
        assert_true(exists(keep));

        /* missing path: success */
        assert_int_equal(ocid_rm_rf(tree, &err), 0);
        p = xasprintf("%s/no/such/dir", t);
        assert_int_equal(ocid_rm_rf(p, &err), 0);
        assert_null(err);
        rm_tmpdir(TAKE_PTR(t));
}

static void test_rm_rf_single(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *f = NULL, *l = NULL, *d = NULL;
        struct ocid_error *err = NULL;

        f = xasprintf("%s/f", t);
        write_text(f, "x");
        assert_int_equal(ocid_rm_rf(f, &err), 0);
        assert_false(exists(f));

        /* a symlink to a directory: the link goes, the target stays */
        d = xasprintf("%s/d", t);
        assert_int_equal(mkdir(d, 0755), 0);
        free(f);
        f = xasprintf("%s/d/inside", t);
        write_text(f, "x");
        l = xasprintf("%s/l", t);
        assert_int_equal(symlink(d, l), 0);
        assert_int_equal(ocid_rm_rf(l, &err), 0);
        assert_false(exists(l));
        assert_true(exists(f));
        free(l);
        /* a trailing slash names the same directory */
        l = xasprintf("%s/d/", t);
        assert_int_equal(ocid_rm_rf(l, &err), 0);
        assert_false(exists(d));
        rm_tmpdir(TAKE_PTR(t));
}

static void test_rm_rf_refuses(void **state)
{
        struct ocid_error *err = NULL;

        assert_int_equal(ocid_rm_rf("/", &err), -EINVAL);
        assert_err(err, EINVAL, "refusing to remove '/'");
        assert_int_equal(ocid_rm_rf("//", &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(ocid_rm_rf("", &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(ocid_rm_rf("/tmp/..", &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(ocid_rm_rf(".", &err), -EINVAL);
        ocid_error_clear(&err);
}

/* In a private mount namespace (needs privilege; skipped otherwise): a tmpfs
 * mounted inside the tree is not crossed, and a mounted tree root is
 * refused. */
static int rm_rf_mount_child(const char *t)
{
        _cleanup_free_ char *tree = xasprintf("%s/tree", t), *mnt = xasprintf("%s/tree/sub/mnt", t);
        _cleanup_free_ char *inmnt = xasprintf("%s/tree/sub/mnt/kept", t), *other = xasprintf("%s/tree/other", t);
        struct ocid_error *err = NULL;

        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return 77;
        if (ocid_mkdir_p(mnt, 0755, &err) < 0 || mount("tmpfs", mnt, "tmpfs", 0, NULL) < 0)
                return 77;
        write_text(inmnt, "x");
        write_text(other, "x");

        if (ocid_rm_rf(tree, &err) != -EXDEV)
                return 1;
        if (!strstr(ocid_error_message(&err), "mount point"))
                return 2;
        ocid_error_clear(&err);
        if (!exists(inmnt) || exists(other))
                return 3;
        /* the mount itself as the root of the removal */
        if (ocid_rm_rf(mnt, &err) != -EBUSY || !exists(inmnt))
                return 4;
        ocid_error_clear(&err);
        if (umount(mnt) < 0)
                return 5;
        if (ocid_rm_rf(tree, &err) != 0 || exists(tree))
                return 6;
        return 0;
}

static void test_rm_rf_mounts(void **state)
{
        _cleanup_free_ char *t = make_tmpdir();
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0)
                _exit(rm_rf_mount_child(t));
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        rm_tmpdir(TAKE_PTR(t));
        if (WEXITSTATUS(status) == 77)
                skip();
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_create_file_beneath(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *outside = make_tmpdir();
        _cleanup_free_ char *made = NULL, *link = NULL, *flink = NULL, *target = NULL;
        struct ocid_error *err = NULL;
        struct stat st;
        int fd = -1;

        assert_int_equal(ocid_create_file_beneath(t, "a/b/0.log", 0755, 0640, &fd, &err), 0);
        assert_null(err);
        assert_int_equal(write(fd, "x", 1), 1);
        (void) close(fd);
        made = xasprintf("%s/a/b/0.log", t);
        assert_int_equal(stat(made, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_size, 1);
        /* opened again, it appends */
        assert_int_equal(ocid_create_file_beneath(t, "a/b/0.log", 0755, 0640, &fd, &err), 0);
        assert_int_equal(write(fd, "y", 1), 1);
        (void) close(fd);
        assert_int_equal(stat(made, &st), 0);
        assert_int_equal(st.st_size, 2);

        /* a symlinked directory on the way is refused, nothing lands outside */
        link = xasprintf("%s/evil", t);
        assert_int_equal(symlink(outside, link), 0);
        assert_int_equal(ocid_create_file_beneath(t, "evil/0.log", 0755, 0640, &fd, &err), -ELOOP);
        assert_non_null(strstr(ocid_error_message(&err), "evil"));
        ocid_error_clear(&err);
        target = xasprintf("%s/0.log", outside);
        assert_int_equal(access(target, F_OK), -1);
        /* so is a symlink as the file itself */
        flink = xasprintf("%s/a/b/1.log", t);
        assert_int_equal(symlink(target, flink), 0);
        assert_int_equal(ocid_create_file_beneath(t, "a/b/1.log", 0755, 0640, &fd, &err), -ELOOP);
        ocid_error_clear(&err);
        assert_int_equal(access(target, F_OK), -1);

        assert_int_equal(ocid_create_file_beneath(t, "../x.log", 0755, 0640, &fd, &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(ocid_create_file_beneath(t, "a/./x.log", 0755, 0640, &fd, &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(ocid_create_file_beneath(t, "/abs.log", 0755, 0640, &fd, &err), -EINVAL);
        ocid_error_clear(&err);
        rm_tmpdir(TAKE_PTR(t));
        rm_tmpdir(TAKE_PTR(outside));
}

#define T(f) cmocka_unit_test_setup_teardown(f, reset_mocks, reset_mocks)
OCID_TEST_MAIN(T(test_path_join_beneath), T(test_path_join), T(test_path_component_check), T(test_mkdir_p),
               T(test_mkdir_p_relative), T(test_write_atomic), T(test_write_atomic_bad_paths),
               T(test_write_atomic_fsync_fails), T(test_write_atomic_rename_fails),
               T(test_write_atomic_write_fails), T(test_write_atomic_dir_fsync_fails), T(test_read_file),
               T(test_rm_rf_tree), T(test_rm_rf_single), T(test_rm_rf_refuses), T(test_rm_rf_mounts), T(test_create_file_beneath))
