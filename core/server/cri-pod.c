/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "cri"

#include <errno.h>
#include <stdlib.h>

#include <json-c/json.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "lifecycle/pod.h"
#include "server/call.h"
#include "server/cri-common.h"
#include "server/cri-pod.h"
#include "server/cri-proto.h"
#include "server/methods.h"

int cri_pod_run(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__RunPodSandboxRequest *req = (const Runtime__V1__RunPodSandboxRequest *) request;
        Runtime__V1__RunPodSandboxResponse resp = RUNTIME__V1__RUN_POD_SANDBOX_RESPONSE__INIT;
        struct lifecycle *lc = NULL;
        char id[65];
        int r;

        r = cri_lifecycle(call, "pod", &lc, err);
        if (r < 0)
                return r;
        struct lc_caller caller = cri_caller(call);

        r = pod_run_for(lc, req->config, req->runtime_handler, &caller, id, err);
        if (r < 0)
                return r;
        resp.pod_sandbox_id = id;
        return server_call_send(call, &resp.base, err);
}

int cri_pod_stop(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__StopPodSandboxRequest *req = (const Runtime__V1__StopPodSandboxRequest *) request;
        Runtime__V1__StopPodSandboxResponse resp = RUNTIME__V1__STOP_POD_SANDBOX_RESPONSE__INIT;
        struct lifecycle *lc = NULL;
        int r;

        r = cri_lifecycle(call, "pod", &lc, err);
        if (r < 0)
                return r;
        r = pod_stop(lc, req->pod_sandbox_id, err);
        if (r < 0)
                return r;
        return server_call_send(call, &resp.base, err);
}

int cri_pod_remove(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__RemovePodSandboxRequest *req = (const Runtime__V1__RemovePodSandboxRequest *) request;
        Runtime__V1__RemovePodSandboxResponse resp = RUNTIME__V1__REMOVE_POD_SANDBOX_RESPONSE__INIT;
        struct lifecycle *lc = NULL;
        int r;

        r = cri_lifecycle(call, "pod", &lc, err);
        if (r < 0)
                return r;
        r = pod_remove(lc, req->pod_sandbox_id, err);
        if (r < 0)
                return r;
        return server_call_send(call, &resp.base, err);
}

/* Protobuf map entries pointing into a key/value vector. All map entry
 * types of the CRI have the same layout (base, key, value); the descriptor
 * says which one it is. */
struct kv_entries {
        Runtime__V1__PodSandbox__LabelsEntry *v;
        Runtime__V1__PodSandbox__LabelsEntry **ptrs;
        size_t n;
};

static void kv_entries_fill(struct kv_entries *e, char *const *kv, const ProtobufCMessageDescriptor *desc)
{
        size_t n = ocid_strv_length(kv) / 2;

        e->v = xcalloc(n + 1, sizeof(*e->v));
        e->ptrs = xcalloc(n + 1, sizeof(*e->ptrs));
        e->n = n;
        for (size_t i = 0; i < n; i++) {
                protobuf_c_message_init(desc, &e->v[i]);
                e->v[i].key = kv[2 * i];
                e->v[i].value = kv[2 * i + 1];
                e->ptrs[i] = &e->v[i];
        }
}

static void kv_entries_done(struct kv_entries *e)
{
        free(e->v);
        free(e->ptrs);
}

static void meta_fill(Runtime__V1__PodSandboxMetadata *m, const struct pod_record *rec)
{
        runtime__v1__pod_sandbox_metadata__init(m);
        m->name = rec->meta_name;
        m->uid = rec->meta_uid;
        m->namespace_ = rec->meta_namespace;
        m->attempt = rec->meta_attempt;
}

