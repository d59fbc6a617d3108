/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../../test-common.h"
#include "spec-test.h"

#include <json-c/json.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "image/manifest.h"
#include "spec/caps.h"
#include "spec/spec.h"

#define J(o) json_object_to_json_string_ext((o), JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define PID "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define HELD (CAPS_ALL_KNOWN & ~CAPS_BIT(24))

struct fx {
        char *root, *pod;
        int root_fd;
        char *hostname, *hosts, *resolv, *shm, *mountinfo, *shared_vol, *private_vol;

        Runtime__V1__ContainerConfig cfg;
        Runtime__V1__ContainerMetadata meta;
        Runtime__V1__LinuxContainerConfig lin;
        Runtime__V1__LinuxContainerSecurityContext sc;
        Runtime__V1__LinuxContainerResources res;
        Runtime__V1__PodSandboxConfig pcfg;
        Runtime__V1__PodSandboxMetadata pmeta;
        Runtime__V1__LinuxPodSandboxConfig plin;
        Runtime__V1__LinuxSandboxSecurityContext psc;
        struct image_config img;
        struct spec_host host;
        struct spec_input in;

        struct json_object *spec;
        struct spec_extra x;
};

static char *img_entrypoint[] = { "/bin/entry", "--flag", NULL };
static char *img_cmd[] = { "serve", "--port=80", NULL };
static char *img_env[] = { "PATH=/opt/bin:/bin", "LANG=C.UTF-8", "MODE=image", NULL };

static int setup(void **state)
{
        struct fx *f = xzalloc(sizeof(*f));
        _cleanup_free_ char *mi = NULL;

        f->root = scratch_dir();
        f->pod = scratch_dir();
        put_file(f->root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
        put_file(f->root, "etc/group", "root:x:0:\nwheel:x:10:app\n");
        f->root_fd = open_dir(f->root);
        put_file(f->pod, "hostname", "web\n");
        put_file(f->pod, "hosts", "127.0.0.1 localhost\n");
        put_file(f->pod, "resolv.conf", "nameserver 10.0.0.10\n");
        put_dir(f->pod, "shm");
        put_dir(f->pod, "vol/shared");
        put_dir(f->pod, "vol/private");
        f->hostname = xasprintf("%s/hostname", f->pod);
        f->hosts = xasprintf("%s/hosts", f->pod);
        f->resolv = xasprintf("%s/resolv.conf", f->pod);
        f->shm = xasprintf("%s/shm", f->pod);
        f->shared_vol = xasprintf("%s/vol/shared", f->pod);
        f->private_vol = xasprintf("%s/vol/private", f->pod);
        mi = xasprintf("1 0 0:1 / / rw - ext4 /dev/sda1 rw\n"
                       "2 1 0:2 / %s rw shared:3 - tmpfs tmpfs rw\n",
                       f->shared_vol);
        put_file(f->pod, "mountinfo", mi);
        f->mountinfo = xasprintf("%s/mountinfo", f->pod);

        runtime__v1__container_config__init(&f->cfg);
        runtime__v1__container_metadata__init(&f->meta);
        runtime__v1__linux_container_config__init(&f->lin);
        runtime__v1__linux_container_security_context__init(&f->sc);
        runtime__v1__linux_container_resources__init(&f->res);
        runtime__v1__pod_sandbox_config__init(&f->pcfg);
        runtime__v1__pod_sandbox_metadata__init(&f->pmeta);
        runtime__v1__linux_pod_sandbox_config__init(&f->plin);
        runtime__v1__linux_sandbox_security_context__init(&f->psc);
        f->meta.name = "nginx";
        f->cfg.metadata = &f->meta;
        f->cfg.linux = &f->lin;
        f->lin.security_context = &f->sc;
        f->lin.resources = &f->res;
        f->pmeta.name = "web-0";
        f->pmeta.namespace_ = "default";
        f->pmeta.uid = "5f2c-uid";
        f->pcfg.metadata = &f->pmeta;
        f->pcfg.hostname = "web-0";
        f->pcfg.linux = &f->plin;
        f->plin.security_context = &f->psc;

        f->img.entrypoint = img_entrypoint;
        f->img.cmd = img_cmd;
        f->img.env = img_env;
        f->img.working_dir = "/srv";

        f->host = (struct spec_host) { .cgroup_v2 = false, .swap_accounting = true, .caps = HELD,
                                       .oom_score_adj = 0, .nofile_max = 65536, .mountinfo_path = f->mountinfo,
                                       .dev_dir = "/dev" };
        f->in = (struct spec_input) {
                .container_id = CID, .pod_id = PID, .rootfs = f->root, .rootfs_fd = f->root_fd,
                .config = &f->cfg, .sandbox = &f->pcfg, .image = &f->img,
                .image_name = "docker.io/library/nginx:1.25",
                .hostname_path = f->hostname, .hosts_path = f->hosts, .resolv_conf_path = f->resolv,
                .shm_path = f->shm, .netns = "/run/ocid/ns/net-1", .ipcns = "/run/ocid/ns/ipc-1",
                .utsns = "/run/ocid/ns/uts-1", .pid_mode = SPEC_PID_CONTAINER,
                .cgroup_parent = "/kubepods/besteffort/pod5f2c", .cgroup_manager = SPEC_CGROUP_CGROUPFS,
                .host = &f->host,
        };
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fx *f = *state;

        json_object_put(f->spec);
        spec_extra_done(&f->x);
        (void) close(f->root_fd);
        scratch_remove(f->root);
        scratch_remove(f->pod);
        free(f->hostname);
        free(f->hosts);
        free(f->resolv);
        free(f->shm);
        free(f->mountinfo);
        free(f->shared_vol);
        free(f->private_vol);
        free(f);
        return 0;
}

static void build(struct fx *f)
{
        _cleanup_error_ struct ocid_error *err = NULL;

        json_object_put(TAKE_PTR(f->spec));
        spec_extra_done(&f->x);
        if (spec_build(&f->in, &f->spec, &f->x, &err) < 0)
                fail_msg("spec_build: %s", ocid_error_message(&err));
        assert_non_null(f->spec);
}

static void build_fails(struct fx *f, int code, const char *needle)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        struct json_object *spec = NULL;
        struct spec_extra x = { .stop_signal = 4242 };
        int r = spec_build(&f->in, &spec, &x, &err);

        if (r != -code)
                fail_msg("spec_build returned %d (%s), wanted %d", r, ocid_error_message(&err), -code);
        assert_null(spec);
        assert_int_equal(x.stop_signal, 4242);
        if (!strstr(ocid_error_message(&err), needle))
                fail_msg("error '%s' lacks '%s'", ocid_error_message(&err), needle);
}

