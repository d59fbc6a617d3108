/* SPDX-License-Identifier: Apache-2.0 */
/* ocid image import / ls: OCI layouts (directory and tar, nested and
 * multi-platform indexes) and docker-archives (legacy and blob-named,
 * uncompressed and gzip layers) built here with libarchive and json-c,
 * imported into a real image store whose layers go to a storage module
 * linked into the test (it keeps each layer's tar as one file, so the test
 * sees exactly what the store handed it). Names, digest and diff_id
 * checks that leave nothing behind, unsafe paths, re-import, the listing
 * and the command line. */

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../test-common.h"
#include "../../modules/module-test.h"

#include <ocid/fs.h>
#include <ocid/host.h>
#include <ocid/json.h>
#include <ocid/module.h>

#include "daemon.h"
#include "image/digest.h"
#include "image/import.h"
#include "image/manifest.h"
#include "image/store.h"
#include "module-loader.h"

/* ---- the storage module of the test ---------------------------------------
 * Layer <id> is the file <root>/test-storage/<id> holding the tar it was
 * given; layer_create on a missing parent fails, as a real module's would. */

static char *ts_path(void *state, const char *id)
{
        return ocid_path_join(state, id);
}

static int ts_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        char *dir = ocid_path_join(ocid_host_root(), "test-storage");
        int r = ocid_mkdir_p(dir, 0700, err);

        if (r < 0) {
                free(dir);
                return r;
        }
        *ret_state = dir;
        return 0;
}

static void ts_fini(void *state)
{
        free(state);
}

static int ts_layer_exists(void *state, const char *id)
{
        _cleanup_free_ char *p = ts_path(state, id);

        return access(p, F_OK) == 0 ? 1 : 0;
}

static int ts_layer_create(void *state, const char *id, const char *parent, int tar_fd, uint64_t *ret_size,
                           struct ocid_error **err)
{
        _cleanup_free_ char *p = ts_path(state, id), *tmp = xasprintf("%s.tmp", p);
        _cleanup_close_ int fd = -1;
        char buf[65536];
        uint64_t n = 0;
        ssize_t k;

        if (ts_layer_exists(state, id))
                return ocid_error_msg(err, EEXIST, "layer %s exists", id);
        if (parent && !ts_layer_exists(state, parent))
                return ocid_error_msg(err, ENOENT, "parent %s is missing", parent);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return ocid_error_set(err, errno, "create '%s'", tmp);
        while ((k = read(tar_fd, buf, sizeof(buf))) > 0) {
                if (write(fd, buf, (size_t) k) != k)
                        return ocid_error_set(err, EIO, "write '%s'", tmp);
                n += (uint64_t) k;
        }
        if (k < 0)
                return ocid_error_set(err, errno, "read the layer");
        if (rename(tmp, p) < 0)
                return ocid_error_set(err, errno, "rename '%s'", tmp);
        if (ret_size)
                *ret_size = n;
        return 0;
}

static int ts_layer_remove(void *state, const char *id, struct ocid_error **err)
{
        _cleanup_free_ char *p = ts_path(state, id);

        if (unlink(p) < 0)
                return ocid_error_set(err, errno, "remove layer %s", id);
        return 0;
}

static const struct ocid_storage_ops ts_ops = {
        .base = { .init = ts_init, .fini = ts_fini },
        .layer_create = ts_layer_create,
        .layer_remove = ts_layer_remove,
        .layer_exists = ts_layer_exists,
};

OCID_MODULE_DEFINE(test_storage, "test-storage", OCID_MODULE_KIND_STORAGE, &ts_ops);

/* ---- building inputs ------------------------------------------------------ */

struct tentry {
        char *path;
        char *data;             /* NULL for a symlink */
        size_t len;
        char *symlink;
};

/* A set of files: written out as a directory or as a tar. */
struct tset {
        struct tentry *v;
        size_t n;
};

static void tset_add(struct tset *s, const char *path, const void *data, size_t len)
{
        struct tentry *e;

        s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
        e = &s->v[s->n++];
        *e = (struct tentry) { .path = xstrdup(path), .data = xmalloc(len + 1), .len = len };
        memcpy(e->data, data, len);
        e->data[len] = '\0';
}

static void tset_add_str(struct tset *s, const char *path, const char *text)
{
        tset_add(s, path, text, strlen(text));
}

static struct tentry *tset_find(struct tset *s, const char *path)
{
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->v[i].path, path))
                        return &s->v[i];
        return NULL;
}

static void tset_done(struct tset *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->v[i].path);
                free(s->v[i].data);
                free(s->v[i].symlink);
        }
        free(s->v);
        *s = (struct tset) { 0 };
}

/* A tar of the set, gzip-compressed when asked, in memory. */
static char *tset_tar(const struct tset *s, bool gzip, size_t *ret_len)
{
        size_t cap = 4u * 1024 * 1024, used = 0;
        char *buf = xmalloc(cap);
        struct archive *a = archive_write_new();

        assert_non_null(a);
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        if (gzip)
                assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
        for (size_t i = 0; i < s->n; i++) {
                struct archive_entry *e = archive_entry_new();

                archive_entry_set_pathname(e, s->v[i].path);
                archive_entry_set_mtime(e, 1700000000, 0);
                if (s->v[i].symlink) {
                        archive_entry_set_filetype(e, AE_IFLNK);
                        archive_entry_set_perm(e, 0777);
                        archive_entry_set_symlink(e, s->v[i].symlink);
                } else {
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_size(e, (la_int64_t) s->v[i].len);
                }
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                if (!s->v[i].symlink && s->v[i].len)
                        assert_int_equal(archive_write_data(a, s->v[i].data, s->v[i].len), (la_ssize_t) s->v[i].len);
                archive_entry_free(e);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        *ret_len = used;
        return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t) len);
        assert_int_equal(close(fd), 0);
}

static void tset_write_dir(const struct tset *s, const char *dir)
{
        for (size_t i = 0; i < s->n; i++) {
                _cleanup_free_ char *p = ocid_path_join(dir, s->v[i].path), *parent = xstrdup(p);

                *strrchr(parent, '/') = '\0';
                assert_int_equal(ocid_mkdir_p(parent, 0755, NULL), 0);
                if (s->v[i].symlink)
                        assert_int_equal(symlink(s->v[i].symlink, p), 0);
                else
                        write_file(p, s->v[i].data, s->v[i].len);
        }
}

static void tset_write_tar(const struct tset *s, const char *path, bool gzip)
{
        size_t len;
        _cleanup_free_ char *tar = tset_tar(s, gzip, &len);

        write_file(path, tar, len);
}

static char *digest_of(const void *data, size_t len)
{
        char d[DIGEST_STRING_SIZE];

        assert_int_equal(digest_buffer(data, len, d, NULL), 0);
        return xstrdup(d);
}

static const char *hex_of(const char *digest)
{
        return digest + strlen("sha256:");
}

/* An image: layers (each one file), its config and an OCI manifest. */
struct timage {
        size_t n_layers;
        char *layer[4];         /* blob as stored (compressed or not) */
        size_t layer_len[4];
        char *layer_digest[4];
        char *tar[4];           /* uncompressed */
        size_t tar_len[4];
        char *diff_id[4];
        char *config;
        char *config_digest;
        char *manifest;
        char *manifest_digest;
};

static char *json_text(struct json_object *o)
{
        char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

        json_object_put(o);
        return s;
}

static struct json_object *jdesc(const char *media_type, const char *digest, size_t size)
{
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "mediaType", json_object_new_string(media_type));
        json_object_object_add(o, "digest", json_object_new_string(digest));
        json_object_object_add(o, "size", json_object_new_int64((int64_t) size));
        return o;
}

/* An image for this host (or for architecture `arch`) with n layers, each
 * holding one file named after `seed`. */
