/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "image"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ocid/error.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "config.h"
#include "image/blobstore.h"
#include "image/manifest.h"
#include "image/pull.h"
#include "image/reference.h"
#include "image/registry-client.h"
#include "image/store.h"

#define NS_PER_SEC INT64_C(1000000000)
/* How often a long blob download is logged. */
#define PULL_LOG_INTERVAL_NS (5 * NS_PER_SEC)
/* "Never" for the stall limit: a year. */
#define PULL_STALL_NEVER_S (365u * 24 * 3600)
/* An index may nest one more index; deeper is refused. */
#define PULL_MAX_INDEX_DEPTH 2

/* One pull in progress, keyed by the references it tries. */
struct pull_flight {
        struct pull_flight *next;
        char *key;
        unsigned waiters;
        bool done;
        bool ok;
        char *id;                       /* the image ID, when ok */
};

struct image_puller {
        struct image_store *store;
        struct registry_client *rc;
        bool own_rc;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct pull_flight *flights;
};

int image_puller_new(struct image_store *s, struct registry_client *rc, struct image_puller **ret,
                     struct ocid_error **err)
{
        struct image_puller *p = xzalloc(sizeof(*p));
        pthread_condattr_t attr;
        int r;

        p->store = s;
        if (rc) {
                p->rc = rc;
        } else {
                r = registry_client_new(NULL, &p->rc, err);
                if (r < 0) {
                        free(p);
                        return r;
                }
                p->own_rc = true;
        }
        (void) pthread_mutex_init(&p->lock, NULL);
        (void) pthread_condattr_init(&attr);
        (void) pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        (void) pthread_cond_init(&p->cond, &attr);
        (void) pthread_condattr_destroy(&attr);
        *ret = p;
        return 0;
}

struct image_puller *image_puller_free(struct image_puller *p)
{
        if (!p)
                return NULL;
        if (p->own_rc)
                registry_client_free(p->rc);
        (void) pthread_mutex_destroy(&p->lock);
        (void) pthread_cond_destroy(&p->cond);
        free(p);
        return NULL;
}

/* ---- one pull --------------------------------------------------------- */

struct pull_ctx {
        struct image_puller *p;
        const struct image_pull_request *req;
        const char *name;               /* the reference pulled, for logs */
        struct registry_target target;
};

struct blob_progress {
        const struct pull_ctx *ctx;
        const char *digest;
        int64_t start_ns;
        int64_t last_log_ns;
};

static void on_blob_progress(void *userdata, uint64_t done, uint64_t total)
{
        struct blob_progress *bp = userdata;
        int64_t now = ocid_now_monotonic_ns();

        if (now - bp->last_log_ns < PULL_LOG_INTERVAL_NS)
                return;
        bp->last_log_ns = now;
        if (total > 0)
                ocid_log(OCID_LOG_INFO, "pulling %s: blob %s: %" PRIu64 " of %" PRIu64 " bytes (%" PRIu64 "%%)",
                         bp->ctx->name, bp->digest, done, total, done * 100 / total);
        else
                ocid_log(OCID_LOG_INFO, "pulling %s: blob %s: %" PRIu64 " bytes", bp->ctx->name, bp->digest,
                         done);
}

static int fetch_blob(struct blob_writer *w, void *userdata, struct ocid_error **err)
{
        const struct pull_ctx *ctx = userdata;
        struct blob_progress bp = {
                .ctx = ctx,
                .digest = blob_writer_expected_digest(w),
                .start_ns = ocid_now_monotonic_ns(),
        };
        struct registry_target t = ctx->target;
        int64_t ms;
        int r;

        bp.last_log_ns = bp.start_ns;
        t.progress = on_blob_progress;
        t.progress_userdata = &bp;
        r = registry_fetch_blob(ctx->p->rc, &t, bp.digest, w, err);
        if (r < 0)
                return r;
        ms = (ocid_now_monotonic_ns() - bp.start_ns) / 1000000;
        ocid_log(OCID_LOG_INFO, "pulling %s: fetched blob %s, %" PRIu64 " bytes in %" PRId64 ".%03" PRId64 " s",
                 ctx->name, bp.digest, blob_writer_written(w), ms / 1000, ms % 1000);
        return 0;
}

