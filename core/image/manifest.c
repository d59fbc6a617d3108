/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <json-c/json.h>

#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "image/digest.h"
#include "image/manifest.h"

/* ---- JSON helpers: every getter bounds what it accepts ---------------- */

static int json_parse_bounded(const char *body, size_t len, size_t max, const char *what,
                              struct json_object **ret, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *obj = NULL;
        struct json_tokener *tok;
        enum json_tokener_error jerr;
        size_t end;

        if (len > max)
                return ocid_error_msg(err, EFBIG, "%s is %zu bytes, more than the %zu allowed", what, len, max);
        if (len == 0)
                return ocid_error_msg(err, EBADMSG, "%s is empty", what);
        if (memchr(body, '\0', len))
                return ocid_error_msg(err, EBADMSG, "%s contains a NUL byte", what);
        tok = json_tokener_new_ex(MANIFEST_JSON_MAX_DEPTH);
        if (!tok)
                return ocid_error_msg(err, ENOMEM, "%s: cannot allocate a JSON parser", what);
        obj = json_tokener_parse_ex(tok, body, (int) len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!obj || jerr != json_tokener_success)
                return ocid_error_msg(err, EBADMSG, "%s is not valid JSON: %s", what,
                                      jerr == json_tokener_continue ? "unexpected end of input"
                                                                    : json_tokener_error_desc(jerr));
        for (; end < len; end++)
                if (!isspace((unsigned char) body[end]))
                        return ocid_error_msg(err, EBADMSG, "%s has data after its JSON document", what);
        if (!json_object_is_type(obj, json_type_object))
                return ocid_error_msg(err, EBADMSG, "%s is not a JSON object", what);
        *ret = TAKE_PTR(obj);
        return 0;
}

/* A member that is absent or null counts as absent. */
static struct json_object *member(struct json_object *obj, const char *key)
{
        struct json_object *v = NULL;

        if (!json_object_object_get_ex(obj, key, &v))
                return NULL;
        return v; /* json null is NULL */
}

static int string_value(struct json_object *v, const char *field, size_t max, char **ret, struct ocid_error **err)
{
        const char *s;
        int len;

        if (!json_object_is_type(v, json_type_string))
                return ocid_error_msg(err, EBADMSG, "'%s' is not a string", field);
        s = json_object_get_string(v);
        len = json_object_get_string_len(v);
        if ((size_t) len > max)
                return ocid_error_msg(err, EBADMSG, "'%s' is longer than %zu bytes", field, max);
        if (strlen(s) != (size_t) len)
                return ocid_error_msg(err, EBADMSG, "'%s' contains a NUL character", field);
        *ret = xstrdup(s);
        return 0;
}

/* Optional string member: *ret stays NULL when absent. */
static int get_string(struct json_object *obj, const char *key, size_t max, char **ret, struct ocid_error **err)
{
        struct json_object *v = member(obj, key);

        if (!v)
                return 0;
        return string_value(v, key, max, ret, err);
}

static int get_required_string(struct json_object *obj, const char *key, size_t max, char **ret,
                               struct ocid_error **err)
{
        struct json_object *v = member(obj, key);

        if (!v)
                return ocid_error_msg(err, EBADMSG, "'%s' is missing", key);
        return string_value(v, key, max, ret, err);
}

/* Optional array of strings: NULL when absent, a vector (maybe empty). */
static int get_strv(struct json_object *obj, const char *key, size_t max_items, size_t max_len, char ***ret,
                    struct ocid_error **err)
{
        struct json_object *v = member(obj, key);
        _cleanup_strv_ char **list = NULL;
        size_t n;

        if (!v)
                return 0;
        if (!json_object_is_type(v, json_type_array))
                return ocid_error_msg(err, EBADMSG, "'%s' is not an array", key);
        n = json_object_array_length(v);
        if (n > max_items)
                return ocid_error_msg(err, EBADMSG, "'%s' has %zu entries, more than the %zu allowed", key, n,
                                      max_items);
        list = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                int r = string_value(json_object_array_get_idx(v, i), key, max_len, &list[i], err);
                if (r < 0)
                        return ocid_error_prefix(err, "entry %zu", i);
        }
        *ret = TAKE_PTR(list);
        return 0;
}

