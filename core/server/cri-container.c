/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "cri"

#include <errno.h>
#include <stdlib.h>

#include <json-c/json.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/util.h>

#include "lifecycle/container.h"
#include "runtime.h"
#include "server/call.h"
#include "server/cri-common.h"
#include "server/cri-container.h"
#include "server/cri-proto.h"
#include "server/methods.h"

int cri_ctr_create(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__CreateContainerRequest *req = (const Runtime__V1__CreateContainerRequest *) request;
        Runtime__V1__CreateContainerResponse resp = RUNTIME__V1__CREATE_CONTAINER_RESPONSE__INIT;
        struct lifecycle *lc = NULL;
        char id[65];
        int r;

        r = cri_lifecycle(call, "container", &lc, err);
        if (r < 0)
                return r;
        struct lc_caller caller = cri_caller(call);

        r = ctr_create_for(lc, server_call_env(call)->images, req->pod_sandbox_id, req->config, req->sandbox_config,
                           &caller, id, err);
        if (r < 0)
                return r;
        resp.container_id = id;
        return server_call_send(call, &resp.base, err);
}

int cri_ctr_start(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__StartContainerRequest *req = (const Runtime__V1__StartContainerRequest *) request;
        Runtime__V1__StartContainerResponse resp = RUNTIME__V1__START_CONTAINER_RESPONSE__INIT;
        struct lifecycle *lc = NULL;
        int r;

        r = cri_lifecycle(call, "container", &lc, err);
        if (r >= 0)
                r = ctr_start(lc, req->container_id, err);
        if (r < 0)
                return r;
        return server_call_send(call, &resp.base, err);
}

int cri_ctr_stop(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__StopContainerRequest *req = (const Runtime__V1__StopContainerRequest *) request;
        Runtime__V1__StopContainerResponse resp = RUNTIME__V1__STOP_CONTAINER_RESPONSE__INIT;
        struct lifecycle *lc = NULL;
        int r;

        r = cri_lifecycle(call, "container", &lc, err);
        if (r >= 0)
                r = ctr_stop(lc, req->container_id, req->timeout, err);
        if (r < 0)
                return r;
        return server_call_send(call, &resp.base, err);
}

int cri_ctr_remove(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__RemoveContainerRequest *req = (const Runtime__V1__RemoveContainerRequest *) request;
        Runtime__V1__RemoveContainerResponse resp = RUNTIME__V1__REMOVE_CONTAINER_RESPONSE__INIT;
        struct lifecycle *lc = NULL;
        int r;

        r = cri_lifecycle(call, "container", &lc, err);
        if (r >= 0)
                r = ctr_remove(lc, req->container_id, err);
        if (r < 0)
                return r;
        return server_call_send(call, &resp.base, err);
}

/* Map entries pointing into a key/value vector; every CRI map entry type
 * has the same layout (base, key, value). */
struct kv_entries {
        Runtime__V1__Container__LabelsEntry *v;
        Runtime__V1__Container__LabelsEntry **ptrs;
        size_t n;
};

static void kv_fill(struct kv_entries *e, char *const *kv, const ProtobufCMessageDescriptor *desc)
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

static void kv_done(struct kv_entries *e)
{
        free(e->v);
        free(e->ptrs);
}

static int64_t json_path_int(struct json_object *o, const char *a, const char *b)
{
        struct json_object *x = NULL, *y = NULL;

        if (!o || !json_object_object_get_ex(o, a, &x) || !json_object_object_get_ex(x, b, &y))
                return 0;
        return json_object_get_int64(y);
}

static const char *json_path_str(struct json_object *o, const char *a, const char *b)
{
        struct json_object *x = NULL, *y = NULL;

        if (!o || !json_object_object_get_ex(o, a, &x) || !json_object_object_get_ex(x, b, &y) ||
            !json_object_is_type(y, json_type_string))
                return "";
        return json_object_get_string(y);
}

