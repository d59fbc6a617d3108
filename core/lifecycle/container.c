/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "container"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/log.h>
#include <ocid/module.h>
#include <ocid/util.h>

#include "config.h"
#include "image/blobstore.h"
#include "image/manifest.h"
#include "image/store.h"
#include "lifecycle/container.h"
#include "lifecycle/infra.h"
#include "lifecycle/events.h"
#include "lifecycle/lookup.h"
#include "modules.h"
#include "runtime.h"
#include "security.h"
#include "sandbox/podfiles.h"
#include "spec/resources.h"
#include "spec/spec.h"
#include "storage.h"

#define CTR_EXITS_DIR      "exits"
#define CTR_CREATE_TIMEOUT_MS (240 * 1000)
#define CTR_CONFIG_MAX     (UINT64_C(8) << 20)
/* After SIGKILL, how long a container may take to be reported stopped. */
#define CTR_KILL_WAIT_NS   (INT64_C(10) * 1000000000)
/* How long a stopped container's exit status may take to appear. */
#define CTR_EXIT_FILE_WAIT_NS (INT64_C(5) * 1000000000)

/* ---- helpers ---- */

static void ctr_destroy(struct store_ref *ref)
{
        struct lc_container *c = store_container_of(ref, struct lc_container, ref);

        ctr_record_done(&c->rec);
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->op_lock);
        free(c);
}

void ctr_runtime_fill(const struct lifecycle *lc, const struct ctr_record *r, char *exit_dir,
                      struct ocid_runtime_container *rc)
{
        *rc = (struct ocid_runtime_container) {
                .size = sizeof(*rc),
                .id = r->id,
                .name = r->name,
                .bundle = r->bundle,
                .persist_dir = r->persist_dir,
                .log_path = r->log_path,
                .exit_dir = exit_dir,
                .terminal = r->tty,
                .stdin_open = r->stdin_open,
                .stdin_once = r->stdin_once,
                .systemd_cgroup = lc->config->cgroup_manager && streq(lc->config->cgroup_manager, "systemd"),
        };
}

static char *exit_dir(const struct lifecycle *lc)
{
        return ocid_path_join(lc->config->runroot, CTR_EXITS_DIR);
}

static const struct modules_handler *ctr_handler(const struct lifecycle *lc, const struct ctr_record *r,
                                                 struct ocid_error **err)
{
        const struct modules_handler *h = modules_find_handler(lc->modules, r->runtime_handler);

        if (!h)
                (void) ocid_error_msg(err, EINVAL, "no runtime handler '%s' is configured", r->runtime_handler);
        return h;
}

struct lc_container *ctr_lookup(struct lifecycle *lc, const char *id, struct ocid_error **err)
{
        return lc_lookup(lc->reg->ctr_ids, lc->reg->ctrs, id, "container", "container_id", err);
}

void ctr_unref(struct lifecycle *lc, struct lc_container *c)
{
        store_unref(lc->reg->ctrs, c);
}

const char *ctr_reason(const struct ctr_record *r)
{
        if (r->state != CTR_EXITED)
                return "";
        if (r->oom_killed)
                return "OOMKilled";
        return r->exit_code == 0 ? "Completed" : "Error";
}

/* With c->lock held: the runtime's view into the record. */
static void ctr_refresh_locked(struct lifecycle *lc, struct lc_container *c)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *xd = exit_dir(lc);
        struct ocid_runtime_container rc;
        struct ocid_runtime_state st = { 0 };
        const struct modules_handler *h;
        struct ctr_record *r = &c->rec;

        if (c->removed || r->state == CTR_EXITED)
                return;
        h = ctr_handler(lc, r, &e);
        if (!h)
                return;
        ctr_runtime_fill(lc, r, xd, &rc);
        for (int64_t deadline = 0;;) {
                if (runtime_state(h, &rc, &st, &e) < 0) {
                        ocid_log(OCID_LOG_DEBUG, "container '%s': state unavailable: %s", r->id,
                                 ocid_error_message(&e));
                        return;
                }
                /* The runtime may report the process gone a moment before
                 * conmon has written its exit status: wait for it a little. */
                if (!streq(st.status, "stopped") || st.exited)
                        break;
                if (deadline == 0)
                        deadline = ocid_now_monotonic_ns() + CTR_EXIT_FILE_WAIT_NS;
                else if (ocid_now_monotonic_ns() >= deadline)
                        break;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 20 * 1000 * 1000 }, NULL);
        }
        if (streq(st.status, "stopped")) {
                r->state = CTR_EXITED;
                if (st.exited) {
                        r->exit_code = st.exit_code;
                        r->finished_at = st.finished_ns ? st.finished_ns : ocid_now_realtime_ns();
                } else {
                        /* conmon recorded no exit status: unknown. */
                        ocid_log(OCID_LOG_WARNING, "container '%s' stopped without an exit status, "
                                 "reporting 255", r->id);
                        r->exit_code = 255;
                        r->finished_at = ocid_now_realtime_ns();
                }
                r->oom_killed = st.oom_killed;
                r->pid = 0;
                if (ctr_record_save(lc->config->root, r, &e) < 0)
                        ocid_log(OCID_LOG_WARNING, "container '%s': %s, ignoring", r->id, ocid_error_message(&e));
        } else if (streq(st.status, "running") || streq(st.status, "paused")) {
                r->state = CTR_RUNNING;
        }
}

