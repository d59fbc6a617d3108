/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "records"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <protobuf-c/protobuf-c.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "lifecycle/records.h"

void pod_record_done(struct pod_record *r)
{
        if (!r)
                return;
        free(r->id);
        free(r->name);
        free(r->meta_name);
        free(r->meta_uid);
        free(r->meta_namespace);
        free(r->hostname);
        free(r->log_directory);
        free(r->runtime_handler);
        free(r->cgroup_parent);
        ocid_strv_free(r->labels);
        ocid_strv_free(r->annotations);
        free(r->pod_dir);
        free(r->netns_path);
        free(r->ipcns_path);
        free(r->utsns_path);
        free(r->shm_path);
        free(r->port_mappings);
        free(r->dns);
        free(r->network);
        ocid_strv_free(r->ips);
        free(r->sysctls);
        memset(r, 0, sizeof(*r));
}

const char *records_kv_get(char *const *kv, const char *key)
{
        for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
                if (streq(kv[i], key))
                        return kv[i + 1];
        return NULL;
}

static void put_str(struct json_object *o, const char *key, const char *v)
{
        json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static void put_kv(struct json_object *o, const char *key, char *const *kv)
{
        struct json_object *m = json_object_new_object();

        for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
                json_object_object_add(m, kv[i], json_object_new_string(kv[i + 1]));
        json_object_object_add(o, key, m);
}

/* A JSON text member (network result, mappings) is kept as parsed JSON, so
 * the record reads as one document. */
static void put_json_text(struct json_object *o, const char *key, const char *text)
{
        json_object_object_add(o, key, text ? json_tokener_parse(text) : NULL);
}

struct json_object *pod_record_to_json(const struct pod_record *r)
{
        struct json_object *o = json_object_new_object();
        struct json_object *meta = json_object_new_object();
        struct json_object *ns = json_object_new_object();
        struct json_object *ips = json_object_new_array();

        json_object_object_add(o, "version", json_object_new_int(RECORDS_VERSION));
        put_str(o, "id", r->id);
        put_str(o, "name", r->name);
        put_str(meta, "name", r->meta_name);
        put_str(meta, "uid", r->meta_uid);
        put_str(meta, "namespace", r->meta_namespace);
        json_object_object_add(meta, "attempt", json_object_new_int64(r->meta_attempt));
        json_object_object_add(o, "metadata", meta);
        put_str(o, "hostname", r->hostname);
        put_str(o, "log_directory", r->log_directory);
        put_str(o, "runtime_handler", r->runtime_handler);
        put_str(o, "cgroup_parent", r->cgroup_parent);
        put_kv(o, "labels", r->labels);
        put_kv(o, "annotations", r->annotations);
        json_object_object_add(ns, "network", json_object_new_int(r->ns_network));
        json_object_object_add(ns, "pid", json_object_new_int(r->ns_pid));
        json_object_object_add(ns, "ipc", json_object_new_int(r->ns_ipc));
        put_str(ns, "net_path", r->netns_path);
        put_str(ns, "ipc_path", r->ipcns_path);
        put_str(ns, "uts_path", r->utsns_path);
        json_object_object_add(o, "namespaces", ns);
        put_str(o, "pod_dir", r->pod_dir);
        put_str(o, "shm_path", r->shm_path);
        put_json_text(o, "port_mappings", r->port_mappings);
        put_json_text(o, "dns", r->dns);
        put_json_text(o, "network", r->network);
        for (size_t i = 0; r->ips && r->ips[i]; i++)
                json_object_array_add(ips, json_object_new_string(r->ips[i]));
        json_object_object_add(o, "ips", ips);
        put_json_text(o, "sysctls", r->sysctls);
        json_object_object_add(o, "created_at", json_object_new_int64(r->created_at));
        json_object_object_add(o, "infra_pid", json_object_new_int(r->infra_pid));
        json_object_object_add(o, "state", json_object_new_string(r->state == RECORDS_POD_READY ? "ready" : "notready"));
        return o;
}

/* A string member: required ones must be strings, optional ones may be
 * null or absent (NULL). */
static int get_str(struct json_object *o, const char *key, bool required, char **ret, struct ocid_error **err)
{
        struct json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v) || !v) {
                if (required)
                        return ocid_error_msg(err, EINVAL, "record member '%s' is missing", key);
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return ocid_error_msg(err, EINVAL, "record member '%s' is not a string", key);
        *ret = xstrdup(json_object_get_string(v));
        return 0;
}

