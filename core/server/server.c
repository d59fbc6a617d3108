/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "cri"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <nghttp2/nghttp2.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "server/call.h"
#include "server/cri.h"
#include "server/frame.h"
#include "server/grpc.h"
#include "server/selftest.h"
#include "server/server.h"

/* HTTP/2 settings we announce. Large windows let a 16 MiB message arrive
 * without waiting for WINDOW_UPDATEs; the per-message limit, not the
 * window, bounds what a stream buffers. */
#define SERVER_MAX_CONCURRENT_STREAMS 1000
#define SERVER_CONNECTION_WINDOW      (64 * 1024 * 1024)
#define SERVER_MAX_HEADER_LIST        (64 * 1024)

/* Output backpressure: stop producing frames (and reading requests) while
 * this much is handed to the kernel but not yet written. */
#define CONN_WRITE_HIGH  (1024 * 1024)
/* Bytes gathered from nghttp2 into one uv_write. */
#define CONN_WRITE_CHUNK (256 * 1024)
#define CONN_READ_SIZE   (64 * 1024)

/* After the grace period, cancelled calls get this long to send their
 * status before the connections are closed. */
#define SERVER_FORCE_CLOSE_MS 1000

struct conn;

struct stream {
        struct stream *prev, *next;
        struct conn *conn;
        int32_t id;

        /* Request headers we act on. */
        char *method;
        char *path;
        char *content_type;
        char *encoding;
        char *timeout;

        const struct server_method *m;
        struct grpc_decoder dec;
        uint8_t *request;
        size_t request_len;
        unsigned n_requests;
        int64_t deadline_ns;
        uv_timer_t *timer;

        struct server_call *call;

        bool remote_closed;     /* the client's END_STREAM arrived */
        bool headers_sent;      /* response HEADERS submitted; DATA provider attached */
        bool responded;         /* the final status is submitted */
        bool has_final;         /* the transport decided the status (deadline, shutdown) */
        int final_status;
        char *final_message;
};

struct conn {
        uv_pipe_t pipe;
        struct server *srv;
        nghttp2_session *session;
        struct conn *prev, *next;
        struct stream *streams;
        size_t write_pending;
        bool reading;
        bool closing;
        uint8_t readbuf[CONN_READ_SIZE];
};

struct conn_write {
        uv_write_t req;
        struct conn *conn;
        size_t len;
        uint8_t *data;
};

struct call_work {
        uv_work_t req;
        struct server_call *call;
};

struct server {
        uv_loop_t *loop;
        const struct server_env *env;
        char *listen_path;
        size_t max_message_size;
        int64_t shutdown_grace_ns;
        struct server_methods methods;
        nghttp2_session_callbacks *callbacks;
        nghttp2_option *option;

        uv_pipe_t listener;
        bool listener_open;
        uv_async_t async;
        uv_timer_t timer;       /* shutdown grace, then forced close */
        bool handles_open;

        struct conn *conns;
        size_t n_conns;

        /* Calls whose streaming handler queued output, from worker threads. */
        pthread_mutex_t pending_lock;
        struct server_call **pending;
        size_t n_pending, n_pending_alloc;
        bool async_closed;

        int shutdown_phase;     /* 0 running, 1 draining, 2 cancelled, 3 forced */
        void (*shutdown_done)(struct server *s, void *userdata);
        void *shutdown_userdata;
        bool done_called;
};

static void conn_flush(struct conn *c);
static void conn_close(struct conn *c);
static void server_maybe_finish(struct server *s);

/* ---- helpers ----------------------------------------------------------- */

#define NV(n, v) { (uint8_t *) (n), (uint8_t *) (v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

static bool content_type_is_grpc(const char *ct)
{
        const char *rest = ct ? ocid_startswith(ct, "application/grpc") : NULL;

        return rest && (*rest == '\0' || *rest == '+' || *rest == ';');
}

/* ---- streams ------------------------------------------------------------ */

static void handle_free_cb(uv_handle_t *h)
{
        free(h);
}

static void stream_stop_timer(struct stream *s)
{
        if (s->timer) {
                uv_timer_stop(s->timer);
                uv_close((uv_handle_t *) s->timer, handle_free_cb);
                s->timer = NULL;
        }
}

