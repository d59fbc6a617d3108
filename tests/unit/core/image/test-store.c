/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../test-common.h"

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "image/blobstore.h"
#include "image/layer.h"
#include "image/store.h"
#include "image-test.h"

#define assert_ok(r, e)                                                       \
        do {                                                                  \
                if ((r) < 0)                                                  \
                        fail_msg("%s", ocid_error_message(&(e)));             \
        } while (0)

struct ctx {
        char root[64];
        struct ocid_module *storage;
        struct fake_storage *fs;
        struct image_store *s;
};

static int setup(void **state)
{
        struct ctx *c = xzalloc(sizeof(*c));
        struct ocid_error *e = NULL;

        strcpy(c->root, "/tmp/ocid-test-store-XXXXXX");
        if (!mkdtemp(c->root))
                return -1;
        c->storage = fake_storage_start();
        c->fs = c->storage->state;
        if (image_store_open(c->root, c->storage, &c->s, &e) < 0) {
                fprintf(stderr, "%s\n", ocid_error_message(&e));
                return -1;
        }
        *state = c;
        return 0;
}

static int teardown(void **state)
{
        struct ctx *c = *state;

        image_store_free(c->s);
        module_fini(c->storage);
        (void) ocid_rm_rf(c->root, NULL);
        free(c);
        return 0;
}

/* Stores img's blobs, unpacks it and records it with the given names. */
static int add_image(struct image_store *s, const struct test_image *img, char *const *tags, char *const *digests,
                     unsigned flags, struct image_record **ret, struct ocid_error **err)
{
        _cleanup_image_lease_ struct image_lease *lease = NULL;
        struct blobstore *bs = image_store_blobs(s);
        int r;

        r = image_lease_new(s, &lease, err);
        if (r < 0)
                return r;
        r = image_lease_add_blob(lease, img->manifest.digest, err);
        if (r >= 0)
                r = image_lease_add_blob(lease, img->config.digest, err);
        if (r >= 0)
                r = blobstore_put(bs, img->manifest.digest, img->manifest.data, img->manifest.len, NULL, err);
        if (r >= 0)
                r = blobstore_put(bs, img->config.digest, img->config.data, img->config.len, NULL, err);
        for (size_t i = 0; r >= 0 && i < img->n_layers; i++) {
                r = image_lease_add_blob(lease, img->layers[i].digest, err);
                if (r >= 0)
                        r = blobstore_put(bs, img->layers[i].digest, img->layers[i].data, img->layers[i].len, NULL,
                                          err);
        }
        if (r >= 0)
                r = image_store_unpack(s, lease, img->manifest.digest, NULL, err);
        if (r >= 0)
                r = image_store_commit(s, img->manifest.digest, tags, digests, NULL, flags, ret, err);
        return r;
}

static void chain_hex(const struct test_image *img, size_t n, char ret[DIGEST_STRING_SIZE])
{
        char parent[DIGEST_STRING_SIZE];

        for (size_t i = 0; i < n; i++) {
                assert_int_equal(layer_chain_id(i ? parent : NULL, img->tars[i].digest, ret, NULL), 0);
                memcpy(parent, ret, DIGEST_STRING_SIZE);
        }
}

static bool layer_present(struct ctx *c, const struct test_image *img, size_t n)
{
        char chain[DIGEST_STRING_SIZE];

        chain_hex(img, n, chain);
        return fs_has(c->fs, digest_hex(chain));
}

static size_t count_records(struct image_store *s)
{
        _cleanup_image_record_list_ struct image_record **v = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        size_t n = 0;

        assert_ok(image_store_list(s, &v, &e), e);
        while (v[n])
                n++;
        return n;
}

/* ---- chain IDs ------------------------------------------------------- */