void ctr_refresh(struct lifecycle *lc, struct lc_container *c)
{
        pthread_mutex_lock(&c->lock);
        ctr_refresh_locked(lc, c);
        pthread_mutex_unlock(&c->lock);
}

bool ctr_matches_filter(const struct ctr_record *r, const Runtime__V1__ContainerFilter *f)
{
        if (!f)
                return true;
        if (f->id && *f->id && !ocid_startswith(r->id, f->id))
                return false;
        if (f->pod_sandbox_id && *f->pod_sandbox_id && !ocid_startswith(r->pod_id, f->pod_sandbox_id))
                return false;
        if (f->state && (int32_t) f->state->state != r->state)
                return false;
        for (size_t i = 0; i < f->n_label_selector; i++) {
                const char *v = records_kv_get(r->labels, f->label_selector[i]->key);

                if (!v || !streq(v, f->label_selector[i]->value))
                        return false;
        }
        return true;
}

static char **kv_copy(size_t n, Runtime__V1__ContainerConfig__LabelsEntry *const *e)
{
        char **kv = xcalloc(1, sizeof(char *));

        for (size_t i = 0; i < n; i++) {
                ocid_strv_push(&kv, e[i]->key);
                ocid_strv_push(&kv, e[i]->value);
        }
        return kv;
}

/* The container's log file: <pod log_directory>/<log_path>, log_path
 * relative and without '..'; without a log directory, in the bundle. */
static int ctr_log_path(const struct pod_record *pod, const Runtime__V1__ContainerConfig *cfg, const char *bundle,
                        char **ret, struct ocid_error **err)
{
        const char *lp = cfg->log_path ? cfg->log_path : "";
        _cleanup_free_ char *copy = NULL;
        char *save = NULL;

        if (!*lp || !pod->log_directory) {
                *ret = ocid_path_join(bundle, "ctr.log");
                return 0;
        }
        if (lp[0] == '/')
                return ocid_error_msg(err, EINVAL, "config.log_path '%s' must be relative to the pod's log directory",
                                      lp);
        if (strchr(lp, ':'))
                return ocid_error_msg(err, EINVAL, "config.log_path '%s' holds a ':'", lp);
        copy = xstrdup(lp);
        for (char *p = strtok_r(copy, "/", &save); p; p = strtok_r(NULL, "/", &save))
                if (streq(p, "..") || streq(p, "."))
                        return ocid_error_msg(err, EINVAL, "config.log_path '%s' holds a '.' or '..' component", lp);
        /* conmon opens the file by name: create it now, through no symlink
         * below the log directory, so the log cannot land outside it. */
        {
                _cleanup_close_ int fd = -1;
                int r = ocid_mkdir_p(pod->log_directory, 0755, err);

                if (r >= 0)
                        r = ocid_create_file_beneath(pod->log_directory, lp, 0755, 0640, &fd, err);
                if (r == -ELOOP) {
                        ocid_error_clear(err);
                        return ocid_error_msg(err, EINVAL,
                                              "config.log_path '%s' leads through a symlink below the pod's "
                                              "log directory", lp);
                }
                if (r < 0)
                        return ocid_error_prefix(err, "config.log_path '%s'", lp);
        }
        *ret = ocid_path_join(pod->log_directory, lp);
        return 0;
}

static int ctr_image_config(struct image_store *images, const struct image_record *img, struct image_config **ret,
                            struct ocid_error **err)
{
        _cleanup_free_ char *body = NULL;
        size_t len = 0;
        int r;

        r = blobstore_read(image_store_blobs(images), img->config_digest, CTR_CONFIG_MAX, &body, &len, err);
        if (r < 0)
                return ocid_error_prefix(err, "image '%s'", img->id);
        return image_config_parse(body, len, ret, err);
}