/* Unlinks and frees s; its call (if any) loses its stream and, unless its
 * handler already finished, is cancelled. */
static void stream_free(struct stream *s)
{
        struct conn *c = s->conn;

        if (s->prev)
                s->prev->next = s->next;
        else
                c->streams = s->next;
        if (s->next)
                s->next->prev = s->prev;

        if (s->call) {
                server_call_cancel(s->call, GRPC_STATUS_CANCELLED);
                s->call->stream = NULL;
                server_call_unref(s->call);
        }
        stream_stop_timer(s);
        grpc_decoder_done(&s->dec);
        free(s->request);
        free(s->method);
        free(s->path);
        free(s->content_type);
        free(s->encoding);
        free(s->timeout);
        free(s->final_message);
        free(s);
}

static void stream_log_submit_error(struct stream *s, const char *what, int rv)
{
        ocid_log(OCID_LOG_DEBUG, "stream %" PRId32 ": submitting %s failed: %s", s->id, what,
                 nghttp2_strerror(rv));
}

/* Submits a Trailers-Only response: HTTP 200, content-type and the status
 * in a single HEADERS frame ending the stream. */
static void stream_respond_status(struct stream *s, int status, const char *message)
{
        _cleanup_free_ char *encoded = message && message[0] ? grpc_percent_encode(message) : NULL;
        char status_str[16];
        nghttp2_nv nva[5] = {
                NV(":status", "200"),
                NV("content-type", "application/grpc"),
        };
        size_t n = 2;
        int rv;

        if (s->responded)
                return;
        s->responded = true;
        snprintf(status_str, sizeof(status_str), "%d", status);
        nva[n++] = (nghttp2_nv) NV("grpc-status", status_str);
        if (encoded)
                nva[n++] = (nghttp2_nv) NV("grpc-message", encoded);
        if (status == GRPC_STATUS_UNIMPLEMENTED && s->encoding)
                nva[n++] = (nghttp2_nv) NV("grpc-accept-encoding", "identity");
        rv = nghttp2_submit_response(s->conn->session, s->id, nva, n, NULL);
        if (rv != 0)
                stream_log_submit_error(s, "status", rv);
}

/* A non-gRPC request: a plain HTTP error, so that a client that is not
 * speaking gRPC does not read a 200 as success. */
static void stream_respond_http(struct stream *s, const char *http_status, const char *message)
{
        _cleanup_free_ char *encoded = grpc_percent_encode(message);
        char status_str[16];
        nghttp2_nv nva[4] = {
                NV(":status", http_status),
                NV("content-type", "application/grpc"),
        };
        int rv;

        if (s->responded)
                return;
        s->responded = true;
        snprintf(status_str, sizeof(status_str), "%d", GRPC_STATUS_INTERNAL);
        nva[2] = (nghttp2_nv) NV("grpc-status", status_str);
        nva[3] = (nghttp2_nv) NV("grpc-message", encoded);
        rv = nghttp2_submit_response(s->conn->session, s->id, nva, ELEMENTSOF(nva), NULL);
        if (rv != 0)
                stream_log_submit_error(s, "HTTP error", rv);
}

/* Rejects a request before or while it is read: the transport's own
 * status, logged once here. */
