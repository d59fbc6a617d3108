/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../test-common.h"

#include <ocid/error.h>
#include <ocid/util.h>

#include "registry/store.h"

#define ALIVE 0x0c1d0c1du
#define DEAD  0xdeadbeefu

/* A test record. The reference is deliberately not the first member, so
 * that the store's offset arithmetic is exercised. */
struct thing {
        char id[32];
        atomic_uint magic;
        struct store_ref ref;
        atomic_int *destroyed;
};

static void thing_destroy(struct store_ref *ref)
{
        struct thing *t = store_container_of(ref, struct thing, ref);

        /* A second destruction would see DEAD here. */
        if (atomic_exchange(&t->magic, DEAD) != ALIVE)
                abort();
        atomic_fetch_add(t->destroyed, 1);
        free(t);
}

static struct thing *thing_new(const char *id, atomic_int *destroyed)
{
        struct thing *t = xzalloc(sizeof(*t));

        snprintf(t->id, sizeof(t->id), "%s", id);
        atomic_init(&t->magic, ALIVE);
        t->destroyed = destroyed;
        store_ref_init(&t->ref, thing_destroy);
        return t;
}

static struct store *thing_store_new(void)
{
        return store_new(offsetof(struct thing, ref));
}

static void test_ref(void **state)
{
        atomic_int destroyed = 0;
        struct thing *t = thing_new("x", &destroyed);

        assert_int_equal(atomic_load(&t->ref.count), 1);
        assert_ptr_equal(store_ref_get(&t->ref), &t->ref);
        assert_int_equal(atomic_load(&t->ref.count), 2);
        store_ref_put(&t->ref);
        assert_int_equal(atomic_load(&destroyed), 0);
        store_ref_put(&t->ref);
        assert_int_equal(atomic_load(&destroyed), 1);
        store_ref_put(NULL);
}

static void test_add_get_remove(void **state)
{
        _cleanup_(store_freep) struct store *s = thing_store_new();
        _cleanup_error_ struct ocid_error *err = NULL;
        atomic_int destroyed = 0;
        struct thing *a = thing_new("a", &destroyed), *b = thing_new("b", &destroyed);
        struct thing *got;

        assert_int_equal(store_count(s), 0);
        assert_null(store_get(s, "a"));

        assert_int_equal(store_add(s, "a", a, &err), 0);
        assert_int_equal(store_add(s, "b", b, &err), 0);
        assert_null(err);
        assert_int_equal(store_count(s), 2);
        /* The store holds a reference of its own. */
        assert_int_equal(atomic_load(&a->ref.count), 2);

        got = store_get(s, "a");
        assert_ptr_equal(got, a);
        assert_int_equal(atomic_load(&a->ref.count), 3);
        store_unref(s, got);
        assert_int_equal(atomic_load(&a->ref.count), 2);
        assert_null(store_get(s, "c"));

        /* Drop the creator's references: the store keeps both alive. */
        store_unref(s, a);
        store_unref(s, b);
        assert_int_equal(atomic_load(&destroyed), 0);

        assert_int_equal(store_remove(s, "a", &err), 0);
        assert_null(err);
        assert_int_equal(atomic_load(&destroyed), 1);
        assert_int_equal(store_count(s), 1);
        assert_null(store_get(s, "a"));

        got = store_get(s, "b");
        assert_non_null(got);
        assert_string_equal(got->id, "b");
        store_unref(s, got);
        store_unref(s, NULL);
}