static char *ctr_mounts_json(const Runtime__V1__ContainerConfig *cfg)
{
        _cleanup_json_ struct json_object *a = json_object_new_array();

        for (size_t i = 0; i < cfg->n_mounts; i++) {
                struct json_object *o = json_object_new_object();

                json_object_object_add(o, "container_path", json_object_new_string(cfg->mounts[i]->container_path));
                json_object_object_add(o, "host_path", json_object_new_string(cfg->mounts[i]->host_path));
                json_object_object_add(o, "readonly", json_object_new_boolean(cfg->mounts[i]->readonly));
                json_object_object_add(o, "selinux_relabel",
                                       json_object_new_boolean(cfg->mounts[i]->selinux_relabel));
                json_object_object_add(o, "propagation", json_object_new_int(cfg->mounts[i]->propagation));
                json_object_array_add(a, o);
        }
        return xstrdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
}

/* ---- create ---- */

int ctr_create(struct lifecycle *lc, struct image_store *images, const char *pod_id,
               const Runtime__V1__ContainerConfig *cfg, const Runtime__V1__PodSandboxConfig *sandbox,
               char ret_id[65], struct ocid_error **err)
{
        return ctr_create_for(lc, images, pod_id, cfg, sandbox, NULL, ret_id, err);
}

/* Removes a container nobody claimed: as the kubelet does, kill, then
 * remove. */
static int ctr_reap(struct lifecycle *lc, const char *id, struct ocid_error **err)
{
        int r = ctr_stop(lc, id, 0, err);

        if (r == -ENOENT) {
                ocid_error_clear(err);     /* removed by a client meanwhile */
                return 0;
        }
        if (r < 0)
                return r;
        return ctr_remove(lc, id, err);
}

