/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "config.h"
#include "lifecycle/container.h"
#include "lifecycle/events.h"
#include "lifecycle/exitwatch.h"
#include "lifecycle/pod.h"
#include "lifecycle/restore.h"
#include "../../test-common.h"

static char *tmpdir(void)
{
        char tmpl[] = "/tmp/test-exitwatch-XXXXXX";

        assert_non_null(mkdtemp(tmpl));
        return xstrdup(tmpl);
}

static void write_raw(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        assert_int_equal(close(fd), 0);
}

static void test_read(void **state)
{
        char *dir = tmpdir(), *p = ocid_path_join(dir, "x");
        struct ocid_error *e = NULL;
        struct stat st;
        int32_t code = -1;
        int64_t fin = 0;

        (void) state;
        assert_int_equal(exitwatch_read(dir, "x", &code, &fin, &e), 0);   /* missing */
        write_raw(p, "");
        assert_int_equal(exitwatch_read(dir, "x", &code, &fin, &e), 0);   /* not written yet */
        write_raw(p, "oops");
        assert_int_equal(exitwatch_read(dir, "x", &code, &fin, &e), 0);
        write_raw(p, "137\n");
        assert_int_equal(exitwatch_read(dir, "x", &code, &fin, &e), 1);
        assert_int_equal(code, 137);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(fin, (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
        write_raw(p, "-1");
        assert_int_equal(exitwatch_read(dir, "x", &code, &fin, &e), 1);
        assert_int_equal(code, -1);
        assert_null(e);
        (void) ocid_rm_rf(dir, NULL);
        free(p);
        free(dir);
}

/* ---- the watch in a loop ---- */

struct seen {
        char *names[8];
        int n;          /* atomic */
};

static void on_exit_file(void *userdata, const char *name)
{
        struct seen *s = userdata;
        int i = __atomic_fetch_add(&s->n, 1, __ATOMIC_ACQ_REL);

        if (i < 8)
                s->names[i] = xstrdup(name);
}

struct driver {
        uv_timer_t timer;
        struct seen *seen;
        int want;
        int ticks;
        char *dir;
};

static void tick(uv_timer_t *t)
{
        struct driver *d = t->data;

        d->ticks++;
        if (d->ticks == 1) {
                char *a = ocid_path_join(d->dir, "aaaa"), *tmp = ocid_path_join(d->dir, ".tmp-b");
                char *b = ocid_path_join(d->dir, "bbbb");

                write_raw(a, "0\n");                 /* written in place */
                write_raw(tmp, "1\n");               /* hidden: ignored */
                assert_int_equal(rename(tmp, b), 0); /* moved in */
                free(a);
                free(tmp);
                free(b);
        }
        if (__atomic_load_n(&d->seen->n, __ATOMIC_ACQUIRE) >= d->want || d->ticks > 2000)
                uv_timer_stop(t);
}

static void test_watch(void **state)
{
        char *dir = tmpdir(), *sub = ocid_path_join(dir, "exits");
        struct seen seen = { 0 };
        struct exitwatch *w = NULL;
        struct ocid_error *e = NULL;
        struct driver d = { .seen = &seen, .want = 2, .dir = sub };
        uv_loop_t loop;

        (void) state;
        assert_int_equal(uv_loop_init(&loop), 0);
        /* The directory is made when missing. */
        assert_int_equal(exitwatch_new(&loop, sub, on_exit_file, &seen, &w, &e), 0);
        assert_null(e);
        uv_timer_init(&loop, &d.timer);
        d.timer.data = &d;
        uv_timer_start(&d.timer, tick, 1, 1);
        while (uv_run(&loop, UV_RUN_ONCE) && uv_is_active((uv_handle_t *) &d.timer))
                ;
        /* Let the workers' completions run. */
        uv_close((uv_handle_t *) &d.timer, NULL);
        exitwatch_close(w);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&loop), 0);
        assert_int_equal(seen.n, 2);
        assert_true((streq(seen.names[0], "aaaa") && streq(seen.names[1], "bbbb")) ||
                    (streq(seen.names[0], "bbbb") && streq(seen.names[1], "aaaa")));
        for (int i = 0; i < seen.n; i++)
                free(seen.names[i]);
        (void) ocid_rm_rf(dir, NULL);
        free(sub);
        free(dir);
}

static void test_new_fails_on_a_file(void **state)
{
        char *dir = tmpdir(), *f = ocid_path_join(dir, "file");
        struct exitwatch *w = NULL;
        struct ocid_error *e = NULL;
        uv_loop_t loop;

        (void) state;
        write_raw(f, "");
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_true(exitwatch_new(&loop, f, on_exit_file, NULL, &w, &e) < 0);
        assert_non_null(e);
        ocid_error_free(e);
        assert_null(w);
        assert_int_equal(uv_loop_close(&loop), 0);
        exitwatch_close(NULL);
        (void) ocid_rm_rf(dir, NULL);
        free(f);
        free(dir);
}

/* ---- the lifecycle's handler ---- */

static struct event *build(void *userdata, int32_t type, const char *ctr, const char *pod, int64_t created_at)
{
        char *s = xasprintf("%d %s %s", type, ctr, pod);
        struct event *ev = event_new(s, strlen(s));

