/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <json-c/json.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "image/manifest.h"
#include "spec/caps.h"
#include "spec/devices.h"
#include "spec/mounts.h"
#include "spec/resources.h"
#include "spec/signal.h"
#include "spec/spec.h"
#include "spec/sysctl.h"
#include "spec/user.h"

#define CGROUP2_MAGIC 0x63677270 /* CGROUP2_SUPER_MAGIC, linux/magic.h */

#define SC "container config: linux.security_context."

/* ---- host facts ------------------------------------------------------ */

static int read_int_file(const char *path, int64_t *ret, struct ocid_error **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = ocid_read_file(path, 64, &buf, &len, err);
        if (r < 0)
                return r;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
                buf[--len] = '\0';
        if (ocid_parse_int64(buf, ret) < 0)
                return ocid_error_msg(err, EINVAL, "'%s' does not hold a number", path);
        return 0;
}

/* The cgroup v2 path of this process, from "0::/path" in /proc/self/cgroup. */
static char *own_cgroup2_path(void)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        const char *p;

        if (ocid_read_file("/proc/self/cgroup", 1024 * 1024, &buf, &len, NULL) < 0)
                return NULL;
        for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
                if (strncmp(p, "0::", 3) == 0) {
                        size_t n = strcspn(p + 3, "\n");
                        return xstrndup(p + 3, n);
                }
        }
        return NULL;
}

int spec_host_probe(struct spec_host *ret, struct ocid_error **err)
{
        struct spec_host h = { 0 };
        struct statfs sfs;
        struct rlimit rl;
        int64_t oom;
        int r;

        if (statfs("/sys/fs/cgroup", &sfs) < 0)
                return ocid_error_set(err, errno, "statfs '/sys/fs/cgroup'");
        h.cgroup_v2 = sfs.f_type == CGROUP2_MAGIC;
        if (h.cgroup_v2) {
                _cleanup_free_ char *own = own_cgroup2_path();
                _cleanup_free_ char *path = NULL;

                if (own && !streq(own, "/")) {
                        path = xasprintf("/sys/fs/cgroup%s/memory.swap.max", own);
                        h.swap_accounting = access(path, F_OK) == 0;
                } else {
                        /* The root cgroup has no memory.swap.max; the
                         * kernel accounts swap unless booted with
                         * swapaccount=0, which leaves it out everywhere. */
                        h.swap_accounting = true;
                }
        } else {
                h.swap_accounting = access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0;
        }

        r = caps_probe_effective(&h.caps, err);
        if (r < 0)
                return r;
        r = read_int_file("/proc/self/oom_score_adj", &oom, err);
        if (r < 0)
                return r;
        if (oom < -1000 || oom > 1000)
                return ocid_error_msg(err, ERANGE, "/proc/self/oom_score_adj: %" PRId64 " is out of range", oom);
        h.oom_score_adj = (int) oom;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return ocid_error_set(err, errno, "getrlimit(RLIMIT_NOFILE)");
        h.nofile_max = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t) rl.rlim_max;
        *ret = h;
        return 0;
}

enum spec_pid_mode spec_pid_mode_from_cri(int mode)
{
        switch (mode) {
        case RUNTIME__V1__NAMESPACE_MODE__POD:
                return SPEC_PID_POD;
        case RUNTIME__V1__NAMESPACE_MODE__CONTAINER:
                return SPEC_PID_CONTAINER;
        case RUNTIME__V1__NAMESPACE_MODE__NODE:
                return SPEC_PID_HOST;
        case RUNTIME__V1__NAMESPACE_MODE__TARGET:
                return SPEC_PID_TARGET;
        default:
                return _SPEC_PID_INVALID;
        }
}

void spec_extra_done(struct spec_extra *x)
{
        free(x->seccomp.localhost_ref);
        free(x->apparmor.localhost_ref);
        free(x->selinux_user);
        free(x->selinux_role);
        free(x->selinux_type);
        free(x->selinux_level);
        ocid_strv_free(x->relabel);
        *x = (struct spec_extra) { 0 };
}

/* ---- helpers ----------------------------------------------------------- */

static bool is_host(const char *ns)
{
        return ns && streq(ns, SPEC_NS_HOST);
}

static bool empty(const char *s)
{
        return !s || !*s;
}

static bool has_control(const char *s)
{
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

/* An identifier used in paths and names: [A-Za-z0-9_.-], at most 128. */
static int id_check(const char *id, const char *what, struct ocid_error **err)
{
        size_t len = id ? strlen(id) : 0;

        if (len == 0 || len > 128)
                return ocid_error_msg(err, EINVAL, "%s: empty or longer than 128 bytes", what);
        for (size_t i = 0; i < len; i++) {
                char c = id[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '-' || c == '.'))
                        return ocid_error_msg(err, EINVAL, "%s: '%s' has characters outside [A-Za-z0-9_.-]", what, id);
        }
        if (streq(id, ".") || streq(id, ".."))
                return ocid_error_msg(err, EINVAL, "%s: '%s' is not a name", what, id);
        return 0;
}

static const Runtime__V1__LinuxContainerSecurityContext *container_sc(const Runtime__V1__ContainerConfig *c)
{
        return c->linux ? c->linux->security_context : NULL;
}

static const Runtime__V1__LinuxSandboxSecurityContext *pod_sc(const Runtime__V1__PodSandboxConfig *p)
{
        return p->linux ? p->linux->security_context : NULL;
}

/* ---- process ----------------------------------------------------------- */

