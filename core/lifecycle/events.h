/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The container event bus behind GetContainerEvents (docs/restart.md).
 *
 * Publishers (the lifecycle, the exit watch) call event_bus_notify() with
 * the kind of event and the container: it only appends a small notice to
 * the bus's inbox under the bus's own lock, which is a leaf lock, so it may
 * be called with any lifecycle lock held and never blocks on a client.
 *
 * A dispatcher thread turns each notice into an event (the build callback:
 * the packed ContainerEventResponse, built while the dispatcher holds no
 * lock of its own) and appends a reference to it to the queue of every
 * subscriber. A queue holds at most queue_max events; when it is full the
 * event is dropped for that subscriber, counted, and the loss is logged at
 * warning (at most every EVENT_BUS_LOG_INTERVAL_NS per subscriber, and once
 * more when it unsubscribes). A slow client therefore loses events and
 * never delays a publisher or another subscriber. */

#include <stddef.h>
#include <stdint.h>

struct event_bus;
struct ocid_error;
struct event_sub;

#define EVENT_BUS_QUEUE_DEFAULT 1024
/* The inbox bound: far more than a dispatcher ever lags behind. */
#define EVENT_BUS_INBOX_MAX     65536
#define EVENT_BUS_LOG_INTERVAL_NS (INT64_C(5) * 1000000000)

/* An immutable, reference-counted event: the bytes a subscriber sends. */
struct event {
        int refs;               /* atomic */
        size_t len;
        uint8_t data[];
};

struct event *event_new(const void *data, size_t len);
struct event *event_ref(struct event *ev);
void event_unref(struct event *ev);

/* Builds the event for a notice, or NULL to skip it (the container is not
 * known any more, say). Runs on the dispatcher thread. `created_at` is when
 * the notice was published (ns since the epoch). */
typedef struct event *(*event_build_fn)(void *userdata, int32_t type, const char *container_id,
                                        const char *pod_id, int64_t created_at);

/* Starts the dispatcher. queue_max 0 means EVENT_BUS_QUEUE_DEFAULT. */
int event_bus_new(size_t queue_max, event_build_fn build, void *userdata, struct event_bus **ret,
                  struct ocid_error **err);
/* Closes the bus (as event_bus_close), stops the dispatcher and frees the
 * bus. Every subscription must have been released. NULL is a no-op. */
struct event_bus *event_bus_free(struct event_bus *bus);

/* Queues a notice. Never blocks; a NULL bus is a no-op. */
void event_bus_notify(struct event_bus *bus, int32_t type, const char *container_id, const char *pod_id);

/* Ends every subscription: event_sub_next() returns -EPIPE once the
 * subscriber's queue is drained. Later subscriptions end at once. */
void event_bus_close(struct event_bus *bus);

/* A new subscriber, named for the log ("GetContainerEvents client 3"). */
struct event_sub *event_bus_subscribe(struct event_bus *bus, const char *name);
void event_bus_unsubscribe(struct event_bus *bus, struct event_sub *sub);

/* The subscriber's next event: 1 with *ret (a reference to drop with
 * event_unref), 0 when timeout_ns passed without one, -EPIPE when the bus
 * is closed and nothing is left. */
int event_sub_next(struct event_sub *sub, int64_t timeout_ns, struct event **ret);

/* Events this subscriber lost so far. */
uint64_t event_sub_lost(struct event_sub *sub);

/* Notices the dispatcher handled so far (for tests). */
uint64_t event_bus_dispatched(struct event_bus *bus);
