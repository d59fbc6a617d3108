/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "pod"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/log.h>
#include <ocid/module.h>
#include <ocid/network.h>
#include <ocid/util.h>

#include "config.h"
#include "lifecycle/container.h"
#include "lifecycle/infra.h"
#include "lifecycle/lookup.h"
#include "lifecycle/pod.h"
#include "modules.h"
#include "network.h"
#include "sandbox/ns.h"
#include "sandbox/podfiles.h"
#include "security.h"
#include "spec/sysctl.h"

#define POD_META_MAX 253

static void pod_destroy(struct store_ref *ref)
{
        struct lc_pod *pod = store_container_of(ref, struct lc_pod, ref);

        pod_record_done(&pod->rec);
        pthread_mutex_destroy(&pod->lock);
        pthread_mutex_destroy(&pod->op_lock);
        free(pod);
}

/* ---- creations in flight and unclaimed resources ---- */

#define CLAIM_RUNNING   0     /* being created */
#define CLAIM_UNCLAIMED 1     /* created after its caller went away */
#define CLAIM_DONE      2     /* handed to a caller, or reaped */
#define CLAIM_FAILED    3     /* the creation failed; the name is free again */

/* How often a waiting retry looks at its own cancellation. */
#define CLAIM_POLL_NS (INT64_C(100) * 1000000)

struct lc_claim {
        struct lc_claim *next;
        int refs;                 /* under the claims lock */
        struct names *names;
        char *name, *id;
        char hash[65];
        lc_reap_fn reap;
        int state;                /* CLAIM_* */
        int64_t expires_ns;       /* when UNCLAIMED */
};

struct lc_claims {
        pthread_mutex_t lock;
        pthread_cond_t cond;      /* CLOCK_MONOTONIC: a state changed, or stop */
        struct lc_claim *list;    /* RUNNING and UNCLAIMED ones; the list holds a reference */
        int64_t ttl_ns;
        bool reaper_started, stopping;
        pthread_t reaper;
        struct lifecycle *lc;
};

static struct lc_claims *claims_new(void)
{
        struct lc_claims *cl = xzalloc(sizeof(*cl));
        pthread_condattr_t attr;

        pthread_mutex_init(&cl->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&cl->cond, &attr);
        pthread_condattr_destroy(&attr);
        cl->ttl_ns = LC_UNCLAIMED_TTL_NS;
        return cl;
}

/* Under the lock. */
static void claim_unref(struct lc_claim *c)
{
        if (!c || --c->refs > 0)
                return;
        free(c->name);
        free(c->id);
        free(c);
}

static void claim_unlink(struct lc_claims *cl, struct lc_claim *c)
{
        for (struct lc_claim **p = &cl->list; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        c->next = NULL;
                        claim_unref(c);
                        return;
                }
}

static void claims_free(struct lc_claims *cl)
{
        if (!cl)
                return;
        pthread_mutex_lock(&cl->lock);
        cl->stopping = true;
        pthread_cond_broadcast(&cl->cond);
        pthread_mutex_unlock(&cl->lock);
        if (cl->reaper_started)
                pthread_join(cl->reaper, NULL);
        while (cl->list)
                claim_unlink(cl, cl->list);
        pthread_cond_destroy(&cl->cond);
        pthread_mutex_destroy(&cl->lock);
        free(cl);
}

static void timespec_from_ns(struct timespec *ts, int64_t ns)
{
        ts->tv_sec = (time_t) (ns / 1000000000);
        ts->tv_nsec = (long) (ns % 1000000000);
}

/* Removes what stayed unclaimed past its time, as the kubelet would have. */
static void *claims_reaper(void *userdata)
{
        struct lc_claims *cl = userdata;

        pthread_mutex_lock(&cl->lock);
        while (!cl->stopping) {
                struct lc_claim *next = NULL;
                int64_t now = ocid_now_monotonic_ns();

                for (struct lc_claim *c = cl->list; c; c = c->next)
                        if (c->state == CLAIM_UNCLAIMED && (!next || c->expires_ns < next->expires_ns))
                                next = c;
                if (!next) {
                        pthread_cond_wait(&cl->cond, &cl->lock);
                } else if (next->expires_ns > now) {
                        struct timespec ts;

                        timespec_from_ns(&ts, next->expires_ns);
                        (void) pthread_cond_timedwait(&cl->cond, &cl->lock, &ts);
                } else {
                        _cleanup_error_ struct ocid_error *e = NULL;
                        _cleanup_free_ char *id = xstrdup(next->id);
                        lc_reap_fn reap = next->reap;

                        next->state = CLAIM_DONE;
                        claim_unlink(cl, next);
                        pthread_mutex_unlock(&cl->lock);
                        if (reap(cl->lc, id, &e) < 0)
                                ocid_log(OCID_LOG_WARNING, "'%s' was never claimed; removing it failed: %s", id,
                                         ocid_error_message(&e));
                        else
                                ocid_log(OCID_LOG_INFO, "'%s' was never claimed by a retry; removed", id);
                        pthread_mutex_lock(&cl->lock);
                }
        }
        pthread_mutex_unlock(&cl->lock);
        return NULL;
}