static void stream_fail(struct stream *s, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void stream_fail(struct stream *s, int status, const char *fmt, ...)
{
        _cleanup_free_ char *message = NULL;
        va_list ap;

        if (s->responded)
                return;
        va_start(ap, fmt);
        if (vasprintf(&message, fmt, ap) < 0)
                abort();
        va_end(ap);
        ocid_log(status == GRPC_STATUS_UNIMPLEMENTED ? OCID_LOG_DEBUG : OCID_LOG_INFO, "%s: %s: %s",
                 s->m ? s->m->name : (s->path ? s->path : "request"), grpc_status_to_string(status), message);
        grpc_decoder_done(&s->dec);
        free(s->request);
        s->request = NULL;
        stream_respond_status(s, status, message);
}

static void stream_submit_trailers(struct stream *s, int status, const char *message)
{
        _cleanup_free_ char *encoded = message && message[0] ? grpc_percent_encode(message) : NULL;
        char status_str[16];
        nghttp2_nv nva[2];
        size_t n = 0;
        int rv;

        s->responded = true;
        snprintf(status_str, sizeof(status_str), "%d", status);
        nva[n++] = (nghttp2_nv) NV("grpc-status", status_str);
        if (encoded)
                nva[n++] = (nghttp2_nv) NV("grpc-message", encoded);
        rv = nghttp2_submit_trailer(s->conn->session, s->id, nva, n);
        if (rv != 0)
                stream_log_submit_error(s, "trailers", rv);
}

static ssize_t stream_data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                                uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
        struct stream *s = source->ptr;
        size_t n = 0;
        bool done = true;

        /* After a cancellation the queue still holds the rest of a message
         * that was partly sent, so that the client never sees a torn one. */
        if (s->call)
                n = server_call_read(s->call, buf, length, &done);
        if (!done)
                return n > 0 ? (ssize_t) n : NGHTTP2_ERR_DEFERRED;

        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (s->has_final) {
                stream_submit_trailers(s, s->final_status, s->final_message);
        } else {
                _cleanup_free_ char *message = NULL;
                int status = GRPC_STATUS_CANCELLED;

                if (!s->call || !server_call_get_status(s->call, &status, &message))
                        message = xstrdup("call cancelled");
                stream_submit_trailers(s, status, message);
        }
        return (ssize_t) n;
}

/* Moves a dispatched call's output along: response headers once the first
 * message is queued, DATA as the queue fills, the status once the handler
 * finished. Runs on the loop after the worker signalled progress. */
static void stream_pump(struct stream *s)
{
        int rv;

        if (s->responded)
                return;
        if (s->headers_sent) {
                rv = nghttp2_session_resume_data(s->conn->session, s->id);
                if (rv != 0 && rv != NGHTTP2_ERR_INVALID_ARGUMENT)
                        stream_log_submit_error(s, "resumed data", rv);
                return;
        }
        if (s->has_final) {
                stream_respond_status(s, s->final_status, s->final_message);
                return;
        }
        if (server_call_has_output(s->call)) {
                nghttp2_nv nva[] = {
                        NV(":status", "200"),
                        NV("content-type", "application/grpc"),
                };
                nghttp2_data_provider prd = { .source.ptr = s, .read_callback = stream_data_read };

                s->headers_sent = true;
                rv = nghttp2_submit_response(s->conn->session, s->id, nva, ELEMENTSOF(nva), &prd);
                if (rv != 0)
                        stream_log_submit_error(s, "response", rv);
                return;
        }

        {
                _cleanup_free_ char *message = NULL;
                int status;

                if (server_call_get_status(s->call, &status, &message))
                        stream_respond_status(s, status, message);
        }
}

/* The transport ends the call with its own status (deadline, shutdown):
 * the handler's later result is discarded. */
static void stream_finish_early(struct stream *s, int status, const char *message)
{
        if (s->responded || s->has_final)
                return;
        s->has_final = true;
        s->final_status = status;
        s->final_message = xstrdup(message);
        grpc_decoder_done(&s->dec);
        if (s->call)
                server_call_cancel(s->call, status);
        if (s->call)
                stream_pump(s);
        else
                stream_respond_status(s, status, message);
}

