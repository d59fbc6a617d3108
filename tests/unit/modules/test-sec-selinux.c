/* SPDX-License-Identifier: Apache-2.0 */
/* sec-selinux: the module's source is linked into this program with
 * libselinux's host-facing calls mocked (-Wl,--wrap): is_selinux_enabled,
 * security_getenforce, selinux_lxc_contexts_path (a contexts file of the
 * test), security_check_context (a policy that knows every type but
 * "bad_t") and lsetfilecon (recorded, never applied). Pods and containers
 * go through the core's chains; the built module runs against the real
 * host. */

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <selinux/selinux.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test-common.h"
#include "module-test.h"

#include <ocid/host.h>
#include <ocid/json.h>
#include <ocid/log.h>

#include "modules.h"
#include "security.h"

extern const struct ocid_module_info sec_selinux_LTX_ocid_module_info;

#define POD_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define POD_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define CTR_1 "1111111111111111111111111111111111111111111111111111111111111111"

/* ---- the mocks ---- */

static bool mock_active;
static int mock_enabled, mock_enforce;
static const char *mock_contexts;       /* selinux_lxc_contexts_path() */
static char **labelled;                 /* "path=label" of each lsetfilecon */
static const char *label_fail_name;     /* lsetfilecon of a path ending so fails */

int __real_is_selinux_enabled(void);
int __wrap_is_selinux_enabled(void);
int __real_security_getenforce(void);
int __wrap_security_getenforce(void);
const char *__real_selinux_lxc_contexts_path(void);
const char *__wrap_selinux_lxc_contexts_path(void);
int __real_security_check_context(const char *con);
int __wrap_security_check_context(const char *con);
int __real_lsetfilecon(const char *path, const char *con);
int __wrap_lsetfilecon(const char *path, const char *con);

int __wrap_is_selinux_enabled(void)
{
        if (!mock_active)
                return __real_is_selinux_enabled();
        if (mock_enabled < 0)
                errno = EIO;
        return mock_enabled;
}

int __wrap_security_getenforce(void)
{
        if (!mock_active)
                return __real_security_getenforce();
        return mock_enforce;
}

const char *__wrap_selinux_lxc_contexts_path(void)
{
        if (!mock_active)
                return __real_selinux_lxc_contexts_path();
        return mock_contexts;
}

int __wrap_security_check_context(const char *con)
{
        if (!mock_active)
                return __real_security_check_context(con);
        if (strstr(con, ":bad_t:")) {
                errno = EINVAL;
                return -1;
        }
        return 0;
}

int __wrap_lsetfilecon(const char *path, const char *con)
{
        char *entry;

        /* never label anything for real, mocked or not */
        assert_true(mock_active);
        if (label_fail_name && ocid_endswith(path, label_fail_name)) {
                errno = ENOTSUP;
                return -1;
        }
        entry = xasprintf("%s=%s", path, con);
        ocid_strv_push(&labelled, entry);
        free(entry);
        return 0;
}

static int log_count;
static char *log_last;
static int warn_count;

static void log_sink(int level, const char *category, const char *message, void *userdata)
{
        if (!streq(category, "sec-selinux"))
                return;
        if (level == OCID_LOG_WARNING)
                warn_count++;
        if (level > OCID_LOG_INFO)
                return;
        log_count++;
        free(log_last);
        log_last = xstrdup(message);
}

/* ---- one test's world ---- */

#define CONTEXTS \
        "# the container contexts of a policy\n" \
        "process = \"system_u:system_r:container_t:s0\"\n" \
        "content = \"system_u:object_r:virt_var_lib_t:s0\"\n" \
        "  file =   \"system_u:object_r:container_file_t:s0\"  \n" \
        "ro_file = \"system_u:object_r:container_ro_file_t:s0\"\n"

struct world {
        char *dir;
        char *root;
        char *records;          /* <root>/sec-selinux */
        char *contexts;
        struct ocid_module *m;
        struct ocid_modules mods;
};

static void world_setup(struct world *w)
{
        _cleanup_free_ char *runroot = NULL;

        memset(w, 0, sizeof(*w));
        w->dir = test_tmpdir_new();
        w->root = ocid_path_join(w->dir, "root");
        runroot = ocid_path_join(w->dir, "run");
        ocid_host_set_paths(w->root, runroot);
        w->records = ocid_path_join(w->root, "sec-selinux");
        test_write_file(w->dir, "lxc_contexts", CONTEXTS);
        w->contexts = ocid_path_join(w->dir, "lxc_contexts");
        mock_contexts = w->contexts;
        mock_active = true;
        mock_enabled = 1;
        mock_enforce = 1;
        log_count = warn_count = 0;
        ocid_log_set_sink(log_sink, NULL);
}

/* Starts the module with extra settings; returns init's result. */
static int world_try_start(struct world *w, const char *extra, struct ocid_error **err)
{
        _cleanup_free_ char *text = xasprintf("modules = { sec-selinux = { %s }; };", extra ? extra : "");
        config_t cfg;
        const config_setting_t *group = test_config_parse(&cfg, text, "modules.sec-selinux");
        int r;

        w->m = test_module_linked(&sec_selinux_LTX_ocid_module_info);
        r = module_init(w->m, group, err);
        config_destroy(&cfg);
        if (r < 0) {
                module_fini(w->m);
                w->m = NULL;
        }
        w->mods.security = &w->m;
        w->mods.n_security = 1;
        return r;
}