static void timage_build(struct timage *im, const char *seed, size_t n, bool gzip, const char *arch)
{
        struct platform host = { 0 };
        struct json_object *config = json_object_new_object(), *rootfs = json_object_new_object();
        struct json_object *diff_ids = json_object_new_array(), *cc = json_object_new_object();
        struct json_object *manifest = json_object_new_object(), *layers = json_object_new_array();

        assert_int_equal(platform_host(&host, NULL), 0);
        *im = (struct timage) { .n_layers = n };
        for (size_t i = 0; i < n; i++) {
                struct tset files = { 0 };
                _cleanup_free_ char *name = xasprintf("%s-%zu", seed, i);
                _cleanup_free_ char *content = xasprintf("%s layer %zu\n", seed, i);
                struct tset blob = { 0 };

                tset_add_str(&files, name, content);
                im->tar[i] = tset_tar(&files, false, &im->tar_len[i]);
                im->diff_id[i] = digest_of(im->tar[i], im->tar_len[i]);
                if (gzip) {
                        im->layer[i] = tset_tar(&files, true, &im->layer_len[i]);
                } else {
                        im->layer[i] = xmalloc(im->tar_len[i]);
                        memcpy(im->layer[i], im->tar[i], im->tar_len[i]);
                        im->layer_len[i] = im->tar_len[i];
                }
                im->layer_digest[i] = digest_of(im->layer[i], im->layer_len[i]);
                json_object_array_add(diff_ids, json_object_new_string(im->diff_id[i]));
                json_object_array_add(layers, jdesc(gzip ? MEDIA_TYPE_OCI_LAYER_GZIP : MEDIA_TYPE_OCI_LAYER,
                                                    im->layer_digest[i], im->layer_len[i]));
                tset_done(&files);
                tset_done(&blob);
        }
        json_object_object_add(config, "architecture", json_object_new_string(arch ? arch : host.architecture));
        json_object_object_add(config, "os", json_object_new_string("linux"));
        json_object_object_add(cc, "User", json_object_new_string("1000"));
        json_object_object_add(cc, "Env", json_object_new_array());
        json_object_array_add(json_object_object_get(cc, "Env"), json_object_new_string(seed));
        json_object_object_add(config, "config", cc);
        json_object_object_add(rootfs, "type", json_object_new_string("layers"));
        json_object_object_add(rootfs, "diff_ids", diff_ids);
        json_object_object_add(config, "rootfs", rootfs);
        im->config = json_text(config);
        im->config_digest = digest_of(im->config, strlen(im->config));

        json_object_object_add(manifest, "schemaVersion", json_object_new_int(2));
        json_object_object_add(manifest, "mediaType", json_object_new_string(MEDIA_TYPE_OCI_MANIFEST));
        json_object_object_add(manifest, "config",
                               jdesc(MEDIA_TYPE_OCI_CONFIG, im->config_digest, strlen(im->config)));
        json_object_object_add(manifest, "layers", layers);
        im->manifest = json_text(manifest);
        im->manifest_digest = digest_of(im->manifest, strlen(im->manifest));
        platform_done(&host);
}

static void timage_done(struct timage *im)
{
        for (size_t i = 0; i < im->n_layers; i++) {
                free(im->layer[i]);
                free(im->layer_digest[i]);
                free(im->tar[i]);
                free(im->diff_id[i]);
        }
        free(im->config);
        free(im->config_digest);
        free(im->manifest);
        free(im->manifest_digest);
}

static void tset_add_blob(struct tset *s, const char *digest, const void *data, size_t len)
{
        _cleanup_free_ char *p = xasprintf("blobs/sha256/%s", hex_of(digest));

        if (!tset_find(s, p))
                tset_add(s, p, data, len);
}

/* The blobs of an image in OCI layout form. */
static void tset_add_image_blobs(struct tset *s, const struct timage *im)
{
        tset_add_blob(s, im->manifest_digest, im->manifest, strlen(im->manifest));
        tset_add_blob(s, im->config_digest, im->config, strlen(im->config));
        for (size_t i = 0; i < im->n_layers; i++)
                tset_add_blob(s, im->layer_digest[i], im->layer[i], im->layer_len[i]);
}

/* An index.json entry for a manifest or an index, with the annotations
 * ref.name and containerd's image name when not NULL. */
static struct json_object *index_entry(const char *media_type, const char *digest, size_t size, const char *ref_name,
                                       const char *ctrd_name, const char *arch)
{
        struct json_object *e = jdesc(media_type, digest, size);

        if (ref_name || ctrd_name) {
                struct json_object *ann = json_object_new_object();

                if (ref_name)
                        json_object_object_add(ann, "org.opencontainers.image.ref.name",
                                               json_object_new_string(ref_name));
                if (ctrd_name)
                        json_object_object_add(ann, "io.containerd.image.name", json_object_new_string(ctrd_name));
                json_object_object_add(e, "annotations", ann);
        }
        if (arch) {
                struct json_object *p = json_object_new_object();

                json_object_object_add(p, "os", json_object_new_string("linux"));
                json_object_object_add(p, "architecture", json_object_new_string(arch));
                json_object_object_add(e, "platform", p);
        }
        return e;
}

static char *index_json(struct json_object *entries)
{
        struct json_object *idx = json_object_new_object();

        json_object_object_add(idx, "schemaVersion", json_object_new_int(2));
        json_object_object_add(idx, "mediaType", json_object_new_string(MEDIA_TYPE_OCI_INDEX));
        json_object_object_add(idx, "manifests", entries);
        return json_text(idx);
}