static void stream_deadline_cb(uv_timer_t *t)
{
        struct stream *s = t->data;
        struct conn *c = s->conn;
        int64_t left = s->deadline_ns - ocid_now_monotonic_ns();

        /* libuv's clock is coarse and may run a few milliseconds behind
         * CLOCK_MONOTONIC: a timer that fires early is armed again for the
         * rest, so a call never ends before its deadline. */
        if (left > 0) {
                uv_timer_start(t, stream_deadline_cb, (uint64_t) (left / 1000000) + 1, 0);
                return;
        }
        stream_stop_timer(s);
        if (s->responded)
                return;
        ocid_log(OCID_LOG_INFO, "%s: deadline exceeded%s", s->m ? s->m->name : s->path,
                 s->call ? ", cancelling the call" : "");
        stream_finish_early(s, GRPC_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
        conn_flush(c);
}

static void server_call_notify(struct server_call *call, void *userdata)
{
        struct server *srv = userdata;

        pthread_mutex_lock(&srv->pending_lock);
        if (!srv->async_closed) {
                if (srv->n_pending == srv->n_pending_alloc) {
                        srv->n_pending_alloc = srv->n_pending_alloc ? srv->n_pending_alloc * 2 : 16;
                        srv->pending = xreallocarray(srv->pending, srv->n_pending_alloc, sizeof(*srv->pending));
                }
                srv->pending[srv->n_pending++] = server_call_ref(call);
                uv_async_send(&srv->async);
        }
        pthread_mutex_unlock(&srv->pending_lock);
}

static void server_async_cb(uv_async_t *a)
{
        struct server *srv = a->data;
        struct server_call **pending;
        size_t n;

        pthread_mutex_lock(&srv->pending_lock);
        pending = TAKE_PTR(srv->pending);
        n = srv->n_pending;
        srv->n_pending = srv->n_pending_alloc = 0;
        pthread_mutex_unlock(&srv->pending_lock);

        for (size_t i = 0; i < n; i++) {
                struct stream *s = pending[i]->stream;

                if (s) {
                        stream_pump(s);
                        conn_flush(s->conn);
                }
                server_call_unref(pending[i]);
        }
        free(pending);
}

static void call_work_cb(uv_work_t *req)
{
        struct call_work *w = req->data;

        server_call_run(w->call);
}

static void call_after_work_cb(uv_work_t *req, int status)
{
        struct call_work *w = req->data;
        struct stream *s = w->call->stream;

        if (s) {
                stream_pump(s);
                conn_flush(s->conn);
        }
        server_call_unref(w->call);
        free(w);
}

static void stream_dispatch(struct stream *s)
{
        struct server *srv = s->conn->srv;
        struct call_work *w;
        int r;

        s->call = server_call_new(s->m, srv->env, srv->max_message_size, s->deadline_ns,
                                  TAKE_PTR(s->request), s->request_len, server_call_notify, srv);
        s->call->stream = s;

        w = xzalloc(sizeof(*w));
        w->req.data = w;
        w->call = server_call_ref(s->call);
        r = uv_queue_work(srv->loop, &w->req, call_work_cb, call_after_work_cb);
        if (r < 0) {
                server_call_unref(w->call);
                free(w);
                stream_finish_early(s, GRPC_STATUS_UNAVAILABLE, "cannot queue the call");
        }
}

static int stream_on_message(uint8_t *data, size_t len, void *userdata, struct ocid_error **err)
{
        struct stream *s = userdata;

        if (s->n_requests > 0) {
                free(data);
                return ocid_error_msg(err, EPROTO, "more than one request message for a unary call");
        }
        s->n_requests++;
        s->request = data;
        s->request_len = len;
        return 0;
}

static void stream_request_data(struct stream *s, const uint8_t *data, size_t len)
{
        _cleanup_error_ struct ocid_error *error = NULL;
        int r;

        if (s->responded || s->has_final || s->call || !s->m)
                return;
        r = grpc_decoder_feed(&s->dec, data, len, stream_on_message, s, &error);
        if (r < 0)
                stream_fail(s, r == -EMSGSIZE ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_INTERNAL, "%s",
                            ocid_error_message(&error));
}

static void stream_request_end(struct stream *s)
{
        s->remote_closed = true;
        if (s->responded || s->has_final || s->call || !s->m)
                return;
        if (!grpc_decoder_is_idle(&s->dec))
                stream_fail(s, GRPC_STATUS_INTERNAL, "request ended inside a message");
        else if (s->n_requests == 0)
                stream_fail(s, GRPC_STATUS_INTERNAL, "request ended without a message");
        else
                stream_dispatch(s);
}

/* The request headers are complete: route the call or refuse it. */
static void stream_request_headers(struct stream *s)
{
        struct server *srv = s->conn->srv;
        int64_t timeout_ns;

        if (!s->method || !streq(s->method, "POST")) {
                ocid_log(OCID_LOG_DEBUG, "stream %" PRId32 ": method '%s' refused", s->id,
                         s->method ? s->method : "");
                stream_respond_http(s, "405", "gRPC requests use POST");
                return;
        }
        if (!content_type_is_grpc(s->content_type)) {
                ocid_log(OCID_LOG_DEBUG, "stream %" PRId32 ": content-type '%s' refused", s->id,
                         s->content_type ? s->content_type : "");
                stream_respond_http(s, "415", "content-type must be application/grpc");
                return;
        }
        s->m = server_methods_find(&srv->methods, s->path);
        if (!s->m) {
                stream_fail(s, GRPC_STATUS_UNIMPLEMENTED, "unknown method '%s'", s->path ? s->path : "");
                return;
        }
        if (!s->m->handler) {
                stream_fail(s, GRPC_STATUS_UNIMPLEMENTED, "method %s is not implemented", s->m->name);
                return;
        }
        if (s->encoding && !streq(s->encoding, "identity")) {
                stream_fail(s, GRPC_STATUS_UNIMPLEMENTED, "message encoding '%s' is not supported", s->encoding);
                return;
        }
        if (s->timeout) {
                int64_t now = ocid_now_monotonic_ns();

                if (grpc_timeout_parse(s->timeout, &timeout_ns) < 0) {
                        stream_fail(s, GRPC_STATUS_INVALID_ARGUMENT, "malformed grpc-timeout '%s'", s->timeout);
                        return;
                }
                if (timeout_ns <= INT64_MAX - now) {
                        uint64_t ms = (uint64_t) (timeout_ns / 1000000) + (timeout_ns % 1000000 ? 1 : 0);

                        s->deadline_ns = now + timeout_ns;
                        s->timer = xmalloc(sizeof(*s->timer));
                        uv_timer_init(srv->loop, s->timer);
                        s->timer->data = s;
                        uv_timer_start(s->timer, stream_deadline_cb, ms, 0);
                }
        }
        grpc_decoder_init(&s->dec, srv->max_message_size);
}

/* ---- nghttp2 callbacks -------------------------------------------------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
        struct conn *c = user_data;
        struct stream *s;

        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
                return 0;
        s = xzalloc(sizeof(*s));
        s->conn = c;
        s->id = frame->hd.stream_id;
        s->next = c->streams;
        if (c->streams)
                c->streams->prev = s;
        c->streams = s;
        nghttp2_session_set_stream_user_data(session, s->id, s);
        return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
        struct stream *s;
        char **slot = NULL;

        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
                return 0;
        s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (!s)
                return 0;

#define HEADER_IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
        if (HEADER_IS(":method"))
                slot = &s->method;
        else if (HEADER_IS(":path"))
                slot = &s->path;
        else if (HEADER_IS("content-type"))
                slot = &s->content_type;
        else if (HEADER_IS("grpc-encoding"))
                slot = &s->encoding;
        else if (HEADER_IS("grpc-timeout"))
                slot = &s->timeout;
#undef HEADER_IS
        if (slot) {
                free(*slot);
                *slot = xstrndup((const char *) value, valuelen);
        }
        return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
        struct stream *s;

        if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
                return 0;
        s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (!s)
                return 0;
        if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
                stream_request_headers(s);
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
                stream_request_end(s);
        return 0;
}

static int on_data_chunk_recv(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
                              size_t len, void *user_data)
{
        struct stream *s = nghttp2_session_get_stream_user_data(session, stream_id);

        if (s)
                stream_request_data(s, data, len);
        return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
        struct stream *s;

        /* Early server closure (gRPC over HTTP/2): a status sent before the
         * client finished its request is followed by RST_STREAM(NO_ERROR)
         * so that the client stops sending. */
        if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
                return 0;
        s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (s && !s->remote_closed)
                (void) nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
        return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
        struct stream *s = nghttp2_session_get_stream_user_data(session, stream_id);

        if (!s)
                return 0;
        if (!s->responded && error_code != NGHTTP2_NO_ERROR)
                ocid_log(OCID_LOG_DEBUG, "%s: stream %" PRId32 " reset by the client (%s)",
                         s->m ? s->m->name : "request", stream_id, nghttp2_http2_strerror(error_code));
        nghttp2_session_set_stream_user_data(session, stream_id, NULL);
        stream_free(s);
        return 0;
}

