/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared by test-store.c and test-pull.c: a fake storage module linked
 * into the test (it keeps each layer's tar as a file and checks the core's
 * promises: parents exist, never two operations on one ID at once), and
 * builders for layer tars and images. */

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/module.h>
#include <ocid/util.h>

#include "image/digest.h"
#include "image/manifest.h"
#include "module-loader.h"

/* ---- the fake storage module ------------------------------------------- */

struct fake_storage {
        char *root;
        pthread_mutex_t lock;
        char **busy;            /* IDs with an operation running */
        int creates, removes, violations;
        int create_delay_ms;    /* make creations slow, to overlap them */
        int fail_create;        /* the next creations fail with EIO */
        uint64_t last_size;
};

static struct fake_storage *fake_storage_current;

static char *fs_path(struct fake_storage *fs, const char *id, const char *suffix)
{
        return xasprintf("%s/%s%s", fs->root, id, suffix);
}

static bool fs_has(struct fake_storage *fs, const char *id)
{
        _cleanup_free_ char *p = fs_path(fs, id, ".tar");

        return access(p, F_OK) == 0;
}

static void fs_enter(struct fake_storage *fs, const char *id)
{
        pthread_mutex_lock(&fs->lock);
        if (ocid_strv_contains(fs->busy, id))
                fs->violations++;
        ocid_strv_push(&fs->busy, id);
        pthread_mutex_unlock(&fs->lock);
}

static void fs_leave(struct fake_storage *fs, const char *id)
{
        pthread_mutex_lock(&fs->lock);
        for (size_t i = 0; fs->busy && fs->busy[i]; i++)
                if (streq(fs->busy[i], id)) {
                        free(fs->busy[i]);
                        memmove(&fs->busy[i], &fs->busy[i + 1], (ocid_strv_length(fs->busy) - i) * sizeof(char *));
                        break;
                }
        pthread_mutex_unlock(&fs->lock);
}

static int fs_init(const config_setting_t *cfg, void **ret, struct ocid_error **err)
{
        struct fake_storage *fs = xzalloc(sizeof(*fs));
        char tmpl[] = "/tmp/ocid-test-fakestorage-XXXXXX";

        if (!mkdtemp(tmpl)) {
                free(fs);
                return ocid_error_set(err, errno, "mkdtemp");
        }
        fs->root = xstrdup(tmpl);
        pthread_mutex_init(&fs->lock, NULL);
        fake_storage_current = fs;
        *ret = fs;
        return 0;
}

static void fs_fini(void *state)
{
        struct fake_storage *fs = state;

        (void) ocid_rm_rf(fs->root, NULL);
        free(fs->root);
        ocid_strv_free(fs->busy);
        pthread_mutex_destroy(&fs->lock);
        if (fake_storage_current == fs)
                fake_storage_current = NULL;
        free(fs);
}

static int fs_layer_create(void *state, const char *id, const char *parent, int fd, uint64_t *ret_size,
                           struct ocid_error **err)
{
        struct fake_storage *fs = state;
        _cleanup_free_ char *tmp = fs_path(fs, id, ".tmp"), *path = fs_path(fs, id, ".tar");
        _cleanup_free_ char *ppath = fs_path(fs, id, ".parent");
        _cleanup_close_ int out = -1;
        char buf[65536];
        uint64_t size = 0;
        ssize_t n;
        int r = 0;

        fs_enter(fs, id);
        if (fs->create_delay_ms)
                usleep((useconds_t) fs->create_delay_ms * 1000);
        if (fs_has(fs, id)) {
                r = ocid_error_msg(err, EEXIST, "layer %s exists", id);
                goto out;
        }
        if (parent && !fs_has(fs, parent)) {
                r = ocid_error_msg(err, ENOENT, "parent %s of %s missing", parent, id);
                goto out;
        }
        out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (out < 0) {
                r = ocid_error_set(err, errno, "open %s", tmp);
                goto out;
        }
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
                if (write(out, buf, (size_t) n) != n) {
                        r = ocid_error_set(err, EIO, "write");
                        goto out;
                }
                size += (uint64_t) n;
        }
        if (n < 0) {
                r = ocid_error_set(err, errno, "read the tar");
                goto out;
        }
        if (fs->fail_create > 0) {
                fs->fail_create--;
                r = ocid_error_msg(err, EIO, "fake failure creating %s", id);
                (void) unlink(tmp);
                goto out;
        }
        if (parent && ocid_write_file_atomic(ppath, parent, strlen(parent), 0600, err) < 0) {
                r = -EIO;
                goto out;
        }
        if (rename(tmp, path) < 0) {
                r = ocid_error_set(err, errno, "rename");
                goto out;
        }
        pthread_mutex_lock(&fs->lock);
        fs->creates++;
        fs->last_size = size;
        pthread_mutex_unlock(&fs->lock);
        *ret_size = size;