static int get_int(struct json_object *o, const char *key, int64_t min, int64_t max, int64_t *ret,
                   struct ocid_error **err)
{
        struct json_object *v = NULL;
        int64_t x;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return ocid_error_msg(err, EINVAL, "record member '%s' is missing or not an integer", key);
        errno = 0;
        x = json_object_get_int64(v);
        if (errno != 0 || x < min || x > max)
                return ocid_error_msg(err, EINVAL, "record member '%s' is out of range", key);
        *ret = x;
        return 0;
}

static int get_kv(struct json_object *o, const char *key, char ***ret, struct ocid_error **err)
{
        struct json_object *m = NULL;
        char **kv = xcalloc(1, sizeof(char *));

        if (!json_object_object_get_ex(o, key, &m) || !json_object_is_type(m, json_type_object)) {
                ocid_strv_free(kv);
                return ocid_error_msg(err, EINVAL, "record member '%s' is missing or not an object", key);
        }
        json_object_object_foreach(m, k, v) {
                if (!json_object_is_type(v, json_type_string)) {
                        ocid_strv_free(kv);
                        return ocid_error_msg(err, EINVAL, "record member '%s.%s' is not a string", key, k);
                }
                ocid_strv_push(&kv, k);
                ocid_strv_push(&kv, json_object_get_string(v));
        }
        *ret = kv;
        return 0;
}

static int get_json_text(struct json_object *o, const char *key, char **ret)
{
        struct json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v) || !v) {
                *ret = NULL;
                return 0;
        }
        *ret = xstrdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        return 0;
}