static void on_layer(void *userdata, size_t index, size_t n_layers, const struct image_layer_info *layer,
                     bool present)
{
        const struct pull_ctx *ctx = userdata;

        if (present)
                ocid_log(OCID_LOG_INFO, "pulling %s: layer %zu/%zu %s already present", ctx->name, index + 1,
                         n_layers, layer->digest);
        else
                ocid_log(OCID_LOG_INFO, "pulling %s: layer %zu/%zu %s unpacked", ctx->name, index + 1, n_layers,
                         layer->digest);
}

static const struct config_mirror *mirrors_for(const struct image_pull_request *req, const char *domain)
{
        for (size_t i = 0; i < req->n_mirrors; i++)
                if (streq(req->mirrors[i].registry, domain))
                        return &req->mirrors[i];
        return NULL;
}

/* Fetches a manifest (or index) into the blob store under the lease. */
static int fetch_manifest(struct pull_ctx *ctx, struct image_lease *lease, const char *ref,
                          struct registry_manifest *ret, struct ocid_error **err)
{
        struct blobstore *bs = image_store_blobs(ctx->p->store);
        int r;

        r = registry_get_manifest(ctx->p->rc, &ctx->target, ref, ret, err);
        if (r < 0)
                return r;
        r = image_lease_add_blob(lease, ret->digest, err);
        if (r >= 0)
                r = blobstore_put(bs, ret->digest, ret->body, ret->len, NULL, err);
        if (r < 0)
                registry_manifest_done(ret);
        return r;
}

static bool is_pinned(const struct image_pull_request *req, const struct image_ref *ref)
{
        _cleanup_free_ char *want = NULL, *have = NULL;
        struct image_ref **cands = NULL;
        bool pinned = false;

        if (!req->pinned_image || !*req->pinned_image)
                return false;
        if (image_ref_candidates(req->pinned_image, req->search_registries, &cands, NULL) < 0)
                return false;
        have = image_ref_string(ref);
        for (size_t i = 0; cands[i] && !pinned; i++) {
                free(want);
                want = image_ref_string(cands[i]);
                pinned = streq(want, have);
        }
        image_ref_list_free(cands);
        return pinned;
}

static int pull_one(struct image_puller *p, const struct image_pull_request *req, const struct image_ref *ref,
                    struct image_record **ret, struct ocid_error **err)
{
        _cleanup_image_lease_ struct image_lease *lease = NULL;
        _cleanup_free_ char *name = image_ref_string(ref), *repo_digest = NULL, *tag = NULL;
        _cleanup_image_manifest_ struct image_manifest *m = NULL;
        _cleanup_strv_ char **extra = NULL;
        struct registry_manifest cur = { 0 };
        const struct config_mirror *mirror = mirrors_for(req, ref->domain);
        struct pull_ctx ctx = {
                .p = p,
                .req = req,
                .name = name,
                .target = {
                        .domain = ref->domain,
                        .repository = ref->path,
                        .mirrors = mirror ? mirror->locations : NULL,
                        .insecure = req->insecure_registries,
                        .auth = req->auth,
                        .deadline_ns = req->deadline_ns,
                        .stall_timeout_s = req->stall_timeout_s > 0 ? (unsigned) req->stall_timeout_s
                                                                    : PULL_STALL_NEVER_S,
                },
        };
        struct image_unpack_options uo = {
                .fetch = fetch_blob,
                .fetch_userdata = &ctx,
                .progress = on_layer,
                .progress_userdata = &ctx,
                .deadline_ns = req->deadline_ns,
        };
        char *tags[2] = { NULL, NULL }, *digests[2] = { NULL, NULL };
        enum manifest_kind kind;
        int r;

        if (req->stall_timeout_s > (int64_t) PULL_STALL_NEVER_S)
                ctx.target.stall_timeout_s = PULL_STALL_NEVER_S;
        r = image_lease_new(p->store, &lease, err);
        if (r < 0)
                return r;
        r = fetch_manifest(&ctx, lease, image_ref_manifest_ref(ref), &cur, err);
        if (r < 0)
                return r;
        repo_digest = image_ref_digested(ref, cur.digest);
        extra = xzalloc(sizeof(char *));