static bool caller_is_cancelled(const struct lc_caller *caller)
{
        return caller && caller->is_cancelled && caller->is_cancelled(caller->userdata);
}

int lc_claim_reserve(struct lifecycle *lc, struct names *names, const char *name, const char *id,
                     const char *hash, lc_reap_fn reap, const struct lc_caller *caller,
                     struct lc_claim **ret_claim, char ret_id[65], struct ocid_error **err)
{
        struct lc_claims *cl = lc->claims;
        int r;

        *ret_claim = NULL;
        if (!cl) {
                r = names_reserve(names, name, id, err);
                return r < 0 ? r : 0;
        }
        pthread_mutex_lock(&cl->lock);
        for (;;) {
                _cleanup_error_ struct ocid_error *e = NULL;
                _cleanup_free_ char *holder = NULL;
                struct lc_claim *c = NULL;

                r = names_reserve(names, name, id, &e);
                if (r == 0) {
                        c = xzalloc(sizeof(*c));
                        c->refs = 2;      /* the list's and the creator's */
                        c->names = names;
                        c->name = xstrdup(name);
                        c->id = xstrdup(id);
                        memcpy(c->hash, hash, sizeof(c->hash));
                        c->hash[64] = '\0';
                        c->reap = reap;
                        c->state = CLAIM_RUNNING;
                        c->next = cl->list;
                        cl->list = c;
                        *ret_claim = c;
                        break;
                }
                /* The creation holding the name now: an entry whose
                 * resource was removed meanwhile (the name then went to
                 * another ID) is never matched. */
                if (r == -EEXIST && names_get(names, name, &holder, NULL) < 0)
                        holder = NULL;
                for (c = cl->list; c && holder; c = c->next)
                        if (c->names == names && streq(c->name, name) && streq(c->id, holder))
                                break;
                if (r != -EEXIST || !c || !streq(c->hash, hash)) {
                        r = ocid_error_msg(err, ocid_error_code(&e), "%s", ocid_error_message(&e));
                        break;
                }
                c->refs++;
                while (c->state == CLAIM_RUNNING) {
                        int64_t now = ocid_now_monotonic_ns(), until = now + CLAIM_POLL_NS;
                        struct timespec ts;

                        if (caller_is_cancelled(caller)) {
                                r = ocid_error_msg(err, ECANCELED, "cancelled while '%s' was being created", name);
                                break;
                        }
                        if (caller && caller->deadline_ns > 0) {
                                if (now >= caller->deadline_ns) {
                                        r = ocid_error_msg(err, ETIMEDOUT,
                                                           "deadline passed while '%s' was being created by an earlier request",
                                                           name);
                                        break;
                                }
                                if (until > caller->deadline_ns)
                                        until = caller->deadline_ns;
                        }
                        timespec_from_ns(&ts, until);
                        (void) pthread_cond_timedwait(&cl->cond, &cl->lock, &ts);
                }
                if (c->state == CLAIM_RUNNING) {
                        claim_unref(c);
                        break;
                }
                if (c->state == CLAIM_UNCLAIMED) {
                        memcpy(ret_id, c->id, 64);
                        ret_id[64] = '\0';
                        c->state = CLAIM_DONE;
                        claim_unlink(cl, c);
                        claim_unref(c);
                        ocid_log(OCID_LOG_INFO, "'%s' (%s): handed to a retry of the request that created it",
                                 name, ret_id);
                        r = 1;
                        break;
                }
                if (c->state == CLAIM_DONE) {
                        r = ocid_error_msg(err, EEXIST, "name '%s' is reserved for '%s'", name, c->id);
                        claim_unref(c);
                        break;
                }
                /* CLAIM_FAILED: the name is free again; try once more. */
                claim_unref(c);
        }
        pthread_mutex_unlock(&cl->lock);
        return r;
}

void lc_claim_end(struct lifecycle *lc, struct lc_claim *c, int result, const struct lc_caller *caller)
{
        struct lc_claims *cl = lc->claims;

        if (!c || !cl)
                return;
        pthread_mutex_lock(&cl->lock);
        if (result < 0) {
                c->state = CLAIM_FAILED;
                claim_unlink(cl, c);
        } else if (caller_is_cancelled(caller)) {
                c->state = CLAIM_UNCLAIMED;
                c->expires_ns = ocid_now_monotonic_ns() + cl->ttl_ns;
                ocid_log(OCID_LOG_INFO,
                         "'%s' (%s) was created after its caller went away; kept for a retry for %" PRId64 " ms",
                         c->name, c->id, cl->ttl_ns / 1000000);
                if (!cl->reaper_started) {
                        cl->lc = lc;
                        if (pthread_create(&cl->reaper, NULL, claims_reaper, cl) == 0)
                                cl->reaper_started = true;
                        else
                                ocid_log(OCID_LOG_WARNING,
                                         "cannot start the thread that removes unclaimed resources, ignoring");
                }
        } else {
                c->state = CLAIM_DONE;
                claim_unlink(cl, c);
        }
        pthread_cond_broadcast(&cl->cond);
        claim_unref(c);
        pthread_mutex_unlock(&cl->lock);
}

