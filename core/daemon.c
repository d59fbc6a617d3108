/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "daemon"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <uv.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "config.h"
#include "daemon.h"
#include "image/pull.h"
#include "image/store.h"
#include "lifecycle/container.h"
#include "lifecycle/events.h"
#include "lifecycle/exitwatch.h"
#include "lifecycle/pod.h"
#include "lifecycle/restore.h"
#include "modules.h"
#include "server/cri-events.h"
#include "server/server.h"

#define DAEMON_LISTEN_NAME "ocid.sock"
#define DAEMON_LOCK_NAME   "ocid.lock"
/* Handlers block (runc, CNI plugins, pulls), and a streaming call holds a
 * worker for its whole life: libuv's default of 4 threads is far too few. */
#define DAEMON_THREADPOOL_SIZE "64"

struct daemon {
        uv_loop_t loop;
        struct ocid_config *config;
        const struct daemon_options *opts;
        struct ocid_modules *modules;
        struct image_store *images;
        struct image_puller *puller;
        struct lifecycle *lifecycle;
        struct exitwatch *exitwatch;
        struct server_env env;
        struct server *server;
        uv_signal_t sig_term, sig_int, sig_hup;
        bool signals_open;
        char *log_level;                /* in effect; SIGHUP may change it */
        bool stopping;
};

static int check_absolute(const char *option, const char *path, struct ocid_error **err)
{
        if (path[0] != '/')
                return ocid_error_msg(err, EINVAL, "%s: '%s' is not an absolute path", option, path);
        return 0;
}

int daemon_apply_overrides(struct ocid_config *c, const struct daemon_options *o, struct ocid_error **err)
{
        int r;

        if (o->root) {
                r = check_absolute("--root", o->root, err);
                if (r < 0)
                        return r;
                free(c->root);
                c->root = xstrdup(o->root);
        }
        if (o->runroot) {
                _cleanup_free_ char *derived = ocid_path_join(c->runroot, DAEMON_LISTEN_NAME);

                r = check_absolute("--runroot", o->runroot, err);
                if (r < 0)
                        return r;
                /* A socket path derived from the old runroot follows the
                 * new one; a chosen one stays. */
                if (!o->listen && streq_ptr(c->listen, derived)) {
                        free(c->listen);
                        c->listen = ocid_path_join(o->runroot, DAEMON_LISTEN_NAME);
                }
                free(c->runroot);
                c->runroot = xstrdup(o->runroot);
        }
        if (o->listen) {
                r = check_absolute("--listen", o->listen, err);
                if (r < 0)
                        return r;
                free(c->listen);
                c->listen = xstrdup(o->listen);
        }
        if (o->log_level) {
                if (ocid_log_level_from_string(o->log_level) < 0)
                        return ocid_error_msg(err, EINVAL,
                                              "--log-level: unknown level '%s' (error, warning, info, debug, trace)",
                                              o->log_level);
                free(c->log_level);
                c->log_level = xstrdup(o->log_level);
        }
        return 0;
}

