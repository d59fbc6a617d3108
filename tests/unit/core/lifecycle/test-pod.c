/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "config.h"
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

/* ---- creations whose caller went away (lc_claim_*) ---- */

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HASH_1 "1111111111111111111111111111111111111111111111111111111111111111"
#define HASH_2 "2222222222222222222222222222222222222222222222222222222222222222"

struct claims_fixture {
        char root[64];
        struct ocid_config config;
        struct lifecycle *lc;
};

static int claims_setup(void **state)
{
        struct claims_fixture *f = xzalloc(sizeof(*f));
        struct ocid_error *err = NULL;

        strcpy(f->root, "/tmp/ocid-test-claims.XXXXXX");
        assert_non_null(mkdtemp(f->root));
        f->config.root = f->root;
        assert_int_equal(lifecycle_new(&f->config, NULL, &f->lc, &err), 0);
        assert_non_null(f->lc->claims);
        *state = f;
        return 0;
}

static int claims_teardown(void **state)
{
        struct claims_fixture *f = *state;

        lifecycle_free(f->lc);
        assert_int_equal(ocid_rm_rf(f->root, NULL), 0);
        free(f);
        return 0;
}

static bool fake_cancelled(void *userdata)
{
        return *(volatile bool *) userdata;
}

static int n_reaped;
static char reaped_id[65];

static int fake_reap(struct lifecycle *lc, const char *id, struct ocid_error **err)
{
        (void) lc;
        (void) err;
        snprintf(reaped_id, sizeof(reaped_id), "%s", id);
        __atomic_add_fetch(&n_reaped, 1, __ATOMIC_SEQ_CST);
        return 0;
}

/* The creator's caller is still there: the name stays reserved for its
 * resource and any other request gets the reservation's error. */
static void test_claim_answered(void **state)
{
        struct claims_fixture *f = *state;
        struct names *names = f->lc->reg->pod_names;
        struct ocid_error *err = NULL;
        struct lc_claim *claim = NULL, *other = NULL;
        bool cancelled = false;
        struct lc_caller caller = { fake_cancelled, 0, &cancelled };
        char id[65] = "";

        assert_int_equal(lc_claim_reserve(f->lc, names, "k8s_web", ID_A, HASH_1, fake_reap, &caller, &claim, id, &err), 0);
        assert_non_null(claim);
        lc_claim_end(f->lc, claim, 0, &caller);
        assert_int_equal(lc_unclaimed_count(f->lc), 0);
        assert_int_equal(lc_claim_reserve(f->lc, names, "k8s_web", ID_B, HASH_1, fake_reap, NULL, &other, id, &err),
                         -EEXIST);
        assert_null(other);
        assert_non_null(strstr(ocid_error_message(&err), ID_A));
        ocid_error_clear(&err);
}

/* The creator's caller went away: the same request gets the resource, a
 * different one the reservation's error naming the holder. */
static void test_claim_retry(void **state)
{
        struct claims_fixture *f = *state;
        struct names *names = f->lc->reg->pod_names;
        struct ocid_error *err = NULL;
        struct lc_claim *claim = NULL, *other = NULL;
        bool cancelled = false;
        struct lc_caller caller = { fake_cancelled, 0, &cancelled };
        char id[65] = "";

        assert_int_equal(lc_claim_reserve(f->lc, names, "k8s_web", ID_A, HASH_1, fake_reap, &caller, &claim, id, &err), 0);
        cancelled = true;  /* the deadline passed while the pod was made */
        lc_claim_end(f->lc, claim, 0, &caller);
        assert_int_equal(lc_unclaimed_count(f->lc), 1);

        assert_int_equal(lc_claim_reserve(f->lc, names, "k8s_web", ID_B, HASH_2, fake_reap, NULL, &other, id, &err),
                         -EEXIST);
        assert_non_null(strstr(ocid_error_message(&err), ID_A));
        ocid_error_clear(&err);
        assert_int_equal(lc_unclaimed_count(f->lc), 1);

        assert_int_equal(lc_claim_reserve(f->lc, names, "k8s_web", ID_B, HASH_1, fake_reap, NULL, &other, id, &err), 1);
        assert_null(other);
        assert_string_equal(id, ID_A);
        assert_int_equal(lc_unclaimed_count(f->lc), 0);
        /* Claimed once only. */
        assert_int_equal(lc_claim_reserve(f->lc, names, "k8s_web", ID_B, HASH_1, fake_reap, NULL, &other, id, &err),
                         -EEXIST);
        ocid_error_clear(&err);
}

struct retry_thread {
        struct lifecycle *lc;
        const char *hash;
        struct lc_caller caller;
        struct lc_claim *claim;
        char id[65];
        int result;
        int done;
        char message[256];
};