/* Looks up a member path such as ("process", "user", "uid", NULL). */
static struct json_object *get(struct json_object *o, ...)
{
        va_list ap;
        const char *k;

        va_start(ap, o);
        while (o && (k = va_arg(ap, const char *))) {
                struct json_object *next = NULL;
                if (!json_object_object_get_ex(o, k, &next))
                        next = NULL;
                o = next;
        }
        va_end(ap);
        return o;
}

static const char *getj(struct json_object *o, const char *a, const char *b)
{
        struct json_object *v = get(o, a, b, NULL);
        return v ? J(v) : "(absent)";
}

/* The mount at a destination, or NULL. */
static struct json_object *mount_at(struct json_object *spec, const char *dest)
{
        struct json_object *m = get(spec, "mounts", NULL), *found = NULL;

        for (size_t i = 0; m && i < json_object_array_length(m); i++) {
                struct json_object *e = json_object_array_get_idx(m, i);
                if (streq(ocid_json_get_string(e, "destination"), dest)) {
                        assert_null(found); /* one mount per destination */
                        found = e;
                }
        }
        return found;
}

static char *destinations(struct json_object *spec)
{
        struct json_object *m = get(spec, "mounts", NULL);
        char *s = xstrdup("");

        for (size_t i = 0; i < json_object_array_length(m); i++) {
                char *n = xasprintf("%s%s%s", s, i ? " " : "",
                                    ocid_json_get_string(json_object_array_get_idx(m, i), "destination"));
                free(s);
                s = n;
        }
        return s;
}

/* ---- the whole spec ------------------------------------------------------ */

static void test_full_spec(void **state)
{
        struct fx *f = *state;
        _cleanup_free_ char *dests = NULL;
        Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry s1 = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT;
        Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *ss[] = { &s1 };

        s1.key = "net.ipv4.ip_unprivileged_port_start";
        s1.value = "0";
        f->plin.sysctls = ss;
        f->plin.n_sysctls = 1;
        f->res.cpu_shares = 256;
        f->res.memory_limit_in_bytes = 64 * 1024 * 1024;
        f->res.oom_score_adj = 1000;
        f->img.stop_signal = "SIGQUIT";
        build(f);

        assert_string_equal(getj(f->spec, "ociVersion", NULL), "\"1.0.2\"");
        assert_string_equal(J(get(f->spec, "process", NULL)),
                            "{\"terminal\":false,"
                            "\"user\":{\"uid\":0,\"gid\":0},"
                            "\"args\":[\"/bin/entry\",\"--flag\",\"serve\",\"--port=80\"],"
                            "\"env\":[\"PATH=/opt/bin:/bin\",\"LANG=C.UTF-8\",\"MODE=image\",\"HOME=/root\",\"HOSTNAME=web-0\"],"
                            "\"cwd\":\"/srv\","
                            "\"capabilities\":{"
                            "\"bounding\":[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FOWNER\",\"CAP_FSETID\",\"CAP_KILL\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\"],"
                            "\"effective\":[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FOWNER\",\"CAP_FSETID\",\"CAP_KILL\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\"],"
                            "\"permitted\":[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FOWNER\",\"CAP_FSETID\",\"CAP_KILL\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\"],"
                            "\"inheritable\":[],\"ambient\":[]},"
                            "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":65536,\"soft\":65536}],"
                            "\"noNewPrivileges\":true,"
                            "\"oomScoreAdj\":1000}");
        assert_string_equal(ocid_json_get_string(get(f->spec, "root", NULL), "path"), f->root);
        assert_string_equal(getj(f->spec, "root", "readonly"), "false");
        assert_string_equal(getj(f->spec, "hostname", NULL), "\"web-0\"");

        dests = destinations(f->spec);
        /* parents before children, otherwise in order */
        assert_string_equal(dests, "/proc /dev /sys /dev/pts /dev/shm /dev/mqueue "
                                   "/etc/hostname /etc/hosts /etc/resolv.conf /sys/fs/cgroup");
        assert_string_equal(J(mount_at(f->spec, "/proc")),
                            "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\",\"options\":[\"nosuid\",\"noexec\",\"nodev\"]}");
        assert_string_equal(J(mount_at(f->spec, "/dev/pts")),
                            "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
                            "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]}");
        assert_string_equal(ocid_json_get_string(mount_at(f->spec, "/dev/shm"), "source"), f->shm);
        assert_string_equal(ocid_json_get_string(mount_at(f->spec, "/dev/mqueue"), "type"), "mqueue");
        assert_string_equal(J(mount_at(f->spec, "/sys")),
                            "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]}");
        assert_string_equal(getj(mount_at(f->spec, "/sys/fs/cgroup"), "options", NULL),
                            "[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]");
        assert_string_equal(ocid_json_get_string(mount_at(f->spec, "/etc/hosts"), "source"), f->hosts);
        assert_string_equal(getj(mount_at(f->spec, "/etc/resolv.conf"), "options", NULL),
                            "[\"bind\",\"rprivate\",\"nosuid\",\"nodev\",\"noexec\",\"rw\"]");

        assert_string_equal(J(get(f->spec, "annotations", NULL)),
                            "{\"io.kubernetes.cri.container-type\":\"container\","
                            "\"io.kubernetes.cri.container-name\":\"nginx\","
                            "\"io.kubernetes.cri.sandbox-id\":\"" PID "\","
                            "\"io.kubernetes.cri.sandbox-name\":\"web-0\","
                            "\"io.kubernetes.cri.sandbox-namespace\":\"default\","
                            "\"io.kubernetes.cri.sandbox-uid\":\"5f2c-uid\","
                            "\"io.kubernetes.cri.image-name\":\"docker.io/library/nginx:1.25\"}");

        assert_string_equal(J(get(f->spec, "linux", "namespaces", NULL)),
                            "[{\"type\":\"pid\"},"
                            "{\"type\":\"network\",\"path\":\"/run/ocid/ns/net-1\"},"
                            "{\"type\":\"ipc\",\"path\":\"/run/ocid/ns/ipc-1\"},"
                            "{\"type\":\"uts\",\"path\":\"/run/ocid/ns/uts-1\"},"
                            "{\"type\":\"mount\"}]");
        assert_string_equal(getj(get(f->spec, "linux", NULL), "cgroupsPath", NULL),
                            "\"/kubepods/besteffort/pod5f2c/ocid-" CID "\"");
        assert_string_equal(getj(get(f->spec, "linux", NULL), "resources", "cpu"), "{\"shares\":256}");
        assert_string_equal(getj(get(f->spec, "linux", NULL), "resources", "memory"), "{\"limit\":67108864}");
        assert_string_equal(J(json_object_array_get_idx(get(f->spec, "linux", "resources", "devices", NULL), 0)),
                            "{\"allow\":false,\"access\":\"rwm\"}");
        assert_int_equal(json_object_array_length(get(f->spec, "linux", "devices", NULL)), 6);
        assert_string_equal(getj(get(f->spec, "linux", NULL), "sysctl", NULL),
                            "{\"net.ipv4.ip_unprivileged_port_start\":\"0\"}");
        assert_string_equal(getj(get(f->spec, "linux", NULL), "maskedPaths", NULL),
                            "[\"/proc/acpi\",\"/proc/asound\",\"/proc/interrupts\",\"/proc/kcore\",\"/proc/keys\","
                            "\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\","
                            "\"/proc/scsi\",\"/sys/firmware\",\"/sys/devices/virtual/powercap\"]");
        assert_string_equal(getj(get(f->spec, "linux", NULL), "readonlyPaths", NULL),
                            "[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]");
        assert_null(get(f->spec, "linux", "rootfsPropagation", NULL));
        assert_null(get(f->spec, "process", "apparmorProfile", NULL));
        assert_null(get(f->spec, "linux", "seccomp", NULL));

        assert_false(f->x.privileged);
        assert_int_equal(f->x.stop_signal, SIGQUIT);
        assert_int_equal(f->x.uid, 0);
        assert_int_equal(f->x.seccomp.type, SPEC_PROFILE_UNSET);
        assert_null(f->x.relabel);

        /* the same input gives the same spec */
        {
                _cleanup_free_ char *first = xstrdup(J(f->spec));
                build(f);
                assert_string_equal(J(f->spec), first);
        }
}

