/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "image"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h> /* flock */
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "image/layer.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "image/store.h"
#include "storage.h"

#define STORE_LOCK_NAME       "lock"
#define STORE_GENERATION_NAME "generation"
#define STORE_LEASES_DIR      "leases"
#define STORE_LAYER_LOCKS_DIR "layer-locks"
#define STORE_RECORD_SUFFIX   ".json"
#define STORE_RECORD_VERSION  1
#define STORE_RECORD_MAX      (16u * 1024 * 1024)
#define STORE_LEASE_MAX       (16u * 1024 * 1024)
/* Shortest ID prefix a name may use. */
#define STORE_ID_PREFIX_MIN   3

struct image_store {
        char *dir;                      /* <root>/images */
        int dir_fd;
        int leases_fd;
        int locks_fd;
        struct blobstore *blobs;
        struct ocid_module *storage;

        pthread_mutex_t lock;           /* the cache below */
        struct image_record **records;  /* NULL-terminated, sorted by id */
        size_t n_records;
        uint64_t generation;            /* of the records loaded */
        bool loaded;
        char **warned;                  /* bad record files already reported ("name size mtime") */

        image_in_use_fn in_use;
        void *in_use_userdata;
};

struct image_lease {
        struct image_store *store;
        char name[65];
        int fd;                         /* locked for the lease's life */
        char **blobs;
        char **layers;
};

/* ---- records --------------------------------------------------------- */

static void layer_info_done(struct image_layer_info *l)
{
        free(l->chain_id);
        free(l->diff_id);
        free(l->digest);
        free(l->media_type);
}

struct image_record *image_record_free(struct image_record *r)
{
        if (!r)
                return NULL;
        free(r->id);
        free(r->config_digest);
        free(r->manifest_digest);
        ocid_strv_free(r->repo_tags);
        ocid_strv_free(r->repo_digests);
        for (size_t i = 0; i < r->n_layers; i++)
                layer_info_done(&r->layers[i]);
        free(r->layers);
        ocid_strv_free(r->blobs);
        free(r->username);
        free(r);
        return NULL;
}

static char **strv_copy_or_empty(char *const *v)
{
        return v ? ocid_strv_copy((const char *const *) v) : xzalloc(sizeof(char *));
}

struct image_record *image_record_copy(const struct image_record *r)
{
        struct image_record *c;

        if (!r)
                return NULL;
        c = xzalloc(sizeof(*c));
        c->id = xstrdup(r->id);
        c->config_digest = xstrdup(r->config_digest);
        c->manifest_digest = xstrdup(r->manifest_digest);
        c->repo_tags = strv_copy_or_empty(r->repo_tags);
        c->repo_digests = strv_copy_or_empty(r->repo_digests);
        c->layers = xcalloc(r->n_layers ? r->n_layers : 1, sizeof(*c->layers));
        c->n_layers = r->n_layers;
        for (size_t i = 0; i < r->n_layers; i++) {
                c->layers[i].chain_id = xstrdup(r->layers[i].chain_id);
                c->layers[i].diff_id = xstrdup(r->layers[i].diff_id);
                c->layers[i].digest = xstrdup(r->layers[i].digest);
                c->layers[i].size = r->layers[i].size;
                c->layers[i].media_type = xstrdup(r->layers[i].media_type);
        }
        c->blobs = strv_copy_or_empty(r->blobs);
        c->size = r->size;
        c->uid = r->uid;
        c->username = xstrdup(r->username);
        c->pinned = r->pinned;
        c->created_ns = r->created_ns;
        return c;
}

void image_record_list_free(struct image_record **v)
{
        if (!v)
                return;
        for (struct image_record **i = v; *i; i++)
                image_record_free(*i);
        free(v);
}

static struct json_object *json_strv(char *const *v)
{
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; v && v[i]; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static struct json_object *record_to_json(const struct image_record *r)
{
        struct json_object *o = json_object_new_object(), *layers = json_object_new_array();

        json_object_object_add(o, "version", json_object_new_int(STORE_RECORD_VERSION));
        json_object_object_add(o, "id", json_object_new_string(r->id));
        json_object_object_add(o, "config_digest", json_object_new_string(r->config_digest));
        json_object_object_add(o, "manifest_digest", json_object_new_string(r->manifest_digest));
        json_object_object_add(o, "repo_tags", json_strv(r->repo_tags));
        json_object_object_add(o, "repo_digests", json_strv(r->repo_digests));
        for (size_t i = 0; i < r->n_layers; i++) {
                struct json_object *l = json_object_new_object();

                json_object_object_add(l, "chain_id", json_object_new_string(r->layers[i].chain_id));
                json_object_object_add(l, "diff_id", json_object_new_string(r->layers[i].diff_id));
                json_object_object_add(l, "digest", json_object_new_string(r->layers[i].digest));
                json_object_object_add(l, "size", json_object_new_int64(r->layers[i].size));
                json_object_object_add(l, "media_type", json_object_new_string(r->layers[i].media_type));
                json_object_array_add(layers, l);
        }
        json_object_object_add(o, "layers", layers);
        json_object_object_add(o, "blobs", json_strv(r->blobs));
        json_object_object_add(o, "size", json_object_new_int64((int64_t) r->size));
        if (r->uid >= 0)
                json_object_object_add(o, "uid", json_object_new_int64(r->uid));
        if (r->username)
                json_object_object_add(o, "username", json_object_new_string(r->username));
        json_object_object_add(o, "pinned", json_object_new_boolean(r->pinned));
        json_object_object_add(o, "created_ns", json_object_new_int64(r->created_ns));
        return o;
}

static int json_get_digest(struct json_object *o, const char *key, char **ret, struct ocid_error **err)
{
        const char *v = ocid_json_get_string(o, key);

        if (!v)
                return ocid_error_msg(err, EBADMSG, "'%s' is missing", key);
        if (!digest_is_valid(v))
                return ocid_error_msg(err, EBADMSG, "'%s' is not a sha256 digest", key);
        *ret = xstrdup(v);
        return 0;
}

/* A list of strings; each must pass check when given. */
static int json_get_strv(struct json_object *o, const char *key, bool (*check)(const char *), char ***ret,
                         struct ocid_error **err)
{
        _cleanup_strv_ char **v = xzalloc(sizeof(char *));
        struct json_object *a;
        size_t n;

        if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array))
                return ocid_error_msg(err, EBADMSG, "'%s' is missing or not a list", key);
        n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(a, i);
                const char *s;

                if (!json_object_is_type(e, json_type_string))
                        return ocid_error_msg(err, EBADMSG, "'%s' holds a non-string", key);
                s = json_object_get_string(e);
                if (check && !check(s))
                        return ocid_error_msg(err, EBADMSG, "'%s' holds an invalid entry '%s'", key, s);
                ocid_strv_push(&v, s);
        }
        *ret = TAKE_PTR(v);
        return 0;
}

