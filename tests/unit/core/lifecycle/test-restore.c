/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/runtime.h>
#include <ocid/util.h>

#include "config.h"
#include "lifecycle/container.h"
#include "lifecycle/pod.h"
#include "lifecycle/restore.h"
#include "modules.h"
#include "../../test-common.h"
#include "../../modules/module-test.h"

/* ---- a runtime module whose answer depends on the container's name ---- */

static int state_calls;

static int t_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        (void) cfg;
        (void) err;
        *ret_state = NULL;
        return 0;
}

static int t_state(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                   struct ocid_runtime_state *ret, struct ocid_error **err)
{
        (void) state;
        (void) h;
        state_calls++;
        if (strstr(c->name, "_gone_"))
                return ocid_error_msg(err, ENOENT, "container '%s' does not exist", c->id);
        if (strstr(c->name, "_run_")) {
                strcpy(ret->status, "running");
                ret->pid = 4242;
                return 0;
        }
        strcpy(ret->status, "stopped");
        ret->exited = 0;   /* conmon's status is only in the exit directory */
        return 0;
}

static char deleted[200];

static int t_delete(void *state, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                    int32_t force, struct ocid_error **err)
{
        (void) state;
        (void) h;
        (void) err;
        assert_int_equal(force, 1);
        /* The IDs deleted, in order, each followed by a space. */
        if (strlen(deleted) + 66 < sizeof(deleted)) {
                strcat(deleted, c->id);
                strcat(deleted, " ");
        }
        return 0;
}

static const struct ocid_runtime_ops t_ops = {
        .base = { .init = t_init },
        .delete = t_delete,
        .state = t_state,
};

OCID_MODULE_DEFINE(test_runtime, "test-runtime", OCID_MODULE_KIND_RUNTIME, &t_ops);

/* ---- fixture ---- */

/* Paths built inline in the tests, freed at teardown. */
static char **tmp_paths;

static char *tpath(char *p)
{
        ocid_strv_push(&tmp_paths, p);
        free(p);
        return tmp_paths[ocid_strv_length(tmp_paths) - 1];
}

struct fx {
        char *dir;
        struct ocid_config config;
        struct ocid_module *module;
        struct modules_handler handler;
        struct ocid_modules modules;
        struct lifecycle lc;
};

static int fx_setup(void **state)
{
        struct fx *f = xzalloc(sizeof(*f));
        struct ocid_error *e = NULL;
        char tmpl[] = "/tmp/test-restore-XXXXXX";

        assert_non_null(mkdtemp(tmpl));
        f->dir = xstrdup(tmpl);
        f->config.root = ocid_path_join(f->dir, "root");
        f->config.runroot = ocid_path_join(f->dir, "run");
        assert_int_equal(ocid_mkdir_p(f->config.root, 0700, &e), 0);
        assert_int_equal(ocid_mkdir_p(f->config.runroot, 0700, &e), 0);
        f->module = test_module_linked(&test_runtime_LTX_ocid_module_info);
        assert_int_equal(module_init(f->module, NULL, &e), 0);
        f->handler = (struct modules_handler) {
                .h = { .size = sizeof(f->handler.h), .name = "runc", .path = "/bin/true" },
                .module = f->module,
        };
        f->modules.handlers = &f->handler;
        f->modules.n_handlers = 1;
        f->modules.default_handler = "runc";
        f->lc.config = &f->config;
        f->lc.modules = &f->modules;
        f->lc.reg = registry_new(offsetof(struct lc_pod, ref), offsetof(struct lc_container, ref));
        state_calls = 0;
        *state = f;
        return 0;
}

static int fx_teardown(void **state)
{
        struct fx *f = *state;

        registry_free(f->lc.reg);
        module_fini(f->module);
        ocid_strv_free(tmp_paths);
        tmp_paths = NULL;
        (void) ocid_rm_rf(f->dir, NULL);
        free(f->config.root);
        free(f->config.runroot);
        free(f->dir);
        free(f);
        return 0;
}