/* Optional object used as a set ({"80/tcp": {}}): its keys. */
static int get_key_set(struct json_object *obj, const char *key, size_t max_items, size_t max_len, char ***ret,
                       struct ocid_error **err)
{
        struct json_object *v = member(obj, key);
        _cleanup_strv_ char **list = NULL;
        size_t n, i = 0;

        if (!v)
                return 0;
        if (!json_object_is_type(v, json_type_object))
                return ocid_error_msg(err, EBADMSG, "'%s' is not an object", key);
        n = (size_t) json_object_object_length(v);
        if (n > max_items)
                return ocid_error_msg(err, EBADMSG, "'%s' has %zu entries, more than the %zu allowed", key, n,
                                      max_items);
        list = xcalloc(n + 1, sizeof(char *));
        json_object_object_foreach(v, k, val) {
                (void) val;
                if (strlen(k) > max_len)
                        return ocid_error_msg(err, EBADMSG, "'%s' has a key longer than %zu bytes", key, max_len);
                list[i++] = xstrdup(k);
        }
        *ret = TAKE_PTR(list);
        return 0;
}

static int get_int64(struct json_object *obj, const char *key, bool required, int64_t *ret,
                     struct ocid_error **err)
{
        struct json_object *v = member(obj, key);

        if (!v) {
                if (required)
                        return ocid_error_msg(err, EBADMSG, "'%s' is missing", key);
                return 0;
        }
        if (!json_object_is_type(v, json_type_int))
                return ocid_error_msg(err, EBADMSG, "'%s' is not an integer", key);
        errno = 0;
        *ret = json_object_get_int64(v);
        return 0;
}

static int check_schema_version(struct json_object *obj, struct ocid_error **err)
{
        int64_t v = -1;
        int r;

        r = get_int64(obj, "schemaVersion", true, &v, err);
        if (r < 0)
                return r;
        if (v != 2)
                return ocid_error_msg(err, ENOTSUP, "unsupported schemaVersion %lld (only 2 is known)",
                                      (long long) v);
        return 0;
}

/* ---- platforms -------------------------------------------------------- */

void platform_done(struct platform *p)
{
        free(p->os);
        free(p->architecture);
        free(p->variant);
        free(p->os_version);
        *p = (struct platform) { 0 };
}

static void set_str(char **field, const char *value)
{
        free(*field);
        *field = xstrdup(value);
}

static void lowercase(char *s)
{
        for (; s && *s; s++)
                *s = (char) tolower((unsigned char) *s);
}

void platform_normalize(struct platform *p)
{
        char *a;

        lowercase(p->os);
        lowercase(p->architecture);
        lowercase(p->variant);
        if (p->variant && !*p->variant)
                set_str(&p->variant, NULL);
        a = p->architecture;
        if (!a)
                return;

        if (streq(a, "x86_64") || streq(a, "x86-64")) {
                set_str(&p->architecture, "amd64");
        } else if (streq(a, "aarch64")) {
                set_str(&p->architecture, "arm64");
        } else if (streq(a, "armhf")) {
                set_str(&p->architecture, "arm");
                set_str(&p->variant, "v7");
        } else if (streq(a, "armel")) {
                set_str(&p->architecture, "arm");
                set_str(&p->variant, "v6");
        } else if (ocid_startswith(a, "armv") && isdigit((unsigned char) a[4])) {
                /* uname's armv7l, armv6l, armv5tel */
                _cleanup_free_ char *v = xasprintf("v%c", a[4]);
                set_str(&p->architecture, "arm");
                set_str(&p->variant, v);
        } else if (streq(a, "i386") || streq(a, "i486") || streq(a, "i586") || streq(a, "i686") ||
                   streq(a, "x86")) {
                set_str(&p->architecture, "386");
        }

        /* A bare variant number means the "v" form. */
        if (p->variant && isdigit((unsigned char) p->variant[0])) {
                _cleanup_free_ char *v = xasprintf("v%s", p->variant);
                set_str(&p->variant, v);
        }
        if (streq(p->architecture, "arm64") && p->variant && streq(p->variant, "v8"))
                set_str(&p->variant, NULL);
        else if (streq(p->architecture, "amd64") && p->variant && streq(p->variant, "v1"))
                set_str(&p->variant, NULL);
        else if (streq(p->architecture, "arm") && !p->variant)
                set_str(&p->variant, "v7");
}

