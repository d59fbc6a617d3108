/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "restore"

#include <dirent.h>
#include <errno.h>
#include <linux/magic.h>   /* NSFS_MAGIC */
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <json-c/json.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/log.h>
#include <ocid/module.h>
#include <ocid/runtime.h>
#include <ocid/util.h>

#include "config.h"
#include "lifecycle/exitwatch.h"
#include "lifecycle/restore.h"
#include "modules.h"
#include "network.h"
#include "runtime.h"
#include "sandbox/ns.h"
#include "sandbox/podfiles.h"
#include "storage.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

static bool is_id(const char *s)
{
        size_t n = 0;

        for (; s[n]; n++)
                if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
                        return false;
        return n == 64;
}

/* ---- listing ---- */

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The stems of the *.json files of dir, sorted; stale temporary files of
 * an interrupted atomic write (".<name>.<hex>.tmp") are removed unless
 * dry_run. A missing directory holds nothing. */
static int list_records(const char *dir, bool dry_run, char ***ret, struct ocid_error **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        char **names = xcalloc(1, sizeof(char *));
        struct dirent *de;

        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT) {
                        *ret = names;
                        return 0;
                }
                ocid_strv_free(names);
                return ocid_error_set(err, errno, "open '%s'", dir);
        }
        while ((errno = 0, de = readdir(d))) {
                size_t n = strlen(de->d_name);

                if (de->d_name[0] == '.') {
                        if (!dry_run && n > 4 && ocid_endswith(de->d_name, ".tmp") &&
                            ocid_startswith(de->d_name, ".") && strstr(de->d_name, ".json.")) {
                                _cleanup_free_ char *p = ocid_path_join(dir, de->d_name);

                                if (unlink(p) == 0)
                                        ocid_log(OCID_LOG_INFO, "removed '%s', left by an interrupted write", p);
                        }
                        continue;
                }
                if (n <= 5 || !ocid_endswith(de->d_name, ".json"))
                        continue;
                char *stem = xstrndup(de->d_name, n - 5);

                ocid_strv_push(&names, stem);
                free(stem);
        }
        if (errno != 0) {
                ocid_strv_free(names);
                return ocid_error_set(err, errno, "read '%s'", dir);
        }
        qsort(names, ocid_strv_length(names), sizeof(char *), cmp_str);
        *ret = names;
        return 0;
}

/* ---- objects ---- */

static void rs_pod_destroy(struct store_ref *ref)
{
        struct lc_pod *pod = store_container_of(ref, struct lc_pod, ref);

        pod_record_done(&pod->rec);
        pthread_mutex_destroy(&pod->lock);
        pthread_mutex_destroy(&pod->op_lock);
        free(pod);
}

static void rs_ctr_destroy(struct store_ref *ref)
{
        struct lc_container *c = store_container_of(ref, struct lc_container, ref);

        ctr_record_done(&c->rec);
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->op_lock);
        free(c);
}

struct restore_ctx {
        struct lifecycle *lc;
        unsigned flags;
        restore_bad_fn bad;
        void *userdata;
        struct restore_stats st;
};

static void report_bad(struct restore_ctx *x, const char *kind, const char *id, const char *path,
                       const char *reason)
{
        if (streq(kind, "pod"))
                x->st.bad_pods++;
        else
                x->st.bad_containers++;
        if (x->bad)
                x->bad(x->userdata, kind, id, path, reason);
        else
                ocid_log(OCID_LOG_WARNING, "%s record '%s' cannot be restored: %s; skipping it, '%s' stays on disk",
                         kind, id, reason, path);
}

/* Whether a namespace pin is still a mounted namespace. */
static bool pin_alive(const char *path)
{
        struct statfs sfs;

        return statfs(path, &sfs) == 0 && (uint64_t) sfs.f_type == (uint64_t) NSFS_MAGIC;
}

/* Reserves the name and indexes the ID: the registry's create order,
 * with what the record says. */
static int register_names(struct ocid_registry *reg, bool pod, const char *name, const char *id,
                          struct ocid_error **err)
{
        int r;

        r = names_reserve(pod ? reg->pod_names : reg->ctr_names, name, id, err);
        if (r < 0)
                return r;
        r = truncindex_add(pod ? reg->pod_ids : reg->ctr_ids, id, err);
        if (r < 0) {
                (void) names_release(pod ? reg->pod_names : reg->ctr_names, name, NULL);
                return r;
        }
        return 0;
}

