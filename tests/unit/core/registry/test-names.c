/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../test-common.h"

#include <ocid/error.h>
#include <ocid/util.h>

#include "registry/names.h"

static void test_reserve_and_get(void **state)
{
        _cleanup_(names_freep) struct names *n = names_new();
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *id = NULL;

        assert_int_equal(names_count(n), 0);
        assert_int_equal(names_reserve(n, "pod-a", "id1", &err), 0);
        assert_null(err);
        assert_int_equal(names_count(n), 1);

        assert_int_equal(names_get(n, "pod-a", &id, &err), 0);
        assert_null(err);
        assert_string_equal(id, "id1");
}

static void test_reserve_idempotent(void **state)
{
        _cleanup_(names_freep) struct names *n = names_new();
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_strv_ char **v = NULL;

        assert_int_equal(names_reserve(n, "pod-a", "id1", &err), 0);
        assert_int_equal(names_reserve(n, "pod-a", "id1", &err), 0);
        assert_null(err);
        assert_int_equal(names_count(n), 1);
        /* Still one name for the id, not two copies of it. */
        assert_int_equal(names_get_names(n, "id1", &v), 1);
        assert_string_equal(v[0], "pod-a");
        assert_null(v[1]);
}

static void test_reserve_conflict(void **state)
{
        _cleanup_(names_freep) struct names *n = names_new();
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *id = NULL;

        assert_int_equal(names_reserve(n, "pod-a", "id1", NULL), 0);
        assert_int_equal(names_reserve(n, "pod-a", "id2", &err), -EEXIST);
        assert_non_null(err);
        assert_int_equal(ocid_error_code(&err), EEXIST);
        assert_string_equal(ocid_error_message(&err), "name 'pod-a' is reserved for 'id1'");

        /* The holder is unchanged and id2 holds nothing. */
        assert_int_equal(names_get(n, "pod-a", &id, NULL), 0);
        assert_string_equal(id, "id1");
        assert_int_equal(names_release_id(n, "id2"), 0);
        assert_int_equal(names_count(n), 1);

        /* Without an error pointer only the code comes back. */
        assert_int_equal(names_reserve(n, "pod-a", "id3", NULL), -EEXIST);
}

static void test_reserve_empty(void **state)
{
        _cleanup_(names_freep) struct names *n = names_new();
        _cleanup_error_ struct ocid_error *err = NULL;

        assert_int_equal(names_reserve(n, "", "id1", &err), -EINVAL);
        assert_string_equal(ocid_error_message(&err), "empty name");
        ocid_error_clear(&err);
        assert_int_equal(names_reserve(n, "pod-a", "", &err), -EINVAL);
        assert_string_equal(ocid_error_message(&err), "empty id");
        assert_int_equal(names_count(n), 0);
}

static void test_release(void **state)
{
        _cleanup_(names_freep) struct names *n = names_new();
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_strv_ char **v = NULL;
        char *id = NULL;

        assert_int_equal(names_reserve(n, "pod-a", "id1", NULL), 0);
        assert_int_equal(names_reserve(n, "pod-b", "id1", NULL), 0);
        assert_int_equal(names_release(n, "pod-a", &err), 0);
        assert_null(err);
        assert_int_equal(names_count(n), 1);

        assert_int_equal(names_get(n, "pod-a", &id, &err), -ENOENT);
        assert_null(id);
        assert_string_equal(ocid_error_message(&err), "name 'pod-a' is not reserved");
        ocid_error_clear(&err);

        assert_int_equal(names_release(n, "pod-a", &err), -ENOENT);
        assert_int_equal(ocid_error_code(&err), ENOENT);
        assert_string_equal(ocid_error_message(&err), "name 'pod-a' is not reserved");
        ocid_error_clear(&err);

        /* id1 still holds pod-b, and pod-a is free for another id. */
        assert_int_equal(names_get_names(n, "id1", &v), 1);
        assert_string_equal(v[0], "pod-b");
        assert_int_equal(names_reserve(n, "pod-a", "id2", &err), 0);
}

static void test_release_id(void **state)
{
        _cleanup_(names_freep) struct names *n = names_new();
        _cleanup_strv_ char **v = NULL, **w = NULL;

        assert_int_equal(names_reserve(n, "c", "id1", NULL), 0);
        assert_int_equal(names_reserve(n, "a", "id1", NULL), 0);
        assert_int_equal(names_reserve(n, "b", "id1", NULL), 0);
        assert_int_equal(names_reserve(n, "x", "id2", NULL), 0);

        assert_int_equal(names_get_names(n, "id1", &v), 3);
        assert_string_equal(v[0], "a");
        assert_string_equal(v[1], "b");
        assert_string_equal(v[2], "c");
        assert_null(v[3]);

        assert_int_equal(names_release_id(n, "id1"), 3);
        assert_int_equal(names_release_id(n, "id1"), 0);
        assert_int_equal(names_count(n), 1);
        assert_int_equal(names_release(n, "a", NULL), -ENOENT);

        assert_int_equal(names_get_names(n, "id1", &w), 0);
        assert_non_null(w);
        assert_null(w[0]);
        assert_int_equal(names_release_id(n, "id2"), 1);
        assert_int_equal(names_count(n), 0);
}

static void test_free_with_reservations(void **state)
{
        struct names *n = names_new();

        assert_int_equal(names_reserve(n, "a", "id1", NULL), 0);
        assert_int_equal(names_reserve(n, "b", "id2", NULL), 0);
        assert_null(names_free(n));
        assert_null(names_free(NULL));
}