static char *id_of(char c)
{
        char *id = xmalloc(65);

        memset(id, c, 64);
        id[64] = '\0';
        return id;
}

static char **kv(const char *k, const char *v)
{
        char **x = xcalloc(1, sizeof(char *));

        if (k) {
                ocid_strv_push(&x, k);
                ocid_strv_push(&x, v);
        }
        return x;
}

static void save_pod(struct fx *f, char c, const char *name, const char *handler, int64_t created,
                     const char *netns)
{
        struct ocid_error *e = NULL;
        struct pod_record r = {
                .id = id_of(c),
                .name = xstrdup(name),
                .meta_name = xstrdup("web"),
                .meta_uid = xstrdup("uid-1"),
                .meta_namespace = xstrdup("default"),
                .meta_attempt = 1,
                .hostname = xstrdup("web"),
                .runtime_handler = xstrdup(handler),
                .cgroup_parent = xstrdup(""),
                .labels = kv("app", "web"),
                .annotations = kv("note", "x"),
                .pod_dir = ocid_path_join(f->config.runroot, "pods/p"),
                .netns_path = xstrdup(netns),
                .ips = kv("10.0.0.7", NULL),
                .created_at = created,
                .state = RECORDS_POD_READY,
        };

        ocid_strv_free(r.ips);
        r.ips = xcalloc(1, sizeof(char *));
        ocid_strv_push(&r.ips, "10.0.0.7");
        assert_int_equal(pod_record_save(f->config.root, &r, &e), 0);
        pod_record_done(&r);
}

static struct ctr_record ctr_rec(char c, char pod, const char *name, int32_t state)
{
        struct ctr_record r = {
                .id = id_of(c),
                .name = xstrdup(name),
                .pod_id = id_of(pod),
                .meta_name = xstrdup("app"),
                .meta_attempt = 2,
                .image = xstrdup("busybox"),
                .image_id = xstrdup("sha256:abc"),
                .image_ref = xstrdup("sha256:abc"),
                .labels = kv("tier", "front"),
                .annotations = kv(NULL, NULL),
                .log_path = xstrdup("/var/log/pods/x/app/0.log"),
                .bundle = xstrdup("/run/ocid/containers/x"),
                .persist_dir = xstrdup("/run/ocid/containers/x/persist"),
                .rootfs = xstrdup("/var/lib/ocid/x/merged"),
                .runtime_handler = xstrdup(""),
                .mounts = xstrdup("[{\"container_path\":\"/data\",\"host_path\":\"/srv\",\"readonly\":true}]"),
                .resources = xstrdup("{\"memory\":{\"limit\":1048576}}"),
                .stop_signal = 15,
                .tty = 1,
                .pid = 99,
                .created_at = 1000 + c,
                .started_at = state == CTR_CREATED ? 0 : 2000,
                .state = state,
        };

        return r;
}

static void save_ctr(struct fx *f, char c, char pod, const char *name, int32_t state)
{
        struct ocid_error *e = NULL;
        struct ctr_record r = ctr_rec(c, pod, name, state);

        assert_int_equal(ocid_mkdir_p(tpath(ocid_path_join(f->config.root, "containers")), 0700, &e), 0);
        assert_int_equal(ctr_record_save(f->config.root, &r, &e), 0);
        ctr_record_done(&r);
}

static void write_text(const char *path, const char *text)
{
        struct ocid_error *e = NULL;

        assert_int_equal(ocid_write_file_atomic(path, text, strlen(text), 0600, &e), 0);
}

/* ---- container records ---- */