        (void) userdata;
        (void) created_at;
        free(s);
        return ev;
}

static void ctr_free(struct store_ref *ref)
{
        struct lc_container *c = store_container_of(ref, struct lc_container, ref);

        ctr_record_done(&c->rec);
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->op_lock);
        free(c);
}

static void test_container_exited(void **state)
{
        char *dir = tmpdir();
        struct ocid_config config = { .root = ocid_path_join(dir, "root"), .runroot = ocid_path_join(dir, "run") };
        struct lifecycle lc = { .config = &config };
        struct lc_container *c = xzalloc(sizeof(*c));
        struct ocid_error *e = NULL;
        struct event_sub *sub;
        struct event *ev = NULL;
        struct ctr_record disk = { 0 };
        char id[65], pod[65], *exits, *exit_file, *want, *ctrs_dir, *oom;
        struct stat st;

        (void) state;
        memset(id, 'c', 64);
        id[64] = '\0';
        memset(pod, 'f', 64);
        pod[64] = '\0';
        lc.reg = registry_new(offsetof(struct lc_pod, ref), offsetof(struct lc_container, ref));
        assert_int_equal(event_bus_new(0, build, NULL, &lc.events, &e), 0);
        sub = event_bus_subscribe(lc.events, "test");
        ctrs_dir = ocid_path_join(config.root, "containers");
        assert_int_equal(ocid_mkdir_p(ctrs_dir, 0700, &e), 0);
        exits = ocid_path_join(config.runroot, "exits");
        assert_int_equal(ocid_mkdir_p(exits, 0700, &e), 0);

        store_ref_init(&c->ref, ctr_free);
        pthread_mutex_init(&c->lock, NULL);
        pthread_mutex_init(&c->op_lock, NULL);
        c->rec = (struct ctr_record) {
                .id = xstrdup(id), .name = xstrdup("k8s_x"), .pod_id = xstrdup(pod), .meta_name = xstrdup("x"),
                .image = xstrdup("i"), .image_id = xstrdup("sha256:i"), .image_ref = xstrdup("sha256:i"),
                .labels = xcalloc(1, sizeof(char *)), .annotations = xcalloc(1, sizeof(char *)),
                .log_path = xstrdup("/l"), .bundle = xstrdup("/b"), .persist_dir = ocid_path_join(dir, "persist"),
                .runtime_handler = xstrdup(""), .pid = 77, .state = CTR_RUNNING, .started_at = 5,
        };
        assert_int_equal(ocid_mkdir_p(c->rec.persist_dir, 0700, &e), 0);
        assert_int_equal(truncindex_add(lc.reg->ctr_ids, id, &e), 0);
        assert_int_equal(store_add(lc.reg->ctrs, id, c, &e), 0);
        store_ref_put(&c->ref);   /* the store keeps it */

        /* Not an ID, an unknown ID, no exit file yet: nothing happens. */
        exitwatch_container_exited(&lc, "nonsense");
        exitwatch_container_exited(&lc, "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
        exitwatch_container_exited(&lc, id);
        assert_int_equal(c->rec.state, CTR_RUNNING);

        exit_file = ocid_path_join(exits, id);
        write_raw(exit_file, "137\n");
        oom = ocid_path_join(c->rec.persist_dir, "oom");
        write_raw(oom, "");
        assert_int_equal(stat(exit_file, &st), 0);
        exitwatch_container_exited(&lc, id);
        assert_int_equal(c->rec.state, CTR_EXITED);
        assert_int_equal(c->rec.exit_code, 137);
        assert_int_equal(c->rec.oom_killed, 1);
        assert_int_equal(c->rec.pid, 0);
        assert_int_equal(c->rec.finished_at, (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
        assert_string_equal(ctr_reason(&c->rec), "OOMKilled");
        /* The record on disk says so too. */
        assert_int_equal(ctr_record_load(config.root, id, &disk, &e), 0);
        assert_int_equal(disk.state, CTR_EXITED);
        assert_int_equal(disk.exit_code, 137);
        ctr_record_done(&disk);
        /* CONTAINER_STOPPED was published. */
        assert_int_equal(event_sub_next(sub, INT64_C(2000000000), &ev), 1);
        want = xasprintf("%d %s %s", RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT, id, pod);
        assert_int_equal(ev->len, strlen(want));
        assert_memory_equal(ev->data, want, ev->len);
        event_unref(ev);
        free(want);
        /* Recording it again changes nothing. */
        assert_int_equal(exitwatch_record_exit(&lc, c, 1, 1, 0, &e), 0);
        assert_int_equal(c->rec.exit_code, 137);

        event_bus_unsubscribe(lc.events, sub);
        event_bus_free(lc.events);
        registry_free(lc.reg);
        (void) ocid_rm_rf(dir, NULL);
        free(exits);
        free(exit_file);
        free(ctrs_dir);
        free(oom);
        free(config.root);
        free(config.runroot);
        free(dir);
}

OCID_TEST_MAIN(cmocka_unit_test(test_read), cmocka_unit_test(test_watch), cmocka_unit_test(test_new_fails_on_a_file),
               cmocka_unit_test(test_container_exited))