size_t lc_unclaimed_count(struct lifecycle *lc)
{
        size_t n = 0;

        if (!lc->claims)
                return 0;
        pthread_mutex_lock(&lc->claims->lock);
        for (struct lc_claim *c = lc->claims->list; c; c = c->next)
                n += c->state == CLAIM_UNCLAIMED;
        pthread_mutex_unlock(&lc->claims->lock);
        return n;
}

void lc_claims_set_ttl(struct lifecycle *lc, int64_t ttl_ns)
{
        if (!lc->claims)
                return;
        pthread_mutex_lock(&lc->claims->lock);
        lc->claims->ttl_ns = ttl_ns;
        pthread_cond_broadcast(&lc->claims->cond);
        pthread_mutex_unlock(&lc->claims->lock);
}

/* ---- the lifecycle ---- */

int lifecycle_new(const struct ocid_config *config, const struct ocid_modules *modules, struct lifecycle **ret,
                  struct ocid_error **err)
{
        _cleanup_free_ char *dir = ocid_path_join(config->root, RECORDS_PODS_DIR);
        struct lifecycle *lc;
        int r;

        r = ocid_mkdir_p(dir, 0700, err);
        if (r < 0)
                return r;
        lc = xzalloc(sizeof(*lc));
        lc->config = config;
        lc->modules = modules;
        lc->reg = registry_new(offsetof(struct lc_pod, ref), offsetof(struct lc_container, ref));
        lc->claims = claims_new();
        *ret = lc;
        return 0;
}

struct lifecycle *lifecycle_free(struct lifecycle *lc)
{
        if (!lc)
                return NULL;
        claims_free(lc->claims);
        registry_free(lc->reg);
        free(lc);
        return NULL;
}

/* ---- validation ---- */

static int check_meta_field(const char *field, const char *v, struct ocid_error **err)
{
        if (!v || !*v)
                return ocid_error_msg(err, EINVAL, "%s is empty", field);
        if (strlen(v) > POD_META_MAX)
                return ocid_error_msg(err, EINVAL, "%s is longer than %d bytes", field, POD_META_MAX);
        for (const char *p = v; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f || *p == '/')
                        return ocid_error_msg(err, EINVAL, "%s '%s' holds a control character or '/'", field, v);
        return 0;
}

static int check_abs_path(const char *field, const char *v, struct ocid_error **err)
{
        _cleanup_free_ char *copy = NULL;
        char *save = NULL;

        if (v[0] != '/')
                return ocid_error_msg(err, EINVAL, "%s '%s' is not an absolute path", field, v);
        if (strlen(v) >= PATH_MAX)
                return ocid_error_msg(err, EINVAL, "%s is longer than %d bytes", field, PATH_MAX - 1);
        copy = xstrdup(v);
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (streq(c, ".") || streq(c, ".."))
                        return ocid_error_msg(err, EINVAL, "%s '%s' holds a '.' or '..' component", field, v);
                for (const char *p = c; *p; p++)
                        if ((unsigned char) *p < 0x20 || *p == 0x7f)
                                return ocid_error_msg(err, EINVAL, "%s holds a control character", field);
        }
        return 0;
}

static int check_cgroup_parent(const char *v, bool systemd, struct ocid_error **err)
{
        if (!*v)
                return 0;
        if (systemd) {
                if (strchr(v, '/') || !ocid_endswith(v, ".slice") || strlen(v) > 255)
                        return ocid_error_msg(err, EINVAL,
                                              "config.linux.cgroup_parent '%s' is not a systemd slice name", v);
                return 0;
        }
        return check_abs_path("config.linux.cgroup_parent", v, err);
}

static int ns_mode_check(const char *field, Runtime__V1__NamespaceMode m, struct ocid_error **err)
{
        if (m == RUNTIME__V1__NAMESPACE_MODE__POD || m == RUNTIME__V1__NAMESPACE_MODE__CONTAINER ||
            m == RUNTIME__V1__NAMESPACE_MODE__NODE)
                return 0;
        return ocid_error_msg(err, EINVAL, "%s: mode %d is not valid for a pod", field, (int) m);
}

static const Runtime__V1__NamespaceOption *pod_ns_options(const Runtime__V1__PodSandboxConfig *cfg)
{
        if (cfg->linux && cfg->linux->security_context)
                return cfg->linux->security_context->namespace_options;
        return NULL;
}