static bool json_has(struct json_object *o, const char *key, enum json_type type)
{
        struct json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, type);
}

static int record_from_json(struct json_object *o, struct image_record **ret, struct ocid_error **err)
{
        _cleanup_image_record_ struct image_record *r = xzalloc(sizeof(*r));
        struct json_object *layers;
        int64_t version;
        size_t n;
        int r_;

        if (!json_object_is_type(o, json_type_object))
                return ocid_error_msg(err, EBADMSG, "not a JSON object");
        version = ocid_json_get_int64(o, "version", -1);
        if (version != STORE_RECORD_VERSION)
                return ocid_error_msg(err, EBADMSG, "unknown record version %" PRId64, version);
        r_ = json_get_digest(o, "id", &r->id, err);
        if (r_ >= 0)
                r_ = json_get_digest(o, "config_digest", &r->config_digest, err);
        if (r_ >= 0)
                r_ = json_get_digest(o, "manifest_digest", &r->manifest_digest, err);
        if (r_ >= 0)
                r_ = json_get_strv(o, "repo_tags", NULL, &r->repo_tags, err);
        if (r_ >= 0)
                r_ = json_get_strv(o, "repo_digests", NULL, &r->repo_digests, err);
        if (r_ >= 0)
                r_ = json_get_strv(o, "blobs", digest_is_valid, &r->blobs, err);
        if (r_ < 0)
                return r_;
        if (!streq(r->id, r->config_digest))
                return ocid_error_msg(err, EBADMSG, "id and config_digest differ");

        if (!json_object_object_get_ex(o, "layers", &layers) || !json_object_is_type(layers, json_type_array))
                return ocid_error_msg(err, EBADMSG, "'layers' is missing or not a list");
        n = json_object_array_length(layers);
        r->layers = xcalloc(n ? n : 1, sizeof(*r->layers));
        for (size_t i = 0; i < n; i++) {
                struct json_object *l = json_object_array_get_idx(layers, i);
                struct image_layer_info *li = &r->layers[i];
                const char *mt = ocid_json_get_string(l, "media_type");

                r->n_layers++;
                r_ = json_get_digest(l, "chain_id", &li->chain_id, err);
                if (r_ >= 0)
                        r_ = json_get_digest(l, "diff_id", &li->diff_id, err);
                if (r_ >= 0)
                        r_ = json_get_digest(l, "digest", &li->digest, err);
                if (r_ < 0)
                        return ocid_error_prefix(err, "layer %zu", i);
                li->size = ocid_json_get_int64(l, "size", -1);
                if (li->size < 0 || !mt)
                        return ocid_error_msg(err, EBADMSG, "layer %zu: bad size or media type", i);
                li->media_type = xstrdup(mt);
        }

        if (ocid_json_get_int64(o, "size", -1) < 0)
                return ocid_error_msg(err, EBADMSG, "'size' is missing");
        r->size = (uint64_t) ocid_json_get_int64(o, "size", 0);
        r->uid = json_has(o, "uid", json_type_int) ? ocid_json_get_int64(o, "uid", -1) : -1;
        r->username = xstrdup(ocid_json_get_string(o, "username"));
        if (json_has(o, "pinned", json_type_boolean)) {
                struct json_object *p;

                (void) json_object_object_get_ex(o, "pinned", &p);
                r->pinned = json_object_get_boolean(p);
        }
        r->created_ns = ocid_json_get_int64(o, "created_ns", 0);
        *ret = TAKE_PTR(r);
        return 0;
}

