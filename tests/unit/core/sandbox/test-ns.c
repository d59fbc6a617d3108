/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox-test.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "sandbox/ns.h"

struct fixture {
        char *runroot;
        char *pod_dir;
};

static int fixture_setup(void **state)
{
        struct fixture *f = xzalloc(sizeof(*f));

        f->runroot = sandbox_test_tmpdir("ns");
        f->pod_dir = ns_pod_dir(f->runroot, "pod0");
        *state = f;
        return 0;
}

/* Removes everything a test may have left, even after a failure: pins, the
 * private mount of <runroot>/pods, the files. */
static int fixture_teardown(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *pods = ocid_path_join(f->runroot, NS_PODS_DIR);
        _cleanup_error_ struct ocid_error *err = NULL;
        int r = 0;

        if (ns_unpin(f->pod_dir, &err) < 0) {
                fprintf(stderr, "# teardown: %s\n", ocid_error_message(&err));
                r = -1;
        }
        while (umount2(pods, MNT_DETACH) == 0)
                ;
        while (umount2(f->runroot, MNT_DETACH) == 0)
                ;
        ocid_error_clear(&err);
        if (ocid_rm_rf(f->runroot, &err) < 0) {
                fprintf(stderr, "# teardown: %s\n", ocid_error_message(&err));
                r = -1;
        }
        free(f->runroot);
        free(f->pod_dir);
        free(f);
        return r;
}

static void create_pod_dir(struct fixture *f)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *dir = NULL;

        if (ns_pod_dir_create(f->runroot, "pod0", &dir, &err) < 0)
                fail_msg("ns_pod_dir_create: %s", ocid_error_message(&err));
        assert_string_equal(dir, f->pod_dir);
}

static void pin_ok(const char *pod_dir, const struct ns_pin_config *cfg)
{
        _cleanup_error_ struct ocid_error *err = NULL;

        if (ns_pin(pod_dir, cfg, &err) < 0)
                fail_msg("ns_pin: %s", ocid_error_message(&err));
        assert_null(err);
}

static void expect_error(int r, struct ocid_error **err, int code, const char *needle)
{
        assert_int_equal(r, -code);
        assert_int_equal(ocid_error_code(err), code);
        if (needle && !strstr(ocid_error_message(err), needle))
                fail_msg("error '%s' lacks '%s'", ocid_error_message(err), needle);
}

static char *pin_of(const struct fixture *f, unsigned ns)
{
        return ns_pin_path(f->pod_dir, ns);
}

static void assert_pinned(const struct fixture *f, unsigned ns)
{
        _cleanup_free_ char *p = pin_of(f, ns);

        if (!ns_is_pinned(p))
                fail_msg("'%s' is not a pinned namespace", p);
        assert_int_equal(sandbox_test_mounts_on(p, NULL), 1);
}

static void assert_not_there(const struct fixture *f, unsigned ns)
{
        _cleanup_free_ char *p = pin_of(f, ns);

        if (sandbox_test_exists(p))
                fail_msg("'%s' exists", p);
        assert_int_equal(sandbox_test_mounts_on(p, NULL), 0);
}

/* What a process sees after joining the pinned namespaces: the hostname and
 * the values of two sysctls, as "hostname|ip_forward|shmmax". Joins only
 * the pins that exist. */