int platform_host(struct platform *ret, struct ocid_error **err)
{
        struct platform p = { 0 };
        struct utsname u;

        if (uname(&u) < 0)
                return ocid_error_set(err, errno, "uname");
        p.os = xstrdup("linux");
        p.architecture = xstrdup(u.machine);
        platform_normalize(&p);
        *ret = p;
        return 0;
}

/* "v7" -> 7; 0 when not of that form. */
static int arm_level(const char *variant)
{
        if (variant && variant[0] == 'v' && variant[1] >= '5' && variant[1] <= '8' && !variant[2])
                return variant[1] - '0';
        return 0;
}

/* How well `have` fits `want`: 0 is exact, higher is a more distant
 * compatible variant, -1 is no match. Both are normalised. */
static int platform_score(const struct platform *want, const struct platform *have)
{
        if (!want->os || !have->os || !streq(want->os, have->os))
                return -1;
        if (!want->architecture || !have->architecture || !streq(want->architecture, have->architecture))
                return -1;
        if (streq_ptr(want->variant, have->variant))
                return 0;
        if (streq(want->architecture, "arm")) {
                /* An ARMv7 host runs v6 and v5 code. */
                int w = arm_level(want->variant), h = arm_level(have->variant);

                if (w && h && h < w)
                        return w - h;
        }
        return -1;
}

bool platform_matches(const struct platform *want, const struct platform *have)
{
        struct platform w = { 0 }, h = { 0 };
        bool r;

        w.os = xstrdup(want->os);
        w.architecture = xstrdup(want->architecture);
        w.variant = xstrdup(want->variant);
        h.os = xstrdup(have->os);
        h.architecture = xstrdup(have->architecture);
        h.variant = xstrdup(have->variant);
        platform_normalize(&w);
        platform_normalize(&h);
        r = platform_score(&w, &h) >= 0;
        platform_done(&w);
        platform_done(&h);
        return r;
}

char *platform_to_string(const struct platform *p)
{
        return xasprintf("%s/%s%s%s", p->os ? p->os : "?", p->architecture ? p->architecture : "?",
                         p->variant ? "/" : "", p->variant ? p->variant : "");
}

/* ---- descriptors ------------------------------------------------------ */

static void descriptor_done(struct descriptor *d)
{
        free(d->media_type);
        free(d->digest);
        platform_done(&d->platform);
        *d = (struct descriptor) { 0 };
}

static int platform_parse(struct json_object *obj, struct platform *p, struct ocid_error **err)
{
        int r;

        if (!json_object_is_type(obj, json_type_object))
                return ocid_error_msg(err, EBADMSG, "'platform' is not an object");
        r = get_required_string(obj, "os", MANIFEST_MAX_STRING, &p->os, err);
        if (r >= 0)
                r = get_required_string(obj, "architecture", MANIFEST_MAX_STRING, &p->architecture, err);
        if (r >= 0)
                r = get_string(obj, "variant", MANIFEST_MAX_STRING, &p->variant, err);
        if (r >= 0)
                r = get_string(obj, "os.version", MANIFEST_MAX_STRING, &p->os_version, err);
        if (r < 0)
                return ocid_error_prefix(err, "platform");
        platform_normalize(p);
        return 0;
}

static int descriptor_parse(struct json_object *obj, bool with_platform, struct descriptor *d,
                            struct ocid_error **err)
{
        struct json_object *plat;
        int r;

        if (!json_object_is_type(obj, json_type_object))
                return ocid_error_msg(err, EBADMSG, "not an object");
        r = get_required_string(obj, "mediaType", MANIFEST_MAX_STRING, &d->media_type, err);
        if (r < 0)
                return r;
        r = get_required_string(obj, "digest", MANIFEST_MAX_STRING, &d->digest, err);
        if (r < 0)
                return r;
        {
                _cleanup_error_ struct ocid_error *derr = NULL;

                if (digest_validate(d->digest, &derr) < 0)
                        return ocid_error_msg(err, EBADMSG, "%s", ocid_error_message(&derr));
        }
        d->size = -1;
        r = get_int64(obj, "size", true, &d->size, err);
        if (r < 0)
                return r;
        if (d->size < 0)
                return ocid_error_msg(err, EBADMSG, "'size' is negative");
        if (with_platform && (plat = member(obj, "platform"))) {
                r = platform_parse(plat, &d->platform, err);
                if (r < 0)
                        return r;
                d->has_platform = true;
        }
        return 0;
}