        /* An index (manifest list) names one image per platform. */
        for (unsigned depth = 0;; depth++) {
                _cleanup_manifest_index_ struct manifest_index *idx = NULL;
                _cleanup_(platform_done) struct platform host = { 0 };
                const struct descriptor *d;
                char digest[DIGEST_STRING_SIZE];

                r = manifest_detect(cur.body, cur.len, cur.content_type, &kind, err);
                if (r < 0 || kind == MANIFEST_KIND_IMAGE)
                        break;
                if (depth >= PULL_MAX_INDEX_DEPTH) {
                        r = ocid_error_msg(err, ENOTSUP, "indexes nested more than %d deep", PULL_MAX_INDEX_DEPTH);
                        break;
                }
                r = manifest_index_parse(cur.body, cur.len, &idx, err);
                if (r >= 0)
                        r = platform_host(&host, err);
                if (r >= 0)
                        r = manifest_index_select(idx, &host, &d, err);
                if (r < 0)
                        break;
                ocid_strv_push(&extra, cur.digest);
                memcpy(digest, d->digest, sizeof(digest));
                registry_manifest_done(&cur);
                r = fetch_manifest(&ctx, lease, digest, &cur, err);
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = image_manifest_parse(cur.body, cur.len, &m, err);
        if (r < 0) {
                registry_manifest_done(&cur);
                return ocid_error_prefix(err, "manifest of '%s'", name);
        }

        r = image_lease_add_blob(lease, m->config.digest, err);
        if (r >= 0)
                r = blobstore_ensure(image_store_blobs(p->store), m->config.digest, m->config.size, fetch_blob,
                                     &ctx, req->deadline_ns, err);
        if (r >= 0)
                r = image_store_unpack(p->store, lease, cur.digest, &uo, err);
        if (r >= 0) {
                if (!ref->digest)
                        tags[0] = tag = image_ref_tagged(ref);
                digests[0] = repo_digest;
                r = image_store_commit(p->store, cur.digest, tags, digests, extra,
                                       is_pinned(req, ref) ? IMAGE_COMMIT_PINNED : 0, ret, err);
        }
        registry_manifest_done(&cur);
        return r;
}

/* ---- single flight ---------------------------------------------------- */

static char *flight_key(struct image_ref *const *cands)
{
        _cleanup_free_ char *key = xstrdup("");

        for (size_t i = 0; cands[i]; i++) {
                _cleanup_free_ char *s = image_ref_string(cands[i]);
                char *k = xasprintf("%s%s\n", key, s);

                free(key);
                key = k;
        }
        return TAKE_PTR(key);
}

static struct pull_flight *flight_find(struct image_puller *p, const char *key)
{
        for (struct pull_flight *f = p->flights; f; f = f->next)
                if (streq(f->key, key))
                        return f;
        return NULL;
}

static void flight_unlink(struct image_puller *p, struct pull_flight *f)
{
        for (struct pull_flight **i = &p->flights; *i; i = &(*i)->next)
                if (*i == f) {
                        *i = f->next;
                        return;
                }
}

static void flight_free(struct pull_flight *f)
{
        free(f->key);
        free(f->id);
        free(f);
}

/* Waits for f (p->lock held). Returns -ETIMEDOUT when the deadline comes
 * first. */
static int flight_wait(struct image_puller *p, struct pull_flight *f, int64_t deadline_ns)
{
        while (!f->done) {
                if (deadline_ns > 0) {
                        struct timespec ts = { .tv_sec = deadline_ns / NS_PER_SEC, .tv_nsec = deadline_ns % NS_PER_SEC };

                        if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT && !f->done)
                                return -ETIMEDOUT;
                } else {
                        (void) pthread_cond_wait(&p->cond, &p->lock);
                }
        }
        return 0;
}

static int pull_candidates(struct image_puller *p, const struct image_pull_request *req,
                           struct image_ref *const *cands, struct image_record **ret, struct ocid_error **err)
{
        _cleanup_free_ char *tried = xstrdup("");
        _cleanup_error_ struct ocid_error *first = NULL;
        size_t n = 0;
        bool all_missing = true;

        while (cands[n])
                n++;
        if (n == 1)
                return pull_one(p, req, cands[0], ret, err);