/* ---- connections -------------------------------------------------------- */

static void conn_update_reading(struct conn *c);

static void conn_write_cb(uv_write_t *req, int status)
{
        struct conn_write *w = req->data;
        struct conn *c = w->conn;

        c->write_pending -= w->len;
        free(w->data);
        free(w);
        if (status < 0) {
                if (status != UV_ECANCELED)
                        ocid_log(OCID_LOG_DEBUG, "connection write failed: %s", uv_strerror(status));
                conn_close(c);
                return;
        }
        conn_flush(c);
}

static int conn_write(struct conn *c, uint8_t *data, size_t len)
{
        struct conn_write *w = xzalloc(sizeof(*w));
        uv_buf_t buf = uv_buf_init((char *) data, (unsigned) len);
        int r;

        w->req.data = w;
        w->conn = c;
        w->len = len;
        w->data = data;
        r = uv_write(&w->req, (uv_stream_t *) &c->pipe, &buf, 1, conn_write_cb);
        if (r < 0) {
                free(w->data);
                free(w);
                return r;
        }
        c->write_pending += len;
        return 0;
}

/* Hands everything nghttp2 wants to send to the socket, within the
 * backpressure limit; closes the connection once nghttp2 is done with it. */
static void conn_flush(struct conn *c)
{
        if (c->closing)
                return;

        while (c->write_pending < CONN_WRITE_HIGH) {
                uint8_t *buf = NULL;
                size_t len = 0, alloc = 0;

                while (len < CONN_WRITE_CHUNK) {
                        const uint8_t *p;
                        ssize_t n = nghttp2_session_mem_send(c->session, &p);

                        if (n < 0) {
                                ocid_log(OCID_LOG_DEBUG, "HTTP/2 send failed: %s", nghttp2_strerror((int) n));
                                free(buf);
                                conn_close(c);
                                return;
                        }
                        if (n == 0)
                                break;
                        if (len + (size_t) n > alloc) {
                                alloc = len + (size_t) n > CONN_WRITE_CHUNK ? len + (size_t) n : CONN_WRITE_CHUNK;
                                buf = xrealloc(buf, alloc);
                        }
                        memcpy(buf + len, p, (size_t) n);
                        len += (size_t) n;
                }
                if (len == 0)
                        break;
                if (conn_write(c, buf, len) < 0) {
                        conn_close(c);
                        return;
                }
        }

        if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session) &&
            c->write_pending == 0) {
                conn_close(c);
                return;
        }
        conn_update_reading(c);
}

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        struct conn *c = h->data;

        *buf = uv_buf_init((char *) c->readbuf, sizeof(c->readbuf));
}