int pod_record_from_json(struct json_object *obj, struct pod_record *ret, struct ocid_error **err)
{
        _cleanup_(pod_record_done) struct pod_record r = { 0 };
        struct json_object *meta = NULL, *ns = NULL, *ips = NULL, *st = NULL;
        int64_t x;
        int q;

        if (!json_object_is_type(obj, json_type_object))
                return ocid_error_msg(err, EINVAL, "a record must be a JSON object");
        if ((q = get_int(obj, "version", RECORDS_VERSION, RECORDS_VERSION, &x, err)) < 0)
                return q;
        if ((q = get_str(obj, "id", true, &r.id, err)) < 0 || (q = get_str(obj, "name", true, &r.name, err)) < 0)
                return q;
        if (!json_object_object_get_ex(obj, "metadata", &meta) || !json_object_is_type(meta, json_type_object))
                return ocid_error_msg(err, EINVAL, "record member 'metadata' is missing or not an object");
        if ((q = get_str(meta, "name", true, &r.meta_name, err)) < 0 ||
            (q = get_str(meta, "uid", true, &r.meta_uid, err)) < 0 ||
            (q = get_str(meta, "namespace", true, &r.meta_namespace, err)) < 0 ||
            (q = get_int(meta, "attempt", 0, UINT32_MAX, &x, err)) < 0)
                return ocid_error_prefix(err, "metadata");
        r.meta_attempt = (uint32_t) x;
        if ((q = get_str(obj, "hostname", false, &r.hostname, err)) < 0 ||
            (q = get_str(obj, "log_directory", false, &r.log_directory, err)) < 0 ||
            (q = get_str(obj, "runtime_handler", true, &r.runtime_handler, err)) < 0 ||
            (q = get_str(obj, "cgroup_parent", false, &r.cgroup_parent, err)) < 0 ||
            (q = get_kv(obj, "labels", &r.labels, err)) < 0 ||
            (q = get_kv(obj, "annotations", &r.annotations, err)) < 0)
                return q;
        if (!json_object_object_get_ex(obj, "namespaces", &ns) || !json_object_is_type(ns, json_type_object))
                return ocid_error_msg(err, EINVAL, "record member 'namespaces' is missing or not an object");
        if ((q = get_int(ns, "network", RECORDS_NS_POD, RECORDS_NS_TARGET, &x, err)) < 0)
                return q;
        r.ns_network = (int32_t) x;
        if ((q = get_int(ns, "pid", RECORDS_NS_POD, RECORDS_NS_TARGET, &x, err)) < 0)
                return q;
        r.ns_pid = (int32_t) x;
        if ((q = get_int(ns, "ipc", RECORDS_NS_POD, RECORDS_NS_TARGET, &x, err)) < 0)
                return q;
        r.ns_ipc = (int32_t) x;
        if ((q = get_str(ns, "net_path", false, &r.netns_path, err)) < 0 ||
            (q = get_str(ns, "ipc_path", false, &r.ipcns_path, err)) < 0 ||
            (q = get_str(ns, "uts_path", false, &r.utsns_path, err)) < 0 ||
            (q = get_str(obj, "pod_dir", true, &r.pod_dir, err)) < 0 ||
            (q = get_str(obj, "shm_path", false, &r.shm_path, err)) < 0)
                return q;
        (void) get_json_text(obj, "port_mappings", &r.port_mappings);
        (void) get_json_text(obj, "dns", &r.dns);
        (void) get_json_text(obj, "network", &r.network);
        (void) get_json_text(obj, "sysctls", &r.sysctls);
        r.ips = xcalloc(1, sizeof(char *));
        if (!json_object_object_get_ex(obj, "ips", &ips) || !json_object_is_type(ips, json_type_array))
                return ocid_error_msg(err, EINVAL, "record member 'ips' is missing or not an array");
        for (size_t i = 0; i < json_object_array_length(ips); i++) {
                struct json_object *ip = json_object_array_get_idx(ips, i);

                if (!json_object_is_type(ip, json_type_string))
                        return ocid_error_msg(err, EINVAL, "record member 'ips[%zu]' is not a string", i);
                ocid_strv_push(&r.ips, json_object_get_string(ip));
        }
        if ((q = get_int(obj, "created_at", 0, INT64_MAX, &r.created_at, err)) < 0)
                return q;
        /* Optional: records written before infra containers had none. */
        if (json_object_object_get_ex(obj, "infra_pid", NULL)) {
                if ((q = get_int(obj, "infra_pid", 0, INT32_MAX, &x, err)) < 0)
                        return q;
                r.infra_pid = (int32_t) x;
        }
        if (!json_object_object_get_ex(obj, "state", &st) || !json_object_is_type(st, json_type_string))
                return ocid_error_msg(err, EINVAL, "record member 'state' is missing or not a string");
        if (streq(json_object_get_string(st), "ready"))
                r.state = RECORDS_POD_READY;
        else if (streq(json_object_get_string(st), "notready"))
                r.state = RECORDS_POD_NOTREADY;
        else
                return ocid_error_msg(err, EINVAL, "record member 'state' has an unknown value '%s'",
                                      json_object_get_string(st));
        *ret = r;
        memset(&r, 0, sizeof(r));
        return 0;
}

char *pod_record_path(const char *root, const char *id)
{
        return xasprintf("%s/" RECORDS_PODS_DIR "/%s.json", root, id);
}

/* Writes the record o to path, creating <root>/<subdir> first: the save
 * shared by pod and container records. */
static int record_save(const char *root, const char *subdir, const char *path, struct json_object *o,
                       struct ocid_error **err)
{
        _cleanup_free_ char *dir = ocid_path_join(root, subdir);
        int q;

        q = ocid_mkdir_p(dir, 0700, err);
        if (q < 0)
                return q;
        return ocid_json_write_file_atomic(path, o, 0600, err);
}

