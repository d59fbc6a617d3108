/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "../../test-common.h"
#include "server/cri-proto.h"
#include "server/cri.h"
#include "server/methods.h"
#include "server/selftest.h"

static int dummy_handler(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        return 0;
}

/* Every rpc of both CRI services is in the table, with the right request
 * type, under its exact path. */
static void test_every_cri_method(void **state)
{
        const ProtobufCServiceDescriptor *services[] = {
                &runtime__v1__runtime_service__descriptor,
                &runtime__v1__image_service__descriptor,
        };
        struct server_methods t = { 0 };
        size_t total = 0;

        assert_int_equal(cri_register(&t, NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(services); i++) {
                for (unsigned j = 0; j < services[i]->n_methods; j++) {
                        _cleanup_free_ char *path = xasprintf("/%s/%s", services[i]->name,
                                                              services[i]->methods[j].name);
                        _cleanup_free_ char *name = xasprintf("%s/%s", services[i]->short_name,
                                                              services[i]->methods[j].name);
                        const struct server_method *m = server_methods_find(&t, path);

                        if (!m)
                                fail_msg("%s missing from the method table", path);
                        assert_string_equal(m->path, path);
                        assert_string_equal(m->name, name);
                        assert_ptr_equal(m->input, services[i]->methods[j].input);
                        assert_ptr_equal(m->output, services[i]->methods[j].output);
                        total++;
                }
        }
        assert_int_equal(t.n, total);
        /* The generated code describes all of CRI v1, not a subset. */
        assert_true(total >= 39);
        server_methods_done(&t);
}

static void test_implemented_methods(void **state)
{
        static const char *const implemented[] = {
                "/runtime.v1.RuntimeService/Version",
                "/runtime.v1.RuntimeService/Status",
                "/runtime.v1.RuntimeService/RuntimeConfig",
                "/runtime.v1.RuntimeService/RunPodSandbox",
                "/runtime.v1.RuntimeService/StopPodSandbox",
                "/runtime.v1.RuntimeService/RemovePodSandbox",
                "/runtime.v1.RuntimeService/PodSandboxStatus",
                "/runtime.v1.RuntimeService/ListPodSandbox",
                "/runtime.v1.RuntimeService/CreateContainer",
                "/runtime.v1.RuntimeService/StartContainer",
                "/runtime.v1.RuntimeService/StopContainer",
                "/runtime.v1.RuntimeService/RemoveContainer",
                "/runtime.v1.RuntimeService/ContainerStatus",
                "/runtime.v1.RuntimeService/ListContainers",
                "/runtime.v1.RuntimeService/ExecSync",
                "/runtime.v1.RuntimeService/UpdateContainerResources",
                "/runtime.v1.RuntimeService/ReopenContainerLog",
                "/runtime.v1.RuntimeService/GetContainerEvents",
                "/runtime.v1.ImageService/PullImage",
                "/runtime.v1.ImageService/ListImages",
                "/runtime.v1.ImageService/ImageStatus",
                "/runtime.v1.ImageService/RemoveImage",
                "/runtime.v1.ImageService/ImageFsInfo",
        };
        struct server_methods t = { 0 };
        size_t n_handlers = 0;

        assert_int_equal(cri_register(&t, NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(implemented); i++) {
                const struct server_method *m = server_methods_find(&t, implemented[i]);

                assert_non_null(m);
                assert_non_null(m->handler);
        }
        for (size_t i = 0; i < t.n; i++)
                n_handlers += t.v[i].handler != NULL;
        assert_int_equal(n_handlers, ELEMENTSOF(implemented));
        assert_null(server_methods_find(&t, "/runtime.v1.RuntimeService/version"));
        assert_null(server_methods_find(&t, "/runtime.v1.RuntimeService/"));
        assert_null(server_methods_find(&t, "/runtime.v1.Nope/Version"));
        assert_null(server_methods_find(&t, "runtime.v1.RuntimeService/Version"));
        assert_null(server_methods_find(&t, ""));
        assert_null(server_methods_find(&t, NULL));
        /* The test service is only there when asked for. */
        assert_null(server_methods_find(&t, "/ocid.test.v1.Test/Sleep"));
        server_methods_done(&t);
}

/* protoc-c does not record streaming, so the table's flags are checked
 * against the .proto text itself: "rpc Name(Req) returns (stream Resp)". */
static void test_streaming_flags_match_proto(void **state)
{
        _cleanup_fclose_ FILE *f = fopen(OCID_CRI_PROTO, "re");
        _cleanup_free_ char *line = NULL;
        struct server_methods t = { 0 };
        _cleanup_free_ char *service = NULL;
        size_t cap = 0, n_rpcs = 0, n_streaming = 0;

        assert_non_null(f);
        assert_int_equal(cri_register(&t, NULL), 0);
        while (getline(&line, &cap, f) >= 0) {
                char name[128], rest[256];
                const char *p = line;

                while (*p == ' ' || *p == '\t')
                        p++;
                if (sscanf(p, "service %127s", name) == 1) {
                        free(service);
                        service = xstrdup(name);
                } else if (sscanf(p, "rpc %127[A-Za-z0-9_](%*[^)]) returns (%255[^)])", name, rest) == 2) {
                        _cleanup_free_ char *path = xasprintf("/runtime.v1.%s/%s", service, name);
                        const struct server_method *m = server_methods_find(&t, path);
                        bool streaming = ocid_startswith(rest, "stream ") != NULL;

                        if (!m)
                                fail_msg("%s (from cri.proto) missing from the table", path);
                        if (m->server_streaming != streaming)
                                fail_msg("%s: streaming flag %d, cri.proto says %d", path,
                                         m->server_streaming, streaming);
                        n_rpcs++;
                        n_streaming += streaming;
                }
        }
        assert_int_equal(n_rpcs, t.n);
        assert_true(n_streaming > 0);
        assert_true(server_methods_find(&t, "/runtime.v1.RuntimeService/GetContainerEvents")->server_streaming);
        server_methods_done(&t);
}

static void test_selftest_service(void **state)
{
        struct server_methods t = { 0 };
        const struct server_method *m;

        assert_int_equal(cri_register(&t, NULL), 0);
        assert_int_equal(selftest_register(&t, NULL), 0);
        m = server_methods_find(&t, "/ocid.test.v1.Test/Sleep");
        assert_non_null(m);
        assert_non_null(m->handler);
        assert_false(m->server_streaming);
        assert_string_equal(m->name, "Test/Sleep");
        m = server_methods_find(&t, "/ocid.test.v1.Test/Count");
        assert_non_null(m);
        assert_true(m->server_streaming);
        assert_ptr_equal(m->input, &ocid__test__v1__count_request__descriptor);
        /* CRI methods are still found after more services were added. */
        assert_non_null(server_methods_find(&t, "/runtime.v1.ImageService/PullImage"));
        server_methods_done(&t);
}

static void test_registration_errors(void **state)
{
        _cleanup_error_ struct ocid_error *error = NULL;
        struct server_methods t = { 0 };
        const struct server_method_impl typo[] = { { "Sleeep", dummy_handler, false } };

        assert_int_equal(server_methods_add_service(&t, &ocid__test__v1__test__descriptor, typo, 1, &error),
                         -EINVAL);
        assert_string_equal(ocid_error_message(&error), "service 'ocid.test.v1.Test' has no method 'Sleeep'");
        assert_int_equal(t.n, 0);
        ocid_error_clear(&error);

        assert_int_equal(selftest_register(&t, NULL), 0);
        assert_int_equal(selftest_register(&t, &error), -EEXIST);
        assert_non_null(strstr(ocid_error_message(&error), "/ocid.test.v1.Test/"));
        assert_int_equal(t.n, 2);
        server_methods_done(&t);
        assert_int_equal(t.n, 0);
        assert_null(t.v);
}

OCID_TEST_MAIN(cmocka_unit_test(test_every_cri_method),
               cmocka_unit_test(test_implemented_methods),
               cmocka_unit_test(test_streaming_flags_match_proto),
               cmocka_unit_test(test_selftest_service),
               cmocka_unit_test(test_registration_errors))