/* ---- detection -------------------------------------------------------- */

static int kind_of_media_type(const char *mt, enum manifest_kind *ret, struct ocid_error **err)
{
        if (streq(mt, MEDIA_TYPE_OCI_INDEX) || streq(mt, MEDIA_TYPE_DOCKER_LIST))
                *ret = MANIFEST_KIND_INDEX;
        else if (streq(mt, MEDIA_TYPE_OCI_MANIFEST) || streq(mt, MEDIA_TYPE_DOCKER_MANIFEST))
                *ret = MANIFEST_KIND_IMAGE;
        else if (streq(mt, MEDIA_TYPE_DOCKER_SCHEMA1) || streq(mt, MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED))
                return ocid_error_msg(err, ENOTSUP, "Docker schema 1 manifests ('%s') are not supported", mt);
        else
                return ocid_error_msg(err, ENOTSUP, "unsupported manifest media type '%s'", mt);
        return 0;
}

int manifest_detect(const char *body, size_t len, const char *content_type, enum manifest_kind *ret,
                    struct ocid_error **err)
{
        _cleanup_json_ struct json_object *obj = NULL;
        _cleanup_free_ char *mt = NULL, *ct = NULL;
        int r;

        r = json_parse_bounded(body, len, MANIFEST_MAX_SIZE, "manifest", &obj, err);
        if (r < 0)
                return r;
        r = get_string(obj, "mediaType", MANIFEST_MAX_STRING, &mt, err);
        if (r < 0)
                return ocid_error_prefix(err, "manifest");
        if (mt)
                return kind_of_media_type(mt, ret, err);

        /* Schema 1 never carries a mediaType field, but has these. */
        if (member(obj, "fsLayers") || member(obj, "signatures"))
                return ocid_error_msg(err, ENOTSUP, "Docker schema 1 manifests are not supported");
        if (content_type && *content_type) {
                /* "type/subtype; charset=..." -> "type/subtype" */
                ct = xstrndup(content_type, strcspn(content_type, "; \t"));
                if (!streq(ct, "application/json") && !streq(ct, "text/plain") &&
                    !streq(ct, "application/octet-stream"))
                        return kind_of_media_type(ct, ret, err);
        }
        if (member(obj, "manifests") && !member(obj, "layers")) {
                *ret = MANIFEST_KIND_INDEX;
                return 0;
        }
        if (member(obj, "config") && member(obj, "layers") && !member(obj, "manifests")) {
                *ret = MANIFEST_KIND_IMAGE;
                return 0;
        }
        return ocid_error_msg(err, ENOTSUP, "manifest of unknown type (no mediaType, and neither an index nor an "
                                            "image manifest by its shape)");
}

/* ---- index ------------------------------------------------------------ */

struct manifest_index *manifest_index_free(struct manifest_index *idx)
{
        if (!idx)
                return NULL;
        for (size_t i = 0; i < idx->n_manifests; i++)
                descriptor_done(&idx->manifests[i]);
        free(idx->manifests);
        free(idx->media_type);
        free(idx);
        return NULL;
}