/* Removes a record file; one that is already gone is success. */
static int record_remove(const char *path, struct ocid_error **err)
{
        if (unlink(path) < 0 && errno != ENOENT)
                return ocid_error_set(err, errno, "remove '%s'", path);
        return 0;
}

int pod_record_save(const char *root, const struct pod_record *r, struct ocid_error **err)
{
        _cleanup_free_ char *path = pod_record_path(root, r->id);
        _cleanup_json_ struct json_object *o = pod_record_to_json(r);

        return record_save(root, RECORDS_PODS_DIR, path, o, err);
}

int pod_record_load(const char *root, const char *id, struct pod_record *ret, struct ocid_error **err)
{
        _cleanup_free_ char *path = pod_record_path(root, id);
        _cleanup_json_ struct json_object *o = NULL;
        int q;

        q = ocid_json_read_file(path, RECORDS_MAX_SIZE, &o, err);
        if (q < 0)
                return q;
        q = pod_record_from_json(o, ret, err);
        if (q < 0)
                return ocid_error_prefix(err, "'%s'", path);
        return 0;
}

int pod_record_remove(const char *root, const char *id, struct ocid_error **err)
{
        _cleanup_free_ char *path = pod_record_path(root, id);

        return record_remove(path, err);
}

/* ---- container records ---- */

void ctr_record_done(struct ctr_record *r)
{
        if (!r)
                return;
        free(r->id);
        free(r->name);
        free(r->pod_id);
        free(r->meta_name);
        free(r->image);
        free(r->image_id);
        free(r->image_ref);
        ocid_strv_free(r->labels);
        ocid_strv_free(r->annotations);
        free(r->log_path);
        free(r->bundle);
        free(r->persist_dir);
        free(r->rootfs);
        free(r->runtime_handler);
        free(r->mounts);
        free(r->resources);
        memset(r, 0, sizeof(*r));
}

static const char *const ctr_state_names[] = { "created", "running", "exited", "unknown" };

const char *ctr_record_state_name(int32_t state)
{
        return ctr_state_names[state >= CTR_CREATED && state <= CTR_UNKNOWN ? state : CTR_UNKNOWN];
}

struct json_object *ctr_record_to_json(const struct ctr_record *r)
{
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "version", json_object_new_int(RECORDS_VERSION));
        put_str(o, "id", r->id);
        put_str(o, "name", r->name);
        put_str(o, "pod_id", r->pod_id);
        put_str(o, "metadata_name", r->meta_name);
        json_object_object_add(o, "metadata_attempt", json_object_new_int64(r->meta_attempt));
        put_str(o, "image", r->image);
        put_str(o, "image_id", r->image_id);
        put_str(o, "image_ref", r->image_ref);
        put_kv(o, "labels", r->labels);
        put_kv(o, "annotations", r->annotations);
        put_str(o, "log_path", r->log_path);
        put_str(o, "bundle", r->bundle);
        put_str(o, "persist_dir", r->persist_dir);
        put_str(o, "rootfs", r->rootfs);
        put_str(o, "runtime_handler", r->runtime_handler);
        put_json_text(o, "mounts", r->mounts);
        put_json_text(o, "resources", r->resources);
        json_object_object_add(o, "stop_signal", json_object_new_int(r->stop_signal));
        json_object_object_add(o, "tty", json_object_new_boolean(r->tty));
        json_object_object_add(o, "stdin", json_object_new_boolean(r->stdin_open));
        json_object_object_add(o, "stdin_once", json_object_new_boolean(r->stdin_once));
        json_object_object_add(o, "pid", json_object_new_int(r->pid));
        json_object_object_add(o, "created_at", json_object_new_int64(r->created_at));
        json_object_object_add(o, "started_at", json_object_new_int64(r->started_at));
        json_object_object_add(o, "finished_at", json_object_new_int64(r->finished_at));
        json_object_object_add(o, "exit_code", json_object_new_int(r->exit_code));
        json_object_object_add(o, "oom_killed", json_object_new_boolean(r->oom_killed));
        json_object_object_add(o, "state", json_object_new_string(ctr_record_state_name(r->state)));
        return o;
}