static bool is_hex(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* "<64 hex>.json" */
static bool is_record_name(const char *name)
{
        return strlen(name) == DIGEST_SHA256_HEX_LEN + strlen(STORE_RECORD_SUFFIX) &&
               is_hex(name, DIGEST_SHA256_HEX_LEN) && streq(name + DIGEST_SHA256_HEX_LEN, STORE_RECORD_SUFFIX);
}

static int record_cmp(const void *a, const void *b)
{
        const struct image_record *const *x = a, *const *y = b;

        return strcmp((*x)->id, (*y)->id);
}

static char *record_path(const struct image_store *s, const char *id)
{
        return xasprintf("%s/%s%s", s->dir, digest_hex(id), STORE_RECORD_SUFFIX);
}

static int record_write(struct image_store *s, const struct image_record *r, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *o = record_to_json(r);
        _cleanup_free_ char *path = record_path(s, r->id);

        return ocid_json_write_file_atomic(path, o, 0600, err);
}

/* ---- locking and the generation counter ------------------------------- */

static int store_flock(struct image_store *s, int op, int *ret_fd, struct ocid_error **err)
{
        _cleanup_close_ int fd = -1;

        fd = openat(s->dir_fd, STORE_LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return ocid_error_set(err, errno, "open '%s/%s'", s->dir, STORE_LOCK_NAME);
        while (flock(fd, op) < 0)
                if (errno != EINTR)
                        return ocid_error_set(err, errno, "lock '%s/%s'", s->dir, STORE_LOCK_NAME);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int generation_read(struct image_store *s, uint64_t *ret, struct ocid_error **err)
{
        _cleanup_close_ int fd = -1;
        char buf[32];
        ssize_t n;

        fd = openat(s->dir_fd, STORE_GENERATION_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno == ENOENT) {
                        *ret = 0;
                        return 0;
                }
                return ocid_error_set(err, errno, "open '%s/%s'", s->dir, STORE_GENERATION_NAME);
        }
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return ocid_error_set(err, errno, "read '%s/%s'", s->dir, STORE_GENERATION_NAME);
        buf[n] = '\0';
        if (n > 0 && buf[n - 1] == '\n')
                buf[n - 1] = '\0';
        if (ocid_parse_uint64(buf, ret) < 0)
                return ocid_error_msg(err, EBADMSG, "'%s/%s' does not hold a number", s->dir,
                                      STORE_GENERATION_NAME);
        return 0;
}

/* Under the exclusive lock. */
static int generation_bump(struct image_store *s, uint64_t *ret, struct ocid_error **err)
{
        _cleanup_free_ char *path = ocid_path_join(s->dir, STORE_GENERATION_NAME), *text = NULL;
        uint64_t g;
        int r;

        r = generation_read(s, &g, err);
        if (r < 0)
                return r;
        g++;
        text = xasprintf("%" PRIu64 "\n", g);
        r = ocid_write_file_atomic(path, text, strlen(text), 0600, err);
        if (r < 0)
                return r;
        *ret = g;
        return 0;
}

/* ---- loading ---------------------------------------------------------- */

static void cache_clear(struct image_store *s)
{
        image_record_list_free(s->records);
        s->records = NULL;
        s->n_records = 0;
        s->loaded = false;
}

/* Reports a bad record once per version of the file. */
static void store_warn_bad(struct image_store *s, const char *name, const struct stat *st, const char *why)
{
        _cleanup_free_ char *key = xasprintf("%s %jd %jd.%09ld", name, (intmax_t) st->st_size,
                                             (intmax_t) st->st_mtim.tv_sec, st->st_mtim.tv_nsec);

        if (ocid_strv_contains(s->warned, key))
                return;
        ocid_strv_push(&s->warned, key);
        ocid_log(OCID_LOG_WARNING, "image record '%s/%s' cannot be loaded, skipping it: %s", s->dir, name, why);
}

static int store_load(struct image_store *s, struct ocid_error **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct image_record **v = xzalloc(sizeof(*v));
        size_t n = 0;
        struct dirent *de;
        int dfd;

        dfd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                free(v);
                return ocid_error_set(err, errno, "open '%s'", s->dir);
        }
        d = fdopendir(dfd);
        if (!d) {
                int e = errno;

                (void) close(dfd);
                free(v);
                return ocid_error_set(err, e, "open '%s'", s->dir);
        }
        while ((errno = 0, de = readdir(d))) {
                _cleanup_error_ struct ocid_error *error = NULL;
                _cleanup_json_ struct json_object *o = NULL;
                _cleanup_free_ char *path = NULL;
                struct image_record *rec = NULL;
                struct stat st = { 0 };
                int r;

                if (!is_record_name(de->d_name))
                        continue;
                path = ocid_path_join(s->dir, de->d_name);
                (void) fstatat(s->dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW);
                r = ocid_json_read_file(path, STORE_RECORD_MAX, &o, &error);
                if (r == -ENOENT)
                        continue; /* removed meanwhile */
                if (r >= 0)
                        r = record_from_json(o, &rec, &error);
                if (r >= 0 && strncmp(digest_hex(rec->id), de->d_name, DIGEST_SHA256_HEX_LEN) != 0) {
                        rec = image_record_free(rec);
                        r = ocid_error_msg(&error, EBADMSG, "its id does not match its file name");
                }
                if (r < 0) {
                        store_warn_bad(s, de->d_name, &st, ocid_error_message(&error));
                        continue;
                }
                v = xreallocarray(v, n + 2, sizeof(*v));
                v[n++] = rec;
                v[n] = NULL;
        }
        if (errno != 0) {
                int e = errno;

                image_record_list_free(v);
                return ocid_error_set(err, e, "read '%s'", s->dir);
        }
        qsort(v, n, sizeof(*v), record_cmp);
        cache_clear(s);
        s->records = v;
        s->n_records = n;
        s->loaded = true;
        return 0;
}

/* Makes the cache current and returns with s->lock held. Called without
 * s->lock; `exclusive` says the caller holds the store's flock exclusively.
 * Lock order: flock, then s->lock. */
static int store_sync(struct image_store *s, bool exclusive, struct ocid_error **err)
{
        _cleanup_close_ int lock_fd = -1;
        uint64_t g;
        int r;

        if (!exclusive) {
                pthread_mutex_lock(&s->lock);
                r = generation_read(s, &g, err);
                if (r < 0) {
                        pthread_mutex_unlock(&s->lock);
                        return r;
                }
                if (s->loaded && g == s->generation)
                        return 0;
                pthread_mutex_unlock(&s->lock);
                r = store_flock(s, LOCK_SH, &lock_fd, err);
                if (r < 0)
                        return r;
        }
        pthread_mutex_lock(&s->lock);
        r = generation_read(s, &g, err);
        if (r >= 0 && !(s->loaded && g == s->generation)) {
                r = store_load(s, err);
                if (r >= 0)
                        s->generation = g;
        }
        if (r < 0) {
                pthread_mutex_unlock(&s->lock);
                return r;
        }
        return 0;
}

/* After a mutation under the exclusive lock (s->lock held): bumps the
 * generation and records it as the cache's; on failure the cache is
 * dropped so that the next call reloads it. */
static int store_mutated(struct image_store *s, struct ocid_error **err)
{
        uint64_t g;
        int r;

        r = generation_bump(s, &g, err);
        if (r < 0) {
                cache_clear(s);
                return r;
        }
        s->generation = g;
        return 0;
}

/* ---- open/close ------------------------------------------------------ */

static int open_subdir(int dfd, const char *dir, const char *name, int *ret_fd, struct ocid_error **err)
{
        int fd;

        if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
                return ocid_error_set(err, errno, "create '%s/%s'", dir, name);
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return ocid_error_set(err, errno, "open '%s/%s'", dir, name);
        *ret_fd = fd;
        return 0;
}

int image_store_open(const char *root, struct ocid_module *storage, struct image_store **ret,
                     struct ocid_error **err)
{
        _cleanup_image_store_ struct image_store *s = xzalloc(sizeof(*s));
        int r;

        s->dir_fd = s->leases_fd = s->locks_fd = -1;
        (void) pthread_mutex_init(&s->lock, NULL);
        s->dir = ocid_path_join(root, IMAGE_STORE_DIR);
        s->storage = storage;

        r = ocid_mkdir_p(s->dir, 0700, err);
        if (r < 0)
                return r;
        s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->dir_fd < 0)
                return ocid_error_set(err, errno, "open '%s'", s->dir);
        r = open_subdir(s->dir_fd, s->dir, STORE_LEASES_DIR, &s->leases_fd, err);
        if (r >= 0)
                r = open_subdir(s->dir_fd, s->dir, STORE_LAYER_LOCKS_DIR, &s->locks_fd, err);
        if (r >= 0)
                r = blobstore_open(s->dir, &s->blobs, err);
        if (r < 0)
                return ocid_error_prefix(err, "open image store");

        r = store_sync(s, false, err);
        if (r < 0)
                return ocid_error_prefix(err, "open image store");
        pthread_mutex_unlock(&s->lock);
        *ret = TAKE_PTR(s);
        return 0;
}

struct image_store *image_store_free(struct image_store *s)
{
        if (!s)
                return NULL;
        cache_clear(s);
        ocid_strv_free(s->warned);
        blobstore_free(s->blobs);
        if (s->locks_fd >= 0)
                (void) close(s->locks_fd);
        if (s->leases_fd >= 0)
                (void) close(s->leases_fd);
        if (s->dir_fd >= 0)
                (void) close(s->dir_fd);
        (void) pthread_mutex_destroy(&s->lock);
        free(s->dir);
        free(s);
        return NULL;
}

const char *image_store_dir(const struct image_store *s)
{
        return s->dir;
}

struct blobstore *image_store_blobs(struct image_store *s)
{
        return s->blobs;
}

struct ocid_module *image_store_storage(struct image_store *s)
{
        return s->storage;
}

void image_store_set_in_use_fn(struct image_store *s, image_in_use_fn fn, void *userdata)
{
        pthread_mutex_lock(&s->lock);
        s->in_use = fn;
        s->in_use_userdata = userdata;
        pthread_mutex_unlock(&s->lock);
}

/* ---- lookups ---------------------------------------------------------- */

