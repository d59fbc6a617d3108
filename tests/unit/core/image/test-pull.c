/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../test-common.h"

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "image/blobstore.h"
#include "image/layer.h"
#include "image/manifest.h"
#include "image/pull.h"
#include "image/registry-client.h"
#include "image/store.h"
#include "http-server.h"
#include "image-test.h"

#define assert_ok(r, e)                                                       \
        do {                                                                  \
                if ((r) < 0)                                                  \
                        fail_msg("%s", ocid_error_message(&(e)));             \
        } while (0)

#define REPO "test/img"
#define MAX_ENTRIES 32

/* ---- a fake registry serving images built in the test ------------------ */

struct reg_manifest {
        char *tag;              /* NULL: by digest only */
        char digest[DIGEST_STRING_SIZE];
        char *body;
        const char *media_type;
};

struct reg {
        struct http_server *srv;
        char host[64];
        pthread_mutex_t lock;
        struct reg_manifest manifests[MAX_ENTRIES];
        size_t n_manifests;
        struct test_blob blobs[MAX_ENTRIES];    /* copies */
        size_t n_blobs;
        char corrupt[DIGEST_STRING_SIZE];       /* this blob is served with a flipped byte */
        int blob_delay_ms;
        int n_manifest_get, n_blob_get;
};

static void reg_handler(const struct http_request *req, struct http_response *resp, void *userdata)
{
        struct reg *r = userdata;
        const char *p;
        int delay;

        pthread_mutex_lock(&r->lock);
        delay = r->blob_delay_ms;
        pthread_mutex_unlock(&r->lock);

        if (streq(req->target, "/v2/")) {
                http_response_set(resp, 200, "{}", 2);
                return;
        }
        if ((p = ocid_startswith(req->target, "/v2/" REPO "/manifests/"))) {
                pthread_mutex_lock(&r->lock);
                if (streq(req->method, "GET"))
                        r->n_manifest_get++;
                for (size_t i = 0; i < r->n_manifests; i++) {
                        struct reg_manifest *m = &r->manifests[i];

                        if ((m->tag && streq(m->tag, p)) || streq(m->digest, p)) {
                                http_response_set(resp, 200, m->body, strlen(m->body));
                                http_response_add_header(resp, "Content-Type: %s", m->media_type);
                                http_response_add_header(resp, "Docker-Content-Digest: %s", m->digest);
                                pthread_mutex_unlock(&r->lock);
                                return;
                        }
                }
                pthread_mutex_unlock(&r->lock);
                http_response_set(resp, 404, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}",
                                  strlen("{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}"));
                return;
        }
        if ((p = ocid_startswith(req->target, "/v2/" REPO "/blobs/"))) {
                if (delay > 0)
                        usleep((useconds_t) delay * 1000);
                pthread_mutex_lock(&r->lock);
                if (streq(req->method, "GET"))
                        r->n_blob_get++;
                for (size_t i = 0; i < r->n_blobs; i++) {
                        if (!streq(r->blobs[i].digest, p))
                                continue;
                        http_response_set(resp, 200, r->blobs[i].data, r->blobs[i].len);
                        if (streq(r->corrupt, p))
                                resp->body[resp->body_len / 2] ^= 1;
                        pthread_mutex_unlock(&r->lock);
                        return;
                }
                pthread_mutex_unlock(&r->lock);
                http_response_set(resp, 404, "{}", 2);
                return;
        }
        http_response_set(resp, 404, "", 0);
}

static void reg_add_blob(struct reg *r, const struct test_blob *b)
{
        char *copy = xmalloc(b->len + 1);

        assert_true(r->n_blobs < MAX_ENTRIES);
        memcpy(copy, b->data, b->len);
        pthread_mutex_lock(&r->lock);
        r->blobs[r->n_blobs].data = copy;
        r->blobs[r->n_blobs].len = b->len;
        memcpy(r->blobs[r->n_blobs].digest, b->digest, DIGEST_STRING_SIZE);
        r->n_blobs++;
        pthread_mutex_unlock(&r->lock);
}

/* Serves a manifest under a tag (NULL: by digest only). A tag already
 * served moves to it. */
