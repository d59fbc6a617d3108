/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "infra"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/util.h>

#include "config.h"
#include "lifecycle/infra.h"
#include "lifecycle/pod.h"
#include "modules.h"
#include "runtime.h"
#include "sandbox/podfiles.h"
#include "spec/spec.h"

#define INFRA_CREATE_TIMEOUT_MS (120 * 1000)

struct infra_paths {
        char *bundle, *rootfs, *persist, *log, *exits;
};

static void infra_paths_done(struct infra_paths *p)
{
        free(p->bundle);
        free(p->rootfs);
        free(p->persist);
        free(p->log);
        free(p->exits);
}

static void infra_paths_fill(const struct lifecycle *lc, const struct pod_record *rec, struct infra_paths *p)
{
        p->bundle = ocid_path_join(rec->pod_dir, INFRA_DIR);
        p->rootfs = ocid_path_join(p->bundle, "rootfs");
        p->persist = ocid_path_join(p->bundle, "persist");
        p->log = ocid_path_join(p->bundle, "pause.log");
        p->exits = ocid_path_join(lc->config->runroot, "exits");
}

static void infra_container(const struct lifecycle *lc, const struct pod_record *rec, const struct infra_paths *p,
                            struct ocid_runtime_container *rc)
{
        *rc = (struct ocid_runtime_container) {
                .size = sizeof(*rc),
                .id = rec->id,
                .name = rec->name,
                .bundle = p->bundle,
                .persist_dir = p->persist,
                .log_path = p->log,
                .exit_dir = p->exits,
                .systemd_cgroup = lc->config->cgroup_manager && streq(lc->config->cgroup_manager, "systemd"),
        };
}

static struct json_object *str_array(const char *const *v)
{
        struct json_object *a = json_object_new_array();

        for (; *v; v++)
                json_object_array_add(a, json_object_new_string(*v));
        return a;
}

static void add_ns(struct json_object *nss, const char *type, const char *path)
{
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "type", json_object_new_string(type));
        if (path)
                json_object_object_add(o, "path", json_object_new_string(path));
        json_object_array_add(nss, o);
}

static void add_mount(struct json_object *mounts, const char *dest, const char *type, const char *const *opts)
{
        struct json_object *m = json_object_new_object();

        json_object_object_add(m, "destination", json_object_new_string(dest));
        json_object_object_add(m, "type", json_object_new_string(type));
        json_object_object_add(m, "source", json_object_new_string(type));
        json_object_object_add(m, "options", str_array(opts));
        json_object_array_add(mounts, m);
}

/* The infra container's OCI spec: ocid-pause as root without any
 * capability, on a read-only rootfs, in a new PID and mount namespace and
 * the pod's pinned ones. */