enum store_match {
        STORE_MATCH_ID,
        STORE_MATCH_TAG,
        STORE_MATCH_DIGEST,
};

static ssize_t find_id(const struct image_store *s, const char *id)
{
        for (size_t i = 0; i < s->n_records; i++)
                if (streq(s->records[i]->id, id))
                        return (ssize_t) i;
        return -1;
}

static int find_prefix(const struct image_store *s, const char *name, const char *hex, size_t *ret,
                       struct ocid_error **err)
{
        size_t len = strlen(hex);
        ssize_t found = -1;

        for (size_t i = 0; i < s->n_records; i++) {
                if (strncmp(digest_hex(s->records[i]->id), hex, len) != 0)
                        continue;
                if (found >= 0)
                        return ocid_error_msg(err, ENOTUNIQ, "image ID prefix '%s' is ambiguous", name);
                found = (ssize_t) i;
        }
        if (found < 0)
                return ocid_error_msg(err, ENOENT, "image '%s' not found", name);
        *ret = (size_t) found;
        return 0;
}

static ssize_t find_name(const struct image_store *s, bool digests, const char *name)
{
        for (size_t i = 0; i < s->n_records; i++)
                if (ocid_strv_contains(digests ? s->records[i]->repo_digests : s->records[i]->repo_tags, name))
                        return (ssize_t) i;
        return -1;
}

/* Under s->lock. *ret_matched: the tag or repo digest that matched (for
 * STORE_MATCH_TAG/DIGEST), owned by the caller. */
static int store_find(struct image_store *s, const char *name, char *const *search, size_t *ret,
                      enum store_match *ret_kind, char **ret_matched, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *parse_error = NULL;
        struct image_ref **cands = NULL;
        const char *hex = NULL;
        size_t len = strlen(name);
        ssize_t i;
        int r;

        *ret_matched = NULL;
        if (len == 0)
                return ocid_error_msg(err, EINVAL, "empty image name");
        if (ocid_startswith(name, DIGEST_SHA256_PREFIX)) {
                hex = name + strlen(DIGEST_SHA256_PREFIX);
                if (strlen(hex) < STORE_ID_PREFIX_MIN || strlen(hex) > DIGEST_SHA256_HEX_LEN ||
                    !is_hex(hex, strlen(hex)))
                        return ocid_error_msg(err, EINVAL, "invalid image ID '%s'", name);
        } else if (len >= STORE_ID_PREFIX_MIN && len <= DIGEST_SHA256_HEX_LEN && is_hex(name, len)) {
                hex = name;
        }
        if (hex && strlen(hex) == DIGEST_SHA256_HEX_LEN) {
                _cleanup_free_ char *id = xasprintf("%s%s", DIGEST_SHA256_PREFIX, hex);

                i = find_id(s, id);
                if (i < 0)
                        return ocid_error_msg(err, ENOENT, "image '%s' not found", name);
                *ret = (size_t) i;
                *ret_kind = STORE_MATCH_ID;
                return 0;
        }

        if (hex == name || !hex) {
                r = image_ref_candidates(name, search, &cands, &parse_error);
                if (r < 0 && !hex)
                        return ocid_error_msg(err, ocid_error_code(&parse_error), "%s",
                                              ocid_error_message(&parse_error));
                for (size_t c = 0; r >= 0 && cands[c]; c++) {
                        bool by_digest = cands[c]->digest != NULL;
                        _cleanup_free_ char *key = by_digest ? image_ref_digested(cands[c], cands[c]->digest)
                                                             : image_ref_tagged(cands[c]);

                        if (!key)
                                continue;
                        i = find_name(s, by_digest, key);
                        if (i >= 0) {
                                image_ref_list_free(cands);
                                *ret = (size_t) i;
                                *ret_kind = by_digest ? STORE_MATCH_DIGEST : STORE_MATCH_TAG;
                                *ret_matched = TAKE_PTR(key);
                                return 0;
                        }
                }
                image_ref_list_free(cands);
        }
        if (hex) {
                r = find_prefix(s, name, hex, ret, err);
                if (r >= 0)
                        *ret_kind = STORE_MATCH_ID;
                return r;
        }
        return ocid_error_msg(err, ENOENT, "image '%s' not found", name);
}

int image_store_list(struct image_store *s, struct image_record ***ret, struct ocid_error **err)
{
        struct image_record **v;
        int r;

        r = store_sync(s, false, err);
        if (r < 0)
                return r;
        v = xcalloc(s->n_records + 1, sizeof(*v));
        for (size_t i = 0; i < s->n_records; i++)
                v[i] = image_record_copy(s->records[i]);
        pthread_mutex_unlock(&s->lock);
        *ret = v;
        return 0;
}

int image_store_get(struct image_store *s, const char *name, char *const *search_registries,
                    struct image_record **ret, struct ocid_error **err)
{
        _cleanup_free_ char *matched = NULL;
        enum store_match kind;
        size_t i;
        int r;

        r = store_sync(s, false, err);
        if (r < 0)
                return r;
        r = store_find(s, name, search_registries, &i, &kind, &matched, err);
        if (r >= 0)
                *ret = image_record_copy(s->records[i]);
        pthread_mutex_unlock(&s->lock);
        return r;
}

/* ---- leases ----------------------------------------------------------- */