static void world_start(struct world *w, const char *extra)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        int r = world_try_start(w, extra, &e);

        assert_no_error(r, e);
}

static void world_stop(struct world *w)
{
        if (w->m)
                module_fini(w->m);
        w->m = NULL;
}

static void world_teardown(struct world *w)
{
        world_stop(w);
        mock_active = false;
        label_fail_name = NULL;
        ocid_strv_free(labelled);
        labelled = NULL;
        ocid_log_set_sink(NULL, NULL);
        free(log_last);
        log_last = NULL;
        test_tmpdir_free(w->dir);
        free(w->root);
        free(w->records);
        free(w->contexts);
}

struct opts {
        const char *user, *role, *type, *level;
};

static int pod_create(struct world *w, const char *pod_id, const struct opts *o, int restore, char **ret_pl,
                      char **ret_ml, struct ocid_error **err)
{
        struct ocid_security_pod pod = {
                .size = sizeof(pod),
                .pod_id = pod_id,
                .selinux_user = o ? o->user : NULL,
                .selinux_role = o ? o->role : NULL,
                .selinux_type = o ? o->type : NULL,
                .selinux_level = o ? o->level : NULL,
                .restore = restore,
        };

        return security_pod_create_chain(&w->mods, &pod, ret_pl, ret_ml, err);
}

/* The level of a pod that must be created; its mount label must carry it
 * too. */
static char *pod_level(struct world *w, const char *pod_id, const struct opts *o)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *pl = NULL, *ml = NULL;
        char *level;
        int r = pod_create(w, pod_id, o, 0, &pl, &ml, &e);

        assert_no_error(r, e);
        assert_non_null(pl);
        assert_non_null(ml);
        /* "user:role:type:" then the level */
        level = pl;
        for (int i = 0; i < 3; i++) {
                level = strchr(level, ':');
                assert_non_null(level);
                level++;
        }
        assert_true(ocid_endswith(ml, level));
        return xstrdup(level);
}

static void pod_remove(struct world *w, const char *pod_id)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        int r = security_pod_remove_chain(&w->mods, pod_id, &e);

        assert_no_error(r, e);
}

/* A pod ID from a number. */
static char *pod_id(unsigned n)
{
        return xasprintf("%064x", n);
}

/* Runs the chain on a container of pod_id; *ret_spec gets the spec. */
static int container_apply(struct world *w, const char *pod, const struct opts *o, int privileged,
                           const char *const *relabel, struct json_object **ret_spec, char **ret_mount_label,
                           struct ocid_error **err)
{
        struct ocid_security_request req = {
                .size = sizeof(req),
                .container_id = CTR_1,
                .pod_id = pod,
                .privileged = privileged,
                .selinux_user = o ? o->user : NULL,
                .selinux_role = o ? o->role : NULL,
                .selinux_type = o ? o->type : NULL,
                .selinux_level = o ? o->level : NULL,
                .relabel = relabel,
        };

        *ret_spec = json_tokener_parse("{\"process\":{\"args\":[\"sh\"]}}");
        return security_apply_chain(&w->mods, &req, *ret_spec, ret_mount_label, err);
}

static const char *spec_get(struct json_object *spec, const char *obj, const char *key)
{
        struct json_object *o;

        if (!json_object_object_get_ex(spec, obj, &o))
                return NULL;
        return ocid_json_get_string(o, key);
}

static bool path_exists(const char *p)
{
        return access(p, F_OK) == 0;
}

static int setup(void **state)
{
        (void) test_env_dir("OCID_MODULE_DIR");
        return 0;
}

/* ---- labels ---- */

static void test_labels(void **state)
{
        struct world w;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *pl = NULL, *ml = NULL, *mount_label = NULL, *record = NULL;
        _cleanup_json_ struct json_object *spec = NULL, *rec = NULL;
        unsigned x, y;
        char tail;
        int r;

        world_setup(&w);
        world_start(&w, NULL);
        r = pod_create(&w, POD_A, NULL, 0, &pl, &ml, &e);
        assert_no_error(r, e);
        /* the contexts' defaults with a level of two categories, X < Y */
        assert_int_equal(sscanf(pl, "system_u:system_r:container_t:s0:c%u,c%u%c", &x, &y, &tail), 2);
        assert_true(x < y && y <= 1023);
        assert_true(ocid_startswith(ml, "system_u:object_r:container_file_t:s0:c"));
        assert_string_equal(strchr(ml, ',') , strchr(pl, ','));

        /* its record */
        record = xasprintf("%s/%s.json", w.records, POD_A);
        r = ocid_json_read_file(record, 4096, &rec, &e);
        assert_no_error(r, e);
        assert_string_equal(ocid_json_get_string(rec, "pod_id"), POD_A);
        assert_true(ocid_endswith(pl, ocid_json_get_string(rec, "level")));

        /* a container of the pod: its level, the process and mount labels */
        r = container_apply(&w, POD_A, NULL, 0, NULL, &spec, &mount_label, &e);
        assert_no_error(r, e);
        assert_string_equal(spec_get(spec, "process", "selinuxLabel"), pl);
        assert_string_equal(spec_get(spec, "linux", "mountLabel"), ml);
        assert_string_equal(mount_label, ml);
        world_teardown(&w);
}

