/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "cri"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ocid/error.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "server/call.h"
#include "server/frame.h"
#include "server/grpc.h"

struct call_msg {
        struct call_msg *next;
        size_t len, off;
        uint8_t data[];
};

struct server_call *server_call_new(const struct server_method *method, const struct server_env *env,
                                    size_t max_message_size, int64_t deadline_ns,
                                    uint8_t *request, size_t request_len,
                                    server_call_notify_fn notify, void *notify_userdata)
{
        struct server_call *call = xzalloc(sizeof(*call));
        pthread_condattr_t attr;

        call->refs = 1;
        call->method = method;
        call->env = env;
        call->max_message_size = max_message_size;
        call->deadline_ns = deadline_ns;
        call->request = request;
        call->request_len = request_len;
        call->notify = notify;
        call->notify_userdata = notify_userdata;
        pthread_mutex_init(&call->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&call->cond, &attr);
        pthread_condattr_destroy(&attr);
        return call;
}

struct server_call *server_call_ref(struct server_call *call)
{
        __atomic_add_fetch(&call->refs, 1, __ATOMIC_RELAXED);
        return call;
}

static void call_queue_clear(struct server_call *call)
{
        while (call->head) {
                struct call_msg *m = call->head;

                call->head = m->next;
                free(m);
        }
        call->tail = NULL;
        call->queued = 0;
}

/* Drops what was not started; a message already partly handed to the
 * transport stays, so that it can be completed. */
static void call_queue_drop_unsent(struct server_call *call)
{
        struct call_msg *keep = call->head && call->head->off > 0 ? call->head : NULL;
        struct call_msg *m = keep ? keep->next : call->head;

        while (m) {
                struct call_msg *next = m->next;

                free(m);
                m = next;
        }
        if (keep)
                keep->next = NULL;
        call->head = call->tail = keep;
        call->queued = keep ? keep->len - keep->off : 0;
}