int ctr_create_for(struct lifecycle *lc, struct image_store *images, const char *pod_id,
                   const Runtime__V1__ContainerConfig *cfg, const Runtime__V1__PodSandboxConfig *sandbox,
                   const struct lc_caller *caller, char ret_id[65], struct ocid_error **err)
{
        struct lc_claim *claim = NULL;
        char hash[65];
        const struct ocid_config *config = lc->config;
        struct ocid_module *storage = lc->modules->storage;
        _cleanup_error_ struct ocid_error *undo = NULL;
        _cleanup_(image_record_freep) struct image_record *img = NULL;
        _cleanup_image_config_ struct image_config *icfg = NULL;
        _cleanup_json_ struct json_object *spec = NULL;
        _cleanup_free_ char *xd = exit_dir(lc), *spec_path = NULL, *top = NULL, *pidns = NULL;
        _cleanup_close_ int rootfs_fd = -1;
        struct spec_extra extra = { 0 };
        struct spec_host host;
        struct spec_input in;
        struct ocid_runtime_container rc;
        const struct modules_handler *h;
        struct lc_pod *pod = NULL;
        struct lc_container *c = NULL;
        struct ctr_record *rec;
        bool reserved = false, rootfs_made = false, mounted = false, bundle_made = false, created = false,
             saved = false, indexed = false;
        int32_t pid = 0;
        int pod_state, r;

        if (!cfg)
                return ocid_error_msg(err, EINVAL, "config is missing");
        if (!cfg->metadata || !cfg->metadata->name || !*cfg->metadata->name)
                return ocid_error_msg(err, EINVAL, "config.metadata.name is empty");
        for (const char *p = cfg->metadata->name; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f || *p == '/')
                        return ocid_error_msg(err, EINVAL, "config.metadata.name holds a control character or '/'");
        if (!cfg->image || !cfg->image->image || !*cfg->image->image)
                return ocid_error_msg(err, EINVAL, "config.image.image is empty");
        if (!sandbox)
                return ocid_error_msg(err, EINVAL, "sandbox_config is missing");
        if (!images)
                return ocid_error_msg(err, EAGAIN, "the image store is not available");

        pod = pod_lookup(lc, pod_id, err);
        if (!pod)
                return -ocid_error_code(err);
        pthread_mutex_lock(&pod->lock);
        pod_state = pod->removed ? -1 : pod->rec.state;
        pthread_mutex_unlock(&pod->lock);
        if (pod_state != RECORDS_POD_READY) {
                r = ocid_error_msg(err, EBUSY, "pod sandbox '%s' is not ready", pod->rec.id);
                pod_unref(lc, pod);
                return r;
        }

        c = xzalloc(sizeof(*c));
        store_ref_init(&c->ref, ctr_destroy);
        pthread_mutex_init(&c->lock, NULL);
        pthread_mutex_init(&c->op_lock, NULL);
        rec = &c->rec;
        rec->id = xzalloc(65);
        r = ocid_random_id(rec->id, err);
        if (r < 0)
                goto fail;
        rec->pod_id = xstrdup(pod->rec.id);
        rec->meta_name = xstrdup(cfg->metadata->name);
        rec->meta_attempt = cfg->metadata->attempt;
        rec->name = xasprintf("k8s_%s_%s_%s_%s_%" PRIu32, cfg->metadata->name, pod->rec.meta_name,
                              pod->rec.meta_namespace, pod->rec.meta_uid, cfg->metadata->attempt);
        rec->image = xstrdup(cfg->image->image);
        rec->labels = kv_copy(cfg->n_labels, cfg->labels);
        rec->annotations = kv_copy(cfg->n_annotations,
                                   (Runtime__V1__ContainerConfig__LabelsEntry *const *) cfg->annotations);
        rec->runtime_handler = xstrdup(pod->rec.runtime_handler);
        rec->mounts = ctr_mounts_json(cfg);
        rec->bundle = xasprintf("%s/" RECORDS_CTRS_DIR "/%s", config->runroot, rec->id);
        rec->persist_dir = ocid_path_join(rec->bundle, "persist");
        rec->created_at = ocid_now_realtime_ns();
        rec->state = CTR_CREATED;

        h = ctr_handler(lc, rec, err);
        if (!h) {
                r = -EINVAL;
                goto fail;
        }
        r = ctr_log_path(&pod->rec, cfg, rec->bundle, &rec->log_path, err);
        if (r < 0)
                goto fail;

        r = image_store_get(images, cfg->image->image, config->image.unqualified_search_registries, &img, err);
        if (r < 0)
                goto fail;
        rec->image_id = xstrdup(img->id);
        rec->image_ref = xstrdup(img->repo_digests[0] ? img->repo_digests[0] : img->id);
        r = ctr_image_config(images, img, &icfg, err);
        if (r < 0)
                goto fail;

        /* The request's identity (the pod, the config, the pod's config): a
         * retry of the same request may be handed the container an earlier,
         * cancelled call finished. */
        records_request_hash(&cfg->base, pod->rec.id, hash);
        {
                char pod_hash[65], both[130];

                records_request_hash(&sandbox->base, NULL, pod_hash);
                memcpy(both, hash, 64);
                memcpy(both + 64, pod_hash, 65);
                records_request_hash(NULL, both, hash);
        }
        r = lc_claim_reserve(lc, lc->reg->ctr_names, rec->name, rec->id, hash, ctr_reap, caller, &claim, ret_id,
                             err);
        if (r < 0)
                goto fail;
        if (r > 0) {
                r = 0;
                goto fail;     /* nothing was made: only memory to free */
        }
        reserved = true;

        if (img->n_layers > 0) {
                const char *chain = img->layers[img->n_layers - 1].chain_id;

                top = xstrdup(ocid_startswith(chain, "sha256:") ?: chain);
        }
        /* The bundle comes first: a crash after the root file system exists
         * then leaves a bundle without a record, which the next start finds
         * and cleans up with everything it names (docs/restart.md). */
        r = ocid_mkdir_p(rec->bundle, 0700, err);
        if (r < 0)
                goto fail;
        bundle_made = true;
        r = ocid_mkdir_p(rec->persist_dir, 0700, err);
        if (r < 0)
                goto fail;
        r = ocid_mkdir_p(xd, 0700, err);
        if (r < 0)
                goto fail;

        r = storage_rootfs_create(storage, rec->id, top, err);
        if (r < 0)
                goto fail;
        rootfs_made = true;
        r = storage_rootfs_mount(storage, rec->id, &rec->rootfs, err);
        if (r < 0)
                goto fail;
        mounted = true;
        rootfs_fd = open(rec->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfs_fd < 0) {
                r = ocid_error_set(err, errno, "open '%s'", rec->rootfs);
                goto fail;
        }

        r = spec_host_probe(&host, err);
        if (r < 0)
                goto fail;
        {
                _cleanup_free_ char *hn = ocid_path_join(pod->rec.pod_dir, PODFILES_HOSTNAME);
                _cleanup_free_ char *hs = ocid_path_join(pod->rec.pod_dir, PODFILES_HOSTS);
                _cleanup_free_ char *rv = ocid_path_join(pod->rec.pod_dir, PODFILES_RESOLV_CONF);
                const Runtime__V1__NamespaceOption *nso =
                        cfg->linux && cfg->linux->security_context ? cfg->linux->security_context->namespace_options
                                                                   : NULL;
                int pid_mode = spec_pid_mode_from_cri(nso ? (int) nso->pid : RUNTIME__V1__NAMESPACE_MODE__CONTAINER);

                if (pid_mode < 0 || pid_mode == SPEC_PID_TARGET) {
                        r = ocid_error_msg(err, pid_mode < 0 ? EINVAL : EOPNOTSUPP,
                                           "config.linux.security_context.namespace_options.pid: only the "
                                           "container's own, the pod's or the host's PID namespace is "
                                           "supported");
                        goto fail;
                }
                if (pid_mode == SPEC_PID_POD) {
                        r = infra_pidns(lc, &pod->rec, &pidns, err);
                        if (r < 0)
                                goto fail;
                }
                in = (struct spec_input) {
                        .container_id = rec->id,
                        .pod_id = pod->rec.id,
                        .rootfs = rec->rootfs,
                        .rootfs_fd = rootfs_fd,
                        .config = cfg,
                        .sandbox = sandbox,
                        .image = icfg,
                        .image_name = cfg->image->image,
                        .hostname_path = hn,
                        .hosts_path = hs,
                        .resolv_conf_path = rv,
                        .shm_path = pod->rec.shm_path,
                        .netns = pod->rec.netns_path ? pod->rec.netns_path : SPEC_NS_HOST,
                        .ipcns = pod->rec.ipcns_path ? pod->rec.ipcns_path : SPEC_NS_HOST,
                        .utsns = pod->rec.utsns_path ? pod->rec.utsns_path : SPEC_NS_HOST,
                        .pid_mode = (enum spec_pid_mode) pid_mode,
                        .pidns = pidns,
                        .cgroup_parent = pod->rec.cgroup_parent,
                        .cgroup_manager = config->cgroup_manager && streq(config->cgroup_manager, "systemd")
                                                  ? SPEC_CGROUP_SYSTEMD
                                                  : SPEC_CGROUP_CGROUPFS,
                        .host = &host,
                };
                r = spec_build(&in, &spec, &extra, err);
                if (r < 0)
                        goto fail;
        }
        {
                struct json_object *linux_ = NULL, *res = NULL;

                if (json_object_object_get_ex(spec, "linux", &linux_) &&
                    json_object_object_get_ex(linux_, "resources", &res))
                        rec->resources = xstrdup(json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN));
        }
        {
                /* The security modules, in the configured order, on the spec;
                 * any of them may refuse it. */
                static const char *const no_paths[] = { NULL };
                static const uint32_t profile_types[] = {
                        [SPEC_PROFILE_UNSET] = OCID_SECURITY_PROFILE_UNSET,
                        [SPEC_PROFILE_RUNTIME_DEFAULT] = OCID_SECURITY_PROFILE_RUNTIME_DEFAULT,
                        [SPEC_PROFILE_UNCONFINED] = OCID_SECURITY_PROFILE_UNCONFINED,
                        [SPEC_PROFILE_LOCALHOST] = OCID_SECURITY_PROFILE_LOCALHOST,
                };
                struct ocid_security_request sr = {
                        .size = sizeof(sr),
                        .container_id = rec->id,
                        .pod_id = pod->rec.id,
                        .privileged = extra.privileged,
                        .seccomp = { profile_types[extra.seccomp.type], extra.seccomp.localhost_ref },
                        .apparmor = { profile_types[extra.apparmor.type], extra.apparmor.localhost_ref },
                        .selinux_user = extra.selinux_user,
                        .selinux_role = extra.selinux_role,
                        .selinux_type = extra.selinux_type,
                        .selinux_level = extra.selinux_level,
                        .relabel = extra.relabel ? (const char *const *) extra.relabel : no_paths,
                };

                r = security_apply_chain(lc->modules, &sr, spec, NULL, err);
                if (r < 0)
                        goto fail;
        }
        rec->stop_signal = extra.stop_signal > 0 ? extra.stop_signal : SIGTERM;
        rec->tty = extra.tty;
        rec->stdin_open = extra.stdin;
        rec->stdin_once = extra.stdin_once;
        spec_extra_done(&extra);

        spec_path = ocid_path_join(rec->bundle, "config.json");
        r = ocid_json_write_file_atomic(spec_path, spec, 0600, err);
        if (r < 0)
                goto fail;

        ctr_runtime_fill(lc, rec, xd, &rc);
        r = runtime_create(h, &rc, CTR_CREATE_TIMEOUT_MS, &pid, err);
        if (r < 0)
                goto fail;
        created = true;
        rec->pid = pid;

        r = ctr_record_save(config->root, rec, err);
        if (r < 0)
                goto fail;
        saved = true;
        r = truncindex_add(lc->reg->ctr_ids, rec->id, err);
        if (r < 0)
                goto fail;
        indexed = true;
        r = store_add(lc->reg->ctrs, rec->id, c, err);
        if (r < 0)
                goto fail;
        memcpy(ret_id, rec->id, 65);
        event_bus_notify(lc->events, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_CREATED_EVENT, rec->id,
                         rec->pod_id);
        store_unref(lc->reg->ctrs, c);
        pod_unref(lc, pod);
        lc_claim_end(lc, claim, 0, caller);
        return 0;

