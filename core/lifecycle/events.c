/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "events"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ocid/error.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "lifecycle/events.h"

struct notice {
        struct notice *next;
        int32_t type;
        int64_t created_at;
        char *container_id;
        char *pod_id;
};

struct sub_item {
        struct sub_item *next;
        struct event *ev;
};

struct event_sub {
        struct event_sub *next;
        struct event_bus *bus;          /* its lock guards the queue */
        char *name;
        pthread_cond_t cond;            /* signalled on a new event or the close */
        /* under the bus's lock: */
        struct sub_item *head, *tail;
        size_t queued;
        uint64_t lost;
        uint64_t lost_logged;           /* `lost` when it was last logged */
        int64_t lost_logged_at;         /* monotonic ns */
};

struct event_bus {
        pthread_mutex_t lock;
        pthread_cond_t inbox_cond;
        pthread_t thread;
        bool thread_started;
        event_build_fn build;
        void *userdata;
        size_t queue_max;
        /* under lock: */
        struct notice *in_head, *in_tail;
        size_t in_queued;
        uint64_t in_lost;
        struct event_sub *subs;
        bool closed;
        uint64_t dispatched;
};

struct event *event_new(const void *data, size_t len)
{
        struct event *ev = xmalloc(sizeof(*ev) + len + 1);

        ev->refs = 1;
        ev->len = len;
        if (len > 0)
                memcpy(ev->data, data, len);
        return ev;
}

struct event *event_ref(struct event *ev)
{
        if (ev)
                __atomic_add_fetch(&ev->refs, 1, __ATOMIC_RELAXED);
        return ev;
}

void event_unref(struct event *ev)
{
        if (ev && __atomic_sub_fetch(&ev->refs, 1, __ATOMIC_ACQ_REL) == 0)
                free(ev);
}

static void notice_free(struct notice *n)
{
        free(n->container_id);
        free(n->pod_id);
        free(n);
}

/* Under the lock: a loss to report, or 0. */
static uint64_t sub_loss_to_log(struct event_sub *s, bool force)
{
        int64_t now = ocid_now_monotonic_ns();

        if (s->lost == s->lost_logged)
                return 0;
        if (!force && s->lost_logged_at != 0 && now - s->lost_logged_at < EVENT_BUS_LOG_INTERVAL_NS)
                return 0;
        s->lost_logged = s->lost;
        s->lost_logged_at = now;
        return s->lost;
}

/* Under the lock: hands ev to every subscriber with room. Losses to log
 * are collected in notes (names and counts), logged after the unlock. */
struct loss_note {
        char *name;
        uint64_t lost;
};

static void fan_out(struct event_bus *bus, struct event *ev, struct loss_note **notes, size_t *n_notes)
{
        for (struct event_sub *s = bus->subs; s; s = s->next) {
                uint64_t lost;

                if (s->queued >= bus->queue_max) {
                        s->lost++;
                        lost = sub_loss_to_log(s, false);
                        if (lost > 0) {
                                *notes = xreallocarray(*notes, *n_notes + 1, sizeof(**notes));
                                (*notes)[*n_notes] = (struct loss_note) { xstrdup(s->name), lost };
                                (*n_notes)++;
                        }
                        continue;
                }
                struct sub_item *it = xmalloc(sizeof(*it));

                it->next = NULL;
                it->ev = event_ref(ev);
                if (s->tail)
                        s->tail->next = it;
                else
                        s->head = it;
                s->tail = it;
                s->queued++;
                pthread_cond_signal(&s->cond);
        }
}

