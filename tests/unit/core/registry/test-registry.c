/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#include "../../test-common.h"

#include <ocid/error.h>
#include <ocid/util.h>

#include "registry/registry.h"

#define POD_ID "1111111111111111111111111111111111111111111111111111111111111111"
#define CTR_ID "2222222222222222222222222222222222222222222222222222222222222222"

static atomic_int destroyed;

struct pod {
        int n;
        struct store_ref ref;
};

struct ctr {
        struct store_ref ref;
        struct pod *pod;          /* a reference to its pod */
};

static void pod_destroy(struct store_ref *ref)
{
        free(store_container_of(ref, struct pod, ref));
        atomic_fetch_add(&destroyed, 1);
}

static void ctr_destroy(struct store_ref *ref)
{
        struct ctr *c = store_container_of(ref, struct ctr, ref);

        store_ref_put(&c->pod->ref);
        free(c);
        atomic_fetch_add(&destroyed, 1);
}

static void test_new_free(void **state)
{
        struct ocid_registry *r = registry_new(offsetof(struct pod, ref), offsetof(struct ctr, ref));

        assert_non_null(r->pod_names);
        assert_non_null(r->ctr_names);
        assert_non_null(r->pod_ids);
        assert_non_null(r->ctr_ids);
        assert_non_null(r->pods);
        assert_non_null(r->ctrs);
        assert_ptr_not_equal(r->pod_names, r->ctr_names);
        assert_ptr_not_equal(r->pod_ids, r->ctr_ids);
        assert_ptr_not_equal(r->pods, r->ctrs);
        assert_null(registry_free(r));
        assert_null(registry_free(NULL));
}

/* Pods and containers live in separate namespaces, and freeing the registry
 * drops the stores' references (containers first, then the pods they
 * hold). */
static void test_use(void **state)
{
        struct ocid_registry *r = registry_new(offsetof(struct pod, ref), offsetof(struct ctr, ref));
        _cleanup_error_ struct ocid_error *err = NULL;
        struct pod *p = xzalloc(sizeof(*p));
        struct ctr *c = xzalloc(sizeof(*c));
        struct pod *got_pod;
        struct ctr *got_ctr;
        char id[TRUNCINDEX_ID_LEN + 1];

        atomic_store(&destroyed, 0);
        store_ref_init(&p->ref, pod_destroy);
        store_ref_init(&c->ref, ctr_destroy);
        c->pod = store_container_of(store_ref_get(&p->ref), struct pod, ref);

        assert_int_equal(names_reserve(r->pod_names, "web", POD_ID, &err), 0);
        assert_int_equal(names_reserve(r->ctr_names, "web", CTR_ID, &err), 0);
        assert_int_equal(truncindex_add(r->pod_ids, POD_ID, &err), 0);
        assert_int_equal(truncindex_add(r->ctr_ids, CTR_ID, &err), 0);
        assert_int_equal(store_add(r->pods, POD_ID, p, &err), 0);
        assert_int_equal(store_add(r->ctrs, CTR_ID, c, &err), 0);
        store_unref(r->pods, p);
        store_unref(r->ctrs, c);

        assert_int_equal(truncindex_get(r->pod_ids, "1", id, &err), 0);
        assert_string_equal(id, POD_ID);
        assert_int_equal(truncindex_get(r->ctr_ids, "1", id, &err), -ENOENT);
        ocid_error_clear(&err);
        got_pod = store_get(r->pods, id);
        assert_ptr_equal(got_pod, p);
        got_ctr = store_get(r->ctrs, CTR_ID);
        assert_ptr_equal(got_ctr, c);
        assert_null(store_get(r->ctrs, POD_ID));

        store_unref(r->pods, got_pod);
        store_unref(r->ctrs, got_ctr);
        assert_int_equal(atomic_load(&destroyed), 0);
        registry_free(r);
        assert_int_equal(atomic_load(&destroyed), 2);
}

OCID_TEST_MAIN(cmocka_unit_test(test_new_free),
               cmocka_unit_test(test_use))