/* User and level apply to both labels, role and type to the process. */
static void test_labels_from_options(void **state)
{
        struct world w;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *pl = NULL, *ml = NULL;
        _cleanup_json_ struct json_object *spec = NULL, *spec2 = NULL;
        const struct opts pod = { .user = "user_u", .role = "user_r", .type = "spc_t", .level = "s0:c7,c9" };
        const struct opts ctr = { .type = "container_init_t" };
        const struct opts same = { .level = "s0:c7,c9" };
        int r;

        world_setup(&w);
        world_start(&w, NULL);
        r = pod_create(&w, POD_A, &pod, 0, &pl, &ml, &e);
        assert_no_error(r, e);
        assert_string_equal(pl, "user_u:user_r:spc_t:s0:c7,c9");
        assert_string_equal(ml, "user_u:object_r:container_file_t:s0:c7,c9");

        /* the container's own options (the core gives it the pod's when it
         * has none), with the pod's level */
        r = container_apply(&w, POD_A, &ctr, 0, NULL, &spec, NULL, &e);
        assert_no_error(r, e);
        assert_string_equal(spec_get(spec, "process", "selinuxLabel"), "system_u:system_r:container_init_t:s0:c7,c9");
        assert_string_equal(spec_get(spec, "linux", "mountLabel"), "system_u:object_r:container_file_t:s0:c7,c9");
        r = container_apply(&w, POD_A, &same, 0, NULL, &spec2, NULL, &e);
        assert_no_error(r, e);
        assert_string_equal(spec_get(spec2, "process", "selinuxLabel"), "system_u:system_r:container_t:s0:c7,c9");
        world_teardown(&w);
}

static void test_container_errors(void **state)
{
        struct world w;
        _cleanup_error_ struct ocid_error *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL, *e5 = NULL, *e6 = NULL;
        _cleanup_json_ struct json_object *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL;
        _cleanup_free_ char *level = NULL, *pl = NULL, *ml = NULL;
        const struct opts other_level = { .level = "s0:c1,c2" };
        const struct opts bad_type = { .type = "bad_t" };
        const struct opts odd_type = { .type = "container_t:s0" };
        const struct opts odd_level = { .level = "s0:c1 c2" };
        int r;

        world_setup(&w);
        world_start(&w, "mcs_range = \"c10.c20\";");
        level = pod_level(&w, POD_A, NULL);

        r = container_apply(&w, POD_A, &other_level, 0, NULL, &s1, NULL, &e1);
        assert_error(r, e1, EINVAL, "the container's SELinux level 's0:c1,c2' is not its pod's '");
        r = container_apply(&w, POD_B, NULL, 0, NULL, &s2, NULL, &e2);
        assert_error(r, e2, ENOENT, "pod '" POD_B "' holds no SELinux level");
        r = container_apply(&w, POD_A, &bad_type, 0, NULL, &s3, NULL, &e3);
        assert_error(r, e3, EINVAL, "SELinux label 'system_u:system_r:bad_t:");
        assert_contains(e3->message, "is not valid in the loaded policy");
        r = container_apply(&w, POD_A, &odd_type, 0, NULL, &s4, NULL, &e4);
        assert_error(r, e4, EINVAL, "SELinux type 'container_t:s0' holds a character other than");

        /* a pod with a bad option creates nothing */
        r = pod_create(&w, POD_B, &odd_level, 0, &pl, &ml, &e5);
        assert_error(r, e5, EINVAL, "SELinux level 's0:c1 c2' holds a character that no level has");
        r = pod_create(&w, POD_B, &bad_type, 0, &pl, &ml, &e6);
        assert_error(r, e6, EINVAL, "is not valid in the loaded policy");
        assert_null(pl);
        {
                _cleanup_free_ char *rec = xasprintf("%s/%s.json", w.records, POD_B);

                assert_false(path_exists(rec));
        }
        world_teardown(&w);
}

/* Privileged: the runtime's own label unless options are given; the
 * mount label stays the pod's. */
static void test_privileged(void **state)
{
        struct world w;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_json_ struct json_object *s1 = NULL, *s2 = NULL;
        _cleanup_free_ char *level = NULL;
        const struct opts spc = { .type = "spc_t" };
        int r;

        world_setup(&w);
        world_start(&w, NULL);
        level = pod_level(&w, POD_A, NULL);
        r = container_apply(&w, POD_A, NULL, 1, NULL, &s1, NULL, &e);
        assert_no_error(r, e);
        assert_null(spec_get(s1, "process", "selinuxLabel"));
        assert_true(ocid_endswith(spec_get(s1, "linux", "mountLabel"), level));
        r = container_apply(&w, POD_A, &spc, 1, NULL, &s2, NULL, &e);
        assert_no_error(r, e);
        assert_true(ocid_startswith(spec_get(s2, "process", "selinuxLabel"), "system_u:system_r:spc_t:s0:c"));
        world_teardown(&w);
}

/* ---- MCS levels ---- */

