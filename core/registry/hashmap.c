/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/util.h>

#include "registry/hashmap.h"

#define HASHMAP_MIN_BUCKETS 16u

struct hashmap_entry {
        struct hashmap_entry *next;
        uint64_t hash;
        void *value;
        char key[];
};

struct hashmap {
        struct hashmap_entry **buckets;
        size_t n_buckets;       /* a power of two */
        size_t size;
};

/* FNV-1a over the bytes, then a 64-bit finaliser so that the low bits
 * (the bucket index) depend on every input byte. */
static uint64_t hashmap_hash(const char *key)
{
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (const unsigned char *p = (const unsigned char *) key; *p; p++) {
                h ^= *p;
                h *= UINT64_C(0x100000001b3);
        }
        h ^= h >> 33;
        h *= UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 33;
        h *= UINT64_C(0xc4ceb9fe1a85ec53);
        h ^= h >> 33;
        return h;
}

struct hashmap *hashmap_new(void)
{
        struct hashmap *m = xzalloc(sizeof(*m));

        m->n_buckets = HASHMAP_MIN_BUCKETS;
        m->buckets = xcalloc(m->n_buckets, sizeof(*m->buckets));
        return m;
}

struct hashmap *hashmap_free(struct hashmap *m)
{
        if (!m)
                return NULL;
        for (size_t i = 0; m->buckets && i < m->n_buckets; i++) {
                struct hashmap_entry *e = m->buckets[i];

                while (e) {
                        struct hashmap_entry *next = e->next;

                        free(e);
                        e = next;
                }
        }
        free(m->buckets);
        free(m);
        return NULL;
}

static void hashmap_rehash(struct hashmap *m, size_t n_buckets)
{
        struct hashmap_entry **buckets = xcalloc(n_buckets, sizeof(*buckets));

        for (size_t i = 0; i < m->n_buckets; i++) {
                struct hashmap_entry *e = m->buckets[i];

                while (e) {
                        struct hashmap_entry *next = e->next;
                        size_t b = e->hash & (n_buckets - 1);

                        e->next = buckets[b];
                        buckets[b] = e;
                        e = next;
                }
        }
        free(m->buckets);
        m->buckets = buckets;
        m->n_buckets = n_buckets;
}

/* The link that points at key's entry (or the NULL link at the end of its
 * chain when absent). */
static struct hashmap_entry **hashmap_find(const struct hashmap *m, const char *key, uint64_t hash)
{
        struct hashmap_entry **link = &m->buckets[hash & (m->n_buckets - 1)];

        for (; *link; link = &(*link)->next)
                if ((*link)->hash == hash && streq((*link)->key, key))
                        break;
        return link;
}

void *hashmap_get(const struct hashmap *m, const char *key)
{
        struct hashmap_entry *e = *hashmap_find(m, key, hashmap_hash(key));

        return e ? e->value : NULL;
}

int hashmap_put(struct hashmap *m, const char *key, void *value)
{
        uint64_t hash = hashmap_hash(key);
        struct hashmap_entry **link;
        struct hashmap_entry *e;
        size_t len;

        if (!value)
                return -EINVAL;
        link = hashmap_find(m, key, hash);
        if (*link)
                return -EEXIST;

        len = strlen(key);
        e = xmalloc(sizeof(*e) + len + 1);
        memcpy(e->key, key, len + 1);
        e->hash = hash;
        e->value = value;
        e->next = NULL;
        *link = e;
        m->size++;

        /* Grow past a load factor of 3/4. */
        if (m->size > m->n_buckets / 4 * 3)
                hashmap_rehash(m, m->n_buckets * 2);
        return 0;
}

void *hashmap_replace(struct hashmap *m, const char *key, void *value)
{
        struct hashmap_entry *e = *hashmap_find(m, key, hashmap_hash(key));
        void *old;

        if (!e || !value)
                return NULL;
        old = e->value;
        e->value = value;
        return old;
}

void *hashmap_remove(struct hashmap *m, const char *key)
{
        struct hashmap_entry **link = hashmap_find(m, key, hashmap_hash(key));
        struct hashmap_entry *e = *link;
        void *value;

        if (!e)
                return NULL;
        *link = e->next;
        value = e->value;
        free(e);
        m->size--;

        /* Shrink below a load factor of 1/8, so that a map that once held
         * many entries does not keep its table forever. */
        if (m->n_buckets > HASHMAP_MIN_BUCKETS && m->size < m->n_buckets / 8)
                hashmap_rehash(m, m->n_buckets / 2);
        return value;
}

size_t hashmap_size(const struct hashmap *m)
{
        return m->size;
}

int hashmap_foreach(const struct hashmap *m, hashmap_foreach_fn fn, void *userdata)
{
        for (size_t i = 0; i < m->n_buckets; i++)
                for (struct hashmap_entry *e = m->buckets[i]; e; e = e->next) {
                        int r = fn(e->key, e->value, userdata);

                        if (r != 0)
                                return r;
                }
        return 0;
}