int manifest_index_parse(const char *body, size_t len, struct manifest_index **ret, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *obj = NULL;
        _cleanup_manifest_index_ struct manifest_index *idx = xzalloc(sizeof(*idx));
        struct json_object *list;
        size_t n;
        int r;

        r = json_parse_bounded(body, len, MANIFEST_MAX_SIZE, "image index", &obj, err);
        if (r < 0)
                return r;
        r = check_schema_version(obj, err);
        if (r >= 0)
                r = get_string(obj, "mediaType", MANIFEST_MAX_STRING, &idx->media_type, err);
        if (r < 0)
                return ocid_error_prefix(err, "image index");
        if (!idx->media_type)
                idx->media_type = xstrdup(MEDIA_TYPE_OCI_INDEX);
        else if (!streq(idx->media_type, MEDIA_TYPE_OCI_INDEX) && !streq(idx->media_type, MEDIA_TYPE_DOCKER_LIST))
                return ocid_error_msg(err, ENOTSUP, "image index: unexpected media type '%s'", idx->media_type);

        list = member(obj, "manifests");
        if (!list || !json_object_is_type(list, json_type_array))
                return ocid_error_msg(err, EBADMSG, "image index: 'manifests' is %s",
                                      list ? "not an array" : "missing");
        n = json_object_array_length(list);
        if (n > MANIFEST_MAX_ENTRIES)
                return ocid_error_msg(err, EBADMSG, "image index: %zu manifests, more than the %d allowed", n,
                                      MANIFEST_MAX_ENTRIES);
        idx->manifests = xcalloc(n ? n : 1, sizeof(*idx->manifests));
        for (size_t i = 0; i < n; i++) {
                r = descriptor_parse(json_object_array_get_idx(list, i), true, &idx->manifests[i], err);
                idx->n_manifests = i + 1;
                if (r < 0)
                        return ocid_error_prefix(err, "image index: manifests[%zu]", i);
        }
        *ret = TAKE_PTR(idx);
        return 0;
}

int manifest_index_select(const struct manifest_index *idx, const struct platform *want,
                          const struct descriptor **ret, struct ocid_error **err)
{
        _cleanup_free_ char *want_s = NULL, *offer = NULL;
        struct platform w = { 0 };
        const struct descriptor *best = NULL;
        int best_score = -1;

        w.os = xstrdup(want->os);
        w.architecture = xstrdup(want->architecture);
        w.variant = xstrdup(want->variant);
        platform_normalize(&w);

        for (size_t i = 0; i < idx->n_manifests; i++) {
                const struct descriptor *d = &idx->manifests[i];
                enum manifest_kind kind;
                int score;

                if (!d->has_platform)
                        continue;
                /* Only entries that are image manifests (or nested
                 * indexes) can be run; attestations and other artifacts
                 * carry their own media types. */
                if (kind_of_media_type(d->media_type, &kind, NULL) < 0)
                        continue;
                score = platform_score(&w, &d->platform);
                if (score >= 0 && (!best || score < best_score)) {
                        best = d;
                        best_score = score;
                }
        }
        if (best) {
                platform_done(&w);
                *ret = best;
                return 0;
        }

        want_s = platform_to_string(&w);
        platform_done(&w);
        offer = xstrdup("");
        for (size_t i = 0; i < idx->n_manifests; i++) {
                _cleanup_free_ char *p = NULL;
                char *joined;

                if (!idx->manifests[i].has_platform)
                        continue;
                p = platform_to_string(&idx->manifests[i].platform);
                joined = xasprintf("%s%s%s", offer, *offer ? ", " : "", p);
                free(offer);
                offer = joined;
        }
        return ocid_error_msg(err, ENOENT, "no image for platform %s in the index (it has: %s)", want_s,
                              *offer ? offer : "no platform entries");
}

/* ---- image manifest --------------------------------------------------- */

int layer_media_type_compression(const char *mt, enum layer_compression *ret, struct ocid_error **err)
{
        if (streq(mt, MEDIA_TYPE_OCI_LAYER) || streq(mt, MEDIA_TYPE_OCI_LAYER_ND) || streq(mt, MEDIA_TYPE_DOCKER_LAYER))
                *ret = LAYER_COMPRESSION_NONE;
        else if (streq(mt, MEDIA_TYPE_OCI_LAYER_GZIP) || streq(mt, MEDIA_TYPE_OCI_LAYER_ND_GZIP) ||
                 streq(mt, MEDIA_TYPE_DOCKER_LAYER_GZIP))
                *ret = LAYER_COMPRESSION_GZIP;
        else if (streq(mt, MEDIA_TYPE_OCI_LAYER_ZSTD) || streq(mt, MEDIA_TYPE_OCI_LAYER_ND_ZSTD) ||
                 streq(mt, MEDIA_TYPE_DOCKER_LAYER_ZSTD))
                *ret = LAYER_COMPRESSION_ZSTD;
        else if (streq(mt, MEDIA_TYPE_DOCKER_FOREIGN_LAYER))
                return ocid_error_msg(err, ENOTSUP,
                                      "foreign layer type '%s' (a Windows base layer) is not supported", mt);
        else
                return ocid_error_msg(err, ENOTSUP, "unknown layer media type '%s'", mt);
        return 0;
}