static void conn_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
        struct conn *c = stream->data;
        ssize_t n;

        if (nread == 0)
                return;
        if (nread < 0) {
                if (nread != UV_EOF)
                        ocid_log(OCID_LOG_DEBUG, "connection read failed: %s", uv_strerror((int) nread));
                conn_close(c);
                return;
        }
        n = nghttp2_session_mem_recv(c->session, (const uint8_t *) buf->base, (size_t) nread);
        if (n < 0) {
                /* Not HTTP/2, or a fatal protocol error: say GOAWAY if the
                 * session still can, then drop the connection. */
                ocid_log(OCID_LOG_DEBUG, "dropping a connection: %s", nghttp2_strerror((int) n));
                (void) nghttp2_session_terminate_session(c->session, NGHTTP2_PROTOCOL_ERROR);
                uv_read_stop(stream);
                c->reading = false;
        }
        conn_flush(c);
}

static void conn_update_reading(struct conn *c)
{
        bool want = nghttp2_session_want_read(c->session) && c->write_pending < CONN_WRITE_HIGH;

        if (want && !c->reading) {
                if (uv_read_start((uv_stream_t *) &c->pipe, conn_alloc_cb, conn_read_cb) == 0)
                        c->reading = true;
        } else if (!want && c->reading) {
                uv_read_stop((uv_stream_t *) &c->pipe);
                c->reading = false;
        }
}

static void conn_closed_cb(uv_handle_t *h)
{
        struct conn *c = h->data;
        struct server *srv = c->srv;

        nghttp2_session_del(c->session);
        if (c->prev)
                c->prev->next = c->next;
        else
                srv->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        srv->n_conns--;
        free(c);
        ocid_log(OCID_LOG_TRACE, "connection closed, %zu left", srv->n_conns);
        server_maybe_finish(srv);
}

static void conn_close(struct conn *c)
{
        if (c->closing)
                return;
        c->closing = true;
        while (c->streams)
                stream_free(c->streams);
        uv_close((uv_handle_t *) &c->pipe, conn_closed_cb);
}

