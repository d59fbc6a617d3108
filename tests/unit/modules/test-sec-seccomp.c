/* SPDX-License-Identifier: Apache-2.0 */
/* sec-seccomp: the built module is ready and its report of the kernel's
 * seccomp support agrees with /proc/self/status; the module's source is
 * also linked into this program with prctl() mocked (-Wl,--wrap) to prove
 * the kernels without seccomp or without filter mode. The profiles (the
 * shipped etc/seccomp.json, OCI and Docker formats, includes/excludes,
 * unknown and malformed entries, Localhost paths, reload) go through the
 * core's chain wrapper with the linked module. */

#include <errno.h>
#include <json-c/json.h>
#include <linux/prctl.h> /* PR_GET_SECCOMP, PR_SET_SECCOMP */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../test-common.h"
#include "module-test.h"

#include <ocid/json.h>
#include <ocid/log.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "modules.h"
#include "security.h"

extern const struct ocid_module_info sec_seccomp_LTX_ocid_module_info;

/* The mock: when active, PR_GET_SECCOMP and PR_SET_SECCOMP fail with
 * mock_get_errno and mock_set_errno; everything else is real. */
static bool mock_active;
static int mock_get_errno, mock_set_errno;

int __real_prctl(int option, ...);
int __wrap_prctl(int option, ...);

int __wrap_prctl(int option, ...)
{
        unsigned long a[4];
        va_list ap;

        va_start(ap, option);
        for (size_t i = 0; i < ELEMENTSOF(a); i++)
                a[i] = va_arg(ap, unsigned long);
        va_end(ap);
        if (mock_active && option == PR_GET_SECCOMP && mock_get_errno) {
                errno = mock_get_errno;
                return -1;
        }
        if (mock_active && option == PR_SET_SECCOMP) {
                errno = mock_set_errno;
                return -1;
        }
        return __real_prctl(option, a[0], a[1], a[2], a[3]);
}

static struct json_object *linked_info(int get_errno, int set_errno)
{
        _cleanup_(module_finip) struct ocid_module *m =
                test_module_linked(&sec_seccomp_LTX_ocid_module_info);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *json = NULL, *reason = NULL, *message = NULL;
        struct json_object *o;
        int r;

        mock_active = true;
        mock_get_errno = get_errno;
        mock_set_errno = set_errno;
        r = module_init(m, NULL, &e);
        mock_active = false;
        assert_no_error(r, e);

        r = security_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);

        r = module_info(m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_non_null(o);
        return o;
}

static void expect_support(int get_errno, int set_errno, bool supported, const char *reason)
{
        _cleanup_json_ struct json_object *o = linked_info(get_errno, set_errno);
        struct json_object *v;

        assert_true(json_object_object_get_ex(o, "kernel_support", &v));
        assert_int_equal(json_object_get_boolean(v), supported);
        if (reason)
                assert_string_equal(ocid_json_get_string(o, "reason"), reason);
        else
                assert_false(json_object_object_get_ex(o, "reason", NULL));
}

static void test_kernels(void **state)
{
        /* Filter mode present: a NULL program is EFAULT, or EACCES without
         * no_new_privs. */
        expect_support(0, EFAULT, true, NULL);
        expect_support(0, EACCES, true, NULL);
        expect_support(0, EINVAL, false, "the kernel has no seccomp filter mode (CONFIG_SECCOMP_FILTER)");
        expect_support(EINVAL, EINVAL, false, "the kernel is built without seccomp (CONFIG_SECCOMP)");
}

static int setup(void **state)
{
        (void) test_env_dir("OCID_MODULE_DIR");
        return 0;
}

static void test_status_and_info(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("sec-seccomp", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL, *json = NULL, *status = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *v;
        int r, kernel;

        r = security_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);

        r = module_info(m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_non_null(o);
        assert_true(json_object_object_get_ex(o, "kernel_support", &v));
        assert_true(json_object_is_type(v, json_type_boolean));
        kernel = json_object_get_boolean(v);
        assert_true(json_object_object_get_ex(o, "libseccomp", &v));
        assert_non_null(json_object_get_string(v));

        /* A kernel with seccomp shows a "Seccomp:" line for every task. */
        r = ocid_read_file("/proc/self/status", 1 << 20, &status, NULL, &e);
        assert_no_error(r, e);
        if (strstr(status, "\nSeccomp:"))
                assert_true(kernel);
        else {
                assert_false(kernel);
                assert_true(json_object_object_get_ex(o, "reason", &v));
        }
}

static void test_no_settings(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        config_t cfg;
        const config_setting_t *s = test_config_parse(&cfg, "modules: { sec-seccomp: { profile = \"x\"; }; };",
                                                      "modules.sec-seccomp");
        int r;

        r = module_load(NULL, "sec-seccomp", OCID_MODULE_KIND_SECURITY, &m, &e);
        assert_no_error(r, e);
        r = module_check(m, s, &e);
        assert_error(r, e, EINVAL, "module 'sec-seccomp': check: ");
        assert_contains(e->message, "modules.sec-seccomp.profile: unknown key");
        config_destroy(&cfg);
}


/* ---- profiles through the chain ------------------------------------------ */

#define CID "1111111111111111111111111111111111111111111111111111111111111111"
#define PID "2222222222222222222222222222222222222222222222222222222222222222"

static char *captured;   /* warnings logged by the module, one per line */

static void log_sink(int level, const char *category, const char *message, void *userdata)
{
        char *n;

        if (level > OCID_LOG_WARNING)
                return;
        n = xasprintf("%s%s\n", captured ? captured : "", message);
        free(captured);
        captured = n;
}

static size_t count_lines(const char *s)
{
        size_t n = 0;

        for (; s && *s; s++)
                n += *s == '\n';
        return n;
}

struct env {
        char *dir;
        struct ocid_module *m;
        struct ocid_module *list[1];
        struct ocid_modules set;
};

static const char *shipped_profile(void)
{
        static char *p;

        if (!p) {
                _cleanup_free_ char *rel = xasprintf("%s/../../etc/seccomp.json", test_env_dir("OCID_TEST_SRCDIR"));

                p = realpath(rel, NULL);   /* Localhost refuses '..' */
                assert_non_null(p);
        }
        return p;
}

/* Starts the linked module with `settings` (the body of its group; may
 * contain one %s, replaced by the test's directory). */
static void env_start(struct env *e, const char *settings)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *body = NULL, *text = NULL;
        config_t cfg;
        const config_setting_t *g;
        int r;

        if (!e->dir)
                e->dir = test_tmpdir_new();
        {
                const char *at = strstr(settings, "%s");

                body = at ? xasprintf("%.*s%s%s", (int) (at - settings), settings, e->dir, at + 2)
                          : xstrdup(settings);
        }
        text = xasprintf("modules: { sec-seccomp: { %s }; };", body);
        g = test_config_parse(&cfg, text, "modules.sec-seccomp");
        e->m = test_module_linked(&sec_seccomp_LTX_ocid_module_info);
        r = module_init(e->m, g, &err);
        config_destroy(&cfg);
        assert_no_error(r, err);
        e->list[0] = e->m;
        e->set.security = e->list;
        e->set.n_security = 1;
}