static void *dispatcher(void *userdata)
{
        struct event_bus *bus = userdata;

        pthread_mutex_lock(&bus->lock);
        for (;;) {
                struct loss_note *notes = NULL;
                size_t n_notes = 0;
                struct notice *n;
                struct event *ev = NULL;
                bool anyone;

                while (!bus->in_head && !bus->closed)
                        pthread_cond_wait(&bus->inbox_cond, &bus->lock);
                n = bus->in_head;
                if (!n)
                        break;  /* closed and drained */
                bus->in_head = n->next;
                if (!bus->in_head)
                        bus->in_tail = NULL;
                bus->in_queued--;
                anyone = bus->subs != NULL;
                pthread_mutex_unlock(&bus->lock);

                /* Built without the bus's lock: the builder takes the
                 * lifecycle's locks, which publishers may hold while they
                 * notify. */
                if (anyone && bus->build)
                        ev = bus->build(bus->userdata, n->type, n->container_id, n->pod_id, n->created_at);
                notice_free(n);

                pthread_mutex_lock(&bus->lock);
                if (ev)
                        fan_out(bus, ev, &notes, &n_notes);
                bus->dispatched++;
                pthread_cond_broadcast(&bus->inbox_cond);
                pthread_mutex_unlock(&bus->lock);
                event_unref(ev);
                for (size_t i = 0; i < n_notes; i++) {
                        ocid_log(OCID_LOG_WARNING, "%s is too slow: %" PRIu64 " container event(s) lost so far",
                                 notes[i].name, notes[i].lost);
                        free(notes[i].name);
                }
                free(notes);
                pthread_mutex_lock(&bus->lock);
        }
        pthread_mutex_unlock(&bus->lock);
        return NULL;
}

int event_bus_new(size_t queue_max, event_build_fn build, void *userdata, struct event_bus **ret,
                  struct ocid_error **err)
{
        struct event_bus *bus = xzalloc(sizeof(*bus));
        int r;

        pthread_mutex_init(&bus->lock, NULL);
        pthread_cond_init(&bus->inbox_cond, NULL);
        bus->build = build;
        bus->userdata = userdata;
        bus->queue_max = queue_max ? queue_max : EVENT_BUS_QUEUE_DEFAULT;
        r = pthread_create(&bus->thread, NULL, dispatcher, bus);
        if (r != 0) {
                pthread_cond_destroy(&bus->inbox_cond);
                pthread_mutex_destroy(&bus->lock);
                free(bus);
                return ocid_error_set(err, r, "start the event dispatcher");
        }
        bus->thread_started = true;
        *ret = bus;
        return 0;
}

void event_bus_close(struct event_bus *bus)
{
        if (!bus)
                return;
        pthread_mutex_lock(&bus->lock);
        bus->closed = true;
        pthread_cond_broadcast(&bus->inbox_cond);
        for (struct event_sub *s = bus->subs; s; s = s->next)
                pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&bus->lock);
}

struct event_bus *event_bus_free(struct event_bus *bus)
{
        if (!bus)
                return NULL;
        event_bus_close(bus);
        if (bus->thread_started)
                (void) pthread_join(bus->thread, NULL);
        /* Subscribers are gone (the contract); drop what is left. */
        while (bus->subs) {
                struct event_sub *s = bus->subs;

                bus->subs = s->next;
                while (s->head) {
                        struct sub_item *it = s->head;

                        s->head = it->next;
                        event_unref(it->ev);
                        free(it);
                }
                pthread_cond_destroy(&s->cond);
                free(s->name);
                free(s);
        }
        while (bus->in_head) {
                struct notice *n = bus->in_head;

                bus->in_head = n->next;
                notice_free(n);
        }
        pthread_cond_destroy(&bus->inbox_cond);
        pthread_mutex_destroy(&bus->lock);
        free(bus);
        return NULL;
}

