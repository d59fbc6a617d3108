/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox-test.h"

#include <dirent.h>
#include <linux/magic.h>  /* TMPFS_MAGIC */
#include <sys/statvfs.h>  /* ST_NOSUID, ST_NODEV, ST_NOEXEC for statfs f_flags */
#include <sys/vfs.h>

#include "sandbox/podfiles.h"

static int fixture_setup(void **state)
{
        *state = sandbox_test_tmpdir("podfiles");
        return 0;
}

static int fixture_teardown(void **state)
{
        char *dir = *state;
        _cleanup_free_ char *shm = ocid_path_join(dir, PODFILES_SHM);
        _cleanup_error_ struct ocid_error *err = NULL;
        int r = 0;

        while (umount2(shm, MNT_DETACH) == 0)
                ;
        if (ocid_rm_rf(dir, &err) < 0) {
                fprintf(stderr, "# teardown: %s\n", ocid_error_message(&err));
                r = -1;
        }
        free(dir);
        return r;
}

static char *pod_file(const char *dir, const char *name)
{
        _cleanup_free_ char *p = ocid_path_join(dir, name);

        return sandbox_test_read(p);
}

static void expect_error(int r, struct ocid_error **err, int code, const char *needle)
{
        assert_int_equal(r, -code);
        assert_int_equal(ocid_error_code(err), code);
        if (needle && !strstr(ocid_error_message(err), needle))
                fail_msg("error '%s' lacks '%s'", ocid_error_message(err), needle);
}

static void write_text(const char *path, const char *text)
{
        assert_int_equal(ocid_write_file_atomic(path, text, strlen(text), 0644, NULL), 0);
}

/* ---- hostname ------------------------------------------------------------ */

static void test_hostname_check(void **state)
{
        static const char *const good[] = {
                "a", "pod-0", "web.default.svc", "A1-b2",
                /* 64 bytes */
                "a123456789.123456789.123456789.123456789.123456789.123456789.123",
        };
        static const char *const bad[] = {
                "", "-pod", "pod-", "a..b", ".a", "a.", "pod_0", "pod 0", "pod\n0", "pod\t",
                "a/b", "p\xc3\xa9", "a.-b",
                /* 65 bytes */
                "a123456789.123456789.123456789.123456789.123456789.123456789.1234",
        };
        _cleanup_error_ struct ocid_error *err = NULL;

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (podfiles_hostname_check(good[i], &err) < 0)
                        fail_msg("'%s' refused: %s", good[i], ocid_error_message(&err));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (podfiles_hostname_check(bad[i], &err) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i]);
                assert_non_null(strstr(ocid_error_message(&err), "hostname"));
                /* no control character reaches the message */
                for (const char *c = ocid_error_message(&err); *c; c++)
                        assert_true((unsigned char) *c >= 0x20);
                ocid_error_clear(&err);
        }
        assert_int_equal(podfiles_hostname_check(NULL, NULL), -EINVAL);
}

static void test_write_hostname(void **state)
{
        const char *dir = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *text = NULL, *path = ocid_path_join(dir, PODFILES_HOSTNAME);
        struct stat st;

        assert_int_equal(podfiles_write_hostname(dir, "my-pod", &err), 0);
        text = pod_file(dir, PODFILES_HOSTNAME);
        assert_string_equal(text, "my-pod\n");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        expect_error(podfiles_write_hostname(dir, "two\nlines", &err), &err, EINVAL, "hostname");
        free(text);
        text = pod_file(dir, PODFILES_HOSTNAME);
        assert_string_equal(text, "my-pod\n");
}

/* ---- hosts --------------------------------------------------------------- */

#define LOCALHOST_LINES                                                       \
        "127.0.0.1\tlocalhost\n"                                              \
        "::1\tlocalhost ip6-localhost ip6-loopback\n"                         \
        "fe00::0\tip6-localnet\n"                                             \
        "ff00::0\tip6-mcastprefix\n"                                          \
        "ff02::1\tip6-allnodes\n"                                             \
        "ff02::2\tip6-allrouters\n"

static void test_hosts_no_ip_yet(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *text = NULL;
        struct podfiles_hosts h = { .hostname = "my-pod" };

        assert_int_equal(podfiles_write_hosts(dir, &h, NULL), 0);
        text = pod_file(dir, PODFILES_HOSTS);
        assert_string_equal(text, LOCALHOST_LINES "127.0.1.1\tmy-pod\n");
}