int pod_config_check(const Runtime__V1__PodSandboxConfig *cfg, bool systemd_cgroups, struct ocid_error **err)
{
        const Runtime__V1__NamespaceOption *nso;
        struct podfiles_dns dns;
        int r;

        if (!cfg)
                return ocid_error_msg(err, EINVAL, "config is missing");
        if (!cfg->metadata)
                return ocid_error_msg(err, EINVAL, "config.metadata is missing");
        if ((r = check_meta_field("config.metadata.name", cfg->metadata->name, err)) < 0 ||
            (r = check_meta_field("config.metadata.namespace", cfg->metadata->namespace_, err)) < 0 ||
            (r = check_meta_field("config.metadata.uid", cfg->metadata->uid, err)) < 0)
                return r;
        if (cfg->hostname && *cfg->hostname) {
                r = podfiles_hostname_check(cfg->hostname, err);
                if (r < 0)
                        return ocid_error_prefix(err, "config.hostname");
        }
        if (cfg->log_directory && *cfg->log_directory) {
                r = check_abs_path("config.log_directory", cfg->log_directory, err);
                if (r < 0)
                        return r;
        }
        if (cfg->dns_config) {
                dns = (struct podfiles_dns) {
                        cfg->dns_config->servers,  cfg->dns_config->n_servers,
                        cfg->dns_config->searches, cfg->dns_config->n_searches,
                        cfg->dns_config->options,  cfg->dns_config->n_options,
                };
                r = podfiles_dns_check(&dns, err);
                if (r < 0)
                        return ocid_error_prefix(err, "config");
        }
        for (size_t i = 0; i < cfg->n_port_mappings; i++) {
                const Runtime__V1__PortMapping *pm = cfg->port_mappings[i];

                if (pm->container_port < 0 || pm->container_port > 65535 || pm->host_port < 0 ||
                    pm->host_port > 65535)
                        return ocid_error_msg(err, EINVAL, "config.port_mappings[%zu]: port out of range", i);
                if (pm->protocol != RUNTIME__V1__PROTOCOL__TCP && pm->protocol != RUNTIME__V1__PROTOCOL__UDP &&
                    pm->protocol != RUNTIME__V1__PROTOCOL__SCTP)
                        return ocid_error_msg(err, EINVAL, "config.port_mappings[%zu]: unknown protocol %d", i,
                                              (int) pm->protocol);
        }
        for (size_t i = 0; i < cfg->n_labels; i++)
                if (!*cfg->labels[i]->key)
                        return ocid_error_msg(err, EINVAL, "config.labels: empty key");
        for (size_t i = 0; i < cfg->n_annotations; i++)
                if (!*cfg->annotations[i]->key)
                        return ocid_error_msg(err, EINVAL, "config.annotations: empty key");
        if (!cfg->linux)
                return 0;
        r = check_cgroup_parent(cfg->linux->cgroup_parent ? cfg->linux->cgroup_parent : "", systemd_cgroups, err);
        if (r < 0)
                return r;
        nso = pod_ns_options(cfg);
        if (nso) {
                if ((r = ns_mode_check("config.linux.security_context.namespace_options.network", nso->network,
                                       err)) < 0 ||
                    (r = ns_mode_check("config.linux.security_context.namespace_options.pid", nso->pid, err)) < 0 ||
                    (r = ns_mode_check("config.linux.security_context.namespace_options.ipc", nso->ipc, err)) < 0)
                        return r;
                if (nso->userns_options && nso->userns_options->mode != RUNTIME__V1__NAMESPACE_MODE__NODE)
                        return ocid_error_msg(err, EOPNOTSUPP,
                                              "config.linux.security_context.namespace_options.userns_options: "
                                              "user namespaces are not supported");
        }
        return 0;
}

char *pod_name_from_metadata(const Runtime__V1__PodSandboxMetadata *m)
{
        return xasprintf("k8s_%s_%s_%s_%" PRIu32, m->name, m->namespace_, m->uid, m->attempt);
}

/* ---- lookups ---- */

struct lc_pod *pod_lookup(struct lifecycle *lc, const char *id, struct ocid_error **err)
{
        return lc_lookup(lc->reg->pod_ids, lc->reg->pods, id, "pod sandbox", "pod_sandbox_id", err);
}

void pod_unref(struct lifecycle *lc, struct lc_pod *pod)
{
        store_unref(lc->reg->pods, pod);
}