static void test_ctr_record_round_trip(void **state)
{
        struct ctr_record a = ctr_rec('a', 'b', "k8s_app_web_default_uid_2", CTR_RUNNING), b = { 0 };
        struct json_object *o = ctr_record_to_json(&a);
        struct ocid_error *e = NULL;

        (void) state;
        assert_int_equal(ctr_record_from_json(o, &b, &e), 0);
        assert_string_equal(a.id, b.id);
        assert_string_equal(a.name, b.name);
        assert_string_equal(a.pod_id, b.pod_id);
        assert_int_equal(b.meta_attempt, 2);
        assert_string_equal(records_kv_get(b.labels, "tier"), "front");
        assert_string_equal(b.log_path, a.log_path);
        assert_string_equal(b.rootfs, a.rootfs);
        assert_non_null(strstr(b.mounts, "srv"));
        assert_non_null(strstr(b.resources, "1048576"));
        assert_int_equal(b.stop_signal, 15);
        assert_int_equal(b.tty, 1);
        assert_int_equal(b.pid, 99);
        assert_int_equal(b.created_at, a.created_at);
        assert_int_equal(b.started_at, 2000);
        assert_int_equal(b.state, CTR_RUNNING);
        json_object_put(o);
        ctr_record_done(&a);
        ctr_record_done(&b);
}

static void test_ctr_record_bad_members(void **state)
{
        static const char *const required[] = { "version", "id", "name", "pod_id", "metadata_name",
                                                "metadata_attempt", "image", "image_id", "image_ref", "labels",
                                                "annotations", "log_path", "bundle", "persist_dir",
                                                "runtime_handler", "stop_signal", "tty", "stdin", "stdin_once",
                                                "pid", "created_at", "started_at", "finished_at", "exit_code",
                                                "oom_killed", "state", NULL };
        struct ctr_record a = ctr_rec('a', 'b', "n", CTR_EXITED);

        (void) state;
        for (size_t i = 0; required[i]; i++) {
                struct json_object *o = ctr_record_to_json(&a);
                struct ctr_record b = { 0 };
                struct ocid_error *e = NULL;

                json_object_object_del(o, required[i]);
                assert_int_equal(ctr_record_from_json(o, &b, &e), -EINVAL);
                assert_non_null(strstr(e->message, required[i]));
                assert_null(b.id);
                ocid_error_free(e);
                json_object_put(o);
        }
        {
                struct json_object *o = ctr_record_to_json(&a);
                struct ctr_record b = { 0 };
                struct ocid_error *e = NULL;

                json_object_object_add(o, "state", json_object_new_string("sleeping"));
                assert_int_equal(ctr_record_from_json(o, &b, &e), -EINVAL);
                assert_non_null(strstr(e->message, "sleeping"));
                ocid_error_free(e);
                json_object_object_add(o, "state", json_object_new_string("exited"));
                json_object_object_add(o, "pod_id", json_object_new_string("../../etc"));
                e = NULL;
                assert_int_equal(ctr_record_from_json(o, &b, &e), -EINVAL);
                assert_non_null(strstr(e->message, "pod_id"));
                ocid_error_free(e);
                json_object_put(o);
        }
        ctr_record_done(&a);
}

/* ---- restore ---- */

struct bad_list {
        char *text[16];
        size_t n;
};

static void collect_bad(void *userdata, const char *kind, const char *id, const char *path, const char *reason)
{
        struct bad_list *b = userdata;

        assert_true(b->n < 16);
        assert_int_equal(access(path, F_OK), 0);   /* left on disk */
        b->text[b->n++] = xasprintf("%s %s: %s", kind, id, reason);
}

static bool bad_has(const struct bad_list *b, const char *a, const char *c)
{
        for (size_t i = 0; i < b->n; i++)
                if (strstr(b->text[i], a) && strstr(b->text[i], c))
                        return true;
        return false;
}

static void bad_free(struct bad_list *b)
{
        for (size_t i = 0; i < b->n; i++)
                free(b->text[i]);
}

/* Pods: '1' ready with a pin that is not a namespace (gone), '2' host
 * network, '3' the same name as '1' but later, '4' an unknown handler,
 * '5' truncated. Containers: 'a' running, 'b' stopped with an exit file,
 * 'c' unknown to the runtime and without one, 'd' already exited, 'e' in
 * a pod that is not there, 'f' truncated, '7' in the skipped pod '3'. */