static void reg_add_manifest(struct reg *r, const char *tag, const char *body, const char *media_type,
                             const char *digest)
{
        pthread_mutex_lock(&r->lock);
        for (size_t i = 0; tag && i < r->n_manifests; i++)
                if (r->manifests[i].tag && streq(r->manifests[i].tag, tag)) {
                        free(r->manifests[i].tag);
                        r->manifests[i].tag = NULL;
                }
        assert_true(r->n_manifests < MAX_ENTRIES);
        r->manifests[r->n_manifests].tag = xstrdup(tag);
        r->manifests[r->n_manifests].body = xstrdup(body);
        r->manifests[r->n_manifests].media_type = media_type;
        memcpy(r->manifests[r->n_manifests].digest, digest, DIGEST_STRING_SIZE);
        r->n_manifests++;
        pthread_mutex_unlock(&r->lock);
}

static void reg_add_image(struct reg *r, const char *tag, const struct test_image *img)
{
        for (size_t i = 0; i < img->n_layers; i++)
                reg_add_blob(r, &img->layers[i]);
        reg_add_blob(r, &img->config);
        reg_add_manifest(r, tag, img->manifest.data, MEDIA_TYPE_OCI_MANIFEST, img->manifest.digest);
}

static struct reg *reg_start(void)
{
        struct reg *r = xzalloc(sizeof(*r));

        pthread_mutex_init(&r->lock, NULL);
        r->srv = http_server_start(reg_handler, r, NULL);
        snprintf(r->host, sizeof(r->host), "127.0.0.1:%d", http_server_port(r->srv));
        return r;
}

static void reg_stop(struct reg *r)
{
        http_server_stop(r->srv);
        for (size_t i = 0; i < r->n_manifests; i++) {
                free(r->manifests[i].tag);
                free(r->manifests[i].body);
        }
        for (size_t i = 0; i < r->n_blobs; i++)
                free(r->blobs[i].data);
        pthread_mutex_destroy(&r->lock);
        free(r);
}

static void reg_counts(struct reg *r, int *ret_manifests, int *ret_blobs)
{
        pthread_mutex_lock(&r->lock);
        *ret_manifests = r->n_manifest_get;
        *ret_blobs = r->n_blob_get;
        pthread_mutex_unlock(&r->lock);
}

/* ---- fixture ----------------------------------------------------------- */

struct ctx {
        char root[64];
        struct reg *reg;
        struct ocid_module *storage;
        struct fake_storage *fs;
        struct image_store *s;
        struct image_puller *p;
        struct test_image img;          /* served as REPO:v1 */
};

static int setup(void **state)
{
        struct ctx *c = xzalloc(sizeof(*c));
        struct ocid_error *e = NULL;

        strcpy(c->root, "/tmp/ocid-test-pull-XXXXXX");
        if (!mkdtemp(c->root))
                return -1;
        c->reg = reg_start();
        c->storage = fake_storage_start();
        c->fs = c->storage->state;
        if (image_store_open(c->root, c->storage, &c->s, &e) < 0 || image_puller_new(c->s, NULL, &c->p, &e) < 0) {
                fprintf(stderr, "# %s\n", ocid_error_message(&e));
                return -1;
        }
        test_image_build(&c->img, 2, "v1", LAYER_COMPRESSION_GZIP, "nobody", false);
        reg_add_image(c->reg, "v1", &c->img);
        *state = c;
        return 0;
}

static int teardown(void **state)
{
        struct ctx *c = *state;

        image_puller_free(c->p);
        image_store_free(c->s);
        module_fini(c->storage);
        reg_stop(c->reg);
        test_image_done(&c->img);
        (void) ocid_rm_rf(c->root, NULL);
        free(c);
        return 0;
}

static char *ref(struct ctx *c, const char *suffix)
{
        return xasprintf("%s/" REPO "%s", c->reg->host, suffix);
}

static int pull(struct ctx *c, const char *image, struct image_record **ret, struct ocid_error **err)
{
        struct image_pull_request req = {
                .image = image,
                .stall_timeout_s = 10,
                .deadline_ns = ocid_now_monotonic_ns() + 60 * INT64_C(1000000000),
        };

        return image_pull(c->p, &req, ret, err);
}

static size_t n_records(struct image_store *s)
{
        _cleanup_image_record_list_ struct image_record **v = NULL;
        size_t n = 0;

        assert_int_equal(image_store_list(s, &v, NULL), 0);
        while (v[n])
                n++;
        return n;
}