/* Reserve/release races: THREADS threads, each with its own ID, reserve and
 * release NAMES overlapping names. owner[k] records which thread believes it
 * holds name k; a thread claims it right after a successful reserve and
 * gives it back right before the release, so a second holder shows up as a
 * failed claim. cmocka's asserts are not thread-safe, so the threads count
 * violations and the main thread checks the counts. */
#define THREADS 8
#define ITERATIONS 10000
#define NAMES 12

struct race {
        struct names *names;
        atomic_int owner[NAMES];        /* 0, or thread number + 1 */
        atomic_int violations;
        atomic_long conflicts;
        atomic_long reserved;
};

struct racer {
        struct race *race;
        int number;
        pthread_t thread;
};

static void race_fail(struct race *race, const char *what, int k)
{
        fprintf(stderr, "# violation: %s (name %d)\n", what, k);
        atomic_fetch_add(&race->violations, 1);
}

static uint64_t race_next(uint64_t *s)
{
        /* xorshift64 */
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

static void *race_run(void *userdata)
{
        struct racer *me = userdata;
        struct race *race = me->race;
        uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t) (me->number + 1);
        char id[32], name[2][32];

        snprintf(id, sizeof(id), "id-%d", me->number);
        for (int i = 0; i < ITERATIONS; i++) {
                int k[2] = { (int) (race_next(&seed) % NAMES), (int) (race_next(&seed) % NAMES) };
                int held[2] = { 0, 0 }, n_held = 0;
                /* Two names per round when they differ, one otherwise. */
                int want = k[0] == k[1] ? 1 : 2;

                for (int j = 0; j < want; j++) {
                        struct ocid_error *err = NULL;
                        int r;

                        snprintf(name[j], sizeof(name[j]), "name-%d", k[j]);
                        r = names_reserve(race->names, name[j], id, &err);
                        if (r == -EEXIST) {
                                char prefix[64];
                                const char *rest;
                                int holder = -1;

                                /* The message names a holder that is another thread. */
                                snprintf(prefix, sizeof(prefix), "name '%s' is reserved for 'id-", name[j]);
                                rest = ocid_startswith(ocid_error_message(&err), prefix);
                                if (!rest || sscanf(rest, "%d'", &holder) != 1 || holder < 0 ||
                                    holder >= THREADS || holder == me->number)
                                        race_fail(race, ocid_error_message(&err), k[j]);
                                ocid_error_free(err);
                                atomic_fetch_add(&race->conflicts, 1);
                                continue;
                        }
                        if (r != 0) {
                                race_fail(race, "reserve failed", k[j]);
                                ocid_error_free(err);
                                continue;
                        }
                        int expected = 0;

                        if (!atomic_compare_exchange_strong(&race->owner[k[j]], &expected, me->number + 1))
                                race_fail(race, "two ids hold one name", k[j]);
                        held[j] = 1;
                        n_held++;
                        atomic_fetch_add(&race->reserved, 1);
                }

                /* Every name held must look up to our id, and reserving it
                 * again must be a no-op. */
                for (int j = 0; j < want; j++) {
                        char *got = NULL;

                        if (!held[j])
                                continue;
                        if (names_get(race->names, name[j], &got, NULL) != 0 || !streq(got, id))
                                race_fail(race, "lookup after reserve", k[j]);
                        free(got);
                        if (names_reserve(race->names, name[j], id, NULL) != 0)
                                race_fail(race, "idempotent reserve", k[j]);
                }

                for (int j = 0; j < want; j++) {
                        int expected = me->number + 1;

                        if (held[j] && !atomic_compare_exchange_strong(&race->owner[k[j]], &expected, 0))
                                race_fail(race, "owner changed while held", k[j]);
                }
                if (i % 2 == 0) {
                        if (names_release_id(race->names, id) != (size_t) n_held)
                                race_fail(race, "release_id count", -1);
                } else {
                        for (int j = 0; j < want; j++)
                                if (held[j] && names_release(race->names, name[j], NULL) != 0)
                                        race_fail(race, "release", k[j]);
                }
        }
        return NULL;
}

static void test_reserve_release_race(void **state)
{
        _cleanup_(names_freep) struct names *n = names_new();
        struct race race = { .names = n };
        struct racer racers[THREADS];

        for (int t = 0; t < THREADS; t++) {
                racers[t] = (struct racer) { .race = &race, .number = t };
                assert_int_equal(pthread_create(&racers[t].thread, NULL, race_run, &racers[t]), 0);
        }
        for (int t = 0; t < THREADS; t++)
                assert_int_equal(pthread_join(racers[t].thread, NULL), 0);

        print_message("# %ld reservations, %ld conflicts\n",
                      atomic_load(&race.reserved), atomic_load(&race.conflicts));
        assert_int_equal(atomic_load(&race.violations), 0);
        assert_true(atomic_load(&race.reserved) > 0);
        assert_int_equal(names_count(n), 0);
        for (int t = 0; t < THREADS; t++) {
                _cleanup_strv_ char **v = NULL;
                char id[32];

                snprintf(id, sizeof(id), "id-%d", t);
                assert_int_equal(names_get_names(n, id, &v), 0);
        }
        for (int k = 0; k < NAMES; k++)
                assert_int_equal(atomic_load(&race.owner[k]), 0);
}

OCID_TEST_MAIN(cmocka_unit_test(test_reserve_and_get),
               cmocka_unit_test(test_reserve_idempotent),
               cmocka_unit_test(test_reserve_conflict),
               cmocka_unit_test(test_reserve_empty),
               cmocka_unit_test(test_release),
               cmocka_unit_test(test_release_id),
               cmocka_unit_test(test_free_with_reservations),
               cmocka_unit_test(test_reserve_release_race))