static int build_args(const struct spec_input *in, struct json_object *process, struct ocid_error **err)
{
        const Runtime__V1__ContainerConfig *c = in->config;
        const struct image_config *img = in->image;
        _cleanup_json_ struct json_object *args = json_object_new_array();
        char **ep = img ? img->entrypoint : NULL, **cmd = img ? img->cmd : NULL;
        size_t total;

        /* The kubelet's and Docker's rule: a command replaces the image's
         * Entrypoint (and then the image's Cmd is dropped too); args
         * replace the image's Cmd. */
        if (c->n_command > 0) {
                total = c->n_command + c->n_args;
                if (total > SPEC_MAX_ARGS)
                        return ocid_error_msg(err, EINVAL, "container config: command and args: more than %d arguments",
                                              SPEC_MAX_ARGS);
                for (size_t i = 0; i < c->n_command; i++)
                        json_object_array_add(args, json_object_new_string(c->command[i] ? c->command[i] : ""));
                for (size_t i = 0; i < c->n_args; i++)
                        json_object_array_add(args, json_object_new_string(c->args[i] ? c->args[i] : ""));
        } else {
                size_t nep = ocid_strv_length(ep), ncmd = ocid_strv_length(cmd);

                total = nep + (c->n_args > 0 ? c->n_args : ncmd);
                if (total > SPEC_MAX_ARGS)
                        return ocid_error_msg(err, EINVAL, "container config: command and args: more than %d arguments",
                                              SPEC_MAX_ARGS);
                for (size_t i = 0; i < nep; i++)
                        json_object_array_add(args, json_object_new_string(ep[i]));
                if (c->n_args > 0)
                        for (size_t i = 0; i < c->n_args; i++)
                                json_object_array_add(args, json_object_new_string(c->args[i] ? c->args[i] : ""));
                else
                        for (size_t i = 0; i < ncmd; i++)
                                json_object_array_add(args, json_object_new_string(cmd[i]));
        }
        if (json_object_array_length(args) == 0)
                return ocid_error_msg(err, EINVAL, "container config: no command: neither the container config (command, args) nor the image (Entrypoint, Cmd) names one");
        if (!*json_object_get_string(json_object_array_get_idx(args, 0)))
                return ocid_error_msg(err, EINVAL, "container config: the command to run is an empty string");
        json_object_object_add(process, "args", TAKE_PTR(args));
        return 0;
}

/* The environment, as "KEY=VALUE" strings in first-seen order; a later
 * value for a key replaces the earlier one in place. `index` maps keys to
 * positions. */
struct env {
        struct json_object *list;   /* array of strings */
        struct json_object *index;  /* key -> int position */
};

static void env_done(struct env *e)
{
        json_object_put(e->list);
        json_object_put(e->index);
}

static void env_set(struct env *e, const char *key, size_t key_len, const char *value, size_t value_len)
{
        _cleanup_free_ char *k = xstrndup(key, key_len);
        _cleanup_free_ char *kv = xmalloc(key_len + 1 + value_len + 1);
        struct json_object *pos;

        memcpy(kv, key, key_len);
        kv[key_len] = '=';
        memcpy(kv + key_len + 1, value, value_len);
        kv[key_len + 1 + value_len] = '\0';
        if (json_object_object_get_ex(e->index, k, &pos)) {
                json_object_array_put_idx(e->list, (size_t) json_object_get_int64(pos),
                                          json_object_new_string_len(kv, (int) (key_len + 1 + value_len)));
                return;
        }
        json_object_object_add(e->index, k, json_object_new_int64((int64_t) json_object_array_length(e->list)));
        json_object_array_add(e->list, json_object_new_string_len(kv, (int) (key_len + 1 + value_len)));
}

static bool env_has(const struct env *e, const char *key)
{
        return json_object_object_get_ex(e->index, key, NULL);
}

static int env_check_home(const char *what, const char *value, size_t len, struct ocid_error **err)
{
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) value[i] < 0x20 || value[i] == 0x7f)
                        return ocid_error_msg(err, EINVAL, "%s: HOME contains the control character 0x%02x", what,
                                              (unsigned char) value[i]);
        return 0;
}

static int build_env(const struct spec_input *in, const struct user_result *user, const char *hostname,
                     struct json_object *process, struct ocid_error **err)
{
        const Runtime__V1__ContainerConfig *c = in->config;
        _cleanup_(env_done) struct env e = { json_object_new_array(), json_object_new_object() };
        char **img_env = in->image ? in->image->env : NULL;
        size_t n_img = ocid_strv_length(img_env);
        int r;

        if (n_img + c->n_envs > SPEC_MAX_ENV)
                return ocid_error_msg(err, EINVAL, "container config: envs: more than %d variables", SPEC_MAX_ENV);
        for (size_t i = 0; i < n_img; i++) {
                const char *eq = strchr(img_env[i], '=');

                if (!eq || eq == img_env[i])
                        return ocid_error_msg(err, EINVAL, "image config: Env[%zu]: not KEY=VALUE", i);
                if (ocid_startswith(img_env[i], "HOME=")) {
                        r = env_check_home("image config: Env", eq + 1, strlen(eq + 1), err);
                        if (r < 0)
                                return r;
                }
                env_set(&e, img_env[i], (size_t) (eq - img_env[i]), eq + 1, strlen(eq + 1));
        }
        for (size_t i = 0; i < c->n_envs; i++) {
                const Runtime__V1__KeyValue *kv = c->envs[i];
                const char *v;
                size_t vlen;

                if (!kv || empty(kv->key))
                        return ocid_error_msg(err, EINVAL, "container config: envs[%zu]: empty key", i);
                if (strchr(kv->key, '='))
                        return ocid_error_msg(err, EINVAL, "container config: envs[%zu]: key '%s' contains '='", i, kv->key);
                v = kv->value.data ? (const char *) kv->value.data : "";
                vlen = kv->value.data ? kv->value.len : 0;
                if (memchr(v, '\0', vlen))
                        return ocid_error_msg(err, EINVAL, "container config: envs[%zu]: the value of '%s' contains a NUL byte",
                                              i, kv->key);
                if (streq(kv->key, "HOME")) {
                        r = env_check_home("container config: envs", v, vlen, err);
                        if (r < 0)
                                return r;
                }
                env_set(&e, kv->key, strlen(kv->key), v, vlen);
        }
        if (!env_has(&e, "PATH"))
                env_set(&e, "PATH", 4, SPEC_DEFAULT_PATH, strlen(SPEC_DEFAULT_PATH));
        if (!env_has(&e, "HOME")) {
                r = env_check_home("the container's /etc/passwd", user->home, strlen(user->home), err);
                if (r < 0)
                        return r;
                env_set(&e, "HOME", 4, user->home, strlen(user->home));
        }
        if (hostname && !env_has(&e, "HOSTNAME"))
                env_set(&e, "HOSTNAME", 8, hostname, strlen(hostname));
        if (c->tty && !env_has(&e, "TERM"))
                env_set(&e, "TERM", 4, "xterm", 5);
        json_object_object_add(process, "env", TAKE_PTR(e.list));
        return 0;
}