static void populate(struct fx *f)
{
        _cleanup_free_ char *notns = ocid_path_join(f->dir, "not-a-namespace");
        _cleanup_free_ char *exits = ocid_path_join(f->config.runroot, "exits");
        _cleanup_free_ char *exit_b = NULL, *p5 = NULL, *cf = NULL, *id = NULL;
        struct ocid_error *e = NULL;
        struct ctr_record d;

        write_text(notns, "");
        save_pod(f, '1', "k8s_web_default_uid-1_1", "", 100, notns);
        save_pod(f, '2', "k8s_host_default_uid-2_1", "runc", 200, NULL);
        save_pod(f, '3', "k8s_web_default_uid-1_1", "", 300, NULL);
        save_pod(f, '4', "k8s_kata_default_uid-4_1", "kata", 400, NULL);
        id = id_of('5');
        p5 = pod_record_path(f->config.root, id);
        write_text(p5, "{\"version\": 1, \"id\": \"55");

        save_ctr(f, 'a', '1', "k8s_run_web_default_uid-1_2", CTR_RUNNING);
        save_ctr(f, 'b', '1', "k8s_stop_web_default_uid-1_2", CTR_RUNNING);
        save_ctr(f, 'c', '2', "k8s_gone_host_default_uid-2_2", CTR_RUNNING);
        d = ctr_rec('d', '2', "k8s_done_host_default_uid-2_2", CTR_EXITED);
        d.exit_code = 7;
        d.finished_at = 5555;
        assert_int_equal(ctr_record_save(f->config.root, &d, &e), 0);
        ctr_record_done(&d);
        save_ctr(f, 'e', '9', "k8s_orphan_x_default_uid-9_2", CTR_RUNNING);
        free(id);
        id = id_of('f');
        cf = ctr_record_path(f->config.root, id);
        write_text(cf, "{");
        save_ctr(f, '7', '3', "k8s_run_dup_default_uid-1_2", CTR_RUNNING);

        assert_int_equal(ocid_mkdir_p(exits, 0700, &e), 0);
        free(id);
        id = id_of('b');
        exit_b = ocid_path_join(exits, id);
        write_text(exit_b, "137\n");
        /* A stale temporary file of an interrupted write. */
        write_text(tpath(ocid_path_join(f->config.root, "pods/.x.json.0123456789abcdef.tmp")), "{");
}

static struct lc_container *ctr_by_char(struct fx *f, char c)
{
        _cleanup_free_ char *id = id_of(c);
        struct ocid_error *e = NULL;
        struct lc_container *x = ctr_lookup(&f->lc, id, &e);

        ocid_error_free(e);
        return x;
}