int cri_ctr_status(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__ContainerStatusRequest *req = (const Runtime__V1__ContainerStatusRequest *) request;
        Runtime__V1__ContainerStatusResponse resp = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
        Runtime__V1__ContainerStatus st = RUNTIME__V1__CONTAINER_STATUS__INIT;
        Runtime__V1__ContainerMetadata meta = RUNTIME__V1__CONTAINER_METADATA__INIT;
        Runtime__V1__ImageSpec image = RUNTIME__V1__IMAGE_SPEC__INIT;
        Runtime__V1__ContainerResources res = RUNTIME__V1__CONTAINER_RESOURCES__INIT;
        Runtime__V1__LinuxContainerResources lres = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
        Runtime__V1__ContainerStatusResponse__InfoEntry info = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INFO_ENTRY__INIT;
        Runtime__V1__ContainerStatusResponse__InfoEntry *info_ptrs[1] = { &info };
        _cleanup_json_ struct json_object *mounts = NULL, *resources = NULL, *rec_json = NULL;
        _cleanup_free_ Runtime__V1__Mount *mv = NULL;
        _cleanup_free_ Runtime__V1__Mount **mp = NULL;
        _cleanup_free_ char *info_json = NULL, *message = NULL;
        struct kv_entries labels, annotations;
        struct lifecycle *lc = NULL;
        struct lc_container *c;
        size_t n_mounts = 0;
        int r;

        r = cri_lifecycle(call, "container", &lc, err);
        if (r < 0)
                return r;
        c = ctr_lookup(lc, req->container_id, err);
        if (!c)
                return -ocid_error_code(err);
        ctr_refresh(lc, c);
        pthread_mutex_lock(&c->lock);
        st.id = c->rec.id;
        meta.name = c->rec.meta_name;
        meta.attempt = c->rec.meta_attempt;
        st.metadata = &meta;
        st.state = (Runtime__V1__ContainerState) c->rec.state;
        st.created_at = c->rec.created_at;
        st.started_at = c->rec.started_at;
        st.finished_at = c->rec.finished_at;
        st.exit_code = c->rec.exit_code;
        image.image = c->rec.image;
        st.image = &image;
        st.image_ref = c->rec.image_ref;
        st.image_id = c->rec.image_id;
        st.reason = (char *) ctr_reason(&c->rec);
        if (c->rec.state == CTR_EXITED && c->rec.oom_killed)
                message = xstrdup("the container's memory cgroup ran out of memory");
        st.message = message ? message : (char *) "";
        kv_fill(&labels, c->rec.labels, &runtime__v1__container_status__labels_entry__descriptor);
        kv_fill(&annotations, c->rec.annotations, &runtime__v1__container_status__annotations_entry__descriptor);
        st.n_labels = labels.n;
        st.labels = (Runtime__V1__ContainerStatus__LabelsEntry **) labels.ptrs;
        st.n_annotations = annotations.n;
        st.annotations = (Runtime__V1__ContainerStatus__AnnotationsEntry **) annotations.ptrs;
        st.log_path = c->rec.log_path;
        mounts = c->rec.mounts ? json_tokener_parse(c->rec.mounts) : NULL;
        if (mounts && json_object_is_type(mounts, json_type_array)) {
                n_mounts = json_object_array_length(mounts);
                mv = xcalloc(n_mounts + 1, sizeof(*mv));
                mp = xcalloc(n_mounts + 1, sizeof(*mp));
                for (size_t i = 0; i < n_mounts; i++) {
                        struct json_object *m = json_object_array_get_idx(mounts, i), *v = NULL;

                        runtime__v1__mount__init(&mv[i]);
                        if (json_object_object_get_ex(m, "container_path", &v))
                                mv[i].container_path = (char *) json_object_get_string(v);
                        if (json_object_object_get_ex(m, "host_path", &v))
                                mv[i].host_path = (char *) json_object_get_string(v);
                        if (json_object_object_get_ex(m, "readonly", &v))
                                mv[i].readonly = json_object_get_boolean(v);
                        if (json_object_object_get_ex(m, "selinux_relabel", &v))
                                mv[i].selinux_relabel = json_object_get_boolean(v);
                        if (json_object_object_get_ex(m, "propagation", &v))
                                mv[i].propagation = (Runtime__V1__MountPropagation) json_object_get_int(v);
                        mp[i] = &mv[i];
                }
                st.n_mounts = n_mounts;
                st.mounts = mp;
        }
        resources = c->rec.resources ? json_tokener_parse(c->rec.resources) : NULL;
        if (resources) {
                lres.cpu_period = json_path_int(resources, "cpu", "period");
                lres.cpu_quota = json_path_int(resources, "cpu", "quota");
                lres.cpu_shares = json_path_int(resources, "cpu", "shares");
                lres.memory_limit_in_bytes = json_path_int(resources, "memory", "limit");
                lres.cpuset_cpus = (char *) json_path_str(resources, "cpu", "cpus");
                lres.cpuset_mems = (char *) json_path_str(resources, "cpu", "mems");
                res.linux = &lres;
                st.resources = &res;
        }
        resp.status = &st;
        if (req->verbose) {
                rec_json = ctr_record_to_json(&c->rec);
                info_json = xstrdup(json_object_to_json_string_ext(rec_json, JSON_C_TO_STRING_PLAIN));
                info.key = (char *) "info";
                info.value = info_json;
                resp.n_info = 1;
                resp.info = info_ptrs;
        }
        r = server_call_send(call, &resp.base, err);
        pthread_mutex_unlock(&c->lock);
        kv_done(&labels);
        kv_done(&annotations);
        ctr_unref(lc, c);
        return r;
}