static void unregister_names(struct ocid_registry *reg, bool pod, const char *name, const char *id)
{
        (void) truncindex_delete(pod ? reg->pod_ids : reg->ctr_ids, id, NULL);
        (void) names_release(pod ? reg->pod_names : reg->ctr_names, name, NULL);
}

static int cmp_pod_created(const void *a, const void *b)
{
        const struct lc_pod *x = *(struct lc_pod *const *) a, *y = *(struct lc_pod *const *) b;

        if (x->rec.created_at != y->rec.created_at)
                return x->rec.created_at < y->rec.created_at ? -1 : 1;
        return strcmp(x->rec.id, y->rec.id);
}

static int cmp_ctr_created(const void *a, const void *b)
{
        const struct lc_container *x = *(struct lc_container *const *) a, *y = *(struct lc_container *const *) b;

        if (x->rec.created_at != y->rec.created_at)
                return x->rec.created_at < y->rec.created_at ? -1 : 1;
        return strcmp(x->rec.id, y->rec.id);
}

static int restore_pods(struct restore_ctx *x, struct ocid_error **err)
{
        struct lifecycle *lc = x->lc;
        const char *root = lc->config->root;
        _cleanup_free_ char *dir = ocid_path_join(root, RECORDS_PODS_DIR);
        _cleanup_free_ struct lc_pod **pods = NULL;
        char **names = NULL;
        size_t n = 0;
        int r;

        r = list_records(dir, x->flags & RESTORE_DRY_RUN, &names, err);
        if (r < 0)
                return r;
        pods = xcalloc(ocid_strv_length(names) + 1, sizeof(*pods));
        for (size_t i = 0; names[i]; i++) {
                _cleanup_error_ struct ocid_error *e = NULL;
                _cleanup_free_ char *path = pod_record_path(root, names[i]);
                struct lc_pod *pod;

                if (!is_id(names[i])) {
                        report_bad(x, "pod", names[i], path, "the file name is not <pod ID>.json");
                        continue;
                }
                pod = xzalloc(sizeof(*pod));
                store_ref_init(&pod->ref, rs_pod_destroy);
                pthread_mutex_init(&pod->lock, NULL);
                pthread_mutex_init(&pod->op_lock, NULL);
                r = pod_record_load(root, names[i], &pod->rec, &e);
                if (r >= 0 && !streq(pod->rec.id, names[i]))
                        r = ocid_error_msg(&e, EINVAL, "the record holds the ID '%s'", pod->rec.id);
                if (r >= 0 && !modules_find_handler(lc->modules, pod->rec.runtime_handler))
                        r = ocid_error_msg(&e, EINVAL, "no runtime handler '%s' is configured",
                                           pod->rec.runtime_handler);
                if (r < 0) {
                        report_bad(x, "pod", names[i], path, ocid_error_message(&e));
                        store_ref_put(&pod->ref);
                        continue;
                }
                pods[n++] = pod;
        }
        ocid_strv_free(names);

        /* The earlier pod keeps a name two records claim. */
        qsort(pods, n, sizeof(*pods), cmp_pod_created);
        for (size_t i = 0; i < n; i++) {
                _cleanup_error_ struct ocid_error *e = NULL;
                _cleanup_free_ char *path = pod_record_path(root, pods[i]->rec.id);
                struct pod_record *rec = &pods[i]->rec;
                bool gone;

                r = register_names(lc->reg, true, rec->name, rec->id, &e);
                if (r < 0) {
                        report_bad(x, "pod", rec->id, path, ocid_error_message(&e));
                        store_ref_put(&pods[i]->ref);
                        continue;
                }
                gone = (rec->netns_path && !pin_alive(rec->netns_path)) ||
                       (rec->ipcns_path && !pin_alive(rec->ipcns_path)) ||
                       (rec->utsns_path && !pin_alive(rec->utsns_path));
                if (gone && rec->state == RECORDS_POD_READY && !(x->flags & RESTORE_DRY_RUN)) {
                        ocid_log(OCID_LOG_INFO, "pod '%s': its namespaces are gone, it is not ready", rec->id);
                        rec->state = RECORDS_POD_NOTREADY;
                        x->st.pods_notready++;
                        if (pod_record_save(root, rec, &e) < 0) {
                                ocid_log(OCID_LOG_WARNING, "pod '%s': %s, ignoring", rec->id, ocid_error_message(&e));
                                ocid_error_clear(&e);
                        }
                }
                r = store_add(lc->reg->pods, rec->id, pods[i], &e);
                if (r < 0) {
                        unregister_names(lc->reg, true, rec->name, rec->id);
                        report_bad(x, "pod", rec->id, path, ocid_error_message(&e));
                } else
                        x->st.pods++;
                store_ref_put(&pods[i]->ref);
        }
        return 0;
}