static void test_restore_run(void **state)
{
        struct fx *f = *state;
        struct restore_stats st = { 0 };
        struct bad_list bad = { 0 };
        struct ocid_error *e = NULL;
        struct lc_container *c;
        struct lc_pod *p;
        struct ctr_record disk = { 0 };
        _cleanup_free_ char *id1 = id_of('1'), *idb = id_of('b');

        populate(f);
        assert_int_equal(restore_run(&f->lc, 0, collect_bad, &bad, &st, &e), 0);
        assert_null(e);
        assert_int_equal(st.pods, 2);
        assert_int_equal(st.bad_pods, 3);
        assert_int_equal(st.containers, 4);
        assert_int_equal(st.bad_containers, 3);
        assert_int_equal(st.exited, 2);
        assert_int_equal(st.pods_notready, 1);
        assert_true(bad_has(&bad, "pod 3333", "is reserved for '1111"));
        assert_true(bad_has(&bad, "pod 4444", "no runtime handler 'kata'"));
        assert_true(bad_has(&bad, "pod 5555", "parse"));
        assert_true(bad_has(&bad, "container eeee", "pod sandbox '9999"));
        assert_true(bad_has(&bad, "container ffff", ""));
        assert_true(bad_has(&bad, "container 7777", "pod sandbox '3333"));
        bad_free(&bad);

        /* The pod: found by a prefix, its name reserved, NOTREADY now
         * (its pin is gone), on disk too. */
        p = pod_lookup(&f->lc, "1111", &e);
        assert_non_null(p);
        assert_int_equal(p->rec.state, RECORDS_POD_NOTREADY);
        assert_string_equal(p->rec.ips[0], "10.0.0.7");
        assert_string_equal(records_kv_get(p->rec.labels, "app"), "web");
        pod_unref(&f->lc, p);
        {
                char *holder = NULL;

                assert_int_equal(names_get(f->lc.reg->pod_names, "k8s_web_default_uid-1_1", &holder, &e), 0);
                assert_string_equal(holder, id1);
                free(holder);
        }
        {
                struct pod_record pr = { 0 };

                assert_int_equal(pod_record_load(f->config.root, id1, &pr, &e), 0);
                assert_int_equal(pr.state, RECORDS_POD_NOTREADY);
                pod_record_done(&pr);
        }
        p = pod_lookup(&f->lc, "2222", &e);
        assert_non_null(p);
        assert_int_equal(p->rec.state, RECORDS_POD_READY);
        pod_unref(&f->lc, p);

        /* Containers. */
        c = ctr_by_char(f, 'a');
        assert_non_null(c);
        assert_int_equal(c->rec.state, CTR_RUNNING);
        assert_int_equal(c->rec.started_at, 2000);
        ctr_unref(&f->lc, c);
        c = ctr_by_char(f, 'b');
        assert_non_null(c);
        assert_int_equal(c->rec.state, CTR_EXITED);
        assert_int_equal(c->rec.exit_code, 137);
        assert_true(c->rec.finished_at > 0);
        ctr_unref(&f->lc, c);
        assert_int_equal(ctr_record_load(f->config.root, idb, &disk, &e), 0);
        assert_int_equal(disk.state, CTR_EXITED);
        assert_int_equal(disk.exit_code, 137);
        ctr_record_done(&disk);
        c = ctr_by_char(f, 'c');
        assert_non_null(c);
        assert_int_equal(c->rec.state, CTR_EXITED);
        assert_int_equal(c->rec.exit_code, 255);
        ctr_unref(&f->lc, c);
        c = ctr_by_char(f, 'd');
        assert_non_null(c);
        assert_int_equal(c->rec.exit_code, 7);
        assert_int_equal(c->rec.finished_at, 5555);
        ctr_unref(&f->lc, c);
        assert_null(ctr_by_char(f, 'e'));
        assert_null(ctr_by_char(f, '7'));
        /* Only the containers not exited were asked about. */
        assert_int_equal(state_calls, 3);
        {
                char *holder = NULL;

                assert_int_equal(names_get(f->lc.reg->ctr_names, "k8s_run_web_default_uid-1_2", &holder, &e), 0);
                free(holder);
        }
        /* The stale temporary file is gone; bad records stay. */
        assert_int_not_equal(access(tpath(ocid_path_join(f->config.root, "pods/.x.json.0123456789abcdef.tmp")), F_OK), 0);
}

static void test_restore_check_changes_nothing(void **state)
{
        struct fx *f = *state;
        struct restore_stats st = { 0 };
        struct bad_list bad = { 0 };
        struct ocid_error *e = NULL;
        struct pod_record pr = { 0 };
        struct ctr_record cr = { 0 };
        _cleanup_free_ char *id1 = id_of('1'), *idb = id_of('b');

        populate(f);
        assert_int_equal(restore_check(&f->config, &f->modules, collect_bad, &bad, &st, &e), 0);
        assert_int_equal(st.bad_pods, 3);
        assert_int_equal(st.bad_containers, 3);
        assert_int_equal(st.pods, 2);
        assert_int_equal(st.containers, 4);
        assert_int_equal(state_calls, 0);
        bad_free(&bad);
        assert_int_equal(pod_record_load(f->config.root, id1, &pr, &e), 0);
        assert_int_equal(pr.state, RECORDS_POD_READY);
        pod_record_done(&pr);
        assert_int_equal(ctr_record_load(f->config.root, idb, &cr, &e), 0);
        assert_int_equal(cr.state, CTR_RUNNING);
        ctr_record_done(&cr);
        assert_int_equal(access(tpath(ocid_path_join(f->config.root, "pods/.x.json.0123456789abcdef.tmp")), F_OK), 0);
}