static int get_i32(struct json_object *o, const char *key, int64_t min, int64_t max, int32_t *ret,
                   struct ocid_error **err)
{
        int64_t x;
        int q = get_int(o, key, min, max, &x, err);

        if (q < 0)
                return q;
        *ret = (int32_t) x;
        return 0;
}

static int get_bool(struct json_object *o, const char *key, int32_t *ret, struct ocid_error **err)
{
        struct json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
                return ocid_error_msg(err, EINVAL, "record member '%s' is missing or not a boolean", key);
        *ret = json_object_get_boolean(v) ? 1 : 0;
        return 0;
}

/* A JSON member kept as text that must have the given type when present:
 * null or absent is NULL. */
static int get_json_typed(struct json_object *o, const char *key, json_type type, char **ret,
                          struct ocid_error **err)
{
        struct json_object *v = NULL;

        if (json_object_object_get_ex(o, key, &v) && v && !json_object_is_type(v, type))
                return ocid_error_msg(err, EINVAL, "record member '%s' has the wrong type", key);
        return get_json_text(o, key, ret);
}

static bool is_id(const char *s)
{
        size_t n = 0;

        for (; s[n]; n++)
                if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
                        return false;
        return n == 64;
}

int ctr_record_from_json(struct json_object *obj, struct ctr_record *ret, struct ocid_error **err)
{
        _cleanup_(ctr_record_done) struct ctr_record r = { 0 };
        struct json_object *st = NULL;
        int64_t x;
        int q;

        if (!json_object_is_type(obj, json_type_object))
                return ocid_error_msg(err, EINVAL, "a record must be a JSON object");
        if ((q = get_int(obj, "version", RECORDS_VERSION, RECORDS_VERSION, &x, err)) < 0)
                return q;
        if ((q = get_str(obj, "id", true, &r.id, err)) < 0 || (q = get_str(obj, "name", true, &r.name, err)) < 0 ||
            (q = get_str(obj, "pod_id", true, &r.pod_id, err)) < 0 ||
            (q = get_str(obj, "metadata_name", true, &r.meta_name, err)) < 0 ||
            (q = get_int(obj, "metadata_attempt", 0, UINT32_MAX, &x, err)) < 0)
                return q;
        r.meta_attempt = (uint32_t) x;
        if (!is_id(r.id))
                return ocid_error_msg(err, EINVAL, "record member 'id' is not 64 hexadecimal characters");
        if (!is_id(r.pod_id))
                return ocid_error_msg(err, EINVAL, "record member 'pod_id' is not 64 hexadecimal characters");
        if ((q = get_str(obj, "image", true, &r.image, err)) < 0 ||
            (q = get_str(obj, "image_id", true, &r.image_id, err)) < 0 ||
            (q = get_str(obj, "image_ref", true, &r.image_ref, err)) < 0 ||
            (q = get_kv(obj, "labels", &r.labels, err)) < 0 ||
            (q = get_kv(obj, "annotations", &r.annotations, err)) < 0 ||
            (q = get_str(obj, "log_path", true, &r.log_path, err)) < 0 ||
            (q = get_str(obj, "bundle", true, &r.bundle, err)) < 0 ||
            (q = get_str(obj, "persist_dir", true, &r.persist_dir, err)) < 0 ||
            (q = get_str(obj, "rootfs", false, &r.rootfs, err)) < 0 ||
            (q = get_str(obj, "runtime_handler", true, &r.runtime_handler, err)) < 0 ||
            (q = get_json_typed(obj, "mounts", json_type_array, &r.mounts, err)) < 0 ||
            (q = get_json_typed(obj, "resources", json_type_object, &r.resources, err)) < 0 ||
            (q = get_i32(obj, "stop_signal", 0, 64, &r.stop_signal, err)) < 0 ||
            (q = get_bool(obj, "tty", &r.tty, err)) < 0 || (q = get_bool(obj, "stdin", &r.stdin_open, err)) < 0 ||
            (q = get_bool(obj, "stdin_once", &r.stdin_once, err)) < 0 ||
            (q = get_i32(obj, "pid", 0, INT32_MAX, &r.pid, err)) < 0 ||
            (q = get_int(obj, "created_at", 0, INT64_MAX, &r.created_at, err)) < 0 ||
            (q = get_int(obj, "started_at", 0, INT64_MAX, &r.started_at, err)) < 0 ||
            (q = get_int(obj, "finished_at", 0, INT64_MAX, &r.finished_at, err)) < 0 ||
            (q = get_i32(obj, "exit_code", INT32_MIN, INT32_MAX, &r.exit_code, err)) < 0 ||
            (q = get_bool(obj, "oom_killed", &r.oom_killed, err)) < 0)
                return q;
        if (!json_object_object_get_ex(obj, "state", &st) || !json_object_is_type(st, json_type_string))
                return ocid_error_msg(err, EINVAL, "record member 'state' is missing or not a string");
        r.state = -1;
        for (int i = CTR_CREATED; i <= CTR_EXITED; i++)
                if (streq(json_object_get_string(st), ctr_state_names[i]))
                        r.state = i;
        if (r.state < 0)
                return ocid_error_msg(err, EINVAL, "record member 'state' has an unknown value '%s'",
                                      json_object_get_string(st));
        *ret = r;
        memset(&r, 0, sizeof(r));
        return 0;
}