fail:
        if (indexed)
                (void) truncindex_delete(lc->reg->ctr_ids, rec->id, NULL);
        if (saved)
                (void) ctr_record_remove(config->root, rec->id, NULL);
        if (created && runtime_delete(h, &rc, 1, &undo) < 0) {
                ocid_log(OCID_LOG_WARNING, "container '%s': rollback: %s", rec->id, ocid_error_message(&undo));
                ocid_error_clear(&undo);
        }
        if (mounted)
                (void) storage_rootfs_unmount(storage, rec->id, NULL);
        if (rootfs_made && storage_rootfs_remove(storage, rec->id, &undo) < 0) {
                ocid_log(OCID_LOG_WARNING, "container '%s': rollback: %s", rec->id, ocid_error_message(&undo));
                ocid_error_clear(&undo);
        }
        if (bundle_made)
                (void) ocid_rm_rf(rec->bundle, NULL);
        if (reserved)
                (void) names_release(lc->reg->ctr_names, rec->name, NULL);
        lc_claim_end(lc, claim, r, caller);
        spec_extra_done(&extra);
        store_ref_put(&c->ref);
        pod_unref(lc, pod);
        return r;
}

/* ---- start, stop, remove ---- */

int ctr_start(struct lifecycle *lc, const char *id, struct ocid_error **err)
{
        _cleanup_free_ char *xd = exit_dir(lc);
        struct ocid_runtime_container rc;
        const struct modules_handler *h;
        struct lc_container *c;
        int r;

        c = ctr_lookup(lc, id, err);
        if (!c)
                return -ocid_error_code(err);
        pthread_mutex_lock(&c->op_lock);
        pthread_mutex_lock(&c->lock);
        ctr_refresh_locked(lc, c);
        r = c->rec.state;
        pthread_mutex_unlock(&c->lock);
        if (r != CTR_CREATED) {
                r = ocid_error_msg(err, EBUSY, "container '%s' is %s, not created", c->rec.id,
                                   ctr_record_state_name(r));
                goto out;
        }
        h = ctr_handler(lc, &c->rec, err);
        if (!h) {
                r = -EINVAL;
                goto out;
        }
        ctr_runtime_fill(lc, &c->rec, xd, &rc);
        r = runtime_start(h, &rc, err);
        if (r < 0)
                goto out;
        pthread_mutex_lock(&c->lock);
        c->rec.started_at = ocid_now_realtime_ns();
        c->rec.state = CTR_RUNNING;
        r = ctr_record_save(lc->config->root, &c->rec, err);
        pthread_mutex_unlock(&c->lock);
        event_bus_notify(lc->events, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STARTED_EVENT, c->rec.id,
                         c->rec.pod_id);
out:
        pthread_mutex_unlock(&c->op_lock);
        ctr_unref(lc, c);
        return r;
}