int cri_ctr_list(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__ListContainersRequest *req = (const Runtime__V1__ListContainersRequest *) request;
        Runtime__V1__ListContainersResponse resp = RUNTIME__V1__LIST_CONTAINERS_RESPONSE__INIT;
        _cleanup_free_ Runtime__V1__Container *items = NULL;
        _cleanup_free_ Runtime__V1__Container **ptrs = NULL;
        _cleanup_free_ Runtime__V1__ContainerMetadata *metas = NULL;
        _cleanup_free_ Runtime__V1__ImageSpec *images = NULL;
        _cleanup_free_ struct kv_entries *kvs = NULL;
        _cleanup_free_ bool *locked = NULL;
        struct lifecycle *lc = NULL;
        void **objs = NULL;
        size_t n_objs = 0, n = 0;
        int r;

        r = cri_lifecycle(call, "container", &lc, err);
        if (r < 0)
                return r;
        store_list(lc->reg->ctrs, &objs, &n_objs);
        items = xcalloc(n_objs + 1, sizeof(*items));
        ptrs = xcalloc(n_objs + 1, sizeof(*ptrs));
        metas = xcalloc(n_objs + 1, sizeof(*metas));
        images = xcalloc(n_objs + 1, sizeof(*images));
        kvs = xcalloc(2 * n_objs + 2, sizeof(*kvs));
        locked = xcalloc(n_objs + 1, sizeof(*locked));
        for (size_t i = 0; i < n_objs; i++) {
                struct lc_container *c = objs[i];
                Runtime__V1__Container *it = &items[n];

                ctr_refresh(lc, c);
                pthread_mutex_lock(&c->lock);
                locked[i] = true;
                if (c->removed || !ctr_matches_filter(&c->rec, req->filter))
                        continue;
                runtime__v1__container__init(it);
                it->id = c->rec.id;
                it->pod_sandbox_id = c->rec.pod_id;
                runtime__v1__container_metadata__init(&metas[n]);
                metas[n].name = c->rec.meta_name;
                metas[n].attempt = c->rec.meta_attempt;
                it->metadata = &metas[n];
                runtime__v1__image_spec__init(&images[n]);
                images[n].image = c->rec.image;
                it->image = &images[n];
                it->image_ref = c->rec.image_ref;
                it->image_id = c->rec.image_id;
                it->state = (Runtime__V1__ContainerState) c->rec.state;
                it->created_at = c->rec.created_at;
                kv_fill(&kvs[2 * n], c->rec.labels, &runtime__v1__container__labels_entry__descriptor);
                kv_fill(&kvs[2 * n + 1], c->rec.annotations, &runtime__v1__container__annotations_entry__descriptor);
                it->n_labels = kvs[2 * n].n;
                it->labels = kvs[2 * n].ptrs;
                it->n_annotations = kvs[2 * n + 1].n;
                it->annotations = (Runtime__V1__Container__AnnotationsEntry **) kvs[2 * n + 1].ptrs;
                ptrs[n] = it;
                n++;
        }
        resp.n_containers = n;
        resp.containers = ptrs;
        r = server_call_send(call, &resp.base, err);
        for (size_t i = 0; i < n_objs; i++)
                if (locked[i])
                        pthread_mutex_unlock(&((struct lc_container *) objs[i])->lock);
        for (size_t i = 0; i < 2 * n; i++)
                kv_done(&kvs[i]);
        store_list_free(lc->reg->ctrs, objs, n_objs);
        return r;
}