static void env_stop(struct env *e)
{
        module_fini(e->m);
        e->m = NULL;
        test_tmpdir_free(e->dir);
        e->dir = NULL;
        free(captured);
        captured = NULL;
}

/* A spec with the given bounding capabilities (NULL-terminated). */
static struct json_object *spec_with_caps(const char *const *caps)
{
        struct json_object *spec = json_object_new_object(), *proc = json_object_new_object();
        struct json_object *c = json_object_new_object(), *b = json_object_new_array();

        for (; caps && *caps; caps++)
                json_object_array_add(b, json_object_new_string(*caps));
        json_object_object_add(c, "bounding", b);
        json_object_object_add(proc, "capabilities", c);
        json_object_object_add(spec, "process", proc);
        json_object_object_add(spec, "linux", json_object_new_object());
        return spec;
}

static int apply(struct env *e, uint32_t type, const char *ref, int privileged, struct json_object *spec,
                 struct ocid_error **err)
{
        struct ocid_security_request req = {
                .size = sizeof(req),
                .container_id = CID,
                .pod_id = PID,
                .privileged = privileged,
                .seccomp = { type, ref },
        };

        return security_apply_chain(&e->set, &req, spec, NULL, err);
}

/* linux.seccomp of spec, or NULL. */
static struct json_object *seccomp_of(struct json_object *spec)
{
        struct json_object *l = NULL, *s = NULL;

        if (!json_object_object_get_ex(spec, "linux", &l) || !json_object_object_get_ex(l, "seccomp", &s))
                return NULL;
        return s;
}

/* The action for `name` in the translated rules: the first entry naming it
 * (NULL when none), with its args in *ret_args. */
static const char *rule_for(struct json_object *sc, const char *name, struct json_object **ret_args)
{
        struct json_object *calls = NULL;

        assert_true(json_object_object_get_ex(sc, "syscalls", &calls));
        for (size_t i = 0; i < json_object_array_length(calls); i++) {
                struct json_object *e = json_object_array_get_idx(calls, i), *names = NULL, *a = NULL;

                assert_true(json_object_object_get_ex(e, "names", &names));
                for (size_t j = 0; j < json_object_array_length(names); j++)
                        if (streq(json_object_get_string(json_object_array_get_idx(names, j)), name)) {
                                if (ret_args)
                                        *ret_args = json_object_object_get_ex(e, "args", &a) ? a : NULL;
                                return ocid_json_get_string(e, "action");
                        }
        }
        return NULL;
}

