/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "lifecycle/container.h"
#include "../../test-common.h"

static void test_reason(void **state)
{
        struct ctr_record r = { 0 };

        (void) state;
        r.state = CTR_RUNNING;
        assert_string_equal(ctr_reason(&r), "");
        r.state = CTR_EXITED;
        assert_string_equal(ctr_reason(&r), "Completed");
        r.exit_code = 137;
        assert_string_equal(ctr_reason(&r), "Error");
        r.oom_killed = 1;
        assert_string_equal(ctr_reason(&r), "OOMKilled");
}

static void test_filter(void **state)
{
        Runtime__V1__ContainerFilter f = RUNTIME__V1__CONTAINER_FILTER__INIT;
        Runtime__V1__ContainerStateValue sv = RUNTIME__V1__CONTAINER_STATE_VALUE__INIT;
        Runtime__V1__ContainerFilter__LabelSelectorEntry e = RUNTIME__V1__CONTAINER_FILTER__LABEL_SELECTOR_ENTRY__INIT;
        Runtime__V1__ContainerFilter__LabelSelectorEntry *sel[1] = { &e };
        char *labels[] = { (char *) "io.kubernetes.container.name", (char *) "app", NULL };
        struct ctr_record r = { 0 };

        (void) state;
        r.id = (char *) "c0ffee";
        r.pod_id = (char *) "beef01";
        r.labels = labels;
        r.state = CTR_RUNNING;
        assert_true(ctr_matches_filter(&r, NULL));
        assert_true(ctr_matches_filter(&r, &f));
        f.id = (char *) "c0f";
        f.pod_sandbox_id = (char *) "beef";
        assert_true(ctr_matches_filter(&r, &f));
        f.pod_sandbox_id = (char *) "bad";
        assert_false(ctr_matches_filter(&r, &f));
        f.pod_sandbox_id = (char *) "";
        f.id = (char *) "c1";
        assert_false(ctr_matches_filter(&r, &f));
        f.id = (char *) "";
        f.state = &sv;
        sv.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
        assert_false(ctr_matches_filter(&r, &f));
        sv.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
        assert_true(ctr_matches_filter(&r, &f));
        f.n_label_selector = 1;
        f.label_selector = sel;
        e.key = (char *) "io.kubernetes.container.name";
        e.value = (char *) "app";
        assert_true(ctr_matches_filter(&r, &f));
        e.value = (char *) "db";
        assert_false(ctr_matches_filter(&r, &f));
}

static void test_record_json(void **state)
{
        char *labels[] = { (char *) "a", (char *) "b", NULL };
        char *none[] = { NULL };
        struct ctr_record r = { 0 };
        struct json_object *o, *v = NULL;

        (void) state;
        r.id = (char *) "0123";
        r.name = (char *) "k8s_c_p_ns_uid_0";
        r.labels = labels;
        r.annotations = none;
        r.mounts = (char *) "[{\"container_path\":\"/m\"}]";
        r.resources = (char *) "{\"memory\":{\"limit\":67108864}}";
        r.state = CTR_EXITED;
        r.exit_code = 7;
        o = ctr_record_to_json(&r);
        assert_true(json_object_object_get_ex(o, "state", &v));
        assert_string_equal(json_object_get_string(v), "exited");
        assert_true(json_object_object_get_ex(o, "exit_code", &v));
        assert_int_equal(json_object_get_int(v), 7);
        assert_true(json_object_object_get_ex(o, "mounts", &v));
        assert_true(json_object_is_type(v, json_type_array));
        assert_true(json_object_object_get_ex(o, "labels", &v));
        assert_string_equal(json_object_get_string(json_object_object_get(v, "a")), "b");
        json_object_put(o);
}

OCID_TEST_MAIN(cmocka_unit_test(test_reason), cmocka_unit_test(test_filter), cmocka_unit_test(test_record_json))
