/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "registry/hashmap.h"
#include "registry/store.h"

struct store {
        pthread_rwlock_t lock;
        size_t ref_offset;
        struct hashmap *objs;     /* id -> object; the store holds one reference to each */
};

void store_ref_init(struct store_ref *ref, store_destroy_fn destroy)
{
        assert(ref && destroy);
        atomic_init(&ref->count, 1);
        ref->destroy = destroy;
}

struct store_ref *store_ref_get(struct store_ref *ref)
{
        unsigned old = atomic_fetch_add_explicit(&ref->count, 1, memory_order_relaxed);

        assert(old > 0);
        (void) old;
        return ref;
}

void store_ref_put(struct store_ref *ref)
{
        unsigned old;

        if (!ref)
                return;
        /* Release, so that this thread's writes to the object happen
         * before a destroy another thread may run; acquire, so that the
         * thread that drops the last reference sees every such write. (One
         * acq_rel operation rather than a release plus a fence on the last
         * put: ThreadSanitizer understands the former, not fences.) */
        old = atomic_fetch_sub_explicit(&ref->count, 1, memory_order_acq_rel);
        assert(old > 0);
        if (old == 1)
                ref->destroy(ref);
}

static inline struct store_ref *store_ref_of(const struct store *s, void *obj)
{
        return (struct store_ref *) ((char *) obj + s->ref_offset);
}

struct store *store_new(size_t ref_offset)
{
        struct store *s = xzalloc(sizeof(*s));
        pthread_rwlockattr_t attr;

        /* Writers first, so that frequent lists do not starve add/remove. */
        if (pthread_rwlockattr_init(&attr) != 0)
                abort();
        (void) pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        if (pthread_rwlock_init(&s->lock, &attr) != 0)
                abort();
        (void) pthread_rwlockattr_destroy(&attr);
        s->ref_offset = ref_offset;
        s->objs = hashmap_new();
        return s;
}

struct store_snapshot {
        void **objs;
        size_t n;
};

/* Collects every object into a snapshot; whether it also takes a reference
 * is the caller's business. */
static int store_collect(const char *id, void *obj, void *userdata)
{
        struct store_snapshot *snap = userdata;

        snap->objs[snap->n++] = obj;
        return 0;
}

struct store *store_free(struct store *s)
{
        struct store_snapshot snap = {};

        if (!s)
                return NULL;
        if (s->objs) {
                snap.objs = xcalloc(hashmap_size(s->objs) + 1, sizeof(*snap.objs));
                (void) hashmap_foreach(s->objs, store_collect, &snap);
                hashmap_free(s->objs);
        }
        (void) pthread_rwlock_destroy(&s->lock);
        /* The store's references go last, after its own state is gone, so a
         * destroy callback cannot see a half-freed store. */
        for (size_t i = 0; i < snap.n; i++)
                store_ref_put(store_ref_of(s, snap.objs[i]));
        free(snap.objs);
        free(s);
        return NULL;
}

int store_add(struct store *s, const char *id, void *obj, struct ocid_error **err)
{
        int r;

        assert(s && id && obj);
        if (id[0] == '\0')
                return ocid_error_msg(err, EINVAL, "empty id");

        pthread_rwlock_wrlock(&s->lock);
        r = hashmap_put(s->objs, id, obj);
        if (r == 0)
                store_ref_get(store_ref_of(s, obj));
        pthread_rwlock_unlock(&s->lock);

        if (r == -EEXIST)
                return ocid_error_msg(err, EEXIST, "id '%s' already exists in the store", id);
        assert(r == 0);
        return 0;
}

void *store_get(struct store *s, const char *id)
{
        void *obj;

        assert(s && id);
        pthread_rwlock_rdlock(&s->lock);
        obj = hashmap_get(s->objs, id);
        /* The store's own reference keeps obj alive while the lock is held,
         * so taking one more here cannot race with its destruction. */
        if (obj)
                store_ref_get(store_ref_of(s, obj));
        pthread_rwlock_unlock(&s->lock);
        return obj;
}

int store_remove(struct store *s, const char *id, struct ocid_error **err)
{
        void *obj;

        assert(s && id);
        pthread_rwlock_wrlock(&s->lock);
        obj = hashmap_remove(s->objs, id);
        pthread_rwlock_unlock(&s->lock);

        if (!obj)
                return ocid_error_msg(err, ENOENT, "no such id in the store: '%s'", id);
        store_ref_put(store_ref_of(s, obj));
        return 0;
}

void store_unref(struct store *s, void *obj)
{
        assert(s);
        if (obj)
                store_ref_put(store_ref_of(s, obj));
}

void store_list(struct store *s, void ***ret_objs, size_t *ret_n)
{
        struct store_snapshot snap = {};
        size_t n;

        assert(s && ret_objs && ret_n);
        pthread_rwlock_rdlock(&s->lock);
        n = hashmap_size(s->objs);
        if (n > 0) {
                snap.objs = xcalloc(n, sizeof(*snap.objs));
                (void) hashmap_foreach(s->objs, store_collect, &snap);
                for (size_t i = 0; i < snap.n; i++)
                        store_ref_get(store_ref_of(s, snap.objs[i]));
        }
        pthread_rwlock_unlock(&s->lock);

        assert(snap.n == n);
        *ret_objs = snap.objs;
        *ret_n = snap.n;
}

void store_list_free(struct store *s, void **objs, size_t n)
{
        assert(s);
        for (size_t i = 0; i < n; i++)
                store_unref(s, objs[i]);
        free(objs);
}

size_t store_count(struct store *s)
{
        size_t n;

        assert(s);
        pthread_rwlock_rdlock(&s->lock);
        n = hashmap_size(s->objs);
        pthread_rwlock_unlock(&s->lock);
        return n;
}