static void test_shipped_profile(void **state)
{
        static const char *const blocked[] = {
                "mount", "umount2", "pivot_root", "unshare", "setns", "init_module", "finit_module",
                "delete_module", "keyctl", "add_key", "request_key", "ptrace", "clock_settime",
                "settimeofday", "adjtimex", "clock_adjtime", "reboot", "kexec_load", "kexec_file_load", "bpf",
                "perf_event_open", "userfaultfd", "swapon", "swapoff", "acct", "quotactl", "open_by_handle_at",
                "name_to_handle_at", "process_vm_readv", "process_vm_writev", "io_uring_setup", "fsopen",
                "move_mount", "syslog", "iopl", "ioperm", "lookup_dcookie", NULL,
        };
        static const char *const caps[] = { "CAP_CHOWN", "CAP_SETUID", "CAP_SYS_CHROOT", NULL };
        static const char *const admin[] = { "CAP_SYS_ADMIN", NULL };
        _cleanup_free_ char *settings = xasprintf("default_profile = \"%s\";", shipped_profile());
        _cleanup_json_ struct json_object *spec = spec_with_caps(caps), *spec2 = spec_with_caps(admin);
        _cleanup_error_ struct ocid_error *err = NULL;
        struct json_object *sc, *args = NULL, *a;
        struct env e = { 0 };
        int r;

        ocid_log_set_sink(log_sink, NULL);
        env_start(&e, settings);
        /* every name in the shipped profile is known to libseccomp here */
        assert_null(captured);

        r = apply(&e, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, spec, &err);
        assert_no_error(r, err);
        sc = seccomp_of(spec);
        assert_non_null(sc);
        assert_string_equal(ocid_json_get_string(sc, "defaultAction"), "SCMP_ACT_ERRNO");
        assert_int_equal(ocid_json_get_int64(sc, "defaultErrnoRet", -1), EPERM);
        assert_string_equal(rule_for(sc, "read", NULL), "SCMP_ACT_ALLOW");
        assert_string_equal(rule_for(sc, "execve", NULL), "SCMP_ACT_ALLOW");
        for (size_t i = 0; blocked[i]; i++)
                if (rule_for(sc, blocked[i], NULL)) {
                        print_error("'%s' is allowed by the default profile\n", blocked[i]);
                        fail();
                }
        /* clone only without namespace flags */
        assert_string_equal(rule_for(sc, "clone", &args), "SCMP_ACT_ALLOW");
        assert_non_null(args);
        a = json_object_array_get_idx(args, 0);
        assert_string_equal(ocid_json_get_string(a, "op"), "SCMP_CMP_MASKED_EQ");
        assert_int_equal(ocid_json_get_int64(a, "value", 0) & 0x10000000 /* CLONE_NEWUSER */, 0x10000000);
        assert_int_equal(ocid_json_get_int64(a, "value", 0) & 0x40000000 /* CLONE_NEWNET */, 0x40000000);
        assert_string_equal(rule_for(sc, "clone3", NULL), "SCMP_ACT_ERRNO");
        /* cap-gated rules follow the container's capabilities */
        assert_string_equal(rule_for(sc, "chroot", NULL), "SCMP_ACT_ALLOW");
        assert_null(rule_for(sc, "sethostname", NULL));
        if (seccomp_arch_native() == SCMP_ARCH_X86_64)
                assert_string_equal(rule_for(sc, "arch_prctl", NULL), "SCMP_ACT_ALLOW");

        r = apply(&e, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, spec2, &err);
        assert_no_error(r, err);
        sc = seccomp_of(spec2);
        assert_string_equal(rule_for(sc, "sethostname", NULL), "SCMP_ACT_ALLOW");
        assert_null(rule_for(sc, "chroot", NULL));
        assert_null(rule_for(sc, "mount", NULL));   /* not even with CAP_SYS_ADMIN */
        assert_null(rule_for(sc, "unshare", NULL));
        ocid_log_set_sink(NULL, NULL);
        env_stop(&e);
}