static int build_cwd(const struct spec_input *in, struct json_object *process, struct ocid_error **err)
{
        const char *cwd = "/";
        const char *what = NULL;

        if (!empty(in->config->working_dir)) {
                cwd = in->config->working_dir;
                what = "container config: working_dir";
        } else if (in->image && !empty(in->image->working_dir)) {
                cwd = in->image->working_dir;
                what = "image config: WorkingDir";
        }
        if (what) {
                int r = mounts_container_path_check(cwd, what, err);
                if (r < 0)
                        return r;
        }
        json_object_object_add(process, "cwd", json_object_new_string(cwd));
        return 0;
}

static int build_user(const struct spec_input *in, struct user_result *ret, struct json_object *process,
                      struct ocid_error **err)
{
        const Runtime__V1__LinuxContainerSecurityContext *sc = container_sc(in->config);
        struct user_request req = { 0 };
        struct json_object *u;
        int r;

        if (sc) {
                req.has_uid = sc->run_as_user != NULL;
                req.uid = sc->run_as_user ? sc->run_as_user->value : 0;
                req.username = sc->run_as_username;
                req.has_gid = sc->run_as_group != NULL;
                req.gid = sc->run_as_group ? sc->run_as_group->value : 0;
                req.groups = sc->supplemental_groups;
                req.n_groups = sc->n_supplemental_groups;
                switch (sc->supplemental_groups_policy) {
                case RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Merge:
                        break;
                case RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Strict:
                        req.strict_groups = true;
                        break;
                default:
                        return ocid_error_msg(err, EINVAL, SC "supplemental_groups_policy: unknown value %d",
                                              (int) sc->supplemental_groups_policy);
                }
        }
        req.image_user = in->image ? in->image->user : NULL;
        r = user_resolve(in->rootfs_fd, &req, ret, err);
        if (r < 0)
                return r;

        u = json_object_new_object();
        json_object_object_add(u, "uid", json_object_new_int64(ret->uid));
        json_object_object_add(u, "gid", json_object_new_int64(ret->gid));
        if (ret->n_gids > 0) {
                struct json_object *g = json_object_new_array();
                for (size_t i = 0; i < ret->n_gids; i++)
                        json_object_array_add(g, json_object_new_int64(ret->gids[i]));
                json_object_object_add(u, "additionalGids", g);
        }
        json_object_object_add(process, "user", u);
        return 0;
}

static int build_caps(const struct spec_input *in, bool privileged, struct json_object *process,
                      struct ocid_error **err)
{
        const Runtime__V1__LinuxContainerSecurityContext *sc = container_sc(in->config);
        const Runtime__V1__Capability *cap = sc ? sc->capabilities : NULL;
        struct caps_request req = { 0 };
        struct json_object *o;
        uint64_t set, ambient;
        int r;

        if (cap)
                req = (struct caps_request) {
                        .add = cap->add_capabilities, .n_add = cap->n_add_capabilities,
                        .drop = cap->drop_capabilities, .n_drop = cap->n_drop_capabilities,
                        .ambient = cap->add_ambient_capabilities, .n_ambient = cap->n_add_ambient_capabilities,
                };
        r = caps_compute(&req, privileged, in->host->caps, &set, &ambient, err);
        if (r < 0)
                return ocid_error_prefix(err, "container config: linux.security_context");
        o = json_object_new_object();
        json_object_object_add(o, "bounding", caps_to_json(set));
        json_object_object_add(o, "effective", caps_to_json(set));
        json_object_object_add(o, "permitted", caps_to_json(set));
        /* Inheritable only for ambient capabilities, which need it: a
         * non-empty inheritable set lets files with inheritable file
         * capabilities gain them across execve (CVE-2022-27652). */
        json_object_object_add(o, "inheritable", caps_to_json(ambient));
        json_object_object_add(o, "ambient", caps_to_json(ambient));
        json_object_object_add(process, "capabilities", o);
        return 0;
}

static void build_rlimits(const struct spec_input *in, struct json_object *process)
{
        uint64_t n = SPEC_NOFILE_DEFAULT;
        struct json_object *a = json_object_new_array(), *l = json_object_new_object();

        if (in->host->nofile_max && in->host->nofile_max < n)
                n = in->host->nofile_max;
        json_object_object_add(l, "type", json_object_new_string("RLIMIT_NOFILE"));
        json_object_object_add(l, "hard", json_object_new_uint64(n));
        json_object_object_add(l, "soft", json_object_new_uint64(n));
        json_object_array_add(a, l);
        json_object_object_add(process, "rlimits", a);
}

/* ---- mounts ------------------------------------------------------------ */