/* ---- process -------------------------------------------------------------- */

static void expect_args(struct fx *f, const char *want)
{
        build(f);
        assert_string_equal(getj(f->spec, "process", "args"), want);
}

static void test_args_merge(void **state)
{
        struct fx *f = *state;
        char *command[] = { "/bin/sh", "-c" };
        char *args[] = { "echo hi", "" };
        char *empty_ep[] = { NULL };
        char *empty_cmd_str[] = { "" };

        expect_args(f, "[\"/bin/entry\",\"--flag\",\"serve\",\"--port=80\"]");
        /* args replace the image's Cmd */
        f->cfg.args = args;
        f->cfg.n_args = 2;
        expect_args(f, "[\"/bin/entry\",\"--flag\",\"echo hi\",\"\"]");
        /* a command replaces the Entrypoint, and the Cmd goes with it */
        f->cfg.n_args = 0;
        f->cfg.command = command;
        f->cfg.n_command = 2;
        expect_args(f, "[\"/bin/sh\",\"-c\"]");
        f->cfg.args = args;
        f->cfg.n_args = 1;
        expect_args(f, "[\"/bin/sh\",\"-c\",\"echo hi\"]");
        /* an image that resets its Entrypoint */
        f->cfg.n_command = 0;
        f->cfg.n_args = 0;
        f->img.entrypoint = empty_ep;
        expect_args(f, "[\"serve\",\"--port=80\"]");
        f->img.entrypoint = NULL;
        f->img.cmd = NULL;
        build_fails(f, EINVAL, "container config: no command");
        f->in.image = NULL;
        build_fails(f, EINVAL, "no command");
        f->cfg.command = empty_cmd_str;
        f->cfg.n_command = 1;
        build_fails(f, EINVAL, "the command to run is an empty string");
}

static void test_env(void **state)
{
        struct fx *f = *state;
        Runtime__V1__KeyValue a = RUNTIME__V1__KEY_VALUE__INIT, b = RUNTIME__V1__KEY_VALUE__INIT;
        Runtime__V1__KeyValue c = RUNTIME__V1__KEY_VALUE__INIT;
        Runtime__V1__KeyValue *kvs[] = { &a, &b, &c };
        char *no_path_env[] = { "A=1", NULL };
        char *bad_img_env[] = { "NOEQUALS", NULL };
        char *bad_img_home[] = { "HOME=/x\ny", NULL };

        a.key = "MODE";
        a.value = (ProtobufCBinaryData) { 6, (uint8_t *) "config" };
        b.key = "MULTI";
        b.value = (ProtobufCBinaryData) { 7, (uint8_t *) "a\nb=c\td" };
        c.key = "LANG";
        c.value = (ProtobufCBinaryData) { 0, NULL };
        f->cfg.envs = kvs;
        f->cfg.n_envs = 3;
        f->cfg.tty = true;
        build(f);
        /* image first, the config's later values in place, then the defaults */
        assert_string_equal(getj(f->spec, "process", "env"),
                            "[\"PATH=/opt/bin:/bin\",\"LANG=\",\"MODE=config\",\"MULTI=a\\nb=c\\td\",\"HOME=/root\","
                            "\"HOSTNAME=web-0\",\"TERM=xterm\"]");
        assert_string_equal(getj(f->spec, "process", "terminal"), "true");

        /* PATH when nobody sets it; HOME from the config wins */
        f->img.env = no_path_env;
        a.key = "HOME";
        a.value = (ProtobufCBinaryData) { 5, (uint8_t *) "/data" };
        f->cfg.n_envs = 1;
        f->cfg.tty = false;
        build(f);
        assert_string_equal(getj(f->spec, "process", "env"),
                            "[\"A=1\",\"HOME=/data\",\"PATH=" SPEC_DEFAULT_PATH "\",\"HOSTNAME=web-0\"]");

        /* HOME with a newline: refused */
        a.value = (ProtobufCBinaryData) { 10, (uint8_t *) "/x\nPATH=/e" };
        build_fails(f, EINVAL, "container config: envs: HOME contains the control character 0x0a");
        f->cfg.n_envs = 0;
        f->img.env = bad_img_home;
        build_fails(f, EINVAL, "image config: Env: HOME contains the control character");
        f->img.env = bad_img_env;
        build_fails(f, EINVAL, "image config: Env[0]: not KEY=VALUE");
        f->img.env = NULL;

        f->cfg.n_envs = 1;
        a.key = "A=B";
        a.value = (ProtobufCBinaryData) { 1, (uint8_t *) "x" };
        build_fails(f, EINVAL, "container config: envs[0]: key 'A=B' contains '='");
        a.key = "";
        build_fails(f, EINVAL, "container config: envs[0]: empty key");
        a.key = "NUL";
        a.value = (ProtobufCBinaryData) { 3, (uint8_t *) "a\0b" };
        build_fails(f, EINVAL, "envs[0]: the value of 'NUL' contains a NUL byte");
}