int cri_ctr_exec_sync(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__ExecSyncRequest *req = (const Runtime__V1__ExecSyncRequest *) request;
        Runtime__V1__ExecSyncResponse resp = RUNTIME__V1__EXEC_SYNC_RESPONSE__INIT;
        struct ocid_runtime_exec_result res = { 0 };
        struct lifecycle *lc = NULL;
        int r;

        r = cri_lifecycle(call, "container", &lc, err);
        if (r >= 0)
                r = ctr_exec_sync(lc, req->container_id, req->cmd, req->n_cmd, req->timeout, &res, err);
        if (r < 0)
                return r;
        if (res.timed_out) {
                runtime_exec_result_done(&res);
                return ocid_error_msg(err, ETIMEDOUT, "command timed out after %lld s, killed",
                                      (long long) req->timeout);
        }
        resp.stdout.data = (uint8_t *) res.out;
        resp.stdout.len = res.out_len;
        resp.stderr.data = (uint8_t *) res.err;
        resp.stderr.len = res.err_len;
        resp.exit_code = res.exit_code;
        {
                /* Each stream is capped at 16 MiB, but the reply must fit in
                 * one message the client accepts: trim what does not, giving
                 * stderr up to half and stdout the rest. */
                size_t budget = call->max_message_size > 4096 ? call->max_message_size - 4096 : 0;

                if (resp.stdout.len + resp.stderr.len > budget) {
                        if (resp.stderr.len > budget / 2)
                                resp.stderr.len = budget / 2;
                        if (resp.stdout.len > budget - resp.stderr.len)
                                resp.stdout.len = budget - resp.stderr.len;
                        if (resp.stderr.len < res.err_len && resp.stderr.len + resp.stdout.len < budget)
                                resp.stderr.len = budget - resp.stdout.len < res.err_len ? budget - resp.stdout.len
                                                                                          : res.err_len;
                }
        }
        r = server_call_send(call, &resp.base, err);
        runtime_exec_result_done(&res);
        return r;
}

int cri_ctr_update(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__UpdateContainerResourcesRequest *req =
                (const Runtime__V1__UpdateContainerResourcesRequest *) request;
        Runtime__V1__UpdateContainerResourcesResponse resp = RUNTIME__V1__UPDATE_CONTAINER_RESOURCES_RESPONSE__INIT;
        struct lifecycle *lc = NULL;
        int r;

        r = cri_lifecycle(call, "container", &lc, err);
        if (r >= 0)
                r = ctr_update_resources(lc, req->container_id, req->linux, err);
        if (r < 0)
                return r;
        return server_call_send(call, &resp.base, err);
}

int cri_ctr_reopen_log(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__ReopenContainerLogRequest *req = (const Runtime__V1__ReopenContainerLogRequest *) request;
        Runtime__V1__ReopenContainerLogResponse resp = RUNTIME__V1__REOPEN_CONTAINER_LOG_RESPONSE__INIT;
        struct lifecycle *lc = NULL;
        int r;

        r = cri_lifecycle(call, "container", &lc, err);
        if (r >= 0)
                r = ctr_reopen_log(lc, req->container_id, err);
        if (r < 0)
                return r;
        return server_call_send(call, &resp.base, err);
}