static void test_hosts_ips_and_aliases(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *text = NULL;
        char *ips[] = { "10.88.0.7", "fd00::7" };
        char *names_a[] = { "db", "db.local" };
        char *names_b[] = { "cache" };
        const struct podfiles_host_entry extra[] = {
                { "192.0.2.1", names_a, 2 },
                { "2001:db8::1", names_b, 1 },
        };
        struct podfiles_hosts h = {
                .hostname = "web-0", .pod_ips = ips, .n_pod_ips = 2, .extra = extra, .n_extra = 2,
        };

        assert_int_equal(podfiles_write_hosts(dir, &h, NULL), 0);
        text = pod_file(dir, PODFILES_HOSTS);
        assert_string_equal(text, LOCALHOST_LINES
                            "10.88.0.7\tweb-0\n"
                            "fd00::7\tweb-0\n"
                            "192.0.2.1\tdb db.local\n"
                            "2001:db8::1\tcache\n");
}

static void test_hosts_from_base(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *base = ocid_path_join(dir, "host-hosts"), *text = NULL;
        char *names[] = { "extra" };
        const struct podfiles_host_entry extra[] = { { "192.0.2.9", names, 1 } };
        struct podfiles_hosts h = { .base = base, .extra = extra, .n_extra = 1 };

        /* the host's file, without a final newline */
        write_text(base, "127.0.0.1 localhost\n192.0.2.50 node-1");
        assert_int_equal(podfiles_write_hosts(dir, &h, NULL), 0);
        text = pod_file(dir, PODFILES_HOSTS);
        assert_string_equal(text, "127.0.0.1 localhost\n192.0.2.50 node-1\n192.0.2.9\textra\n");

        /* a missing base is an empty one */
        free(base);
        base = ocid_path_join(dir, "missing");
        h.base = base;
        h.n_extra = 0;
        assert_int_equal(podfiles_write_hosts(dir, &h, NULL), 0);
        free(text);
        text = pod_file(dir, PODFILES_HOSTS);
        assert_string_equal(text, "");
}

static void test_hosts_refused(void **state)
{
        const char *dir = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *path = ocid_path_join(dir, PODFILES_HOSTS);
        char *bad_ip[] = { "10.0.0.300" };
        char *nl_ip[] = { "10.0.0.1\n10.0.0.2" };
        char *bad_name[] = { "ok", "evil\n1.2.3.4 bank" };
        const struct podfiles_host_entry bad_entry[] = { { "192.0.2.1", bad_name, 2 } };
        const struct podfiles_host_entry no_names[] = { { "192.0.2.1", NULL, 0 } };
        const struct podfiles_host_entry bad_entry_ip[] = { { "example.com", bad_name, 1 } };
        struct podfiles_hosts h;

        h = (struct podfiles_hosts) { .hostname = "a b" };
        expect_error(podfiles_write_hosts(dir, &h, &err), &err, EINVAL, "hostname");
        ocid_error_clear(&err);
        h = (struct podfiles_hosts) { .hostname = "a", .pod_ips = bad_ip, .n_pod_ips = 1 };
        expect_error(podfiles_write_hosts(dir, &h, &err), &err, EINVAL, "10.0.0.300");
        ocid_error_clear(&err);
        h = (struct podfiles_hosts) { .hostname = "a", .pod_ips = nl_ip, .n_pod_ips = 1 };
        expect_error(podfiles_write_hosts(dir, &h, &err), &err, EINVAL, "not an IP address");
        ocid_error_clear(&err);
        h = (struct podfiles_hosts) { .extra = bad_entry, .n_extra = 1 };
        expect_error(podfiles_write_hosts(dir, &h, &err), &err, EINVAL, "entry 0");
        ocid_error_clear(&err);
        h = (struct podfiles_hosts) { .extra = no_names, .n_extra = 1 };
        expect_error(podfiles_write_hosts(dir, &h, &err), &err, EINVAL, "no names");
        ocid_error_clear(&err);
        h = (struct podfiles_hosts) { .extra = bad_entry_ip, .n_extra = 1 };
        expect_error(podfiles_write_hosts(dir, &h, &err), &err, EINVAL, "'example.com' is not an IP address");
        /* nothing was written */
        assert_false(sandbox_test_exists(path));
}

/* ---- resolv.conf ------------------------------------------------------- */