static void test_cwd(void **state)
{
        struct fx *f = *state;

        build(f);
        assert_string_equal(getj(f->spec, "process", "cwd"), "\"/srv\"");
        f->cfg.working_dir = "/work";
        build(f);
        assert_string_equal(getj(f->spec, "process", "cwd"), "\"/work\"");
        f->cfg.working_dir = "";
        f->img.working_dir = NULL;
        build(f);
        assert_string_equal(getj(f->spec, "process", "cwd"), "\"/\"");
        f->img.working_dir = "relative";
        build_fails(f, EINVAL, "image config: WorkingDir: path 'relative' is not absolute");
        f->cfg.working_dir = "work";
        build_fails(f, EINVAL, "container config: working_dir: path 'work' is not absolute");
}

static void test_user(void **state)
{
        struct fx *f = *state;
        Runtime__V1__Int64Value uid = RUNTIME__V1__INT64_VALUE__INIT;
        int64_t groups[] = { 2000 };

        f->img.user = "app";
        build(f);
        assert_string_equal(getj(f->spec, "process", "user"), "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[10]}");
        assert_non_null(strstr(getj(f->spec, "process", "env"), "\"HOME=/home/app\""));
        assert_int_equal(f->x.uid, 1000);
        assert_int_equal(f->x.gid, 1000);

        uid.value = 4242;
        f->sc.run_as_user = &uid;
        f->sc.supplemental_groups = groups;
        f->sc.n_supplemental_groups = 1;
        build(f);
        assert_string_equal(getj(f->spec, "process", "user"), "{\"uid\":4242,\"gid\":0,\"additionalGids\":[2000]}");
        assert_non_null(strstr(getj(f->spec, "process", "env"), "\"HOME=/\""));

        f->sc.run_as_user = NULL;
        f->sc.run_as_username = "nobody";
        build_fails(f, EINVAL, "container config: linux.security_context.run_as_username: user 'nobody' not found");
        f->sc.run_as_username = "";
        uid.value = INT64_C(4294967295);
        f->sc.run_as_user = &uid;
        build_fails(f, EINVAL, "run_as_user: 4294967295 is out of range");
        f->sc.run_as_user = NULL;
        f->sc.supplemental_groups_policy = 9;
        build_fails(f, EINVAL, "supplemental_groups_policy: unknown value 9");
}

/* The image's /etc is a symlink to a host directory: the host's passwd is
 * never read. */
static void test_user_hostile_etc(void **state)
{
        struct fx *f = *state;
        _cleanup_free_ char *sentinel = scratch_dir();
        _cleanup_free_ char *etc = xasprintf("%s/etc", f->root);

        put_file(sentinel, "passwd", "root:x:0:0::/host-root:/bin/sh\nhostonly:x:7:7::/h:/bin/sh\n");
        assert_int_equal(ocid_rm_rf(etc, NULL), 0);
        assert_int_equal(symlink(sentinel, etc), 0);
        build(f);
        assert_non_null(strstr(getj(f->spec, "process", "env"), "\"HOME=/\""));
        f->img.user = "hostonly";
        build_fails(f, EINVAL, "user 'hostonly' not found in the container's /etc/passwd");
        scratch_remove(TAKE_PTR(sentinel));
}

static void test_capabilities(void **state)
{
        struct fx *f = *state;
        Runtime__V1__Capability cap = RUNTIME__V1__CAPABILITY__INIT;
        char *add[] = { "net_raw", "CAP_SYS_PTRACE" };
        char *drop[] = { "ALL" };
        char *bad[] = { "CAP_WHATEVER" };
        char *ambient[] = { "NET_BIND_SERVICE" };

        f->sc.capabilities = &cap;
        cap.add_capabilities = add;
        cap.n_add_capabilities = 2;
        cap.drop_capabilities = drop;
        cap.n_drop_capabilities = 1;
        cap.add_ambient_capabilities = ambient;
        cap.n_add_ambient_capabilities = 1;
        build(f);
        assert_string_equal(getj(get(f->spec, "process", NULL), "capabilities", "bounding"),
                            "[\"CAP_NET_BIND_SERVICE\",\"CAP_NET_RAW\",\"CAP_SYS_PTRACE\"]");
        assert_string_equal(getj(get(f->spec, "process", NULL), "capabilities", "inheritable"),
                            "[\"CAP_NET_BIND_SERVICE\"]");
        assert_string_equal(getj(get(f->spec, "process", NULL), "capabilities", "ambient"),
                            "[\"CAP_NET_BIND_SERVICE\"]");

        cap.add_capabilities = bad;
        cap.n_add_capabilities = 1;
        build_fails(f, EINVAL,
                    "container config: linux.security_context: capabilities.add_capabilities: unknown capability 'CAP_WHATEVER'");
}

static void test_privileged(void **state)
{
        struct fx *f = *state;
        struct json_object *devices;

        f->sc.privileged = true;
        build_fails(f, EINVAL, "privileged: the pod is not privileged");
        f->psc.privileged = true;
        build(f);
        assert_true(f->x.privileged);
        /* everything the daemon holds, and nothing it does not */
        assert_non_null(strstr(getj(get(f->spec, "process", NULL), "capabilities", "bounding"), "CAP_SYS_ADMIN"));
        assert_null(strstr(getj(get(f->spec, "process", NULL), "capabilities", "bounding"), "CAP_SYS_RESOURCE"));
        assert_string_equal(getj(f->spec, "process", "noNewPrivileges"), "false");
        assert_null(get(f->spec, "linux", "maskedPaths", NULL));
        assert_null(get(f->spec, "linux", "readonlyPaths", NULL));
        assert_string_equal(getj(mount_at(f->spec, "/sys"), "options", NULL), "[\"nosuid\",\"noexec\",\"nodev\",\"rw\"]");
        assert_string_equal(getj(mount_at(f->spec, "/sys/fs/cgroup"), "options", NULL),
                            "[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"rw\"]");
        assert_string_equal(J(get(f->spec, "linux", "resources", "devices", NULL)), "[{\"allow\":true,\"access\":\"rwm\"}]");
        devices = get(f->spec, "linux", "devices", NULL);
        assert_true(json_object_array_length(devices) >= 1);
        /* the host's devices: /dev/null among them */
        {
                bool found = false;
                for (size_t i = 0; i < json_object_array_length(devices); i++)
                        found = found || streq(ocid_json_get_string(json_object_array_get_idx(devices, i), "path"),
                                               "/dev/null");
                assert_true(found);
        }
        /* no_new_privs when the CRI asks, even for a privileged container */
        f->sc.no_new_privs = true;
        build(f);
        assert_string_equal(getj(f->spec, "process", "noNewPrivileges"), "true");
}

