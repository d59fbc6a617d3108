/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "registry/truncindex.h"

/* A crit-bit tree. A leaf is the ID itself (a char array of
 * TRUNCINDEX_ID_LEN + 1); an internal node records the first bit at which
 * its two subtrees differ: the byte index and a mask with every bit set
 * except that one. A child pointer with its low bit set is an internal
 * node, otherwise a leaf (both come from malloc and are aligned). */
struct truncindex_node {
        void *child[2];
        uint32_t byte;
        uint8_t otherbits;
};

struct truncindex {
        pthread_rwlock_t lock;
        void *root;
        size_t count;
};

static inline bool truncindex_is_node(const void *p)
{
        return (uintptr_t) p & 1;
}

static inline struct truncindex_node *truncindex_node(void *p)
{
        return (struct truncindex_node *) ((uintptr_t) p - 1);
}

static inline void *truncindex_tag(struct truncindex_node *n)
{
        return (void *) ((uintptr_t) n + 1);
}

/* Which child of n a key of length len goes to. Bytes past the end of the
 * key count as 0. */
static inline int truncindex_direction(const struct truncindex_node *n, const char *key, size_t len)
{
        uint8_t c = n->byte < len ? (uint8_t) key[n->byte] : 0;

        return (1 + (n->otherbits | c)) >> 8;
}

static void truncindex_free_subtree(void *p)
{
        if (truncindex_is_node(p)) {
                struct truncindex_node *n = truncindex_node(p);

                truncindex_free_subtree(n->child[0]);
                truncindex_free_subtree(n->child[1]);
                free(n);
        } else
                free(p);
}

struct truncindex *truncindex_new(void)
{
        struct truncindex *t = xzalloc(sizeof(*t));
        pthread_rwlockattr_t attr;

        /* glibc's default lets a steady stream of readers starve a writer;
         * a list that runs every few seconds must not block creates. */
        if (pthread_rwlockattr_init(&attr) != 0)
                abort();
        (void) pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        if (pthread_rwlock_init(&t->lock, &attr) != 0)
                abort();
        (void) pthread_rwlockattr_destroy(&attr);
        return t;
}

struct truncindex *truncindex_free(struct truncindex *t)
{
        if (!t)
                return NULL;
        if (t->root)
                truncindex_free_subtree(t->root);
        (void) pthread_rwlock_destroy(&t->lock);
        free(t);
        return NULL;
}

static bool truncindex_is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool truncindex_id_is_valid(const char *id)
{
        size_t i;

        if (!id)
                return false;
        for (i = 0; i < TRUNCINDEX_ID_LEN; i++)
                if (!truncindex_is_hex(id[i]))
                        return false;
        return id[i] == '\0';
}

static int truncindex_check_id(const char *id, struct ocid_error **err)
{
        if (!truncindex_id_is_valid(id))
                return ocid_error_msg(err, EINVAL, "invalid id '%s': not %d lowercase hexadecimal characters",
                                      id, TRUNCINDEX_ID_LEN);
        return 0;
}

/* The leaf a walk for key of length len ends at. The tree is not empty. */
static const char *truncindex_walk(const struct truncindex *t, const char *key, size_t len)
{
        void *p = t->root;

        while (truncindex_is_node(p)) {
                struct truncindex_node *n = truncindex_node(p);

                p = n->child[truncindex_direction(n, key, len)];
        }
        return p;
}

int truncindex_add(struct truncindex *t, const char *id, struct ocid_error **err)
{
        const size_t len = TRUNCINDEX_ID_LEN;
        struct truncindex_node *node;
        const char *leaf;
        char *copy;
        void **where;
        uint32_t byte;
        uint8_t bits;
        int direction, r;

        r = truncindex_check_id(id, err);
        if (r < 0)
                return r;

        copy = xstrdup(id);
        pthread_rwlock_wrlock(&t->lock);
        if (!t->root) {
                t->root = copy;
                t->count++;
                pthread_rwlock_unlock(&t->lock);
                return 0;
        }

        /* Find the leaf id would sit next to and the first bit where they
         * differ. All IDs have one length, so they differ within it. */
        leaf = truncindex_walk(t, id, len);
        for (byte = 0; byte < len; byte++)
                if (leaf[byte] != id[byte])
                        break;
        if (byte == len) {
                pthread_rwlock_unlock(&t->lock);
                free(copy);
                return ocid_error_msg(err, EEXIST, "id '%s' already exists", id);
        }
        bits = (uint8_t) leaf[byte] ^ (uint8_t) id[byte];
        bits |= bits >> 1;
        bits |= bits >> 2;
        bits |= bits >> 4;
        bits = (uint8_t) ((bits & ~(bits >> 1)) ^ 0xff);   /* all but the highest differing bit */
        direction = (1 + (bits | (uint8_t) leaf[byte])) >> 8;

        node = xmalloc(sizeof(*node));
        node->byte = byte;
        node->otherbits = bits;
        node->child[1 - direction] = copy;

        /* Insert the node above the first node that tests a later bit. */
        where = &t->root;
        while (truncindex_is_node(*where)) {
                struct truncindex_node *n = truncindex_node(*where);

                if (n->byte > byte || (n->byte == byte && n->otherbits > bits))
                        break;
                where = &n->child[truncindex_direction(n, id, len)];
        }
        node->child[direction] = *where;
        *where = truncindex_tag(node);
        t->count++;
        pthread_rwlock_unlock(&t->lock);
        return 0;
}

