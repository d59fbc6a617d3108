/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../test-common.h"

#include <ocid/error.h>
#include <ocid/util.h>

#include "registry/truncindex.h"

#define ID_A "aaaa000000000000000000000000000000000000000000000000000000000001"
#define ID_B "aaaa000000000000000000000000000000000000000000000000000000000002"
#define ID_C "bbbb111111111111111111111111111111111111111111111111111111111111"
#define ID_D "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_id_is_valid(void **state)
{
        assert_true(truncindex_id_is_valid(ID_A));
        assert_true(truncindex_id_is_valid(ID_D));
        assert_false(truncindex_id_is_valid(NULL));
        assert_false(truncindex_id_is_valid(""));
        assert_false(truncindex_id_is_valid("abc"));
        /* 63 and 65 characters */
        assert_false(truncindex_id_is_valid(ID_A + 1));
        assert_false(truncindex_id_is_valid(ID_A "0"));
        /* upper case and non-hex */
        assert_false(truncindex_id_is_valid("AAAA000000000000000000000000000000000000000000000000000000000001"));
        assert_false(truncindex_id_is_valid("gaaa000000000000000000000000000000000000000000000000000000000001"));
        assert_false(truncindex_id_is_valid("aaaa00000000000000000000000000000-000000000000000000000000000001"));
}

static void test_add_and_get(void **state)
{
        _cleanup_(truncindex_freep) struct truncindex *t = truncindex_new();
        _cleanup_error_ struct ocid_error *err = NULL;
        char id[TRUNCINDEX_ID_LEN + 1];

        assert_int_equal(truncindex_count(t), 0);
        assert_int_equal(truncindex_add(t, ID_A, &err), 0);
        assert_null(err);
        assert_int_equal(truncindex_count(t), 1);

        /* A single ID: any prefix of it, up to itself. */
        for (size_t len = 1; len <= TRUNCINDEX_ID_LEN; len++) {
                char prefix[TRUNCINDEX_ID_LEN + 1];

                memcpy(prefix, ID_A, len);
                prefix[len] = '\0';
                memset(id, 0, sizeof(id));
                assert_int_equal(truncindex_get(t, prefix, id, &err), 0);
                assert_string_equal(id, ID_A);
        }

        assert_int_equal(truncindex_add(t, ID_C, &err), 0);
        assert_int_equal(truncindex_add(t, ID_D, &err), 0);
        assert_int_equal(truncindex_count(t), 3);
        assert_int_equal(truncindex_get(t, "b", id, &err), 0);
        assert_string_equal(id, ID_C);
        assert_int_equal(truncindex_get(t, "0", id, &err), 0);
        assert_string_equal(id, ID_D);
        assert_int_equal(truncindex_get(t, "a", id, &err), 0);
        assert_string_equal(id, ID_A);
        assert_int_equal(truncindex_get(t, ID_D, id, &err), 0);
        assert_string_equal(id, ID_D);
        assert_null(err);
}