static void *retry_main(void *userdata)
{
        struct retry_thread *t = userdata;
        struct ocid_error *err = NULL;

        t->result = lc_claim_reserve(t->lc, t->lc->reg->pod_names, "k8s_web", ID_B, t->hash, fake_reap,
                                     &t->caller, &t->claim, t->id, &err);
        if (err)
                snprintf(t->message, sizeof(t->message), "%s", ocid_error_message(&err));
        ocid_error_clear(&err);
        __atomic_store_n(&t->done, 1, __ATOMIC_SEQ_CST);
        return NULL;
}

/* A retry that comes while the first call still runs waits for it. */
static void test_claim_wait(void **state)
{
        struct claims_fixture *f = *state;
        struct ocid_error *err = NULL;
        struct lc_claim *claim = NULL;
        bool cancelled = false;
        struct lc_caller caller = { fake_cancelled, 0, &cancelled };
        struct retry_thread t = { .lc = f->lc, .hash = HASH_1 };
        pthread_t th;
        char id[65] = "";

        assert_int_equal(lc_claim_reserve(f->lc, f->lc->reg->pod_names, "k8s_web", ID_A, HASH_1, fake_reap, &caller,
                                          &claim, id, &err), 0);
        assert_int_equal(pthread_create(&th, NULL, retry_main, &t), 0);
        usleep(300 * 1000);
        assert_int_equal(__atomic_load_n(&t.done, __ATOMIC_SEQ_CST), 0);
        cancelled = true;
        lc_claim_end(f->lc, claim, 0, &caller);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(t.result, 1);
        assert_string_equal(t.id, ID_A);
        assert_int_equal(lc_unclaimed_count(f->lc), 0);
}

/* A waiting retry gives up at its own deadline, and when cancelled. */
static void test_claim_wait_deadline(void **state)
{
        struct claims_fixture *f = *state;
        struct ocid_error *err = NULL;
        struct lc_claim *claim = NULL;
        bool cancelled = false;
        struct lc_caller caller = { fake_cancelled, 0, &cancelled };
        struct retry_thread t = { .lc = f->lc, .hash = HASH_1 };
        char id[65] = "";
        int64_t t0;

        assert_int_equal(lc_claim_reserve(f->lc, f->lc->reg->pod_names, "k8s_web", ID_A, HASH_1, fake_reap, &caller,
                                          &claim, id, &err), 0);
        t0 = ocid_now_monotonic_ns();
        t.caller.deadline_ns = t0 + 200 * 1000000;
        retry_main(&t);
        assert_int_equal(t.result, -ETIMEDOUT);
        assert_true(ocid_now_monotonic_ns() >= t.caller.deadline_ns);
        assert_non_null(strstr(t.message, "k8s_web"));

        t = (struct retry_thread) { .lc = f->lc, .hash = HASH_1 };
        t.caller = (struct lc_caller) { fake_cancelled, 0, &cancelled };
        cancelled = true;   /* the retry's own caller is gone too */
        retry_main(&t);
        assert_int_equal(t.result, -ECANCELED);

        /* The first one finishes: kept, since its caller went away. */
        lc_claim_end(f->lc, claim, 0, &caller);
        assert_int_equal(lc_unclaimed_count(f->lc), 1);
}

/* When the first call fails, the waiting retry makes its own. */
static void test_claim_wait_failed(void **state)
{
        struct claims_fixture *f = *state;
        struct ocid_error *err = NULL;
        struct lc_claim *claim = NULL;
        bool cancelled = true;
        struct lc_caller caller = { fake_cancelled, 0, &cancelled };
        struct retry_thread t = { .lc = f->lc, .hash = HASH_1 };
        pthread_t th;
        char id[65] = "", *holder = NULL;

        assert_int_equal(lc_claim_reserve(f->lc, f->lc->reg->pod_names, "k8s_web", ID_A, HASH_1, fake_reap, &caller,
                                          &claim, id, &err), 0);
        assert_int_equal(pthread_create(&th, NULL, retry_main, &t), 0);
        usleep(200 * 1000);
        assert_int_equal(__atomic_load_n(&t.done, __ATOMIC_SEQ_CST), 0);
        /* The creator's rollback: the name first, then the claim. */
        assert_int_equal(names_release(f->lc->reg->pod_names, "k8s_web", NULL), 0);
        lc_claim_end(f->lc, claim, -EIO, &caller);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(t.result, 0);
        assert_non_null(t.claim);
        assert_int_equal(names_get(f->lc->reg->pod_names, "k8s_web", &holder, NULL), 0);
        assert_string_equal(holder, ID_B);
        free(holder);
        lc_claim_end(f->lc, t.claim, 0, NULL);
        assert_int_equal(lc_unclaimed_count(f->lc), 0);
}

