/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "lifecycle/pod.h"
#include "../../test-common.h"

struct cfg {
        Runtime__V1__PodSandboxConfig c;
        Runtime__V1__PodSandboxMetadata m;
        Runtime__V1__LinuxPodSandboxConfig l;
        Runtime__V1__LinuxSandboxSecurityContext sc;
        Runtime__V1__NamespaceOption ns;
        Runtime__V1__DNSConfig dns;
        Runtime__V1__PortMapping pm;
        Runtime__V1__PortMapping *pms[1];
};

static void cfg_init(struct cfg *f)
{
        runtime__v1__pod_sandbox_config__init(&f->c);
        runtime__v1__pod_sandbox_metadata__init(&f->m);
        runtime__v1__linux_pod_sandbox_config__init(&f->l);
        runtime__v1__linux_sandbox_security_context__init(&f->sc);
        runtime__v1__namespace_option__init(&f->ns);
        runtime__v1__dnsconfig__init(&f->dns);
        runtime__v1__port_mapping__init(&f->pm);
        f->m.name = (char *) "web";
        f->m.namespace_ = (char *) "default";
        f->m.uid = (char *) "6f2c";
        f->m.attempt = 2;
        f->c.metadata = &f->m;
        f->c.hostname = (char *) "web-1";
        f->c.log_directory = (char *) "/var/log/pods/default_web_6f2c";
        f->c.linux = &f->l;
        f->l.cgroup_parent = (char *) "/kubepods/besteffort/pod6f2c";
        f->l.security_context = &f->sc;
        f->sc.namespace_options = &f->ns;
        f->ns.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
        f->pm.container_port = 80;
        f->pm.host_port = 8080;
        f->pms[0] = &f->pm;
        f->c.n_port_mappings = 1;
        f->c.port_mappings = f->pms;
}

/* Checks that the config is refused with EINVAL (or `code`) and that the
 * message names `field`. */
static void assert_refused(struct cfg *f, bool systemd, int code, const char *field)
{
        struct ocid_error *err = NULL;

        assert_int_equal(pod_config_check(&f->c, systemd, &err), -code);
        assert_non_null(err);
        if (!strstr(ocid_error_message(&err), field))
                fail_msg("'%s' does not name '%s'", ocid_error_message(&err), field);
        ocid_error_clear(&err);
}

static void test_valid(void **state)
{
        struct ocid_error *err = NULL;
        struct cfg f;

        (void) state;
        cfg_init(&f);
        assert_int_equal(pod_config_check(&f.c, false, &err), 0);
        assert_null(err);
        /* No linux part, no hostname, no log directory: still valid. */
        f.c.linux = NULL;
        f.c.hostname = (char *) "";
        f.c.log_directory = (char *) "";
        assert_int_equal(pod_config_check(&f.c, false, &err), 0);
        /* A systemd slice with the systemd manager. */
        cfg_init(&f);
        f.l.cgroup_parent = (char *) "kubepods-besteffort-pod6f2c.slice";
        assert_int_equal(pod_config_check(&f.c, true, &err), 0);
}