/* Unset, Unconfined, privileged and use_default_when_empty. */
static void test_choices(void **state)
{
        _cleanup_free_ char *settings = xasprintf("default_profile = \"%s\";", shipped_profile());
        _cleanup_free_ char *settings2 = xasprintf("default_profile = \"%s\"; use_default_when_empty = true;",
                                                   shipped_profile());
        _cleanup_error_ struct ocid_error *err = NULL;
        struct env e = { 0 };
        struct {
                const char *settings;
                uint32_t type;
                int privileged;
                bool confined;
        } cases[] = {
                { settings, OCID_SECURITY_PROFILE_UNSET, 0, false },
                { settings, OCID_SECURITY_PROFILE_UNCONFINED, 0, false },
                { settings, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, 0, true },
                { settings, OCID_SECURITY_PROFILE_UNSET, 1, false },
                { settings, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, 1, true },   /* asked explicitly */
                { settings2, OCID_SECURITY_PROFILE_UNSET, 0, true },
                { settings2, OCID_SECURITY_PROFILE_UNSET, 1, false },
                { settings2, OCID_SECURITY_PROFILE_UNCONFINED, 0, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ struct json_object *spec = spec_with_caps(NULL);
                int r;

                /* a stale linux.seccomp is removed when none applies */
                json_object_object_add(json_object_object_get(spec, "linux"), "seccomp", json_object_new_object());
                env_start(&e, cases[i].settings);
                r = apply(&e, cases[i].type, NULL, cases[i].privileged, spec, &err);
                assert_no_error(r, err);
                if (cases[i].confined != (seccomp_of(spec) && ocid_json_get_string(seccomp_of(spec), "defaultAction"))) {
                        print_error("case %zu: confined should be %d\n", i, cases[i].confined);
                        fail();
                }
                env_stop(&e);
        }
}

static char *write_profile(const struct env *e, const char *name, const char *text)
{
        test_write_file(e->dir, name, text);
        return ocid_path_join(e->dir, name);
}

static void test_localhost_oci(void **state)
{
        _cleanup_json_ struct json_object *spec = spec_with_caps(NULL), *want = NULL;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *path = NULL;
        struct env e = { 0 };
        int r;

        env_start(&e, "default_profile = \"%s/none.json\";");
        path = write_profile(&e, "oci.json",
                "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38,"
                "  \"architectures\": [ \"SCMP_ARCH_X86_64\", \"SCMP_ARCH_AARCH64\" ],"
                "  \"flags\": [ \"SECCOMP_FILTER_FLAG_LOG\" ],"
                "  \"syscalls\": ["
                "    { \"names\": [ \"read\", \"write\" ], \"action\": \"SCMP_ACT_ALLOW\" },"
                "    { \"names\": [ \"personality\" ], \"action\": \"SCMP_ACT_ALLOW\", \"comment\": \"x\","
                "      \"args\": [ { \"index\": 0, \"value\": 8, \"op\": \"SCMP_CMP_EQ\" },"
                "                  { \"index\": 1, \"value\": 18446744073709551615, \"valueTwo\": 3,"
                "                    \"op\": \"SCMP_CMP_MASKED_EQ\" } ] },"
                "    { \"names\": [ \"mkdir\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13 } ] }");
        r = apply(&e, OCID_SECURITY_PROFILE_LOCALHOST, path, 0, spec, &err);
        assert_no_error(r, err);
        want = json_tokener_parse(
                "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38,"
                "  \"architectures\": [ \"SCMP_ARCH_X86_64\", \"SCMP_ARCH_AARCH64\" ],"
                "  \"flags\": [ \"SECCOMP_FILTER_FLAG_LOG\" ],"
                "  \"syscalls\": ["
                "    { \"names\": [ \"read\", \"write\" ], \"action\": \"SCMP_ACT_ALLOW\" },"
                "    { \"names\": [ \"personality\" ], \"action\": \"SCMP_ACT_ALLOW\","
                "      \"args\": [ { \"index\": 0, \"value\": 8, \"op\": \"SCMP_CMP_EQ\" },"
                "                  { \"index\": 1, \"value\": 18446744073709551615, \"valueTwo\": 3,"
                "                    \"op\": \"SCMP_CMP_MASKED_EQ\" } ] },"
                "    { \"names\": [ \"mkdir\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13 } ] }");
        assert_non_null(want);
        if (!json_object_equal(seccomp_of(spec), want)) {
                print_error("got %s\n", json_object_to_json_string(seccomp_of(spec)));
                fail();
        }
        env_stop(&e);
}

/* Docker's format: archMap, "name", includes and excludes. */
static void test_localhost_docker(void **state)
{
        static const char *const caps[] = { "CAP_SYS_TIME", "CAP_NET_ADMIN", NULL };
        _cleanup_json_ struct json_object *spec = spec_with_caps(caps);
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *path = NULL, *text = NULL;
        const char *native = seccomp_arch_native() == SCMP_ARCH_AARCH64 ? "SCMP_ARCH_AARCH64" : "SCMP_ARCH_X86_64";
        const char *goarch = seccomp_arch_native() == SCMP_ARCH_AARCH64 ? "arm64" : "amd64";
        struct json_object *sc, *arches;
        struct env e = { 0 };
        int r;

        env_start(&e, "default_profile = \"%s/none.json\";");
        text = xasprintf(
                "{ \"defaultAction\": \"SCMP_ACT_ERRNO\","
                "  \"archMap\": [ { \"architecture\": \"SCMP_ARCH_S390X\", \"subArchitectures\": [ \"SCMP_ARCH_S390\" ] },"
                "                { \"architecture\": \"%s\", \"subArchitectures\": [ \"SCMP_ARCH_X86\" ] } ],"
                "  \"syscalls\": ["
                "    { \"name\": \"read\", \"action\": \"SCMP_ACT_ALLOW\", \"args\": [] },"
                "    { \"names\": [ \"settimeofday\" ], \"action\": \"SCMP_ACT_ALLOW\","
                "      \"includes\": { \"caps\": [ \"CAP_SYS_TIME\" ] } },"
                "    { \"names\": [ \"mount\" ], \"action\": \"SCMP_ACT_ALLOW\","
                "      \"includes\": { \"caps\": [ \"CAP_SYS_ADMIN\" ] } },"
                "    { \"names\": [ \"reboot\" ], \"action\": \"SCMP_ACT_ALLOW\","
                "      \"includes\": { \"caps\": [ \"CAP_SYS_TIME\", \"CAP_SYS_BOOT\" ] } },"
                "    { \"names\": [ \"write\" ], \"action\": \"SCMP_ACT_ALLOW\","
                "      \"excludes\": { \"caps\": [ \"CAP_NET_ADMIN\" ] } },"
                "    { \"names\": [ \"close\" ], \"action\": \"SCMP_ACT_ALLOW\","
                "      \"includes\": { \"arches\": [ \"%s\" ], \"minKernel\": \"2.6\" } },"
                "    { \"names\": [ \"open\" ], \"action\": \"SCMP_ACT_ALLOW\","
                "      \"includes\": { \"arches\": [ \"s390x\", \"ppc64le\" ] } },"
                "    { \"names\": [ \"openat\" ], \"action\": \"SCMP_ACT_ALLOW\","
                "      \"excludes\": { \"arches\": [ \"%s\" ] } },"
                "    { \"names\": [ \"getpid\" ], \"action\": \"SCMP_ACT_ALLOW\","
                "      \"includes\": { \"minKernel\": \"999.0\" } },"
                "    { \"names\": [ \"getppid\" ], \"action\": \"SCMP_ACT_ALLOW\","
                "      \"excludes\": { \"minKernel\": \"3.0\" } } ] }",
                native, goarch, goarch);
        path = write_profile(&e, "docker.json", text);
        r = apply(&e, OCID_SECURITY_PROFILE_LOCALHOST, path, 0, spec, &err);
        assert_no_error(r, err);
        sc = seccomp_of(spec);
        assert_non_null(sc);
        assert_true(json_object_object_get_ex(sc, "architectures", &arches));
        assert_int_equal(json_object_array_length(arches), 2);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(arches, 0)), native);
        assert_string_equal(rule_for(sc, "read", NULL), "SCMP_ACT_ALLOW");
        assert_non_null(rule_for(sc, "settimeofday", NULL));   /* CAP_SYS_TIME held */
        assert_null(rule_for(sc, "mount", NULL));              /* CAP_SYS_ADMIN not held */
        assert_null(rule_for(sc, "reboot", NULL));             /* needs both */
        assert_null(rule_for(sc, "write", NULL));              /* excluded by CAP_NET_ADMIN */
        assert_non_null(rule_for(sc, "close", NULL));          /* this arch, old enough kernel */
        assert_null(rule_for(sc, "open", NULL));               /* other arches only */
        assert_null(rule_for(sc, "openat", NULL));             /* excluded on this arch */
        assert_null(rule_for(sc, "getpid", NULL));             /* kernel too old */
        assert_null(rule_for(sc, "getppid", NULL));            /* excluded from 3.0 on */
        env_stop(&e);
}