struct mount_plan {
        struct json_object *cri;    /* array of CRI mounts, in order */
        char **destinations;        /* their resolved destinations */
        int want;                   /* strongest MOUNT_WANT_* */
};

static void mount_plan_done(struct mount_plan *p)
{
        json_object_put(p->cri);
        ocid_strv_free(p->destinations);
}

static int plan_cri_mounts(const struct spec_input *in, bool privileged, struct mount_plan *plan,
                           char ***relabel, struct ocid_error **err)
{
        const Runtime__V1__ContainerConfig *c = in->config;

        if (c->n_mounts > SPEC_MAX_MOUNTS)
                return ocid_error_msg(err, EINVAL, "container config: mounts: more than %d mounts", SPEC_MAX_MOUNTS);
        plan->cri = json_object_new_array();
        for (size_t i = 0; i < c->n_mounts; i++) {
                _cleanup_(mount_result_done) struct mount_result m = { 0 };
                int r;

                r = mounts_from_cri(c->mounts[i], i, in->rootfs_fd, privileged, in->host->mountinfo_path, &m, err);
                if (r < 0)
                        return r;
                if (ocid_strv_contains(plan->destinations, m.destination))
                        return ocid_error_msg(err, EINVAL, "container config: mounts[%zu].container_path: '%s' is mounted twice",
                                              i, m.destination);
                ocid_strv_push(&plan->destinations, m.destination);
                if (m.want > plan->want)
                        plan->want = m.want;
                if (c->mounts[i]->selinux_relabel && !ocid_strv_contains(*relabel, m.source))
                        ocid_strv_push(relabel, m.source);
                json_object_array_add(plan->cri, TAKE_PTR(m.mount));
        }
        return 0;
}

static void add_default(struct json_object *mounts, const struct mount_plan *plan, const char *dest,
                        const char *type, const char *source, const char *const *options)
{
        if (ocid_strv_contains(plan->destinations, dest))
                return; /* the CRI mounts its own there (the kubelet does for /etc/hosts) */
        mounts_append(mounts, dest, type, source, options);
}

/* Number of components of an absolute path: "/" 0, "/dev/shm" 2. */
static size_t path_depth(const char *p)
{
        size_t n = 0;
        char prev = '/';

        for (; *p; prev = *p++)
                if (*p != '/' && prev == '/')
                        n++;
        return n;
}

struct ordered_mount {
        struct json_object *m;
        size_t depth;
        size_t index;
};

static int ordered_mount_cmp(const void *a, const void *b)
{
        const struct ordered_mount *x = a, *y = b;

        if (x->depth != y->depth)
                return x->depth < y->depth ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* Parents before children (a CRI mount of /etc must not hide the pod's
 * /etc/hosts), otherwise in the order given. */
static struct json_object *sort_mounts(struct json_object *mounts)
{
        size_t n = json_object_array_length(mounts);
        _cleanup_free_ struct ordered_mount *v = xcalloc(n ? n : 1, sizeof(*v));
        struct json_object *out = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                struct json_object *m = json_object_array_get_idx(mounts, i);
                v[i] = (struct ordered_mount) { m, path_depth(ocid_json_get_string(m, "destination")), i };
        }
        qsort(v, n, sizeof(*v), ordered_mount_cmp);
        for (size_t i = 0; i < n; i++)
                json_object_array_add(out, json_object_get(v[i].m));
        return out;
}

static int build_mounts(const struct spec_input *in, bool privileged, bool readonly_rootfs, struct mount_plan *plan,
                        struct json_object *spec, struct ocid_error **err)
{
        static const char *const proc_opts[] = { "nosuid", "noexec", "nodev", NULL };
        static const char *const dev_opts[] = { "nosuid", "strictatime", "mode=755", "size=65536k", NULL };
        static const char *const pts_opts[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL };
        static const char *const shm_opts[] = { "rbind", "rprivate", "nosuid", "noexec", "nodev", "rw", NULL };
        static const char *const mq_opts[] = { "nosuid", "noexec", "nodev", NULL };
        static const char *const mq_host_opts[] = { "rbind", "rprivate", "nosuid", "noexec", "nodev", "rw", NULL };
        static const char *const sys_ro[] = { "nosuid", "noexec", "nodev", "ro", NULL };
        static const char *const sys_rw[] = { "nosuid", "noexec", "nodev", "rw", NULL };
        static const char *const cg_ro[] = { "nosuid", "noexec", "nodev", "relatime", "ro", NULL };
        static const char *const cg_rw[] = { "nosuid", "noexec", "nodev", "relatime", "rw", NULL };
        static const char *const etc_ro[] = { "bind", "rprivate", "nosuid", "nodev", "noexec", "ro", NULL };
        static const char *const etc_rw[] = { "bind", "rprivate", "nosuid", "nodev", "noexec", "rw", NULL };
        const struct {
                const char *dest;
                const char *path;
        } pod_files[] = {
                { "/etc/hostname", in->hostname_path },
                { "/etc/hosts", in->hosts_path },
                { "/etc/resolv.conf", in->resolv_conf_path },
        };
        _cleanup_json_ struct json_object *mounts = json_object_new_array();
        bool host_ipc = is_host(in->ipcns);