static void test_no_new_privs(void **state)
{
        struct fx *f = *state;

        /* hardened default: set for every container that is not privileged */
        f->sc.no_new_privs = false;
        build(f);
        assert_string_equal(getj(f->spec, "process", "noNewPrivileges"), "true");
}

static void test_rlimits(void **state)
{
        struct fx *f = *state;

        f->host.nofile_max = 1024;
        build(f);
        assert_string_equal(getj(f->spec, "process", "rlimits"), "[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}]");
        f->host.nofile_max = UINT64_MAX;
        build(f);
        assert_string_equal(getj(f->spec, "process", "rlimits"),
                            "[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1048576,\"soft\":1048576}]");
}

static void test_oom_score_adj_clamped(void **state)
{
        struct fx *f = *state;

        f->host.oom_score_adj = -500;
        f->res.oom_score_adj = -997;
        build(f);
        assert_string_equal(getj(f->spec, "process", "oomScoreAdj"), "-500");
        f->res.oom_score_adj = 2000;
        build_fails(f, EINVAL, "container config: linux.resources.oom_score_adj: 2000 is out of range");
}

static void test_resources_refused(void **state)
{
        struct fx *f = *state;

        f->res.cpu_shares = 1;
        build_fails(f, EINVAL, "container config: linux.resources.cpu_shares: 1 is out of range");
        f->res.cpu_shares = 0;
        f->res.memory_limit_in_bytes = 4096;
        build_fails(f, EINVAL, "container config: linux.resources.memory_limit_in_bytes: 4096 is out of range");
        f->res.memory_limit_in_bytes = 0;
        f->res.cpuset_cpus = "0-3\n";
        build_fails(f, EINVAL, "linux.resources.cpuset_cpus");
        f->res.cpuset_cpus = "";
        /* no resources at all */
        f->lin.resources = NULL;
        build(f);
        assert_string_equal(getj(get(f->spec, "linux", NULL), "resources", "cpu"), "(absent)");
}

static void test_readonly_rootfs(void **state)
{
        struct fx *f = *state;

        f->sc.readonly_rootfs = true;
        build(f);
        assert_string_equal(getj(f->spec, "root", "readonly"), "true");
        assert_string_equal(getj(mount_at(f->spec, "/etc/hosts"), "options", NULL),
                            "[\"bind\",\"rprivate\",\"nosuid\",\"nodev\",\"noexec\",\"ro\"]");
        /* /dev/shm stays writable */
        assert_non_null(strstr(getj(mount_at(f->spec, "/dev/shm"), "options", NULL), "\"rw\""));
}

static void test_masked_paths(void **state)
{
        struct fx *f = *state;
        char *masked[] = { "/proc/kcore" };
        char *ro[] = { "/proc/sys", "/proc/bus" };
        char *bad[] = { "proc/kcore" };

        f->sc.masked_paths = masked;
        f->sc.n_masked_paths = 1;
        f->sc.readonly_paths = ro;
        f->sc.n_readonly_paths = 2;
        build(f);
        assert_string_equal(getj(get(f->spec, "linux", NULL), "maskedPaths", NULL), "[\"/proc/kcore\"]");
        assert_string_equal(getj(get(f->spec, "linux", NULL), "readonlyPaths", NULL), "[\"/proc/sys\",\"/proc/bus\"]");
        f->sc.masked_paths = bad;
        build_fails(f, EINVAL, "container config: linux.security_context.masked_paths[0]: path 'proc/kcore' is not absolute");
}

/* ---- namespaces, hostname, cgroups, sysctls --------------------------------- */

static void test_pid_modes(void **state)
{
        struct fx *f = *state;

        f->in.pid_mode = SPEC_PID_POD;
        build_fails(f, EINVAL, "no PID namespace path to share (the pod's infra container)");
        f->in.pidns = "/proc/4242/ns/pid";
        build(f);
        assert_string_equal(J(json_object_array_get_idx(get(f->spec, "linux", "namespaces", NULL), 0)),
                            "{\"type\":\"pid\",\"path\":\"/proc/4242/ns/pid\"}");
        f->in.pid_mode = SPEC_PID_TARGET;
        f->in.pidns = "/proc/77/ns/pid";
        build(f);
        assert_string_equal(J(json_object_array_get_idx(get(f->spec, "linux", "namespaces", NULL), 0)),
                            "{\"type\":\"pid\",\"path\":\"/proc/77/ns/pid\"}");
        f->in.pid_mode = SPEC_PID_HOST;
        build(f);
        assert_string_equal(J(json_object_array_get_idx(get(f->spec, "linux", "namespaces", NULL), 0)),
                            "{\"type\":\"network\",\"path\":\"/run/ocid/ns/net-1\"}");
        f->in.pid_mode = 17;
        build_fails(f, EINVAL, "unknown PID namespace mode 17");

        assert_int_equal(spec_pid_mode_from_cri(RUNTIME__V1__NAMESPACE_MODE__POD), SPEC_PID_POD);
        assert_int_equal(spec_pid_mode_from_cri(RUNTIME__V1__NAMESPACE_MODE__CONTAINER), SPEC_PID_CONTAINER);
        assert_int_equal(spec_pid_mode_from_cri(RUNTIME__V1__NAMESPACE_MODE__NODE), SPEC_PID_HOST);
        assert_int_equal(spec_pid_mode_from_cri(RUNTIME__V1__NAMESPACE_MODE__TARGET), SPEC_PID_TARGET);
        assert_int_equal(spec_pid_mode_from_cri(9), _SPEC_PID_INVALID);
}