static void test_unknown_syscalls(void **state)
{
        static const char *const profile =
                "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": ["
                "  { \"names\": [ \"read\", \"no_such_call\" ], \"action\": \"SCMP_ACT_ALLOW\" },"
                "  { \"names\": [ \"another_fake\", \"no_such_call\" ], \"action\": \"SCMP_ACT_ALLOW\" } ] }";
        _cleanup_error_ struct ocid_error *err = NULL;
        struct env e = { 0 };
        int r;

        ocid_log_set_sink(log_sink, NULL);
        for (int mode = 0; mode < 3; mode++) {
                static const char *const settings[] = {
                        "default_profile = \"%s/none.json\";",
                        "default_profile = \"%s/none.json\"; unknown_syscall = \"ignore\";",
                        "default_profile = \"%s/none.json\"; unknown_syscall = \"error\";",
                };
                _cleanup_json_ struct json_object *spec = spec_with_caps(NULL);
                _cleanup_free_ char *path = NULL;

                env_start(&e, settings[mode]);
                free(captured);
                captured = NULL;   /* the missing default profile's warning */
                path = write_profile(&e, "p.json", profile);
                r = apply(&e, OCID_SECURITY_PROFILE_LOCALHOST, path, 0, spec, &err);
                if (mode == 2) {
                        assert_error(r, err, EINVAL, "syscalls[0]: unknown system call 'no_such_call'");
                        assert_contains(err->message, path);
                        ocid_error_clear(&err);
                } else {
                        assert_no_error(r, err);
                        assert_string_equal(rule_for(seccomp_of(spec), "read", NULL), "SCMP_ACT_ALLOW");
                        assert_null(rule_for(seccomp_of(spec), "no_such_call", NULL));
                        assert_int_equal(json_object_array_length(
                                json_object_object_get(seccomp_of(spec), "syscalls")), 1);
                        if (mode == 0) {
                                assert_int_equal(count_lines(captured), 1);
                                assert_contains(captured, "'no_such_call', 'another_fake'");
                                assert_contains(captured, path);
                        } else
                                assert_null(captured);
                }
                env_stop(&e);
        }
        ocid_log_set_sink(NULL, NULL);
}

static void test_malformed(void **state)
{
        static const struct {
                const char *text;
                const char *msg;
        } cases[] = {
                { "{ \"defaultAction\": ", "invalid JSON" },
                { "[ 1 ]", "expected a JSON object" },
                { "{ \"syscalls\": [] }", "defaultAction: missing" },
                { "{ \"defaultAction\": \"SCMP_ACT_EXPLODE\" }", "defaultAction: unknown action 'SCMP_ACT_EXPLODE'" },
                { "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ { \"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\" },"
                  " { \"names\": [\"write\"], \"action\": \"SCMP_ACT_NOPE\" } ] }",
                  "syscalls[1]: action: unknown action 'SCMP_ACT_NOPE'" },
                { "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ { \"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
                  " \"args\": [ { \"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_ABOUT\" } ] } ] }",
                  "syscalls[0]: args[0].op: unknown operator 'SCMP_CMP_ABOUT'" },
                { "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ { \"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
                  " \"args\": [ {\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}, {\"index\":1,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},"
                  " {\"index\":2,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}, {\"index\":3,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},"
                  " {\"index\":4,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}, {\"index\":5,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},"
                  " {\"index\":5,\"value\":2,\"op\":\"SCMP_CMP_EQ\"} ] } ] }",
                  "syscalls[0]: args: 7 conditions, at most 6 are allowed" },
                { "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ { \"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
                  " \"args\": [ { \"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\" } ] } ] }",
                  "syscalls[0]: args[0].index: 6 is out of range" },
                { "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ { \"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
                  " \"args\": [ { \"index\": 0, \"value\": -1, \"op\": \"SCMP_CMP_EQ\" } ] } ] }",
                  "syscalls[0]: args[0].value: expected a non-negative integer" },
                { "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ { \"action\": \"SCMP_ACT_ALLOW\" } ] }",
                  "syscalls[0]: neither 'names' nor 'name' is given" },
                { "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ { \"names\": \"read\", \"action\": \"SCMP_ACT_ALLOW\" } ] }",
                  "syscalls[0]: names: expected an array of strings" },
                { "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ { \"names\": [\"read\"], \"action\": \"SCMP_ACT_NOTIFY\" } ] }",
                  "syscalls[0]: action: SCMP_ACT_NOTIFY needs a seccomp agent" },
                { "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ { \"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
                  " \"errnoRet\": 1 } ] }",
                  "syscalls[0]: errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one" },
                { "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [ \"SCMP_ARCH_X86_64\", \"SCMP_ARCH_VAX\" ] }",
                  "architectures[1]: unknown architecture 'SCMP_ARCH_VAX'" },
                { "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"flags\": [ \"SECCOMP_FILTER_FLAG_MAGIC\" ] }",
                  "flags[0]: unknown flag 'SECCOMP_FILTER_FLAG_MAGIC'" },
                { "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ { \"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\","
                  " \"includes\": { \"minKernel\": \"five\" } } ] }",
                  "syscalls[0]: includes.minKernel: 'five' is not MAJOR.MINOR" },
                { "{ \"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/agent.sock\" }",
                  "listenerPath: seccomp agents are not supported" },
        };
        struct env e = { 0 };

        env_start(&e, "default_profile = \"%s/none.json\";");
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ struct json_object *spec = spec_with_caps(NULL);
                _cleanup_error_ struct ocid_error *err = NULL;
                _cleanup_free_ char *name = xasprintf("bad%zu.json", i), *path = write_profile(&e, name, cases[i].text);
                _cleanup_free_ char *prefix = xasprintf("seccomp profile '%s': ", path);
                int r;

                r = apply(&e, OCID_SECURITY_PROFILE_LOCALHOST, path, 0, spec, &err);
                assert_error(r, err, EINVAL, cases[i].msg);
                assert_contains(err->message, prefix);
                assert_contains(err->message, "module 'sec-seccomp': apply: ");
        }
        env_stop(&e);
}