static void test_explicit_level(void **state)
{
        struct world w;
        _cleanup_error_ struct ocid_error *e1 = NULL, *e2 = NULL;
        _cleanup_free_ char *a = NULL, *again = NULL, *b = NULL, *pl = NULL, *ml = NULL;
        const struct opts l79 = { .level = "s0:c7,c9" };
        const struct opts l12 = { .level = "s0:c1,c2" };
        int r;

        world_setup(&w);
        world_start(&w, NULL);
        a = pod_level(&w, POD_A, &l79);
        assert_string_equal(a, "s0:c7,c9");
        /* another pod cannot take it */
        r = pod_create(&w, POD_B, &l79, 0, &pl, &ml, &e1);
        assert_error(r, e1, EEXIST, "SELinux level 's0:c7,c9' is held by pod '" POD_A "'");
        /* the same pod again (a restore): the same level; another level is refused */
        again = pod_level(&w, POD_A, NULL);
        assert_string_equal(again, "s0:c7,c9");
        r = pod_create(&w, POD_A, &l12, 1, &pl, &ml, &e2);
        assert_error(r, e2, EEXIST, "pod '" POD_A "' holds SELinux level 's0:c7,c9', not 's0:c1,c2'");
        /* released, it is free for another pod */
        pod_remove(&w, POD_A);
        b = pod_level(&w, POD_B, &l79);
        assert_string_equal(b, "s0:c7,c9");
        world_teardown(&w);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Every level in levels[0..n-1] differs from every other. */
static void assert_all_distinct(char **levels, size_t n)
{
        char **sorted = xcalloc(n, sizeof(char *));

        memcpy(sorted, levels, n * sizeof(char *));
        qsort(sorted, n, sizeof(char *), cmp_str);
        for (size_t i = 1; i < n; i++)
                if (streq(sorted[i - 1], sorted[i])) {
                        print_error("level '%s' given twice\n", sorted[i]);
                        fail();
                }
        free(sorted);
}

static size_t count_records(const char *dir)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (ocid_endswith(de->d_name, ".json"))
                        n++;
        return n;
}

#define MANY 2000

/* 2000 pods: every level unique and well formed; half released and 1000
 * more created: still unique among those held. */
static void test_mcs_unique(void **state)
{
        struct world w;
        char **levels = xcalloc(2 * MANY, sizeof(char *));

        world_setup(&w);
        world_start(&w, NULL);
        for (unsigned i = 0; i < MANY; i++) {
                _cleanup_free_ char *id = pod_id(i);
                unsigned x, y;
                char tail;

                levels[i] = pod_level(&w, id, NULL);
                assert_int_equal(sscanf(levels[i], "s0:c%u,c%u%c", &x, &y, &tail), 2);
                assert_true(x < y && y <= 1023);
        }
        assert_all_distinct(levels, MANY);
        assert_int_equal(count_records(w.records), MANY);

        /* release the even ones, then 1000 new pods */
        for (unsigned i = 0; i < MANY; i += 2) {
                _cleanup_free_ char *id = pod_id(i);

                pod_remove(&w, id);
                free(levels[i]);
                levels[i] = NULL;
        }
        assert_int_equal(count_records(w.records), MANY / 2);
        {
                char **held = xcalloc(MANY, sizeof(char *));
                size_t n = 0;

                for (unsigned i = 1; i < MANY; i += 2)
                        held[n++] = levels[i];
                for (unsigned i = MANY; i < MANY + MANY / 2; i++) {
                        _cleanup_free_ char *id = pod_id(i);

                        levels[i] = pod_level(&w, id, NULL);
                        held[n++] = levels[i];
                }
                assert_all_distinct(held, n);
                free(held);
        }
        for (size_t i = 0; i < 2 * MANY; i++)
                free(levels[i]);
        free(levels);
        world_teardown(&w);
}

/* Pods created from several threads at once: every level distinct. */
#define THREADS 8
#define PER_THREAD 100

struct racer {
        struct world *w;
        unsigned first;
        char *levels[PER_THREAD];
        int failures;
};

static void *race_pods(void *arg)
{
        struct racer *rc = arg;

        for (unsigned i = 0; i < PER_THREAD; i++) {
                struct ocid_error *e = NULL;
                _cleanup_free_ char *id = pod_id(rc->first + i), *ml = NULL;
                char *pl = NULL;

                if (pod_create(rc->w, id, NULL, 0, &pl, &ml, &e) < 0 || !pl) {
                        rc->failures++;
                        ocid_error_free(e);
                        continue;
                }
                rc->levels[i] = pl;
        }
        return NULL;
}

static void test_mcs_concurrent(void **state)
{
        struct world w;
        struct racer rc[THREADS];
        pthread_t t[THREADS];
        char **all = xcalloc(THREADS * PER_THREAD, sizeof(char *));
        size_t n = 0;

        world_setup(&w);
        world_start(&w, "mcs_range = \"c0.c40\";");   /* 820 levels for 800 pods */
        for (unsigned i = 0; i < THREADS; i++) {
                memset(&rc[i], 0, sizeof(rc[i]));
                rc[i].w = &w;
                rc[i].first = i * PER_THREAD;
                assert_int_equal(pthread_create(&t[i], NULL, race_pods, &rc[i]), 0);
        }
        for (unsigned i = 0; i < THREADS; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_int_equal(rc[i].failures, 0);
                for (unsigned j = 0; j < PER_THREAD; j++)
                        all[n++] = rc[i].levels[j];
        }
        /* the process labels differ exactly when the levels do */
        assert_all_distinct(all, n);
        assert_int_equal(count_records(w.records), THREADS * PER_THREAD);
        for (size_t i = 0; i < n; i++)
                free(all[i]);
        free(all);
        world_teardown(&w);
}