static void test_host_namespaces(void **state)
{
        struct fx *f = *state;
        Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry s1 = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT;
        Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *ss[] = { &s1 };

        f->in.netns = SPEC_NS_HOST;
        f->in.ipcns = SPEC_NS_HOST;
        f->in.utsns = SPEC_NS_HOST;
        f->in.shm_path = NULL;
        f->host.cgroup_v2 = true;
        build(f);
        assert_string_equal(J(get(f->spec, "linux", "namespaces", NULL)),
                            "[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"cgroup\"}]");
        /* host IPC: the host's /dev/shm and /dev/mqueue */
        assert_string_equal(ocid_json_get_string(mount_at(f->spec, "/dev/shm"), "source"), "/dev/shm");
        assert_string_equal(ocid_json_get_string(mount_at(f->spec, "/dev/mqueue"), "source"), "/dev/mqueue");
        /* host UTS: no hostname (the runtime could not set it) */
        assert_null(get(f->spec, "hostname", NULL));
        assert_null(strstr(getj(f->spec, "process", "env"), "HOSTNAME="));

        f->plin.sysctls = ss;
        f->plin.n_sysctls = 1;
        s1.key = "net.core.somaxconn";
        s1.value = "1024";
        build_fails(f, EINVAL, "sysctl 'net.core.somaxconn' is not allowed with the host network namespace");
        s1.key = "kernel.msgmax";
        build_fails(f, EINVAL, "sysctl 'kernel.msgmax' is not allowed with the host IPC namespace");

        /* a pod that has its own IPC namespace must have its /dev/shm */
        f->plin.n_sysctls = 0;
        f->in.ipcns = "/run/ocid/ns/ipc-1";
        build_fails(f, EINVAL, "the pod has no /dev/shm to share");
        f->in.ipcns = NULL;
        build_fails(f, EINVAL, "the pod has no IPC namespace to join");
        f->in.ipcns = "relative/ipc";
        f->in.shm_path = f->shm;
        build_fails(f, EINVAL, "the pod's IPC namespace path 'relative/ipc' is not an absolute path");
}

static void test_hostname(void **state)
{
        struct fx *f = *state;

        f->pcfg.hostname = "";
        build(f);
        assert_null(get(f->spec, "hostname", NULL));
        f->pcfg.hostname = "bad\nname";
        build_fails(f, EINVAL, "pod config: hostname: 'bad\nname' has characters outside");
}

static void test_cgroups_path(void **state)
{
        struct fx *f = *state;

        f->in.cgroup_parent = NULL;
        build(f);
        assert_string_equal(getj(get(f->spec, "linux", NULL), "cgroupsPath", NULL), "\"/ocid-" CID "\"");
        f->in.cgroup_parent = "/kubepods/";
        build(f);
        assert_string_equal(getj(get(f->spec, "linux", NULL), "cgroupsPath", NULL), "\"/kubepods/ocid-" CID "\"");
        f->in.cgroup_parent = "/kubepods/../../etc";
        build_fails(f, EINVAL, "pod config: linux.cgroup_parent: '/kubepods/../../etc' has a '.' or '..' component");
        f->in.cgroup_parent = "kubepods";
        build_fails(f, EINVAL, "is not an absolute path");

        f->in.cgroup_manager = SPEC_CGROUP_SYSTEMD;
        build_fails(f, EINVAL, "'kubepods' is not a systemd slice name");
        f->in.cgroup_parent = "kubepods-besteffort-pod5f2c.slice";
        build(f);
        assert_string_equal(getj(get(f->spec, "linux", NULL), "cgroupsPath", NULL),
                            "\"kubepods-besteffort-pod5f2c.slice:ocid:" CID "\"");
        f->in.cgroup_parent = "";
        build(f);
        assert_string_equal(getj(get(f->spec, "linux", NULL), "cgroupsPath", NULL), "\"system.slice:ocid:" CID "\"");
        f->in.cgroup_parent = "a/b.slice";
        build_fails(f, EINVAL, "is not a systemd slice name");
        f->in.cgroup_parent = ".slice";
        build_fails(f, EINVAL, "is not a systemd slice name");
}

static void test_sysctls(void **state)
{
        struct fx *f = *state;
        Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry s1 = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT;
        Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry s2 = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT;
        Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *ss[] = { &s1, &s2 };

        s1.key = "kernel/shm_rmid_forced";
        s1.value = "1";
        s2.key = "net.ipv4.tcp_syncookies";
        s2.value = "1";
        f->plin.sysctls = ss;
        f->plin.n_sysctls = 2;
        build(f);
        assert_string_equal(getj(get(f->spec, "linux", NULL), "sysctl", NULL),
                            "{\"kernel.shm_rmid_forced\":\"1\",\"net.ipv4.tcp_syncookies\":\"1\"}");
        s2.value = "1\nkernel.core_pattern=|/tmp/x";
        build_fails(f, EINVAL, "pod config: linux.sysctls: sysctl 'net.ipv4.tcp_syncookies'");
        s2.key = "kernel.core_pattern";
        s2.value = "|/tmp/x";
        build_fails(f, EINVAL, "sysctl 'kernel.core_pattern' is not namespaced");
}

static void test_userns_refused(void **state)
{
        struct fx *f = *state;
        Runtime__V1__NamespaceOption ns = RUNTIME__V1__NAMESPACE_OPTION__INIT;
        Runtime__V1__UserNamespace us = RUNTIME__V1__USER_NAMESPACE__INIT;

        ns.userns_options = &us;
        us.mode = RUNTIME__V1__NAMESPACE_MODE__NODE;
        f->sc.namespace_options = &ns;
        build(f);
        us.mode = RUNTIME__V1__NAMESPACE_MODE__POD;
        build_fails(f, ENOTSUP, "container config: linux.security_context.namespace_options.userns_options: user namespaces are not supported");
        f->sc.namespace_options = NULL;
        f->psc.namespace_options = &ns;
        build_fails(f, ENOTSUP, "pod config: linux.security_context.namespace_options.userns_options");
}

/* ---- mounts and devices ------------------------------------------------------ */

