/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "exitwatch"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "config.h"
#include "lifecycle/container.h"
#include "lifecycle/events.h"
#include "lifecycle/exitwatch.h"
#include "lifecycle/restore.h"

/* An exit file holds a decimal status and a newline: anything longer is
 * not one. */
#define EXIT_FILE_MAX 64

struct exitwatch {
        uv_poll_t poll;
        int fd;
        exitwatch_fn fn;
        void *userdata;
        size_t pending;         /* worker calls queued and not finished */
        bool closing, closed;
};

struct exit_work {
        uv_work_t req;
        struct exitwatch *w;
        char name[];
};

static void exitwatch_maybe_free(struct exitwatch *w)
{
        if (w->closed && w->pending == 0)
                free(w);
}

static void work_run(uv_work_t *req)
{
        struct exit_work *ew = req->data;

        ew->w->fn(ew->w->userdata, ew->name);
}

static void work_done(uv_work_t *req, int status)
{
        struct exit_work *ew = req->data;
        struct exitwatch *w = ew->w;

        (void) status;
        free(ew);
        w->pending--;
        exitwatch_maybe_free(w);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
        struct exitwatch *w = h->data;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

        (void) events;
        if (status < 0 || w->closing)
                return;
        for (;;) {
                ssize_t n = read(w->fd, buf, sizeof(buf));

                if (n <= 0) {
                        if (n < 0 && errno != EAGAIN && errno != EINTR)
                                ocid_log(OCID_LOG_WARNING, "read the exit directory's events: %s, ignoring",
                                         strerror(errno));
                        return;
                }
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *) p;
                        size_t len;
                        struct exit_work *ew;
                        int r;

                        p += sizeof(*ev) + ev->len;
                        if (ev->mask & IN_Q_OVERFLOW)
                                ocid_log(OCID_LOG_WARNING, "the exit directory's event queue overflowed; "
                                                           "exits are seen at the next status query");
                        if (ev->len == 0 || ev->name[0] == '.' || ev->name[0] == '\0')
                                continue;
                        len = strlen(ev->name);
                        ew = xmalloc(sizeof(*ew) + len + 1);
                        memcpy(ew->name, ev->name, len + 1);
                        ew->w = w;
                        ew->req.data = ew;
                        r = uv_queue_work(h->loop, &ew->req, work_run, work_done);
                        if (r < 0) {
                                ocid_log(OCID_LOG_WARNING, "exit of '%s': %s, ignoring", ev->name, uv_strerror(r));
                                free(ew);
                                continue;
                        }
                        w->pending++;
                }
        }
}

int exitwatch_new(uv_loop_t *loop, const char *dir, exitwatch_fn fn, void *userdata, struct exitwatch **ret,
                  struct ocid_error **err)
{
        _cleanup_close_ int fd = -1;
        struct exitwatch *w;
        int r;

        r = ocid_mkdir_p(dir, 0700, err);
        if (r < 0)
                return r;
        fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0)
                return ocid_error_set(err, errno, "inotify_init1");
        /* Closed after writing (conmon writes the file in place) or
         * renamed into the directory (an atomic writer). */
        if (inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR) < 0)
                return ocid_error_set(err, errno, "watch '%s'", dir);
        w = xzalloc(sizeof(*w));
        w->fn = fn;
        w->userdata = userdata;
        r = uv_poll_init(loop, &w->poll, fd);
        if (r < 0) {
                free(w);
                return ocid_error_set(err, -r, "poll the exit directory");
        }
        w->poll.data = w;
        w->fd = TAKE_FD(fd);
        r = uv_poll_start(&w->poll, UV_READABLE, on_readable);
        if (r < 0) {
                /* The handle is initialised: close it through the loop. */
                exitwatch_close(w);
                return ocid_error_set(err, -r, "poll the exit directory");
        }
        *ret = w;
        return 0;
}