/* Asks the runtime about a container that has not exited yet and records
 * what it says (single-threaded: no lock needed). */
static void ctr_settle(struct restore_ctx *x, struct lc_container *c, const struct modules_handler *h)
{
        struct lifecycle *lc = x->lc;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *xd = ocid_path_join(lc->config->runroot, RESTORE_EXITS_DIR);
        _cleanup_free_ char *oom = NULL;
        struct ctr_record *rec = &c->rec;
        struct ocid_runtime_container rc;
        struct ocid_runtime_state st = { .size = sizeof(st) };
        int32_t code = 255;
        int64_t fin = 0;
        int r;

        ctr_runtime_fill(lc, rec, xd, &rc);
        r = runtime_state(h, &rc, &st, &e);
        if (r >= 0 && (streq(st.status, "running") || streq(st.status, "paused"))) {
                rec->state = CTR_RUNNING;
                return;
        }
        if (r >= 0 && streq(st.status, "created")) {
                rec->state = CTR_CREATED;
                return;
        }
        if (r < 0) {
                ocid_log(OCID_LOG_INFO, "container '%s': the runtime does not know it (%s): it has exited", rec->id,
                         ocid_error_message(&e));
                ocid_error_clear(&e);
        }
        if (r >= 0 && st.exited) {
                code = st.exit_code;
                fin = st.finished_ns;
        } else if (exitwatch_read(xd, rec->id, &code, &fin, &e) <= 0) {
                /* No status anywhere (a reboot took the runroot): 255,
                 * as CRI-O records a container whose exit file is gone. */
                ocid_error_clear(&e);
                code = 255;
                fin = 0;
        }
        oom = ocid_path_join(rec->persist_dir, "oom");
        rec->state = CTR_EXITED;
        rec->exit_code = code;
        rec->finished_at = fin > 0 ? fin : ocid_now_realtime_ns();
        rec->oom_killed = (r >= 0 && st.oom_killed) || access(oom, F_OK) == 0;
        rec->pid = 0;
        x->st.exited++;
        if (ctr_record_save(lc->config->root, rec, &e) < 0)
                ocid_log(OCID_LOG_WARNING, "container '%s': %s, ignoring", rec->id, ocid_error_message(&e));
}

static int restore_containers(struct restore_ctx *x, struct ocid_error **err)
{
        struct lifecycle *lc = x->lc;
        const char *root = lc->config->root;
        _cleanup_free_ char *dir = ocid_path_join(root, RECORDS_CTRS_DIR);
        _cleanup_free_ struct lc_container **ctrs = NULL;
        char **names = NULL;
        size_t n = 0;
        int r;

        r = list_records(dir, x->flags & RESTORE_DRY_RUN, &names, err);
        if (r < 0)
                return r;
        ctrs = xcalloc(ocid_strv_length(names) + 1, sizeof(*ctrs));
        for (size_t i = 0; names[i]; i++) {
                _cleanup_error_ struct ocid_error *e = NULL;
                _cleanup_free_ char *path = ctr_record_path(root, names[i]);
                struct lc_container *c;
                struct lc_pod *pod = NULL;

                if (!is_id(names[i])) {
                        report_bad(x, "container", names[i], path, "the file name is not <container ID>.json");
                        continue;
                }
                c = xzalloc(sizeof(*c));
                store_ref_init(&c->ref, rs_ctr_destroy);
                pthread_mutex_init(&c->lock, NULL);
                pthread_mutex_init(&c->op_lock, NULL);
                r = ctr_record_load(root, names[i], &c->rec, &e);
                if (r >= 0 && !streq(c->rec.id, names[i]))
                        r = ocid_error_msg(&e, EINVAL, "the record holds the ID '%s'", c->rec.id);
                if (r >= 0 && !(pod = store_get(lc->reg->pods, c->rec.pod_id)))
                        r = ocid_error_msg(&e, ENOENT, "its pod sandbox '%s' is not restored", c->rec.pod_id);
                if (pod)
                        store_unref(lc->reg->pods, pod);
                if (r >= 0 && !modules_find_handler(lc->modules, c->rec.runtime_handler))
                        r = ocid_error_msg(&e, EINVAL, "no runtime handler '%s' is configured",
                                           c->rec.runtime_handler);
                if (r < 0) {
                        report_bad(x, "container", names[i], path, ocid_error_message(&e));
                        store_ref_put(&c->ref);
                        continue;
                }
                ctrs[n++] = c;
        }
        ocid_strv_free(names);

        qsort(ctrs, n, sizeof(*ctrs), cmp_ctr_created);
        for (size_t i = 0; i < n; i++) {
                _cleanup_error_ struct ocid_error *e = NULL;
                _cleanup_free_ char *path = ctr_record_path(root, ctrs[i]->rec.id);
                struct ctr_record *rec = &ctrs[i]->rec;

                r = register_names(lc->reg, false, rec->name, rec->id, &e);
                if (r < 0) {
                        report_bad(x, "container", rec->id, path, ocid_error_message(&e));
                        store_ref_put(&ctrs[i]->ref);
                        continue;
                }
                if (rec->state != CTR_EXITED && !(x->flags & RESTORE_DRY_RUN))
                        ctr_settle(x, ctrs[i], modules_find_handler(lc->modules, rec->runtime_handler));
                r = store_add(lc->reg->ctrs, rec->id, ctrs[i], &e);
                if (r < 0) {
                        unregister_names(lc->reg, false, rec->name, rec->id);
                        report_bad(x, "container", rec->id, path, ocid_error_message(&e));
                } else
                        x->st.containers++;
                store_ref_put(&ctrs[i]->ref);
        }
        return 0;
}