void event_bus_notify(struct event_bus *bus, int32_t type, const char *container_id, const char *pod_id)
{
        struct notice *n;
        uint64_t lost = 0;

        if (!bus)
                return;
        n = xzalloc(sizeof(*n));
        n->type = type;
        n->created_at = ocid_now_realtime_ns();
        n->container_id = xstrdup(container_id);
        n->pod_id = xstrdup(pod_id);
        pthread_mutex_lock(&bus->lock);
        if (bus->closed || bus->in_queued >= EVENT_BUS_INBOX_MAX) {
                if (!bus->closed)
                        lost = ++bus->in_lost;
                pthread_mutex_unlock(&bus->lock);
                notice_free(n);
                if (lost == 1 || (lost > 0 && lost % 1000 == 0))
                        ocid_log(OCID_LOG_WARNING, "the event dispatcher is behind: %" PRIu64 " event(s) lost",
                                 lost);
                return;
        }
        if (bus->in_tail)
                bus->in_tail->next = n;
        else
                bus->in_head = n;
        bus->in_tail = n;
        bus->in_queued++;
        pthread_cond_signal(&bus->inbox_cond);
        pthread_mutex_unlock(&bus->lock);
}

struct event_sub *event_bus_subscribe(struct event_bus *bus, const char *name)
{
        struct event_sub *s = xzalloc(sizeof(*s));
        pthread_condattr_t attr;

        s->bus = bus;
        s->name = xstrdup(name ? name : "a subscriber");
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&s->cond, &attr);
        pthread_condattr_destroy(&attr);
        pthread_mutex_lock(&bus->lock);
        s->next = bus->subs;
        bus->subs = s;
        pthread_mutex_unlock(&bus->lock);
        return s;
}

void event_bus_unsubscribe(struct event_bus *bus, struct event_sub *sub)
{
        uint64_t lost;

        if (!sub)
                return;
        pthread_mutex_lock(&bus->lock);
        for (struct event_sub **p = &bus->subs; *p; p = &(*p)->next)
                if (*p == sub) {
                        *p = sub->next;
                        break;
                }
        lost = sub_loss_to_log(sub, true);
        pthread_mutex_unlock(&bus->lock);
        if (lost > 0)
                ocid_log(OCID_LOG_WARNING, "%s lost %" PRIu64 " container event(s) in all", sub->name, sub->lost);
        while (sub->head) {
                struct sub_item *it = sub->head;

                sub->head = it->next;
                event_unref(it->ev);
                free(it);
        }
        pthread_cond_destroy(&sub->cond);
        free(sub->name);
        free(sub);
}

int event_sub_next(struct event_sub *sub, int64_t timeout_ns, struct event **ret)
{
        struct event_bus *bus = sub->bus;
        struct timespec until;
        struct sub_item *it;
        int64_t deadline;

        clock_gettime(CLOCK_MONOTONIC, &until);
        deadline = (int64_t) until.tv_sec * 1000000000 + until.tv_nsec + (timeout_ns > 0 ? timeout_ns : 0);
        until.tv_sec = deadline / 1000000000;
        until.tv_nsec = deadline % 1000000000;
        pthread_mutex_lock(&bus->lock);
        while (!sub->head && !bus->closed) {
                if (pthread_cond_timedwait(&sub->cond, &bus->lock, &until) == ETIMEDOUT)
                        break;
        }
        it = sub->head;
        if (!it) {
                bool closed = bus->closed;

                pthread_mutex_unlock(&bus->lock);
                return closed ? -EPIPE : 0;
        }
        sub->head = it->next;
        if (!sub->head)
                sub->tail = NULL;
        sub->queued--;
        pthread_mutex_unlock(&bus->lock);
        *ret = it->ev;
        free(it);
        return 1;
}

uint64_t event_sub_lost(struct event_sub *sub)
{
        uint64_t n;

        pthread_mutex_lock(&sub->bus->lock);
        n = sub->lost;
        pthread_mutex_unlock(&sub->bus->lock);
        return n;
}

uint64_t event_bus_dispatched(struct event_bus *bus)
{
        uint64_t n;

        pthread_mutex_lock(&bus->lock);
        n = bus->dispatched;
        pthread_mutex_unlock(&bus->lock);
        return n;
}