static void test_refused(void **state)
{
        char *bad_search[] = { (char *) "ok.example", (char *) "bad domain" };
        struct cfg f;

        (void) state;
        cfg_init(&f);
        {
                struct ocid_error *err = NULL;

                assert_int_equal(pod_config_check(NULL, false, &err), -EINVAL);
                assert_string_equal(ocid_error_message(&err), "config is missing");
                ocid_error_clear(&err);
        }
        f.c.metadata = NULL;
        assert_refused(&f, false, EINVAL, "config.metadata");

        cfg_init(&f);
        f.m.name = (char *) "";
        assert_refused(&f, false, EINVAL, "config.metadata.name");
        cfg_init(&f);
        f.m.namespace_ = (char *) "a/b";
        assert_refused(&f, false, EINVAL, "config.metadata.namespace");
        cfg_init(&f);
        f.m.uid = (char *) "x\ny";
        assert_refused(&f, false, EINVAL, "config.metadata.uid");

        cfg_init(&f);
        f.c.hostname = (char *) "bad_host!";
        assert_refused(&f, false, EINVAL, "config.hostname");

        cfg_init(&f);
        f.c.log_directory = (char *) "relative/dir";
        assert_refused(&f, false, EINVAL, "config.log_directory");
        f.c.log_directory = (char *) "/var/log/../../etc";
        assert_refused(&f, false, EINVAL, "config.log_directory");

        cfg_init(&f);
        f.l.cgroup_parent = (char *) "kubepods/x";
        assert_refused(&f, false, EINVAL, "config.linux.cgroup_parent");
        f.l.cgroup_parent = (char *) "/kubepods/../../sys";
        assert_refused(&f, false, EINVAL, "config.linux.cgroup_parent");
        f.l.cgroup_parent = (char *) "/kubepods/pod";
        assert_refused(&f, true, EINVAL, "config.linux.cgroup_parent");

        cfg_init(&f);
        f.pm.host_port = 70000;
        assert_refused(&f, false, EINVAL, "config.port_mappings[0]");
        cfg_init(&f);
        f.pm.protocol = 9;
        assert_refused(&f, false, EINVAL, "config.port_mappings[0]");

        cfg_init(&f);
        f.ns.network = RUNTIME__V1__NAMESPACE_MODE__TARGET;
        assert_refused(&f, false, EINVAL, "namespace_options.network");
        cfg_init(&f);
        f.ns.ipc = 42;
        assert_refused(&f, false, EINVAL, "namespace_options.ipc");

        cfg_init(&f);
        f.dns.n_searches = 2;
        f.dns.searches = bad_search;
        f.c.dns_config = &f.dns;
        assert_refused(&f, false, EINVAL, "searches[1]");
}

static void test_name(void **state)
{
        struct cfg f;
        char *n;

        (void) state;
        cfg_init(&f);
        n = pod_name_from_metadata(&f.m);
        assert_string_equal(n, "k8s_web_default_6f2c_2");
        free(n);
}

static void test_filter(void **state)
{
        Runtime__V1__PodSandboxFilter flt = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
        Runtime__V1__PodSandboxStateValue sv = RUNTIME__V1__POD_SANDBOX_STATE_VALUE__INIT;
        Runtime__V1__PodSandboxFilter__LabelSelectorEntry e1 =
                RUNTIME__V1__POD_SANDBOX_FILTER__LABEL_SELECTOR_ENTRY__INIT;
        Runtime__V1__PodSandboxFilter__LabelSelectorEntry *sel[1] = { &e1 };
        char *labels[] = { (char *) "app", (char *) "web", (char *) "tier", (char *) "front", NULL };
        struct pod_record r = { 0 };

        (void) state;
        r.id = (char *) "abcdef0123";
        r.labels = labels;
        r.state = RECORDS_POD_READY;
        assert_true(pod_matches_filter(&r, NULL));
        assert_true(pod_matches_filter(&r, &flt));
        flt.id = (char *) "abc";
        assert_true(pod_matches_filter(&r, &flt));
        flt.id = (char *) "abd";
        assert_false(pod_matches_filter(&r, &flt));
        flt.id = (char *) "";
        flt.state = &sv;
        sv.state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
        assert_false(pod_matches_filter(&r, &flt));
        sv.state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
        assert_true(pod_matches_filter(&r, &flt));
        flt.n_label_selector = 1;
        flt.label_selector = sel;
        e1.key = (char *) "tier";
        e1.value = (char *) "front";
        assert_true(pod_matches_filter(&r, &flt));
        e1.value = (char *) "back";
        assert_false(pod_matches_filter(&r, &flt));
        e1.key = (char *) "missing";
        e1.value = (char *) "";
        assert_false(pod_matches_filter(&r, &flt));
}

OCID_TEST_MAIN(cmocka_unit_test(test_valid), cmocka_unit_test(test_refused), cmocka_unit_test(test_name),
               cmocka_unit_test(test_filter))
