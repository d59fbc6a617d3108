/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* One RPC in flight, shared by the event loop (which owns the HTTP/2
 * stream) and the worker thread running its handler. Reference counted:
 * the stream holds one reference, the worker another; either side may go
 * away first. The loop cancels a call (deadline, client RST_STREAM, hard
 * shutdown); the handler sees it through server_call_is_cancelled() and
 * server_call_sleep(), and whatever it produces afterwards is discarded.
 *
 * Responses travel through a queue of framed messages: the handler appends
 * (server_call_send), the loop drains it into DATA frames
 * (server_call_read). A streaming handler blocks in server_call_send while
 * more than CALL_QUEUE_HIGH bytes wait, so a slow client slows the handler
 * down instead of growing the queue. */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <protobuf-c/protobuf-c.h>

#include "server/methods.h"

struct ocid_error;

#define CALL_QUEUE_HIGH (4u * 1024 * 1024)

struct call_msg;
struct server_call;

/* Called on the worker thread after a streaming handler queued a message,
 * so that the loop drains the queue. */
typedef void (*server_call_notify_fn)(struct server_call *call, void *userdata);

struct server_call {
        int refs;                               /* atomic */
        const struct server_method *method;
        const struct server_env *env;
        size_t max_message_size;
        int64_t deadline_ns;                    /* CLOCK_MONOTONIC; 0: none */
        uint8_t *request;                       /* the raw request message */
        size_t request_len;
        server_call_notify_fn notify;
        void *notify_userdata;

        pthread_mutex_t lock;
        pthread_cond_t cond;
        /* under lock: */
        int cancel_status;                      /* 0, or the status of the cancellation */
        struct call_msg *head, *tail;
        size_t queued;                          /* bytes in the queue */
        size_t n_sent;                          /* messages ever queued */
        bool finished;                          /* the handler returned */
        int status;                             /* its gRPC status, once finished */
        char *message;                          /* its status message, once finished */

        /* Owned by the loop thread: the transport's stream, NULL once gone. */
        void *stream;
};

/* Loop side. `request` is taken over. */
struct server_call *server_call_new(const struct server_method *method, const struct server_env *env,
                                    size_t max_message_size, int64_t deadline_ns,
                                    uint8_t *request, size_t request_len,
                                    server_call_notify_fn notify, void *notify_userdata);
struct server_call *server_call_ref(struct server_call *call);
struct server_call *server_call_unref(struct server_call *call);

/* Runs the handler (on a worker thread): unpacks the request, calls the
 * handler, turns its result into a gRPC status and logs a failure. This is
 * the one place where an ocid_error becomes a status. */
void server_call_run(struct server_call *call);

/* Marks the call cancelled with `status` (CANCELLED, DEADLINE_EXCEEDED)
 * unless it already is, drops queued output and wakes the handler. */
void server_call_cancel(struct server_call *call, int status);

/* Copies up to len queued bytes to buf and returns how many. *ret_done is
 * set when nothing more will come: the queue is empty and the handler has
 * finished or the call was cancelled (the caller then sends the status). */
size_t server_call_read(struct server_call *call, uint8_t *buf, size_t len, bool *ret_done);

/* True when a response message is waiting in the queue. */
bool server_call_has_output(struct server_call *call);

/* Once finished: the status and a copy of its message (NULL when empty). */
bool server_call_get_status(struct server_call *call, int *ret_status, char **ret_message);

/* Handler side. */

/* Frames and queues one response message. Fails with -ECANCELED when the
 * call was cancelled, -EMSGSIZE above the message size limit, -EPROTO for a
 * second message of a unary call. */
int server_call_send(struct server_call *call, const ProtobufCMessage *msg, struct ocid_error **err);

/* True once the call was cancelled or its deadline passed. */
bool server_call_is_cancelled(struct server_call *call);

/* Sleeps ns nanoseconds, or less when the call is cancelled (-ECANCELED)
 * or its deadline comes first (-ETIMEDOUT). */
int server_call_sleep(struct server_call *call, int64_t ns, struct ocid_error **err);

/* The call's deadline (CLOCK_MONOTONIC ns, as ocid_now_monotonic_ns), or
 * 0 when the client set none: handlers bound their own waits by it. */
int64_t server_call_deadline(const struct server_call *call);

const struct server_env *server_call_env(const struct server_call *call);