int truncindex_delete(struct truncindex *t, const char *id, struct ocid_error **err)
{
        const size_t len = TRUNCINDEX_ID_LEN;
        struct truncindex_node *parent = NULL;
        void **where, **where_parent = NULL;
        int direction = 0, r;

        r = truncindex_check_id(id, err);
        if (r < 0)
                return r;

        pthread_rwlock_wrlock(&t->lock);
        where = &t->root;
        if (!*where)
                goto not_found;
        while (truncindex_is_node(*where)) {
                where_parent = where;
                parent = truncindex_node(*where);
                direction = truncindex_direction(parent, id, len);
                where = &parent->child[direction];
        }
        if (!streq(*where, id))
                goto not_found;

        free(*where);
        if (!where_parent)
                t->root = NULL;
        else {
                /* The sibling takes the parent's place. */
                *where_parent = parent->child[1 - direction];
                free(parent);
        }
        t->count--;
        pthread_rwlock_unlock(&t->lock);
        return 0;

not_found:
        pthread_rwlock_unlock(&t->lock);
        return ocid_error_msg(err, ENOENT, "no such id: '%s'", id);
}

int truncindex_get(struct truncindex *t, const char *prefix, char ret_id[TRUNCINDEX_ID_LEN + 1],
                   struct ocid_error **err)
{
        size_t len;
        void *p, *top;
        int r = 0;

        assert(t && prefix && ret_id);
        len = strlen(prefix);
        if (len == 0)
                return ocid_error_msg(err, EINVAL, "empty id prefix");
        if (len > TRUNCINDEX_ID_LEN)
                return ocid_error_msg(err, ENOENT, "no such id: '%s'", prefix);
        for (size_t i = 0; i < len; i++)
                if (!truncindex_is_hex(prefix[i]))
                        return ocid_error_msg(err, ENOENT, "no such id: '%s'", prefix);

        pthread_rwlock_rdlock(&t->lock);
        /* Follow the prefix while the nodes test bits inside it; `top` is
         * the last subtree entered that way. If the leaf reached starts with
         * prefix, every leaf under top does, and no other leaf does. */
        p = top = t->root;
        while (p && truncindex_is_node(p)) {
                struct truncindex_node *n = truncindex_node(p);

                p = n->child[truncindex_direction(n, prefix, len)];
                if (n->byte < len)
                        top = p;
        }
        if (!p || strncmp(p, prefix, len) != 0)
                r = ocid_error_msg(err, ENOENT, "no such id: '%s'", prefix);
        else if (truncindex_is_node(top))
                r = ocid_error_msg(err, ENOTUNIQ, "prefix '%s' is ambiguous", prefix);
        else
                memcpy(ret_id, p, TRUNCINDEX_ID_LEN + 1);
        pthread_rwlock_unlock(&t->lock);
        return r;
}

static int truncindex_foreach_subtree(void *p, truncindex_foreach_fn fn, void *userdata)
{
        struct truncindex_node *n;
        int r;

        if (!truncindex_is_node(p))
                return fn(p, userdata);
        n = truncindex_node(p);
        r = truncindex_foreach_subtree(n->child[0], fn, userdata);
        if (r != 0)
                return r;
        return truncindex_foreach_subtree(n->child[1], fn, userdata);
}

int truncindex_foreach(struct truncindex *t, truncindex_foreach_fn fn, void *userdata)
{
        int r = 0;

        assert(t && fn);
        pthread_rwlock_rdlock(&t->lock);
        if (t->root)
                r = truncindex_foreach_subtree(t->root, fn, userdata);
        pthread_rwlock_unlock(&t->lock);
        return r;
}

size_t truncindex_count(struct truncindex *t)
{
        size_t count;

        assert(t);
        pthread_rwlock_rdlock(&t->lock);
        count = t->count;
        pthread_rwlock_unlock(&t->lock);
        return count;
}