/* Polls until the container is stopped or the deadline passes: 1 when
 * stopped, 0 when not. */
static int ctr_wait_stopped(struct lifecycle *lc, struct lc_container *c, int64_t deadline_ns)
{
        for (;;) {
                int state;

                pthread_mutex_lock(&c->lock);
                ctr_refresh_locked(lc, c);
                state = c->rec.state;
                pthread_mutex_unlock(&c->lock);
                if (state == CTR_EXITED)
                        return 1;
                if (ocid_now_monotonic_ns() >= deadline_ns)
                        return 0;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }
}

/* With op_lock held. */
static int ctr_stop_locked(struct lifecycle *lc, struct lc_container *c, int64_t timeout, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *xd = exit_dir(lc);
        struct ocid_runtime_container rc;
        const struct modules_handler *h;
        int state, r;

        pthread_mutex_lock(&c->lock);
        ctr_refresh_locked(lc, c);
        state = c->rec.state;
        pthread_mutex_unlock(&c->lock);
        if (state == CTR_EXITED)
                return 0;
        h = ctr_handler(lc, &c->rec, err);
        if (!h)
                return -EINVAL;
        ctr_runtime_fill(lc, &c->rec, xd, &rc);
        if (state == CTR_CREATED) {
                /* Never started: its init waits for start; kill it. */
                timeout = 0;
        }
        if (timeout > 0) {
                r = runtime_kill(h, &rc, c->rec.stop_signal, 0, &e);
                if (r < 0 && r != -ESRCH) {
                        ocid_log(OCID_LOG_DEBUG, "container '%s': stop signal: %s", c->rec.id,
                                 ocid_error_message(&e));
                }
                ocid_error_clear(&e);
                if (ctr_wait_stopped(lc, c, ocid_now_monotonic_ns() + timeout * INT64_C(1000000000)))
                        return 0;
        }
        r = runtime_kill(h, &rc, SIGKILL, 1, &e);
        if (r < 0 && r != -ESRCH)
                ocid_log(OCID_LOG_DEBUG, "container '%s': SIGKILL: %s", c->rec.id, ocid_error_message(&e));
        ocid_error_clear(&e);
        if (ctr_wait_stopped(lc, c, ocid_now_monotonic_ns() + CTR_KILL_WAIT_NS))
                return 0;
        return ocid_error_msg(err, ETIMEDOUT, "container '%s' did not stop after SIGKILL", c->rec.id);
}