static void server_connection_cb(uv_stream_t *listener, int status)
{
        struct server *srv = listener->data;
        nghttp2_settings_entry settings[] = {
                { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, SERVER_MAX_CONCURRENT_STREAMS },
                { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0 },
                { NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, SERVER_MAX_HEADER_LIST },
        };
        size_t window = srv->max_message_size + GRPC_FRAME_HEADER_SIZE;
        struct conn *c;
        int r;

        if (status < 0) {
                ocid_log(OCID_LOG_WARNING, "accepting a connection failed: %s, ignoring", uv_strerror(status));
                return;
        }

        c = xzalloc(sizeof(*c));
        c->srv = srv;
        uv_pipe_init(srv->loop, &c->pipe, 0);
        c->pipe.data = c;
        r = uv_accept(listener, (uv_stream_t *) &c->pipe);
        if (r < 0) {
                ocid_log(OCID_LOG_WARNING, "accepting a connection failed: %s, ignoring", uv_strerror(r));
                /* pipe is the first member: freeing the handle frees c. */
                uv_close((uv_handle_t *) &c->pipe, handle_free_cb);
                return;
        }
        c->next = srv->conns;
        if (srv->conns)
                srv->conns->prev = c;
        srv->conns = c;
        srv->n_conns++;

        r = nghttp2_session_server_new2(&c->session, srv->callbacks, c, srv->option);
        if (r != 0)
                abort();        /* only fails on OOM */
        settings[1].value = window > NGHTTP2_MAX_WINDOW_SIZE ? NGHTTP2_MAX_WINDOW_SIZE : (uint32_t) window;
        (void) nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, ELEMENTSOF(settings));
        (void) nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, SERVER_CONNECTION_WINDOW);
        ocid_log(OCID_LOG_TRACE, "connection accepted, %zu open", srv->n_conns);
        if (srv->shutdown_phase > 0)
                (void) nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
        conn_flush(c);
}

/* ---- server ------------------------------------------------------------- */

int server_new(uv_loop_t *loop, const struct server_env *env, const struct server_options *opts,
               struct server **ret, struct ocid_error **err)
{
        struct server *s = xzalloc(sizeof(*s));
        int r;

        s->loop = loop;
        s->env = env;
        s->listen_path = xstrdup(opts->listen);
        s->max_message_size = opts->max_message_size;
        s->shutdown_grace_ns = opts->shutdown_grace_ns > 0 ? opts->shutdown_grace_ns
                                                          : SERVER_DEFAULT_SHUTDOWN_GRACE_NS;
        pthread_mutex_init(&s->pending_lock, NULL);

        r = cri_register(&s->methods, err);
        if (r >= 0 && opts->test_service)
                r = selftest_register(&s->methods, err);
        if (r < 0) {
                server_free(s);
                return r;
        }