bool pod_matches_filter(const struct pod_record *r, const Runtime__V1__PodSandboxFilter *f)
{
        if (!f)
                return true;
        if (f->id && *f->id && !ocid_startswith(r->id, f->id))
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

/* ---- run ---- */

static char **kv_from_entries(size_t n, Runtime__V1__PodSandboxConfig__LabelsEntry *const *e)
{
        char **kv = xcalloc(1, sizeof(char *));

        for (size_t i = 0; i < n; i++) {
                ocid_strv_push(&kv, e[i]->key);
                ocid_strv_push(&kv, e[i]->value);
        }
        return kv;
}

static char *port_mappings_json(const Runtime__V1__PodSandboxConfig *cfg)
{
        _cleanup_json_ struct json_object *a = json_object_new_array();
        static const char *const proto[] = { "tcp", "udp", "sctp" };

        if (cfg->n_port_mappings == 0)
                return NULL;
        for (size_t i = 0; i < cfg->n_port_mappings; i++) {
                const Runtime__V1__PortMapping *pm = cfg->port_mappings[i];
                struct json_object *o = json_object_new_object();

                json_object_object_add(o, "hostPort", json_object_new_int(pm->host_port));
                json_object_object_add(o, "containerPort", json_object_new_int(pm->container_port));
                json_object_object_add(o, "protocol", json_object_new_string(proto[pm->protocol]));
                if (pm->host_ip && *pm->host_ip)
                        json_object_object_add(o, "hostIP", json_object_new_string(pm->host_ip));
                json_object_array_add(a, o);
        }
        return xstrdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
}

static struct json_object *strv_json(char *const *v, size_t n)
{
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static char *dns_json(const Runtime__V1__PodSandboxConfig *cfg)
{
        _cleanup_json_ struct json_object *o = NULL;
        const Runtime__V1__DNSConfig *d = cfg->dns_config;

        if (!d)
                return NULL;
        o = json_object_new_object();
        json_object_object_add(o, "servers", strv_json(d->servers, d->n_servers));
        json_object_object_add(o, "searches", strv_json(d->searches, d->n_searches));
        json_object_object_add(o, "options", strv_json(d->options, d->n_options));
        return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

static void network_pod_fill(const struct pod_record *rec, struct ocid_network_pod *np)
{
        *np = (struct ocid_network_pod) {
                .size = sizeof(*np),
                .id = rec->id,
                .name = rec->meta_name,
                .namespace_ = rec->meta_namespace,
                .uid = rec->meta_uid,
                .netns_path = rec->netns_path,
                .port_mappings = rec->port_mappings,
                .dns = rec->dns,
                .cgroup_parent = rec->cgroup_parent && *rec->cgroup_parent ? rec->cgroup_parent : NULL,
        };
}

static int write_hosts(const struct pod_record *rec, struct ocid_error **err)
{
        struct podfiles_hosts h = {
                .base = rec->ns_network == RECORDS_NS_NODE ? PODFILES_HOST_HOSTS : NULL,
                .hostname = rec->ns_network == RECORDS_NS_NODE ? NULL : rec->hostname,
                .pod_ips = rec->ips,
                .n_pod_ips = ocid_strv_length(rec->ips),
        };

        return podfiles_write_hosts(rec->pod_dir, &h, err);
}

/* Undoes the network, the mounts, the pins and the pod directory of a
 * record, in that order; each step is idempotent. Returns the first error
 * and carries on with the rest, so a retry finds less to do. */
static int pod_teardown(struct lifecycle *lc, struct pod_record *rec, bool remove_dir, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        int first = 0, r;

#define KEEP_FIRST(call)                                \
        do {                                            \
                r = (call);                             \
                if (r < 0 && first == 0) {              \
                        first = r;                      \
                        *err = TAKE_PTR(e);             \
                }                                       \
                ocid_error_clear(&e);                   \
        } while (0)

        KEEP_FIRST(infra_remove(lc, rec, &e));
        if (rec->ns_network != RECORDS_NS_NODE && lc->modules && lc->modules->network) {
                struct ocid_network_pod np;

                network_pod_fill(rec, &np);
                KEEP_FIRST(network_pod_teardown(lc->modules->network, &np, &e));
        }
        if (rec->pod_dir) {
                KEEP_FIRST(podfiles_unmount_shm(rec->pod_dir, &e));
                KEEP_FIRST(ns_unpin(rec->pod_dir, &e));
                if (remove_dir && first == 0)
                        KEEP_FIRST(ocid_rm_rf(rec->pod_dir, &e));
        }
#undef KEEP_FIRST
        return first;
}

int pod_run(struct lifecycle *lc, const Runtime__V1__PodSandboxConfig *cfg, const char *runtime_handler,
            char ret_id[65], struct ocid_error **err)
{
        return pod_run_for(lc, cfg, runtime_handler, NULL, ret_id, err);
}

int pod_run_for(struct lifecycle *lc, const Runtime__V1__PodSandboxConfig *cfg, const char *runtime_handler,
                const struct lc_caller *caller, char ret_id[65], struct ocid_error **err)
{
        struct lc_claim *claim = NULL;
        char hash[65];
        const struct ocid_config *config = lc->config;
        _cleanup_error_ struct ocid_error *undo = NULL;
        _cleanup_json_ struct json_object *sysctls = json_object_new_object();
        _cleanup_free_ struct ns_sysctl *ns_sysctls = NULL;
        const Runtime__V1__NamespaceOption *nso;
        struct ocid_network_pod np;
        struct network_result net = { 0 };
        struct ns_pin_config pin = { 0 };
        struct lc_pod *pod = NULL;
        struct pod_record *rec;
        bool reserved = false, dir_made = false, net_up = false, saved = false, indexed = false,
             sec_made = false;
        size_t n = 0;
        int r;

        r = pod_config_check(cfg, config->cgroup_manager && streq(config->cgroup_manager, "systemd"), err);
        if (r < 0)
                return r;
        if (!runtime_handler)
                runtime_handler = "";
        if (!lc->modules || !modules_find_handler(lc->modules, runtime_handler))
                return ocid_error_msg(err, EINVAL, "runtime_handler: no runtime handler '%s' is configured",
                                      runtime_handler);

        pod = xzalloc(sizeof(*pod));
        store_ref_init(&pod->ref, pod_destroy);
        pthread_mutex_init(&pod->lock, NULL);
        pthread_mutex_init(&pod->op_lock, NULL);
        rec = &pod->rec;
        rec->id = xzalloc(65);
        r = ocid_random_id(rec->id, err);
        if (r < 0)
                goto fail;
        rec->name = pod_name_from_metadata(cfg->metadata);
        rec->meta_name = xstrdup(cfg->metadata->name);
        rec->meta_uid = xstrdup(cfg->metadata->uid);
        rec->meta_namespace = xstrdup(cfg->metadata->namespace_);
        rec->meta_attempt = cfg->metadata->attempt;
        rec->log_directory = xstrdup(cfg->log_directory && *cfg->log_directory ? cfg->log_directory : NULL);
        rec->runtime_handler = xstrdup(runtime_handler);
        rec->cgroup_parent = xstrdup(cfg->linux && cfg->linux->cgroup_parent ? cfg->linux->cgroup_parent : "");
        rec->labels = kv_from_entries(cfg->n_labels, cfg->labels);
        rec->annotations = kv_from_entries(cfg->n_annotations,
                                           (Runtime__V1__PodSandboxConfig__LabelsEntry *const *) cfg->annotations);
        nso = pod_ns_options(cfg);
        rec->ns_network = nso ? (int32_t) nso->network : RECORDS_NS_POD;
        rec->ns_pid = nso ? (int32_t) nso->pid : RECORDS_NS_CONTAINER;
        rec->ns_ipc = nso ? (int32_t) nso->ipc : RECORDS_NS_POD;
        rec->port_mappings = port_mappings_json(cfg);
        rec->dns = dns_json(cfg);
        rec->ips = xcalloc(1, sizeof(char *));
        rec->created_at = ocid_now_realtime_ns();
        rec->state = RECORDS_POD_READY;


        /* Sysctls: namespaced ones only, for the namespaces the pod owns. */
        if (cfg->linux) {
                for (size_t i = 0; i < cfg->linux->n_sysctls; i++) {
                        r = sysctl_add(sysctls, cfg->linux->sysctls[i]->key, cfg->linux->sysctls[i]->value,
                                       rec->ns_network == RECORDS_NS_NODE, rec->ns_ipc == RECORDS_NS_NODE, err);
                        if (r < 0) {
                                r = ocid_error_prefix(err, "config.linux.sysctls");
                                goto fail;
                        }
                }
        }
        rec->sysctls = xstrdup(json_object_to_json_string_ext(sysctls, JSON_C_TO_STRING_PLAIN));
        ns_sysctls = xcalloc((size_t) json_object_object_length(sysctls) + 1, sizeof(*ns_sysctls));
        json_object_object_foreach(sysctls, key, val) {
                ns_sysctls[n].key = key;
                ns_sysctls[n].value = json_object_get_string(val);
                n++;
        }

        if (rec->ns_network == RECORDS_NS_NODE) {
                char host[HOST_NAME_MAX + 1] = { 0 };

                if (gethostname(host, sizeof(host) - 1) < 0) {
                        r = ocid_error_set(err, errno, "gethostname");
                        goto fail;
                }
                rec->hostname = xstrdup(host);
        } else {
                rec->hostname = xstrdup(cfg->hostname && *cfg->hostname ? cfg->hostname : cfg->metadata->name);
                r = podfiles_hostname_check(rec->hostname, err);
                if (r < 0) {
                        r = ocid_error_prefix(err, "hostname");
                        goto fail;
                }
        }

        /* The request's identity: a retry of the same request may be handed
         * the pod an earlier, cancelled call finished. */
        records_request_hash(&cfg->base, runtime_handler, hash);
        r = lc_claim_reserve(lc, lc->reg->pod_names, rec->name, rec->id, hash, pod_remove, caller, &claim, ret_id,
                             err);
        if (r < 0)
                goto fail;
        if (r > 0) {
                store_ref_put(&pod->ref);
                return 0;
        }
        reserved = true;

        /* The security modules' per-pod state (SELinux: the pod's MCS level). */
        {
                const Runtime__V1__SELinuxOption *se = cfg->linux && cfg->linux->security_context
                                                               ? cfg->linux->security_context->selinux_options
                                                               : NULL;
                struct ocid_security_pod sp = {
                        .size = sizeof(sp),
                        .pod_id = rec->id,
                        .selinux_user = se && se->user && *se->user ? se->user : NULL,
                        .selinux_role = se && se->role && *se->role ? se->role : NULL,
                        .selinux_type = se && se->type && *se->type ? se->type : NULL,
                        .selinux_level = se && se->level && *se->level ? se->level : NULL,
                };
                _cleanup_free_ char *process_label = NULL, *mount_label = NULL;

                r = security_pod_create_chain(lc->modules, &sp, &process_label, &mount_label, err);
                if (r < 0)
                        goto fail;
                sec_made = true;
                if (process_label || mount_label)
                        ocid_log(OCID_LOG_DEBUG, "pod '%s': process label '%s', mount label '%s'", rec->id,
                                 process_label ?: "", mount_label ?: "");
        }

        if (rec->log_directory) {
                r = ocid_mkdir_p(rec->log_directory, 0755, err);
                if (r < 0)
                        goto fail;
        }

        r = ns_pod_dir_create(config->runroot, rec->id, &rec->pod_dir, err);
        if (r < 0)
                goto fail;
        dir_made = true;

        if (rec->ns_network != RECORDS_NS_NODE)
                pin.flags |= NS_NET | NS_UTS;
        if (rec->ns_ipc != RECORDS_NS_NODE)
                pin.flags |= NS_IPC;
        pin.hostname = (pin.flags & NS_UTS) ? rec->hostname : NULL;
        pin.sysctls = ns_sysctls;
        pin.n_sysctls = n;
        if (pin.flags) {
                r = ns_pin(rec->pod_dir, &pin, err);
                if (r < 0)
                        goto fail;
        }
        if (pin.flags & NS_NET)
                rec->netns_path = ns_pin_path(rec->pod_dir, NS_NET);
        if (pin.flags & NS_IPC)
                rec->ipcns_path = ns_pin_path(rec->pod_dir, NS_IPC);
        if (pin.flags & NS_UTS)
                rec->utsns_path = ns_pin_path(rec->pod_dir, NS_UTS);

        r = podfiles_write_hostname(rec->pod_dir, rec->hostname, err);
        if (r < 0)
                goto fail;
        {
                struct podfiles_dns dns = { 0 };

                if (cfg->dns_config)
                        dns = (struct podfiles_dns) {
                                cfg->dns_config->servers,  cfg->dns_config->n_servers,
                                cfg->dns_config->searches, cfg->dns_config->n_searches,
                                cfg->dns_config->options,  cfg->dns_config->n_options,
                        };
                r = podfiles_write_resolv_conf(rec->pod_dir, cfg->dns_config ? &dns : NULL, NULL, err);
                if (r < 0)
                        goto fail;
        }
        if (rec->ns_ipc != RECORDS_NS_NODE) {
                r = podfiles_mount_shm(rec->pod_dir, 0, &rec->shm_path, err);
                if (r < 0)
                        goto fail;
        }

        /* A pod sharing one PID namespace between its containers gets an
         * infra container as that namespace's PID 1. */
        if (rec->ns_pid == RECORDS_NS_POD) {
                r = infra_create(lc, rec, err);
                if (r < 0)
                        goto fail;
        }

        if (rec->ns_network != RECORDS_NS_NODE) {
                if (!lc->modules->network) {
                        r = ocid_error_msg(err, EOPNOTSUPP, "no network module is loaded");
                        goto fail;
                }
                network_pod_fill(rec, &np);
                r = network_pod_setup(lc->modules->network, &np, &net, err);
                if (r < 0)
                        goto fail;
                net_up = true;
                rec->network = TAKE_PTR(net.json);
                ocid_strv_free(rec->ips);
                rec->ips = TAKE_PTR(net.ips);
                network_result_done(&net);
        }
        r = write_hosts(rec, err);
        if (r < 0)
                goto fail;

        r = pod_record_save(config->root, rec, err);
        if (r < 0)
                goto fail;
        saved = true;
        r = truncindex_add(lc->reg->pod_ids, rec->id, err);
        if (r < 0)
                goto fail;
        indexed = true;
        r = store_add(lc->reg->pods, rec->id, pod, err);
        if (r < 0)
                goto fail;

        memcpy(ret_id, rec->id, 65);
        store_unref(lc->reg->pods, pod);
        lc_claim_end(lc, claim, 0, caller);
        return 0;

fail:
        if (indexed)
                (void) truncindex_delete(lc->reg->pod_ids, rec->id, NULL);
        if (saved)
                (void) pod_record_remove(config->root, rec->id, NULL);
        if (dir_made) {
                if (!net_up)
                        rec->ns_network = RECORDS_NS_NODE;   /* nothing to tear down */
                if (pod_teardown(lc, rec, true, &undo) < 0)
                        ocid_log(OCID_LOG_WARNING, "pod '%s': rollback incomplete: %s", rec->id,
                                 ocid_error_message(&undo));
        }
        if (sec_made && security_pod_remove_chain(lc->modules, rec->id, &undo) < 0) {
                ocid_log(OCID_LOG_WARNING, "pod '%s': rollback: %s", rec->id, ocid_error_message(&undo));
                ocid_error_clear(&undo);
        }
        if (reserved)
                (void) names_release(lc->reg->pod_names, rec->name, NULL);
        lc_claim_end(lc, claim, r, caller);
        store_ref_put(&pod->ref);
        return r;
}

/* ---- stop and remove ---- */

/* With the pod's op_lock held. */
static int pod_stop_locked(struct lifecycle *lc, struct lc_pod *pod, struct ocid_error **err)
{
        struct pod_record *rec = &pod->rec;
        int r;

        /* The kubelet stops containers itself first; those still running
         * are killed. Each teardown step is idempotent, so a stop of a
         * NOTREADY pod redoes them cheaply: a failed earlier stop is
         * finished this way. */
        r = ctr_stop_pod_containers(lc, rec->id, false, err);
        if (r < 0)
                return ocid_error_prefix(err, "stop pod sandbox '%s'", rec->id);
        r = pod_teardown(lc, rec, false, err);
        if (r < 0)
                return ocid_error_prefix(err, "stop pod sandbox '%s'", rec->id);
        pthread_mutex_lock(&pod->lock);
        if (rec->state != RECORDS_POD_NOTREADY) {
                rec->state = RECORDS_POD_NOTREADY;
                r = pod_record_save(lc->config->root, rec, err);
        }
        pthread_mutex_unlock(&pod->lock);
        if (r < 0)
                return ocid_error_prefix(err, "stop pod sandbox '%s'", rec->id);
        return 0;
}

int pod_stop(struct lifecycle *lc, const char *id, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct lc_pod *pod;
        int r;

        pod = pod_lookup(lc, id, &e);
        if (!pod) {
                if (ocid_error_code(&e) == ENOENT)
                        return 0;
                *err = TAKE_PTR(e);
                return -(*err)->code;
        }
        pthread_mutex_lock(&pod->op_lock);
        r = pod->removed ? 0 : pod_stop_locked(lc, pod, err);
        pthread_mutex_unlock(&pod->op_lock);
        pod_unref(lc, pod);
        return r;
}

int pod_remove(struct lifecycle *lc, const char *id, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct lc_pod *pod;
        int r;

        pod = pod_lookup(lc, id, &e);
        if (!pod) {
                if (ocid_error_code(&e) == ENOENT)
                        return 0;
                *err = TAKE_PTR(e);
                return -(*err)->code;
        }
        pthread_mutex_lock(&pod->op_lock);
        if (pod->removed) {
                pthread_mutex_unlock(&pod->op_lock);
                pod_unref(lc, pod);
                return 0;
        }
        r = ctr_stop_pod_containers(lc, pod->rec.id, true, err);
        if (r < 0)
                r = ocid_error_prefix(err, "remove pod sandbox '%s'", pod->rec.id);
        if (r >= 0)
                r = pod_stop_locked(lc, pod, err);
        if (r >= 0 && pod->rec.pod_dir) {
                r = ocid_rm_rf(pod->rec.pod_dir, err);
                if (r < 0)
                        r = ocid_error_prefix(err, "remove pod sandbox '%s'", pod->rec.id);
        }
        if (r >= 0) {
                r = security_pod_remove_chain(lc->modules, pod->rec.id, err);
                if (r < 0)
                        r = ocid_error_prefix(err, "remove pod sandbox '%s'", pod->rec.id);
        }
        if (r >= 0)
                r = pod_record_remove(lc->config->root, pod->rec.id, err);
        if (r >= 0) {
                pthread_mutex_lock(&pod->lock);
                pod->removed = true;
                pthread_mutex_unlock(&pod->lock);
                (void) store_remove(lc->reg->pods, pod->rec.id, NULL);
                (void) truncindex_delete(lc->reg->pod_ids, pod->rec.id, NULL);
                (void) names_release_id(lc->reg->pod_names, pod->rec.id);
        }
        pthread_mutex_unlock(&pod->op_lock);
        pod_unref(lc, pod);
        return r;
}
