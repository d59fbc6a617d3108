/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "registry/hashmap.h"
#include "registry/names.h"

/* The names one ID holds. Usually one, so a plain array. */
struct names_held {
        char **v;
        size_t n, cap;
};

struct names {
        pthread_mutex_t lock;
        struct hashmap *by_name;   /* name -> char *id (owned) */
        struct hashmap *by_id;     /* id -> struct names_held * (owned) */
};

static void names_held_free(struct names_held *h)
{
        if (!h)
                return;
        for (size_t i = 0; i < h->n; i++)
                free(h->v[i]);
        free(h->v);
        free(h);
}

static int names_free_id(const char *key, void *value, void *userdata)
{
        free(value);
        return 0;
}

static int names_free_held(const char *key, void *value, void *userdata)
{
        names_held_free(value);
        return 0;
}

struct names *names_new(void)
{
        struct names *n = xzalloc(sizeof(*n));

        n->lock = (pthread_mutex_t) PTHREAD_MUTEX_INITIALIZER;
        n->by_name = hashmap_new();
        n->by_id = hashmap_new();
        return n;
}

struct names *names_free(struct names *n)
{
        if (!n)
                return NULL;
        if (n->by_name) {
                (void) hashmap_foreach(n->by_name, names_free_id, NULL);
                hashmap_free(n->by_name);
        }
        if (n->by_id) {
                (void) hashmap_foreach(n->by_id, names_free_held, NULL);
                hashmap_free(n->by_id);
        }
        (void) pthread_mutex_destroy(&n->lock);
        free(n);
        return NULL;
}

/* Adds name to the names id holds. Called with the lock held. */
static void names_held_add(struct names *n, const char *id, const char *name)
{
        struct names_held *h = hashmap_get(n->by_id, id);

        if (!h) {
                int r;

                h = xzalloc(sizeof(*h));
                r = hashmap_put(n->by_id, id, h);
                assert(r == 0);
                (void) r;
        }
        if (h->n == h->cap) {
                h->cap = h->cap ? h->cap * 2 : 2;
                h->v = xreallocarray(h->v, h->cap, sizeof(*h->v));
        }
        h->v[h->n++] = xstrdup(name);
}

/* Drops name from the names id holds. Called with the lock held. */
static void names_held_remove(struct names *n, const char *id, const char *name)
{
        struct names_held *h = hashmap_get(n->by_id, id);

        assert(h);
        for (size_t i = 0; i < h->n; i++)
                if (streq(h->v[i], name)) {
                        free(h->v[i]);
                        h->v[i] = h->v[--h->n];
                        break;
                }
        if (h->n == 0)
                names_held_free(hashmap_remove(n->by_id, id));
}

int names_reserve(struct names *n, const char *name, const char *id, struct ocid_error **err)
{
        const char *holder;
        int r = 0;

        assert(n && name && id);
        if (name[0] == '\0')
                return ocid_error_msg(err, EINVAL, "empty name");
        if (id[0] == '\0')
                return ocid_error_msg(err, EINVAL, "empty id");

        pthread_mutex_lock(&n->lock);
        holder = hashmap_get(n->by_name, name);
        if (holder) {
                if (!streq(holder, id))
                        r = ocid_error_msg(err, EEXIST, "name '%s' is reserved for '%s'", name, holder);
        } else {
                int k = hashmap_put(n->by_name, name, xstrdup(id));

                assert(k == 0);
                (void) k;
                names_held_add(n, id, name);
        }
        pthread_mutex_unlock(&n->lock);
        return r;
}

int names_release(struct names *n, const char *name, struct ocid_error **err)
{
        _cleanup_free_ char *id = NULL;

        assert(n && name);
        pthread_mutex_lock(&n->lock);
        id = hashmap_remove(n->by_name, name);
        if (id)
                names_held_remove(n, id, name);
        pthread_mutex_unlock(&n->lock);

        if (!id)
                return ocid_error_msg(err, ENOENT, "name '%s' is not reserved", name);
        return 0;
}

size_t names_release_id(struct names *n, const char *id)
{
        struct names_held *h;
        size_t count = 0;

        assert(n && id);
        pthread_mutex_lock(&n->lock);
        h = hashmap_remove(n->by_id, id);
        if (h) {
                for (size_t i = 0; i < h->n; i++)
                        free(hashmap_remove(n->by_name, h->v[i]));
                count = h->n;
        }
        pthread_mutex_unlock(&n->lock);

        names_held_free(h);
        return count;
}

int names_get(struct names *n, const char *name, char **ret_id, struct ocid_error **err)
{
        char *id = NULL;

        assert(n && name && ret_id);
        pthread_mutex_lock(&n->lock);
        id = xstrdup(hashmap_get(n->by_name, name));
        pthread_mutex_unlock(&n->lock);

        if (!id)
                return ocid_error_msg(err, ENOENT, "name '%s' is not reserved", name);
        *ret_id = id;
        return 0;
}

static int names_strcmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

size_t names_get_names(struct names *n, const char *id, char ***ret_names)
{
        struct names_held *h;
        char **v;
        size_t count = 0;

        assert(n && id && ret_names);
        pthread_mutex_lock(&n->lock);
        h = hashmap_get(n->by_id, id);
        if (h)
                count = h->n;
        v = xcalloc(count + 1, sizeof(*v));
        for (size_t i = 0; i < count; i++)
                v[i] = xstrdup(h->v[i]);
        pthread_mutex_unlock(&n->lock);

        qsort(v, count, sizeof(*v), names_strcmp);
        *ret_names = v;
        return count;
}

size_t names_count(struct names *n)
{
        size_t count;

        assert(n);
        pthread_mutex_lock(&n->lock);
        count = hashmap_size(n->by_name);
        pthread_mutex_unlock(&n->lock);
        return count;
}