static void test_add_errors(void **state)
{
        _cleanup_(truncindex_freep) struct truncindex *t = truncindex_new();
        _cleanup_error_ struct ocid_error *err = NULL;

        assert_int_equal(truncindex_add(t, ID_A, NULL), 0);
        assert_int_equal(truncindex_add(t, ID_A, &err), -EEXIST);
        assert_int_equal(ocid_error_code(&err), EEXIST);
        assert_string_equal(ocid_error_message(&err), "id '" ID_A "' already exists");
        ocid_error_clear(&err);

        assert_int_equal(truncindex_add(t, "abc", &err), -EINVAL);
        assert_int_equal(ocid_error_code(&err), EINVAL);
        assert_string_equal(ocid_error_message(&err),
                            "invalid id 'abc': not 64 lowercase hexadecimal characters");
        ocid_error_clear(&err);

        assert_int_equal(truncindex_add(t, "AAAA000000000000000000000000000000000000000000000000000000000001", &err),
                         -EINVAL);
        assert_string_equal(ocid_error_message(&err),
                            "invalid id 'AAAA000000000000000000000000000000000000000000000000000000000001': "
                            "not 64 lowercase hexadecimal characters");
        ocid_error_clear(&err);

        assert_int_equal(truncindex_add(t, ID_A "0", &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(truncindex_count(t), 1);
}

static void test_get_errors(void **state)
{
        _cleanup_(truncindex_freep) struct truncindex *t = truncindex_new();
        _cleanup_error_ struct ocid_error *err = NULL;
        char id[TRUNCINDEX_ID_LEN + 1] = "untouched";

        /* Empty index */
        assert_int_equal(truncindex_get(t, "a", id, &err), -ENOENT);
        assert_string_equal(ocid_error_message(&err), "no such id: 'a'");
        ocid_error_clear(&err);

        assert_int_equal(truncindex_add(t, ID_A, NULL), 0);
        assert_int_equal(truncindex_add(t, ID_B, NULL), 0);
        assert_int_equal(truncindex_add(t, ID_C, NULL), 0);

        assert_int_equal(truncindex_get(t, "", id, &err), -EINVAL);
        assert_int_equal(ocid_error_code(&err), EINVAL);
        assert_string_equal(ocid_error_message(&err), "empty id prefix");
        ocid_error_clear(&err);

        assert_int_equal(truncindex_get(t, "c", id, &err), -ENOENT);
        assert_int_equal(ocid_error_code(&err), ENOENT);
        assert_string_equal(ocid_error_message(&err), "no such id: 'c'");
        ocid_error_clear(&err);

        /* A prefix that matches the path to a leaf, then diverges. */
        assert_int_equal(truncindex_get(t, "bbbb2", id, &err), -ENOENT);
        assert_string_equal(ocid_error_message(&err), "no such id: 'bbbb2'");
        ocid_error_clear(&err);

        /* ID_A and ID_B share their first 63 characters. */
        assert_int_equal(truncindex_get(t, "a", id, &err), -ENOTUNIQ);
        assert_int_equal(ocid_error_code(&err), ENOTUNIQ);
        assert_string_equal(ocid_error_message(&err), "prefix 'a' is ambiguous");
        ocid_error_clear(&err);
        assert_int_equal(truncindex_get(t, "aaaa00000000000000000000000000000000000000000000000000000000000", id, &err),
                         -ENOTUNIQ);
        ocid_error_clear(&err);

        /* Characters no ID holds, and prefixes longer than an ID. */
        assert_int_equal(truncindex_get(t, "A", id, &err), -ENOENT);
        assert_string_equal(ocid_error_message(&err), "no such id: 'A'");
        ocid_error_clear(&err);
        assert_int_equal(truncindex_get(t, "bbbb-", id, &err), -ENOENT);
        ocid_error_clear(&err);
        assert_int_equal(truncindex_get(t, ID_C "1", id, &err), -ENOENT);
        assert_string_equal(ocid_error_message(&err), "no such id: '" ID_C "1'");
        ocid_error_clear(&err);

        assert_string_equal(id, "untouched");

        /* The full ID resolves even though a longer common prefix exists. */
        assert_int_equal(truncindex_get(t, ID_B, id, &err), 0);
        assert_string_equal(id, ID_B);
        assert_null(err);
}

static void test_delete(void **state)
{
        _cleanup_(truncindex_freep) struct truncindex *t = truncindex_new();
        _cleanup_error_ struct ocid_error *err = NULL;
        char id[TRUNCINDEX_ID_LEN + 1];

        assert_int_equal(truncindex_delete(t, ID_A, &err), -ENOENT);
        assert_int_equal(ocid_error_code(&err), ENOENT);
        assert_string_equal(ocid_error_message(&err), "no such id: '" ID_A "'");
        ocid_error_clear(&err);

        assert_int_equal(truncindex_add(t, ID_A, NULL), 0);
        assert_int_equal(truncindex_add(t, ID_B, NULL), 0);
        assert_int_equal(truncindex_add(t, ID_C, NULL), 0);

        /* Only a full ID deletes. */
        assert_int_equal(truncindex_delete(t, "bbbb", &err), -EINVAL);
        assert_string_equal(ocid_error_message(&err), "invalid id 'bbbb': not 64 lowercase hexadecimal characters");
        ocid_error_clear(&err);
        assert_int_equal(truncindex_delete(t, ID_D, &err), -ENOENT);
        ocid_error_clear(&err);

        assert_int_equal(truncindex_delete(t, ID_B, &err), 0);
        assert_int_equal(truncindex_count(t), 2);
        /* "a" is no longer ambiguous. */
        assert_int_equal(truncindex_get(t, "a", id, &err), 0);
        assert_string_equal(id, ID_A);
        assert_int_equal(truncindex_get(t, ID_B, id, &err), -ENOENT);
        ocid_error_clear(&err);
        assert_int_equal(truncindex_delete(t, ID_B, &err), -ENOENT);
        ocid_error_clear(&err);

        assert_int_equal(truncindex_delete(t, ID_A, NULL), 0);
        assert_int_equal(truncindex_delete(t, ID_C, NULL), 0);
        assert_int_equal(truncindex_count(t), 0);
        assert_int_equal(truncindex_get(t, "b", id, &err), -ENOENT);
        ocid_error_clear(&err);

        /* Usable again once empty. */
        assert_int_equal(truncindex_add(t, ID_C, NULL), 0);
        assert_int_equal(truncindex_get(t, "b", id, NULL), 0);
        assert_string_equal(id, ID_C);
}

struct walk {
        char last[TRUNCINDEX_ID_LEN + 1];
        size_t calls;
        size_t stop_after;
        int out_of_order;
};

static int walk_fn(const char *id, void *userdata)
{
        struct walk *w = userdata;

        if (w->calls > 0 && strcmp(w->last, id) >= 0)
                w->out_of_order++;
        memcpy(w->last, id, sizeof(w->last));
        w->calls++;
        if (w->stop_after && w->calls == w->stop_after)
                return -ECANCELED;
        return 0;
}

static void test_foreach(void **state)
{
        _cleanup_(truncindex_freep) struct truncindex *t = truncindex_new();
        struct walk w = {};

        assert_int_equal(truncindex_foreach(t, walk_fn, &w), 0);
        assert_int_equal(w.calls, 0);

        assert_int_equal(truncindex_add(t, ID_C, NULL), 0);
        assert_int_equal(truncindex_add(t, ID_A, NULL), 0);
        assert_int_equal(truncindex_add(t, ID_D, NULL), 0);
        assert_int_equal(truncindex_add(t, ID_B, NULL), 0);

        assert_int_equal(truncindex_foreach(t, walk_fn, &w), 0);
        assert_int_equal(w.calls, 4);
        assert_int_equal(w.out_of_order, 0);
        assert_string_equal(w.last, ID_C);

        w = (struct walk) { .stop_after = 2 };
        assert_int_equal(truncindex_foreach(t, walk_fn, &w), -ECANCELED);
        assert_int_equal(w.calls, 2);
        assert_string_equal(w.last, ID_A);
}

/* --- 100,000 IDs ------------------------------------------------------- */

#define MANY 100000
#define SHORT 12

static uint64_t splitmix64(uint64_t *s)
{
        uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static void random_id(uint64_t *seed, char ret[TRUNCINDEX_ID_LEN + 1])
{
        for (int i = 0; i < 4; i++)
                snprintf(ret + 16 * i, 17, "%016" PRIx64, splitmix64(seed));
}

static int cmp_id(const void *a, const void *b)
{
        return strcmp(a, b);
}

/* Whether the id at index i of a sorted array shares its first len
 * characters with a neighbour that is still present (present may be NULL:
 * all are). */
static int shares_prefix(char (*ids)[TRUNCINDEX_ID_LEN + 1], const char *present, size_t n, size_t i,
                         size_t len)
{
        for (size_t j = i; j-- > 0;) {
                if (strncmp(ids[j], ids[i], len) != 0)
                        break;
                if (!present || present[j])
                        return 1;
        }
        for (size_t j = i + 1; j < n; j++) {
                if (strncmp(ids[j], ids[i], len) != 0)
                        break;
                if (!present || present[j])
                        return 1;
        }
        return 0;
}

static void test_many(void **state)
{
        _cleanup_(truncindex_freep) struct truncindex *t = truncindex_new();
        _cleanup_free_ char (*ids)[TRUNCINDEX_ID_LEN + 1] = xcalloc(MANY, sizeof(*ids));
        _cleanup_free_ char *present = xcalloc(MANY, 1);
        char id[TRUNCINDEX_ID_LEN + 1], prefix[TRUNCINDEX_ID_LEN + 1];
        uint64_t seed = 20261128;
        struct walk w = {};
        size_t ambiguous = 0, remaining = 0;

        for (size_t i = 0; i < MANY; i++) {
                random_id(&seed, ids[i]);
                assert_int_equal(truncindex_add(t, ids[i], NULL), 0);
        }
        /* Two more that share 40 characters with ids[0], so that some
         * prefixes are ambiguous by construction. */
        char twin[2][TRUNCINDEX_ID_LEN + 1];

        memcpy(twin[0], ids[0], sizeof(twin[0]));
        memcpy(twin[1], ids[0], sizeof(twin[1]));
        twin[0][40] = ids[0][40] == 'e' ? 'c' : 'e';
        twin[1][40] = ids[0][40] == 'f' ? 'd' : 'f';
        assert_int_equal(truncindex_add(t, twin[0], NULL), 0);
        assert_int_equal(truncindex_add(t, twin[1], NULL), 0);
        assert_int_equal(truncindex_count(t), MANY + 2);

        memcpy(prefix, ids[0], 40);
        prefix[40] = '\0';
        assert_int_equal(truncindex_get(t, prefix, id, NULL), -ENOTUNIQ);
        assert_int_equal(truncindex_get(t, twin[0], id, NULL), 0);
        assert_string_equal(id, twin[0]);
        memcpy(prefix, twin[1], 41);
        prefix[41] = '\0';
        assert_int_equal(truncindex_get(t, prefix, id, NULL), 0);
        assert_string_equal(id, twin[1]);
        assert_int_equal(truncindex_delete(t, twin[0], NULL), 0);
        assert_int_equal(truncindex_delete(t, twin[1], NULL), 0);
        assert_int_equal(truncindex_count(t), MANY);

        /* Random IDs collide in 12 characters with a chance of about 1e-5;
         * sorting finds any such pair, whose prefix must then be reported
         * ambiguous rather than resolved. */
        qsort(ids, MANY, sizeof(*ids), cmp_id);
        for (size_t i = 0; i < MANY; i++) {
                if (i > 0)
                        assert_string_not_equal(ids[i - 1], ids[i]);
                memcpy(prefix, ids[i], SHORT);
                prefix[SHORT] = '\0';
                if (shares_prefix(ids, NULL, MANY, i, SHORT)) {
                        assert_int_equal(truncindex_get(t, prefix, id, NULL), -ENOTUNIQ);
                        ambiguous++;
                } else {
                        assert_int_equal(truncindex_get(t, prefix, id, NULL), 0);
                        assert_string_equal(id, ids[i]);
                }
                assert_int_equal(truncindex_get(t, ids[i], id, NULL), 0);
                assert_string_equal(id, ids[i]);
        }
        /* 100,000 IDs over 16 first characters: every 1-character prefix
         * is ambiguous. */
        for (const char *c = "0123456789abcdef"; *c; c++) {
                char one[2] = { *c, '\0' };

                assert_int_equal(truncindex_get(t, one, id, NULL), -ENOTUNIQ);
        }

        w = (struct walk) {};
        assert_int_equal(truncindex_foreach(t, walk_fn, &w), 0);
        assert_int_equal(w.calls, MANY);
        assert_int_equal(w.out_of_order, 0);

        /* Delete every other one. */
        for (size_t i = 0; i < MANY; i++) {
                present[i] = i % 2;
                if (!present[i])
                        assert_int_equal(truncindex_delete(t, ids[i], NULL), 0);
                else
                        remaining++;
        }
        assert_int_equal(truncindex_count(t), remaining);
        for (size_t i = 0; i < MANY; i++) {
                memcpy(prefix, ids[i], SHORT);
                prefix[SHORT] = '\0';
                if (present[i]) {
                        assert_int_equal(truncindex_get(t, ids[i], id, NULL), 0);
                        assert_string_equal(id, ids[i]);
                        if (!shares_prefix(ids, present, MANY, i, SHORT)) {
                                assert_int_equal(truncindex_get(t, prefix, id, NULL), 0);
                                assert_string_equal(id, ids[i]);
                        }
                } else {
                        _cleanup_error_ struct ocid_error *err = NULL;

                        assert_int_equal(truncindex_get(t, ids[i], id, &err), -ENOENT);
                        assert_int_equal(ocid_error_code(&err), ENOENT);
                        assert_int_equal(truncindex_delete(t, ids[i], NULL), -ENOENT);
                        /* Its short prefix resolves to nothing or, if a
                         * remaining ID shares it, to that one. */
                        int r = truncindex_get(t, prefix, id, NULL);

                        if (shares_prefix(ids, present, MANY, i, SHORT))
                                assert_true(r == 0 || r == -ENOTUNIQ);
                        else
                                assert_int_equal(r, -ENOENT);
                }
        }

        w = (struct walk) {};
        assert_int_equal(truncindex_foreach(t, walk_fn, &w), 0);
        assert_int_equal(w.calls, remaining);
        assert_int_equal(w.out_of_order, 0);
        print_message("# %d ids, %zu ambiguous %d-character prefixes\n", MANY, ambiguous, SHORT);
}

/* --- readers in parallel with a writer ---------------------------------- */

#define READERS 4
#define STABLE 1000
#define CHURN 2000

struct parallel {
        struct truncindex *t;
        char (*stable)[TRUNCINDEX_ID_LEN + 1];
        char (*churn)[TRUNCINDEX_ID_LEN + 1];
        atomic_int done;
        atomic_int failures;
        atomic_long lookups;
};

static void *parallel_reader(void *userdata)
{
        struct parallel *p = userdata;
        char id[TRUNCINDEX_ID_LEN + 1];

        do {
                for (size_t i = 0; i < STABLE; i++) {
                        if (truncindex_get(p->t, p->stable[i], id, NULL) != 0 || !streq(id, p->stable[i]))
                                atomic_fetch_add(&p->failures, 1);
                        atomic_fetch_add(&p->lookups, 1);
                }
        } while (!atomic_load(&p->done));
        return NULL;
}

static void test_parallel_readers(void **state)
{
        _cleanup_(truncindex_freep) struct truncindex *t = truncindex_new();
        _cleanup_free_ char (*stable)[TRUNCINDEX_ID_LEN + 1] = xcalloc(STABLE, sizeof(*stable));
        _cleanup_free_ char (*churn)[TRUNCINDEX_ID_LEN + 1] = xcalloc(CHURN, sizeof(*churn));
        struct parallel p = { .t = t, .stable = stable, .churn = churn };
        pthread_t readers[READERS];
        uint64_t seed = 42;

        for (size_t i = 0; i < STABLE; i++) {
                random_id(&seed, stable[i]);
                assert_int_equal(truncindex_add(t, stable[i], NULL), 0);
        }
        for (size_t i = 0; i < CHURN; i++)
                random_id(&seed, churn[i]);

        for (int r = 0; r < READERS; r++)
                assert_int_equal(pthread_create(&readers[r], NULL, parallel_reader, &p), 0);
        /* The writer adds and deletes other IDs around the readers. */
        for (int round = 0; round < 5; round++) {
                for (size_t i = 0; i < CHURN; i++)
                        assert_int_equal(truncindex_add(t, churn[i], NULL), 0);
                for (size_t i = 0; i < CHURN; i++)
                        assert_int_equal(truncindex_delete(t, churn[i], NULL), 0);
        }
        atomic_store(&p.done, 1);
        for (int r = 0; r < READERS; r++)
                assert_int_equal(pthread_join(readers[r], NULL), 0);

        assert_int_equal(atomic_load(&p.failures), 0);
        assert_true(atomic_load(&p.lookups) > 0);
        assert_int_equal(truncindex_count(t), STABLE);
}

static void test_free_null(void **state)
{
        assert_null(truncindex_free(NULL));
}

OCID_TEST_MAIN(cmocka_unit_test(test_id_is_valid),
               cmocka_unit_test(test_add_and_get),
               cmocka_unit_test(test_add_errors),
               cmocka_unit_test(test_get_errors),
               cmocka_unit_test(test_delete),
               cmocka_unit_test(test_foreach),
               cmocka_unit_test(test_many),
               cmocka_unit_test(test_parallel_readers),
               cmocka_unit_test(test_free_null))