static void test_localhost_paths(void **state)
{
        struct env e = { 0 };
        _cleanup_free_ char *fifo = NULL, *big = NULL, *good = NULL, *dotdot = NULL, *dot = NULL, *sub = NULL;
        _cleanup_free_ char *link = NULL;
        struct {
                const char *ref;
                int code;
                const char *msg;
        } cases[8];
        size_t n = 0;

        env_start(&e, "default_profile = \"%s/none.json\";");
        good = write_profile(&e, "good.json", "{ \"defaultAction\": \"SCMP_ACT_ALLOW\" }");
        sub = ocid_path_join(e.dir, "sub");
        assert_int_equal(mkdir(sub, 0755), 0);
        dotdot = xasprintf("%s/sub/../good.json", e.dir);
        dot = xasprintf("%s/./good.json", e.dir);
        fifo = ocid_path_join(e.dir, "fifo");
        assert_int_equal(mkfifo(fifo, 0600), 0);
        big = ocid_path_join(e.dir, "big.json");
        {
                FILE *f = fopen(big, "we");

                assert_non_null(f);
                assert_int_equal(ftruncate(fileno(f), (2 << 20)), 0);
                fclose(f);
        }
        link = ocid_path_join(e.dir, "link.json");
        assert_int_equal(symlink(good, link), 0);

        cases[n++] = (typeof(cases[0])) { "relative/p.json", EINVAL, "must be an absolute path" };
        cases[n++] = (typeof(cases[0])) { dotdot, EINVAL, "'.' and '..' are not allowed in the path" };
        cases[n++] = (typeof(cases[0])) { "/../etc/passwd", EINVAL, "'.' and '..' are not allowed in the path" };
        cases[n++] = (typeof(cases[0])) { dot, EINVAL, "'.' and '..' are not allowed in the path" };
        cases[n++] = (typeof(cases[0])) { sub, EINVAL, "not a regular file" };
        cases[n++] = (typeof(cases[0])) { fifo, EINVAL, "not a regular file" };
        cases[n++] = (typeof(cases[0])) { big, EFBIG, "larger than" };
        cases[n++] = (typeof(cases[0])) { "/nonexistent/p.json", ENOENT, "seccomp profile '/nonexistent/p.json'" };
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ struct json_object *spec = spec_with_caps(NULL);
                _cleanup_error_ struct ocid_error *err = NULL;
                int r = apply(&e, OCID_SECURITY_PROFILE_LOCALHOST, cases[i].ref, 0, spec, &err);

                assert_error(r, err, cases[i].code, cases[i].msg);
                assert_null(seccomp_of(spec) ? ocid_json_get_string(seccomp_of(spec), "defaultAction") : NULL);
        }
        {
                /* a symlink to a regular file is fine: the kubelet's profile
                 * directories are often links */
                _cleanup_json_ struct json_object *spec = spec_with_caps(NULL);
                _cleanup_error_ struct ocid_error *err = NULL;
                int r = apply(&e, OCID_SECURITY_PROFILE_LOCALHOST, link, 0, spec, &err);

                assert_no_error(r, err);
                assert_string_equal(ocid_json_get_string(seccomp_of(spec), "defaultAction"), "SCMP_ACT_ALLOW");
        }
        env_stop(&e);
}

/* The default profile is read again when its file changes; a broken
 * change keeps the previous profile with one warning. */