static void test_errors(void **state)
{
        _cleanup_(store_freep) struct store *s = thing_store_new();
        _cleanup_error_ struct ocid_error *err = NULL;
        atomic_int destroyed = 0;
        struct thing *a = thing_new("a", &destroyed), *a2 = thing_new("a", &destroyed);

        assert_int_equal(store_add(s, "a", a, NULL), 0);
        assert_int_equal(store_add(s, "a", a2, &err), -EEXIST);
        assert_int_equal(ocid_error_code(&err), EEXIST);
        assert_string_equal(ocid_error_message(&err), "id 'a' already exists in the store");
        ocid_error_clear(&err);
        /* No reference was taken on the refused object. */
        assert_int_equal(atomic_load(&a2->ref.count), 1);

        assert_int_equal(store_add(s, "", a2, &err), -EINVAL);
        assert_int_equal(ocid_error_code(&err), EINVAL);
        assert_string_equal(ocid_error_message(&err), "empty id");
        ocid_error_clear(&err);
        assert_int_equal(atomic_load(&a2->ref.count), 1);

        assert_int_equal(store_remove(s, "zz", &err), -ENOENT);
        assert_int_equal(ocid_error_code(&err), ENOENT);
        assert_string_equal(ocid_error_message(&err), "no such id in the store: 'zz'");
        ocid_error_clear(&err);

        assert_int_equal(store_remove(s, "a", NULL), 0);
        assert_int_equal(store_remove(s, "a", NULL), -ENOENT);
        assert_int_equal(store_count(s), 0);

        store_unref(s, a);
        store_unref(s, a2);
        assert_int_equal(atomic_load(&destroyed), 2);
}

/* The point of the reference count: a handler that got an object keeps
 * using it after another worker removed it from the store, and the object
 * is destroyed at the last unref, not at the remove. */
static void test_remove_while_held(void **state)
{
        _cleanup_(store_freep) struct store *s = thing_store_new();
        atomic_int destroyed = 0;
        struct thing *t = thing_new("held", &destroyed);
        struct thing *h1, *h2;

        assert_int_equal(store_add(s, t->id, t, NULL), 0);
        store_unref(s, t);                     /* only the store holds it now */

        h1 = store_get(s, "held");
        h2 = store_get(s, "held");
        assert_non_null(h1);
        assert_ptr_equal(h1, h2);

        assert_int_equal(store_remove(s, "held", NULL), 0);
        assert_null(store_get(s, "held"));
        assert_int_equal(atomic_load(&destroyed), 0);
        assert_int_equal(atomic_load(&h1->magic), ALIVE);
        assert_string_equal(h1->id, "held");

        store_unref(s, h1);
        assert_int_equal(atomic_load(&destroyed), 0);
        assert_string_equal(h2->id, "held");
        store_unref(s, h2);
        assert_int_equal(atomic_load(&destroyed), 1);
}

static void test_list(void **state)
{
        _cleanup_(store_freep) struct store *s = thing_store_new();
        atomic_int destroyed = 0;
        void **objs = NULL;
        size_t n = 99;
        unsigned seen = 0;

        store_list(s, &objs, &n);
        assert_null(objs);
        assert_int_equal(n, 0);
        store_list_free(s, objs, n);

        for (int i = 0; i < 5; i++) {
                char id[16];
                struct thing *t;

                snprintf(id, sizeof(id), "%d", i);
                t = thing_new(id, &destroyed);
                assert_int_equal(store_add(s, id, t, NULL), 0);
                store_unref(s, t);
        }

        store_list(s, &objs, &n);
        assert_int_equal(n, 5);
        for (size_t i = 0; i < n; i++) {
                struct thing *t = objs[i];

                seen |= 1u << atoi(t->id);
                assert_int_equal(atomic_load(&t->ref.count), 2);
        }
        assert_int_equal(seen, 0x1f);

        /* Emptying the store does not destroy what the snapshot holds. */
        for (int i = 0; i < 5; i++) {
                char id[16];

                snprintf(id, sizeof(id), "%d", i);
                assert_int_equal(store_remove(s, id, NULL), 0);
        }
        assert_int_equal(store_count(s), 0);
        assert_int_equal(atomic_load(&destroyed), 0);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(atomic_load(&((struct thing *) objs[i])->magic), ALIVE);

        store_list_free(s, objs, n);
        assert_int_equal(atomic_load(&destroyed), 5);
}

static void test_free_drops_references(void **state)
{
        struct store *s = thing_store_new();
        atomic_int destroyed = 0;
        struct thing *kept = thing_new("kept", &destroyed), *dropped = thing_new("dropped", &destroyed);

        assert_int_equal(store_add(s, "kept", kept, NULL), 0);
        assert_int_equal(store_add(s, "dropped", dropped, NULL), 0);
        store_unref(s, dropped);

        assert_null(store_free(s));
        /* Only the object nobody else held is gone. */
        assert_int_equal(atomic_load(&destroyed), 1);
        assert_int_equal(atomic_load(&kept->magic), ALIVE);
        assert_int_equal(atomic_load(&kept->ref.count), 1);
        store_ref_put(&kept->ref);
        assert_int_equal(atomic_load(&destroyed), 2);

        assert_null(store_free(NULL));
}