/* What nobody claims is removed after the TTL, through its reap function. */
static void test_claim_reaped(void **state)
{
        struct claims_fixture *f = *state;
        struct ocid_error *err = NULL;
        struct lc_claim *claim = NULL;
        bool cancelled = true;
        struct lc_caller caller = { fake_cancelled, 0, &cancelled };
        char id[65] = "";

        n_reaped = 0;
        reaped_id[0] = '\0';
        lc_claims_set_ttl(f->lc, 100 * 1000000);
        assert_int_equal(lc_claim_reserve(f->lc, f->lc->reg->pod_names, "k8s_web", ID_A, HASH_1, fake_reap, &caller,
                                          &claim, id, &err), 0);
        lc_claim_end(f->lc, claim, 0, &caller);
        assert_int_equal(lc_unclaimed_count(f->lc), 1);
        for (int i = 0; i < 500 && __atomic_load_n(&n_reaped, __ATOMIC_SEQ_CST) == 0; i++)
                usleep(10 * 1000);
        assert_int_equal(__atomic_load_n(&n_reaped, __ATOMIC_SEQ_CST), 1);
        assert_string_equal(reaped_id, ID_A);
        assert_int_equal(lc_unclaimed_count(f->lc), 0);
}

/* A lifecycle that tracks no claims (restore's) just reserves. */
static void test_claim_untracked(void **state)
{
        struct claims_fixture *f = *state;
        struct lc_claims *saved = f->lc->claims;
        struct ocid_error *err = NULL;
        struct lc_claim *claim = (struct lc_claim *) 1;
        char id[65] = "";

        f->lc->claims = NULL;
        assert_int_equal(lc_claim_reserve(f->lc, f->lc->reg->pod_names, "k8s_web", ID_A, HASH_1, fake_reap, NULL,
                                          &claim, id, &err), 0);
        assert_null(claim);
        assert_int_equal(lc_claim_reserve(f->lc, f->lc->reg->pod_names, "k8s_web", ID_B, HASH_1, fake_reap, NULL,
                                          &claim, id, &err), -EEXIST);
        ocid_error_clear(&err);
        lc_claim_end(f->lc, claim, 0, NULL);
        f->lc->claims = saved;
}

/* An unclaimed resource the client removed meanwhile is never handed out,
 * even when another resource holds its name now. */
static void test_claim_stale(void **state)
{
        struct claims_fixture *f = *state;
        struct names *names = f->lc->reg->pod_names;
        struct ocid_error *err = NULL;
        struct lc_claim *claim = NULL;
        bool cancelled = true;
        struct lc_caller caller = { fake_cancelled, 0, &cancelled };
        char id[65] = "";

        assert_int_equal(lc_claim_reserve(f->lc, names, "k8s_web", ID_A, HASH_1, fake_reap, &caller, &claim, id, &err), 0);
        lc_claim_end(f->lc, claim, 0, &caller);
        assert_int_equal(lc_unclaimed_count(f->lc), 1);
        /* RemovePodSandbox of A by a client that found it in a list. */
        assert_int_equal(names_release(names, "k8s_web", NULL), 0);
        /* B takes the name and is answered. */
        assert_int_equal(lc_claim_reserve(f->lc, names, "k8s_web", ID_B, HASH_1, fake_reap, NULL, &claim, id, &err), 0);
        lc_claim_end(f->lc, claim, 0, NULL);
        assert_int_equal(lc_claim_reserve(f->lc, names, "k8s_web", ID_A, HASH_1, fake_reap, NULL, &claim, id, &err),
                         -EEXIST);
        assert_non_null(strstr(ocid_error_message(&err), ID_B));
        ocid_error_clear(&err);
}

OCID_TEST_MAIN(cmocka_unit_test(test_valid), cmocka_unit_test(test_refused), cmocka_unit_test(test_name),
               cmocka_unit_test(test_filter),
               cmocka_unit_test_setup_teardown(test_claim_answered, claims_setup, claims_teardown),
               cmocka_unit_test_setup_teardown(test_claim_retry, claims_setup, claims_teardown),
               cmocka_unit_test_setup_teardown(test_claim_wait, claims_setup, claims_teardown),
               cmocka_unit_test_setup_teardown(test_claim_wait_deadline, claims_setup, claims_teardown),
               cmocka_unit_test_setup_teardown(test_claim_wait_failed, claims_setup, claims_teardown),
               cmocka_unit_test_setup_teardown(test_claim_reaped, claims_setup, claims_teardown),
               cmocka_unit_test_setup_teardown(test_claim_stale, claims_setup, claims_teardown),
               cmocka_unit_test_setup_teardown(test_claim_untracked, claims_setup, claims_teardown))
