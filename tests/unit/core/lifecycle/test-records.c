/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "lifecycle/records.h"
#include "server/cri-proto.h"
#include "../../test-common.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void record_fill(struct pod_record *r)
{
        memset(r, 0, sizeof(*r));
        r->id = xstrdup(ID);
        r->name = xstrdup("k8s_web_default_u1_0");
        r->meta_name = xstrdup("web");
        r->meta_uid = xstrdup("u1");
        r->meta_namespace = xstrdup("default");
        r->meta_attempt = 4000000000u;
        r->hostname = xstrdup("web");
        r->log_directory = xstrdup("/var/log/pods/x");
        r->runtime_handler = xstrdup("");
        r->cgroup_parent = xstrdup("/kubepods/pod1");
        r->labels = xcalloc(1, sizeof(char *));
        ocid_strv_push(&r->labels, "app");
        ocid_strv_push(&r->labels, "web");
        r->annotations = xcalloc(1, sizeof(char *));
        ocid_strv_push(&r->annotations, "a.b/c");
        ocid_strv_push(&r->annotations, "line\nbreak");
        r->ns_network = RECORDS_NS_POD;
        r->ns_pid = RECORDS_NS_CONTAINER;
        r->ns_ipc = RECORDS_NS_NODE;
        r->pod_dir = xstrdup("/run/ocid/pods/" ID);
        r->netns_path = xstrdup("/run/ocid/pods/" ID "/ns/net");
        r->utsns_path = xstrdup("/run/ocid/pods/" ID "/ns/uts");
        r->port_mappings = xstrdup("[{\"hostPort\":80,\"containerPort\":8080,\"protocol\":\"tcp\"}]");
        r->network = xstrdup("{\"ips\":[\"10.1.0.2\",\"fd00::2\"]}");
        r->ips = xcalloc(1, sizeof(char *));
        ocid_strv_push(&r->ips, "10.1.0.2");
        ocid_strv_push(&r->ips, "fd00::2");
        r->sysctls = xstrdup("{\"net.ipv4.ip_forward\":\"1\"}");
        r->created_at = 1700000000123456789;
        r->state = RECORDS_POD_NOTREADY;
}

static void assert_records_equal(const struct pod_record *a, const struct pod_record *b)
{
        assert_string_equal(a->id, b->id);
        assert_string_equal(a->name, b->name);
        assert_string_equal(a->meta_name, b->meta_name);
        assert_string_equal(a->meta_uid, b->meta_uid);
        assert_string_equal(a->meta_namespace, b->meta_namespace);
        assert_int_equal(a->meta_attempt, b->meta_attempt);
        assert_string_equal(a->hostname, b->hostname);
        assert_string_equal(a->log_directory, b->log_directory);
        assert_string_equal(a->runtime_handler, b->runtime_handler);
        assert_string_equal(a->cgroup_parent, b->cgroup_parent);
        assert_string_equal(records_kv_get(b->labels, "app"), "web");
        assert_string_equal(records_kv_get(b->annotations, "a.b/c"), "line\nbreak");
        assert_null(records_kv_get(b->labels, "nope"));
        assert_int_equal(a->ns_network, b->ns_network);
        assert_int_equal(a->ns_pid, b->ns_pid);
        assert_int_equal(a->ns_ipc, b->ns_ipc);
        assert_string_equal(a->pod_dir, b->pod_dir);
        assert_string_equal(a->netns_path, b->netns_path);
        assert_null(b->ipcns_path);
        assert_string_equal(a->utsns_path, b->utsns_path);
        assert_null(b->shm_path);
        assert_null(b->dns);
        assert_string_equal(a->port_mappings, b->port_mappings);
        assert_string_equal(a->network, b->network);
        assert_int_equal(ocid_strv_length(b->ips), 2);
        assert_string_equal(b->ips[0], "10.1.0.2");
        assert_string_equal(b->ips[1], "fd00::2");
        assert_string_equal(a->sysctls, b->sysctls);
        assert_true(a->created_at == b->created_at);
        assert_int_equal(a->state, b->state);
}

static void test_json_round_trip(void **state)
{
        struct pod_record a, b = { 0 };
        struct ocid_error *err = NULL;
        struct json_object *o;

        (void) state;
        record_fill(&a);
        o = pod_record_to_json(&a);
        assert_int_equal(pod_record_from_json(o, &b, &err), 0);
        assert_null(err);
        assert_records_equal(&a, &b);
        json_object_put(o);
        pod_record_done(&a);
        pod_record_done(&b);
        pod_record_done(NULL);
}