        for (size_t i = 0; i < n; i++) {
                _cleanup_error_ struct ocid_error *e = NULL;
                _cleanup_free_ char *s = image_ref_string(cands[i]);
                char *t;
                int r;

                r = pull_one(p, req, cands[i], ret, &e);
                if (r >= 0)
                        return r;
                t = xasprintf("%s%s%s (%s)", tried, *tried ? "; " : "", s, ocid_error_message(&e));
                free(tried);
                tried = t;
                if (ocid_error_code(&e) != ENOENT)
                        all_missing = false;
                if (!first && ocid_error_code(&e) != ENOENT)
                        first = TAKE_PTR(e);
                /* A passed deadline ends the search. */
                if (r == -ECANCELED ||
                    (r == -ETIMEDOUT && req->deadline_ns > 0 && ocid_now_monotonic_ns() >= req->deadline_ns)) {
                        if (!first)
                                first = TAKE_PTR(e);
                        break;
                }
        }
        if (all_missing)
                return ocid_error_msg(err, ENOENT, "image '%s' not found; tried: %s", req->image, tried);
        return ocid_error_msg(err, ocid_error_code(&first), "pull '%s' failed; tried: %s", req->image, tried);
}

int image_pull(struct image_puller *p, const struct image_pull_request *req, struct image_record **ret,
               struct ocid_error **err)
{
        _cleanup_free_ char *key = NULL;
        struct image_ref **cands = NULL;
        struct image_record *rec = NULL;
        struct pull_flight *f;
        int64_t start = ocid_now_monotonic_ns(), ms;
        int r;

        if (!req->image || !*req->image)
                return ocid_error_msg(err, EINVAL, "no image to pull");
        r = image_ref_candidates(req->image, req->search_registries, &cands, err);
        if (r < 0)
                return r;
        key = flight_key(cands);

        /* A pull of the same references in flight: wait for its outcome. */
        pthread_mutex_lock(&p->lock);
        for (;;) {
                f = flight_find(p, key);
                if (!f)
                        break;
                f->waiters++;
                r = flight_wait(p, f, req->deadline_ns);
                f->waiters--;
                if (r < 0) {
                        if (f->done && f->waiters == 0)
                                flight_free(f);
                        pthread_mutex_unlock(&p->lock);
                        image_ref_list_free(cands);
                        return ocid_error_msg(err, ETIMEDOUT,
                                              "deadline exceeded while waiting for another pull of '%s'",
                                              req->image);
                }
                if (f->ok) {
                        _cleanup_free_ char *id = xstrdup(f->id);
                        _cleanup_error_ struct ocid_error *e = NULL;

                        if (f->waiters == 0)
                                flight_free(f);
                        pthread_mutex_unlock(&p->lock);
                        if (image_store_get(p->store, id, NULL, &rec, &e) >= 0) {
                                image_ref_list_free(cands);
                                ocid_log(OCID_LOG_INFO, "pulled %s as %s (by a concurrent pull)", req->image,
                                         rec->id);
                                *ret = rec;
                                return 0;
                        }
                        /* removed meanwhile: pull on our own */
                        pthread_mutex_lock(&p->lock);
                        continue;
                }
                if (f->waiters == 0)
                        flight_free(f);
                /* It failed, maybe for its own reasons (credentials,
                 * deadline): try ourselves. */
        }
        f = xzalloc(sizeof(*f));
        f->key = xstrdup(key);
        f->next = p->flights;
        p->flights = f;
        pthread_mutex_unlock(&p->lock);

        ocid_log(OCID_LOG_INFO, "pulling %s", req->image);
        r = pull_candidates(p, req, cands, &rec, err);
        image_ref_list_free(cands);

        pthread_mutex_lock(&p->lock);
        flight_unlink(p, f);
        f->done = true;
        f->ok = r >= 0;
        if (r >= 0)
                f->id = xstrdup(rec->id);
        (void) pthread_cond_broadcast(&p->cond);
        if (f->waiters == 0)
                flight_free(f);
        pthread_mutex_unlock(&p->lock);
        if (r < 0)
                return r;
        ms = (ocid_now_monotonic_ns() - start) / 1000000;
        ocid_log(OCID_LOG_INFO, "pulled %s as %s in %" PRId64 ".%03" PRId64 " s", req->image, rec->id, ms / 1000,
                 ms % 1000);
        *ret = rec;
        return 0;
}