static void test_default_reload(void **state)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *path = NULL;
        struct env e = { 0 };
        struct json_object *sc;
        int r;

        e.dir = test_tmpdir_new();
        path = write_profile(&e, "default.json",
                             "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": ["
                             " { \"names\": [ \"read\" ], \"action\": \"SCMP_ACT_ALLOW\" } ] }");
        env_start(&e, "default_profile = \"%s/default.json\";");
        ocid_log_set_sink(log_sink, NULL);
        {
                _cleanup_json_ struct json_object *spec = spec_with_caps(NULL);

                r = apply(&e, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, spec, &err);
                assert_no_error(r, err);
                sc = seccomp_of(spec);
                assert_non_null(rule_for(sc, "read", NULL));
                assert_null(rule_for(sc, "write", NULL));
        }
        /* a new file (another inode) with other rules */
        test_write_file(e.dir, "new.json",
                        "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": ["
                        " { \"names\": [ \"write\" ], \"action\": \"SCMP_ACT_ALLOW\" } ] }");
        {
                _cleanup_free_ char *np = ocid_path_join(e.dir, "new.json");
                _cleanup_json_ struct json_object *spec = spec_with_caps(NULL);

                assert_int_equal(rename(np, path), 0);
                r = apply(&e, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, spec, &err);
                assert_no_error(r, err);
                sc = seccomp_of(spec);
                assert_null(rule_for(sc, "read", NULL));
                assert_non_null(rule_for(sc, "write", NULL));
        }
        /* a broken one: the previous profile stays, one warning */
        free(captured);
        captured = NULL;
        test_write_file(e.dir, "new.json", "{ \"defaultAction\": \"SCMP_ACT_BROKEN\" }");
        {
                _cleanup_free_ char *np = ocid_path_join(e.dir, "new.json");

                assert_int_equal(rename(np, path), 0);
        }
        for (int i = 0; i < 3; i++) {
                _cleanup_json_ struct json_object *spec = spec_with_caps(NULL);

                r = apply(&e, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, spec, &err);
                assert_no_error(r, err);
                assert_non_null(rule_for(seccomp_of(spec), "write", NULL));
        }
        assert_int_equal(count_lines(captured), 1);
        assert_contains(captured, "unknown action 'SCMP_ACT_BROKEN'");
        assert_contains(captured, "keeping the previous one");
        ocid_log_set_sink(NULL, NULL);
        env_stop(&e);
}

static void test_default_missing_or_bad(void **state)
{
        _cleanup_json_ struct json_object *spec = spec_with_caps(NULL);
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_free_ char *dir = test_tmpdir_new(), *text = NULL;
        struct env e = { 0 };
        config_t cfg;
        const config_setting_t *g;
        int r;

        /* missing: init works, RuntimeDefault says why it cannot apply */
        env_start(&e, "default_profile = \"%s/none.json\";");
        r = apply(&e, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, spec, &err);
        assert_error(r, err, ENOENT, "RuntimeDefault: seccomp profile '");
        assert_contains(err->message, "/none.json': No such file or directory");
        env_stop(&e);

        /* malformed: a start-up error naming the file and the entry */
        test_write_file(dir, "bad.json", "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ 7 ] }");
        text = xasprintf("modules: { sec-seccomp: { default_profile = \"%s/bad.json\"; }; };", dir);
        g = test_config_parse(&cfg, text, "modules.sec-seccomp");
        m = test_module_linked(&sec_seccomp_LTX_ocid_module_info);
        ocid_error_clear(&err);
        r = module_init(m, g, &err);
        config_destroy(&cfg);
        assert_error(r, err, EINVAL, "module 'sec-seccomp': init: seccomp profile '");
        assert_contains(err->message, "/bad.json': syscalls[0]: expected an object");
        test_tmpdir_free(TAKE_PTR(dir));
}

static void test_settings(void **state)
{
        static const struct {
                const char *text;
                const char *msg;
        } cases[] = {
                { "default_profile = \"rel.json\";", "modules.sec-seccomp.default_profile: 'rel.json' is not an absolute path" },
                { "unknown_syscall = \"shout\";", "modules.sec-seccomp.unknown_syscall: 'shout' is not one of" },
                { "require_kernel_support = \"yes\";", "modules.sec-seccomp.require_kernel_support" },
                { "use_default_when_empty = 1;", "modules.sec-seccomp.use_default_when_empty" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(module_finip) struct ocid_module *m = NULL;
                _cleanup_error_ struct ocid_error *e = NULL;
                _cleanup_free_ char *text = xasprintf("modules: { sec-seccomp: { %s }; };", cases[i].text);
                config_t cfg;
                const config_setting_t *s = test_config_parse(&cfg, text, "modules.sec-seccomp");
                int r;

                m = test_module_linked(&sec_seccomp_LTX_ocid_module_info);
                r = module_check(m, s, &e);
                assert_error(r, e, EINVAL, cases[i].msg);
                config_destroy(&cfg);
        }
}

/* Containers created on many threads while the default profile is
 * replaced: every spec gets a whole profile, old or new. */
struct conc {
        struct env *e;
        int failures;
};

static void *conc_worker(void *arg)
{
        struct conc *c = arg;

        for (int i = 0; i < 200; i++) {
                struct json_object *spec = spec_with_caps(NULL);
                struct ocid_error *err = NULL;
                int r = apply(c->e, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, spec, &err);
                struct json_object *sc = seccomp_of(spec);

                if (r < 0 || !sc || (!rule_for(sc, "read", NULL) == !rule_for(sc, "write", NULL)))
                        __atomic_add_fetch(&c->failures, 1, __ATOMIC_SEQ_CST);
                ocid_error_free(err);
                json_object_put(spec);
        }
        return NULL;
}

static void test_concurrent_default(void **state)
{
        static const char *const texts[] = {
                "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [ \"SCMP_ARCH_X86_64\" ],"
                " \"syscalls\": [ { \"names\": [ \"read\" ], \"action\": \"SCMP_ACT_ALLOW\" } ] }",
                "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [ \"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\" ],"
                " \"syscalls\": [ { \"names\": [ \"write\" ], \"action\": \"SCMP_ACT_ALLOW\" } ] }",
        };
        _cleanup_free_ char *path = NULL, *np = NULL;
        struct env e = { 0 };
        struct conc c = { .e = &e };
        pthread_t th[8];

        e.dir = test_tmpdir_new();
        path = write_profile(&e, "default.json", texts[0]);
        np = ocid_path_join(e.dir, "new.json");
        env_start(&e, "default_profile = \"%s/default.json\";");
        for (size_t i = 0; i < ELEMENTSOF(th); i++)
                assert_int_equal(pthread_create(&th[i], NULL, conc_worker, &c), 0);
        for (int i = 0; i < 100; i++) {
                test_write_file(e.dir, "new.json", texts[i % 2]);
                assert_int_equal(rename(np, path), 0);
                usleep(500);
        }
        for (size_t i = 0; i < ELEMENTSOF(th); i++)
                assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(c.failures, 0);
        env_stop(&e);
}

/* `ocid check` reads the default profile too: a malformed one is an
 * error, a missing one is not. */
static void test_check_profile(void **state)
{
        _cleanup_free_ char *dir = test_tmpdir_new();
        const char *files[] = { "bad.json", "none.json", NULL };
        int codes[] = { EINVAL, 0, 0 };

        test_write_file(dir, "bad.json", "{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ { \"names\": [ \"read\" ] } ] }");
        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                _cleanup_(module_finip) struct ocid_module *m = test_module_linked(&sec_seccomp_LTX_ocid_module_info);
                _cleanup_error_ struct ocid_error *e = NULL;
                _cleanup_free_ char *path = files[i] ? ocid_path_join(dir, files[i]) : xstrdup(shipped_profile());
                _cleanup_free_ char *text = xasprintf("modules: { sec-seccomp: { default_profile = \"%s\"; }; };", path);
                config_t cfg;
                const config_setting_t *g = test_config_parse(&cfg, text, "modules.sec-seccomp");
                int r = module_check(m, g, &e);

                config_destroy(&cfg);
                if (codes[i]) {
                        assert_error(r, e, codes[i], "module 'sec-seccomp': check: seccomp profile '");
                        assert_contains(e->message, "bad.json': syscalls[0]: action: missing");
                } else
                        assert_no_error(r, e);
        }
        test_tmpdir_free(TAKE_PTR(dir));
}

/* A kernel without seccomp: RuntimeDefault is skipped with one warning,
 * unless require_kernel_support, which fails at init; Localhost fails. */
static void test_no_kernel_support(void **state)
{
        _cleanup_free_ char *settings = xasprintf("default_profile = \"%s\";", shipped_profile());
        _cleanup_free_ char *strict = xasprintf("default_profile = \"%s\"; require_kernel_support = true;",
                                                shipped_profile());
        _cleanup_error_ struct ocid_error *err = NULL;
        struct env e = { 0 };
        int r;

        ocid_log_set_sink(log_sink, NULL);
        mock_active = true;
        mock_get_errno = EINVAL;
        mock_set_errno = EINVAL;
        env_start(&e, settings);
        mock_active = false;
        for (int i = 0; i < 3; i++) {
                _cleanup_json_ struct json_object *spec = spec_with_caps(NULL);

                r = apply(&e, OCID_SECURITY_PROFILE_RUNTIME_DEFAULT, NULL, 0, spec, &err);
                assert_no_error(r, err);
                assert_null(seccomp_of(spec));
        }
        assert_int_equal(count_lines(captured), 1);
        assert_contains(captured, "the kernel is built without seccomp");
        {
                _cleanup_json_ struct json_object *spec = spec_with_caps(NULL);

                r = apply(&e, OCID_SECURITY_PROFILE_LOCALHOST, shipped_profile(), 0, spec, &err);
                assert_error(r, err, EOPNOTSUPP, "seccomp: the kernel is built without seccomp");
                ocid_error_clear(&err);
        }
        env_stop(&e);

        {
                _cleanup_free_ char *text = xasprintf("modules: { sec-seccomp: { %s }; };", strict);
                _cleanup_(module_finip) struct ocid_module *m = test_module_linked(&sec_seccomp_LTX_ocid_module_info);
                config_t cfg;
                const config_setting_t *g = test_config_parse(&cfg, text, "modules.sec-seccomp");

                mock_active = true;
                r = module_init(m, g, &err);
                mock_active = false;
                config_destroy(&cfg);
                assert_error(r, err, EOPNOTSUPP, "module 'sec-seccomp': init: the kernel is built without seccomp "
                             "(CONFIG_SECCOMP), and require_kernel_support is set");
        }
        ocid_log_set_sink(NULL, NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status_and_info),
                cmocka_unit_test(test_kernels),
                cmocka_unit_test(test_no_settings),
                cmocka_unit_test(test_shipped_profile),
                cmocka_unit_test(test_choices),
                cmocka_unit_test(test_localhost_oci),
                cmocka_unit_test(test_localhost_docker),
                cmocka_unit_test(test_unknown_syscalls),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_localhost_paths),
                cmocka_unit_test(test_default_reload),
                cmocka_unit_test(test_default_missing_or_bad),
                cmocka_unit_test(test_settings),
                cmocka_unit_test(test_check_profile),
                cmocka_unit_test(test_concurrent_default),
                cmocka_unit_test(test_no_kernel_support),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
