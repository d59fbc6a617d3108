/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../test-common.h"

#include <ocid/util.h>

#include "registry/hashmap.h"

static void test_put_get_remove(void **state)
{
        _cleanup_(hashmap_freep) struct hashmap *m = hashmap_new();
        int a = 1, b = 2;

        assert_null(hashmap_get(m, "a"));
        assert_int_equal(hashmap_size(m), 0);

        assert_int_equal(hashmap_put(m, "a", &a), 0);
        assert_int_equal(hashmap_put(m, "b", &b), 0);
        assert_int_equal(hashmap_size(m), 2);
        assert_ptr_equal(hashmap_get(m, "a"), &a);
        assert_ptr_equal(hashmap_get(m, "b"), &b);
        assert_null(hashmap_get(m, "c"));
        assert_null(hashmap_get(m, ""));

        /* A duplicate key leaves the map unchanged. */
        assert_int_equal(hashmap_put(m, "a", &b), -EEXIST);
        assert_ptr_equal(hashmap_get(m, "a"), &a);
        assert_int_equal(hashmap_size(m), 2);

        /* NULL cannot be stored: it means "absent". */
        assert_int_equal(hashmap_put(m, "n", NULL), -EINVAL);
        assert_null(hashmap_get(m, "n"));

        assert_ptr_equal(hashmap_remove(m, "a"), &a);
        assert_null(hashmap_remove(m, "a"));
        assert_null(hashmap_get(m, "a"));
        assert_ptr_equal(hashmap_get(m, "b"), &b);
        assert_int_equal(hashmap_size(m), 1);
}

static void test_key_is_copied(void **state)
{
        _cleanup_(hashmap_freep) struct hashmap *m = hashmap_new();
        char key[] = "key";
        int v = 7;

        assert_int_equal(hashmap_put(m, key, &v), 0);
        key[0] = 'x';
        assert_ptr_equal(hashmap_get(m, "key"), &v);
        assert_null(hashmap_get(m, "xey"));
}

static void test_replace(void **state)
{
        _cleanup_(hashmap_freep) struct hashmap *m = hashmap_new();
        int a = 1, b = 2;

        assert_null(hashmap_replace(m, "k", &a));
        assert_null(hashmap_get(m, "k"));
        assert_int_equal(hashmap_put(m, "k", &a), 0);
        assert_ptr_equal(hashmap_replace(m, "k", &b), &a);
        assert_ptr_equal(hashmap_get(m, "k"), &b);
        /* NULL is refused and changes nothing. */
        assert_null(hashmap_replace(m, "k", NULL));
        assert_ptr_equal(hashmap_get(m, "k"), &b);
        assert_int_equal(hashmap_size(m), 1);
}

#define MANY 20000

/* Grows far past the initial table and shrinks back, checking every key at
 * each stage. Values are the key's number + 1, stored as pointers. */
static void test_grow_and_shrink(void **state)
{
        _cleanup_(hashmap_freep) struct hashmap *m = hashmap_new();
        char key[32];

        for (size_t i = 0; i < MANY; i++) {
                snprintf(key, sizeof(key), "key-%zu", i);
                assert_int_equal(hashmap_put(m, key, (void *) (i + 1)), 0);
        }
        assert_int_equal(hashmap_size(m), MANY);
        for (size_t i = 0; i < MANY; i++) {
                snprintf(key, sizeof(key), "key-%zu", i);
                assert_ptr_equal(hashmap_get(m, key), (void *) (i + 1));
        }

        /* Remove all but every hundredth key. */
        for (size_t i = 0; i < MANY; i++) {
                if (i % 100 == 0)
                        continue;
                snprintf(key, sizeof(key), "key-%zu", i);
                assert_ptr_equal(hashmap_remove(m, key), (void *) (i + 1));
        }
        assert_int_equal(hashmap_size(m), MANY / 100);
        for (size_t i = 0; i < MANY; i++) {
                snprintf(key, sizeof(key), "key-%zu", i);
                if (i % 100 == 0)
                        assert_ptr_equal(hashmap_get(m, key), (void *) (i + 1));
                else
                        assert_null(hashmap_get(m, key));
        }
}

struct walk {
        size_t calls;
        size_t sum;
        size_t stop_after;
};

static int walk_fn(const char *key, void *value, void *userdata)
{
        struct walk *w = userdata;
        size_t n;

        assert_int_equal(sscanf(key, "k%zu", &n), 1);
        assert_int_equal(n + 1, (size_t) value);
        w->calls++;
        w->sum += n;
        if (w->stop_after && w->calls == w->stop_after)
                return 42;
        return 0;
}

static void test_foreach(void **state)
{
        _cleanup_(hashmap_freep) struct hashmap *m = hashmap_new();
        struct walk w = {};
        char key[16];

        assert_int_equal(hashmap_foreach(m, walk_fn, &w), 0);
        assert_int_equal(w.calls, 0);

        for (size_t i = 0; i < 100; i++) {
                snprintf(key, sizeof(key), "k%zu", i);
                assert_int_equal(hashmap_put(m, key, (void *) (i + 1)), 0);
        }
        assert_int_equal(hashmap_foreach(m, walk_fn, &w), 0);
        assert_int_equal(w.calls, 100);
        assert_int_equal(w.sum, 99 * 100 / 2);

        /* A non-zero return stops the walk and is passed back. */
        w = (struct walk) { .stop_after = 10 };
        assert_int_equal(hashmap_foreach(m, walk_fn, &w), 42);
        assert_int_equal(w.calls, 10);
}

static void test_free_null(void **state)
{
        assert_null(hashmap_free(NULL));
}

OCID_TEST_MAIN(cmocka_unit_test(test_put_get_remove),
               cmocka_unit_test(test_key_is_copied),
               cmocka_unit_test(test_replace),
               cmocka_unit_test(test_grow_and_shrink),
               cmocka_unit_test(test_foreach),
               cmocka_unit_test(test_free_null))