static void test_resolv_conf(void **state)
{
        const char *dir = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *text = NULL;
        char *servers[] = { "10.96.0.10", "2001:db8::53" };
        char *searches[] = { "default.svc.cluster.local", "svc.cluster.local", "cluster.local.", "_x.example" };
        char *options[] = { "ndots:5", "edns0", "single-request-reopen" };
        struct podfiles_dns dns = {
                .servers = servers, .n_servers = 2,
                .searches = searches, .n_searches = 4,
                .options = options, .n_options = 3,
        };

        if (podfiles_write_resolv_conf(dir, &dns, "/nonexistent", &err) < 0)
                fail_msg("%s", ocid_error_message(&err));
        text = pod_file(dir, PODFILES_RESOLV_CONF);
        assert_string_equal(text,
                            "nameserver 10.96.0.10\n"
                            "nameserver 2001:db8::53\n"
                            "search default.svc.cluster.local svc.cluster.local cluster.local. _x.example\n"
                            "options ndots:5 edns0 single-request-reopen\n");

        /* only options */
        dns = (struct podfiles_dns) { .options = options, .n_options = 1 };
        assert_int_equal(podfiles_write_resolv_conf(dir, &dns, "/nonexistent", &err), 0);
        free(text);
        text = pod_file(dir, PODFILES_RESOLV_CONF);
        assert_string_equal(text, "options ndots:5\n");
}

static void test_resolv_conf_from_host(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *host = ocid_path_join(dir, "host-resolv.conf"), *text = NULL;
        _cleanup_free_ char *missing = ocid_path_join(dir, "missing");
        struct podfiles_dns empty = { 0 };

        write_text(host, "nameserver 192.0.2.53\nsearch lan\n");
        assert_int_equal(podfiles_write_resolv_conf(dir, NULL, host, NULL), 0);
        text = pod_file(dir, PODFILES_RESOLV_CONF);
        assert_string_equal(text, "nameserver 192.0.2.53\nsearch lan\n");

        assert_int_equal(podfiles_write_resolv_conf(dir, &empty, missing, NULL), 0);
        free(text);
        text = pod_file(dir, PODFILES_RESOLV_CONF);
        assert_string_equal(text, "");
}

static void expect_dns_refused(const char *dir, const struct podfiles_dns *dns, const char *needle)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *path = ocid_path_join(dir, PODFILES_RESOLV_CONF);

        expect_error(podfiles_dns_check(dns, &err), &err, EINVAL, needle);
        ocid_error_clear(&err);
        expect_error(podfiles_write_resolv_conf(dir, dns, NULL, &err), &err, EINVAL, needle);
        assert_false(sandbox_test_exists(path));
        for (const char *c = ocid_error_message(&err); *c; c++)
                assert_true((unsigned char) *c >= 0x20);
}