static bool has_layer(struct ctx *c, const struct test_image *img, size_t n)
{
        char chain[DIGEST_STRING_SIZE], parent[DIGEST_STRING_SIZE];

        for (size_t i = 0; i < n; i++) {
                assert_int_equal(layer_chain_id(i ? parent : NULL, img->tars[i].digest, chain, NULL), 0);
                memcpy(parent, chain, sizeof(parent));
        }
        return fs_has(c->fs, digest_hex(chain));
}

/* ---- tests ------------------------------------------------------------- */

static void test_pull_by_tag(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *rec = NULL, *again = NULL;
        _cleanup_free_ char *image = ref(c, ":v1"), *digest_ref = ref(c, "@");
        _cleanup_free_ char *want_digest = xasprintf("%s%s", digest_ref, c->img.manifest.digest);
        int m0, b0, m1, b1;

        assert_ok(pull(c, image, &rec, &e), e);
        assert_string_equal(rec->id, c->img.config.digest);
        assert_string_equal(rec->manifest_digest, c->img.manifest.digest);
        assert_int_equal(ocid_strv_length(rec->repo_tags), 1);
        assert_string_equal(rec->repo_tags[0], image);
        assert_int_equal(ocid_strv_length(rec->repo_digests), 1);
        assert_string_equal(rec->repo_digests[0], want_digest);
        assert_string_equal(rec->username, "nobody");
        assert_int_equal(rec->size, c->img.config.len + c->img.layers[0].len + c->img.layers[1].len);
        assert_true(has_layer(c, &c->img, 1));
        assert_true(has_layer(c, &c->img, 2));
        assert_int_equal(c->fs->creates, 2);
        reg_counts(c->reg, &m0, &b0);
        assert_int_equal(b0, 3);                /* config and two layers */
        assert_int_equal(m0, 1);

        /* a second pull fetches the manifest and nothing else */
        assert_ok(pull(c, image, &again, &e), e);
        assert_string_equal(again->id, rec->id);
        reg_counts(c->reg, &m1, &b1);
        assert_int_equal(b1, b0);
        assert_int_equal(m1, m0 + 1);
        assert_int_equal(c->fs->creates, 2);
        assert_int_equal(n_records(c->s), 1);
}

static void test_pull_by_digest(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *rec = NULL;
        _cleanup_free_ char *at = xasprintf("@%s", c->img.manifest.digest);
        _cleanup_free_ char *image = ref(c, at);

        assert_ok(pull(c, image, &rec, &e), e);
        assert_string_equal(rec->id, c->img.config.digest);
        assert_int_equal(ocid_strv_length(rec->repo_tags), 0);
        assert_int_equal(ocid_strv_length(rec->repo_digests), 1);
        assert_string_equal(rec->repo_digests[0], image);
}

static void test_pull_index(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *rec = NULL;
        _cleanup_(platform_done) struct platform host = { 0 };
        _cleanup_free_ char *index = NULL, *image = ref(c, ":multi"), *host_variant = NULL;
        _cleanup_free_ char *digest_ref = NULL;
        char index_digest[DIGEST_STRING_SIZE];
        struct test_image other;

        /* a manifest for another platform that must not be chosen */
        test_image_build(&other, 1, "s390x", LAYER_COMPRESSION_GZIP, NULL, false);
        reg_add_image(c->reg, NULL, &other);
        assert_int_equal(platform_host(&host, NULL), 0);
        host_variant = host.variant ? xasprintf(",\"variant\":\"%s\"", host.variant) : xstrdup("");
        index = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
                          "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
                          "\"platform\":{\"os\":\"linux\",\"architecture\":\"%s\"}},"
                          "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
                          "\"platform\":{\"os\":\"%s\",\"architecture\":\"%s\"%s}}]}",
                          MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST, other.manifest.digest, other.manifest.len,
                          streq(host.architecture, "s390x") ? "ppc64le" : "s390x", MEDIA_TYPE_OCI_MANIFEST,
                          c->img.manifest.digest, c->img.manifest.len, host.os, host.architecture, host_variant);
        assert_int_equal(digest_buffer(index, strlen(index), index_digest, NULL), 0);
        reg_add_manifest(c->reg, "multi", index, MEDIA_TYPE_OCI_INDEX, index_digest);

        assert_ok(pull(c, image, &rec, &e), e);
        assert_string_equal(rec->id, c->img.config.digest);
        assert_string_equal(rec->manifest_digest, c->img.manifest.digest);
        digest_ref = ref(c, "@");
        {
                _cleanup_free_ char *want = xasprintf("%s%s", digest_ref, index_digest);
                assert_string_equal(rec->repo_digests[0], want);
        }
        assert_true(ocid_strv_contains(rec->blobs, index_digest));
        assert_false(has_layer(c, &other, 1));
        test_image_done(&other);
}