static void test_chain_id(void **state)
{
        const char *a = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        const char *b = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        _cleanup_error_ struct ocid_error *e = NULL;
        char chain[DIGEST_STRING_SIZE], want[DIGEST_STRING_SIZE];
        _cleanup_free_ char *text = xasprintf("%s %s", a, b);

        assert_int_equal(layer_chain_id(NULL, a, chain, NULL), 0);
        assert_string_equal(chain, a);
        assert_int_equal(layer_chain_id(a, b, chain, NULL), 0);
        assert_int_equal(digest_buffer(text, strlen(text), want, NULL), 0);
        assert_string_equal(chain, want);
        assert_int_equal(layer_chain_id(NULL, "sha256:xyz", chain, &e), -EINVAL);
}

/* ---- records ------------------------------------------------------- */

static void test_records(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *rec = NULL, *got = NULL;
        _cleanup_image_store_ struct image_store *again = NULL;
        _cleanup_image_record_list_ struct image_record **list = NULL;
        struct test_image img;
        char *tags[] = { "docker.io/library/app:1", NULL };
        _cleanup_free_ char *repo_digest = NULL, *prefix = NULL;
        char *digests[2] = { NULL, NULL };
        uint64_t size;
        int r;

        test_image_build(&img, 2, "records", LAYER_COMPRESSION_GZIP, "1000:1000", false);
        repo_digest = xasprintf("docker.io/library/app@%s", img.manifest.digest);
        digests[0] = repo_digest;
        r = add_image(c->s, &img, tags, digests, 0, &rec, &e);
        assert_ok(r, e);

        assert_string_equal(rec->id, img.config.digest);
        assert_string_equal(rec->config_digest, img.config.digest);
        assert_string_equal(rec->manifest_digest, img.manifest.digest);
        assert_int_equal(ocid_strv_length(rec->repo_tags), 1);
        assert_string_equal(rec->repo_tags[0], tags[0]);
        assert_string_equal(rec->repo_digests[0], repo_digest);
        assert_int_equal(rec->n_layers, 2);
        assert_string_equal(rec->layers[0].chain_id, img.tars[0].digest);
        assert_string_equal(rec->layers[1].diff_id, img.tars[1].digest);
        assert_string_equal(rec->layers[1].digest, img.layers[1].digest);
        assert_int_equal(rec->layers[1].size, img.layers[1].len);
        size = img.config.len + img.layers[0].len + img.layers[1].len;
        assert_int_equal(rec->size, size);
        assert_int_equal(rec->uid, 1000);
        assert_null(rec->username);
        assert_false(rec->pinned);
        assert_true(rec->created_ns > 0);
        assert_true(layer_present(c, &img, 1));
        assert_true(layer_present(c, &img, 2));
        assert_int_equal(c->fs->creates, 2);

        /* every way of naming it */
        prefix = xstrndup(digest_hex(rec->id), 12);
        const char *names[] = { rec->id, digest_hex(rec->id), prefix, "app:1", "docker.io/library/app:1",
                                repo_digest };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                got = image_record_free(got);
                r = image_store_get(c->s, names[i], NULL, &got, &e);
                assert_ok(r, e);
                assert_string_equal(got->id, rec->id);
        }
        got = image_record_free(got);
        assert_int_equal(image_store_get(c->s, "app:2", NULL, &got, &e), -ENOENT);
        assert_string_equal(ocid_error_message(&e), "image 'app:2' not found");
        ocid_error_clear(&e);
        assert_int_equal(image_store_get(c->s, "Bad Name", NULL, &got, &e), -EINVAL);
        ocid_error_clear(&e);
        assert_int_equal(image_store_get(c->s, "", NULL, &got, &e), -EINVAL);
        ocid_error_clear(&e);
        /* an unqualified name on another search registry */
        {
                char *search[] = { "quay.io", "docker.io", NULL };
                r = image_store_get(c->s, "app:1", search, &got, &e);
                assert_ok(r, e);
                got = image_record_free(got);
        }

        /* a second store instance reads the same record from disk */
        r = image_store_open(c->root, c->storage, &again, &e);
        assert_ok(r, e);
        r = image_store_list(again, &list, &e);
        assert_ok(r, e);
        assert_non_null(list[0]);
        assert_null(list[1]);
        assert_string_equal(list[0]->id, rec->id);
        assert_int_equal(list[0]->size, size);
        assert_int_equal(list[0]->uid, 1000);
        assert_int_equal(list[0]->n_layers, 2);
        assert_string_equal(list[0]->layers[1].media_type, MEDIA_TYPE_OCI_LAYER_GZIP);
        assert_int_equal(list[0]->created_ns, rec->created_ns);

        /* committing it again creates no layer and keeps it once */
        r = add_image(c->s, &img, NULL, NULL, IMAGE_COMMIT_PINNED, NULL, &e);
        assert_ok(r, e);
        assert_int_equal(c->fs->creates, 2);
        assert_int_equal(count_records(c->s), 1);
        r = image_store_get(again, rec->id, NULL, &got, &e);
        assert_ok(r, e);
        assert_true(got->pinned);
        assert_string_equal(got->repo_tags[0], tags[0]);
        test_image_done(&img);
}