        if (nghttp2_session_callbacks_new(&s->callbacks) != 0 || nghttp2_option_new(&s->option) != 0)
                abort();
        nghttp2_session_callbacks_set_on_begin_headers_callback(s->callbacks, on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(s->callbacks, on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(s->callbacks, on_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(s->callbacks, on_data_chunk_recv);
        nghttp2_session_callbacks_set_on_frame_send_callback(s->callbacks, on_frame_send);
        nghttp2_session_callbacks_set_on_stream_close_callback(s->callbacks, on_stream_close);

        uv_async_init(loop, &s->async, server_async_cb);
        s->async.data = s;
        uv_timer_init(loop, &s->timer);
        s->timer.data = s;
        s->handles_open = true;

        *ret = s;
        return 0;
}

int server_listen(struct server *s, struct ocid_error **err)
{
        _cleanup_free_ char *dir_buf = xstrdup(s->listen_path);
        const char *dir = dirname(dir_buf);
        mode_t old_umask;
        int r;

        r = ocid_mkdir_p(dir, 0700, err);
        if (r < 0)
                return ocid_error_prefix(err, "create the socket directory");

        r = uv_pipe_init(s->loop, &s->listener, 0);
        if (r < 0)
                return ocid_error_set(err, -r, "create the listening socket");
        s->listener.data = s;
        s->listener_open = true;

        /* The socket is created by bind(): no moment with a wider mode. */
        old_umask = umask(0177);
        r = uv_pipe_bind(&s->listener, s->listen_path);
        umask(old_umask);
        if (r < 0)
                return ocid_error_set(err, -r, "bind '%s'", s->listen_path);
        if (chmod(s->listen_path, 0600) < 0)
                return ocid_error_set(err, errno, "chmod '%s'", s->listen_path);
        r = uv_listen((uv_stream_t *) &s->listener, 511, server_connection_cb);
        if (r < 0)
                return ocid_error_set(err, -r, "listen on '%s'", s->listen_path);
        return 0;
}

const struct server_methods *server_get_methods(const struct server *s)
{
        return &s->methods;
}

size_t server_count_connections(const struct server *s)
{
        return s->n_conns;
}

static void server_close_listener(struct server *s)
{
        if (s->listener_open) {
                s->listener_open = false;
                uv_close((uv_handle_t *) &s->listener, NULL);
        }
}

static void server_close_handles(struct server *s)
{
        if (!s->handles_open)
                return;
        s->handles_open = false;
        pthread_mutex_lock(&s->pending_lock);
        s->async_closed = true;
        for (size_t i = 0; i < s->n_pending; i++)
                server_call_unref(s->pending[i]);
        free(s->pending);
        s->pending = NULL;
        s->n_pending = s->n_pending_alloc = 0;
        pthread_mutex_unlock(&s->pending_lock);
        uv_close((uv_handle_t *) &s->async, NULL);
        uv_close((uv_handle_t *) &s->timer, NULL);
}

static void server_maybe_finish(struct server *s)
{
        if (s->shutdown_phase == 0 || s->n_conns > 0 || s->done_called)
                return;
        s->done_called = true;
        server_close_handles(s);
        if (s->shutdown_done)
                s->shutdown_done(s, s->shutdown_userdata);
}

static void server_cancel_all(struct server *s)
{
        for (struct conn *c = s->conns, *next; c; c = next) {
                next = c->next;
                for (struct stream *st = c->streams; st; st = st->next)
                        stream_finish_early(st, GRPC_STATUS_UNAVAILABLE, "ocid is shutting down");
                conn_flush(c);
        }
}

static void server_timer_cb(uv_timer_t *t)
{
        struct server *s = t->data;

        if (s->shutdown_phase == 1) {
                ocid_log(OCID_LOG_WARNING, "calls still running after the shutdown grace period, cancelling them");
                s->shutdown_phase = 2;
                server_cancel_all(s);
                uv_timer_start(&s->timer, server_timer_cb, SERVER_FORCE_CLOSE_MS, 0);
        } else if (s->shutdown_phase == 2) {
                s->shutdown_phase = 3;
                for (struct conn *c = s->conns; c; c = c->next)
                        conn_close(c);
        }
}

void server_shutdown(struct server *s, void (*done)(struct server *s, void *userdata), void *userdata)
{
        if (s->shutdown_phase > 0) {
                /* Asked again: do not wait for the grace period. */
                if (s->shutdown_phase == 1 && s->handles_open) {
                        uv_timer_stop(&s->timer);
                        server_timer_cb(&s->timer);
                }
                return;
        }
        s->shutdown_phase = 1;
        s->shutdown_done = done;
        s->shutdown_userdata = userdata;
        server_close_listener(s);

        for (struct conn *c = s->conns, *next; c; c = next) {
                next = c->next;
                (void) nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                                             nghttp2_session_get_last_proc_stream_id(c->session),
                                             NGHTTP2_NO_ERROR, NULL, 0);
                conn_flush(c);
        }
        uv_timer_start(&s->timer, server_timer_cb, (uint64_t) (s->shutdown_grace_ns / 1000000), 0);
        server_maybe_finish(s);
}

struct server *server_free(struct server *s)
{
        if (!s)
                return NULL;
        server_methods_done(&s->methods);
        if (s->callbacks)
                nghttp2_session_callbacks_del(s->callbacks);
        if (s->option)
                nghttp2_option_del(s->option);
        for (size_t i = 0; i < s->n_pending; i++)
                server_call_unref(s->pending[i]);
        free(s->pending);
        pthread_mutex_destroy(&s->pending_lock);
        free(s->listen_path);
        free(s);
        return NULL;
}
