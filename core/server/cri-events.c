/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "cri"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "lifecycle/container.h"
#include "lifecycle/events.h"
#include "lifecycle/pod.h"
#include "server/call.h"
#include "server/cri-events.h"
#include "server/cri-proto.h"
#include "server/methods.h"

/* How long the handler waits for an event before it looks whether the
 * call was cancelled. */
#define EVENTS_POLL_NS (INT64_C(200) * 1000000)
/* Bytes of events waiting in the call's output before the handler stops
 * taking more from its bus queue: the bus queue is the client's bounded
 * buffer, so a client that does not read loses events instead of piling
 * them up in the transport. */
#define EVENTS_CALL_HIGH (64u * 1024)

/* Strings and arrays a built message points to, freed after packing. */
struct arena {
        void **v;
        size_t n;
};

static void *keep(struct arena *a, void *p)
{
        a->v = xreallocarray(a->v, a->n + 1, sizeof(*a->v));
        a->v[a->n++] = p;
        return p;
}

static char *kstr(struct arena *a, const char *s)
{
        return keep(a, xstrdup(s ? s : ""));
}

static void arena_done(struct arena *a)
{
        for (size_t i = 0; i < a->n; i++)
                free(a->v[i]);
        free(a->v);
}

/* Map entries (every CRI map entry type has the layout base, key, value). */
static Runtime__V1__PodSandboxStatus__LabelsEntry **kv_entries(struct arena *a, char *const *kv,
                                                                const ProtobufCMessageDescriptor *desc,
                                                                size_t *ret_n)
{
        size_t n = ocid_strv_length(kv) / 2;
        Runtime__V1__PodSandboxStatus__LabelsEntry *v = keep(a, xcalloc(n + 1, sizeof(*v)));
        Runtime__V1__PodSandboxStatus__LabelsEntry **p = keep(a, xcalloc(n + 1, sizeof(*p)));

        for (size_t i = 0; i < n; i++) {
                protobuf_c_message_init(desc, &v[i]);
                v[i].key = kstr(a, kv[2 * i]);
                v[i].value = kstr(a, kv[2 * i + 1]);
                p[i] = &v[i];
        }
        *ret_n = n;
        return p;
}

static Runtime__V1__PodSandboxStatus *pod_status(struct arena *a, struct lc_pod *pod)
{
        Runtime__V1__PodSandboxStatus *st = keep(a, xmalloc(sizeof(*st)));
        Runtime__V1__PodSandboxMetadata *meta = keep(a, xmalloc(sizeof(*meta)));
        Runtime__V1__PodSandboxNetworkStatus *net = keep(a, xmalloc(sizeof(*net)));
        Runtime__V1__LinuxPodSandboxStatus *lst = keep(a, xmalloc(sizeof(*lst)));
        Runtime__V1__Namespace *ns = keep(a, xmalloc(sizeof(*ns)));
        Runtime__V1__NamespaceOption *nso = keep(a, xmalloc(sizeof(*nso)));
        const struct pod_record *r = &pod->rec;
        size_t n_ips;

        runtime__v1__pod_sandbox_status__init(st);
        runtime__v1__pod_sandbox_metadata__init(meta);
        runtime__v1__pod_sandbox_network_status__init(net);
        runtime__v1__linux_pod_sandbox_status__init(lst);
        runtime__v1__namespace__init(ns);
        runtime__v1__namespace_option__init(nso);
        pthread_mutex_lock(&pod->lock);
        st->id = kstr(a, r->id);
        meta->name = kstr(a, r->meta_name);
        meta->uid = kstr(a, r->meta_uid);
        meta->namespace_ = kstr(a, r->meta_namespace);
        meta->attempt = r->meta_attempt;
        st->metadata = meta;
        st->state = r->state == RECORDS_POD_READY ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
                                                  : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
        st->created_at = r->created_at;
        n_ips = ocid_strv_length(r->ips);
        if (n_ips > 0) {
                Runtime__V1__PodIP *ips = keep(a, xcalloc(n_ips, sizeof(*ips)));
                Runtime__V1__PodIP **ptrs = keep(a, xcalloc(n_ips, sizeof(*ptrs)));

                net->ip = kstr(a, r->ips[0]);
                for (size_t i = 1; i < n_ips; i++) {
                        runtime__v1__pod_ip__init(&ips[i - 1]);
                        ips[i - 1].ip = kstr(a, r->ips[i]);
                        ptrs[i - 1] = &ips[i - 1];
                }
                net->n_additional_ips = n_ips - 1;
                net->additional_ips = ptrs;
        }
        st->network = net;
        nso->network = (Runtime__V1__NamespaceMode) r->ns_network;
        nso->pid = (Runtime__V1__NamespaceMode) r->ns_pid;
        nso->ipc = (Runtime__V1__NamespaceMode) r->ns_ipc;
        ns->options = nso;
        lst->namespaces = ns;
        st->linux = lst;
        st->labels = (Runtime__V1__PodSandboxStatus__LabelsEntry **) kv_entries(
                a, r->labels, &runtime__v1__pod_sandbox_status__labels_entry__descriptor, &st->n_labels);
        st->annotations = (Runtime__V1__PodSandboxStatus__AnnotationsEntry **) kv_entries(
                a, r->annotations, &runtime__v1__pod_sandbox_status__annotations_entry__descriptor,
                &st->n_annotations);
        st->runtime_handler = kstr(a, r->runtime_handler);
        pthread_mutex_unlock(&pod->lock);
        return st;
}