int daemon_load_config(const struct daemon_options *o, struct ocid_config **ret, struct ocid_error **err)
{
        _cleanup_(config_freep) struct ocid_config *c = NULL;
        int r;

        r = config_load(o->config_path, &c, err);
        if (r < 0)
                return r;
        r = daemon_apply_overrides(c, o, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int daemon_socket_is_live(const char *path, struct ocid_error **err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (lstat(path, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                return ocid_error_set(err, errno, "stat '%s'", path);
        }
        if (!S_ISSOCK(st.st_mode))
                return ocid_error_msg(err, EEXIST, "'%s' exists and is not a socket", path);
        if (strlen(path) >= sizeof(sa.sun_path))
                return ocid_error_msg(err, ENAMETOOLONG, "socket path '%s' is too long", path);
        memcpy(sa.sun_path, path, strlen(path) + 1);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return ocid_error_set(err, errno, "create a socket");
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0)
                return 1;
        if (errno == ECONNREFUSED || errno == ENOENT)
                return 0;
        return ocid_error_set(err, errno, "connect to '%s'", path);
}

/* One daemon per runroot: an exclusive lock held for the daemon's life.
 * The lock file stays (removing it would race with a starting daemon). */
static int daemon_lock(const char *runroot, int *ret_fd, struct ocid_error **err)
{
        _cleanup_free_ char *path = ocid_path_join(runroot, DAEMON_LOCK_NAME);
        _cleanup_close_ int fd = -1;

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return ocid_error_set(err, errno, "open '%s'", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK)
                        return ocid_error_msg(err, EBUSY, "another ocid holds '%s'", path);
                return ocid_error_set(err, errno, "lock '%s'", path);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int daemon_refuse_live_socket(const char *path, struct ocid_error **err)
{
        int r = daemon_socket_is_live(path, err);

        if (r < 0)
                return r;
        if (r > 0)
                return ocid_error_msg(err, EBUSY, "another ocid is serving %s", path);
        return 0;
}

static void daemon_reload(struct daemon *d)
{
        _cleanup_(config_freep) struct ocid_config *c = NULL;
        _cleanup_error_ struct ocid_error *error = NULL;
        _cleanup_strv_ char **changed = NULL;
        bool applied = false;

        if (daemon_load_config(d->opts, &c, &error) < 0) {
                ocid_log(OCID_LOG_ERROR, "reloading the configuration failed, keeping the current one: %s",
                         ocid_error_message(&error));
                return;
        }

        changed = config_changed_keys(d->config, c);
        for (size_t i = 0; changed[i]; i++) {
                if (streq(changed[i], "log_level"))
                        continue;
                ocid_log(OCID_LOG_WARNING, "reloaded configuration: '%s' changed, restart required, ignoring",
                         changed[i]);
        }

        /* Reloadable: log_level (d->log_level, compared with what is in
         * effect rather than with the start-up configuration). */
        if (!streq(c->log_level, d->log_level)) {
                ocid_log_set_level(ocid_log_level_from_string(c->log_level));
                ocid_log(OCID_LOG_INFO, "reloaded configuration: log_level %s -> %s", d->log_level, c->log_level);
                free(d->log_level);
                d->log_level = xstrdup(c->log_level);
                applied = true;
        }
        if (!applied)
                ocid_log(OCID_LOG_INFO, "reloaded configuration: no reloadable setting changed");
}

static void daemon_close_signals(struct daemon *d)
{
        if (!d->signals_open)
                return;
        d->signals_open = false;
        uv_close((uv_handle_t *) &d->sig_term, NULL);
        uv_close((uv_handle_t *) &d->sig_int, NULL);
        uv_close((uv_handle_t *) &d->sig_hup, NULL);
}

static void daemon_server_stopped(struct server *s, void *userdata)
{
        struct daemon *d = userdata;

        ocid_log(OCID_LOG_DEBUG, "every connection is closed");
        daemon_close_signals(d);
}

static void daemon_signal_cb(uv_signal_t *h, int signum)
{
        struct daemon *d = h->data;

        if (signum == SIGHUP) {
                if (!d->stopping)
                        daemon_reload(d);
                return;
        }
        if (d->stopping) {
                ocid_log(OCID_LOG_INFO, "received %s again, cancelling the calls in flight", strsignal(signum));
        } else {
                ocid_log(OCID_LOG_INFO, "received %s, shutting down", strsignal(signum));
                d->stopping = true;
                /* GetContainerEvents streams end now rather than at the
                 * end of the grace period; exits are read again from the
                 * exit files at the next start. */
                event_bus_close(d->lifecycle->events);
                exitwatch_close(TAKE_PTR(d->exitwatch));
        }
        server_shutdown(d->server, daemon_server_stopped, d);
}

static int daemon_start_signals(struct daemon *d, struct ocid_error **err)
{
        struct {
                uv_signal_t *h;
                int signum;
        } sigs[] = { { &d->sig_term, SIGTERM }, { &d->sig_int, SIGINT }, { &d->sig_hup, SIGHUP } };

        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                uv_signal_init(&d->loop, sigs[i].h);
                sigs[i].h->data = d;
        }
        d->signals_open = true;
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                int r = uv_signal_start(sigs[i].h, daemon_signal_cb, sigs[i].signum);

                if (r < 0)
                        return ocid_error_set(err, -r, "handle %s", strsignal(sigs[i].signum));
        }
        return 0;
}

/* Releases the loop after a failed start: closes what is open and lets the
 * close callbacks run. */
static void daemon_abort_loop(struct daemon *d)
{
        exitwatch_close(TAKE_PTR(d->exitwatch));
        if (d->server)
                server_shutdown(d->server, NULL, NULL);
        daemon_close_signals(d);
        uv_run(&d->loop, UV_RUN_DEFAULT);
}

/* The image store below root, with the storage module for its layers,
 * and the puller. Blobs that no image and no running pull or import keeps
 * (what a pull cut off by a crash leaves) are deleted. */
static int daemon_open_images(struct daemon *d, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        r = image_store_open(d->config->root, d->modules->storage, &d->images, err);
        if (r < 0)
                return r;
        r = image_puller_new(d->images, NULL, &d->puller, err);
        if (r < 0)
                return r;
        r = image_store_prune(d->images, &e);
        if (r < 0)
                ocid_log(OCID_LOG_WARNING, "cannot prune the image store, ignoring: %s", ocid_error_message(&e));
        else if (r > 0)
                ocid_log(OCID_LOG_INFO, "pruned %d unreferenced blob(s) from the image store", r);
        return 0;
}

int daemon_run(struct ocid_config *config, const struct daemon_options *o, struct ocid_error **err)
{
        struct daemon d = { .config = config, .opts = o };
        struct server_options so = { 0 };
        _cleanup_close_ int lock_fd = -1;
        bool loop_open = false, listening = false;
        int r, level;

        level = ocid_log_level_from_string(config->log_level);
        if (level < 0) {
                r = ocid_error_msg(err, EINVAL, "log_level: unknown level '%s'", config->log_level);
                goto finish;
        }
        ocid_log_set_level(level);
        d.log_level = xstrdup(config->log_level);

        /* A client (or a dying peer) closing the socket must not kill us. */
        signal(SIGPIPE, SIG_IGN);

        /* root: 0711, so that container processes of other users can reach
         * their root filesystems below it; runroot: 0700, it holds the
         * socket, locks and pinned namespaces, for root only. */
        r = ocid_mkdir_p(config->root, 0711, err);
        if (r >= 0)
                r = ocid_mkdir_p(config->runroot, 0700, err);
        if (r < 0)
                goto finish;

        r = daemon_refuse_live_socket(config->listen, err);
        if (r >= 0)
                r = daemon_lock(config->runroot, &lock_fd, err);
        /* Under the lock, no other ocid can be starting on this runroot. */
        if (r >= 0)
                r = daemon_refuse_live_socket(config->listen, err);
        if (r < 0)
                goto finish;
        if (unlink(config->listen) == 0)
                ocid_log(OCID_LOG_INFO, "replaced the stale socket %s", config->listen);
        else if (errno != ENOENT) {
                r = ocid_error_set(err, errno, "remove the stale socket '%s'", config->listen);
                goto finish;
        }

        r = modules_load(config, &d.modules, err);
        if (r < 0)
                goto finish;
        r = daemon_open_images(&d, err);
        if (r < 0)
                goto finish;
        r = lifecycle_new(config, d.modules, &d.lifecycle, err);
        if (r < 0)
                goto finish;
        /* RemoveImage refuses an image a container uses, naming it. */
        image_store_set_in_use_fn(d.images, ctr_image_in_use, d.lifecycle);
        {
                /* Test hook: a small per-client queue, so that a test can
                 * make a client lose events with a few containers. */
                const char *q = getenv("OCID_TEST_EVENT_QUEUE");
                uint64_t n = 0;

                if (q && (ocid_parse_uint64(q, &n) < 0 || n == 0 || n > EVENT_BUS_INBOX_MAX))
                        n = 0;
                if (n > 0)
                        ocid_log(OCID_LOG_WARNING, "OCID_TEST_EVENT_QUEUE=%" PRIu64 ": %" PRIu64
                                                   " container events per client", n, n);
                r = event_bus_new((size_t) n, cri_events_build, d.lifecycle, &d.lifecycle->events, err);
                if (r < 0)
                        goto finish;
        }
        d.env = (struct server_env) {
                .config = config,
                .modules = d.modules,
                .images = d.images,
                .puller = d.puller,
                .lifecycle = d.lifecycle,
        };

        /* Before the loop's first use of the pool, which reads it once. */
        (void) setenv("UV_THREADPOOL_SIZE", DAEMON_THREADPOOL_SIZE, 0);
        r = uv_loop_init(&d.loop);
        if (r < 0) {
                r = ocid_error_set(err, -r, "create the event loop");
                goto finish;
        }
        loop_open = true;

        /* The exit watch first, then the restore: an exit between the two
         * is seen by both, and recorded once. Both before the server
         * listens (docs/restart.md). */
        {
                _cleanup_free_ char *exits = ocid_path_join(config->runroot, RESTORE_EXITS_DIR);
                struct restore_stats st = { 0 };

                r = exitwatch_new(&d.loop, exits, exitwatch_container_exited, d.lifecycle, &d.exitwatch, err);
                if (r < 0)
                        goto finish;
                r = restore_run(d.lifecycle, 0, NULL, NULL, &st, err);
                if (r < 0)
                        goto finish;
                ocid_log(OCID_LOG_INFO,
                         "restored %zu pod(s) and %zu container(s) (%zu found exited, %zu pod(s) without their "
                         "namespaces); skipped %zu pod and %zu container record(s); removed the remains of %zu "
                         "interrupted creation(s)",
                         st.pods, st.containers, st.exited, st.pods_notready, st.bad_pods, st.bad_containers,
                         st.swept);
        }

        so.listen = config->listen;
        so.max_message_size = (size_t) config->max_message_size;
        so.shutdown_grace_ns = SERVER_DEFAULT_SHUTDOWN_GRACE_NS;
        so.test_service = streq_ptr(getenv("OCID_TEST_SERVICE"), "1");
        r = server_new(&d.loop, &d.env, &so, &d.server, err);
        if (r < 0)
                goto finish;
        r = daemon_start_signals(&d, err);
        if (r < 0)
                goto finish;
        r = server_listen(d.server, err);
        if (r < 0)
                goto finish;
        listening = true;

        if (so.test_service)
                ocid_log(OCID_LOG_WARNING, "OCID_TEST_SERVICE=1: serving the test service ocid.test.v1.Test");
        ocid_log(OCID_LOG_INFO, "ocid %s listening on %s", PACKAGE_VERSION, config->listen);
        uv_run(&d.loop, UV_RUN_DEFAULT);
        ocid_log(OCID_LOG_INFO, "stopped");
        r = 0;

finish:
        if (loop_open) {
                if (r < 0)
                        daemon_abort_loop(&d);
                if (uv_loop_close(&d.loop) < 0)
                        ocid_log(OCID_LOG_WARNING, "event loop still has open handles at exit, ignoring");
        }
        if (listening)
                (void) unlink(config->listen);
        server_free(d.server);
        /* No handler runs any more: the pods (which stay set up, for a
         * restart to find) and the images go before the modules. */
        if (d.images)
                image_store_set_in_use_fn(d.images, NULL, NULL);
        if (d.lifecycle)
                d.lifecycle->events = event_bus_free(d.lifecycle->events);
        lifecycle_free(d.lifecycle);
        image_puller_free(d.puller);
        image_store_free(d.images);
        modules_free(d.modules);
        free(d.log_level);
        config_free(config);
        return r;
}
