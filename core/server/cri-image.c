/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "cri"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/log.h>
#include <ocid/module.h>
#include <ocid/util.h>

#include "config.h"
#include "image/blobstore.h"
#include "image/manifest.h"
#include "image/pull.h"
#include "image/registry-client.h"
#include "image/store.h"
#include "modules.h"
#include "server/call.h"
#include "server/cri-image.h"
#include "server/cri-proto.h"
#include "server/methods.h"
#include "storage.h"

static int image_env(struct server_call *call, struct image_store **ret_store, struct ocid_error **err)
{
        const struct server_env *env = server_call_env(call);

        if (!env->images)
                return ocid_error_msg(err, EAGAIN, "the image store is not available");
        *ret_store = env->images;
        return 0;
}

static const char *spec_image(const Runtime__V1__ImageSpec *spec)
{
        return spec && spec->image ? spec->image : "";
}

/* ---- the Image message ----------------------------------------------- */

struct cri_image {
        Runtime__V1__Image img;
        Runtime__V1__Int64Value uid;
        Runtime__V1__ImageSpec spec;
};

/* Points into rec, which must outlive the message. */
static void cri_image_fill(struct cri_image *ci, const struct image_record *rec)
{
        runtime__v1__image__init(&ci->img);
        runtime__v1__int64_value__init(&ci->uid);
        runtime__v1__image_spec__init(&ci->spec);
        ci->img.id = rec->id;
        ci->img.n_repo_tags = ocid_strv_length(rec->repo_tags);
        ci->img.repo_tags = rec->repo_tags;
        ci->img.n_repo_digests = ocid_strv_length(rec->repo_digests);
        ci->img.repo_digests = rec->repo_digests;
        ci->img.size = rec->size;
        if (rec->uid >= 0) {
                ci->uid.value = rec->uid;
                ci->img.uid = &ci->uid;
        }
        ci->img.username = rec->username ? rec->username : (char *) "";
        ci->spec.image = rec->id;
        ci->img.spec = &ci->spec;
        ci->img.pinned = rec->pinned;
}

/* ---- PullImage ------------------------------------------------------- */

static const char *nonempty(const char *s)
{
        return s && *s ? s : NULL;
}

int cri_image_pull(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__PullImageRequest *req = (const Runtime__V1__PullImageRequest *) request;
        const struct server_env *env = server_call_env(call);
        const struct ocid_config *config = env->config;
        Runtime__V1__PullImageResponse resp = RUNTIME__V1__PULL_IMAGE_RESPONSE__INIT;
        _cleanup_image_record_ struct image_record *rec = NULL;
        struct registry_auth auth = { 0 };
        struct image_pull_request pr = { 0 };
        struct image_store *store = NULL;
        int r;

        r = image_env(call, &store, err);
        if (r < 0)
                return r;
        if (!env->puller)
                return ocid_error_msg(err, EAGAIN, "the image puller is not available");
        if (!*spec_image(req->image))
                return ocid_error_msg(err, EINVAL, "PullImage: no image given");
        if (req->auth) {
                auth.username = nonempty(req->auth->username);
                auth.password = nonempty(req->auth->password);
                auth.auth = nonempty(req->auth->auth);
                auth.identity_token = nonempty(req->auth->identity_token);
                auth.registry_token = nonempty(req->auth->registry_token);
        }
        pr.image = req->image->image;
        pr.auth = req->auth ? &auth : NULL;
        pr.search_registries = config->image.unqualified_search_registries;
        pr.insecure_registries = config->image.insecure_registries;
        pr.mirrors = config->image.mirrors;
        pr.n_mirrors = config->image.n_mirrors;
        pr.pinned_image = config->image.pause_image;
        pr.stall_timeout_s = config->image.pull_progress_timeout;
        pr.deadline_ns = server_call_deadline(call);
        r = image_pull(env->puller, &pr, &rec, err);
        if (r < 0)
                return r;
        /* The image ID, as CRI-O and containerd answer. */
        resp.image_ref = rec->id;
        return server_call_send(call, &resp.base, err);
}

/* ---- ListImages ------------------------------------------------------ */

int cri_image_list(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__ListImagesRequest *req = (const Runtime__V1__ListImagesRequest *) request;
        const struct ocid_config *config = server_call_env(call)->config;
        Runtime__V1__ListImagesResponse resp = RUNTIME__V1__LIST_IMAGES_RESPONSE__INIT;
        _cleanup_image_record_list_ struct image_record **records = NULL;
        _cleanup_free_ struct cri_image *imgs = NULL;
        _cleanup_free_ Runtime__V1__Image **ptrs = NULL;
        const char *filter = req->filter ? spec_image(req->filter->image) : "";
        struct image_store *store = NULL;
        size_t n = 0;
        int r;

        r = image_env(call, &store, err);
        if (r < 0)
                return r;
        if (*filter) {
                _cleanup_error_ struct ocid_error *e = NULL;

                records = xcalloc(2, sizeof(*records));
                r = image_store_get(store, filter, config->image.unqualified_search_registries, &records[0], &e);
                /* No match, or a name no image can have: nothing listed. */
                if (r < 0 && r != -ENOENT && r != -EINVAL && r != -ENOTUNIQ) {
                        *err = TAKE_PTR(e);
                        return r;
                }
        } else {
                r = image_store_list(store, &records, err);
                if (r < 0)
                        return r;
        }
        while (records[n])
                n++;
        imgs = xcalloc(n ? n : 1, sizeof(*imgs));
        ptrs = xcalloc(n ? n : 1, sizeof(*ptrs));
        for (size_t i = 0; i < n; i++) {
                cri_image_fill(&imgs[i], records[i]);
                ptrs[i] = &imgs[i].img;
        }
        resp.n_images = n;
        resp.images = ptrs;
        return server_call_send(call, &resp.base, err);
}