/* Concurrent add/get/remove/list: THREADS workers over KEYS shared IDs.
 * Every object a worker gets must be alive and carry the ID it was found
 * under, even while other workers remove it; at the end every object
 * created has been destroyed exactly once (thing_destroy aborts on a
 * second destruction). */
#define THREADS 8
#define ITERATIONS 20000
#define KEYS 32

struct race {
        struct store *s;
        atomic_int destroyed;
        atomic_int created;
        atomic_int failures;
        atomic_long hits;
};

struct racer {
        struct race *race;
        int number;
        pthread_t thread;
};

static uint64_t race_next(uint64_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

static void *race_run(void *userdata)
{
        struct racer *me = userdata;
        struct race *race = me->race;
        uint64_t seed = 0x2545f4914f6cdd1dull * (uint64_t) (me->number + 1);

        for (int i = 0; i < ITERATIONS; i++) {
                uint64_t r = race_next(&seed);
                char id[16];

                snprintf(id, sizeof(id), "key-%d", (int) (r % KEYS));
                switch ((r >> 32) % 4) {
                case 0: {
                        struct thing *t = thing_new(id, &race->destroyed);
                        struct ocid_error *err = NULL;
                        int k;

                        atomic_fetch_add(&race->created, 1);
                        k = store_add(race->s, id, t, &err);
                        if (k != 0 && k != -EEXIST)
                                atomic_fetch_add(&race->failures, 1);
                        ocid_error_free(err);
                        store_unref(race->s, t);
                        break;
                }
                case 1: {
                        struct thing *t = store_get(race->s, id);

                        if (t) {
                                if (atomic_load(&t->magic) != ALIVE || !streq(t->id, id))
                                        atomic_fetch_add(&race->failures, 1);
                                atomic_fetch_add(&race->hits, 1);
                                store_unref(race->s, t);
                        }
                        break;
                }
                case 2: {
                        int k = store_remove(race->s, id, NULL);

                        if (k != 0 && k != -ENOENT)
                                atomic_fetch_add(&race->failures, 1);
                        break;
                }
                default: {
                        void **objs;
                        size_t n;

                        store_list(race->s, &objs, &n);
                        if (n > KEYS)
                                atomic_fetch_add(&race->failures, 1);
                        for (size_t j = 0; j < n; j++)
                                if (atomic_load(&((struct thing *) objs[j])->magic) != ALIVE)
                                        atomic_fetch_add(&race->failures, 1);
                        store_list_free(race->s, objs, n);
                        break;
                }
                }
        }
        return NULL;
}

static void test_concurrent(void **state)
{
        struct race race = { .s = thing_store_new() };
        struct racer racers[THREADS];
        size_t left;

        for (int t = 0; t < THREADS; t++) {
                racers[t] = (struct racer) { .race = &race, .number = t };
                assert_int_equal(pthread_create(&racers[t].thread, NULL, race_run, &racers[t]), 0);
        }
        for (int t = 0; t < THREADS; t++)
                assert_int_equal(pthread_join(racers[t].thread, NULL), 0);

        assert_int_equal(atomic_load(&race.failures), 0);
        assert_true(atomic_load(&race.hits) > 0);
        left = store_count(race.s);
        assert_int_equal((size_t) atomic_load(&race.created) - (size_t) atomic_load(&race.destroyed), left);
        store_free(race.s);
        assert_int_equal(atomic_load(&race.destroyed), atomic_load(&race.created));
}

OCID_TEST_MAIN(cmocka_unit_test(test_ref),
               cmocka_unit_test(test_add_get_remove),
               cmocka_unit_test(test_errors),
               cmocka_unit_test(test_remove_while_held),
               cmocka_unit_test(test_list),
               cmocka_unit_test(test_free_drops_references),
               cmocka_unit_test(test_concurrent))