struct par {
        struct ctx *c;
        const char *image;
        int r;
        char id[DIGEST_STRING_SIZE];
};

static void *par_pull(void *arg)
{
        struct par *p = arg;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *rec = NULL;

        p->r = pull(p->c, p->image, &rec, &e);
        if (p->r < 0)
                fprintf(stderr, "# %s\n", ocid_error_message(&e));
        else
                memcpy(p->id, rec->id, strlen(rec->id) + 1);
        return NULL;
}

/* Concurrent pulls of one image do the work once. */
static void test_pull_concurrent(void **state)
{
        struct ctx *c = *state;
        _cleanup_free_ char *image = ref(c, ":v1");
        pthread_t t[5];
        struct par p[5];
        int m, b;

        c->reg->blob_delay_ms = 200;
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                p[i] = (struct par) { .c = c, .image = image };
                assert_int_equal(pthread_create(&t[i], NULL, par_pull, &p[i]), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_int_equal(p[i].r, 0);
                assert_string_equal(p[i].id, c->img.config.digest);
        }
        reg_counts(c->reg, &m, &b);
        assert_int_equal(m, 1);
        assert_int_equal(b, 3);
        assert_int_equal(c->fs->creates, 2);
        assert_int_equal(c->fs->violations, 0);
        assert_int_equal(n_records(c->s), 1);
}

/* Two images sharing a base, pulled at once: the base is fetched and
 * unpacked once. */
static void test_pull_concurrent_shared_layer(void **state)
{
        struct ctx *c = *state;
        _cleanup_free_ char *a = ref(c, ":v1"), *b = ref(c, ":other");
        struct test_image other;
        pthread_t t[2];
        struct par p[2];
        int m, n_blob;

        test_image_build(&other, 2, "other", LAYER_COMPRESSION_GZIP, NULL, false);
        assert_string_equal(other.layers[0].digest, c->img.layers[0].digest);
        reg_add_image(c->reg, "other", &other);
        c->reg->blob_delay_ms = 200;
        p[0] = (struct par) { .c = c, .image = a };
        p[1] = (struct par) { .c = c, .image = b };
        for (size_t i = 0; i < 2; i++)
                assert_int_equal(pthread_create(&t[i], NULL, par_pull, &p[i]), 0);
        for (size_t i = 0; i < 2; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_int_equal(p[i].r, 0);
        }
        reg_counts(c->reg, &m, &n_blob);
        assert_int_equal(n_blob, 5);    /* base once, two tops, two configs */
        assert_int_equal(c->fs->creates, 3);
        assert_int_equal(c->fs->violations, 0);
        assert_int_equal(n_records(c->s), 2);
        test_image_done(&other);
}

static void test_pull_digest_mismatch(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *rec = NULL;
        _cleanup_free_ char *image = ref(c, ":v1");

        memcpy(c->reg->corrupt, c->img.layers[1].digest, DIGEST_STRING_SIZE);
        assert_int_equal(pull(c, image, &rec, &e), -EBADMSG);
        assert_non_null(strstr(ocid_error_message(&e), "digest mismatch"));
        ocid_error_clear(&e);
        assert_int_equal(n_records(c->s), 0);
        assert_false(blobstore_exists(image_store_blobs(c->s), c->img.layers[1].digest));
        assert_false(has_layer(c, &c->img, 2));

        /* fixed at the registry: the next pull works, fetching only what
         * is missing */
        c->reg->corrupt[0] = '\0';
        assert_ok(pull(c, image, &rec, &e), e);
        assert_int_equal(n_records(c->s), 1);
        assert_int_equal(c->fs->creates, 2);
}

static void test_pull_diff_id_mismatch(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *rec = NULL;
        _cleanup_free_ char *image = ref(c, ":baddiff");
        struct test_image bad;

        test_image_build(&bad, 2, "baddiff", LAYER_COMPRESSION_GZIP, NULL, true);
        reg_add_image(c->reg, "baddiff", &bad);
        assert_int_equal(pull(c, image, &rec, &e), -EBADMSG);
        {
                _cleanup_free_ char *want = xasprintf("layer %s: diff_id mismatch", bad.layers[1].digest);
                assert_non_null(strstr(ocid_error_message(&e), want));
        }
        assert_int_equal(n_records(c->s), 0);
        assert_false(has_layer(c, &bad, 2));
        assert_false(blobstore_exists(image_store_blobs(c->s), bad.layers[1].digest));
        test_image_done(&bad);
}