static char *observe_inside(const struct fixture *f)
{
        static const unsigned kinds[] = { NS_NET, NS_IPC, NS_UTS };
        char buf[512];
        int p[2], status;
        ssize_t n;
        pid_t pid;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct utsname u;
                char *fwd, *shm, *out;

                close(p[0]);
                for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                        char *path = pin_of(f, kinds[i]);
                        int fd = open(path, O_RDONLY | O_CLOEXEC);

                        if (fd < 0) {
                                if (errno == ENOENT)
                                        continue;
                                _exit(10);
                        }
                        if (setns(fd, 0) < 0)
                                _exit(11);
                        close(fd);
                }
                if (uname(&u) < 0)
                        _exit(12);
                fwd = sandbox_test_read_line("/proc/sys/net/ipv4/ip_forward");
                shm = sandbox_test_read_line("/proc/sys/kernel/shmmax");
                if (!fwd || !shm)
                        _exit(13);
                out = xasprintf("%s|%s|%s", u.nodename, fwd, shm);
                if (write(p[1], out, strlen(out)) != (ssize_t) strlen(out))
                        _exit(14);
                _exit(0);
        }
        close(p[1]);
        n = read(p[0], buf, sizeof(buf) - 1);
        close(p[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("observer child failed (status 0x%x)", status);
        assert_true(n > 0);
        buf[n] = '\0';
        return xstrdup(buf);
}

static char *host_view(void)
{
        struct utsname u;
        _cleanup_free_ char *fwd = sandbox_test_read_line("/proc/sys/net/ipv4/ip_forward");
        _cleanup_free_ char *shm = sandbox_test_read_line("/proc/sys/kernel/shmmax");

        assert_int_equal(uname(&u), 0);
        assert_non_null(fwd);
        assert_non_null(shm);
        return xasprintf("%s|%s|%s", u.nodename, fwd, shm);
}

static void assert_no_children(void)
{
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

/* ---- the pods directory ------------------------------------------------ */

static void test_pod_dir(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *pods = ocid_path_join(f->runroot, NS_PODS_DIR);
        struct stat st;
        bool shared = true;

        REQUIRE_ROOT();
        /* Make the parent a shared mount, as systemd makes /: the pods
         * directory must still end up private. */
        assert_int_equal(mount(f->runroot, f->runroot, NULL, MS_BIND, NULL), 0);
        assert_int_equal(mount(NULL, f->runroot, NULL, MS_SHARED, NULL), 0);

        create_pod_dir(f);
        create_pod_dir(f);  /* again: one mount, not two */
        assert_int_equal(sandbox_test_mounts_on(pods, &shared), 1);
        assert_false(shared);
        assert_int_equal(stat(f->pod_dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0711);

        /* A pin made below it does not show in the shared parent's peers:
         * the pins are not in the parent's peer group. */
        {
                struct ns_pin_config cfg = { .flags = NS_UTS, .hostname = "peer-check" };
                _cleanup_free_ char *pin = pin_of(f, NS_UTS);
                bool pin_shared = true;

                pin_ok(f->pod_dir, &cfg);
                assert_int_equal(sandbox_test_mounts_on(pin, &pin_shared), 1);
                assert_false(pin_shared);
        }

        while (umount2(f->runroot, MNT_DETACH) == 0)
                ;
}

static void test_pod_dir_bad_input(void **state)
{
        struct fixture *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;

        expect_error(ns_pod_dir_create(f->runroot, "../x", NULL, &err), &err, EINVAL, "pod id");
        ocid_error_clear(&err);
        expect_error(ns_pod_dir_create(f->runroot, "", NULL, &err), &err, EINVAL, "pod id");
        ocid_error_clear(&err);
        expect_error(ns_pod_dir_create("relative/run", "pod0", NULL, &err), &err, EINVAL, "absolute");
}

static void test_names_and_paths(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *net = pin_of(f, NS_NET), *want = xasprintf("%s/pods/pod0/ns/net", f->runroot);

        assert_string_equal(net, want);
        assert_string_equal(ns_name(NS_IPC), "ipc");
        assert_string_equal(ns_name(NS_UTS), "uts");
        assert_null(ns_name(NS_NET | NS_IPC));
        assert_null(ns_name(0));
        assert_null(ns_pin_path(f->pod_dir, NS_ALL));
}

/* ---- pinning ---------------------------------------------------------- */

static void test_pin_all(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *before = NULL, *after = NULL, *inside = NULL, *want = NULL;
        _cleanup_free_ char *host_fwd = sandbox_test_read_line("/proc/sys/net/ipv4/ip_forward");
        _cleanup_free_ char *host_shm = sandbox_test_read_line("/proc/sys/kernel/shmmax");
        _cleanup_free_ char *net = NULL;
        const char *fwd, *shm;
        struct stat pin_st, self_st;

        REQUIRE_ROOT();
        assert_non_null(host_fwd);
        assert_non_null(host_shm);
        /* Values that differ from the host's, so that a leak would show. */
        fwd = streq(host_fwd, "1") ? "0" : "1";
        shm = streq(host_shm, "123456789") ? "987654321" : "123456789";
        {
                const struct ns_sysctl sysctls[] = {
                        { "net.ipv4.ip_forward", fwd },
                        { "kernel/shmmax", shm },   /* the slash form works too */
                };
                struct ns_pin_config cfg = {
                        .flags = NS_NET | NS_IPC | NS_UTS,
                        .hostname = "pod-a.example",
                        .sysctls = sysctls,
                        .n_sysctls = ELEMENTSOF(sysctls),
                };

                before = host_view();
                create_pod_dir(f);
                pin_ok(f->pod_dir, &cfg);
        }
        /* The helper process is gone and reaped. */
        assert_no_children();

        assert_pinned(f, NS_NET);
        assert_pinned(f, NS_IPC);
        assert_pinned(f, NS_UTS);
        net = pin_of(f, NS_NET);
        assert_int_equal(stat(net, &pin_st), 0);
        assert_int_equal(stat("/proc/self/ns/net", &self_st), 0);
        assert_true(pin_st.st_ino != self_st.st_ino);

        /* The namespaces outlived their creator: join them and look. */
        inside = observe_inside(f);
        want = xasprintf("pod-a.example|%s|%s", fwd, shm);
        assert_string_equal(inside, want);

        after = host_view();
        assert_string_equal(before, after);
}

static void test_pin_host_network(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *inside = NULL, *host_fwd = NULL, *want = NULL, *ipc = NULL;
        const struct ns_sysctl sysctls[] = { { "kernel.shmmax", "55555555" } };
        struct ns_pin_config cfg = {
                .flags = NS_IPC | NS_UTS,
                .hostname = "hostnet-pod",
                .sysctls = sysctls,
                .n_sysctls = 1,
        };

        REQUIRE_ROOT();
        create_pod_dir(f);
        pin_ok(f->pod_dir, &cfg);
        assert_not_there(f, NS_NET);
        assert_pinned(f, NS_IPC);
        assert_pinned(f, NS_UTS);

        /* No net pin: the observer stays in the host's network namespace. */
        host_fwd = sandbox_test_read_line("/proc/sys/net/ipv4/ip_forward");
        inside = observe_inside(f);
        want = xasprintf("hostnet-pod|%s|55555555", host_fwd);
        assert_string_equal(inside, want);

        /* Only a network namespace, nothing else. */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                struct ns_pin_config net_only = { .flags = NS_NET };

                ipc = pin_of(f, NS_IPC);
                assert_int_equal(ns_unpin(f->pod_dir, &err), 0);
                assert_false(sandbox_test_exists(ipc));
                pin_ok(f->pod_dir, &net_only);
                assert_pinned(f, NS_NET);
                assert_not_there(f, NS_IPC);
                assert_not_there(f, NS_UTS);
        }
}

static void test_pin_nothing(void **state)
{
        struct fixture *f = *state;
        struct ns_pin_config cfg = { .flags = 0 };
        _cleanup_free_ char *dir = ocid_path_join(f->pod_dir, NS_DIR);

        REQUIRE_ROOT();
        create_pod_dir(f);
        pin_ok(f->pod_dir, &cfg);
        assert_false(sandbox_test_exists(dir));
}

static void test_unpin_twice(void **state)
{
        struct fixture *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *dir = ocid_path_join(f->pod_dir, NS_DIR);
        struct ns_pin_config cfg = { .flags = NS_ALL, .hostname = "twice" };

        REQUIRE_ROOT();
        create_pod_dir(f);
        pin_ok(f->pod_dir, &cfg);
        assert_int_equal(ns_unpin(f->pod_dir, &err), 0);
        assert_not_there(f, NS_NET);
        assert_not_there(f, NS_IPC);
        assert_not_there(f, NS_UTS);
        assert_false(sandbox_test_exists(dir));
        assert_int_equal(ns_unpin(f->pod_dir, &err), 0);
        assert_null(err);
        /* and a pod directory that never existed */
        {
                _cleanup_free_ char *ghost = ns_pod_dir(f->runroot, "never");
                assert_int_equal(ns_unpin(ghost, &err), 0);
        }
}

static void test_unpin_after_foreign_umount(void **state)
{
        struct fixture *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        struct ns_pin_config cfg = { .flags = NS_ALL, .hostname = "foreign" };
        static const unsigned kinds[] = { NS_NET, NS_IPC, NS_UTS };

        REQUIRE_ROOT();
        create_pod_dir(f);
        pin_ok(f->pod_dir, &cfg);
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                _cleanup_free_ char *p = pin_of(f, kinds[i]);
                assert_int_equal(umount2(p, 0), 0);
                assert_false(ns_is_pinned(p));
        }
        /* one of them gone altogether */
        {
                _cleanup_free_ char *p = pin_of(f, NS_IPC);
                assert_int_equal(unlink(p), 0);
        }
        assert_int_equal(ns_unpin(f->pod_dir, &err), 0);
        assert_not_there(f, NS_NET);
        assert_not_there(f, NS_IPC);
        assert_not_there(f, NS_UTS);
}

static void test_unpin_stacked(void **state)
{
        struct fixture *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *net = NULL;
        struct ns_pin_config cfg = { .flags = NS_NET };

        REQUIRE_ROOT();
        create_pod_dir(f);
        pin_ok(f->pod_dir, &cfg);
        net = pin_of(f, NS_NET);
        /* someone mounted over the pin once more */
        assert_int_equal(mount("/proc/self/ns/net", net, NULL, MS_BIND, NULL), 0);
        assert_int_equal(sandbox_test_mounts_on(net, NULL), 2);
        assert_int_equal(ns_unpin(f->pod_dir, &err), 0);
        assert_not_there(f, NS_NET);
}

/* Another mount namespace made while the pins existed holds copies of them;
 * unpinning still ends them there (the kernel detaches the mounts on a file
 * that is unlinked), so no namespace outlives its pod that way. */
static void test_unpin_reaches_other_mount_namespaces(void **state)
{
        struct fixture *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *net = NULL, *mountinfo = NULL;
        struct ns_pin_config cfg = { .flags = NS_NET | NS_UTS, .hostname = "copied" };
        int ready[2], hold[2], status;
        pid_t pid;
        char c;

        REQUIRE_ROOT();
        create_pod_dir(f);
        pin_ok(f->pod_dir, &cfg);
        net = pin_of(f, NS_NET);

        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(ready[0]);
                close(hold[1]);
                if (unshare(CLONE_NEWNS) < 0)
                        _exit(1);
                if (write(ready[1], "r", 1) != 1)
                        _exit(2);
                while (read(hold[0], &c, 1) < 0 && errno == EINTR)
                        ;
                _exit(0);
        }
        close(ready[1]);
        close(hold[0]);
        assert_int_equal(read(ready[0], &c, 1), 1);
        close(ready[0]);
        mountinfo = xasprintf("/proc/%d/mountinfo", (int) pid);
        assert_int_equal(sandbox_test_mounts_in(mountinfo, net, NULL), 1);

        assert_int_equal(ns_unpin(f->pod_dir, &err), 0);
        assert_int_equal(sandbox_test_mounts_in(mountinfo, net, NULL), 0);

        close(hold[1]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_pin_exists(void **state)
{
        struct fixture *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *before = NULL, *after = NULL;
        struct ns_pin_config cfg = { .flags = NS_ALL, .hostname = "first" };
        struct ns_pin_config again = { .flags = NS_ALL, .hostname = "second" };

        REQUIRE_ROOT();
        create_pod_dir(f);
        pin_ok(f->pod_dir, &cfg);
        before = observe_inside(f);
        expect_error(ns_pin(f->pod_dir, &again, &err), &err, EEXIST, "create pin");
        /* The first pins are untouched. */
        assert_pinned(f, NS_NET);
        assert_pinned(f, NS_IPC);
        assert_pinned(f, NS_UTS);
        after = observe_inside(f);
        assert_string_equal(before, after);
        assert_no_children();
}

static void test_rollback_sysctl(void **state)
{
        struct fixture *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *dir = ocid_path_join(f->pod_dir, NS_DIR);
        const struct ns_sysctl sysctls[] = {
                { "net.ipv4.ip_forward", "1" },
                { "net.ipv4.no_such_setting", "1" },
        };
        struct ns_pin_config cfg = {
                .flags = NS_ALL, .hostname = "rollback", .sysctls = sysctls, .n_sysctls = 2,
        };

        REQUIRE_ROOT();
        create_pod_dir(f);
        expect_error(ns_pin(f->pod_dir, &cfg, &err), &err, ENOENT, "sysctl 'net.ipv4.no_such_setting'");
        assert_false(sandbox_test_exists(dir));
        assert_no_children();
}

static void test_rollback_mount(void **state)
{
        struct fixture *f = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *dir = ocid_path_join(f->pod_dir, NS_DIR), *uts = NULL;
        struct ns_pin_config cfg = { .flags = NS_ALL, .hostname = "rollback" };

        REQUIRE_ROOT();
        create_pod_dir(f);
        /* The ns dir exists already and "uts" is in the way: net and ipc
         * get pinned, then uts fails. */
        assert_int_equal(mkdir(dir, 0700), 0);
        uts = pin_of(f, NS_UTS);
        assert_int_equal(mkdir(uts, 0700), 0);
        expect_error(ns_pin(f->pod_dir, &cfg, &err), &err, EEXIST, "uts");
        assert_not_there(f, NS_NET);
        assert_not_there(f, NS_IPC);
        /* What the call did not make stays. */
        assert_true(sandbox_test_exists(uts));
        assert_true(sandbox_test_exists(dir));
        assert_no_children();
        assert_int_equal(rmdir(uts), 0);
}

/* ---- checks before anything is created (no root needed) --------------- */

static void expect_refused(struct fixture *f, const struct ns_pin_config *cfg, const char *needle)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *dir = ocid_path_join(f->pod_dir, NS_DIR);

        expect_error(ns_pin(f->pod_dir, cfg, &err), &err, EINVAL, needle);
        assert_false(sandbox_test_exists(dir));
}

static void test_refused(void **state)
{
        struct fixture *f = *state;
        const struct ns_sysctl net[] = { { "net.ipv4.ip_forward", "1" } };
        const struct ns_sysctl ipc[] = { { "kernel.msgmax", "1000" } };
        const struct ns_sysctl host_key[] = { { "kernel.core_pattern", "|/tmp/x" } };
        const struct ns_sysctl newline[] = { { "net.ipv4.ip_forward", "1\nkernel.core_pattern=x" } };
        const struct ns_sysctl smuggle[] = { { "net.ipv4.ip_forward", "1 kernel.core_pattern=x" } };
        const struct ns_sysctl dotdot[] = { { "net/../kernel/core_pattern", "x" } };
        struct ns_pin_config c;

        assert_int_equal(ocid_mkdir_p(f->pod_dir, 0700, NULL), 0);

        c = (struct ns_pin_config) { .flags = NS_NET | NS_IPC, .hostname = "no-uts" };
        expect_refused(f, &c, "UTS namespace");
        c = (struct ns_pin_config) { .flags = NS_IPC | NS_UTS, .sysctls = net, .n_sysctls = 1 };
        expect_refused(f, &c, "sysctl 'net.ipv4.ip_forward' needs a network namespace");
        c = (struct ns_pin_config) { .flags = NS_NET | NS_UTS, .sysctls = ipc, .n_sysctls = 1 };
        expect_refused(f, &c, "sysctl 'kernel.msgmax' needs an IPC namespace");
        c = (struct ns_pin_config) { .flags = NS_ALL, .sysctls = host_key, .n_sysctls = 1 };
        expect_refused(f, &c, "kernel.core_pattern");
        c = (struct ns_pin_config) { .flags = NS_ALL, .sysctls = newline, .n_sysctls = 1 };
        expect_refused(f, &c, "net.ipv4.ip_forward");
        c = (struct ns_pin_config) { .flags = NS_ALL, .sysctls = smuggle, .n_sysctls = 1 };
        expect_refused(f, &c, "'='");
        c = (struct ns_pin_config) { .flags = NS_ALL, .sysctls = dotdot, .n_sysctls = 1 };
        expect_refused(f, &c, "net/../kernel/core_pattern");
        c = (struct ns_pin_config) { .flags = NS_ALL, .hostname = "bad\nname" };
        expect_refused(f, &c, "hostname");
        c = (struct ns_pin_config) { .flags = 1u << 7 };
        expect_refused(f, &c, "unknown namespace flags");
}

static void test_is_pinned(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *file = ocid_path_join(f->runroot, "plain");

        assert_true(ns_is_pinned("/proc/self/ns/net"));
        assert_int_equal(ocid_write_file_atomic(file, "", 0, 0644, NULL), 0);
        assert_false(ns_is_pinned(file));
        assert_false(ns_is_pinned("/nonexistent/ocid/pin"));
}

/* Pins made at the same time from several threads: each helper child must
 * not hold another pin's pipes, or pins wait for each other (they hung). */
struct concurrent_arg {
        const char *runroot;
        int index;
        int failures;
};

static void *concurrent_pins(void *arg)
{
        struct concurrent_arg *a = arg;

        for (int i = 0; i < 5; i++) {
                _cleanup_error_ struct ocid_error *err = NULL;
                _cleanup_free_ char *id = xasprintf("pod-%d-%d", a->index, i);
                _cleanup_free_ char *dir = NULL;
                const struct ns_pin_config cfg = { .flags = NS_NET | NS_IPC | NS_UTS, .hostname = id };

                if (ns_pod_dir_create(a->runroot, id, &dir, &err) < 0 || ns_pin(dir, &cfg, &err) < 0 ||
                    ns_unpin(dir, &err) < 0) {
                        fprintf(stderr, "# %s: %s\n", id, ocid_error_message(&err));
                        a->failures++;
                }
        }
        return NULL;
}

static void test_pin_concurrently(void **state)
{
        struct fixture *f = *state;
        struct concurrent_arg args[8];
        pthread_t threads[8];

        REQUIRE_ROOT();
        alarm(120);     /* a regression hangs: end it as a failure */
        for (int i = 0; i < 8; i++) {
                args[i] = (struct concurrent_arg) { .runroot = f->runroot, .index = i };
                assert_int_equal(pthread_create(&threads[i], NULL, concurrent_pins, &args[i]), 0);
        }
        for (int i = 0; i < 8; i++) {
                assert_int_equal(pthread_join(threads[i], NULL), 0);
                assert_int_equal(args[i].failures, 0);
        }
        alarm(0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_pod_dir),
                T(test_pod_dir_bad_input),
                T(test_names_and_paths),
                T(test_pin_all),
                T(test_pin_host_network),
                T(test_pin_nothing),
                T(test_unpin_twice),
                T(test_unpin_after_foreign_umount),
                T(test_unpin_stacked),
                T(test_unpin_reaches_other_mount_namespaces),
                T(test_pin_exists),
                T(test_pin_concurrently),
                T(test_rollback_sysctl),
                T(test_rollback_mount),
                T(test_refused),
                T(test_is_pinned),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, sandbox_test_private_mounts, NULL);
}