/* A range of three categories has three levels: a fourth pod is refused,
 * and a released level is the one the next pod gets. */
static void test_mcs_exhaustion(void **state)
{
        struct world w;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *pl = NULL, *ml = NULL, *id3 = pod_id(3), *next = NULL;
        char *levels[3];
        int r;

        world_setup(&w);
        world_start(&w, "mcs_range = \"c0.c2\";");
        for (unsigned i = 0; i < 3; i++) {
                _cleanup_free_ char *id = pod_id(i);

                levels[i] = pod_level(&w, id, NULL);
        }
        assert_all_distinct(levels, 3);
        for (unsigned i = 0; i < 3; i++)
                assert_true(streq(levels[i], "s0:c0,c1") || streq(levels[i], "s0:c0,c2") ||
                            streq(levels[i], "s0:c1,c2"));
        r = pod_create(&w, id3, NULL, 0, &pl, &ml, &e);
        assert_error(r, e, ENOSPC, "every MCS level of the range c0.c2 is held (3 pairs of categories)");
        assert_null(pl);

        {
                _cleanup_free_ char *id1 = pod_id(1);

                pod_remove(&w, id1);
        }
        next = pod_level(&w, id3, NULL);
        assert_string_equal(next, levels[1]);
        for (unsigned i = 0; i < 3; i++)
                free(levels[i]);
        world_teardown(&w);
}

/* A restarted module takes back the recorded levels: restored pods get
 * theirs, new pods none of them; bad records are reported and left. */