char *ctr_record_path(const char *root, const char *id)
{
        return xasprintf("%s/" RECORDS_CTRS_DIR "/%s.json", root, id);
}

int ctr_record_save(const char *root, const struct ctr_record *r, struct ocid_error **err)
{
        _cleanup_free_ char *path = ctr_record_path(root, r->id);
        _cleanup_json_ struct json_object *o = ctr_record_to_json(r);

        return record_save(root, RECORDS_CTRS_DIR, path, o, err);
}

int ctr_record_load(const char *root, const char *id, struct ctr_record *ret, struct ocid_error **err)
{
        _cleanup_free_ char *path = ctr_record_path(root, id);
        _cleanup_json_ struct json_object *o = NULL;
        int q;

        q = ocid_json_read_file(path, RECORDS_MAX_SIZE, &o, err);
        if (q < 0)
                return q;
        return ctr_record_from_json(o, ret, err);
}

int ctr_record_remove(const char *root, const char *id, struct ocid_error **err)
{
        _cleanup_free_ char *path = ctr_record_path(root, id);

        return record_remove(path, err);
}

/* ---- request identity ---- */

struct hbuf {
        uint8_t *p;
        size_t n, cap;
};

static void hbuf_add(struct hbuf *b, const void *v, size_t len)
{
        if (b->n + len > b->cap) {
                b->cap = (b->n + len) * 2 + 64;
                b->p = xrealloc(b->p, b->cap);
        }
        memcpy(b->p + b->n, v, len);
        b->n += len;
}

static void hbuf_add_u64(struct hbuf *b, uint64_t v)
{
        hbuf_add(b, &v, sizeof(v));
}

static void sha256(const void *p, size_t n, uint8_t ret[32])
{
        unsigned int len = 32;

        /* EVP_Digest fails only when out of memory. */
        if (EVP_Digest(p, n, ret, &len, EVP_sha256(), NULL) != 1)
                abort();
}

static void hash_msg(const ProtobufCMessage *m, uint8_t ret[32]);

static bool is_map_entry(const ProtobufCMessageDescriptor *d)
{
        return d && d->n_fields == 2 && streq(d->fields[0].name, "key") && streq(d->fields[1].name, "value");
}

static int cmp_digest(const void *a, const void *b)
{
        return memcmp(a, b, 32);
}