static struct json_object *infra_spec(const struct lifecycle *lc, const struct pod_record *rec,
                                      const struct infra_paths *p)
{
        static const char *const no_caps[] = { NULL };
        static const char *const env[] = { "PATH=/", NULL };
        static const char *const args[] = { "/" PODFILES_PAUSE_NAME, NULL };
        static const char *const proc_opts[] = { "nosuid", "noexec", "nodev", NULL };
        static const char *const dev_opts[] = { "nosuid", "noexec", "strictatime", "mode=755", "size=65536k",
                                                NULL };
        static const char *const masked[] = { "/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                                              "/sys/firmware", "/proc/scsi", NULL };
        bool systemd = lc->config->cgroup_manager && streq(lc->config->cgroup_manager, "systemd");
        struct json_object *spec = json_object_new_object();
        struct json_object *proc = json_object_new_object(), *user = json_object_new_object();
        struct json_object *caps = json_object_new_object(), *root = json_object_new_object();
        struct json_object *mounts = json_object_new_array(), *linux_ = json_object_new_object();
        struct json_object *nss = json_object_new_array();
        const char *parent = rec->cgroup_parent && *rec->cgroup_parent ? rec->cgroup_parent : NULL;
        _cleanup_free_ char *cgroups = NULL;

        json_object_object_add(spec, "ociVersion", json_object_new_string(SPEC_OCI_VERSION));
        json_object_object_add(user, "uid", json_object_new_int(0));
        json_object_object_add(user, "gid", json_object_new_int(0));
        json_object_object_add(proc, "user", user);
        json_object_object_add(proc, "args", str_array(args));
        json_object_object_add(proc, "env", str_array(env));
        json_object_object_add(proc, "cwd", json_object_new_string("/"));
        json_object_object_add(proc, "noNewPrivileges", json_object_new_boolean(1));
        json_object_object_add(caps, "bounding", str_array(no_caps));
        json_object_object_add(caps, "effective", str_array(no_caps));
        json_object_object_add(caps, "permitted", str_array(no_caps));
        json_object_object_add(proc, "capabilities", caps);
        json_object_object_add(spec, "process", proc);
        json_object_object_add(root, "path", json_object_new_string(p->rootfs));
        json_object_object_add(root, "readonly", json_object_new_boolean(1));
        json_object_object_add(spec, "root", root);
        add_mount(mounts, "/proc", "proc", proc_opts);
        add_mount(mounts, "/dev", "tmpfs", dev_opts);
        json_object_object_add(spec, "mounts", mounts);
        add_ns(nss, "pid", NULL);
        add_ns(nss, "mount", NULL);
        if (rec->netns_path)
                add_ns(nss, "network", rec->netns_path);
        if (rec->ipcns_path)
                add_ns(nss, "ipc", rec->ipcns_path);
        if (rec->utsns_path)
                add_ns(nss, "uts", rec->utsns_path);
        json_object_object_add(linux_, "namespaces", nss);
        if (systemd)
                cgroups = xasprintf("%s:ocid:%s", parent ? parent : "system.slice", rec->id);
        else
                cgroups = xasprintf("%s/ocid-%s", parent ? parent : "", rec->id);
        json_object_object_add(linux_, "cgroupsPath", json_object_new_string(cgroups));
        json_object_object_add(linux_, "maskedPaths", str_array(masked));
        json_object_object_add(spec, "linux", linux_);
        return spec;
}

int infra_create(struct lifecycle *lc, struct pod_record *rec, struct ocid_error **err)
{
        _cleanup_(infra_paths_done) struct infra_paths p = { 0 };
        _cleanup_json_ struct json_object *spec = NULL;
        _cleanup_free_ char *spec_path = NULL, *proc_dir = NULL, *dev_dir = NULL;
        struct ocid_runtime_container rc;
        const struct modules_handler *h;
        int32_t pid = 0;
        int r;

        h = modules_find_handler(lc->modules, rec->runtime_handler);
        if (!h)
                return ocid_error_msg(err, EINVAL, "no runtime handler '%s' is configured", rec->runtime_handler);
        infra_paths_fill(lc, rec, &p);
        r = podfiles_infra_rootfs(p.rootfs, podfiles_pause_binary(), err);
        if (r < 0)
                goto fail;
        /* Mount points, so that the rootfs can stay read-only. */
        proc_dir = ocid_path_join(p.rootfs, "proc");
        dev_dir = ocid_path_join(p.rootfs, "dev");
        if ((r = ocid_mkdir_p(proc_dir, 0555, err)) < 0 || (r = ocid_mkdir_p(dev_dir, 0755, err)) < 0 ||
            (r = ocid_mkdir_p(p.persist, 0700, err)) < 0 || (r = ocid_mkdir_p(p.exits, 0700, err)) < 0)
                goto fail;
        spec = infra_spec(lc, rec, &p);
        spec_path = ocid_path_join(p.bundle, "config.json");
        r = ocid_json_write_file_atomic(spec_path, spec, 0600, err);
        if (r < 0)
                goto fail;
        infra_container(lc, rec, &p, &rc);
        r = runtime_create(h, &rc, INFRA_CREATE_TIMEOUT_MS, &pid, err);
        if (r < 0)
                goto fail;
        r = runtime_start(h, &rc, err);
        if (r < 0) {
                (void) runtime_delete(h, &rc, 1, NULL);
                goto fail;
        }
        rec->infra_pid = pid;
        return 0;
fail:
        (void) ocid_rm_rf(p.bundle, NULL);
        return ocid_error_prefix(err, "infra container");
}

int infra_remove(struct lifecycle *lc, struct pod_record *rec, struct ocid_error **err)
{
        _cleanup_(infra_paths_done) struct infra_paths p = { 0 };
        _cleanup_free_ char *exit_file = NULL;
        struct ocid_runtime_container rc;
        const struct modules_handler *h;
        int r;

        if (rec->infra_pid <= 0)
                return 0;
        h = modules_find_handler(lc->modules, rec->runtime_handler);
        if (!h)
                return ocid_error_msg(err, EINVAL, "no runtime handler '%s' is configured", rec->runtime_handler);
        infra_paths_fill(lc, rec, &p);
        infra_container(lc, rec, &p, &rc);
        r = runtime_delete(h, &rc, 1, err);
        if (r < 0)
                return ocid_error_prefix(err, "infra container");
        exit_file = ocid_path_join(p.exits, rec->id);
        (void) unlink(exit_file);
        rec->infra_pid = 0;
        return 0;
}

int infra_pidns(struct lifecycle *lc, const struct pod_record *rec, char **ret, struct ocid_error **err)
{
        _cleanup_(infra_paths_done) struct infra_paths p = { 0 };
        struct ocid_runtime_container rc;
        struct ocid_runtime_state st;
        const struct modules_handler *h;
        int r;

        if (rec->infra_pid <= 0)
                return ocid_error_msg(err, EBUSY, "pod sandbox '%s' has no infra container", rec->id);
        h = modules_find_handler(lc->modules, rec->runtime_handler);
        if (!h)
                return ocid_error_msg(err, EINVAL, "no runtime handler '%s' is configured", rec->runtime_handler);
        infra_paths_fill(lc, rec, &p);
        infra_container(lc, rec, &p, &rc);
        r = runtime_state(h, &rc, &st, err);
        if (r < 0)
                return ocid_error_prefix(err, "infra container");
        if (!streq(st.status, "running") || st.pid <= 0)
                return ocid_error_msg(err, EBUSY, "the infra container of pod sandbox '%s' is %s", rec->id,
                                      st.status);
        *ret = xasprintf("/proc/%d/ns/pid", (int) st.pid);
        return 0;
}