struct server_call *server_call_unref(struct server_call *call)
{
        if (!call || __atomic_sub_fetch(&call->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return NULL;
        call_queue_clear(call);
        pthread_cond_destroy(&call->cond);
        pthread_mutex_destroy(&call->lock);
        free(call->request);
        free(call->message);
        free(call);
        return NULL;
}

int64_t server_call_deadline(const struct server_call *call)
{
        return call->deadline_ns;
}

const struct server_env *server_call_env(const struct server_call *call)
{
        return call->env;
}

static const char *cancel_reason(int status)
{
        return status == GRPC_STATUS_DEADLINE_EXCEEDED ? "deadline exceeded" : "call cancelled";
}

static int cancel_errno(int status)
{
        return status == GRPC_STATUS_DEADLINE_EXCEEDED ? ETIMEDOUT : ECANCELED;
}

int server_call_send(struct server_call *call, const ProtobufCMessage *msg, struct ocid_error **err)
{
        size_t size = protobuf_c_message_get_packed_size(msg);
        struct call_msg *m;
        int cancelled;
        bool notify;

        if (size > call->max_message_size)
                return ocid_error_msg(err, EMSGSIZE,
                                      "response of %zu bytes exceeds the limit of %zu bytes",
                                      size, call->max_message_size);

        m = xmalloc(sizeof(*m) + GRPC_FRAME_HEADER_SIZE + size);
        m->next = NULL;
        m->off = 0;
        m->len = GRPC_FRAME_HEADER_SIZE + size;
        grpc_frame_header(m->data, (uint32_t) size);
        if (protobuf_c_message_pack(msg, m->data + GRPC_FRAME_HEADER_SIZE) != size) {
                free(m);
                return ocid_error_msg(err, EPROTO, "packing a %s message failed", msg->descriptor->name);
        }

        pthread_mutex_lock(&call->lock);
        if (!call->method->server_streaming && call->n_sent > 0) {
                pthread_mutex_unlock(&call->lock);
                free(m);
                return ocid_error_msg(err, EPROTO, "a unary call answers exactly one message");
        }
        while (call->method->server_streaming && call->queued >= CALL_QUEUE_HIGH && !call->cancel_status)
                pthread_cond_wait(&call->cond, &call->lock);
        cancelled = call->cancel_status;
        if (!cancelled) {
                if (call->tail)
                        call->tail->next = m;
                else
                        call->head = m;
                call->tail = m;
                call->queued += m->len;
                call->n_sent++;
                m = NULL;
        }
        notify = !cancelled && call->method->server_streaming && call->notify;
        pthread_mutex_unlock(&call->lock);

        free(m);
        if (cancelled)
                return ocid_error_msg(err, cancel_errno(cancelled), "%s", cancel_reason(cancelled));
        if (notify)
                call->notify(call, call->notify_userdata);
        return 0;
}

bool server_call_is_cancelled(struct server_call *call)
{
        int cancelled;

        pthread_mutex_lock(&call->lock);
        cancelled = call->cancel_status;
        pthread_mutex_unlock(&call->lock);
        return cancelled || (call->deadline_ns > 0 && ocid_now_monotonic_ns() >= call->deadline_ns);
}

int server_call_sleep(struct server_call *call, int64_t ns, struct ocid_error **err)
{
        int64_t now = ocid_now_monotonic_ns(), until;
        bool deadline_first = false;
        int cancelled;

        until = ns > INT64_MAX - now ? INT64_MAX : now + ns;
        if (call->deadline_ns > 0 && call->deadline_ns < until) {
                until = call->deadline_ns;
                deadline_first = true;
        }

        pthread_mutex_lock(&call->lock);
        while (!call->cancel_status && (now = ocid_now_monotonic_ns()) < until) {
                struct timespec ts = {
                        .tv_sec = (time_t) (until / 1000000000),
                        .tv_nsec = (long) (until % 1000000000),
                };

                (void) pthread_cond_timedwait(&call->cond, &call->lock, &ts);
        }
        cancelled = call->cancel_status;
        pthread_mutex_unlock(&call->lock);

        if (cancelled)
                return ocid_error_msg(err, cancel_errno(cancelled), "%s", cancel_reason(cancelled));
        if (deadline_first)
                return ocid_error_msg(err, ETIMEDOUT, "deadline exceeded");
        return 0;
}

void server_call_cancel(struct server_call *call, int status)
{
        pthread_mutex_lock(&call->lock);
        if (!call->cancel_status) {
                call->cancel_status = status;
                call_queue_drop_unsent(call);
        }
        pthread_cond_broadcast(&call->cond);
        pthread_mutex_unlock(&call->lock);
}

size_t server_call_read(struct server_call *call, uint8_t *buf, size_t len, bool *ret_done)
{
        size_t copied = 0;
        bool wake;

        pthread_mutex_lock(&call->lock);
        wake = call->queued >= CALL_QUEUE_HIGH;
        while (copied < len && call->head) {
                struct call_msg *m = call->head;
                size_t n = m->len - m->off;

                if (n > len - copied)
                        n = len - copied;
                memcpy(buf + copied, m->data + m->off, n);
                m->off += n;
                copied += n;
                call->queued -= n;
                if (m->off == m->len) {
                        call->head = m->next;
                        if (!call->head)
                                call->tail = NULL;
                        free(m);
                }
        }
        if (wake && call->queued < CALL_QUEUE_HIGH)
                pthread_cond_broadcast(&call->cond);
        *ret_done = !call->head && (call->finished || call->cancel_status);
        pthread_mutex_unlock(&call->lock);
        return copied;
}

bool server_call_has_output(struct server_call *call)
{
        bool r;

        pthread_mutex_lock(&call->lock);
        r = call->head != NULL;
        pthread_mutex_unlock(&call->lock);
        return r;
}

bool server_call_get_status(struct server_call *call, int *ret_status, char **ret_message)
{
        bool finished;

        pthread_mutex_lock(&call->lock);
        finished = call->finished;
        if (finished) {
                *ret_status = call->status;
                *ret_message = call->message && call->message[0] ? xstrdup(call->message) : NULL;
        }
        pthread_mutex_unlock(&call->lock);
        return finished;
}

/* The log level of a failed call: what points at ocid itself is an error,
 * what the client asked for wrongly or gave up on is routine. */
static int status_log_level(int status)
{
        switch (status) {
        case GRPC_STATUS_UNKNOWN:
        case GRPC_STATUS_INTERNAL:
        case GRPC_STATUS_DATA_LOSS:
        case GRPC_STATUS_RESOURCE_EXHAUSTED:
        case GRPC_STATUS_PERMISSION_DENIED:
                return OCID_LOG_ERROR;
        case GRPC_STATUS_UNIMPLEMENTED:
                return OCID_LOG_DEBUG;
        default:
                return OCID_LOG_INFO;
        }
}

static void call_finish(struct server_call *call, int status, char *message)
{
        pthread_mutex_lock(&call->lock);
        call->finished = true;
        call->status = status;
        call->message = message;
        if (status != GRPC_STATUS_OK && !call->method->server_streaming)
                call_queue_drop_unsent(call);   /* a failed unary call has no response message */
        pthread_mutex_unlock(&call->lock);
}

void server_call_run(struct server_call *call)
{
        const struct server_method *m = call->method;
        _cleanup_error_ struct ocid_error *error = NULL;
        ProtobufCMessage *request;
        int64_t start = ocid_now_monotonic_ns();
        int r, status, cancelled;
        size_t n_sent;

        request = protobuf_c_message_unpack(m->input, NULL, call->request_len, call->request);
        if (!request) {
                r = ocid_error_msg(&error, EINVAL, "invalid %s message", m->input->name);
                status = GRPC_STATUS_INVALID_ARGUMENT;
        } else {
                r = m->handler(call, request, &error);
                protobuf_c_message_free_unpacked(request, NULL);
                status = r < 0 ? grpc_status_from_errno(-r) : GRPC_STATUS_OK;
        }
        free(call->request);
        call->request = NULL;

        pthread_mutex_lock(&call->lock);
        cancelled = call->cancel_status;
        n_sent = call->n_sent;
        pthread_mutex_unlock(&call->lock);

        if (r >= 0 && !m->server_streaming && n_sent == 0) {
                /* A handler bug, reported honestly rather than as an empty success. */
                r = ocid_error_msg(&error, EPROTO, "handler returned no response");
                status = GRPC_STATUS_INTERNAL;
        }

        if (r < 0) {
                const char *msg = ocid_error_message(&error);

                if (!error)
                        msg = "handler failed without an error message";
                if (cancelled)
                        ocid_log(OCID_LOG_DEBUG, "%s after %s: %s", m->name, cancel_reason(cancelled), msg);
                else
                        ocid_log(status_log_level(status), "%s failed: %s: %s", m->name,
                                 grpc_status_to_string(status), msg);
                call_finish(call, status, xstrdup(msg));
        } else {
                ocid_log(OCID_LOG_DEBUG, "%s: OK in %.3f ms", m->name,
                         (double) (ocid_now_monotonic_ns() - start) / 1e6);
                call_finish(call, GRPC_STATUS_OK, NULL);
        }
}