static void test_dns_refused(void **state)
{
        const char *dir = *state;
        char *nl_search[] = { "good.example", "evil.example\nnameserver 6.6.6.6" };
        char *space_search[] = { "a.example b.example" };
        char *empty_search[] = { "" };
        char *dot_search[] = { "." };
        char *dash_search[] = { "-a.example" };
        char *hostname_server[] = { "dns.example.com" };
        char *zone_server[] = { "fe80::1%eth0" };
        char *nl_server[] = { "10.0.0.1\n" };
        char *empty_server[] = { "" };
        char *four_servers[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4" };
        char *bad_option[] = { "ndots:5 rotate" };
        char *nl_option[] = { "ndots:5\nnameserver 6.6.6.6" };
        char *empty_option[] = { "" };
        char *searches[PODFILES_DNS_MAX_SEARCHES + 1];
        char *options[PODFILES_DNS_MAX_OPTIONS + 1];
        _cleanup_free_ char *label = NULL, *long_domain = NULL;
        char *long_searches[PODFILES_DNS_MAX_SEARCHES];
        struct podfiles_dns d;

        d = (struct podfiles_dns) { .searches = nl_search, .n_searches = 2 };
        expect_dns_refused(dir, &d, "dns_config.searches[1]");
        d = (struct podfiles_dns) { .searches = space_search, .n_searches = 1 };
        expect_dns_refused(dir, &d, "dns_config.searches[0]");
        d = (struct podfiles_dns) { .searches = empty_search, .n_searches = 1 };
        expect_dns_refused(dir, &d, "empty search domain");
        d = (struct podfiles_dns) { .searches = dot_search, .n_searches = 1 };
        expect_dns_refused(dir, &d, "dns_config.searches[0]");
        d = (struct podfiles_dns) { .searches = dash_search, .n_searches = 1 };
        expect_dns_refused(dir, &d, "not a valid domain name");
        d = (struct podfiles_dns) { .servers = hostname_server, .n_servers = 1 };
        expect_dns_refused(dir, &d, "'dns.example.com' is not an IP address");
        d = (struct podfiles_dns) { .servers = zone_server, .n_servers = 1 };
        expect_dns_refused(dir, &d, "dns_config.servers[0]");
        d = (struct podfiles_dns) { .servers = nl_server, .n_servers = 1 };
        expect_dns_refused(dir, &d, "dns_config.servers[0]");
        d = (struct podfiles_dns) { .servers = empty_server, .n_servers = 1 };
        expect_dns_refused(dir, &d, "dns_config.servers[0]");
        d = (struct podfiles_dns) { .servers = four_servers, .n_servers = 4 };
        expect_dns_refused(dir, &d, "at most 3");
        d = (struct podfiles_dns) { .options = bad_option, .n_options = 1 };
        expect_dns_refused(dir, &d, "dns_config.options[0]");
        d = (struct podfiles_dns) { .options = nl_option, .n_options = 1 };
        expect_dns_refused(dir, &d, "dns_config.options[0]");
        d = (struct podfiles_dns) { .options = empty_option, .n_options = 1 };
        expect_dns_refused(dir, &d, "empty option");

        /* one search domain too many */
        for (size_t i = 0; i < ELEMENTSOF(searches); i++)
                searches[i] = "a.example";
        d = (struct podfiles_dns) { .searches = searches, .n_searches = PODFILES_DNS_MAX_SEARCHES };
        assert_int_equal(podfiles_dns_check(&d, NULL), 0);
        d.n_searches++;
        expect_dns_refused(dir, &d, "at most 32");

        /* 32 domains within the count but over 2048 characters in all:
         * 32 x (63 + 1 + 4) + 31 spaces */
        label = xmalloc(64);
        memset(label, 'a', 63);
        label[63] = '\0';
        long_domain = xasprintf("%s.test", label);
        for (size_t i = 0; i < ELEMENTSOF(long_searches); i++)
                long_searches[i] = long_domain;
        d = (struct podfiles_dns) { .searches = long_searches, .n_searches = 30 };
        /* 30 x 68 + 29 = 2069 > 2048 */
        expect_dns_refused(dir, &d, "characters in all");
        d.n_searches = 29;  /* 29 x 68 + 28 = 2000 */
        assert_int_equal(podfiles_dns_check(&d, NULL), 0);

        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                options[i] = "edns0";
        d = (struct podfiles_dns) { .options = options, .n_options = PODFILES_DNS_MAX_OPTIONS + 1 };
        expect_dns_refused(dir, &d, "options");

        /* a count without its array */
        d = (struct podfiles_dns) { .n_servers = 1 };
        expect_dns_refused(dir, &d, "without its list");
}

/* ---- /dev/shm -------------------------------------------------------- */

static void assert_tmpfs_of(const char *path, uint64_t size)
{
        struct statfs sfs;
        struct stat st;

        assert_int_equal(statfs(path, &sfs), 0);
        assert_true((uint64_t) sfs.f_type == (uint64_t) TMPFS_MAGIC);
        assert_int_equal((uint64_t) sfs.f_blocks * (uint64_t) sfs.f_bsize, size);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 01777);
        assert_true(sfs.f_flags & ST_NOSUID);
        assert_true(sfs.f_flags & ST_NODEV);
        assert_true(sfs.f_flags & ST_NOEXEC);
}

static void test_shm(void **state)
{
        const char *dir = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *path = NULL, *want = ocid_path_join(dir, PODFILES_SHM);

        REQUIRE_ROOT();
        if (podfiles_mount_shm(dir, 1 << 20, &path, &err) < 0)
                fail_msg("%s", ocid_error_message(&err));
        assert_string_equal(path, want);
        assert_tmpfs_of(path, 1 << 20);
        assert_int_equal(sandbox_test_mounts_on(path, NULL), 1);

        /* twice is refused, and leaves the first mount alone */
        expect_error(podfiles_mount_shm(dir, 1 << 20, NULL, &err), &err, EEXIST, "mounted already");
        ocid_error_clear(&err);
        assert_int_equal(sandbox_test_mounts_on(path, NULL), 1);

        assert_int_equal(podfiles_unmount_shm(dir, &err), 0);
        assert_false(sandbox_test_exists(path));
        assert_int_equal(sandbox_test_mounts_on(path, NULL), 0);
        assert_int_equal(podfiles_unmount_shm(dir, &err), 0);  /* idempotent */
        assert_null(err);
}

static void test_shm_default_size(void **state)
{
        const char *dir = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *path = NULL;

        REQUIRE_ROOT();
        assert_int_equal(podfiles_mount_shm(dir, 0, &path, &err), 0);
        assert_tmpfs_of(path, PODFILES_SHM_SIZE_DEFAULT);
        /* someone else unmounted it: teardown still succeeds */
        assert_int_equal(umount2(path, 0), 0);
        assert_int_equal(podfiles_unmount_shm(dir, &err), 0);
        assert_false(sandbox_test_exists(path));
}