static void test_user(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct {
                const char *user;
                int64_t uid;
                const char *username;
        } cases[] = {
                { NULL, -1, NULL },
                { "0", 0, NULL },
                { "nobody", -1, "nobody" },
                { "www:www", -1, "www" },
                { "65534:65534", 65534, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_image_record_ struct image_record *rec = NULL;
                _cleanup_free_ char *unique = xasprintf("user%zu", i);
                struct test_image img;

                test_image_build(&img, 1, unique, LAYER_COMPRESSION_NONE, cases[i].user, false);
                assert_ok(add_image(c->s, &img, NULL, NULL, 0, &rec, &e), e);
                assert_int_equal(rec->uid, cases[i].uid);
                if (cases[i].username)
                        assert_string_equal(rec->username, cases[i].username);
                else
                        assert_null(rec->username);
                test_image_done(&img);
        }
}

/* ---- tags ----------------------------------------------------------- */

static void test_tags_move(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *a = NULL, *b = NULL, *got = NULL;
        struct test_image ia, ib;
        char *t1[] = { "docker.io/library/x:latest", "docker.io/library/x:1", NULL };
        char *t2[] = { "docker.io/library/x:latest", NULL };

        test_image_build(&ia, 2, "tag-a", LAYER_COMPRESSION_GZIP, NULL, false);
        test_image_build(&ib, 2, "tag-b", LAYER_COMPRESSION_GZIP, NULL, false);
        assert_ok(add_image(c->s, &ia, t1, NULL, 0, &a, &e), e);
        assert_ok(add_image(c->s, &ib, t2, NULL, 0, &b, &e), e);

        /* the shared base layer was unpacked once: 2 + 1 */
        assert_int_equal(c->fs->creates, 3);

        assert_ok(image_store_get(c->s, "x", NULL, &got, &e), e);
        assert_string_equal(got->id, b->id);
        got = image_record_free(got);
        assert_ok(image_store_get(c->s, "x:1", NULL, &got, &e), e);
        assert_string_equal(got->id, a->id);
        assert_int_equal(ocid_strv_length(got->repo_tags), 1);
        assert_string_equal(got->repo_tags[0], "docker.io/library/x:1");
        got = image_record_free(got);

        /* the moved tag is gone from the old record on disk too */
        {
                _cleanup_image_store_ struct image_store *again = NULL;

                assert_ok(image_store_open(c->root, c->storage, &again, &e), e);
                assert_ok(image_store_get(again, a->id, NULL, &got, &e), e);
                assert_int_equal(ocid_strv_length(got->repo_tags), 1);
                got = image_record_free(got);
        }

        /* a tag moves back, and an image may lose every tag and stay */
        assert_ok(add_image(c->s, &ia, t2, NULL, 0, NULL, &e), e);
        t2[0] = "docker.io/library/x:1";
        assert_ok(add_image(c->s, &ib, t2, NULL, 0, NULL, &e), e);
        assert_ok(image_store_get(c->s, a->id, NULL, &got, &e), e);
        assert_int_equal(ocid_strv_length(got->repo_tags), 1);
        assert_string_equal(got->repo_tags[0], "docker.io/library/x:latest");
        got = image_record_free(got);
        assert_ok(image_store_get(c->s, b->id, NULL, &got, &e), e);
        assert_int_equal(ocid_strv_length(got->repo_tags), 1);
        assert_string_equal(got->repo_tags[0], "docker.io/library/x:1");
        got = image_record_free(got);
        assert_int_equal(count_records(c->s), 2);

        /* an ID prefix common to both is ambiguous only if it is */
        assert_int_equal(image_store_get(c->s, "sha256:", NULL, &got, &e), -EINVAL);
        ocid_error_clear(&e);
        test_image_done(&ia);
        test_image_done(&ib);
}

/* ---- removal -------------------------------------------------------- */

static int in_use_hook(void *userdata, const char *image_id, char **ret_user, struct ocid_error **err)
{
        const char *busy = userdata;

        if (streq(image_id, busy)) {
                *ret_user = xstrdup("container 'web' (0123456789ab)");
                return 1;
        }
        return 0;
}

static void test_remove(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *a = NULL, *b = NULL, *got = NULL;
        struct test_image ia, ib;
        char *ta[] = { "docker.io/library/r:1", "docker.io/library/r:2", NULL };
        char *tb[] = { "docker.io/library/s:1", NULL };
        _cleanup_free_ char *db = NULL;
        char *dbv[2] = { NULL, NULL };

        test_image_build(&ia, 3, "rm-a", LAYER_COMPRESSION_GZIP, NULL, false);
        test_image_build(&ib, 2, "rm-b", LAYER_COMPRESSION_GZIP, NULL, false);
        db = xasprintf("docker.io/library/s@%s", ib.manifest.digest);
        dbv[0] = db;
        assert_ok(add_image(c->s, &ia, ta, NULL, 0, &a, &e), e);
        assert_ok(add_image(c->s, &ib, tb, dbv, 0, &b, &e), e);
        assert_int_equal(c->fs->creates, 4); /* a: 3 layers; b: its top only */

        /* one tag of two: an untag */
        assert_int_equal(image_store_remove(c->s, "r:1", NULL, &e), 0);
        assert_ok(image_store_get(c->s, a->id, NULL, &got, &e), e);
        assert_int_equal(ocid_strv_length(got->repo_tags), 1);
        got = image_record_free(got);
        assert_int_equal(c->fs->removes, 0);

        /* in use: refused, naming the user */
        image_store_set_in_use_fn(c->s, in_use_hook, a->id);
        assert_int_equal(image_store_remove(c->s, "r:2", NULL, &e), -EBUSY);
        assert_non_null(strstr(ocid_error_message(&e), "in use by container 'web'"));
        ocid_error_clear(&e);
        image_store_set_in_use_fn(c->s, NULL, NULL);

        /* the last tag: the image goes, with its own layers and blobs; the
         * base it shares with b stays */
        assert_int_equal(image_store_remove(c->s, "r:2", NULL, &e), 1);
        assert_int_equal(image_store_get(c->s, a->id, NULL, &got, &e), -ENOENT);
        ocid_error_clear(&e);
        assert_false(layer_present(c, &ia, 3));
        assert_false(layer_present(c, &ia, 2));
        assert_true(layer_present(c, &ia, 1));
        assert_int_equal(c->fs->removes, 2);
        assert_false(blobstore_exists(image_store_blobs(c->s), ia.manifest.digest));
        assert_false(blobstore_exists(image_store_blobs(c->s), ia.config.digest));
        assert_false(blobstore_exists(image_store_blobs(c->s), ia.layers[2].digest));
        /* the base layer blob is identical in both images and stays */
        assert_string_equal(ia.layers[0].digest, ib.layers[0].digest);
        assert_true(blobstore_exists(image_store_blobs(c->s), ia.layers[0].digest));

        /* missing: -ENOENT (the CRI edge makes it a success) */
        assert_int_equal(image_store_remove(c->s, a->id, NULL, &e), -ENOENT);
        ocid_error_clear(&e);

        /* by digest reference while a tag remains: only the digest goes */
        assert_int_equal(image_store_remove(c->s, db, NULL, &e), 0);
        assert_ok(image_store_get(c->s, b->id, NULL, &got, &e), e);
        assert_int_equal(ocid_strv_length(got->repo_digests), 0);
        got = image_record_free(got);

        /* by ID: everything */
        assert_int_equal(image_store_remove(c->s, b->id, NULL, &e), 1);
        assert_int_equal(count_records(c->s), 0);
        assert_false(layer_present(c, &ib, 1));
        assert_int_equal(c->fs->removes, 4);
        assert_false(blobstore_exists(image_store_blobs(c->s), ib.layers[0].digest));
        assert_int_equal(c->fs->violations, 0);
        test_image_done(&ia);
        test_image_done(&ib);
}

/* ---- leases and pruning --------------------------------------------- */

static void test_leases(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *a = NULL;
        struct image_lease *lease = NULL;
        struct blobstore *bs = image_store_blobs(c->s);
        struct test_image ia;
        const char *orphan = "orphan blob", *leased = "leased blob";
        char orphan_d[DIGEST_STRING_SIZE], leased_d[DIGEST_STRING_SIZE], dead_d[DIGEST_STRING_SIZE];
        pid_t pid;
        int status;

        test_image_build(&ia, 2, "lease", LAYER_COMPRESSION_GZIP, NULL, false);
        assert_ok(add_image(c->s, &ia, NULL, NULL, 0, &a, &e), e);

        /* a lease on the image's top layer and blobs keeps them through
         * the image's removal */
        assert_ok(image_lease_new(c->s, &lease, &e), e);
        assert_ok(image_lease_add_layer(lease, a->layers[1].chain_id, &e), e);
        assert_ok(image_lease_add_blob(lease, ia.layers[1].digest, &e), e);
        assert_int_equal(image_lease_add_blob(lease, "nope", &e), -EINVAL);
        ocid_error_clear(&e);
        assert_int_equal(image_store_remove(c->s, a->id, NULL, &e), 1);
        assert_true(layer_present(c, &ia, 2));
        assert_true(layer_present(c, &ia, 1));
        assert_true(blobstore_exists(bs, ia.layers[1].digest));
        assert_false(blobstore_exists(bs, ia.config.digest));
        lease = image_lease_free(lease);

        /* prune: blobs nobody keeps go, leased ones stay */
        assert_ok(blobstore_put(bs, NULL, orphan, strlen(orphan), orphan_d, &e), e);
        assert_ok(image_lease_new(c->s, &lease, &e), e);
        assert_ok(digest_buffer(leased, strlen(leased), leased_d, &e), e);
        assert_ok(image_lease_add_blob(lease, leased_d, &e), e);
        assert_ok(blobstore_put(bs, leased_d, leased, strlen(leased), NULL, &e), e);

        /* a lease whose owner died protects nothing */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct image_lease *l = NULL;
                const char *dead = "dead owner's blob";

                if (image_lease_new(c->s, &l, NULL) < 0 || digest_buffer(dead, strlen(dead), dead_d, NULL) < 0 ||
                    image_lease_add_blob(l, dead_d, NULL) < 0 ||
                    blobstore_put(bs, dead_d, dead, strlen(dead), NULL, NULL) < 0)
                        _exit(1);
                _exit(0); /* without releasing the lease */
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_ok(digest_buffer("dead owner's blob", strlen("dead owner's blob"), dead_d, &e), e);
        assert_true(blobstore_exists(bs, dead_d));

        /* orphan, the dead lease's blob, and the layer blob kept by the
         * first lease only */
        assert_int_equal(image_store_prune(c->s, &e), 3);
        assert_false(blobstore_exists(bs, orphan_d));
        assert_false(blobstore_exists(bs, dead_d));
        assert_false(blobstore_exists(bs, ia.layers[1].digest));
        assert_true(blobstore_exists(bs, leased_d));
        lease = image_lease_free(lease);
        assert_int_equal(image_store_prune(c->s, &e), 1);
        assert_false(blobstore_exists(bs, leased_d));
        test_image_done(&ia);
}

/* ---- unpacking ------------------------------------------------------ */

static void test_unpack_diff_id_mismatch(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct test_image img;
        int r;

        test_image_build(&img, 2, "bad-diff", LAYER_COMPRESSION_GZIP, NULL, true);
        r = add_image(c->s, &img, NULL, NULL, 0, NULL, &e);
        assert_int_equal(r, -EBADMSG);
        assert_non_null(strstr(ocid_error_message(&e), "diff_id mismatch"));
        {
                _cleanup_free_ char *want = xasprintf("layer %s: ", img.layers[1].digest);
                assert_non_null(strstr(ocid_error_message(&e), want));
        }
        ocid_error_clear(&e);
        /* the base layer is fine and stays; the bad one is gone with its blob */
        assert_true(layer_present(c, &img, 1));
        assert_int_equal(c->fs->creates, 2);
        assert_int_equal(c->fs->removes, 1);
        assert_false(blobstore_exists(image_store_blobs(c->s), img.layers[1].digest));
        assert_int_equal(count_records(c->s), 0);
        /* commit refuses an image whose layers are missing */
        assert_int_equal(image_store_commit(c->s, img.manifest.digest, NULL, NULL, NULL, 0, NULL, &e), -ENOENT);
        ocid_error_clear(&e);
        test_image_done(&img);
}

static void test_unpack_compressions(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        enum layer_compression cs[] = { LAYER_COMPRESSION_NONE, LAYER_COMPRESSION_GZIP, LAYER_COMPRESSION_ZSTD };

        for (size_t i = 0; i < ELEMENTSOF(cs); i++) {
                _cleanup_free_ char *unique = xasprintf("comp%zu", i);
                _cleanup_free_ char *path = NULL, *data = NULL;
                char chain[DIGEST_STRING_SIZE];
                struct test_image img;
                size_t len;

                test_image_build(&img, 1, unique, cs[i], NULL, false);
                assert_ok(add_image(c->s, &img, NULL, NULL, 0, NULL, &e), e);
                /* the module got exactly the uncompressed tar */
                chain_hex(&img, 1, chain);
                path = fs_path(c->fs, digest_hex(chain), ".tar");
                assert_ok(ocid_read_file(path, 1 << 20, &data, &len, &e), e);
                assert_int_equal(len, img.tars[0].len);
                assert_memory_equal(data, img.tars[0].data, len);
                test_image_done(&img);
        }
}

/* A blob that is gzip in name only is refused. */
static void test_unpack_wrong_compression(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct test_image img;

        test_image_build(&img, 1, "plain-as-gzip", LAYER_COMPRESSION_NONE, NULL, false);
        img.layer_media_type = MEDIA_TYPE_OCI_LAYER_GZIP;
        test_blob_done(&img.config);
        test_blob_done(&img.manifest);
        test_image_finish(&img, NULL, "x", false);
        assert_int_equal(add_image(c->s, &img, NULL, NULL, 0, NULL, &e), -EBADMSG);
        assert_non_null(strstr(ocid_error_message(&e), "not gzip-compressed"));
        assert_false(layer_present(c, &img, 1));
        test_image_done(&img);
}

static void test_unpack_module_failure(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct test_image img;

        test_image_build(&img, 2, "modfail", LAYER_COMPRESSION_GZIP, NULL, false);
        c->fs->fail_create = 1;
        assert_int_equal(add_image(c->s, &img, NULL, NULL, 0, NULL, &e), -EIO);
        assert_non_null(strstr(ocid_error_message(&e), "fake failure"));
        ocid_error_clear(&e);
        assert_int_equal(count_records(c->s), 0);
        /* the next attempt succeeds */
        assert_ok(add_image(c->s, &img, NULL, NULL, 0, NULL, &e), e);
        assert_int_equal(count_records(c->s), 1);
        test_image_done(&img);
}

struct par {
        struct ctx *c;
        const struct test_image *img;
        int r;
};

static void *par_unpack(void *arg)
{
        struct par *p = arg;
        _cleanup_error_ struct ocid_error *e = NULL;
        char *tags[] = { "docker.io/library/par:latest", NULL };

        p->r = add_image(p->c->s, p->img, tags, NULL, 0, NULL, &e);
        if (p->r < 0)
                fprintf(stderr, "# %s\n", ocid_error_message(&e));
        return NULL;
}

/* Threads unpacking the same layers: each is created once, and never two
 * operations on one layer run at once. */
static void test_unpack_concurrent(void **state)
{
        struct ctx *c = *state;
        struct test_image img;
        pthread_t t[6];
        struct par p[6];

        test_image_build(&img, 3, "par", LAYER_COMPRESSION_GZIP, NULL, false);
        c->fs->create_delay_ms = 50;
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                p[i] = (struct par) { .c = c, .img = &img };
                assert_int_equal(pthread_create(&t[i], NULL, par_unpack, &p[i]), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_int_equal(p[i].r, 0);
        }
        assert_int_equal(c->fs->creates, 3);
        assert_int_equal(c->fs->violations, 0);
        assert_int_equal(count_records(c->s), 1);
        test_image_done(&img);
}

/* ---- bad records and two processes ---------------------------------- */

static void test_bad_records_skipped(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *a = NULL;
        _cleanup_free_ char *garbage = NULL, *wrong = NULL, *content = NULL, *copy = NULL;
        _cleanup_image_store_ struct image_store *again = NULL;
        struct test_image ia;
        const char *hex = "1111111111111111111111111111111111111111111111111111111111111111";

        test_image_build(&ia, 1, "good", LAYER_COMPRESSION_GZIP, NULL, false);
        assert_ok(add_image(c->s, &ia, NULL, NULL, 0, &a, &e), e);

        garbage = xasprintf("%s/images/%s.json", c->root, hex);
        assert_ok(ocid_write_file_atomic(garbage, "{not json", 9, 0600, &e), e);
        /* a valid record under another name */
        assert_ok(ocid_read_file(wrong = xasprintf("%s/images/%s.json", c->root, digest_hex(a->id)), 1 << 20,
                                 &content, NULL, &e), e);
        free(wrong);
        wrong = xasprintf("%s/images/%s.json", c->root, "2222222222222222222222222222222222222222222222222222222222222222");
        assert_ok(ocid_write_file_atomic(wrong, content, strlen(content), 0600, &e), e);

        assert_ok(image_store_open(c->root, c->storage, &again, &e), e);
        assert_int_equal(count_records(again), 1);
        /* never deleted */
        assert_int_equal(access(garbage, F_OK), 0);
        assert_int_equal(access(wrong, F_OK), 0);
        /* and mutations go on around them */
        assert_int_equal(image_store_remove(again, a->id, NULL, &e), 1);
        assert_int_equal(count_records(again), 0);
        assert_int_equal(access(garbage, F_OK), 0);
        test_image_done(&ia);
}

/* Another process adds an image: this one sees it at its next call. */
static void test_two_processes(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_record_ struct image_record *got = NULL;
        struct test_image imgs[4];
        pid_t pids[ELEMENTSOF(imgs)];
        int status;

        for (size_t i = 0; i < ELEMENTSOF(imgs); i++) {
                _cleanup_free_ char *u = xasprintf("proc%zu", i);
                test_image_build(&imgs[i], 2, u, LAYER_COMPRESSION_GZIP, NULL, false);
        }
        assert_int_equal(count_records(c->s), 0);

        /* children add images concurrently, all taking the tag "shared"
         * and one tag of their own */
        for (size_t i = 0; i < ELEMENTSOF(imgs); i++) {
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0) {
                        struct image_store *s = NULL;
                        _cleanup_free_ char *own = xasprintf("docker.io/library/own:%zu", i);
                        char *tags[] = { "docker.io/library/shared:latest", own, NULL };

                        if (image_store_open(c->root, c->storage, &s, NULL) < 0)
                                _exit(1);
                        for (int k = 0; k < 5; k++)
                                if (add_image(s, &imgs[i], tags, NULL, 0, NULL, NULL) < 0)
                                        _exit(2);
                        image_store_free(s);
                        _exit(0);
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(imgs); i++) {
                assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
        }

        /* every image is there; the shared tag is on exactly one */
        {
                _cleanup_image_record_list_ struct image_record **v = NULL;
                size_t shared = 0, n = 0;

                assert_ok(image_store_list(c->s, &v, &e), e);
                for (; v[n]; n++)
                        shared += ocid_strv_contains(v[n]->repo_tags, "docker.io/library/shared:latest");
                assert_int_equal(n, ELEMENTSOF(imgs));
                assert_int_equal(shared, 1);
        }
        for (size_t i = 0; i < ELEMENTSOF(imgs); i++) {
                _cleanup_free_ char *own = xasprintf("own:%zu", i);

                assert_ok(image_store_get(c->s, own, NULL, &got, &e), e);
                assert_string_equal(got->id, imgs[i].config.digest);
                got = image_record_free(got);
        }

        /* a removal in another process shows here too */
        {
                pid_t pid = fork();

                assert_true(pid >= 0);
                if (pid == 0) {
                        struct image_store *s = NULL;
                        struct ocid_error *ce = NULL;
                        int r = image_store_open(c->root, c->storage, &s, &ce);

                        if (r >= 0)
                                r = image_store_remove(s, imgs[0].config.digest, NULL, &ce);
                        if (r != 1) {
                                fprintf(stderr, "# remove: %d %s\n", r, ocid_error_message(&ce));
                                _exit(1);
                        }
                        _exit(0);
                }
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        assert_int_equal(count_records(c->s), ELEMENTSOF(imgs) - 1);
        assert_int_equal(image_store_get(c->s, "own:0", NULL, &got, &e), -ENOENT);
        for (size_t i = 0; i < ELEMENTSOF(imgs); i++)
                test_image_done(&imgs[i]);
}

static void test_usage(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct test_image img;
        uint64_t b0, i0, b1, i1;

        assert_ok(image_store_blob_usage(c->s, &b0, &i0, &e), e);
        test_image_build(&img, 2, "usage", LAYER_COMPRESSION_GZIP, NULL, false);
        assert_ok(add_image(c->s, &img, NULL, NULL, 0, NULL, &e), e);
        assert_ok(image_store_blob_usage(c->s, &b1, &i1, &e), e);
        assert_true(b1 > b0);
        /* 4 blobs and a record */
        assert_true(i1 >= i0 + 5);
        test_image_done(&img);
}

static void test_no_storage(void **state)
{
        struct ctx *c = *state;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_image_store_ struct image_store *s = NULL;

        assert_ok(image_store_open(c->root, NULL, &s, &e), e);
        assert_int_equal(count_records(s), 0);
        assert_int_equal(image_store_remove(s, "x", NULL, &e), -EOPNOTSUPP);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

OCID_TEST_MAIN(cmocka_unit_test(test_chain_id),
               T(test_records),
               T(test_user),
               T(test_tags_move),
               T(test_remove),
               T(test_leases),
               T(test_unpack_diff_id_mismatch),
               T(test_unpack_compressions),
               T(test_unpack_wrong_compression),
               T(test_unpack_module_failure),
               T(test_unpack_concurrent),
               T(test_bad_records_skipped),
               T(test_two_processes),
               T(test_usage),
               T(test_no_storage))