const char *layer_compression_to_string(enum layer_compression c)
{
        switch (c) {
        case LAYER_COMPRESSION_NONE:
                return "none";
        case LAYER_COMPRESSION_GZIP:
                return "gzip";
        case LAYER_COMPRESSION_ZSTD:
                return "zstd";
        default:
                return NULL;
        }
}

struct image_manifest *image_manifest_free(struct image_manifest *m)
{
        if (!m)
                return NULL;
        descriptor_done(&m->config);
        for (size_t i = 0; i < m->n_layers; i++)
                descriptor_done(&m->layers[i].desc);
        free(m->layers);
        free(m->media_type);
        free(m);
        return NULL;
}

int image_manifest_parse(const char *body, size_t len, struct image_manifest **ret, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *obj = NULL;
        _cleanup_image_manifest_ struct image_manifest *m = xzalloc(sizeof(*m));
        struct json_object *cfg, *list;
        size_t n;
        int r;

        r = json_parse_bounded(body, len, MANIFEST_MAX_SIZE, "image manifest", &obj, err);
        if (r < 0)
                return r;
        r = check_schema_version(obj, err);
        if (r >= 0)
                r = get_string(obj, "mediaType", MANIFEST_MAX_STRING, &m->media_type, err);
        if (r < 0)
                return ocid_error_prefix(err, "image manifest");
        if (!m->media_type)
                m->media_type = xstrdup(MEDIA_TYPE_OCI_MANIFEST);
        else if (!streq(m->media_type, MEDIA_TYPE_OCI_MANIFEST) && !streq(m->media_type, MEDIA_TYPE_DOCKER_MANIFEST))
                return ocid_error_msg(err, ENOTSUP, "image manifest: unexpected media type '%s'", m->media_type);

        cfg = member(obj, "config");
        if (!cfg)
                return ocid_error_msg(err, EBADMSG, "image manifest: 'config' is missing");
        r = descriptor_parse(cfg, false, &m->config, err);
        if (r < 0)
                return ocid_error_prefix(err, "image manifest: config");
        if (!streq(m->config.media_type, MEDIA_TYPE_OCI_CONFIG) &&
            !streq(m->config.media_type, MEDIA_TYPE_DOCKER_CONFIG))
                return ocid_error_msg(err, ENOTSUP,
                                      "image manifest: not a container image (config media type '%s')",
                                      m->config.media_type);

        list = member(obj, "layers");
        if (!list || !json_object_is_type(list, json_type_array))
                return ocid_error_msg(err, EBADMSG, "image manifest: 'layers' is %s",
                                      list ? "not an array" : "missing");
        n = json_object_array_length(list);
        if (n > MANIFEST_MAX_LAYERS)
                return ocid_error_msg(err, EBADMSG, "image manifest: %zu layers, more than the %d allowed", n,
                                      MANIFEST_MAX_LAYERS);
        m->layers = xcalloc(n ? n : 1, sizeof(*m->layers));
        for (size_t i = 0; i < n; i++) {
                struct manifest_layer *l = &m->layers[i];

                m->n_layers = i + 1;
                r = descriptor_parse(json_object_array_get_idx(list, i), false, &l->desc, err);
                if (r >= 0)
                        r = layer_media_type_compression(l->desc.media_type, &l->compression, err);
                if (r < 0)
                        return ocid_error_prefix(err, "image manifest: layers[%zu]", i);
        }
        *ret = TAKE_PTR(m);
        return 0;
}

/* ---- image config ----------------------------------------------------- */

struct image_config *image_config_free(struct image_config *c)
{
        if (!c)
                return NULL;
        free(c->created);
        free(c->author);
        free(c->os);
        free(c->architecture);
        free(c->variant);
        free(c->user);
        ocid_strv_free(c->env);
        ocid_strv_free(c->entrypoint);
        ocid_strv_free(c->cmd);
        free(c->working_dir);
        for (size_t i = 0; i < c->n_labels; i++) {
                free(c->labels[i].key);
                free(c->labels[i].value);
        }
        free(c->labels);
        free(c->stop_signal);
        ocid_strv_free(c->exposed_ports);
        ocid_strv_free(c->volumes);
        ocid_strv_free(c->diff_ids);
        for (size_t i = 0; i < c->n_history; i++) {
                free(c->history[i].created);
                free(c->history[i].created_by);
                free(c->history[i].author);
                free(c->history[i].comment);
        }
        free(c->history);
        free(c);
        return NULL;
}