static void test_shm_not_a_dir(void **state)
{
        const char *dir = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *path = ocid_path_join(dir, PODFILES_SHM);

        write_text(path, "x");
        expect_error(podfiles_mount_shm(dir, 0, NULL, &err), &err, ENOTDIR, "not a directory");
        assert_true(sandbox_test_exists(path));
}

/* ---- infra rootfs ------------------------------------------------------ */

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

static void test_infra_rootfs(void **state)
{
        const char *dir = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *rootfs = ocid_path_join(dir, "infra/rootfs");
        _cleanup_free_ char *pause = ocid_path_join(rootfs, PODFILES_PAUSE_NAME);
        _cleanup_free_ char *a = NULL, *b = NULL;
        size_t la = 0, lb = 0;
        struct stat st;

        if (podfiles_infra_rootfs(rootfs, OCID_TEST_PAUSE_BINARY, &err) < 0) {
                /* a build without libc.a links ocid-pause dynamically */
                if (strstr(ocid_error_message(&err), "dynamically linked")) {
                        print_message("# skipped: %s\n", ocid_error_message(&err));
                        skip();
                }
                fail_msg("%s", ocid_error_message(&err));
        }
        assert_int_equal(count_entries(rootfs), 1);
        assert_int_equal(stat(pause, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_int_equal(stat(rootfs, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_int_equal(ocid_read_file(OCID_TEST_PAUSE_BINARY, 64 << 20, &a, &la, NULL), 0);
        assert_int_equal(ocid_read_file(pause, 64 << 20, &b, &lb, NULL), 0);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);

        /* again: the same result, nothing else appears */
        assert_int_equal(podfiles_infra_rootfs(rootfs, OCID_TEST_PAUSE_BINARY, &err), 0);
        assert_int_equal(count_entries(rootfs), 1);

        expect_error(podfiles_infra_rootfs(rootfs, "/nonexistent/ocid-pause", &err), &err, ENOENT,
                     "read the pause binary");
}

static void test_infra_rootfs_refused(void **state)
{
        const char *dir = *state;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *rootfs = ocid_path_join(dir, "rootfs");
        _cleanup_free_ char *script = ocid_path_join(dir, "script");
        _cleanup_free_ char *empty = ocid_path_join(dir, "empty");
        _cleanup_free_ char *dynamic = ocid_path_join(dir, "dynamic");

        write_text(script, "#!/bin/sh\nexec sleep infinity\n");
        expect_error(podfiles_infra_rootfs(rootfs, script, &err), &err, ENOEXEC, "not an ELF executable");
        ocid_error_clear(&err);
        write_text(empty, "");
        expect_error(podfiles_infra_rootfs(rootfs, empty, &err), &err, ENOEXEC, "not an ELF executable");
        ocid_error_clear(&err);
        /* this test program itself is dynamically linked */
        {
                _cleanup_free_ char *self = NULL;
                size_t len = 0;

                assert_int_equal(ocid_read_file("/proc/self/exe", 64 << 20, &self, &len, NULL), 0);
                assert_int_equal(ocid_write_file_atomic(dynamic, self, len, 0755, NULL), 0);
        }
        expect_error(podfiles_infra_rootfs(rootfs, dynamic, &err), &err, ENOEXEC, "dynamically linked");
        assert_false(sandbox_test_exists(rootfs));
}

static void test_pause_binary_path(void **state)
{
        assert_int_equal(unsetenv("OCID_PAUSE_BINARY"), 0);
        assert_string_equal(podfiles_pause_binary(), OCID_LIBEXECDIR "/ocid-pause");
        assert_int_equal(setenv("OCID_PAUSE_BINARY", "/opt/x/ocid-pause", 1), 0);
        assert_string_equal(podfiles_pause_binary(), "/opt/x/ocid-pause");
        assert_int_equal(unsetenv("OCID_PAUSE_BINARY"), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_hostname_check),
                T(test_write_hostname),
                T(test_hosts_no_ip_yet),
                T(test_hosts_ips_and_aliases),
                T(test_hosts_from_base),
                T(test_hosts_refused),
                T(test_resolv_conf),
                T(test_resolv_conf_from_host),
                T(test_dns_refused),
                T(test_shm),
                T(test_shm_default_size),
                T(test_shm_not_a_dir),
                T(test_infra_rootfs),
                T(test_infra_rootfs_refused),
                T(test_pause_binary_path),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, sandbox_test_private_mounts, NULL);
}