        add_default(mounts, plan, "/proc", "proc", "proc", proc_opts);
        add_default(mounts, plan, "/dev", "tmpfs", "tmpfs", dev_opts);
        add_default(mounts, plan, "/dev/pts", "devpts", "devpts", pts_opts);
        if (host_ipc) {
                add_default(mounts, plan, "/dev/shm", "bind", "/dev/shm", shm_opts);
                add_default(mounts, plan, "/dev/mqueue", "bind", "/dev/mqueue", mq_host_opts);
        } else {
                if (empty(in->shm_path) && !ocid_strv_contains(plan->destinations, "/dev/shm"))
                        return ocid_error_msg(err, EINVAL, "the pod has no /dev/shm to share");
                if (!empty(in->shm_path)) {
                        int r = mounts_container_path_check(in->shm_path, "the pod's shm path", err);
                        if (r < 0)
                                return r;
                        add_default(mounts, plan, "/dev/shm", "bind", in->shm_path, shm_opts);
                }
                add_default(mounts, plan, "/dev/mqueue", "mqueue", "mqueue", mq_opts);
        }
        add_default(mounts, plan, "/sys", "sysfs", "sysfs", privileged ? sys_rw : sys_ro);
        add_default(mounts, plan, "/sys/fs/cgroup", "cgroup", "cgroup", privileged ? cg_rw : cg_ro);
        for (size_t i = 0; i < ELEMENTSOF(pod_files); i++) {
                int r;

                if (empty(pod_files[i].path))
                        continue;
                r = mounts_container_path_check(pod_files[i].path, pod_files[i].dest, err);
                if (r < 0)
                        return ocid_error_prefix(err, "the pod's file for");
                add_default(mounts, plan, pod_files[i].dest, "bind", pod_files[i].path,
                            readonly_rootfs ? etc_ro : etc_rw);
        }
        for (size_t i = 0; i < json_object_array_length(plan->cri); i++)
                json_object_array_add(mounts, json_object_get(json_object_array_get_idx(plan->cri, i)));
        json_object_object_add(spec, "mounts", sort_mounts(mounts));
        return 0;
}

/* ---- linux ------------------------------------------------------------- */

static int add_namespace(struct json_object *nss, const char *type, const char *path, const char *what,
                         struct ocid_error **err)
{
        struct json_object *o;

        if (empty(path))
                return ocid_error_msg(err, EINVAL, "the pod has no %s namespace to join", what);
        if (is_host(path))
                return 0;
        if (path[0] != '/' || has_control(path))
                return ocid_error_msg(err, EINVAL, "the pod's %s namespace path '%s' is not an absolute path", what, path);
        o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string(type));
        json_object_object_add(o, "path", json_object_new_string(path));
        json_object_array_add(nss, o);
        return 0;
}

static void add_new_namespace(struct json_object *nss, const char *type)
{
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "type", json_object_new_string(type));
        json_object_array_add(nss, o);
}

static int build_namespaces(const struct spec_input *in, struct json_object *linux_obj, struct ocid_error **err)
{
        struct json_object *nss = json_object_new_array();
        int r;

        json_object_object_add(linux_obj, "namespaces", nss);
        switch (in->pid_mode) {
        case SPEC_PID_CONTAINER:
                add_new_namespace(nss, "pid");
                break;
        case SPEC_PID_POD:
        case SPEC_PID_TARGET:
                if (empty(in->pidns) || is_host(in->pidns))
                        return ocid_error_msg(err, EINVAL, "no PID namespace path to share (%s)",
                                              in->pid_mode == SPEC_PID_POD ? "the pod's infra container" : "the target container");
                r = add_namespace(nss, "pid", in->pidns, "PID", err);
                if (r < 0)
                        return r;
                break;
        case SPEC_PID_HOST:
                break;
        default:
                return ocid_error_msg(err, EINVAL, "unknown PID namespace mode %d", (int) in->pid_mode);
        }
        r = add_namespace(nss, "network", in->netns, "network", err);
        if (r < 0)
                return r;
        r = add_namespace(nss, "ipc", in->ipcns, "IPC", err);
        if (r < 0)
                return r;
        r = add_namespace(nss, "uts", in->utsns, "UTS", err);
        if (r < 0)
                return r;
        add_new_namespace(nss, "mount");
        if (in->host->cgroup_v2)
                add_new_namespace(nss, "cgroup");
        return 0;
}

static int build_cgroups_path(const struct spec_input *in, struct json_object *linux_obj, struct ocid_error **err)
{
        const char *parent = in->cgroup_parent;
        _cleanup_free_ char *path = NULL;

        switch (in->cgroup_manager) {
        case SPEC_CGROUP_CGROUPFS:
                if (empty(parent))
                        parent = "/";
                if (parent[0] != '/' || has_control(parent) || strlen(parent) >= PATH_MAX)
                        return ocid_error_msg(err, EINVAL, "pod config: linux.cgroup_parent: '%s' is not an absolute path",
                                              parent);
                for (const char *p = parent; *p;) {
                        size_t n;
                        while (*p == '/')
                                p++;
                        n = strcspn(p, "/");
                        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                                return ocid_error_msg(err, EINVAL, "pod config: linux.cgroup_parent: '%s' has a '.' or '..' component",
                                                      parent);
                        p += n;
                }
                path = streq(parent, "/") ? xasprintf("/ocid-%s", in->container_id)
                                          : xasprintf("%s%socid-%s", parent, ocid_endswith(parent, "/") ? "" : "/",
                                                      in->container_id);
                break;
        case SPEC_CGROUP_SYSTEMD:
                if (empty(parent))
                        parent = "system.slice";
                if (!ocid_endswith(parent, ".slice") || strlen(parent) <= 6 || strchr(parent, '/') ||
                    strchr(parent, ':') || has_control(parent) || strlen(parent) > 255)
                        return ocid_error_msg(err, EINVAL, "pod config: linux.cgroup_parent: '%s' is not a systemd slice name (like 'kubepods-besteffort.slice')",
                                              parent);
                path = xasprintf("%s:ocid:%s", parent, in->container_id);
                break;
        default:
                return ocid_error_msg(err, EINVAL, "unknown cgroup manager %d", (int) in->cgroup_manager);
        }
        json_object_object_add(linux_obj, "cgroupsPath", json_object_new_string(path));
        return 0;
}