static void test_restore(void **state)
{
        struct world w;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL, *a2 = NULL, *c = NULL, *pl = NULL, *ml = NULL, *info = NULL;
        _cleanup_free_ char *id_c = pod_id(7), *id_d = pod_id(8), *bad = NULL, *rec_b = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        int r;

        world_setup(&w);
        world_start(&w, "mcs_range = \"c0.c2\";");
        a = pod_level(&w, POD_A, NULL);
        b = pod_level(&w, POD_B, NULL);
        world_stop(&w);

        /* unusable records beside the good ones */
        test_write_file(w.records, "garbage.json", "{ not json");
        test_write_file(w.records, "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.json",
                        "{\"pod_id\":\"dddd\",\"level\":\"s0:c0,c1\"}");
        bad = xasprintf("{\"pod_id\":\"%s\",\"level\":\"%s\"}", id_d, a);
        {
                _cleanup_free_ char *name = xasprintf("%s.json", id_d);

                test_write_file(w.records, name, bad);
        }

        world_start(&w, "mcs_range = \"c0.c2\";");
        /* three bad records (the duplicate may be either of A's and D's,
         * as the directory lists them) */
        assert_true(warn_count == 3);
        r = module_info(w.m, &info, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(info);
        assert_int_equal(ocid_json_get_int64(o, "pods", -1), 2);
        assert_true(path_exists(w.records));
        assert_int_equal(count_records(w.records), 5);

        /* the pods holding a level after restore keep it; the one free
         * level goes to a new pod, then none is left */
        {
                _cleanup_error_ struct ocid_error *e2 = NULL;
                _cleanup_free_ char *pl2 = NULL, *ml2 = NULL;

                rec_b = xasprintf("%s/%s.json", w.records, POD_B);
                r = pod_create(&w, POD_B, NULL, 1, &pl2, &ml2, &e2);
                assert_no_error(r, e2);
                assert_true(ocid_endswith(pl2, b));
        }
        c = pod_level(&w, id_c, NULL);
        assert_string_not_equal(c, a);
        assert_string_not_equal(c, b);
        r = pod_create(&w, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", NULL, 0, &pl, &ml, &e);
        assert_error(r, e, ENOSPC, "every MCS level");
        ocid_error_clear(&e);

        /* a removed pod's record is gone, and stays gone after a restart */
        pod_remove(&w, POD_B);
        assert_false(path_exists(rec_b));
        pod_remove(&w, POD_B);          /* again: nothing to do */
        world_stop(&w);
        world_start(&w, "mcs_range = \"c0.c2\";");
        a2 = pod_level(&w, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", NULL);
        assert_string_equal(a2, b);
        world_teardown(&w);
}

/* ---- relabel ---- */

static char *labelled_as(const char *path)
{
        size_t n = strlen(path);

        for (char **l = labelled; l && *l; l++)
                if (strncmp(*l, path, n) == 0 && (*l)[n] == '=')
                        return *l + n + 1;
        return NULL;
}

static void test_relabel(void **state)
{
        struct world w;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_json_ struct json_object *spec = NULL;
        _cleanup_free_ char *vol = NULL, *sub = NULL, *file = NULL, *deep = NULL, *link = NULL, *outside = NULL,
                            *single = NULL, *level = NULL, *ml = NULL;
        int r;

        world_setup(&w);
        world_start(&w, NULL);
        level = pod_level(&w, POD_A, NULL);
        vol = ocid_path_join(w.dir, "vol");
        sub = ocid_path_join(vol, "sub");
        assert_int_equal(mkdir(vol, 0755), 0);
        assert_int_equal(mkdir(sub, 0755), 0);
        test_write_file(vol, "file", "x");
        test_write_file(sub, "deep", "y");
        outside = ocid_path_join(w.dir, "outside");
        assert_int_equal(mkdir(outside, 0755), 0);
        test_write_file(outside, "secret", "z");
        link = ocid_path_join(vol, "link");
        assert_int_equal(symlink(outside, link), 0);
        test_write_file(w.dir, "single", "s");
        single = ocid_path_join(w.dir, "single");
        file = ocid_path_join(vol, "file");
        deep = ocid_path_join(sub, "deep");

        {
                const char *const relabel[] = { vol, single, NULL };

                r = container_apply(&w, POD_A, NULL, 0, relabel, &spec, &ml, &e);
                assert_no_error(r, e);
        }
        assert_true(ocid_endswith(ml, level));
        assert_string_equal(labelled_as(vol), ml);
        assert_string_equal(labelled_as(sub), ml);
        assert_string_equal(labelled_as(file), ml);
        assert_string_equal(labelled_as(deep), ml);
        assert_string_equal(labelled_as(link), ml);       /* the link itself */
        assert_string_equal(labelled_as(single), ml);
        assert_null(labelled_as(outside));                /* never followed */
        {
                _cleanup_free_ char *secret = ocid_path_join(outside, "secret");

                assert_null(labelled_as(secret));
        }
        assert_int_equal(ocid_strv_length(labelled), 6);
        world_teardown(&w);
}

static void expect_refused(struct world *w, const char *path, const char *needle)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_json_ struct json_object *spec = NULL;
        const char *const relabel[] = { path, NULL };
        int r;

        r = container_apply(w, POD_A, NULL, 0, relabel, &spec, NULL, &e);
        assert_error(r, e, EPERM, needle);
        assert_null(labelled);
}

static void test_relabel_refuses_system_paths(void **state)
{
        static const char *const system[] = {
                "/", "/etc", "/usr", "/var", "/home", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32",
                "/boot", "/dev", "/proc", "/sys", "/run", "/root", "/tmp", "/var/lib", "/var/log", "/opt",
                "/srv", "/mnt", "/media", "/usr/lib", "/usr/bin", "/usr/local", "/proc/1", "/sys/fs/cgroup",
                "/dev/shm", "/etc/passwd", "/etc/shadow", "/etc/selinux",
        };
        struct world w;
        _cleanup_free_ char *level = NULL, *to_etc = NULL, *to_lib = NULL, *to_root = NULL, *msg = NULL, *dotdot = NULL;

        world_setup(&w);
        world_start(&w, NULL);
        level = pod_level(&w, POD_A, NULL);
        for (size_t i = 0; i < ELEMENTSOF(system); i++) {
                _cleanup_free_ char *slash = xasprintf("%s/", system[i]);
                _cleanup_free_ char *doubled = xasprintf("/%s", system[i]);

                expect_refused(&w, system[i], "refusing to relabel '");
                expect_refused(&w, slash, "refusing to relabel '");
                expect_refused(&w, doubled, "refusing to relabel '");
        }
        expect_refused(&w, "/etc", "refusing to relabel '/etc': a system directory");

        /* through symlinks and dot-dots */
        to_etc = ocid_path_join(w.dir, "to-etc");
        assert_int_equal(symlink("/etc", to_etc), 0);
        msg = xasprintf("refusing to relabel '%s': it resolves to the system directory '/etc'", to_etc);
        expect_refused(&w, to_etc, msg);
        to_lib = ocid_path_join(w.dir, "to-lib");
        assert_int_equal(symlink("/lib", to_lib), 0);
        expect_refused(&w, to_lib, "it resolves to the system directory");
        to_root = ocid_path_join(w.dir, "to-root");
        assert_int_equal(symlink("../../../../../../../../..", to_root), 0);
        expect_refused(&w, to_root, "it resolves to the system directory '/'");
        dotdot = xasprintf("%s/../../../../../../../../../usr", w.dir);
        expect_refused(&w, dotdot, "it resolves to the system directory '/usr'");
        /* the daemon's own root */
        expect_refused(&w, w.root, "a system directory");

        /* the first refused path stops the container before any label */
        {
                _cleanup_error_ struct ocid_error *e = NULL;
                _cleanup_json_ struct json_object *spec = NULL;
                _cleanup_free_ char *vol = ocid_path_join(w.dir, "vol");
                const char *const relabel[] = { to_etc, vol, NULL };
                int r;

                assert_int_equal(mkdir(vol, 0755), 0);
                r = container_apply(&w, POD_A, NULL, 0, relabel, &spec, NULL, &e);
                assert_error(r, e, EPERM, "resolves to the system directory '/etc'");
                assert_null(labelled);
        }
        world_teardown(&w);
}

static void test_relabel_errors(void **state)
{
        struct world w;
        _cleanup_error_ struct ocid_error *e1 = NULL, *e2 = NULL, *e3 = NULL;
        _cleanup_json_ struct json_object *s1 = NULL, *s2 = NULL, *s3 = NULL;
        _cleanup_free_ char *level = NULL, *missing = NULL, *vol = NULL;
        int r;

        world_setup(&w);
        world_start(&w, NULL);
        level = pod_level(&w, POD_A, NULL);
        missing = ocid_path_join(w.dir, "missing");
        {
                const char *const relabel[] = { missing, NULL };

                r = container_apply(&w, POD_A, NULL, 0, relabel, &s1, NULL, &e1);
                assert_error(r, e1, ENOENT, "relabel '");
        }
        {
                const char *const relabel[] = { "relative/path", NULL };

                r = container_apply(&w, POD_A, NULL, 0, relabel, &s2, NULL, &e2);
                assert_error(r, e2, EINVAL, "refusing to relabel 'relative/path': not an absolute path");
        }
        vol = ocid_path_join(w.dir, "vol");
        assert_int_equal(mkdir(vol, 0755), 0);
        test_write_file(vol, "fail-here", "x");
        label_fail_name = "/fail-here";
        {
                const char *const relabel[] = { vol, NULL };

                r = container_apply(&w, POD_A, NULL, 0, relabel, &s3, NULL, &e3);
                assert_error(r, e3, ENOTSUP, "fail-here' as '");
        }
        world_teardown(&w);
}

/* ---- hosts without SELinux, and the settings ---- */

static void test_disabled_host_noop(void **state)
{
        struct world w;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *pl = NULL, *ml = NULL, *mount_label = NULL;
        _cleanup_json_ struct json_object *s1 = NULL, *s2 = NULL;
        const struct opts o = { .type = "spc_t", .level = "s0:c1,c2" };
        const char *const relabel[] = { "/etc", NULL };
        int r;

        world_setup(&w);
        mock_enabled = 0;
        world_start(&w, NULL);
        r = pod_create(&w, POD_A, &o, 0, &pl, &ml, &e);
        assert_no_error(r, e);
        assert_null(pl);
        assert_null(ml);
        r = pod_create(&w, POD_B, &o, 0, &pl, &ml, &e);        /* the same level: nothing is held */
        assert_no_error(r, e);
        r = container_apply(&w, POD_A, &o, 0, relabel, &s1, &mount_label, &e);
        assert_no_error(r, e);
        r = container_apply(&w, POD_B, NULL, 0, NULL, &s2, NULL, &e);
        assert_no_error(r, e);
        assert_null(spec_get(s1, "process", "selinuxLabel"));
        assert_false(json_object_object_get_ex(s1, "linux", NULL));
        assert_null(mount_label);
        assert_null(labelled);
        assert_false(path_exists(w.records));
        pod_remove(&w, POD_A);
        assert_int_equal(log_count, 1);
        assert_contains(log_last, "asked for SELinux options or a relabel; none are applied: "
                                  "SELinux is disabled or not supported by the kernel");
        world_teardown(&w);
}

/* enabled = "false" on an SELinux host: off, and info says so. */
static void test_turned_off(void **state)
{
        struct world w;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *pl = NULL, *ml = NULL, *info = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *v;
        int r;

        world_setup(&w);
        world_start(&w, "enabled = \"false\";");
        r = pod_create(&w, POD_A, NULL, 0, &pl, &ml, &e);
        assert_no_error(r, e);
        assert_null(pl);
        r = module_info(w.m, &info, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(info);
        assert_true(json_object_object_get_ex(o, "enabled", &v));
        assert_false(json_object_get_boolean(v));
        assert_string_equal(ocid_json_get_string(o, "mode"), "enforcing");
        assert_string_equal(ocid_json_get_string(o, "reason"), "turned off by the configuration (enabled = \"false\")");
        assert_false(path_exists(w.records));
        world_teardown(&w);
}

static void test_init_errors(void **state)
{
        struct world w;
        _cleanup_error_ struct ocid_error *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;
        int r;

        world_setup(&w);
        /* required but absent */
        mock_enabled = 0;
        r = world_try_start(&w, "enabled = \"true\";", &e1);
        assert_error(r, e1, EOPNOTSUPP, "SELinux is required (enabled = \"true\"), but SELinux is disabled");
        mock_enabled = 1;
        world_start(&w, "enabled = \"true\";");
        world_stop(&w);

        /* the policy's container contexts missing or incomplete */
        mock_contexts = NULL;
        r = world_try_start(&w, NULL, &e2);
        assert_error(r, e2, ENOENT, "no container contexts file");
        test_write_file(w.dir, "lxc_contexts", "process = \"system_u:system_r:container_t:s0\"\n");
        mock_contexts = w.contexts;
        r = world_try_start(&w, NULL, &e3);
        assert_error(r, e3, EINVAL, "lack the file entry");
        unlink(w.contexts);
        r = world_try_start(&w, NULL, &e4);
        assert_error(r, e4, ENOENT, "SELinux container contexts: open '");
        world_teardown(&w);
}

static void expect_check_error(const char *settings, const char *needle)
{
        _cleanup_free_ char *text = xasprintf("modules = { sec-selinux = { %s }; };", settings);
        _cleanup_error_ struct ocid_error *e = NULL;
        const struct ocid_module_ops *ops = sec_selinux_LTX_ocid_module_info.ops;
        config_t cfg;
        const config_setting_t *group = test_config_parse(&cfg, text, "modules.sec-selinux");
        void *st = NULL;
        int r;

        r = ops->check(group, &e);
        assert_error(r, e, EINVAL, needle);
        ocid_error_clear(&e);
        r = ops->init(group, &st, &e);
        assert_error(r, e, EINVAL, needle);
        assert_null(st);
        config_destroy(&cfg);
}

static void test_settings(void **state)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        const struct ocid_module_ops *ops = sec_selinux_LTX_ocid_module_info.ops;
        config_t cfg;
        const config_setting_t *group = test_config_parse(&cfg,
                "modules = { sec-selinux = { enabled = \"auto\"; mcs_range = \"c100.c200\"; }; };",
                "modules.sec-selinux");
        int r;

        r = ops->check(group, &e);
        assert_no_error(r, e);
        config_destroy(&cfg);

        expect_check_error("bogus = 1;", "unknown key");
        expect_check_error("enabled = \"yes\";", "modules.sec-selinux.enabled: 'yes' is not one of \"auto\", \"true\", \"false\"");
        expect_check_error("enabled = true;", "modules.sec-selinux.enabled");
        expect_check_error("mcs_range = \"c5.c5\";", "modules.sec-selinux.mcs_range: 'c5.c5' is not a range");
        expect_check_error("mcs_range = \"c0.c1024\";", "'c0.c1024' is not a range");
        expect_check_error("mcs_range = \"c9.c3\";", "'c9.c3' is not a range");
        expect_check_error("mcs_range = \"0.1023\";", "'0.1023' is not a range");
        expect_check_error("mcs_range = \"c0-c10\";", "'c0-c10' is not a range");
        expect_check_error("mcs_range = \"c+1.c10\";", "'c+1.c10' is not a range");
}

/* ---- status and info ---- */

static struct json_object *linked_info(int enabled, int enforce)
{
        struct world w;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *json = NULL, *reason = NULL, *message = NULL;
        struct json_object *o;
        int r;

        world_setup(&w);
        mock_enabled = enabled;
        mock_enforce = enforce;
        world_start(&w, NULL);

        /* absent or present, the module is ready */
        r = security_status(w.m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);

        r = module_info(w.m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_non_null(o);
        world_teardown(&w);
        return o;
}

static void expect_enabled(int enforce, const char *mode)
{
        _cleanup_json_ struct json_object *o = linked_info(1, enforce);
        struct json_object *v;

        assert_true(json_object_object_get_ex(o, "enabled", &v));
        assert_true(json_object_get_boolean(v));
        assert_string_equal(ocid_json_get_string(o, "mode"), mode);
        assert_string_equal(ocid_json_get_string(o, "mcs_range"), "c0.c1023");
        assert_string_equal(ocid_json_get_string(o, "process_context"), "system_u:system_r:container_t:s0");
        assert_string_equal(ocid_json_get_string(o, "file_context"), "system_u:object_r:container_file_t:s0");
        assert_int_equal(ocid_json_get_int64(o, "pods", -1), 0);
        assert_false(json_object_object_get_ex(o, "reason", NULL));
}

static void test_enabled(void **state)
{
        expect_enabled(1, "enforcing");
        expect_enabled(0, "permissive");
        expect_enabled(-1, "unknown");
}

static void test_disabled(void **state)
{
        _cleanup_json_ struct json_object *o = linked_info(0, 0);
        _cleanup_json_ struct json_object *failed = linked_info(-1, 0);
        struct json_object *v;

        assert_true(json_object_object_get_ex(o, "enabled", &v));
        assert_false(json_object_get_boolean(v));
        assert_string_equal(ocid_json_get_string(o, "reason"),
                            "SELinux is disabled or not supported by the kernel");
        assert_false(json_object_object_get_ex(o, "mode", NULL));

        assert_string_equal(ocid_json_get_string(failed, "reason"),
                            "cannot determine whether SELinux is enabled: Input/output error");
}

static void test_built_module(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *json = NULL, *tmp = test_tmpdir_new();
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *v;
        int r;

        ocid_host_set_paths(tmp, tmp);
        m = test_module_start("sec-selinux", NULL);
        r = module_info(m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_true(json_object_object_get_ex(o, "enabled", &v));
        assert_int_equal(json_object_get_boolean(v), __real_is_selinux_enabled() == 1);
        module_fini(TAKE_PTR(m));
        test_tmpdir_free(TAKE_PTR(tmp));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_labels),
                cmocka_unit_test(test_labels_from_options),
                cmocka_unit_test(test_container_errors),
                cmocka_unit_test(test_privileged),
                cmocka_unit_test(test_explicit_level),
                cmocka_unit_test(test_mcs_unique),
                cmocka_unit_test(test_mcs_concurrent),
                cmocka_unit_test(test_mcs_exhaustion),
                cmocka_unit_test(test_restore),
                cmocka_unit_test(test_relabel),
                cmocka_unit_test(test_relabel_refuses_system_paths),
                cmocka_unit_test(test_relabel_errors),
                cmocka_unit_test(test_disabled_host_noop),
                cmocka_unit_test(test_turned_off),
                cmocka_unit_test(test_init_errors),
                cmocka_unit_test(test_settings),
                cmocka_unit_test(test_enabled),
                cmocka_unit_test(test_disabled),
                cmocka_unit_test(test_built_module),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