/* ---- ImageStatus ----------------------------------------------------- */

static char *rfc3339_ns(int64_t ns)
{
        struct tm tm;
        time_t t = (time_t) (ns / 1000000000);
        char buf[64];

        if (!gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
                return xstrdup("");
        return xasprintf("%s.%09" PRId64 "Z", buf, ns % 1000000000);
}

/* The verbose info: the record and the image config, as JSON. */
static char *image_info_json(struct image_store *store, const struct image_record *rec)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_free_ char *config = NULL, *created = rfc3339_ns(rec->created_ns);
        struct json_object *layers = json_object_new_array(), *spec = NULL;
        size_t len;

        json_object_object_add(o, "id", json_object_new_string(rec->id));
        json_object_object_add(o, "manifestDigest", json_object_new_string(rec->manifest_digest));
        json_object_object_add(o, "configDigest", json_object_new_string(rec->config_digest));
        json_object_object_add(o, "stored", json_object_new_string(created));
        json_object_object_add(o, "pinned", json_object_new_boolean(rec->pinned));
        for (size_t i = 0; i < rec->n_layers; i++) {
                struct json_object *l = json_object_new_object();

                json_object_object_add(l, "digest", json_object_new_string(rec->layers[i].digest));
                json_object_object_add(l, "size", json_object_new_int64(rec->layers[i].size));
                json_object_object_add(l, "mediaType", json_object_new_string(rec->layers[i].media_type));
                json_object_object_add(l, "diffID", json_object_new_string(rec->layers[i].diff_id));
                json_object_object_add(l, "chainID", json_object_new_string(rec->layers[i].chain_id));
                json_object_array_add(layers, l);
        }
        json_object_object_add(o, "layers", layers);
        if (blobstore_read(image_store_blobs(store), rec->config_digest, IMAGE_CONFIG_MAX_SIZE, &config, &len, &e) >= 0)
                spec = json_tokener_parse(config);
        else
                json_object_object_add(o, "imageSpecError", json_object_new_string(ocid_error_message(&e)));
        json_object_object_add(o, "imageSpec", spec);
        return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

int cri_image_status(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__ImageStatusRequest *req = (const Runtime__V1__ImageStatusRequest *) request;
        const struct ocid_config *config = server_call_env(call)->config;
        Runtime__V1__ImageStatusResponse resp = RUNTIME__V1__IMAGE_STATUS_RESPONSE__INIT;
        Runtime__V1__ImageStatusResponse__InfoEntry info = RUNTIME__V1__IMAGE_STATUS_RESPONSE__INFO_ENTRY__INIT;
        Runtime__V1__ImageStatusResponse__InfoEntry *info_ptrs[1] = { &info };
        _cleanup_image_record_ struct image_record *rec = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *info_json = NULL;
        struct cri_image ci;
        struct image_store *store = NULL;
        const char *name = spec_image(req->image);
        int r;

        r = image_env(call, &store, err);
        if (r < 0)
                return r;
        if (!*name)
                return ocid_error_msg(err, EINVAL, "ImageStatus: no image given");
        r = image_store_get(store, name, config->image.unqualified_search_registries, &rec, &e);
        if (r == -ENOENT) {
                /* Absent is an empty answer, not an error: the kubelet
                 * asks before it pulls. */
                return server_call_send(call, &resp.base, err);
        }
        if (r < 0) {
                *err = TAKE_PTR(e);
                return r;
        }
        cri_image_fill(&ci, rec);
        resp.image = &ci.img;
        if (req->verbose) {
                info_json = image_info_json(store, rec);
                info.key = (char *) "info";
                info.value = info_json;
                resp.n_info = 1;
                resp.info = info_ptrs;
        }
        return server_call_send(call, &resp.base, err);
}

/* ---- RemoveImage ----------------------------------------------------- */

int cri_image_remove(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__RemoveImageRequest *req = (const Runtime__V1__RemoveImageRequest *) request;
        const struct ocid_config *config = server_call_env(call)->config;
        Runtime__V1__RemoveImageResponse resp = RUNTIME__V1__REMOVE_IMAGE_RESPONSE__INIT;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct image_store *store = NULL;
        const char *name = spec_image(req->image);
        int r;

        r = image_env(call, &store, err);
        if (r < 0)
                return r;
        if (!*name)
                return ocid_error_msg(err, EINVAL, "RemoveImage: no image given");
        r = image_store_remove(store, name, config->image.unqualified_search_registries, &e);
        /* Removing what is not there succeeds: the kubelet retries. */
        if (r < 0 && r != -ENOENT) {
                *err = TAKE_PTR(e);
                return r;
        }
        if (r == 0)
                ocid_log(OCID_LOG_INFO, "untagged '%s'", name);
        return server_call_send(call, &resp.base, err);
}

/* ---- ImageFsInfo ----------------------------------------------------- */

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_octal(char *s)
{
        char *w = s;

        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
                    r[3] <= '7') {
                        *w++ = (char) ((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else {
                        *w++ = *r;
                }
        }
        *w = '\0';
}

static bool path_is_below(const char *path, const char *mp)
{
        size_t n = strlen(mp);

        if (streq(mp, "/"))
                return true;
        return strncmp(path, mp, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int cri_image_mountpoint(const char *path, char **ret, struct ocid_error **err)
{
        _cleanup_free_ char *real = realpath(path, NULL), *best = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t cap = 0;

        if (!real)
                return ocid_error_set(err, errno, "resolve '%s'", path);
        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return ocid_error_set(err, errno, "open /proc/self/mountinfo");
        /* "id parent major:minor root mountpoint ...": the longest mount
         * point above path wins (the last of equals: it is on top). */
        while (getline(&line, &cap, f) > 0) {
                char *fields[5], *save = NULL, *tok = line;
                size_t n = 0;

                for (; n < ELEMENTSOF(fields) && (tok = strtok_r(n ? NULL : line, " ", &save)); n++)
                        fields[n] = tok;
                if (n < ELEMENTSOF(fields))
                        continue;
                unescape_octal(fields[4]);
                if (path_is_below(real, fields[4]) && (!best || strlen(fields[4]) >= strlen(best))) {
                        free(best);
                        best = xstrdup(fields[4]);
                }
        }
        *ret = best ? TAKE_PTR(best) : xstrdup("/");
        return 0;
}

static void fs_usage_fill(Runtime__V1__FilesystemUsage *u, Runtime__V1__FilesystemIdentifier *id,
                          Runtime__V1__UInt64Value *bytes, Runtime__V1__UInt64Value *inodes, int64_t now,
                          const char *mountpoint, uint64_t b, uint64_t i)
{
        runtime__v1__filesystem_usage__init(u);
        runtime__v1__filesystem_identifier__init(id);
        runtime__v1__uint64_value__init(bytes);
        runtime__v1__uint64_value__init(inodes);
        u->timestamp = now;
        id->mountpoint = (char *) mountpoint;
        u->fs_id = id;
        bytes->value = b;
        u->used_bytes = bytes;
        inodes->value = i;
        u->inodes_used = inodes;
}

int cri_image_fs_info(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const struct server_env *env = server_call_env(call);
        Runtime__V1__ImageFsInfoResponse resp = RUNTIME__V1__IMAGE_FS_INFO_RESPONSE__INIT;
        Runtime__V1__FilesystemUsage usage[2], *image_ptrs[1] = { &usage[0] }, *container_ptrs[1] = { &usage[1] };
        Runtime__V1__FilesystemIdentifier ids[2];
        Runtime__V1__UInt64Value bytes[2], inodes[2];
        struct ocid_storage_usage su = { 0 };
        _cleanup_free_ char *image_mp = NULL, *storage_mp = NULL;
        struct ocid_module *storage = env->modules ? env->modules->storage : NULL;
        struct image_store *store = NULL;
        uint64_t blob_bytes, blob_inodes;
        int64_t now = ocid_now_realtime_ns();
        int r;

        r = image_env(call, &store, err);
        if (r < 0)
                return r;
        r = image_store_blob_usage(store, &blob_bytes, &blob_inodes, err);
        if (r < 0)
                return r;
        r = cri_image_mountpoint(image_store_dir(store), &image_mp, err);
        if (r < 0)
                return r;
        if (storage) {
                r = storage_usage(storage, &su, err);
                if (r < 0)
                        return r;
        }
        storage_mp = xstrdup(su.mountpoint ? su.mountpoint : image_mp);

        /* Image file system: the blob store and the storage module's
         * layers; container file system: what the storage module holds
         * (layers and writable root file systems share its directory). */
        fs_usage_fill(&usage[0], &ids[0], &bytes[0], &inodes[0], now, image_mp, blob_bytes + su.bytes,
                      blob_inodes + su.inodes);
        fs_usage_fill(&usage[1], &ids[1], &bytes[1], &inodes[1], now, storage_mp, su.bytes, su.inodes);
        resp.n_image_filesystems = 1;
        resp.image_filesystems = image_ptrs;
        resp.n_container_filesystems = 1;
        resp.container_filesystems = container_ptrs;
        return server_call_send(call, &resp.base, err);
}