/* With c->lock held. */
static Runtime__V1__ContainerStatus *ctr_status(struct arena *a, const struct ctr_record *r)
{
        Runtime__V1__ContainerStatus *st = keep(a, xmalloc(sizeof(*st)));
        Runtime__V1__ContainerMetadata *meta = keep(a, xmalloc(sizeof(*meta)));
        Runtime__V1__ImageSpec *image = keep(a, xmalloc(sizeof(*image)));

        runtime__v1__container_status__init(st);
        runtime__v1__container_metadata__init(meta);
        runtime__v1__image_spec__init(image);
        st->id = kstr(a, r->id);
        meta->name = kstr(a, r->meta_name);
        meta->attempt = r->meta_attempt;
        st->metadata = meta;
        st->state = (Runtime__V1__ContainerState) r->state;
        st->created_at = r->created_at;
        st->started_at = r->started_at;
        st->finished_at = r->finished_at;
        st->exit_code = r->exit_code;
        image->image = kstr(a, r->image);
        st->image = image;
        st->image_ref = kstr(a, r->image_ref);
        st->image_id = kstr(a, r->image_id);
        st->reason = kstr(a, ctr_reason(r));
        st->message = kstr(a, r->state == CTR_EXITED && r->oom_killed
                                      ? "the container's memory cgroup ran out of memory"
                                      : "");
        st->labels = (Runtime__V1__ContainerStatus__LabelsEntry **) kv_entries(
                a, r->labels, &runtime__v1__container_status__labels_entry__descriptor, &st->n_labels);
        st->annotations = (Runtime__V1__ContainerStatus__AnnotationsEntry **) kv_entries(
                a, r->annotations, &runtime__v1__container_status__annotations_entry__descriptor,
                &st->n_annotations);
        st->log_path = kstr(a, r->log_path);
        return st;
}

struct event *cri_events_build(void *lifecycle, int32_t type, const char *container_id, const char *pod_id,
                               int64_t created_at)
{
        struct lifecycle *lc = lifecycle;
        Runtime__V1__ContainerEventResponse resp = RUNTIME__V1__CONTAINER_EVENT_RESPONSE__INIT;
        struct arena a = { 0 };
        struct lc_pod *pod;
        struct event *ev;
        void **objs = NULL;
        size_t n_objs = 0, n = 0, len;
        uint8_t *buf;

        resp.container_id = (char *) container_id;
        resp.container_event_type = (Runtime__V1__ContainerEventType) type;
        resp.created_at = created_at;
        pod = pod_id ? store_get(lc->reg->pods, pod_id) : NULL;
        if (pod) {
                resp.pod_sandbox_status = pod_status(&a, pod);
                pod_unref(lc, pod);
        }
        /* The pod's containers as they are now, one lock at a time. */
        store_list(lc->reg->ctrs, &objs, &n_objs);
        resp.containers_statuses = keep(&a, xcalloc(n_objs + 1, sizeof(*resp.containers_statuses)));
        for (size_t i = 0; i < n_objs; i++) {
                struct lc_container *c = objs[i];

                if (!pod_id || !streq(c->rec.pod_id, pod_id))
                        continue;
                pthread_mutex_lock(&c->lock);
                if (!c->removed)
                        resp.containers_statuses[n++] = ctr_status(&a, &c->rec);
                pthread_mutex_unlock(&c->lock);
        }
        resp.n_containers_statuses = n;
        store_list_free(lc->reg->ctrs, objs, n_objs);

        len = runtime__v1__container_event_response__get_packed_size(&resp);
        buf = xmalloc(len + 1);
        runtime__v1__container_event_response__pack(&resp, buf);
        ev = event_new(buf, len);
        free(buf);
        arena_done(&a);
        return ev;
}

static size_t call_queued(struct server_call *call)
{
        size_t q;

        pthread_mutex_lock(&call->lock);
        q = call->queued;
        pthread_mutex_unlock(&call->lock);
        return q;
}

int cri_events_get(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        static unsigned clients;
        const struct server_env *env = server_call_env(call);
        struct lifecycle *lc = env->lifecycle;
        _cleanup_free_ char *name = NULL;
        struct event_sub *sub;
        int r = 0;

        (void) request;
        if (!lc || !lc->events)
                return ocid_error_msg(err, EAGAIN, "container events are not available");
        name = xasprintf("GetContainerEvents client %u", __atomic_add_fetch(&clients, 1, __ATOMIC_RELAXED));
        sub = event_bus_subscribe(lc->events, name);
        ocid_log(OCID_LOG_DEBUG, "%s subscribed", name);
        while (!server_call_is_cancelled(call)) {
                Runtime__V1__ContainerEventResponse *msg;
                struct event *ev = NULL;
                int q;

                if (call_queued(call) > EVENTS_CALL_HIGH) {
                        r = server_call_sleep(call, EVENTS_POLL_NS / 4, err);
                        if (r < 0)
                                break;
                        continue;
                }
                q = event_sub_next(sub, EVENTS_POLL_NS, &ev);
                if (q == -EPIPE)
                        break;  /* shutting down: the stream ends with OK */
                if (q == 0)
                        continue;
                msg = runtime__v1__container_event_response__unpack(NULL, ev->len, ev->data);
                event_unref(ev);
                if (!msg)
                        continue;   /* cannot happen: we packed it */
                r = server_call_send(call, &msg->base, err);
                runtime__v1__container_event_response__free_unpacked(msg, NULL);
                if (r < 0)
                        break;
        }
        event_bus_unsubscribe(lc->events, sub);
        ocid_log(OCID_LOG_DEBUG, "%s ended", name);
        /* A cancelled call's result is dropped by the transport. */
        return r;
}