out:
        fs_leave(fs, id);
        return r;
}

static int fs_layer_remove(void *state, const char *id, struct ocid_error **err)
{
        struct fake_storage *fs = state;
        _cleanup_free_ char *path = fs_path(fs, id, ".tar"), *ppath = fs_path(fs, id, ".parent");
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r = 0;

        fs_enter(fs, id);
        if (!fs_has(fs, id)) {
                r = ocid_error_msg(err, ENOENT, "layer %s not found", id);
                goto out;
        }
        d = opendir(fs->root);
        while (d && (de = readdir(d))) {
                _cleanup_free_ char *p = NULL, *content = NULL;

                if (!ocid_endswith(de->d_name, ".parent"))
                        continue;
                p = xasprintf("%s/%s", fs->root, de->d_name);
                if (ocid_read_file(p, 4096, &content, NULL, NULL) >= 0 && streq(content, id)) {
                        r = ocid_error_msg(err, EBUSY, "layer %s is a parent", id);
                        goto out;
                }
        }
        (void) unlink(path);
        (void) unlink(ppath);
        pthread_mutex_lock(&fs->lock);
        fs->removes++;
        pthread_mutex_unlock(&fs->lock);
out:
        fs_leave(fs, id);
        return r;
}

static int fs_layer_exists(void *state, const char *id)
{
        return fs_has(state, id) ? 1 : 0;
}

static int fs_usage(void *state, struct ocid_storage_usage *ret, struct ocid_error **err)
{
        struct fake_storage *fs = state;
        _cleanup_closedir_ DIR *d = opendir(fs->root);
        struct dirent *de;

        ret->bytes = 0;
        ret->inodes = 1;
        while (d && (de = readdir(d))) {
                struct stat st;

                if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, 0) < 0)
                        continue;
                ret->bytes += (uint64_t) st.st_size;
                ret->inodes++;
        }
        ret->mountpoint = "/fake";
        return 0;
}

static int fs_rootfs_usage(void *state, const char *id, struct ocid_storage_usage *ret, struct ocid_error **err)
{
        return ocid_error_msg(err, ENOENT, "no rootfs %s", id);
}

static const struct ocid_storage_ops fake_storage_ops = {
        .base = { .init = fs_init, .fini = fs_fini },
        .layer_create = fs_layer_create,
        .layer_remove = fs_layer_remove,
        .layer_exists = fs_layer_exists,
        .usage = fs_usage,
        .rootfs_usage = fs_rootfs_usage,
};

OCID_MODULE_DEFINE(fake_image_storage, "fake-image-storage", OCID_MODULE_KIND_STORAGE, &fake_storage_ops);

/* The module wrapped as the loader would have loaded it, initialised. */
static inline struct ocid_module *fake_storage_start(void)
{
        struct ocid_module *m = xzalloc(sizeof(*m));
        struct ocid_error *e = NULL;

        m->name = xstrdup(fake_image_storage_LTX_ocid_module_info.name);
        m->path = xstrdup("(linked into the test)");
        m->kind = OCID_MODULE_KIND_STORAGE;
        m->info = &fake_image_storage_LTX_ocid_module_info;
        m->ops = m->info->ops;
        if (module_init(m, NULL, &e) < 0)
                fail_msg("%s", ocid_error_message(&e));
        return m;
}

/* ---- building images --------------------------------------------------- */

struct test_file {
        const char *name;
        const char *content;
};

struct test_blob {
        char *data;
        size_t len;
        char digest[DIGEST_STRING_SIZE];
};

static inline void test_blob_done(struct test_blob *b)
{
        free(b->data);
        *b = (struct test_blob) { 0 };
}

static inline void test_blob_set(struct test_blob *b, char *data, size_t len)
{
        b->data = data;
        b->len = len;
        assert_int_equal(digest_buffer(data, len, b->digest, NULL), 0);
}

/* A tar of files (NULL-name-terminated) compressed as asked; *ret_tar
 * receives the uncompressed tar (for the diff_id). */
static inline void test_layer_build(const struct test_file *files, enum layer_compression c, struct test_blob *ret,
                                    struct test_blob *ret_tar)
{
        struct archive *a;
        size_t cap = 1 << 20, used = 0;
        char *buf = xzalloc(cap);