int ctr_stop(struct lifecycle *lc, const char *id, int64_t timeout, struct ocid_error **err)
{
        struct lc_container *c;
        int r;

        c = ctr_lookup(lc, id, err);
        if (!c)
                return -ocid_error_code(err);
        pthread_mutex_lock(&c->op_lock);
        r = c->removed ? 0 : ctr_stop_locked(lc, c, timeout < 0 ? 0 : timeout, err);
        pthread_mutex_unlock(&c->op_lock);
        ctr_unref(lc, c);
        return r;
}

/* With op_lock held. */
static int ctr_remove_locked(struct lifecycle *lc, struct lc_container *c, struct ocid_error **err)
{
        _cleanup_free_ char *xd = exit_dir(lc), *exit_file = NULL;
        struct ocid_runtime_container rc;
        const struct modules_handler *h;
        struct ctr_record *rec = &c->rec;
        int r;

        if (c->removed)
                return 0;
        r = ctr_stop_locked(lc, c, 0, err);
        if (r < 0)
                return r;
        h = ctr_handler(lc, rec, err);
        if (!h)
                return -EINVAL;
        ctr_runtime_fill(lc, rec, xd, &rc);
        r = runtime_delete(h, &rc, 1, err);
        if (r < 0)
                return r;
        r = storage_rootfs_remove(lc->modules->storage, rec->id, err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == -ENOENT)
                ocid_error_clear(err);
        r = ocid_rm_rf(rec->bundle, err);
        if (r < 0)
                return r;
        exit_file = ocid_path_join(xd, rec->id);
        (void) unlink(exit_file);
        r = ctr_record_remove(lc->config->root, rec->id, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->lock);
        c->removed = true;
        pthread_mutex_unlock(&c->lock);
        (void) store_remove(lc->reg->ctrs, rec->id, NULL);
        (void) truncindex_delete(lc->reg->ctr_ids, rec->id, NULL);
        (void) names_release_id(lc->reg->ctr_names, rec->id);
        event_bus_notify(lc->events, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_DELETED_EVENT, rec->id,
                         rec->pod_id);
        return 0;
}

int ctr_remove(struct lifecycle *lc, const char *id, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct lc_container *c;
        int r;

        c = ctr_lookup(lc, id, &e);
        if (!c) {
                if (ocid_error_code(&e) == ENOENT)
                        return 0;
                *err = TAKE_PTR(e);
                return -(*err)->code;
        }
        pthread_mutex_lock(&c->op_lock);
        r = ctr_remove_locked(lc, c, err);
        pthread_mutex_unlock(&c->op_lock);
        ctr_unref(lc, c);
        return r;
}

int ctr_stop_pod_containers(struct lifecycle *lc, const char *pod_id, bool remove, struct ocid_error **err)
{
        void **objs = NULL;
        size_t n = 0;
        int first = 0;

        store_list(lc->reg->ctrs, &objs, &n);
        for (size_t i = 0; i < n; i++) {
                struct lc_container *c = objs[i];
                _cleanup_error_ struct ocid_error *e = NULL;
                int r;

                if (!streq(c->rec.pod_id, pod_id))
                        continue;
                pthread_mutex_lock(&c->op_lock);
                r = remove ? ctr_remove_locked(lc, c, &e) : (c->removed ? 0 : ctr_stop_locked(lc, c, 0, &e));
                pthread_mutex_unlock(&c->op_lock);
                if (r < 0 && first == 0) {
                        first = r;
                        *err = TAKE_PTR(e);
                }
        }
        store_list_free(lc->reg->ctrs, objs, n);
        return first;
}

int ctr_image_in_use(void *userdata, const char *image_id, char **ret_user, struct ocid_error **err)
{
        struct lifecycle *lc = userdata;
        void **objs = NULL;
        size_t n = 0;
        int found = 0;

        (void) err;
        store_list(lc->reg->ctrs, &objs, &n);
        for (size_t i = 0; i < n && !found; i++) {
                struct lc_container *c = objs[i];

                if (c->rec.image_id && streq(c->rec.image_id, image_id)) {
                        *ret_user = xasprintf("container '%s' (%s)", c->rec.id, c->rec.name);
                        found = 1;
                }
        }
        store_list_free(lc->reg->ctrs, objs, n);
        return found;
}