/* Each required member, removed or mistyped, is an error naming it. */
static void test_bad_members(void **state)
{
        static const char *const required[] = { "version", "id", "name", "metadata", "runtime_handler",
                                                 "labels", "annotations", "namespaces", "pod_dir", "ips",
                                                 "created_at", "state" };
        struct pod_record a;

        (void) state;
        record_fill(&a);
        for (size_t i = 0; i < ELEMENTSOF(required); i++) {
                struct json_object *o = pod_record_to_json(&a);
                struct pod_record b = { 0 };
                struct ocid_error *err = NULL;

                json_object_object_del(o, required[i]);
                assert_int_equal(pod_record_from_json(o, &b, &err), -EINVAL);
                assert_non_null(strstr(ocid_error_message(&err), required[i]));
                assert_null(b.id);
                ocid_error_clear(&err);

                json_object_object_add(o, required[i], json_object_new_double(1.5));
                assert_int_equal(pod_record_from_json(o, &b, &err), -EINVAL);
                ocid_error_clear(&err);
                json_object_put(o);
        }
        {
                struct json_object *o = pod_record_to_json(&a), *ns = NULL;
                struct pod_record b = { 0 };
                struct ocid_error *err = NULL;

                assert_true(json_object_object_get_ex(o, "namespaces", &ns));
                json_object_object_add(ns, "pid", json_object_new_int(7));
                assert_int_equal(pod_record_from_json(o, &b, &err), -EINVAL);
                assert_non_null(strstr(ocid_error_message(&err), "pid"));
                ocid_error_clear(&err);
                json_object_object_add(ns, "pid", json_object_new_int(0));
                json_object_object_add(o, "state", json_object_new_string("running"));
                assert_int_equal(pod_record_from_json(o, &b, &err), -EINVAL);
                assert_non_null(strstr(ocid_error_message(&err), "running"));
                ocid_error_clear(&err);
                json_object_put(o);
        }
        pod_record_done(&a);
}

static void test_save_load_remove(void **state)
{
        char tmpl[] = "/tmp/test-records-XXXXXX";
        struct pod_record a, b = { 0 };
        struct ocid_error *err = NULL;
        _cleanup_free_ char *path = NULL;
        struct stat st;

        (void) state;
        assert_non_null(mkdtemp(tmpl));
        record_fill(&a);
        assert_int_equal(pod_record_load(tmpl, ID, &b, &err), -ENOENT);
        ocid_error_clear(&err);
        assert_int_equal(pod_record_save(tmpl, &a, &err), 0);
        path = pod_record_path(tmpl, ID);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(pod_record_load(tmpl, ID, &b, &err), 0);
        assert_records_equal(&a, &b);
        pod_record_done(&b);

        /* A second save replaces the first. */
        a.state = RECORDS_POD_READY;
        assert_int_equal(pod_record_save(tmpl, &a, &err), 0);
        assert_int_equal(pod_record_load(tmpl, ID, &b, &err), 0);
        assert_int_equal(b.state, RECORDS_POD_READY);
        pod_record_done(&b);

        /* A damaged file is an error naming it. */
        assert_int_equal(ocid_write_file_atomic(path, "{\"version\":1}", 13, 0600, &err), 0);
        assert_int_equal(pod_record_load(tmpl, ID, &b, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), path));
        ocid_error_clear(&err);

        assert_int_equal(pod_record_remove(tmpl, ID, &err), 0);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(pod_record_remove(tmpl, ID, &err), 0);
        pod_record_done(&a);
        assert_int_equal(ocid_rm_rf(tmpl, &err), 0);
}

/* The request hash: equal for the same request whatever the order of its
 * maps, different for any other value. */
static void test_request_hash(void **state)
{
        Runtime__V1__PodSandboxConfig c = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
        Runtime__V1__PodSandboxMetadata m = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
        Runtime__V1__LinuxPodSandboxConfig l = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
        Runtime__V1__PodSandboxConfig__LabelsEntry e[2] = { RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT,
                                                             RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT };
        Runtime__V1__PodSandboxConfig__LabelsEntry *ab[2] = { &e[0], &e[1] }, *ba[2] = { &e[1], &e[0] };
        char h1[65], h2[65], h3[65];

        (void) state;
        m.name = (char *) "web";
        m.uid = (char *) "u1";
        m.namespace_ = (char *) "default";
        m.attempt = 1;
        c.metadata = &m;
        c.linux = &l;
        l.cgroup_parent = (char *) "/kubepods";
        e[0].key = (char *) "app";
        e[0].value = (char *) "web";
        e[1].key = (char *) "tier";
        e[1].value = (char *) "front";
        c.n_labels = 2;
        c.labels = ab;
        records_request_hash(&c.base, "runc", h1);
        assert_int_equal(strlen(h1), 64);
        c.labels = ba;
        records_request_hash(&c.base, "runc", h2);
        assert_string_equal(h1, h2);

        records_request_hash(&c.base, "crun", h3);
        assert_string_not_equal(h1, h3);
        records_request_hash(&c.base, NULL, h3);
        assert_string_not_equal(h1, h3);
        e[1].value = (char *) "back";
        records_request_hash(&c.base, "runc", h3);
        assert_string_not_equal(h1, h3);
        e[1].value = (char *) "front";
        m.attempt = 2;
        records_request_hash(&c.base, "runc", h3);
        assert_string_not_equal(h1, h3);
        m.attempt = 1;
        l.cgroup_parent = (char *) "/kubepods/x";
        records_request_hash(&c.base, "runc", h3);
        assert_string_not_equal(h1, h3);
        l.cgroup_parent = (char *) "/kubepods";
        c.n_labels = 1;
        records_request_hash(&c.base, "runc", h3);
        assert_string_not_equal(h1, h3);
        c.n_labels = 2;
        c.linux = NULL;
        records_request_hash(&c.base, "runc", h3);
        assert_string_not_equal(h1, h3);
        c.linux = &l;
        records_request_hash(&c.base, "runc", h3);
        assert_string_equal(h1, h3);
}

OCID_TEST_MAIN(cmocka_unit_test(test_json_round_trip), cmocka_unit_test(test_bad_members),
               cmocka_unit_test(test_save_load_remove), cmocka_unit_test(test_request_hash))