static int build_sysctls(const struct spec_input *in, struct json_object *linux_obj, struct ocid_error **err)
{
        const Runtime__V1__LinuxPodSandboxConfig *pl = in->sandbox->linux;
        _cleanup_json_ struct json_object *o = NULL;

        if (!pl || pl->n_sysctls == 0)
                return 0;
        if (pl->n_sysctls > SYSCTL_MAX_COUNT)
                return ocid_error_msg(err, EINVAL, "pod config: linux.sysctls: more than %d entries", SYSCTL_MAX_COUNT);
        o = json_object_new_object();
        for (size_t i = 0; i < pl->n_sysctls; i++) {
                const Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *s = pl->sysctls[i];
                int r;

                if (!s)
                        return ocid_error_msg(err, EINVAL, "pod config: linux.sysctls: empty entry");
                r = sysctl_add(o, s->key, s->value, is_host(in->netns), is_host(in->ipcns), err);
                if (r < 0)
                        return r;
        }
        json_object_object_add(linux_obj, "sysctl", TAKE_PTR(o));
        return 0;
}

static int path_list(const char *field, char *const *cri, size_t n_cri, const char *const *defaults,
                     struct json_object **ret, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *a = json_object_new_array();

        if (n_cri > SPEC_MAX_PATHS)
                return ocid_error_msg(err, EINVAL, SC "%s: more than %d paths", field, SPEC_MAX_PATHS);
        if (n_cri == 0) {
                for (const char *const *p = defaults; *p; p++)
                        json_object_array_add(a, json_object_new_string(*p));
        } else {
                for (size_t i = 0; i < n_cri; i++) {
                        _cleanup_free_ char *f = xasprintf(SC "%s[%zu]", field, i);
                        int r = mounts_container_path_check(cri[i], f, err);
                        if (r < 0)
                                return r;
                        json_object_array_add(a, json_object_new_string(cri[i]));
                }
        }
        *ret = TAKE_PTR(a);
        return 0;
}

static int build_paths(const struct spec_input *in, bool privileged, struct json_object *linux_obj,
                       struct ocid_error **err)
{
        static const char *const masked[] = {
                "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap", NULL,
        };
        static const char *const readonly[] = {
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
        };
        const Runtime__V1__LinuxContainerSecurityContext *sc = container_sc(in->config);
        struct json_object *m = NULL, *ro = NULL;
        int r;

        if (privileged)
                return 0;
        r = path_list("masked_paths", sc ? sc->masked_paths : NULL, sc ? sc->n_masked_paths : 0, masked, &m, err);
        if (r < 0)
                return r;
        json_object_object_add(linux_obj, "maskedPaths", m);
        r = path_list("readonly_paths", sc ? sc->readonly_paths : NULL, sc ? sc->n_readonly_paths : 0, readonly, &ro,
                      err);
        if (r < 0)
                return r;
        json_object_object_add(linux_obj, "readonlyPaths", ro);
        return 0;
}

static int build_devices(const struct spec_input *in, bool privileged, struct json_object *linux_obj,
                         struct json_object *resources, struct ocid_error **err)
{
        const Runtime__V1__ContainerConfig *c = in->config;
        struct json_object *devices = json_object_new_array(), *rules = json_object_new_array();
        int r;