/* An OCI layout of one image, named by ref.name `ref` (may be NULL). */
static void tset_oci_layout(struct tset *s, const struct timage *im, const char *ref)
{
        struct json_object *entries = json_object_new_array();
        _cleanup_free_ char *index = NULL;

        json_object_array_add(entries, index_entry(MEDIA_TYPE_OCI_MANIFEST, im->manifest_digest,
                                                   strlen(im->manifest), ref, NULL, NULL));
        index = index_json(entries);
        tset_add_str(s, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
        tset_add_str(s, "index.json", index);
        tset_add_image_blobs(s, im);
}

/* A legacy docker-archive (docker save before 25): <id>/layer.tar,
 * <config hex>.json, manifest.json with RepoTags (a JSON array text). */
static void tset_docker_archive(struct tset *s, const struct timage *im, const char *repo_tags)
{
        _cleanup_free_ char *config_name = xasprintf("%s.json", hex_of(im->config_digest));
        struct json_object *m = json_object_new_object(), *layers = json_object_new_array();
        struct json_object *list = json_object_new_array();
        _cleanup_free_ char *text = NULL;

        tset_add_str(s, config_name, im->config);
        for (size_t i = 0; i < im->n_layers; i++) {
                _cleanup_free_ char *p = xasprintf("%.64s/layer.tar", hex_of(im->layer_digest[i]));

                tset_add(s, p, im->layer[i], im->layer_len[i]);
                json_object_array_add(layers, json_object_new_string(p));
        }
        json_object_object_add(m, "Config", json_object_new_string(config_name));
        json_object_object_add(m, "RepoTags", repo_tags ? json_tokener_parse(repo_tags) : NULL);
        json_object_object_add(m, "Layers", layers);
        json_object_array_add(list, m);
        text = json_text(list);
        tset_add_str(s, "manifest.json", text);
        tset_add_str(s, "repositories", "{}");
}

/* ---- fixture ------------------------------------------------------------- */

struct fixture {
        char *dir;
        char *root;
        char *tmp;
        struct ocid_module *storage;
        struct image_store *store;
        char *warnings;
        size_t n_progress;
};

static void record_warning(void *userdata, const char *message)
{
        struct fixture *f = userdata;
        char *all = xasprintf("%s%s\n", f->warnings ? f->warnings : "", message);

        free(f->warnings);
        f->warnings = all;
}

static void count_progress(void *userdata, size_t index, size_t n_layers, const struct image_layer_info *layer,
                           bool present)
{
        struct fixture *f = userdata;

        assert_true(index < n_layers);
        f->n_progress++;
}

static int setup(void **state)
{
        struct fixture *f = xzalloc(sizeof(*f));
        struct ocid_error *e = NULL;
        int r;

        f->dir = test_tmpdir_new();
        f->root = ocid_path_join(f->dir, "root");
        f->tmp = ocid_path_join(f->dir, "tmp");
        ocid_host_set_paths(f->root, f->dir);
        assert_int_equal(ocid_mkdir_p(f->root, 0711, NULL), 0);
        f->storage = test_module_linked(&test_storage_LTX_ocid_module_info);
        r = module_init(f->storage, NULL, &e);
        assert_no_error(r, e);
        r = image_store_open(f->root, f->storage, &f->store, &e);
        assert_no_error(r, e);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        image_store_free(f->store);
        module_fini(f->storage);
        test_tmpdir_free(f->dir);
        free(f->root);
        free(f->tmp);
        free(f->warnings);
        free(f);
        return 0;
}

static struct image_import_options fixture_options(struct fixture *f, const char *name)
{
        return (struct image_import_options) {
                .name = name,
                .tmp_dir = f->tmp,
                .warn = record_warning,
                .warn_userdata = f,
                .progress = count_progress,
                .progress_userdata = f,
        };
}

static int do_import(struct fixture *f, const char *path, const char *name, struct image_imported ***ret,
                     struct ocid_error **err)
{
        struct image_import_options o = fixture_options(f, name);

        return image_import(f->store, path, &o, ret, err);
}

static char *fixture_path(struct fixture *f, const char *name)
{
        return ocid_path_join(f->dir, name);
}

static size_t count_dir(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *de;
        size_t n = 0;

        if (!d)
                return 0;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

static size_t store_count(struct fixture *f)
{
        struct image_record **list = NULL;
        struct ocid_error *e = NULL;
        size_t n = 0;
        int r = image_store_list(f->store, &list, &e);

        assert_no_error(r, e);
        while (list[n])
                n++;
        image_record_list_free(list);
        return n;
}

/* Nothing stored: no record, no blob, no layer, no staging directory. */
static void assert_nothing_stored(struct fixture *f)
{
        _cleanup_free_ char *blobs = ocid_path_join(f->root, "images/blobs/sha256");
        _cleanup_free_ char *layers = ocid_path_join(f->root, "test-storage");

        assert_int_equal(store_count(f), 0);
        assert_int_equal(count_dir(blobs), 0);
        assert_int_equal(count_dir(layers), 0);
        assert_int_equal(count_dir(f->tmp), 0);
}

/* The layer of chain ID `hex` holds exactly `tar`. */
static void assert_layer(struct fixture *f, const char *chain_id, const char *tar, size_t len)
{
        _cleanup_free_ char *p = xasprintf("%s/test-storage/%s", f->root, hex_of(chain_id));
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;

        assert_int_equal(ocid_read_file(p, 16u << 20, &buf, &n, NULL), 0);
        assert_int_equal(n, len);
        assert_memory_equal(buf, tar, len);
}

static void assert_strv_equal(char *const *v, const char *const *want)
{
        size_t n = 0;

        for (; want[n]; n++) {
                assert_non_null(v);
                assert_non_null(v[n]);
                assert_string_equal(v[n], want[n]);
        }
        assert_true(!v || !v[n]);
}

/* ---- OCI layouts ---------------------------------------------------------- */

static void test_oci_directory(void **state)
{
        struct fixture *f = *state;
        struct timage im;
        struct tset s = { 0 };
        _cleanup_free_ char *dir = fixture_path(f, "layout");
        _cleanup_free_ char *want_digest = NULL;
        _cleanup_image_imported_list_ struct image_imported **recs = NULL;
        struct ocid_error *e = NULL;
        int r;

        timage_build(&im, "dir", 2, false, NULL);
        tset_oci_layout(&s, &im, "registry.example:5000/team/app:1.0");
        tset_write_dir(&s, dir);

        r = do_import(f, dir, NULL, &recs, &e);
        assert_no_error(r, e);
        assert_non_null(recs[0]);
        assert_null(recs[1]);
        assert_string_equal(recs[0]->record->id, im.config_digest);
        assert_string_equal(recs[0]->record->manifest_digest, im.manifest_digest);
        assert_strv_equal(recs[0]->record->repo_tags, (const char *[]) { "registry.example:5000/team/app:1.0", NULL });
        want_digest = xasprintf("registry.example:5000/team/app@%s", im.manifest_digest);
        assert_strv_equal(recs[0]->record->repo_digests, (const char *[]) { want_digest, NULL });
        assert_int_equal(recs[0]->record->n_layers, 2);
        assert_int_equal(recs[0]->record->uid, 1000);
        /* The base layer's chain ID is its diff_id. */
        assert_string_equal(recs[0]->record->layers[0].chain_id, im.diff_id[0]);
        assert_layer(f, recs[0]->record->layers[0].chain_id, im.tar[0], im.tar_len[0]);
        assert_layer(f, recs[0]->record->layers[1].chain_id, im.tar[1], im.tar_len[1]);
        assert_int_equal(f->n_progress, 2);
        assert_null(f->warnings);
        assert_int_equal(store_count(f), 1);

        /* A new store (another process, the daemon) sees it by its name. */
        {
                _cleanup_image_store_ struct image_store *other = NULL;
                _cleanup_image_record_ struct image_record *rec = NULL;

                r = image_store_open(f->root, NULL, &other, &e);
                assert_no_error(r, e);
                r = image_store_get(other, "registry.example:5000/team/app:1.0", NULL, &rec, &e);
                assert_no_error(r, e);
                assert_string_equal(rec->id, im.config_digest);
        }
        tset_done(&s);
        timage_done(&im);
}

/* A tar of a layout with gzip layers; index.json points at a nested index
 * whose entries are for this host and another architecture, and only the
 * host's blobs are in the archive. */
static void test_oci_tar_multi_platform(void **state)
{
        struct fixture *f = *state;
        struct platform host = { 0 };
        struct timage mine, other;
        struct tset s = { 0 };
        struct json_object *nested = json_object_new_array(), *top = json_object_new_array();
        _cleanup_free_ char *tar = fixture_path(f, "layout.tar"), *nested_text = NULL, *nested_digest = NULL;
        _cleanup_free_ char *index = NULL, *want_digest = NULL;
        _cleanup_image_imported_list_ struct image_imported **recs = NULL;
        const char *other_arch;
        struct ocid_error *e = NULL;
        int r;

        assert_int_equal(platform_host(&host, NULL), 0);
        other_arch = streq(host.architecture, "s390x") ? "ppc64le" : "s390x";
        timage_build(&mine, "mine", 2, true, NULL);
        timage_build(&other, "other", 1, true, other_arch);

        json_object_array_add(nested, index_entry(MEDIA_TYPE_OCI_MANIFEST, other.manifest_digest,
                                                  strlen(other.manifest), NULL, NULL, other_arch));
        json_object_array_add(nested, index_entry(MEDIA_TYPE_OCI_MANIFEST, mine.manifest_digest,
                                                  strlen(mine.manifest), NULL, NULL, host.architecture));
        nested_text = index_json(nested);
        nested_digest = digest_of(nested_text, strlen(nested_text));
        json_object_array_add(top, index_entry(MEDIA_TYPE_OCI_INDEX, nested_digest, strlen(nested_text), "v2",
                                               "docker.io/library/multi:v2", NULL));
        index = index_json(top);

        tset_add_str(&s, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
        tset_add_str(&s, "index.json", index);
        tset_add_blob(&s, nested_digest, nested_text, strlen(nested_text));
        tset_add_image_blobs(&s, &mine);
        tset_write_tar(&s, tar, false);

        r = do_import(f, tar, NULL, &recs, &e);
        assert_no_error(r, e);
        assert_non_null(recs[0]);
        assert_null(recs[1]);
        assert_string_equal(recs[0]->record->id, mine.config_digest);
        assert_string_equal(recs[0]->record->manifest_digest, mine.manifest_digest);
        assert_strv_equal(recs[0]->record->repo_tags, (const char *[]) { "docker.io/library/multi:v2", NULL });
        /* The repo digest is the index's: what a registry serves the name by. */
        want_digest = xasprintf("docker.io/library/multi@%s", nested_digest);
        assert_strv_equal(recs[0]->record->repo_digests, (const char *[]) { want_digest, NULL });
        assert_true(ocid_strv_contains(recs[0]->record->blobs, nested_digest));
        /* Layers went in uncompressed. */
        assert_layer(f, recs[0]->record->layers[0].chain_id, mine.tar[0], mine.tar_len[0]);
        assert_layer(f, recs[0]->record->layers[1].chain_id, mine.tar[1], mine.tar_len[1]);
        assert_int_equal(count_dir(f->tmp), 0);

        tset_done(&s);
        timage_done(&mine);
        timage_done(&other);
        platform_done(&host);
}

/* Platform entries straight in index.json: the host's is taken, the other
 * is left with a warning. */
static void test_oci_platform_entries(void **state)
{
        struct fixture *f = *state;
        struct platform host = { 0 };
        struct timage mine, other;
        struct tset s = { 0 };
        struct json_object *top = json_object_new_array();
        _cleanup_free_ char *dir = fixture_path(f, "layout"), *index = NULL;
        _cleanup_image_imported_list_ struct image_imported **recs = NULL;
        struct ocid_error *e = NULL;
        int r;

        assert_int_equal(platform_host(&host, NULL), 0);
        timage_build(&mine, "mine", 1, false, NULL);
        timage_build(&other, "other", 1, false, "s390x");
        json_object_array_add(top, index_entry(MEDIA_TYPE_OCI_MANIFEST, other.manifest_digest, strlen(other.manifest),
                                               "example.com/p:1", NULL,
                                               streq(host.architecture, "s390x") ? "ppc64le" : "s390x"));
        json_object_array_add(top, index_entry(MEDIA_TYPE_OCI_MANIFEST, mine.manifest_digest, strlen(mine.manifest),
                                               "example.com/p:1", NULL, host.architecture));
        /* Not an image: left out with a warning. */
        json_object_array_add(top, index_entry("application/vnd.example.sbom+json", mine.config_digest,
                                               strlen(mine.config), NULL, NULL, NULL));
        index = index_json(top);
        tset_add_str(&s, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
        tset_add_str(&s, "index.json", index);
        tset_add_image_blobs(&s, &mine);
        tset_write_dir(&s, dir);

        r = do_import(f, dir, NULL, &recs, &e);
        assert_no_error(r, e);
        assert_non_null(recs[0]);
        assert_null(recs[1]);
        assert_string_equal(recs[0]->record->id, mine.config_digest);
        assert_strv_equal(recs[0]->record->repo_tags, (const char *[]) { "example.com/p:1", NULL });
        assert_contains(f->warnings, "manifests[2]: media type 'application/vnd.example.sbom+json' is not an image");

        tset_done(&s);
        timage_done(&mine);
        timage_done(&other);
        platform_done(&host);
}

/* ---- docker-archive ------------------------------------------------------- */

static void test_docker_archive_legacy(void **state)
{
        struct fixture *f = *state;
        struct timage im;
        struct tset s = { 0 };
        _cleanup_free_ char *tar = fixture_path(f, "docker.tar");
        _cleanup_image_imported_list_ struct image_imported **recs = NULL;
        _cleanup_free_ char *manifest = NULL;
        _cleanup_image_manifest_ struct image_manifest *m = NULL;
        size_t len;
        struct ocid_error *e = NULL;
        int r;

        timage_build(&im, "legacy", 3, false, NULL);
        tset_docker_archive(&s, &im, "[\"busybox:latest\", \"example.com/tools/bb:1.36\"]");
        tset_write_tar(&s, tar, false);

        r = do_import(f, tar, NULL, &recs, &e);
        assert_no_error(r, e);
        assert_non_null(recs[0]);
        assert_null(recs[1]);
        assert_string_equal(recs[0]->record->id, im.config_digest);
        assert_strv_equal(recs[0]->record->repo_tags,
                          (const char *[]) { "docker.io/library/busybox:latest", "example.com/tools/bb:1.36", NULL });
        /* No registry ever served this manifest: no repo digest. */
        assert_strv_equal(recs[0]->record->repo_digests, (const char *[]) { NULL });
        assert_int_equal(recs[0]->record->n_layers, 3);
        for (size_t i = 0; i < 3; i++)
                assert_layer(f, recs[0]->record->layers[i].chain_id, im.tar[i], im.tar_len[i]);

        /* The manifest the import made is in the blob store, with the
         * uncompressed layers as docker save had them. */
        r = blobstore_read(image_store_blobs(f->store), recs[0]->record->manifest_digest, MANIFEST_MAX_SIZE, &manifest, &len, &e);
        assert_no_error(r, e);
        r = image_manifest_parse(manifest, len, &m, &e);
        assert_no_error(r, e);
        assert_string_equal(m->media_type, MEDIA_TYPE_DOCKER_MANIFEST);
        assert_string_equal(m->config.digest, im.config_digest);
        assert_int_equal(m->n_layers, 3);
        assert_string_equal(m->layers[0].desc.media_type, MEDIA_TYPE_DOCKER_LAYER);
        assert_string_equal(m->layers[0].desc.digest, im.diff_id[0]);

        tset_done(&s);
        timage_done(&im);
}

/* docker save since 25: config and layers as blobs/sha256/<hex> (here
 * gzip-compressed layers); the archive itself gzip-compressed and read from
 * standard input. */
static void test_docker_archive_blobs_stdin(void **state)
{
        struct fixture *f = *state;
        struct timage im;
        struct tset s = { 0 };
        struct json_object *m = json_object_new_object(), *layers = json_object_new_array();
        struct json_object *list = json_object_new_array();
        _cleanup_free_ char *tar = fixture_path(f, "docker.tar.gz"), *config_path = NULL, *text = NULL;
        _cleanup_image_imported_list_ struct image_imported **recs = NULL;
        struct ocid_error *e = NULL;
        int saved, fd, r;

        timage_build(&im, "blobs", 2, true, NULL);
        config_path = xasprintf("blobs/sha256/%s", hex_of(im.config_digest));
        tset_add_str(&s, config_path, im.config);
        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *p = xasprintf("blobs/sha256/%s", hex_of(im.layer_digest[i]));

                tset_add(&s, p, im.layer[i], im.layer_len[i]);
                json_object_array_add(layers, json_object_new_string(p));
        }
        json_object_object_add(m, "Config", json_object_new_string(config_path));
        json_object_object_add(m, "RepoTags", json_tokener_parse("[\"localhost/app:dev\"]"));
        json_object_object_add(m, "Layers", layers);
        json_object_array_add(list, m);
        text = json_text(list);
        tset_add_str(&s, "manifest.json", text);
        tset_write_tar(&s, tar, true);

        saved = dup(STDIN_FILENO);
        fd = open(tar, O_RDONLY | O_CLOEXEC);
        assert_true(saved >= 0 && fd >= 0);
        assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
        close(fd);
        r = do_import(f, "-", NULL, &recs, &e);
        assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
        close(saved);
        assert_no_error(r, e);
        assert_non_null(recs[0]);
        assert_string_equal(recs[0]->record->id, im.config_digest);
        assert_strv_equal(recs[0]->record->repo_tags, (const char *[]) { "localhost/app:dev", NULL });
        assert_string_equal(recs[0]->record->layers[1].digest, im.layer_digest[1]);
        assert_string_equal(recs[0]->record->layers[1].media_type, MEDIA_TYPE_DOCKER_LAYER_GZIP);
        assert_layer(f, recs[0]->record->layers[0].chain_id, im.tar[0], im.tar_len[0]);
        assert_layer(f, recs[0]->record->layers[1].chain_id, im.tar[1], im.tar_len[1]);

        tset_done(&s);
        timage_done(&im);
}

/* Legacy archives link a repeated layer to its first copy. */
static void test_docker_archive_symlinked_layer(void **state)
{
        struct fixture *f = *state;
        struct timage im;
        struct tset s = { 0 };
        _cleanup_free_ char *tar = fixture_path(f, "docker.tar"), *target = NULL;
        _cleanup_image_imported_list_ struct image_imported **recs = NULL;
        struct tentry *second;
        struct ocid_error *e = NULL;
        int r;

        timage_build(&im, "link", 2, false, NULL);
        {
                /* The config lists layer 0 twice. */
                char *at = strstr(im.config, im.diff_id[1]);

                assert_non_null(at);
                memcpy(at, im.diff_id[0], strlen(im.diff_id[0]));
                free(im.config_digest);
                im.config_digest = digest_of(im.config, strlen(im.config));
        }
        tset_docker_archive(&s, &im, "[\"linked:1\"]");
        /* Layer 1's file is a link to layer 0's. */
        target = xasprintf("../%.64s/layer.tar", hex_of(im.layer_digest[0]));
        {
                _cleanup_free_ char *p = xasprintf("%.64s/layer.tar", hex_of(im.layer_digest[1]));

                second = tset_find(&s, p);
                assert_non_null(second);
                free(second->data);
                second->data = NULL;
                second->symlink = xstrdup(target);
        }
        tset_write_tar(&s, tar, false);

        r = do_import(f, tar, NULL, &recs, &e);
        assert_no_error(r, e);
        assert_string_equal(recs[0]->record->id, im.config_digest);
        assert_int_equal(recs[0]->record->n_layers, 2);
        assert_string_equal(recs[0]->record->layers[0].digest, recs[0]->record->layers[1].digest);
        assert_layer(f, recs[0]->record->layers[1].chain_id, im.tar[0], im.tar_len[0]);
        assert_strv_equal(recs[0]->record->repo_tags, (const char *[]) { "docker.io/library/linked:1", NULL });

        tset_done(&s);
        timage_done(&im);
}

/* ---- names ------------------------------------------------------------- */

static void test_names(void **state)
{
        struct fixture *f = *state;
        struct timage im;
        struct tset s = { 0 };
        _cleanup_free_ char *dir = fixture_path(f, "layout");
        struct ocid_error *e = NULL;
        int r;

        timage_build(&im, "names", 1, false, NULL);
        /* A bare tag: no repository to put it in. */
        tset_oci_layout(&s, &im, "v1.2");
        tset_write_dir(&s, dir);

        {
                _cleanup_image_imported_list_ struct image_imported **recs = NULL;

                r = do_import(f, dir, NULL, &recs, &e);
                assert_no_error(r, e);
                assert_strv_equal(recs[0]->record->repo_tags, (const char *[]) { NULL });
                assert_strv_equal(recs[0]->names, (const char *[]) { NULL });
                assert_contains(f->warnings, "tag 'v1.2' has no repository");
        }
        {
                /* --name gives the repository; the tag is the layout's. */
                _cleanup_image_imported_list_ struct image_imported **recs = NULL;

                r = do_import(f, dir, "myapp", &recs, &e);
                assert_no_error(r, e);
                assert_strv_equal(recs[0]->record->repo_tags, (const char *[]) { "docker.io/library/myapp:v1.2", NULL });
        }
        {
                /* --name with a tag names the image exactly. */
                _cleanup_image_imported_list_ struct image_imported **recs = NULL;

                r = do_import(f, dir, "quay.example/org/app:stable", &recs, &e);
                assert_no_error(r, e);
                /* Merged into the same record: both names now; this
                 * import gave one. */
                assert_strv_equal(recs[0]->names, (const char *[]) { "quay.example/org/app:stable", NULL });
                assert_true(ocid_strv_contains(recs[0]->record->repo_tags, "quay.example/org/app:stable"));
                assert_true(ocid_strv_contains(recs[0]->record->repo_tags, "docker.io/library/myapp:v1.2"));
                assert_int_equal(store_count(f), 1);
        }

        r = do_import(f, dir, "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL, &e);
        assert_error(r, e, EINVAL, "not a digest");
        ocid_error_clear(&e);
        r = do_import(f, dir, "Bad Name", NULL, &e);
        assert_int_equal(r, -EINVAL);
        assert_contains(e->message, "--name");
        ocid_error_clear(&e);

        tset_done(&s);
        timage_done(&im);
}

/* A name whose digest is not the image's is refused. */
static void test_name_with_wrong_digest(void **state)
{
        struct fixture *f = *state;
        struct timage im;
        struct tset s = { 0 };
        _cleanup_free_ char *dir = fixture_path(f, "layout");
        _cleanup_free_ char *ref = xasprintf("example.com/x@sha256:%064d", 0);
        struct ocid_error *e = NULL;
        int r;

        timage_build(&im, "wrongdigest", 1, false, NULL);
        tset_oci_layout(&s, &im, ref);
        tset_write_dir(&s, dir);
        r = do_import(f, dir, NULL, NULL, &e);
        assert_error(r, e, EINVAL, "is for sha256:0000");
        ocid_error_clear(&e);
        assert_nothing_stored(f);
        tset_done(&s);
        timage_done(&im);
}

/* ---- verification: every failure leaves nothing ------------------------- */

static void test_blob_digest_mismatch(void **state)
{
        struct fixture *f = *state;
        struct timage im;
        struct tset s = { 0 };
        _cleanup_free_ char *dir = fixture_path(f, "layout"), *tar = fixture_path(f, "layout.tar");
        _cleanup_free_ char *layer_path = NULL;
        struct tentry *layer;
        struct ocid_error *e = NULL;
        int r;

        timage_build(&im, "corrupt", 2, false, NULL);
        tset_oci_layout(&s, &im, "example.com/corrupt:1");
        layer_path = xasprintf("blobs/sha256/%s", hex_of(im.layer_digest[1]));
        layer = tset_find(&s, layer_path);
        layer->data[layer->len - 1] ^= 0x01;
        tset_write_dir(&s, dir);
        tset_write_tar(&s, tar, false);

        r = do_import(f, dir, NULL, NULL, &e);
        assert_error(r, e, EBADMSG, im.layer_digest[1]);
        assert_contains(e->message, "digest mismatch");
        ocid_error_clear(&e);
        assert_nothing_stored(f);

        r = do_import(f, tar, NULL, NULL, &e);
        assert_error(r, e, EBADMSG, "digest mismatch for");
        ocid_error_clear(&e);
        assert_nothing_stored(f);

        tset_done(&s);
        timage_done(&im);
}

static void test_config_and_manifest_mismatch(void **state)
{
        struct fixture *f = *state;
        struct timage im;
        struct tset s = { 0 };
        _cleanup_free_ char *dir = fixture_path(f, "layout"), *cpath = NULL;
        struct tentry *c;
        struct ocid_error *e = NULL;
        int r;

        timage_build(&im, "cfg", 1, false, NULL);
        tset_oci_layout(&s, &im, "example.com/cfg:1");
        cpath = xasprintf("blobs/sha256/%s", hex_of(im.config_digest));
        c = tset_find(&s, cpath);
        c->data[c->len - 2] = ' ';
        tset_write_dir(&s, dir);
        r = do_import(f, dir, NULL, NULL, &e);
        assert_error(r, e, EBADMSG, im.config_digest);
        ocid_error_clear(&e);
        assert_nothing_stored(f);
        tset_done(&s);
        timage_done(&im);
}

/* The layer matches its digest, but not the config's diff_id. */
static void test_diff_id_mismatch(void **state)
{
        struct fixture *f = *state;
        struct timage im, other;
        struct tset s = { 0 };
        _cleanup_free_ char *tar = fixture_path(f, "docker.tar"), *lpath = NULL;
        struct tentry *l;
        struct ocid_error *e = NULL;
        int r;

        timage_build(&im, "diff", 2, false, NULL);
        timage_build(&other, "intruder", 1, false, NULL);
        tset_docker_archive(&s, &im, "[\"diff:1\"]");
        lpath = xasprintf("%.64s/layer.tar", hex_of(im.layer_digest[1]));
        l = tset_find(&s, lpath);
        free(l->data);
        l->data = xmalloc(other.layer_len[0]);
        memcpy(l->data, other.layer[0], other.layer_len[0]);
        l->len = other.layer_len[0];
        tset_write_tar(&s, tar, false);

        r = do_import(f, tar, NULL, NULL, &e);
        assert_error(r, e, EBADMSG, "diff_id mismatch");
        assert_contains(e->message, im.diff_id[1]);
        ocid_error_clear(&e);
        assert_nothing_stored(f);
        tset_done(&s);
        timage_done(&im);
        timage_done(&other);
}

/* A gzip layer whose uncompressed content is not what the config says. */
static void test_compressed_diff_id_mismatch(void **state)
{
        struct fixture *f = *state;
        struct timage im;
        struct tset s = { 0 };
        _cleanup_free_ char *dir = fixture_path(f, "layout");
        struct json_object *config;
        struct ocid_error *e = NULL;
        int r;

        timage_build(&im, "gzdiff", 1, true, NULL);
        /* A config (and a manifest to match) that claims another diff_id. */
        config = json_tokener_parse(im.config);
        json_object_array_put_idx(json_object_object_get(json_object_object_get(config, "rootfs"), "diff_ids"), 0,
                                  json_object_new_string("sha256:1111111111111111111111111111111111111111111111111111111111111111"));
        free(im.config);
        im.config = json_text(config);
        free(im.config_digest);
        im.config_digest = digest_of(im.config, strlen(im.config));
        {
                struct json_object *m = json_tokener_parse(im.manifest);

                json_object_object_add(m, "config", jdesc(MEDIA_TYPE_OCI_CONFIG, im.config_digest, strlen(im.config)));
                free(im.manifest);
                im.manifest = json_text(m);
                free(im.manifest_digest);
                im.manifest_digest = digest_of(im.manifest, strlen(im.manifest));
        }
        tset_oci_layout(&s, &im, "example.com/gz:1");
        tset_write_dir(&s, dir);
        r = do_import(f, dir, NULL, NULL, &e);
        assert_error(r, e, EBADMSG, "diff_id mismatch: the config says sha256:1111");
        assert_contains(e->message, im.diff_id[0]);
        ocid_error_clear(&e);
        assert_nothing_stored(f);

        tset_done(&s);
        timage_done(&im);
}

/* ---- unsafe paths and bad input ------------------------------------------ */

static void import_docker_manifest(struct fixture *f, const struct timage *im, const char *config,
                                   const char *layer0, int code, const char *needle)
{
        struct tset s = { 0 };
        struct json_object *m = json_object_new_object(), *layers = json_object_new_array();
        struct json_object *list = json_object_new_array();
        _cleanup_free_ char *tar = fixture_path(f, "evil.tar"), *text = NULL;
        struct ocid_error *e = NULL;
        int r;

        tset_docker_archive(&s, im, NULL);
        json_object_array_add(layers, json_object_new_string(layer0));
        json_object_object_add(m, "Config", json_object_new_string(config));
        json_object_object_add(m, "RepoTags", json_tokener_parse("[\"evil:1\"]"));
        json_object_object_add(m, "Layers", layers);
        json_object_array_add(list, m);
        text = json_text(list);
        free(tset_find(&s, "manifest.json")->data);
        tset_find(&s, "manifest.json")->data = xstrdup(text);
        tset_find(&s, "manifest.json")->len = strlen(text);
        tset_write_tar(&s, tar, false);

        r = do_import(f, tar, NULL, NULL, &e);
        assert_error(r, e, code, needle);
        ocid_error_clear(&e);
        assert_nothing_stored(f);
        tset_done(&s);
}

static void test_docker_unsafe_paths(void **state)
{
        struct fixture *f = *state;
        struct timage im;
        _cleanup_free_ char *config = NULL, *layer = NULL, *escape = NULL;

        timage_build(&im, "evil", 1, false, NULL);
        config = xasprintf("%s.json", hex_of(im.config_digest));
        layer = xasprintf("%.64s/layer.tar", hex_of(im.layer_digest[0]));
        escape = xasprintf("%.64s/../../../../etc/passwd", hex_of(im.layer_digest[0]));

        import_docker_manifest(f, &im, config, "../../../../etc/passwd", EINVAL, "unsafe path in Layers[0]");
        import_docker_manifest(f, &im, config, "/etc/passwd", EINVAL, "'/etc/passwd' is an absolute path");
        import_docker_manifest(f, &im, config, escape, EINVAL, "contains '..'");
        import_docker_manifest(f, &im, "/etc/passwd", layer, EINVAL, "unsafe Config path");
        import_docker_manifest(f, &im, "../x.json", layer, EINVAL, "unsafe Config path");
        /* A layer the archive does not have. */
        import_docker_manifest(f, &im, config, "nothere/layer.tar", ENOENT, "'nothere/layer.tar' is missing");
        timage_done(&im);
}

/* Links and members of the archive cannot lead outside it either. */
static void test_tar_unsafe_members(void **state)
{
        struct fixture *f = *state;
        struct timage im;
        _cleanup_free_ char *tar = fixture_path(f, "evil.tar"), *layer = NULL;
        struct ocid_error *e = NULL;
        int r;

        timage_build(&im, "evil", 1, false, NULL);
        layer = xasprintf("%.64s/layer.tar", hex_of(im.layer_digest[0]));
        {
                struct tset s = { 0 };
                struct tentry *l;

                tset_docker_archive(&s, &im, "[\"evil:1\"]");
                l = tset_find(&s, layer);
                free(l->data);
                l->data = NULL;
                l->symlink = xstrdup("../../../../../etc/passwd");
                tset_write_tar(&s, tar, false);
                r = do_import(f, tar, NULL, NULL, &e);
                assert_error(r, e, EINVAL, "leads outside the archive");
                ocid_error_clear(&e);
                assert_nothing_stored(f);
                tset_done(&s);
        }
        {
                struct tset s = { 0 };
                struct tentry *l;

                tset_docker_archive(&s, &im, "[\"evil:1\"]");
                l = tset_find(&s, layer);
                free(l->data);
                l->data = NULL;
                l->symlink = xstrdup("/etc/passwd");
                tset_write_tar(&s, tar, false);
                r = do_import(f, tar, NULL, NULL, &e);
                assert_error(r, e, EINVAL, "is an absolute path");
                ocid_error_clear(&e);
                assert_nothing_stored(f);
                tset_done(&s);
        }
        {
                /* A member named with '..' refuses the whole archive. */
                struct tset s = { 0 };

                tset_docker_archive(&s, &im, "[\"evil:1\"]");
                tset_add_str(&s, "../../escape", "x");
                tset_write_tar(&s, tar, false);
                r = do_import(f, tar, NULL, NULL, &e);
                assert_error(r, e, EINVAL, "unsafe member name");
                ocid_error_clear(&e);
                assert_nothing_stored(f);
                tset_done(&s);
        }
        {
                /* A link loop ends. */
                struct tset s = { 0 };
                struct tentry *l;

                tset_docker_archive(&s, &im, "[\"evil:1\"]");
                l = tset_find(&s, layer);
                free(l->data);
                l->data = NULL;
                l->symlink = xstrdup("layer.tar");
                tset_write_tar(&s, tar, false);
                r = do_import(f, tar, NULL, NULL, &e);
                assert_error(r, e, ELOOP, "too many levels of links");
                ocid_error_clear(&e);
                assert_nothing_stored(f);
                tset_done(&s);
        }
        timage_done(&im);
}

static void test_bad_input(void **state)
{
        struct fixture *f = *state;
        struct timage im;
        _cleanup_free_ char *empty = fixture_path(f, "empty"), *junk = fixture_path(f, "junk.tar");
        _cleanup_free_ char *dir = fixture_path(f, "layout"), *missing = fixture_path(f, "missing");
        struct ocid_error *e = NULL;
        int r;

        timage_build(&im, "bad", 1, false, NULL);

        assert_int_equal(mkdir(empty, 0700), 0);
        r = do_import(f, empty, NULL, NULL, &e);
        assert_error(r, e, EINVAL, "neither an OCI image layout");
        ocid_error_clear(&e);

        write_file(junk, "this is not a tar archive, not at all, no\n", 42);
        r = do_import(f, junk, NULL, NULL, &e);
        assert_error(r, e, EINVAL, "not a tar archive");
        ocid_error_clear(&e);

        r = do_import(f, missing, NULL, NULL, &e);
        assert_error(r, e, ENOENT, "open: No such file or directory");
        ocid_error_clear(&e);

        {
                /* A missing blob. */
                struct tset s = { 0 };
                _cleanup_free_ char *p = xasprintf("blobs/sha256/%s", hex_of(im.layer_digest[0]));
                struct tentry *blob;

                tset_oci_layout(&s, &im, "example.com/bad:1");
                blob = tset_find(&s, p);
                free(blob->path);
                blob->path = xstrdup("blobs/sha256/elsewhere");
                tset_write_dir(&s, dir);
                r = do_import(f, dir, NULL, NULL, &e);
                assert_error(r, e, ENOENT, p);
                ocid_error_clear(&e);
                tset_done(&s);
                assert_int_equal(ocid_rm_rf(dir, NULL), 0);
        }
        {
                /* Bad JSON in index.json. */
                struct tset s = { 0 };

                tset_oci_layout(&s, &im, "example.com/bad:1");
                free(tset_find(&s, "index.json")->data);
                tset_find(&s, "index.json")->data = xstrdup("{\"schemaVersion\": 2, \"manifests\": [");
                tset_find(&s, "index.json")->len = strlen(tset_find(&s, "index.json")->data);
                tset_write_dir(&s, dir);
                r = do_import(f, dir, NULL, NULL, &e);
                assert_error(r, e, EINVAL, "index.json: bad JSON");
                ocid_error_clear(&e);
                tset_done(&s);
                assert_int_equal(ocid_rm_rf(dir, NULL), 0);
        }
        {
                /* An unknown layout version. */
                struct tset s = { 0 };

                tset_oci_layout(&s, &im, "example.com/bad:1");
                free(tset_find(&s, "oci-layout")->data);
                tset_find(&s, "oci-layout")->data = xstrdup("{\"imageLayoutVersion\":\"2.0.0\"}");
                tset_find(&s, "oci-layout")->len = strlen(tset_find(&s, "oci-layout")->data);
                tset_write_dir(&s, dir);
                r = do_import(f, dir, NULL, NULL, &e);
                assert_error(r, e, ENOTSUP, "unsupported imageLayoutVersion '2.0.0'");
                ocid_error_clear(&e);
                tset_done(&s);
                assert_int_equal(ocid_rm_rf(dir, NULL), 0);
        }
        {
                /* docker-archives are taken as tars only. */
                struct tset s = { 0 };

                tset_docker_archive(&s, &im, "[\"dir:1\"]");
                tset_write_dir(&s, dir);
                r = do_import(f, dir, NULL, NULL, &e);
                assert_error(r, e, ENOTSUP, "a directory with a manifest.json but no oci-layout");
                ocid_error_clear(&e);
                tset_done(&s);
                assert_int_equal(ocid_rm_rf(dir, NULL), 0);
        }
        {
                /* Bad JSON in manifest.json. */
                struct tset s = { 0 };
                _cleanup_free_ char *tar = fixture_path(f, "bad.tar");

                tset_docker_archive(&s, &im, NULL);
                free(tset_find(&s, "manifest.json")->data);
                tset_find(&s, "manifest.json")->data = xstrdup("[{\"Config\": 1}]");
                tset_find(&s, "manifest.json")->len = strlen(tset_find(&s, "manifest.json")->data);
                tset_write_tar(&s, tar, false);
                r = do_import(f, tar, NULL, NULL, &e);
                assert_error(r, e, EINVAL, "manifest.json: entry 0: 'Config' is missing or not a string");
                ocid_error_clear(&e);
                tset_done(&s);
        }
        assert_nothing_stored(f);
        timage_done(&im);
}

/* ---- re-import ------------------------------------------------------------ */

static void test_reimport(void **state)
{
        struct fixture *f = *state;
        struct timage im;
        struct tset s = { 0 };
        _cleanup_free_ char *tar = fixture_path(f, "docker.tar");
        _cleanup_free_ char *blobs = ocid_path_join(f->root, "images/blobs/sha256");
        _cleanup_free_ char *layers = ocid_path_join(f->root, "test-storage");
        struct ocid_error *e = NULL;
        size_t n_blobs, n_layers;
        char *first_manifest;
        int r;

        timage_build(&im, "again", 2, true, NULL);
        tset_docker_archive(&s, &im, "[\"again:1\"]");
        tset_write_tar(&s, tar, false);
        {
                _cleanup_image_imported_list_ struct image_imported **recs = NULL;

                r = do_import(f, tar, NULL, &recs, &e);
                assert_no_error(r, e);
                first_manifest = xstrdup(recs[0]->record->manifest_digest);
        }
        n_blobs = count_dir(blobs);
        n_layers = count_dir(layers);
        assert_int_equal(n_blobs, 4);
        assert_int_equal(n_layers, 2);
        f->n_progress = 0;
        {
                _cleanup_image_imported_list_ struct image_imported **recs = NULL;

                r = do_import(f, tar, NULL, &recs, &e);
                assert_no_error(r, e);
                /* The same manifest, record, blobs and layers. */
                assert_string_equal(recs[0]->record->manifest_digest, first_manifest);
                assert_strv_equal(recs[0]->record->repo_tags, (const char *[]) { "docker.io/library/again:1", NULL });
        }
        assert_int_equal(f->n_progress, 2);
        assert_int_equal(count_dir(blobs), n_blobs);
        assert_int_equal(count_dir(layers), n_layers);
        assert_int_equal(store_count(f), 1);
        free(first_manifest);
        tset_done(&s);
        timage_done(&im);
}

/* Two images in one archive that share a layer; one tag each. */
static void test_docker_archive_two_images(void **state)
{
        struct fixture *f = *state;
        struct timage a, b;
        struct tset s = { 0 }, s2 = { 0 };
        _cleanup_free_ char *tar = fixture_path(f, "two.tar"), *text = NULL;
        _cleanup_image_imported_list_ struct image_imported **recs = NULL;
        struct json_object *list, *lb;
        struct ocid_error *e = NULL;
        int r;

        timage_build(&a, "first", 1, false, NULL);
        timage_build(&b, "second", 1, false, NULL);
        tset_docker_archive(&s, &a, "[\"first:1\"]");
        tset_docker_archive(&s2, &b, "[\"second:2\"]");
        /* One manifest.json listing both. */
        list = json_tokener_parse(tset_find(&s, "manifest.json")->data);
        lb = json_tokener_parse(tset_find(&s2, "manifest.json")->data);
        json_object_array_add(list, json_object_get(json_object_array_get_idx(lb, 0)));
        json_object_put(lb);
        text = json_text(list);
        for (size_t i = 0; i < s2.n; i++)
                if (!streq(s2.v[i].path, "manifest.json") && !streq(s2.v[i].path, "repositories"))
                        tset_add(&s, s2.v[i].path, s2.v[i].data, s2.v[i].len);
        free(tset_find(&s, "manifest.json")->data);
        tset_find(&s, "manifest.json")->data = xstrdup(text);
        tset_find(&s, "manifest.json")->len = strlen(text);
        tset_write_tar(&s, tar, false);

        r = do_import(f, tar, NULL, &recs, &e);
        assert_no_error(r, e);
        assert_non_null(recs[0]);
        assert_non_null(recs[1]);
        assert_null(recs[2]);
        assert_strv_equal(recs[0]->record->repo_tags, (const char *[]) { "docker.io/library/first:1", NULL });
        assert_strv_equal(recs[1]->record->repo_tags, (const char *[]) { "docker.io/library/second:2", NULL });
        assert_int_equal(store_count(f), 2);

        /* --name with a tag cannot name two images. */
        r = do_import(f, tar, "x:1", NULL, &e);
        assert_error(r, e, EINVAL, "names one image, but there are 2");
        ocid_error_clear(&e);
        {
                /* Without a tag, each keeps its own tag under the name. */
                _cleanup_image_imported_list_ struct image_imported **named = NULL;

                r = do_import(f, tar, "example.com/both", &named, &e);
                assert_no_error(r, e);
                assert_true(ocid_strv_contains(named[0]->record->repo_tags, "example.com/both:1"));
                assert_true(ocid_strv_contains(named[1]->record->repo_tags, "example.com/both:2"));
        }
        {
                /* Two images may not end up with one name. */
                struct tentry *m = tset_find(&s, "manifest.json");
                char *at = strstr(m->data, "second:2");

                assert_non_null(at);
                at[strlen("second:")] = '1';
                tset_write_tar(&s, tar, false);
                r = do_import(f, tar, "example.com/both", NULL, &e);
                assert_error(r, e, EINVAL, "manifest.json: entry 0 and manifest.json: entry 1 are both named "
                                           "'example.com/both:1'");
                ocid_error_clear(&e);
        }
        tset_done(&s);
        tset_done(&s2);
        timage_done(&a);
        timage_done(&b);
}

/* ---- listing ------------------------------------------------------------ */

static void test_format_size(void **state)
{
        static const struct {
                uint64_t n;
                const char *want;
        } cases[] = {
                { 0, "0B" },           { 999, "999B" },         { 1000, "1.00kB" },
                { 4260000, "4.26MB" }, { 12345678, "12.3MB" },  { 123456789, "123MB" },
                { 999499, "999kB" },   { 999500, "1.00MB" },    { 5000000000000ULL, "5.00TB" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = image_format_size(cases[i].n);

                assert_string_equal(s, cases[i].want);
        }
}

static void test_list_print(void **state)
{
        struct image_record a = { 0 }, b = { 0 };
        struct image_record *list[] = { &a, &b, NULL };
        char *tags_a[] = { "docker.io/library/busybox:latest", "example.com/bb:1", NULL };
        char *digests_a[] = { "example.com/bb@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
                              NULL };
        char *none[] = { NULL };
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        struct ocid_error *e = NULL;
        int r;

        a.id = "sha256:0123456789ab0123456789ab0123456789ab0123456789ab0123456789ab";
        a.repo_tags = tags_a;
        a.repo_digests = digests_a;
        a.size = 4260000;
        b.id = "sha256:fedcba987654fedcba987654fedcba987654fedcba987654fedcba987654";
        b.repo_tags = none;
        b.repo_digests = none;
        b.size = 512;

        r = image_list_print(list, out, &e);
        assert_no_error(r, e);
        fclose(out);
        assert_string_equal(buf,
                            "IMAGE ID       REPOSITORY:TAG                     DIGEST         SIZE\n"
                            "0123456789ab   docker.io/library/busybox:latest   <none>         4.26MB\n"
                            "0123456789ab   example.com/bb:1                   abcdef012345   4.26MB\n"
                            "fedcba987654   <none>                             <none>         512B\n");
        free(buf);

        buf = NULL;
        out = open_memstream(&buf, &len);
        r = image_list_print((struct image_record *[]) { NULL }, out, &e);
        assert_no_error(r, e);
        fclose(out);
        assert_string_equal(buf, "IMAGE ID       REPOSITORY:TAG   DIGEST         SIZE\n");
        free(buf);
}

/* ---- the command line ------------------------------------------------------ */

/* Runs image_cli_main with stdout and stderr captured. */
static int run_cli(struct fixture *f, char **ret_out, char **ret_errout, const char *const *args)
{
        _cleanup_free_ char *outp = fixture_path(f, "cli.out"), *errp = fixture_path(f, "cli.err");
        _cleanup_free_ char *conf = fixture_path(f, "crio.conf");
        struct daemon_options o = { .config_path = conf };
        char *argv[16];
        int argc = 0, saved_out, saved_err, fd_out, fd_err, code;

        for (; args[argc]; argc++)
                argv[argc] = (char *) args[argc];
        argv[argc] = NULL;
        fflush(stdout);
        fflush(stderr);
        saved_out = dup(STDOUT_FILENO);
        saved_err = dup(STDERR_FILENO);
        fd_out = open(outp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        fd_err = open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(saved_out >= 0 && saved_err >= 0 && fd_out >= 0 && fd_err >= 0);
        dup2(fd_out, STDOUT_FILENO);
        dup2(fd_err, STDERR_FILENO);
        code = image_cli_main(&o, argc, argv);
        fflush(stdout);
        fflush(stderr);
        dup2(saved_out, STDOUT_FILENO);
        dup2(saved_err, STDERR_FILENO);
        close(saved_out);
        close(saved_err);
        close(fd_out);
        close(fd_err);
        assert_int_equal(ocid_read_file(outp, 1u << 20, ret_out, NULL, NULL), 0);
        assert_int_equal(ocid_read_file(errp, 1u << 20, ret_errout, NULL, NULL), 0);
        return code;
}

/* The command line: the configuration's storage module (storage-vfs,
 * from $OCID_MODULE_DIR) loaded by modules_load as the daemon loads it;
 * exit codes 0, 1 (failure) and 2 (usage). */
static void test_cli(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *root2 = fixture_path(f, "root2"), *conf = NULL, *tar = fixture_path(f, "docker.tar");
        _cleanup_free_ char *short_id = NULL;
        struct timage im;
        struct tset s = { 0 };
        char *out = NULL, *errout = NULL;
        int code;

        setenv("OCID_MODULE_DIR", test_env_dir("OCID_MODULE_DIR"), 1);
        conf = xasprintf("root = \"%s\";\nrunroot = \"%s/run\";\nstorage = \"storage-vfs\";\n", root2, f->dir);
        test_write_file(f->dir, "crio.conf", conf);

        /* Nothing yet; listing creates nothing. */
        code = run_cli(f, &out, &errout, (const char *[]) { "image", "ls", NULL });
        assert_int_equal(code, 0);
        assert_string_equal(out, "IMAGE ID       REPOSITORY:TAG   DIGEST         SIZE\n");
        assert_int_equal(access(root2, F_OK), -1);
        free(out);
        free(errout);

        /* Usage errors: exit code 2. */
        code = run_cli(f, &out, &errout, (const char *[]) { "image", "import", NULL });
        assert_int_equal(code, 2);
        assert_contains(errout, "missing PATH");
        free(out);
        free(errout);
        code = run_cli(f, &out, &errout, (const char *[]) { "image", "ls", "--name", "x", NULL });
        assert_int_equal(code, 2);
        assert_contains(errout, "--name is for import");
        free(out);
        free(errout);
        code = run_cli(f, &out, &errout, (const char *[]) { "image", "frobnicate", NULL });
        assert_int_equal(code, 2);
        assert_contains(errout, "unknown command 'frobnicate'");
        free(out);
        free(errout);

        /* A failed import: exit code 1 and the reason. */
        code = run_cli(f, &out, &errout, (const char *[]) { "image", "import", f->tmp, NULL });
        assert_int_equal(code, 1);
        assert_contains(errout, "import '");
        assert_contains(errout, "': open: No such file or directory");
        free(out);
        free(errout);
        assert_int_equal(mkdir(f->tmp, 0700), 0);
        code = run_cli(f, &out, &errout, (const char *[]) { "image", "import", f->tmp, NULL });
        assert_int_equal(code, 1);
        assert_contains(errout, "neither an OCI image layout");
        free(out);
        free(errout);

        /* An import, then the listing shows it. */
        timage_build(&im, "cli", 2, true, NULL);
        tset_docker_archive(&s, &im, "[\"cli:1\"]");
        tset_write_tar(&s, tar, false);
        short_id = xstrndup(hex_of(im.config_digest), 12);
        code = run_cli(f, &out, &errout, (const char *[]) { "image", "import", tar, "--name", "example.com/cli", NULL });
        if (code != 0)
                print_error("stderr: %s\n", errout);
        assert_int_equal(code, 0);
        assert_contains(out, "Imported image ");
        assert_contains(out, im.config_digest);
        assert_contains(out, " as example.com/cli:1\n");
        assert_contains(errout, "layer 2/2");
        free(out);
        free(errout);
        /* The layers went to the configured module. */
        {
                _cleanup_free_ char *vfs = ocid_path_join(root2, "storage-vfs");

                assert_int_equal(access(vfs, F_OK), 0);
        }

        code = run_cli(f, &out, &errout, (const char *[]) { "image", "ls", NULL });
        assert_int_equal(code, 0);
        assert_contains(out, short_id);
        assert_contains(out, "example.com/cli:1");
        free(out);
        free(errout);

        tset_done(&s);
        timage_done(&im);
}

OCID_TEST_MAIN(cmocka_unit_test_setup_teardown(test_oci_directory, setup, teardown),
               cmocka_unit_test_setup_teardown(test_oci_tar_multi_platform, setup, teardown),
               cmocka_unit_test_setup_teardown(test_oci_platform_entries, setup, teardown),
               cmocka_unit_test_setup_teardown(test_docker_archive_legacy, setup, teardown),
               cmocka_unit_test_setup_teardown(test_docker_archive_blobs_stdin, setup, teardown),
               cmocka_unit_test_setup_teardown(test_docker_archive_symlinked_layer, setup, teardown),
               cmocka_unit_test_setup_teardown(test_docker_archive_two_images, setup, teardown),
               cmocka_unit_test_setup_teardown(test_names, setup, teardown),
               cmocka_unit_test_setup_teardown(test_name_with_wrong_digest, setup, teardown),
               cmocka_unit_test_setup_teardown(test_blob_digest_mismatch, setup, teardown),
               cmocka_unit_test_setup_teardown(test_config_and_manifest_mismatch, setup, teardown),
               cmocka_unit_test_setup_teardown(test_diff_id_mismatch, setup, teardown),
               cmocka_unit_test_setup_teardown(test_compressed_diff_id_mismatch, setup, teardown),
               cmocka_unit_test_setup_teardown(test_docker_unsafe_paths, setup, teardown),
               cmocka_unit_test_setup_teardown(test_tar_unsafe_members, setup, teardown),
               cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
               cmocka_unit_test_setup_teardown(test_reimport, setup, teardown),
               cmocka_unit_test(test_format_size),
               cmocka_unit_test(test_list_print),
               cmocka_unit_test_setup_teardown(test_cli, setup, teardown));