/* ---- remains without a record ---- */

/* The IDs named by the entries of dir that are directories with an ID as
 * name and no record file <root>/<records>/<id>.json (good or bad: a bad
 * record's resources are kept with it). */
static char **list_orphans(const char *dir, const char *root, const char *records)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        char **ids = xcalloc(1, sizeof(char *));
        struct dirent *de;

        if (!d)
                return ids;
        while ((de = readdir(d))) {
                _cleanup_free_ char *rec = NULL;

                if (!is_id(de->d_name))
                        continue;
                rec = xasprintf("%s/%s/%s.json", root, records, de->d_name);
                if (access(rec, F_OK) == 0 || errno != ENOENT)
                        continue;
                ocid_strv_push(&ids, de->d_name);
        }
        return ids;
}

/* A container whose record was never written (the daemon died inside
 * CreateContainer, after the runtime or the bundle, before the record):
 * deleted from every runtime handler, its root file system and bundle
 * removed. Nothing reported it created, so nothing expects it. */
static void sweep_container(struct restore_ctx *x, const char *bundles, const char *id)
{
        struct lifecycle *lc = x->lc;
        _cleanup_free_ char *bundle = ocid_path_join(bundles, id);
        _cleanup_free_ char *persist = ocid_path_join(bundle, "persist");
        _cleanup_free_ char *xd = ocid_path_join(lc->config->runroot, RESTORE_EXITS_DIR);
        _cleanup_free_ char *exit_file = ocid_path_join(xd, id);
        bool clean = true;

        for (size_t i = 0; i < lc->modules->n_handlers; i++) {
                _cleanup_error_ struct ocid_error *e = NULL;
                struct ocid_runtime_container rc = {
                        .size = sizeof(rc), .id = id, .name = id, .bundle = bundle, .persist_dir = persist,
                        .log_path = "/dev/null", .exit_dir = xd,
                };

                if (runtime_delete(&lc->modules->handlers[i], &rc, 1, &e) < 0) {
                        ocid_log(OCID_LOG_WARNING, "container '%s' without a record: %s, ignoring", id,
                                 ocid_error_message(&e));
                        clean = false;
                }
        }
        if (lc->modules->storage) {
                _cleanup_error_ struct ocid_error *e = NULL;

                (void) storage_rootfs_unmount(lc->modules->storage, id, NULL);
                if (storage_rootfs_remove(lc->modules->storage, id, &e) < 0 && ocid_error_code(&e) != ENOENT) {
                        ocid_log(OCID_LOG_WARNING, "container '%s' without a record: %s, ignoring", id,
                                 ocid_error_message(&e));
                        clean = false;
                }
        }
        if (clean) {
                (void) ocid_rm_rf(bundle, NULL);
                (void) unlink(exit_file);
        }
        ocid_log(OCID_LOG_INFO, "container '%s' has no record (an interrupted CreateContainer): %s", id,
                 clean ? "removed what it left" : "some of it stays");
}

/* A pod whose record was never written (the daemon died inside
 * RunPodSandbox): its network detached (the network module keeps its own
 * record of the attachment), /dev/shm unmounted, namespaces unpinned and
 * the pod directory removed. */