int image_lease_new(struct image_store *s, struct image_lease **ret, struct ocid_error **err)
{
        _cleanup_(image_lease_freep) struct image_lease *l = xzalloc(sizeof(*l));
        _cleanup_close_ int lock_fd = -1;
        int r;

        l->store = s;
        l->fd = -1;
        r = ocid_random_id(l->name, err);
        if (r < 0)
                return r;
        /* Created and locked under the store lock, so that garbage
         * collection never sees it unlocked. */
        r = store_flock(s, LOCK_EX, &lock_fd, err);
        if (r < 0)
                return r;
        l->fd = openat(s->leases_fd, l->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_APPEND,
                       0600);
        if (l->fd < 0)
                return ocid_error_set(err, errno, "create lease '%s/%s/%s'", s->dir, STORE_LEASES_DIR,
                                      l->name);
        if (flock(l->fd, LOCK_EX) < 0) {
                r = ocid_error_set(err, errno, "lock lease '%s'", l->name);
                (void) unlinkat(s->leases_fd, l->name, 0);
                return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* Appends entries ("b <digest>" / "l <chain id>") under the store lock. */
static int lease_add(struct image_lease *l, char *const *blobs, char *const *layers, struct ocid_error **err)
{
        _cleanup_strv_ char **new_blobs = NULL, **new_layers = NULL;
        _cleanup_close_ int lock_fd = -1;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        f = open_memstream(&text, &len);
        if (!f)
                abort();
        for (size_t i = 0; blobs && blobs[i]; i++)
                if (!ocid_strv_contains(l->blobs, blobs[i]) && !ocid_strv_contains(new_blobs, blobs[i])) {
                        fprintf(f, "b %s\n", blobs[i]);
                        ocid_strv_push(&new_blobs, blobs[i]);
                }
        for (size_t i = 0; layers && layers[i]; i++)
                if (!ocid_strv_contains(l->layers, layers[i]) && !ocid_strv_contains(new_layers, layers[i])) {
                        fprintf(f, "l %s\n", layers[i]);
                        ocid_strv_push(&new_layers, layers[i]);
                }
        if (fclose(f) != 0)
                abort();
        if (len == 0)
                return 0;

        r = store_flock(l->store, LOCK_EX, &lock_fd, err);
        if (r < 0)
                return r;
        r = ocid_write_all(l->fd, text, len);
        if (r < 0)
                return ocid_error_set(err, -r, "write lease '%s'", l->name);
        for (size_t i = 0; new_blobs && new_blobs[i]; i++)
                ocid_strv_push(&l->blobs, new_blobs[i]);
        for (size_t i = 0; new_layers && new_layers[i]; i++)
                ocid_strv_push(&l->layers, new_layers[i]);
        return 0;
}

int image_lease_add_blob(struct image_lease *l, const char *digest, struct ocid_error **err)
{
        char *v[] = { (char *) digest, NULL };
        int r = digest_validate(digest, err);

        return r < 0 ? r : lease_add(l, v, NULL, err);
}

int image_lease_add_layer(struct image_lease *l, const char *chain_id, struct ocid_error **err)
{
        char *v[] = { (char *) chain_id, NULL };
        int r = digest_validate(chain_id, err);

        return r < 0 ? r : lease_add(l, NULL, v, err);
}

struct image_lease *image_lease_free(struct image_lease *l)
{
        if (!l)
                return NULL;
        if (l->fd >= 0) {
                (void) unlinkat(l->store->leases_fd, l->name, 0);
                (void) close(l->fd);
        }
        ocid_strv_free(l->blobs);
        ocid_strv_free(l->layers);
        free(l);
        return NULL;
}

/* Under the exclusive store lock: what live leases hold, and removal of
 * the leases of dead owners. */
static int leases_collect(struct image_store *s, char ***blobs, char ***layers, struct ocid_error **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int dfd;

        dfd = openat(s->leases_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return ocid_error_set(err, errno, "open '%s/%s'", s->dir, STORE_LEASES_DIR);
        d = fdopendir(dfd);
        if (!d) {
                int e = errno;

                (void) close(dfd);
                return ocid_error_set(err, e, "open '%s/%s'", s->dir, STORE_LEASES_DIR);
        }
        while ((errno = 0, de = readdir(d))) {
                _cleanup_close_ int fd = -1;
                _cleanup_fclose_ FILE *f = NULL;
                char line[128];

                if (de->d_name[0] == '.')
                        continue;
                fd = openat(s->leases_fd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
                if (fd < 0)
                        continue;
                if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
                        /* nobody holds it: its owner is gone */
                        (void) unlinkat(s->leases_fd, de->d_name, 0);
                        continue;
                }
                f = fdopen(TAKE_FD(fd), "r");
                if (!f)
                        continue;
                while (fgets(line, sizeof(line), f)) {
                        line[strcspn(line, "\n")] = '\0';
                        if (!digest_is_valid(line + 2) || line[1] != ' ')
                                continue;
                        if (line[0] == 'b')
                                ocid_strv_push(blobs, line + 2);
                        else if (line[0] == 'l')
                                ocid_strv_push(layers, line + 2);
                }
        }
        if (errno != 0)
                return ocid_error_set(err, errno, "read '%s/%s'", s->dir, STORE_LEASES_DIR);
        return 0;
}

/* ---- layers ----------------------------------------------------------- */

/* One lock file per layer, held while the layer is created or removed, by
 * this process's threads and other processes alike. The file is removed
 * while held; a waiter that then gets the lock on the removed file notices
 * and tries again. */
static int layer_lock(struct image_store *s, const char *hex, int *ret_fd, struct ocid_error **err)
{
        for (;;) {
                _cleanup_close_ int fd = -1;
                struct stat a, b;

                fd = openat(s->locks_fd, hex, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return ocid_error_set(err, errno, "open layer lock '%s'", hex);
                while (flock(fd, LOCK_EX) < 0)
                        if (errno != EINTR)
                                return ocid_error_set(err, errno, "lock layer '%s'", hex);
                if (fstat(fd, &a) < 0)
                        return ocid_error_set(err, errno, "stat layer lock '%s'", hex);
                if (fstatat(s->locks_fd, hex, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
                    a.st_ino == b.st_ino) {
                        *ret_fd = TAKE_FD(fd);
                        return 0;
                }
        }
}

static void layer_unlock(struct image_store *s, const char *hex, int fd)
{
        (void) unlinkat(s->locks_fd, hex, 0);
        (void) close(fd);
}

/* The image manifest and config of manifest_digest, from the blob store. */
static int read_image(struct image_store *s, const char *manifest_digest, struct image_manifest **ret_m,
                      struct image_config **ret_c, uint64_t *ret_config_size, struct ocid_error **err)
{
        _cleanup_image_manifest_ struct image_manifest *m = NULL;
        _cleanup_image_config_ struct image_config *c = NULL;
        _cleanup_free_ char *body = NULL;
        size_t len;
        int r;

        r = blobstore_read(s->blobs, manifest_digest, MANIFEST_MAX_SIZE, &body, &len, err);
        if (r >= 0)
                r = image_manifest_parse(body, len, &m, err);
        if (r < 0)
                return ocid_error_prefix(err, "manifest %s", manifest_digest);
        free(TAKE_PTR(body));
        r = blobstore_read(s->blobs, m->config.digest, IMAGE_CONFIG_MAX_SIZE, &body, &len, err);
        if (r >= 0)
                r = image_config_parse(body, len, &c, err);
        if (r >= 0)
                r = image_config_check_manifest(c, m, err);
        if (r < 0)
                return ocid_error_prefix(err, "config %s", m->config.digest);
        *ret_m = TAKE_PTR(m);
        *ret_c = TAKE_PTR(c);
        if (ret_config_size)
                *ret_config_size = len;
        return 0;
}

static int chain_ids(const struct image_config *c, char ***ret, struct ocid_error **err)
{
        _cleanup_strv_ char **v = xzalloc(sizeof(char *));
        char chain[DIGEST_STRING_SIZE];
        const char *parent = NULL;
        int r;

        for (size_t i = 0; i < c->n_diff_ids; i++) {
                r = layer_chain_id(parent, c->diff_ids[i], chain, err);
                if (r < 0)
                        return r;
                ocid_strv_push(&v, chain);
                parent = v[i];
        }
        *ret = TAKE_PTR(v);
        return 0;
}

static int storage_required(struct image_store *s, const char *what, struct ocid_error **err)
{
        if (!s->storage)
                return ocid_error_msg(err, EOPNOTSUPP, "%s needs a storage module", what);
        return 0;
}

static int fetch_missing(struct blob_writer *w, void *userdata, struct ocid_error **err)
{
        return ocid_error_msg(err, ENOENT, "blob %s not found", blob_writer_expected_digest(w));
}

int image_store_unpack(struct image_store *s, struct image_lease *lease, const char *manifest_digest,
                       const struct image_unpack_options *opts, struct ocid_error **err)
{
        static const struct image_unpack_options no_opts = { 0 };
        _cleanup_image_manifest_ struct image_manifest *m = NULL;
        _cleanup_image_config_ struct image_config *c = NULL;
        _cleanup_strv_ char **chains = NULL, **blobs = NULL;
        int r;

        if (!opts)
                opts = &no_opts;
        r = storage_required(s, "unpacking an image", err);
        if (r < 0)
                return r;
        r = read_image(s, manifest_digest, &m, &c, NULL, err);
        if (r < 0)
                return r;
        r = chain_ids(c, &chains, err);
        if (r < 0)
                return r;
        blobs = xzalloc(sizeof(char *));
        for (size_t i = 0; i < m->n_layers; i++)
                ocid_strv_push(&blobs, m->layers[i].desc.digest);
        r = lease_add(lease, blobs, chains, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < m->n_layers; i++) {
                const struct manifest_layer *ml = &m->layers[i];
                const char *hex = digest_hex(chains[i]);
                const char *parent = i > 0 ? digest_hex(chains[i - 1]) : NULL;
                struct image_layer_info info = {
                        .chain_id = chains[i],
                        .diff_id = c->diff_ids[i],
                        .digest = ml->desc.digest,
                        .size = ml->desc.size,
                        .media_type = ml->desc.media_type,
                };
                _cleanup_close_ int blob_fd = -1;
                int lock_fd = -1, exists;

                if (opts->deadline_ns > 0 && ocid_now_monotonic_ns() >= opts->deadline_ns)
                        return ocid_error_msg(err, ETIMEDOUT, "deadline exceeded before layer %s", ml->desc.digest);
                r = layer_lock(s, hex, &lock_fd, err);
                if (r < 0)
                        return r;
                exists = storage_layer_exists(s->storage, hex, err);
                if (exists < 0) {
                        layer_unlock(s, hex, lock_fd);
                        return exists;
                }
                if (exists > 0) {
                        layer_unlock(s, hex, lock_fd);
                        if (opts->progress)
                                opts->progress(opts->progress_userdata, i, m->n_layers, &info, true);
                        continue;
                }
                r = blobstore_ensure(s->blobs, ml->desc.digest, ml->desc.size,
                                     opts->fetch ? opts->fetch : fetch_missing,
                                     opts->fetch ? opts->fetch_userdata : NULL, opts->deadline_ns, err);
                if (r >= 0)
                        r = blobstore_open_blob(s->blobs, ml->desc.digest, &blob_fd, err);
                if (r >= 0)
                        r = layer_unpack(s->storage, blob_fd, ml->compression, c->diff_ids[i], hex, parent,
                                         opts->deadline_ns, NULL, err);
                if (r == -EBADMSG) {
                        /* A blob that does not give its diff_id is useless:
                         * drop it so that the next pull fetches it anew. */
                        (void) blobstore_delete(s->blobs, ml->desc.digest, NULL);
                }
                layer_unlock(s, hex, lock_fd);
                if (r < 0)
                        return ocid_error_prefix(err, "layer %s", ml->desc.digest);
                if (opts->progress)
                        opts->progress(opts->progress_userdata, i, m->n_layers, &info, false);
        }
        return 0;
}

/* ---- commit ----------------------------------------------------------- */

/* uid from "1000" or "1000:100"; a name otherwise; nothing when empty. */
static void record_set_user(struct image_record *r, const char *user)
{
        _cleanup_free_ char *u = NULL;
        int64_t uid;

        r->uid = -1;
        if (!user || !*user)
                return;
        u = xstrndup(user, strcspn(user, ":"));
        if (!*u)
                return;
        if (ocid_parse_int64(u, &uid) >= 0 && uid >= 0)
                r->uid = uid;
        else
                r->username = TAKE_PTR(u);
}

static void strv_add_unique(char ***v, const char *s)
{
        if (!ocid_strv_contains(*v, s))
                ocid_strv_push(v, s);
}

static bool strv_remove(char **v, const char *s)
{
        size_t i, n = ocid_strv_length(v);

        for (i = 0; i < n; i++)
                if (streq(v[i], s))
                        break;
        if (i == n)
                return false;
        free(v[i]);
        memmove(&v[i], &v[i + 1], (n - i) * sizeof(*v));
        return true;
}

static int record_build(struct image_store *s, const char *manifest_digest, struct image_record **ret,
                        struct ocid_error **err)
{
        _cleanup_image_manifest_ struct image_manifest *m = NULL;
        _cleanup_image_config_ struct image_config *c = NULL;
        _cleanup_image_record_ struct image_record *rec = NULL;
        _cleanup_strv_ char **chains = NULL;
        uint64_t config_size;
        int r;

        r = read_image(s, manifest_digest, &m, &c, &config_size, err);
        if (r < 0)
                return r;
        r = chain_ids(c, &chains, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_layers; i++) {
                r = storage_layer_exists(s->storage, digest_hex(chains[i]), err);
                if (r < 0)
                        return r;
                if (r == 0)
                        return ocid_error_msg(err, ENOENT, "layer %s of image %s is not unpacked",
                                              m->layers[i].desc.digest, m->config.digest);
        }

        rec = xzalloc(sizeof(*rec));
        rec->id = xstrdup(m->config.digest);
        rec->config_digest = xstrdup(m->config.digest);
        rec->manifest_digest = xstrdup(manifest_digest);
        rec->repo_tags = xzalloc(sizeof(char *));
        rec->repo_digests = xzalloc(sizeof(char *));
        rec->blobs = xzalloc(sizeof(char *));
        strv_add_unique(&rec->blobs, manifest_digest);
        strv_add_unique(&rec->blobs, m->config.digest);
        rec->size = config_size;
        rec->layers = xcalloc(m->n_layers ? m->n_layers : 1, sizeof(*rec->layers));
        rec->n_layers = m->n_layers;
        for (size_t i = 0; i < m->n_layers; i++) {
                rec->layers[i].chain_id = xstrdup(chains[i]);
                rec->layers[i].diff_id = xstrdup(c->diff_ids[i]);
                rec->layers[i].digest = xstrdup(m->layers[i].desc.digest);
                rec->layers[i].size = m->layers[i].desc.size;
                rec->layers[i].media_type = xstrdup(m->layers[i].desc.media_type);
                rec->size += (uint64_t) m->layers[i].desc.size;
                strv_add_unique(&rec->blobs, m->layers[i].desc.digest);
        }
        record_set_user(rec, c->user);
        *ret = TAKE_PTR(rec);
        return 0;
}

int image_store_commit(struct image_store *s, const char *manifest_digest, char *const *repo_tags,
                       char *const *repo_digests, char *const *extra_blobs, unsigned flags,
                       struct image_record **ret, struct ocid_error **err)
{
        _cleanup_image_record_ struct image_record *rec = NULL;
        _cleanup_close_ int lock_fd = -1;
        ssize_t existing;
        int r;

        r = storage_required(s, "recording an image", err);
        if (r < 0)
                return r;
        r = digest_validate(manifest_digest, err);
        if (r < 0)
                return r;
        r = record_build(s, manifest_digest, &rec, err);
        if (r < 0)
                return r;
        for (size_t i = 0; extra_blobs && extra_blobs[i]; i++) {
                r = digest_validate(extra_blobs[i], err);
                if (r < 0)
                        return r;
                strv_add_unique(&rec->blobs, extra_blobs[i]);
        }
        for (size_t i = 0; repo_tags && repo_tags[i]; i++)
                strv_add_unique(&rec->repo_tags, repo_tags[i]);
        for (size_t i = 0; repo_digests && repo_digests[i]; i++)
                strv_add_unique(&rec->repo_digests, repo_digests[i]);
        rec->pinned = flags & IMAGE_COMMIT_PINNED;

        r = store_flock(s, LOCK_EX, &lock_fd, err);
        if (r < 0)
                return r;
        r = store_sync(s, true, err);
        if (r < 0)
                return r;

        existing = find_id(s, rec->id);
        if (existing >= 0) {
                const struct image_record *old = s->records[existing];

                /* Older names first, so that listing order stays stable. */
                _cleanup_strv_ char **tags = strv_copy_or_empty(old->repo_tags);
                _cleanup_strv_ char **digests = strv_copy_or_empty(old->repo_digests);
                _cleanup_strv_ char **blobs = strv_copy_or_empty(old->blobs);

                for (size_t i = 0; rec->repo_tags[i]; i++)
                        strv_add_unique(&tags, rec->repo_tags[i]);
                for (size_t i = 0; rec->repo_digests[i]; i++)
                        strv_add_unique(&digests, rec->repo_digests[i]);
                for (size_t i = 0; rec->blobs[i]; i++)
                        strv_add_unique(&blobs, rec->blobs[i]);
                ocid_strv_free(rec->repo_tags);
                ocid_strv_free(rec->repo_digests);
                ocid_strv_free(rec->blobs);
                rec->repo_tags = TAKE_PTR(tags);
                rec->repo_digests = TAKE_PTR(digests);
                rec->blobs = TAKE_PTR(blobs);
                rec->pinned = rec->pinned || old->pinned;
                rec->created_ns = old->created_ns;
        } else {
                rec->created_ns = ocid_now_realtime_ns();
        }

        /* A tag names one image: it moves away from any other. */
        for (size_t i = 0; i < s->n_records && r >= 0; i++) {
                struct image_record *other = s->records[i];
                bool changed = false;

                if ((ssize_t) i == existing)
                        continue;
                for (size_t t = 0; rec->repo_tags[t]; t++)
                        changed |= strv_remove(other->repo_tags, rec->repo_tags[t]);
                if (changed)
                        r = record_write(s, other, err);
        }
        if (r >= 0)
                r = record_write(s, rec, err);
        if (r < 0) {
                cache_clear(s);
                pthread_mutex_unlock(&s->lock);
                return ocid_error_prefix(err, "record image %s", rec->id);
        }
        if (existing >= 0) {
                image_record_free(s->records[existing]);
                s->records[existing] = image_record_copy(rec);
        } else {
                s->records = xreallocarray(s->records, s->n_records + 2, sizeof(*s->records));
                s->records[s->n_records++] = image_record_copy(rec);
                s->records[s->n_records] = NULL;
                qsort(s->records, s->n_records, sizeof(*s->records), record_cmp);
        }
        r = store_mutated(s, err);
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                return r;
        if (ret)
                *ret = TAKE_PTR(rec);
        return 0;
}

/* ---- removal ---------------------------------------------------------- */

static int str_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool sorted_contains(char **v, size_t n, const char *s)
{
        return n > 0 && bsearch(&s, v, n, sizeof(*v), str_cmp) != NULL;
}

/* Under the exclusive store lock with s->lock held: every blob and layer
 * a record or a live lease keeps, sorted. */
static int store_referenced(struct image_store *s, char ***ret_blobs, size_t *ret_n_blobs, char ***ret_layers,
                            size_t *ret_n_layers, struct ocid_error **err)
{
        _cleanup_strv_ char **blobs = xzalloc(sizeof(char *)), **layers = xzalloc(sizeof(char *));
        int r;

        for (size_t i = 0; i < s->n_records; i++) {
                for (size_t b = 0; s->records[i]->blobs[b]; b++)
                        ocid_strv_push(&blobs, s->records[i]->blobs[b]);
                for (size_t l = 0; l < s->records[i]->n_layers; l++)
                        ocid_strv_push(&layers, s->records[i]->layers[l].chain_id);
        }
        r = leases_collect(s, &blobs, &layers, err);
        if (r < 0)
                return r;
        *ret_n_blobs = ocid_strv_length(blobs);
        *ret_n_layers = ocid_strv_length(layers);
        qsort(blobs, *ret_n_blobs, sizeof(char *), str_cmp);
        qsort(layers, *ret_n_layers, sizeof(char *), str_cmp);
        *ret_blobs = TAKE_PTR(blobs);
        *ret_layers = TAKE_PTR(layers);
        return 0;
}

/* Removes the layers and blobs of a removed image that nothing else keeps.
 * The record is already gone, so a failure here leaves garbage, never a
 * broken image: it is logged, not returned. */
static void store_collect(struct image_store *s, const struct image_record *gone)
{
        _cleanup_error_ struct ocid_error *error = NULL;
        _cleanup_strv_ char **blobs = NULL, **layers = NULL;
        _cleanup_close_ int lock_fd = -1;
        size_t n_blobs, n_layers;
        int r;

        r = store_flock(s, LOCK_EX, &lock_fd, &error);
        if (r >= 0)
                r = store_sync(s, true, &error);
        if (r < 0) {
                ocid_log(OCID_LOG_WARNING, "image %s: cannot collect its layers and blobs, ignoring: %s", gone->id,
                         ocid_error_message(&error));
                return;
        }
        r = store_referenced(s, &blobs, &n_blobs, &layers, &n_layers, &error);
        pthread_mutex_unlock(&s->lock);
        if (r < 0) {
                ocid_log(OCID_LOG_WARNING, "image %s: cannot collect its layers and blobs, ignoring: %s", gone->id,
                         ocid_error_message(&error));
                return;
        }

        /* Top-down: a layer is the parent of the one above it. Once one
         * is kept, every layer below it is kept too (it is in the keeper's
         * chain). */
        for (size_t i = gone->n_layers; i-- > 0;) {
                const char *chain = gone->layers[i].chain_id, *hex = digest_hex(chain);
                int layer_fd;

                if (sorted_contains(layers, n_layers, chain))
                        break;
                if (layer_lock(s, hex, &layer_fd, &error) < 0) {
                        ocid_log(OCID_LOG_WARNING, "image %s: layer %s stays, ignoring: %s", gone->id, hex,
                                 ocid_error_message(&error));
                        ocid_error_clear(&error);
                        break;
                }
                r = storage_layer_remove(s->storage, hex, &error);
                layer_unlock(s, hex, layer_fd);
                if (r < 0 && r != -ENOENT) {
                        ocid_log(OCID_LOG_WARNING, "image %s: layer %s stays, ignoring: %s", gone->id, hex,
                                 ocid_error_message(&error));
                        ocid_error_clear(&error);
                        break;
                }
                ocid_error_clear(&error);
                if (r >= 0)
                        ocid_log(OCID_LOG_DEBUG, "removed layer %s", hex);
        }
        for (size_t i = 0; gone->blobs[i]; i++) {
                if (sorted_contains(blobs, n_blobs, gone->blobs[i]))
                        continue;
                r = blobstore_delete(s->blobs, gone->blobs[i], &error);
                if (r < 0 && r != -ENOENT)
                        ocid_log(OCID_LOG_WARNING, "image %s: blob %s stays, ignoring: %s", gone->id,
                                 gone->blobs[i], ocid_error_message(&error));
                ocid_error_clear(&error);
        }
}

int image_store_remove(struct image_store *s, const char *name, char *const *search_registries,
                       struct ocid_error **err)
{
        _cleanup_image_record_ struct image_record *gone = NULL;
        _cleanup_free_ char *matched = NULL, *user = NULL;
        _cleanup_close_ int lock_fd = -1;
        enum store_match kind;
        struct image_record *rec;
        bool whole;
        size_t i;
        int r;

        r = storage_required(s, "removing an image", err);
        if (r < 0)
                return r;
        r = store_flock(s, LOCK_EX, &lock_fd, err);
        if (r < 0)
                return r;
        r = store_sync(s, true, err);
        if (r < 0)
                return r;
        r = store_find(s, name, search_registries, &i, &kind, &matched, err);
        if (r < 0)
                goto unlock;
        rec = s->records[i];

        switch (kind) {
        case STORE_MATCH_TAG:
                whole = ocid_strv_length(rec->repo_tags) <= 1;
                break;
        case STORE_MATCH_DIGEST:
                whole = ocid_strv_length(rec->repo_tags) == 0 && ocid_strv_length(rec->repo_digests) <= 1;
                break;
        default:
                whole = true;
                break;
        }

        if (!whole) {
                (void) strv_remove(kind == STORE_MATCH_TAG ? rec->repo_tags : rec->repo_digests, matched);
                r = record_write(s, rec, err);
                if (r < 0) {
                        cache_clear(s);
                        goto unlock;
                }
                r = store_mutated(s, err);
                goto unlock;
        }

        if (s->in_use) {
                r = s->in_use(s->in_use_userdata, rec->id, &user, err);
                if (r < 0)
                        goto unlock;
                if (r > 0) {
                        r = ocid_error_msg(err, EBUSY, "image %s is in use by %s", rec->id, user);
                        goto unlock;
                }
        }
        {
                _cleanup_free_ char *path = record_path(s, rec->id);

                if (unlink(path) < 0 && errno != ENOENT) {
                        r = ocid_error_set(err, errno, "remove '%s'", path);
                        goto unlock;
                }
        }
        gone = rec;
        memmove(&s->records[i], &s->records[i + 1], (s->n_records - i) * sizeof(*s->records));
        s->n_records--;
        r = store_mutated(s, err);

unlock:
        pthread_mutex_unlock(&s->lock);
        if (lock_fd >= 0)
                (void) close(TAKE_FD(lock_fd));
        if (r < 0)
                return r;
        if (!gone)
                return 0;
        ocid_log(OCID_LOG_INFO, "removed image %s", gone->id);
        store_collect(s, gone);
        return 1;
}

int image_store_prune(struct image_store *s, struct ocid_error **err)
{
        _cleanup_strv_ char **blobs = NULL, **layers = NULL, **all = NULL;
        _cleanup_close_ int lock_fd = -1;
        size_t n_blobs, n_layers;
        int r, removed = 0;

        r = store_flock(s, LOCK_EX, &lock_fd, err);
        if (r < 0)
                return r;
        r = store_sync(s, true, err);
        if (r < 0)
                return r;
        r = store_referenced(s, &blobs, &n_blobs, &layers, &n_layers, err);
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                return r;
        r = blobstore_list(s->blobs, &all, err);
        if (r < 0)
                return r;
        for (size_t i = 0; all[i]; i++) {
                if (sorted_contains(blobs, n_blobs, all[i]))
                        continue;
                r = blobstore_delete(s->blobs, all[i], err);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r == -ENOENT)
                        ocid_error_clear(err);
                else
                        removed++;
        }
        r = blobstore_clean_ingest(s->blobs, err);
        if (r < 0)
                return r;
        return removed;
}

/* ---- usage ------------------------------------------------------------ */

static int usage_walk(int dfd, const char *path, uint64_t *bytes, uint64_t *inodes, unsigned depth,
                      struct ocid_error **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd;

        if (depth > 8)
                return 0;
        fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : ocid_error_set(err, errno, "open '%s'", path);
        d = fdopendir(fd);
        if (!d) {
                int e = errno;

                (void) close(fd);
                return ocid_error_set(err, e, "open '%s'", path);
        }
        while ((errno = 0, de = readdir(d))) {
                struct stat st;
                int r;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                *bytes += (uint64_t) st.st_blocks * 512;
                *inodes += 1;
                if (S_ISDIR(st.st_mode)) {
                        r = usage_walk(dirfd(d), de->d_name, bytes, inodes, depth + 1, err);
                        if (r < 0)
                                return r;
                }
        }
        if (errno != 0)
                return ocid_error_set(err, errno, "read '%s'", path);
        return 0;
}

int image_store_blob_usage(struct image_store *s, uint64_t *ret_bytes, uint64_t *ret_inodes,
                           struct ocid_error **err)
{
        uint64_t bytes = 0, inodes = 0;
        struct stat st;
        int r;

        if (fstat(s->dir_fd, &st) < 0)
                return ocid_error_set(err, errno, "stat '%s'", s->dir);
        bytes = (uint64_t) st.st_blocks * 512;
        inodes = 1;
        r = usage_walk(s->dir_fd, ".", &bytes, &inodes, 0, err);
        if (r < 0)
                return ocid_error_prefix(err, "usage of '%s'", s->dir);
        *ret_bytes = bytes;
        *ret_inodes = inodes;
        return 0;
}