/* ---- exec, update, reopen ---- */

static int ctr_running(struct lifecycle *lc, const char *id, struct lc_container **ret,
                       const struct modules_handler **ret_h, struct ocid_error **err)
{
        struct lc_container *c;
        int state;

        c = ctr_lookup(lc, id, err);
        if (!c)
                return -ocid_error_code(err);
        pthread_mutex_lock(&c->lock);
        ctr_refresh_locked(lc, c);
        state = c->removed ? CTR_UNKNOWN : c->rec.state;
        pthread_mutex_unlock(&c->lock);
        if (state != CTR_RUNNING) {
                int r = ocid_error_msg(err, EBUSY, "container '%s' is not running", c->rec.id);

                ctr_unref(lc, c);
                return r;
        }
        *ret_h = ctr_handler(lc, &c->rec, err);
        if (!*ret_h) {
                ctr_unref(lc, c);
                return -EINVAL;
        }
        *ret = c;
        return 0;
}

int ctr_exec_sync(struct lifecycle *lc, const char *id, char *const *cmd, size_t n_cmd, int64_t timeout_s,
                  struct ocid_runtime_exec_result *ret, struct ocid_error **err)
{
        _cleanup_free_ char *xd = exit_dir(lc);
        _cleanup_json_ struct json_object *proc = NULL;
        struct ocid_runtime_container rc;
        const struct modules_handler *h = NULL;
        struct lc_container *c = NULL;
        struct json_object *args;
        int r;

        if (n_cmd == 0)
                return ocid_error_msg(err, EINVAL, "cmd is empty");
        if (timeout_s < 0)
                return ocid_error_msg(err, EINVAL, "timeout %" PRId64 " is negative", timeout_s);
        r = ctr_running(lc, id, &c, &h, err);
        if (r < 0)
                return r;
        proc = json_object_new_object();
        args = json_object_new_array();
        for (size_t i = 0; i < n_cmd; i++)
                json_object_array_add(args, json_object_new_string(cmd[i]));
        json_object_object_add(proc, "args", args);
        ctr_runtime_fill(lc, &c->rec, xd, &rc);
        r = runtime_exec_sync(h, &rc, json_object_to_json_string_ext(proc, JSON_C_TO_STRING_PLAIN),
                              timeout_s * 1000, 0, ret, err);
        ctr_unref(lc, c);
        return r;
}

int ctr_update_resources(struct lifecycle *lc, const char *id, const Runtime__V1__LinuxContainerResources *res,
                         struct ocid_error **err)
{
        _cleanup_free_ char *xd = exit_dir(lc);
        _cleanup_json_ struct json_object *oci = NULL;
        struct ocid_runtime_container rc;
        const struct modules_handler *h = NULL;
        struct lc_container *c = NULL;
        struct spec_host host;
        int oom = 0, r;

        if (!res)
                return ocid_error_msg(err, EINVAL, "linux is missing");
        r = spec_host_probe(&host, err);
        if (r < 0)
                return r;
        r = resources_to_oci(res, &host, &oci, &oom, err);
        if (r < 0)
                return r;
        r = ctr_running(lc, id, &c, &h, err);
        if (r < 0)
                return r;
        ctr_runtime_fill(lc, &c->rec, xd, &rc);
        r = runtime_update(h, &rc, json_object_to_json_string_ext(oci, JSON_C_TO_STRING_PLAIN), err);
        if (r >= 0) {
                pthread_mutex_lock(&c->lock);
                free(c->rec.resources);
                c->rec.resources = xstrdup(json_object_to_json_string_ext(oci, JSON_C_TO_STRING_PLAIN));
                r = ctr_record_save(lc->config->root, &c->rec, err);
                pthread_mutex_unlock(&c->lock);
        }
        ctr_unref(lc, c);
        return r;
}

int ctr_reopen_log(struct lifecycle *lc, const char *id, struct ocid_error **err)
{
        _cleanup_free_ char *xd = exit_dir(lc);
        struct ocid_runtime_container rc;
        const struct modules_handler *h = NULL;
        struct lc_container *c = NULL;
        int r;

        r = ctr_running(lc, id, &c, &h, err);
        if (r < 0)
                return r;
        ctr_runtime_fill(lc, &c->rec, xd, &rc);
        r = runtime_reopen_log(h, &rc, err);
        ctr_unref(lc, c);
        return r;
}