        for (int pass = 0; pass < 2; pass++) {
                bool compress = pass == 1;

                if (compress && c == LAYER_COMPRESSION_NONE)
                        break;
                a = archive_write_new();
                assert_non_null(a);
                assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
                if (compress && c == LAYER_COMPRESSION_GZIP) {
                        assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
                        /* no time stamp: equal layers compress equally */
                        (void) archive_write_set_options(a, "gzip:!timestamp");
                }
                if (compress && c == LAYER_COMPRESSION_ZSTD)
                        assert_true(archive_write_add_filter_zstd(a) >= ARCHIVE_WARN);
                (void) archive_write_set_bytes_in_last_block(a, 1);
                used = 0;
                memset(buf, 0, cap);
                assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
                for (size_t i = 0; files[i].name; i++) {
                        struct archive_entry *e = archive_entry_new();
                        size_t len = strlen(files[i].content);

                        archive_entry_set_pathname(e, files[i].name);
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_size(e, (la_int64_t) len);
                        archive_entry_set_mtime(e, 1700000000, 0);
                        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                        assert_int_equal(archive_write_data(a, files[i].content, len), (la_ssize_t) len);
                        archive_entry_free(e);
                }
                assert_int_equal(archive_write_close(a), ARCHIVE_OK);
                archive_write_free(a);
                if (!compress) {
                        char *copy = xmalloc(used);

                        memcpy(copy, buf, used);
                        test_blob_set(ret_tar, copy, used);
                }
        }
        if (c == LAYER_COMPRESSION_NONE) {
                char *copy = xmalloc(ret_tar->len);

                memcpy(copy, ret_tar->data, ret_tar->len);
                test_blob_set(ret, copy, ret_tar->len);
                free(buf);
                return;
        }
        test_blob_set(ret, xrealloc(buf, used), used);
}

#define TEST_MAX_LAYERS 8

struct test_image {
        size_t n_layers;
        struct test_blob layers[TEST_MAX_LAYERS];       /* compressed */
        struct test_blob tars[TEST_MAX_LAYERS];
        const char *layer_media_type;
        struct test_blob config;
        struct test_blob manifest;
};

static inline void test_image_done(struct test_image *img)
{
        for (size_t i = 0; i < img->n_layers; i++) {
                test_blob_done(&img->layers[i]);
                test_blob_done(&img->tars[i]);
        }
        test_blob_done(&img->config);
        test_blob_done(&img->manifest);
}

/* Builds config and manifest for the layers already in img. user may be
 * NULL; bad_diff_id makes the config lie about the last layer. */
static inline void test_image_finish(struct test_image *img, const char *user, const char *label, bool bad_diff_id)
{
        _cleanup_free_ char *diff_ids = xstrdup(""), *layers = xstrdup(""), *config = NULL, *manifest = NULL;

        for (size_t i = 0; i < img->n_layers; i++) {
                char *d, *l;
                const char *diff = img->tars[i].digest;

                if (bad_diff_id && i + 1 == img->n_layers)
                        diff = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
                d = xasprintf("%s%s\"%s\"", diff_ids, i ? "," : "", diff);
                l = xasprintf("%s%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}", layers, i ? "," : "",
                              img->layer_media_type, img->layers[i].digest, img->layers[i].len);
                free(diff_ids);
                free(layers);
                diff_ids = d;
                layers = l;
        }
        config = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{%s%s%s\"Labels\":{\"t\":\"%s\"}},"
                           "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]}}",
                           user ? "\"User\":\"" : "", user ? user : "", user ? "\"," : "", label ? label : "",
                           diff_ids);
        img->config.len = strlen(config);
        img->config.data = TAKE_PTR(config);
        assert_int_equal(digest_buffer(img->config.data, img->config.len, img->config.digest, NULL), 0);
        manifest = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
                             "\"digest\":\"%s\",\"size\":%zu},\"layers\":[%s]}",
                             MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_OCI_CONFIG, img->config.digest, img->config.len,
                             layers);
        img->manifest.len = strlen(manifest);
        img->manifest.data = TAKE_PTR(manifest);
        assert_int_equal(digest_buffer(img->manifest.data, img->manifest.len, img->manifest.digest, NULL), 0);
}

/* An image of n layers (each holding "layer<i>" plus `tag`'s own file),
 * gzip-compressed unless c says otherwise. Layers built from the same
 * (i, shared) are identical across images, so images can share a base. */
static inline void test_image_build(struct test_image *img, size_t n, const char *unique, enum layer_compression c,
                                    const char *user, bool bad_diff_id)
{
        *img = (struct test_image) { 0 };
        img->layer_media_type = c == LAYER_COMPRESSION_GZIP   ? MEDIA_TYPE_OCI_LAYER_GZIP
                                : c == LAYER_COMPRESSION_ZSTD ? MEDIA_TYPE_OCI_LAYER_ZSTD
                                                              : MEDIA_TYPE_OCI_LAYER;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *name = xasprintf("layer%zu", i);
                _cleanup_free_ char *content = xasprintf("content of layer %zu\n", i);
                /* the top layer carries the image's own file */
                _cleanup_free_ char *uname = xasprintf("file-%s", unique);
                struct test_file files[] = {
                        { name, content },
                        { i + 1 == n ? uname : NULL, unique },
                        { NULL, NULL },
                };

                test_layer_build(files, c, &img->layers[i], &img->tars[i]);
        }
        img->n_layers = n;
        test_image_finish(img, user, unique, bad_diff_id);
}