static void sweep_pod(struct restore_ctx *x, const char *pods, const char *id)
{
        struct lifecycle *lc = x->lc;
        _cleanup_free_ char *dir = ocid_path_join(pods, id);
        _cleanup_free_ char *netns = ns_pin_path(dir, NS_NET);
        _cleanup_error_ struct ocid_error *e = NULL;
        int r = 0;

        /* A pod's own runtime container, when it has one, has the pod's ID
         * and lives in <pod dir>/infra (lifecycle/infra.c). A runtime that
         * does not know the ID has nothing to delete. */
        for (size_t i = 0; i < lc->modules->n_handlers; i++) {
                _cleanup_free_ char *bundle = ocid_path_join(dir, "infra");
                _cleanup_free_ char *persist = ocid_path_join(bundle, "persist");
                _cleanup_free_ char *xd = ocid_path_join(lc->config->runroot, RESTORE_EXITS_DIR);
                _cleanup_error_ struct ocid_error *de = NULL;
                struct ocid_runtime_container rc = {
                        .size = sizeof(rc), .id = id, .name = id, .bundle = bundle, .persist_dir = persist,
                        .log_path = "/dev/null", .exit_dir = xd,
                };

                if (runtime_delete(&lc->modules->handlers[i], &rc, 1, &de) < 0)
                        ocid_log(OCID_LOG_WARNING, "pod '%s' without a record: %s, ignoring", id,
                                 ocid_error_message(&de));
        }
        if (lc->modules->network) {
                struct ocid_network_pod np = {
                        .size = sizeof(np), .id = id, .name = "", .namespace_ = "", .uid = "",
                        .netns_path = pin_alive(netns) ? netns : NULL,
                };

                r = network_pod_teardown(lc->modules->network, &np, &e);
        }
        if (r >= 0)
                r = podfiles_unmount_shm(dir, &e);
        if (r >= 0)
                r = ns_unpin(dir, &e);
        if (r >= 0)
                r = ocid_rm_rf(dir, &e);
        if (r < 0)
                ocid_log(OCID_LOG_WARNING, "pod '%s' has no record (an interrupted RunPodSandbox): %s, ignoring", id,
                         ocid_error_message(&e));
        else
                ocid_log(OCID_LOG_INFO, "pod '%s' has no record (an interrupted RunPodSandbox): removed what it left",
                         id);
}

static void sweep(struct restore_ctx *x)
{
        const struct ocid_config *c = x->lc->config;
        _cleanup_free_ char *bundles = ocid_path_join(c->runroot, RECORDS_CTRS_DIR);
        _cleanup_free_ char *pods = ocid_path_join(c->runroot, RECORDS_PODS_DIR);
        char **ids;

        ids = list_orphans(bundles, c->root, RECORDS_CTRS_DIR);
        for (size_t i = 0; ids[i]; i++)
                sweep_container(x, bundles, ids[i]);
        x->st.swept += ocid_strv_length(ids);
        ocid_strv_free(ids);
        ids = list_orphans(pods, c->root, RECORDS_PODS_DIR);
        for (size_t i = 0; ids[i]; i++)
                sweep_pod(x, pods, ids[i]);
        x->st.swept += ocid_strv_length(ids);
        ocid_strv_free(ids);
}

int restore_run(struct lifecycle *lc, unsigned flags, restore_bad_fn bad, void *userdata,
                struct restore_stats *ret_stats, struct ocid_error **err)
{
        struct restore_ctx x = { .lc = lc, .flags = flags, .bad = bad, .userdata = userdata };
        int r;

        r = restore_pods(&x, err);
        if (r >= 0)
                r = restore_containers(&x, err);
        if (r >= 0 && !(flags & RESTORE_DRY_RUN))
                sweep(&x);
        if (r < 0)
                return ocid_error_prefix(err, "restore");
        if (ret_stats)
                *ret_stats = x.st;
        return 0;
}

int restore_check(const struct ocid_config *config, const struct ocid_modules *modules, restore_bad_fn bad,
                  void *userdata, struct restore_stats *ret_stats, struct ocid_error **err)
{
        struct lifecycle lc = {
                .config = config,
                .modules = modules,
                .reg = registry_new(offsetof(struct lc_pod, ref), offsetof(struct lc_container, ref)),
        };
        int r;

        r = restore_run(&lc, RESTORE_DRY_RUN, bad, userdata, ret_stats, err);
        registry_free(lc.reg);
        return r;
}