static int config_labels_parse(struct json_object *obj, struct image_config *c, struct ocid_error **err)
{
        struct json_object *v = member(obj, "Labels");
        size_t n, i = 0;

        if (!v)
                return 0;
        if (!json_object_is_type(v, json_type_object))
                return ocid_error_msg(err, EBADMSG, "'Labels' is not an object");
        n = (size_t) json_object_object_length(v);
        if (n > IMAGE_CONFIG_MAX_LIST)
                return ocid_error_msg(err, EBADMSG, "'Labels' has %zu entries, more than the %d allowed", n,
                                      IMAGE_CONFIG_MAX_LIST);
        c->labels = xcalloc(n ? n : 1, sizeof(*c->labels));
        json_object_object_foreach(v, k, val) {
                int r;

                if (strlen(k) > IMAGE_CONFIG_MAX_STRING)
                        return ocid_error_msg(err, EBADMSG, "'Labels' has a key longer than %u bytes",
                                              IMAGE_CONFIG_MAX_STRING);
                c->labels[i].key = xstrdup(k);
                c->n_labels = ++i;
                if (!val) /* a null value reads as empty */
                        c->labels[i - 1].value = xstrdup("");
                else {
                        r = string_value(val, k, IMAGE_CONFIG_MAX_STRING, &c->labels[i - 1].value, err);
                        if (r < 0)
                                return ocid_error_prefix(err, "Labels");
                }
        }
        return 0;
}

static int config_runtime_parse(struct json_object *cfg, struct image_config *c, struct ocid_error **err)
{
        const size_t maxs = IMAGE_CONFIG_MAX_STRING, maxl = IMAGE_CONFIG_MAX_LIST;
        int r;

        if (!json_object_is_type(cfg, json_type_object))
                return ocid_error_msg(err, EBADMSG, "'config' is not an object");
        r = get_string(cfg, "User", maxs, &c->user, err);
        if (r >= 0)
                r = get_strv(cfg, "Env", maxl, maxs, &c->env, err);
        if (r >= 0)
                r = get_strv(cfg, "Entrypoint", maxl, maxs, &c->entrypoint, err);
        if (r >= 0)
                r = get_strv(cfg, "Cmd", maxl, maxs, &c->cmd, err);
        if (r >= 0)
                r = get_string(cfg, "WorkingDir", maxs, &c->working_dir, err);
        if (r >= 0)
                r = config_labels_parse(cfg, c, err);
        if (r >= 0)
                r = get_string(cfg, "StopSignal", maxs, &c->stop_signal, err);
        if (r >= 0)
                r = get_key_set(cfg, "ExposedPorts", IMAGE_CONFIG_MAX_PORTS, maxs, &c->exposed_ports, err);
        if (r >= 0)
                r = get_key_set(cfg, "Volumes", maxl, maxs, &c->volumes, err);
        return r;
}

static int config_rootfs_parse(struct json_object *obj, struct image_config *c, struct ocid_error **err)
{
        struct json_object *rootfs = member(obj, "rootfs");
        _cleanup_free_ char *type = NULL;
        int r;

        if (!rootfs)
                return ocid_error_msg(err, EBADMSG, "'rootfs' is missing");
        if (!json_object_is_type(rootfs, json_type_object))
                return ocid_error_msg(err, EBADMSG, "'rootfs' is not an object");
        r = get_required_string(rootfs, "type", MANIFEST_MAX_STRING, &type, err);
        if (r < 0)
                return ocid_error_prefix(err, "rootfs");
        if (!streq(type, "layers"))
                return ocid_error_msg(err, EBADMSG, "rootfs: unknown type '%s' (only 'layers' is known)", type);
        r = get_strv(rootfs, "diff_ids", MANIFEST_MAX_LAYERS, MANIFEST_MAX_STRING, &c->diff_ids, err);
        if (r < 0)
                return ocid_error_prefix(err, "rootfs");
        if (!c->diff_ids)
                return ocid_error_msg(err, EBADMSG, "rootfs: 'diff_ids' is missing");
        c->n_diff_ids = ocid_strv_length(c->diff_ids);
        for (size_t i = 0; i < c->n_diff_ids; i++) {
                _cleanup_error_ struct ocid_error *derr = NULL;

                if (digest_validate(c->diff_ids[i], &derr) < 0)
                        return ocid_error_msg(err, EBADMSG, "rootfs: diff_ids[%zu]: %s", i,
                                              ocid_error_message(&derr));
        }
        return 0;
}