/* What an interrupted create left without a record goes; what belongs to
 * a record (even a bad one) stays. */
static void test_restore_sweeps_remains_without_record(void **state)
{
        struct fx *f = *state;
        struct restore_stats st = { 0 };
        struct ocid_error *e = NULL;
        _cleanup_free_ char *orphan_pod = NULL, *kept_pod = NULL, *bad_pod = NULL, *orphan_ctr = NULL;
        _cleanup_free_ char *kept_ctr = NULL, *id8 = id_of('8'), *id1 = id_of('1'), *id5 = id_of('5');
        _cleanup_free_ char *id9 = id_of('9'), *ida = id_of('a'), *exit9 = NULL;

        populate(f);
        orphan_pod = xasprintf("%s/pods/%s", f->config.runroot, id8);
        kept_pod = xasprintf("%s/pods/%s", f->config.runroot, id1);
        bad_pod = xasprintf("%s/pods/%s", f->config.runroot, id5);
        orphan_ctr = xasprintf("%s/containers/%s", f->config.runroot, id9);
        kept_ctr = xasprintf("%s/containers/%s", f->config.runroot, ida);
        exit9 = xasprintf("%s/exits/%s", f->config.runroot, id9);
        assert_int_equal(ocid_mkdir_p(orphan_pod, 0700, &e), 0);
        assert_int_equal(ocid_mkdir_p(kept_pod, 0700, &e), 0);
        assert_int_equal(ocid_mkdir_p(bad_pod, 0700, &e), 0);
        assert_int_equal(ocid_mkdir_p(orphan_ctr, 0700, &e), 0);
        assert_int_equal(ocid_mkdir_p(kept_ctr, 0700, &e), 0);
        write_text(exit9, "0\n");
        deleted[0] = '\0';
        assert_int_equal(restore_run(&f->lc, 0, NULL, NULL, &st, &e), 0);
        assert_int_equal(st.swept, 2);
        assert_int_not_equal(access(orphan_pod, F_OK), 0);
        assert_int_not_equal(access(orphan_ctr, F_OK), 0);
        assert_int_not_equal(access(exit9, F_OK), 0);
        {
                /* The container first, then the pod's own runtime container. */
                _cleanup_free_ char *want = xasprintf("%s %s ", id9, id8);

                assert_string_equal(deleted, want);
        }
        assert_int_equal(access(kept_pod, F_OK), 0);
        assert_int_equal(access(bad_pod, F_OK), 0);   /* its record is bad, not missing */
        assert_int_equal(access(kept_ctr, F_OK), 0);
}

static void test_restore_empty_root(void **state)
{
        struct fx *f = *state;
        struct restore_stats st = { 0 };
        struct ocid_error *e = NULL;

        assert_int_equal(restore_run(&f->lc, 0, NULL, NULL, &st, &e), 0);
        assert_int_equal(st.pods + st.containers + st.bad_pods + st.bad_containers, 0);
}

OCID_TEST_MAIN(cmocka_unit_test(test_ctr_record_round_trip), cmocka_unit_test(test_ctr_record_bad_members),
               cmocka_unit_test_setup_teardown(test_restore_run, fx_setup, fx_teardown),
               cmocka_unit_test_setup_teardown(test_restore_check_changes_nothing, fx_setup, fx_teardown),
               cmocka_unit_test_setup_teardown(test_restore_sweeps_remains_without_record, fx_setup, fx_teardown),
               cmocka_unit_test_setup_teardown(test_restore_empty_root, fx_setup, fx_teardown))