static char *pod_verbose_info(const struct pod_record *rec)
{
        _cleanup_json_ struct json_object *o = pod_record_to_json(rec);

        return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

int cri_pod_status(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__PodSandboxStatusRequest *req = (const Runtime__V1__PodSandboxStatusRequest *) request;
        Runtime__V1__PodSandboxStatusResponse resp = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
        Runtime__V1__PodSandboxStatus st = RUNTIME__V1__POD_SANDBOX_STATUS__INIT;
        Runtime__V1__PodSandboxMetadata meta;
        Runtime__V1__PodSandboxNetworkStatus net = RUNTIME__V1__POD_SANDBOX_NETWORK_STATUS__INIT;
        Runtime__V1__LinuxPodSandboxStatus lst = RUNTIME__V1__LINUX_POD_SANDBOX_STATUS__INIT;
        Runtime__V1__Namespace ns = RUNTIME__V1__NAMESPACE__INIT;
        Runtime__V1__NamespaceOption nso = RUNTIME__V1__NAMESPACE_OPTION__INIT;
        Runtime__V1__PodSandboxStatusResponse__InfoEntry info = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INFO_ENTRY__INIT;
        Runtime__V1__PodSandboxStatusResponse__InfoEntry *info_ptrs[1] = { &info };
        _cleanup_free_ Runtime__V1__PodIP *ips = NULL;
        _cleanup_free_ Runtime__V1__PodIP **ip_ptrs = NULL;
        _cleanup_free_ char *info_json = NULL;
        struct kv_entries labels, annotations;
        struct lifecycle *lc = NULL;
        struct lc_pod *pod;
        size_t n_ips;
        int r;

        r = cri_lifecycle(call, "pod", &lc, err);
        if (r < 0)
                return r;
        pod = pod_lookup(lc, req->pod_sandbox_id, err);
        if (!pod)
                return -ocid_error_code(err);

        pthread_mutex_lock(&pod->lock);
        st.id = pod->rec.id;
        meta_fill(&meta, &pod->rec);
        st.metadata = &meta;
        st.state = pod->rec.state == RECORDS_POD_READY ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
                                                       : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
        st.created_at = pod->rec.created_at;
        n_ips = ocid_strv_length(pod->rec.ips);
        if (n_ips > 0) {
                net.ip = pod->rec.ips[0];
                ips = xcalloc(n_ips, sizeof(*ips));
                ip_ptrs = xcalloc(n_ips, sizeof(*ip_ptrs));
                for (size_t i = 1; i < n_ips; i++) {
                        runtime__v1__pod_ip__init(&ips[i - 1]);
                        ips[i - 1].ip = pod->rec.ips[i];
                        ip_ptrs[i - 1] = &ips[i - 1];
                }
                net.n_additional_ips = n_ips - 1;
                net.additional_ips = ip_ptrs;
        }
        st.network = &net;
        nso.network = (Runtime__V1__NamespaceMode) pod->rec.ns_network;
        nso.pid = (Runtime__V1__NamespaceMode) pod->rec.ns_pid;
        nso.ipc = (Runtime__V1__NamespaceMode) pod->rec.ns_ipc;
        ns.options = &nso;
        lst.namespaces = &ns;
        st.linux = &lst;
        kv_entries_fill(&labels, pod->rec.labels, &runtime__v1__pod_sandbox_status__labels_entry__descriptor);
        kv_entries_fill(&annotations, pod->rec.annotations,
                        &runtime__v1__pod_sandbox_status__annotations_entry__descriptor);
        st.n_labels = labels.n;
        st.labels = (Runtime__V1__PodSandboxStatus__LabelsEntry **) labels.ptrs;
        st.n_annotations = annotations.n;
        st.annotations = (Runtime__V1__PodSandboxStatus__AnnotationsEntry **) annotations.ptrs;
        st.runtime_handler = pod->rec.runtime_handler;
        resp.status = &st;
        resp.timestamp = ocid_now_realtime_ns();
        if (req->verbose) {
                info_json = pod_verbose_info(&pod->rec);
                info.key = (char *) "info";
                info.value = info_json;
                resp.n_info = 1;
                resp.info = info_ptrs;
        }
        r = server_call_send(call, &resp.base, err);
        pthread_mutex_unlock(&pod->lock);
        kv_entries_done(&labels);
        kv_entries_done(&annotations);
        pod_unref(lc, pod);
        return r;
}

int cri_pod_list(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__ListPodSandboxRequest *req = (const Runtime__V1__ListPodSandboxRequest *) request;
        Runtime__V1__ListPodSandboxResponse resp = RUNTIME__V1__LIST_POD_SANDBOX_RESPONSE__INIT;
        _cleanup_free_ Runtime__V1__PodSandbox *items = NULL;
        _cleanup_free_ Runtime__V1__PodSandbox **item_ptrs = NULL;
        _cleanup_free_ Runtime__V1__PodSandboxMetadata *metas = NULL;
        _cleanup_free_ struct kv_entries *kvs = NULL;
        struct lifecycle *lc = NULL;
        void **objs = NULL;
        size_t n_objs = 0, n = 0;
        int r;

        r = cri_lifecycle(call, "pod", &lc, err);
        if (r < 0)
                return r;
        store_list(lc->reg->pods, &objs, &n_objs);
        items = xcalloc(n_objs + 1, sizeof(*items));
        item_ptrs = xcalloc(n_objs + 1, sizeof(*item_ptrs));
        metas = xcalloc(n_objs + 1, sizeof(*metas));
        kvs = xcalloc(2 * n_objs + 2, sizeof(*kvs));
        /* Every listed pod stays locked until the reply is packed. */
        for (size_t i = 0; i < n_objs; i++) {
                struct lc_pod *pod = objs[i];
                Runtime__V1__PodSandbox *it = &items[n];

                pthread_mutex_lock(&pod->lock);
                if (pod->removed || !pod_matches_filter(&pod->rec, req->filter))
                        continue;
                runtime__v1__pod_sandbox__init(it);
                it->id = pod->rec.id;
                meta_fill(&metas[n], &pod->rec);
                it->metadata = &metas[n];
                it->state = pod->rec.state == RECORDS_POD_READY ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
                                                                : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
                it->created_at = pod->rec.created_at;
                kv_entries_fill(&kvs[2 * n], pod->rec.labels, &runtime__v1__pod_sandbox__labels_entry__descriptor);
                kv_entries_fill(&kvs[2 * n + 1], pod->rec.annotations,
                                &runtime__v1__pod_sandbox__annotations_entry__descriptor);
                it->n_labels = kvs[2 * n].n;
                it->labels = kvs[2 * n].ptrs;
                it->n_annotations = kvs[2 * n + 1].n;
                it->annotations = (Runtime__V1__PodSandbox__AnnotationsEntry **) kvs[2 * n + 1].ptrs;
                it->runtime_handler = pod->rec.runtime_handler;
                item_ptrs[n] = it;
                n++;
        }
        resp.n_items = n;
        resp.items = item_ptrs;
        r = server_call_send(call, &resp.base, err);
        for (size_t i = 0; i < n_objs; i++)
                pthread_mutex_unlock(&((struct lc_pod *) objs[i])->lock);
        for (size_t i = 0; i < 2 * n; i++)
                kv_entries_done(&kvs[i]);
        store_list_free(lc->reg->pods, objs, n_objs);
        return r;
}