static int closed_port(void)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        port = ntohs(sa.sin_port);
        close(fd);
        return port;
}

static void test_pull_not_found(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *rec = NULL;
        _cleanup_free_ char *image = ref(c, ":nope"), *localhost = NULL, *closed = NULL;
        char *search[3] = { NULL, NULL, NULL };
        struct image_pull_request req = { .stall_timeout_s = 10 };

        assert_int_equal(pull(c, image, &rec, &e), -ENOENT);
        assert_non_null(strstr(ocid_error_message(&e), "manifest unknown"));
        ocid_error_clear(&e);

        /* unqualified: every search registry is tried and named */
        localhost = xasprintf("localhost:%d", http_server_port(c->reg->srv));
        search[0] = c->reg->host;
        search[1] = localhost;
        req.search_registries = search;
        req.image = REPO ":nope";
        assert_int_equal(image_pull(c->p, &req, &rec, &e), -ENOENT);
        {
                _cleanup_free_ char *a = xasprintf("%s/" REPO ":nope", c->reg->host);
                _cleanup_free_ char *b = xasprintf("%s/" REPO ":nope", localhost);
                assert_non_null(strstr(ocid_error_message(&e), "image '" REPO ":nope' not found"));
                assert_non_null(strstr(ocid_error_message(&e), a));
                assert_non_null(strstr(ocid_error_message(&e), b));
        }
        ocid_error_clear(&e);

        /* the first registry is down, the second has it */
        closed = xasprintf("127.0.0.1:%d", closed_port());
        search[0] = closed;
        search[1] = c->reg->host;
        req.image = REPO ":v1";
        assert_ok(image_pull(c->p, &req, &rec, &e), e);
        assert_string_equal(rec->id, c->img.config.digest);
        {
                _cleanup_free_ char *want = ref(c, ":v1");
                assert_string_equal(rec->repo_tags[0], want);
        }

        /* a bad reference names itself */
        req.image = "UPPER/Case";
        rec = image_record_free(rec);
        assert_int_equal(image_pull(c->p, &req, &rec, &e), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&e), "'UPPER/Case'"));
}

static void test_pull_tag_moves(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *a = NULL, *b = NULL, *old = NULL;
        _cleanup_free_ char *image = ref(c, ":v1");
        struct test_image next;

        assert_ok(pull(c, image, &a, &e), e);
        test_image_build(&next, 2, "v1-next", LAYER_COMPRESSION_GZIP, NULL, false);
        reg_add_image(c->reg, "v1", &next);
        assert_ok(pull(c, image, &b, &e), e);
        assert_string_equal(b->id, next.config.digest);
        assert_string_equal(b->repo_tags[0], image);
        assert_ok(image_store_get(c->s, a->id, NULL, &old, &e), e);
        assert_int_equal(ocid_strv_length(old->repo_tags), 0);
        /* the old repo digest stays: it still names that image */
        assert_int_equal(ocid_strv_length(old->repo_digests), 1);
        test_image_done(&next);
}

static void test_pull_deadline_and_pinned(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *rec = NULL;
        _cleanup_free_ char *image = ref(c, ":v1");
        struct image_pull_request req = {
                .image = image,
                .deadline_ns = ocid_now_monotonic_ns() - 1,
        };

        assert_int_equal(image_pull(c->p, &req, &rec, &e), -ETIMEDOUT);
        ocid_error_clear(&e);
        assert_int_equal(n_records(c->s), 0);

        req.deadline_ns = 0;
        req.pinned_image = image;
        assert_ok(image_pull(c->p, &req, &rec, &e), e);
        assert_true(rec->pinned);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

OCID_TEST_MAIN(T(test_pull_by_tag),
               T(test_pull_by_digest),
               T(test_pull_index),
               T(test_pull_concurrent),
               T(test_pull_concurrent_shared_layer),
               T(test_pull_digest_mismatch),
               T(test_pull_diff_id_mismatch),
               T(test_pull_not_found),
               T(test_pull_tag_moves),
               T(test_pull_deadline_and_pinned))