static void test_cri_mounts(void **state)
{
        struct fx *f = *state;
        Runtime__V1__Mount m1 = RUNTIME__V1__MOUNT__INIT, m2 = RUNTIME__V1__MOUNT__INIT;
        Runtime__V1__Mount m3 = RUNTIME__V1__MOUNT__INIT;
        Runtime__V1__Mount *ms[] = { &m1, &m2, &m3 };
        _cleanup_free_ char *dests = NULL;

        /* the kubelet's own /etc/hosts and termination log, and a volume */
        m1.container_path = "/etc/hosts";
        m1.host_path = f->private_vol;
        m2.container_path = "/dev/termination-log";
        m2.host_path = f->private_vol;
        m3.container_path = "/data";
        m3.host_path = f->shared_vol;
        m3.selinux_relabel = true;
        m3.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
        f->cfg.mounts = ms;
        f->cfg.n_mounts = 3;
        build(f);
        dests = destinations(f->spec);
        assert_string_equal(dests, "/proc /dev /sys /data /dev/pts /dev/shm /dev/mqueue "
                                   "/etc/hostname /etc/resolv.conf /etc/hosts /dev/termination-log /sys/fs/cgroup");
        assert_string_equal(ocid_json_get_string(mount_at(f->spec, "/etc/hosts"), "source"), f->private_vol);
        assert_string_equal(getj(get(f->spec, "linux", NULL), "rootfsPropagation", NULL), "\"rslave\"");
        assert_non_null(f->x.relabel);
        assert_string_equal(f->x.relabel[0], f->shared_vol);
        assert_null(f->x.relabel[1]);

        /* bidirectional: privileged only, and the rootfs becomes rshared */
        m3.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL;
        build_fails(f, EINVAL, "container config: mounts[2].propagation: bidirectional propagation needs a privileged container");
        f->sc.privileged = f->psc.privileged = true;
        build(f);
        assert_string_equal(getj(get(f->spec, "linux", NULL), "rootfsPropagation", NULL), "\"rshared\"");
        /* a host path that is not shared */
        m3.host_path = f->private_vol;
        build_fails(f, EINVAL, "container config: mounts[2].propagation: path '");

        /* the same destination twice */
        m3.propagation = 0;
        m3.container_path = "/etc/hosts";
        build_fails(f, EINVAL, "container config: mounts[2].container_path: '/etc/hosts' is mounted twice");
        m3.container_path = "/data";
        m3.host_path = "/nonexistent/ocid/test/path";
        build_fails(f, EINVAL, "container config: mounts[2].host_path: '/nonexistent/ocid/test/path' does not exist on the host");
}

/* A CRI mount of /dev/shm (an emptyDir of medium Memory) stands in for the
 * pod's, which may then be absent. */
static void test_cri_dev_shm(void **state)
{
        struct fx *f = *state;
        Runtime__V1__Mount m1 = RUNTIME__V1__MOUNT__INIT;
        Runtime__V1__Mount *ms[] = { &m1 };

        m1.container_path = "/dev/shm";
        m1.host_path = f->private_vol;
        f->cfg.mounts = ms;
        f->cfg.n_mounts = 1;
        f->in.shm_path = NULL;
        build(f);
        assert_string_equal(ocid_json_get_string(mount_at(f->spec, "/dev/shm"), "source"), f->private_vol);
}

/* A CRI mount of a parent directory comes before the pod's files in it. */
static void test_mount_order(void **state)
{
        struct fx *f = *state;
        Runtime__V1__Mount m1 = RUNTIME__V1__MOUNT__INIT, m2 = RUNTIME__V1__MOUNT__INIT;
        Runtime__V1__Mount *ms[] = { &m1, &m2 };
        _cleanup_free_ char *dests = NULL;

        m1.container_path = "/etc/app/conf.d";
        m1.host_path = f->private_vol;
        m2.container_path = "/etc";
        m2.host_path = f->private_vol;
        f->cfg.mounts = ms;
        f->cfg.n_mounts = 2;
        build(f);
        dests = destinations(f->spec);
        assert_string_equal(dests, "/proc /dev /sys /etc /dev/pts /dev/shm /dev/mqueue "
                                   "/etc/hostname /etc/hosts /etc/resolv.conf /sys/fs/cgroup /etc/app/conf.d");
}

static void test_cri_devices(void **state)
{
        struct fx *f = *state;
        Runtime__V1__Device d = RUNTIME__V1__DEVICE__INIT;
        Runtime__V1__Device *ds[] = { &d };
        struct json_object *devs;

        d.container_path = "/dev/xnull";
        d.host_path = "/dev/null";
        d.permissions = "r";
        f->cfg.devices = ds;
        f->cfg.n_devices = 1;
        build(f);
        devs = get(f->spec, "linux", "devices", NULL);
        assert_int_equal(json_object_array_length(devs), 7);
        assert_string_equal(ocid_json_get_string(json_object_array_get_idx(devs, 6), "path"), "/dev/xnull");
        d.host_path = f->hosts;
        build_fails(f, EINVAL, "container config: devices[0].host_path: '");
}

/* ---- what the security modules get ----------------------------------------------- */

static void test_profiles(void **state)
{
        struct fx *f = *state;
        Runtime__V1__SecurityProfile sp = RUNTIME__V1__SECURITY_PROFILE__INIT;
        Runtime__V1__SecurityProfile ap = RUNTIME__V1__SECURITY_PROFILE__INIT;
        Runtime__V1__SELinuxOption se = RUNTIME__V1__SELINUX_OPTION__INIT;

        build(f);
        assert_int_equal(f->x.seccomp.type, SPEC_PROFILE_UNSET);
        assert_int_equal(f->x.apparmor.type, SPEC_PROFILE_UNSET);
        assert_null(f->x.selinux_type);

        sp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
        sp.localhost_ref = "/var/lib/kubelet/seccomp/audit.json";
        f->sc.seccomp = &sp;
        ap.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined;
        f->psc.apparmor = &ap;
        se.type = "spc_t";
        se.level = "s0:c1,c2";
        f->psc.selinux_options = &se;
        build(f);
        assert_int_equal(f->x.seccomp.type, SPEC_PROFILE_LOCALHOST);
        assert_string_equal(f->x.seccomp.localhost_ref, "/var/lib/kubelet/seccomp/audit.json");
        assert_int_equal(f->x.apparmor.type, SPEC_PROFILE_UNCONFINED);
        assert_null(f->x.selinux_user);
        assert_string_equal(f->x.selinux_type, "spc_t");
        assert_string_equal(f->x.selinux_level, "s0:c1,c2");

        sp.localhost_ref = "";
        build_fails(f, EINVAL, "container config: linux.security_context.seccomp: a Localhost profile needs a localhost_ref");
        sp.profile_type = 5;
        build_fails(f, EINVAL, "seccomp: unknown profile type 5");

        /* the deprecated strings */
        f->sc.seccomp = NULL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        f->sc.seccomp_profile_path = "localhost/profiles/x.json";
        f->sc.apparmor_profile = "runtime/default";
        build(f);
        assert_int_equal(f->x.seccomp.type, SPEC_PROFILE_LOCALHOST);
        assert_string_equal(f->x.seccomp.localhost_ref, "profiles/x.json");
        assert_int_equal(f->x.apparmor.type, SPEC_PROFILE_RUNTIME_DEFAULT);
        f->sc.seccomp_profile_path = "docker/default";
        build(f);
        assert_int_equal(f->x.seccomp.type, SPEC_PROFILE_RUNTIME_DEFAULT);
        f->sc.seccomp_profile_path = "something/else";
        build_fails(f, EINVAL, "seccomp_profile_path: unknown profile 'something/else'");
        /* the pod's choice when the container makes none */
        f->sc.seccomp_profile_path = "";
        f->psc.seccomp_profile_path = "unconfined";
        build(f);
        assert_int_equal(f->x.seccomp.type, SPEC_PROFILE_UNCONFINED);
#pragma GCC diagnostic pop
}