static int config_history_parse(struct json_object *obj, struct image_config *c, struct ocid_error **err)
{
        struct json_object *list = member(obj, "history");
        size_t n;

        if (!list)
                return 0;
        if (!json_object_is_type(list, json_type_array))
                return ocid_error_msg(err, EBADMSG, "'history' is not an array");
        n = json_object_array_length(list);
        if (n > IMAGE_CONFIG_MAX_LIST)
                return ocid_error_msg(err, EBADMSG, "'history' has %zu entries, more than the %d allowed", n,
                                      IMAGE_CONFIG_MAX_LIST);
        c->history = xcalloc(n ? n : 1, sizeof(*c->history));
        for (size_t i = 0; i < n; i++) {
                struct json_object *h = json_object_array_get_idx(list, i), *empty;
                struct image_history *e = &c->history[i];
                const size_t maxs = IMAGE_CONFIG_MAX_STRING;
                int r;

                c->n_history = i + 1;
                if (!h || !json_object_is_type(h, json_type_object))
                        return ocid_error_msg(err, EBADMSG, "history[%zu] is not an object", i);
                r = get_string(h, "created", maxs, &e->created, err);
                if (r >= 0)
                        r = get_string(h, "created_by", maxs, &e->created_by, err);
                if (r >= 0)
                        r = get_string(h, "author", maxs, &e->author, err);
                if (r >= 0)
                        r = get_string(h, "comment", maxs, &e->comment, err);
                if (r < 0)
                        return ocid_error_prefix(err, "history[%zu]", i);
                empty = member(h, "empty_layer");
                if (empty) {
                        if (!json_object_is_type(empty, json_type_boolean))
                                return ocid_error_msg(err, EBADMSG, "history[%zu]: 'empty_layer' is not a boolean",
                                                      i);
                        e->empty_layer = json_object_get_boolean(empty);
                }
        }
        return 0;
}

int image_config_parse(const char *body, size_t len, struct image_config **ret, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *obj = NULL;
        _cleanup_image_config_ struct image_config *c = xzalloc(sizeof(*c));
        struct json_object *cfg;
        int r;

        r = json_parse_bounded(body, len, IMAGE_CONFIG_MAX_SIZE, "image config", &obj, err);
        if (r < 0)
                return r;
        r = get_string(obj, "created", MANIFEST_MAX_STRING, &c->created, err);
        if (r >= 0)
                r = get_string(obj, "author", IMAGE_CONFIG_MAX_STRING, &c->author, err);
        if (r >= 0)
                r = get_string(obj, "os", MANIFEST_MAX_STRING, &c->os, err);
        if (r >= 0)
                r = get_string(obj, "architecture", MANIFEST_MAX_STRING, &c->architecture, err);
        if (r >= 0)
                r = get_string(obj, "variant", MANIFEST_MAX_STRING, &c->variant, err);
        if (r >= 0 && (cfg = member(obj, "config")))
                r = config_runtime_parse(cfg, c, err);
        if (r >= 0)
                r = config_rootfs_parse(obj, c, err);
        if (r >= 0)
                r = config_history_parse(obj, c, err);
        if (r < 0)
                return ocid_error_prefix(err, "image config");
        *ret = TAKE_PTR(c);
        return 0;
}

int image_config_check_manifest(const struct image_config *c, const struct image_manifest *m,
                                struct ocid_error **err)
{
        if (c->n_diff_ids != m->n_layers)
                return ocid_error_msg(err, EBADMSG,
                                      "image config lists %zu layer diff_ids but the manifest has %zu layers",
                                      c->n_diff_ids, m->n_layers);
        return 0;
}