        json_object_object_add(linux_obj, "devices", devices);
        json_object_object_add(resources, "devices", rules);
        if (privileged) {
                r = devices_add_host(in->host->dev_dir, devices, rules, err);
                if (r < 0)
                        return r;
        } else {
                devices_add_defaults(devices, rules);
        }
        if (c->n_devices > SPEC_MAX_DEVICES)
                return ocid_error_msg(err, EINVAL, "container config: devices: more than %d devices", SPEC_MAX_DEVICES);
        for (size_t i = 0; i < c->n_devices; i++) {
                r = devices_add_cri(c->devices[i], i, devices, rules, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- security profiles and labels ---------------------------------------- */

static int profile_from_cri(const Runtime__V1__SecurityProfile *p, const char *field, struct spec_profile_choice *ret,
                            struct ocid_error **err)
{
        switch (p->profile_type) {
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault:
                ret->type = SPEC_PROFILE_RUNTIME_DEFAULT;
                return 0;
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined:
                ret->type = SPEC_PROFILE_UNCONFINED;
                return 0;
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost:
                if (empty(p->localhost_ref) || has_control(p->localhost_ref))
                        return ocid_error_msg(err, EINVAL, "%s: a Localhost profile needs a localhost_ref", field);
                ret->type = SPEC_PROFILE_LOCALHOST;
                ret->localhost_ref = xstrdup(p->localhost_ref);
                return 0;
        default:
                return ocid_error_msg(err, EINVAL, "%s: unknown profile type %d", field, (int) p->profile_type);
        }
}

/* The deprecated string form: "runtime/default", "docker/default"
 * (seccomp), "unconfined", "localhost/<ref>"; "" is unset. */
static int profile_from_string(const char *s, const char *field, struct spec_profile_choice *ret,
                               struct ocid_error **err)
{
        const char *ref;

        if (empty(s))
                ret->type = SPEC_PROFILE_UNSET;
        else if (streq(s, "runtime/default") || streq(s, "docker/default"))
                ret->type = SPEC_PROFILE_RUNTIME_DEFAULT;
        else if (streq(s, "unconfined"))
                ret->type = SPEC_PROFILE_UNCONFINED;
        else if ((ref = ocid_startswith(s, "localhost/")) && *ref && !has_control(ref)) {
                ret->type = SPEC_PROFILE_LOCALHOST;
                ret->localhost_ref = xstrdup(ref);
        } else
                return ocid_error_msg(err, EINVAL, "%s: unknown profile '%s'", field, s);
        return 0;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static int build_profiles(const struct spec_input *in, struct spec_extra *x, struct ocid_error **err)
{
        const Runtime__V1__LinuxContainerSecurityContext *sc = container_sc(in->config);
        const Runtime__V1__LinuxSandboxSecurityContext *psc = pod_sc(in->sandbox);
        const Runtime__V1__SELinuxOption *se = NULL;
        int r;

        /* seccomp: the container's field, its deprecated string, then the pod's */
        if (sc && sc->seccomp)
                r = profile_from_cri(sc->seccomp, SC "seccomp", &x->seccomp, err);
        else
                r = profile_from_string(sc ? sc->seccomp_profile_path : NULL, SC "seccomp_profile_path", &x->seccomp, err);
        if (r < 0)
                return r;
        if (x->seccomp.type == SPEC_PROFILE_UNSET && psc) {
                if (psc->seccomp)
                        r = profile_from_cri(psc->seccomp, "pod config: linux.security_context.seccomp", &x->seccomp, err);
                else
                        r = profile_from_string(psc->seccomp_profile_path,
                                                "pod config: linux.security_context.seccomp_profile_path", &x->seccomp, err);
                if (r < 0)
                        return r;
        }

        /* AppArmor: the same order */
        if (sc && sc->apparmor)
                r = profile_from_cri(sc->apparmor, SC "apparmor", &x->apparmor, err);
        else
                r = profile_from_string(sc ? sc->apparmor_profile : NULL, SC "apparmor_profile", &x->apparmor, err);
        if (r < 0)
                return r;
        if (x->apparmor.type == SPEC_PROFILE_UNSET && psc && psc->apparmor) {
                r = profile_from_cri(psc->apparmor, "pod config: linux.security_context.apparmor", &x->apparmor, err);
                if (r < 0)
                        return r;
        }

        /* SELinux: the container's options, else the pod's */
        if (sc && sc->selinux_options)
                se = sc->selinux_options;
        else if (psc && psc->selinux_options)
                se = psc->selinux_options;
        if (se) {
                const char *parts[] = { se->user, se->role, se->type, se->level };
                char **dst[] = { &x->selinux_user, &x->selinux_role, &x->selinux_type, &x->selinux_level };

                for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                        if (empty(parts[i]))
                                continue;
                        if (has_control(parts[i]) || strlen(parts[i]) > 4096)
                                return ocid_error_msg(err, EINVAL, SC "selinux_options: a control character or an overlong value");
                        *dst[i] = xstrdup(parts[i]);
                }
        }
        return 0;
}
#pragma GCC diagnostic pop

static int build_stop_signal(const struct spec_input *in, int *ret, struct ocid_error **err)
{
        int sig = 0, r;

        r = signal_from_cri((int) in->config->stop_signal, &sig, err);
        if (r < 0)
                return ocid_error_prefix(err, "container config");
        if (sig == 0 && in->image && !empty(in->image->stop_signal)) {
                r = signal_parse(in->image->stop_signal, &sig, err);
                if (r < 0)
                        return ocid_error_prefix(err, "image config: StopSignal");
        }
        *ret = sig ? sig : SIGTERM;
        return 0;
}

/* ---- annotations ------------------------------------------------------- */

static void annotate(struct json_object *a, const char *key, const char *value)
{
        if (!empty(value))
                json_object_object_add(a, key, json_object_new_string(value));
}

static void build_annotations(const struct spec_input *in, struct json_object *spec)
{
        const Runtime__V1__PodSandboxMetadata *pm = in->sandbox->metadata;
        struct json_object *a = json_object_new_object();

        annotate(a, "io.kubernetes.cri.container-type", "container");
        annotate(a, "io.kubernetes.cri.container-name", in->config->metadata->name);
        annotate(a, "io.kubernetes.cri.sandbox-id", in->pod_id);
        if (pm) {
                annotate(a, "io.kubernetes.cri.sandbox-name", pm->name);
                annotate(a, "io.kubernetes.cri.sandbox-namespace", pm->namespace_);
                annotate(a, "io.kubernetes.cri.sandbox-uid", pm->uid);
        }
        annotate(a, "io.kubernetes.cri.image-name", in->image_name);
        json_object_object_add(spec, "annotations", a);
}

/* ---- the spec ---------------------------------------------------------- */

static int check_input(const struct spec_input *in, struct ocid_error **err)
{
        int r;

        if (!in || !in->config || !in->sandbox || !in->host)
                return ocid_error_msg(err, EINVAL, "spec input: missing container config, pod config or host facts");
        r = id_check(in->container_id, "container id", err);
        if (r < 0)
                return r;
        r = id_check(in->pod_id, "pod id", err);
        if (r < 0)
                return r;
        if (empty(in->rootfs) || in->rootfs[0] != '/' || has_control(in->rootfs))
                return ocid_error_msg(err, EINVAL, "the container's rootfs path is not absolute");
        if (in->rootfs_fd < 0)
                return ocid_error_msg(err, EBADF, "no file descriptor for the container's rootfs");
        if (!in->config->metadata || empty(in->config->metadata->name))
                return ocid_error_msg(err, EINVAL, "container config: metadata.name is empty");
        if (empty(in->netns))
                return ocid_error_msg(err, EINVAL, "the pod has no network namespace to join");
        if (empty(in->ipcns))
                return ocid_error_msg(err, EINVAL, "the pod has no IPC namespace to join");
        if (empty(in->utsns))
                return ocid_error_msg(err, EINVAL, "the pod has no UTS namespace to join");
        return 0;
}

static int check_namespace_options(const Runtime__V1__NamespaceOption *o, const char *field, struct ocid_error **err)
{
        if (!o || !o->userns_options)
                return 0;
        if (o->userns_options->mode != RUNTIME__V1__NAMESPACE_MODE__NODE)
                return ocid_error_msg(err, ENOTSUP, "%s.userns_options: user namespaces are not supported", field);
        return 0;
}

static int check_hostname(const char *h, struct ocid_error **err)
{
        size_t len = strlen(h);

        if (len > 64)
                return ocid_error_msg(err, EINVAL, "pod config: hostname: longer than 64 bytes");
        for (size_t i = 0; i < len; i++) {
                char c = h[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_'))
                        return ocid_error_msg(err, EINVAL, "pod config: hostname: '%s' has characters outside [A-Za-z0-9._-]", h);
        }
        return 0;
}

int spec_build(const struct spec_input *in, struct json_object **ret_spec, struct spec_extra *ret_extra,
               struct ocid_error **err)
{
        _cleanup_json_ struct json_object *spec = NULL;
        _cleanup_(user_result_done) struct user_result user = { 0 };
        _cleanup_(mount_plan_done) struct mount_plan plan = { 0 };
        _cleanup_(spec_extra_done) struct spec_extra x = { 0 };
        const Runtime__V1__LinuxContainerSecurityContext *sc;
        const Runtime__V1__LinuxSandboxSecurityContext *psc;
        struct json_object *process, *root, *linux_obj, *resources = NULL;
        const char *hostname = NULL;
        bool privileged, readonly_rootfs;
        int oom, r;

        r = check_input(in, err);
        if (r < 0)
                return r;
        sc = container_sc(in->config);
        psc = pod_sc(in->sandbox);
        privileged = sc && sc->privileged;
        readonly_rootfs = sc && sc->readonly_rootfs;
        if (privileged && !(psc && psc->privileged))
                return ocid_error_msg(err, EINVAL, SC "privileged: the pod is not privileged, so its containers cannot be");
        r = check_namespace_options(sc ? sc->namespace_options : NULL, SC "namespace_options", err);
        if (r < 0)
                return r;
        r = check_namespace_options(psc ? psc->namespace_options : NULL, "pod config: linux.security_context.namespace_options", err);
        if (r < 0)
                return r;

        if (!is_host(in->utsns) && !empty(in->sandbox->hostname)) {
                r = check_hostname(in->sandbox->hostname, err);
                if (r < 0)
                        return r;
                hostname = in->sandbox->hostname;
        }

        spec = json_object_new_object();
        json_object_object_add(spec, "ociVersion", json_object_new_string(SPEC_OCI_VERSION));

        /* process */
        process = json_object_new_object();
        json_object_object_add(spec, "process", process);
        json_object_object_add(process, "terminal", json_object_new_boolean(in->config->tty));
        r = build_user(in, &user, process, err);
        if (r < 0)
                return r;
        r = build_args(in, process, err);
        if (r < 0)
                return r;
        r = build_env(in, &user, hostname, process, err);
        if (r < 0)
                return r;
        r = build_cwd(in, process, err);
        if (r < 0)
                return r;
        r = build_caps(in, privileged, process, err);
        if (r < 0)
                return r;
        build_rlimits(in, process);
        /* no_new_privs for every container that is not privileged, whatever
         * the CRI says; a privileged one gets it when asked. */
        json_object_object_add(process, "noNewPrivileges",
                               json_object_new_boolean(!privileged || (sc && sc->no_new_privs)));

        /* root, hostname */
        root = json_object_new_object();
        json_object_object_add(root, "path", json_object_new_string(in->rootfs));
        json_object_object_add(root, "readonly", json_object_new_boolean(readonly_rootfs));
        json_object_object_add(spec, "root", root);
        if (hostname)
                json_object_object_add(spec, "hostname", json_object_new_string(hostname));

        /* mounts */
        r = plan_cri_mounts(in, privileged, &plan, &x.relabel, err);
        if (r < 0)
                return r;
        r = build_mounts(in, privileged, readonly_rootfs, &plan, spec, err);
        if (r < 0)
                return r;

        build_annotations(in, spec);

        /* linux */
        linux_obj = json_object_new_object();
        json_object_object_add(spec, "linux", linux_obj);
        r = resources_to_oci(in->config->linux ? in->config->linux->resources : NULL, in->host, &resources, &oom, err);
        if (r < 0)
                return r;
        json_object_object_add(linux_obj, "resources", resources);
        json_object_object_add(process, "oomScoreAdj", json_object_new_int(oom));
        r = build_devices(in, privileged, linux_obj, resources, err);
        if (r < 0)
                return r;
        r = build_cgroups_path(in, linux_obj, err);
        if (r < 0)
                return r;
        r = build_namespaces(in, linux_obj, err);
        if (r < 0)
                return r;
        r = build_sysctls(in, linux_obj, err);
        if (r < 0)
                return r;
        r = build_paths(in, privileged, linux_obj, err);
        if (r < 0)
                return r;
        if (plan.want == MOUNT_WANT_SHARED)
                json_object_object_add(linux_obj, "rootfsPropagation", json_object_new_string("rshared"));
        else if (plan.want == MOUNT_WANT_SLAVE)
                json_object_object_add(linux_obj, "rootfsPropagation", json_object_new_string("rslave"));

        /* what the security modules and the lifecycle need */
        r = build_profiles(in, &x, err);
        if (r < 0)
                return r;
        r = build_stop_signal(in, &x.stop_signal, err);
        if (r < 0)
                return r;
        x.privileged = privileged;
        x.tty = in->config->tty;
        x.stdin = in->config->stdin;
        x.stdin_once = in->config->stdin_once;
        x.uid = user.uid;
        x.gid = user.gid;

        *ret_spec = TAKE_PTR(spec);
        *ret_extra = x;
        x = (struct spec_extra) { 0 };
        return 0;
}