static void on_closed(uv_handle_t *h)
{
        struct exitwatch *w = h->data;

        (void) close(w->fd);
        w->closed = true;
        exitwatch_maybe_free(w);
}

void exitwatch_close(struct exitwatch *w)
{
        if (!w || w->closing)
                return;
        w->closing = true;
        uv_close((uv_handle_t *) &w->poll, on_closed);
}

int exitwatch_read(const char *dir, const char *id, int32_t *ret_code, int64_t *ret_finished_ns,
                   struct ocid_error **err)
{
        _cleanup_free_ char *path = ocid_path_join(dir, id), *text = NULL;
        _cleanup_close_ int fd = -1;
        char buf[EXIT_FILE_MAX + 1];
        struct stat st;
        ssize_t n;
        int64_t v;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return ocid_error_set(err, errno, "open '%s'", path);
        }
        if (fstat(fd, &st) < 0)
                return ocid_error_set(err, errno, "stat '%s'", path);
        if (!S_ISREG(st.st_mode))
                return ocid_error_msg(err, EINVAL, "'%s' is not a regular file", path);
        n = read(fd, buf, EXIT_FILE_MAX);
        if (n < 0)
                return ocid_error_set(err, errno, "read '%s'", path);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                n--;
        buf[n] = '\0';
        /* Empty: conmon has not written it yet. */
        if (n == 0 || ocid_parse_int64(buf, &v) < 0 || v < INT32_MIN || v > INT32_MAX)
                return 0;
        *ret_code = (int32_t) v;
        *ret_finished_ns = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        return 1;
}

int exitwatch_record_exit(struct lifecycle *lc, struct lc_container *c, int32_t code, int64_t finished_ns,
                          int32_t oom_killed, struct ocid_error **err)
{
        int r = 0;

        pthread_mutex_lock(&c->lock);
        if (c->removed || c->rec.state == CTR_EXITED) {
                pthread_mutex_unlock(&c->lock);
                return 0;
        }
        c->rec.state = CTR_EXITED;
        c->rec.exit_code = code;
        c->rec.finished_at = finished_ns > 0 ? finished_ns : ocid_now_realtime_ns();
        c->rec.oom_killed = oom_killed;
        c->rec.pid = 0;
        r = ctr_record_save(lc->config->root, &c->rec, err);
        pthread_mutex_unlock(&c->lock);
        return r < 0 ? r : 1;
}

static bool name_is_id(const char *s)
{
        size_t n = 0;

        for (; s[n]; n++)
                if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
                        return false;
        return n == 64;
}

void exitwatch_container_exited(void *userdata, const char *name)
{
        struct lifecycle *lc = userdata;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *xd = NULL, *oom = NULL, *pod_id = NULL;
        struct lc_container *c;
        int32_t code = 0;
        int64_t fin = 0;
        int r;

        if (!name_is_id(name))
                return;
        c = ctr_lookup(lc, name, &e);
        if (!c)
                return;   /* not ours, or being created or removed */
        xd = ocid_path_join(lc->config->runroot, RESTORE_EXITS_DIR);
        r = exitwatch_read(xd, name, &code, &fin, &e);
        if (r <= 0) {
                if (r < 0)
                        ocid_log(OCID_LOG_WARNING, "container '%s': %s, ignoring", name, ocid_error_message(&e));
                ctr_unref(lc, c);
                return;
        }
        oom = ocid_path_join(c->rec.persist_dir, "oom");
        r = exitwatch_record_exit(lc, c, code, fin, access(oom, F_OK) == 0, &e);
        if (r < 0)
                ocid_log(OCID_LOG_WARNING, "container '%s': %s, ignoring", name, ocid_error_message(&e));
        else
                ocid_log(OCID_LOG_DEBUG, "container '%s' exited with status %d", name, code);
        pod_id = xstrdup(c->rec.pod_id);
        ctr_unref(lc, c);
        /* Once per exit file, whether this call or a status query recorded
         * the exit first. */
        event_bus_notify(lc->events, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT, name, pod_id);
}