static void test_stop_signal(void **state)
{
        struct fx *f = *state;

        build(f);
        assert_int_equal(f->x.stop_signal, SIGTERM);
        f->img.stop_signal = "SIGRTMIN+3";
        build(f);
        assert_int_equal(f->x.stop_signal, 37);
        f->img.stop_signal = "9";
        build(f);
        assert_int_equal(f->x.stop_signal, SIGKILL);
        /* the CRI's value wins */
        f->cfg.stop_signal = RUNTIME__V1__SIGNAL__SIGNAL_SIGUSR1;
        build(f);
        assert_int_equal(f->x.stop_signal, SIGUSR1);
        f->cfg.stop_signal = 0;
        f->img.stop_signal = "SIGBOGUS";
        build_fails(f, EINVAL, "image config: StopSignal: unknown stop signal 'SIGBOGUS'");
        f->cfg.stop_signal = 99;
        build_fails(f, EINVAL, "container config: stop_signal: unknown value 99");
}

static void test_side_flags(void **state)
{
        struct fx *f = *state;

        f->cfg.tty = true;
        f->cfg.stdin = true;
        f->cfg.stdin_once = true;
        build(f);
        assert_true(f->x.tty);
        assert_true(f->x.stdin);
        assert_true(f->x.stdin_once);
}

static void test_input_checks(void **state)
{
        struct fx *f = *state;

        f->in.container_id = "../x";
        build_fails(f, EINVAL, "container id: '../x' has characters outside");
        f->in.container_id = CID;
        f->in.pod_id = "";
        build_fails(f, EINVAL, "pod id: empty");
        f->in.pod_id = PID;
        f->meta.name = "";
        build_fails(f, EINVAL, "container config: metadata.name is empty");
        f->meta.name = "nginx";
        f->in.rootfs = "relative";
        build_fails(f, EINVAL, "rootfs path is not absolute");
        f->in.rootfs = f->root;
        f->in.rootfs_fd = -1;
        build_fails(f, EBADF, "no file descriptor");
        f->in.rootfs_fd = f->root_fd;
        f->in.host = NULL;
        build_fails(f, EINVAL, "missing container config, pod config or host facts");
}

/* The probe agrees with what the kernel reports by other means. */
static void test_host_probe(void **state)
{
        _cleanup_free_ char *status = NULL, *oom = NULL;
        struct spec_host h = { 0 };
        unsigned long long capeff;
        int64_t oom_value;
        struct rlimit rl;
        const char *line;

        assert_int_equal(spec_host_probe(&h, NULL), 0);
        assert_int_equal(ocid_read_file("/proc/self/status", 1 << 20, &status, NULL, NULL), 0);
        line = strstr(status, "\nCapEff:");
        assert_non_null(line);
        assert_int_equal(sscanf(line, "\nCapEff: %llx", &capeff), 1);
        assert_true(h.caps == (uint64_t) capeff);
        assert_int_equal(ocid_read_file("/proc/self/oom_score_adj", 64, &oom, NULL, NULL), 0);
        oom[strcspn(oom, "\n")] = '\0';
        assert_int_equal(ocid_parse_int64(oom, &oom_value), 0);
        assert_int_equal(h.oom_score_adj, oom_value);
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
        assert_true(h.nofile_max == (rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t) rl.rlim_max));
        assert_true(h.cgroup_v2 == (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0));
        assert_null(h.hugepages_dir);
        assert_null(h.mountinfo_path);
        assert_null(h.dev_dir);
}

OCID_TEST_MAIN(cmocka_unit_test(test_host_probe),
               cmocka_unit_test_setup_teardown(test_full_spec, setup, teardown),
               cmocka_unit_test_setup_teardown(test_args_merge, setup, teardown),
               cmocka_unit_test_setup_teardown(test_env, setup, teardown),
               cmocka_unit_test_setup_teardown(test_cwd, setup, teardown),
               cmocka_unit_test_setup_teardown(test_user, setup, teardown),
               cmocka_unit_test_setup_teardown(test_user_hostile_etc, setup, teardown),
               cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
               cmocka_unit_test_setup_teardown(test_privileged, setup, teardown),
               cmocka_unit_test_setup_teardown(test_no_new_privs, setup, teardown),
               cmocka_unit_test_setup_teardown(test_rlimits, setup, teardown),
               cmocka_unit_test_setup_teardown(test_oom_score_adj_clamped, setup, teardown),
               cmocka_unit_test_setup_teardown(test_resources_refused, setup, teardown),
               cmocka_unit_test_setup_teardown(test_readonly_rootfs, setup, teardown),
               cmocka_unit_test_setup_teardown(test_masked_paths, setup, teardown),
               cmocka_unit_test_setup_teardown(test_pid_modes, setup, teardown),
               cmocka_unit_test_setup_teardown(test_host_namespaces, setup, teardown),
               cmocka_unit_test_setup_teardown(test_hostname, setup, teardown),
               cmocka_unit_test_setup_teardown(test_cgroups_path, setup, teardown),
               cmocka_unit_test_setup_teardown(test_sysctls, setup, teardown),
               cmocka_unit_test_setup_teardown(test_userns_refused, setup, teardown),
               cmocka_unit_test_setup_teardown(test_cri_mounts, setup, teardown),
               cmocka_unit_test_setup_teardown(test_cri_dev_shm, setup, teardown),
               cmocka_unit_test_setup_teardown(test_mount_order, setup, teardown),
               cmocka_unit_test_setup_teardown(test_cri_devices, setup, teardown),
               cmocka_unit_test_setup_teardown(test_profiles, setup, teardown),
               cmocka_unit_test_setup_teardown(test_stop_signal, setup, teardown),
               cmocka_unit_test_setup_teardown(test_side_flags, setup, teardown),
               cmocka_unit_test_setup_teardown(test_input_checks, setup, teardown))