/* One value of field f at p. */
static void hash_value(struct hbuf *b, const ProtobufCFieldDescriptor *f, const void *p)
{
        uint8_t md[32];

        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
        case PROTOBUF_C_TYPE_FLOAT:
        case PROTOBUF_C_TYPE_ENUM:
                hbuf_add(b, p, 4);
                break;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
        case PROTOBUF_C_TYPE_DOUBLE:
                hbuf_add(b, p, 8);
                break;
        case PROTOBUF_C_TYPE_BOOL:
                hbuf_add_u64(b, *(const protobuf_c_boolean *) p ? 1 : 0);
                break;
        case PROTOBUF_C_TYPE_STRING: {
                const char *s = *(char *const *) p;

                hbuf_add_u64(b, s ? strlen(s) + 1 : 0);
                if (s)
                        hbuf_add(b, s, strlen(s));
                break;
        }
        case PROTOBUF_C_TYPE_BYTES: {
                const ProtobufCBinaryData *d = p;

                hbuf_add_u64(b, d->len);
                if (d->len)
                        hbuf_add(b, d->data, d->len);
                break;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
                const ProtobufCMessage *sub = *(ProtobufCMessage *const *) p;

                hbuf_add_u64(b, sub ? 1 : 0);
                if (sub) {
                        hash_msg(sub, md);
                        hbuf_add(b, md, sizeof(md));
                }
                break;
        }
        }
}

static size_t type_size(const ProtobufCFieldDescriptor *f)
{
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
        case PROTOBUF_C_TYPE_DOUBLE:
                return 8;
        case PROTOBUF_C_TYPE_BOOL:
                return sizeof(protobuf_c_boolean);
        case PROTOBUF_C_TYPE_STRING:
                return sizeof(char *);
        case PROTOBUF_C_TYPE_BYTES:
                return sizeof(ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_MESSAGE:
                return sizeof(ProtobufCMessage *);
        default:
                return 4;
        }
}

static void hash_msg(const ProtobufCMessage *m, uint8_t ret[32])
{
        const ProtobufCMessageDescriptor *d = m->descriptor;
        struct hbuf b = { 0 };

        hbuf_add(&b, d->name, strlen(d->name) + 1);
        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &d->fields[i];
                const uint8_t *base = (const uint8_t *) m;

                if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                        if (*(const uint32_t *) (base + f->quantifier_offset) != f->id)
                                continue;
                } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
                           f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) {
                        if (!*(const protobuf_c_boolean *) (base + f->quantifier_offset))
                                continue;
                }
                hbuf_add_u64(&b, f->id);
                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t n = *(const size_t *) (base + f->quantifier_offset);
                        const uint8_t *arr = *(const uint8_t *const *) (base + f->offset);

                        hbuf_add_u64(&b, n);
                        if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor)) {
                                /* A map: its entries' digests, sorted. */
                                _cleanup_free_ uint8_t *mds = xcalloc(n + 1, 32);

                                for (size_t k = 0; k < n; k++)
                                        hash_msg(((ProtobufCMessage *const *) arr)[k], mds + 32 * k);
                                qsort(mds, n, 32, cmp_digest);
                                hbuf_add(&b, mds, 32 * n);
                        } else {
                                for (size_t k = 0; k < n; k++)
                                        hash_value(&b, f, arr + k * type_size(f));
                        }
                } else {
                        hash_value(&b, f, base + f->offset);
                }
        }
        sha256(b.p, b.n, ret);
        free(b.p);
}

void records_request_hash(const struct ProtobufCMessage *m, const char *extra, char ret[65])
{
        static const char hex[] = "0123456789abcdef";
        struct hbuf b = { 0 };
        uint8_t md[32];

        if (m) {
                hash_msg(m, md);
                hbuf_add(&b, md, sizeof(md));
        }
        hbuf_add_u64(&b, extra ? strlen(extra) + 1 : 0);
        if (extra)
                hbuf_add(&b, extra, strlen(extra));
        sha256(b.p ? b.p : (const uint8_t *) "", b.n, md);
        free(b.p);
        for (int i = 0; i < 32; i++) {
                ret[2 * i] = hex[md[i] >> 4];
                ret[2 * i + 1] = hex[md[i] & 15];
        }
        ret[64] = '\0';
}
