/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <nghttp2/nghttp2.h>

#include <ocid/cleanup.h>
#include <ocid/util.h>

#include "server/grpc.h"
#include "h2-client.h"

struct h2_body {
        uint8_t *data;
        size_t len, off;
};

struct h2_stream {
        struct h2_response r;
        struct h2_body body;
        struct h2_stream *next;
};

struct h2_client {
        int fd;
        nghttp2_session *session;
        struct h2_stream *streams;
        bool eof;
        bool goaway;
};

static struct h2_stream *find_stream(struct h2_client *c, int32_t id)
{
        for (struct h2_stream *s = c->streams; s; s = s->next)
                if (s->r.stream_id == id)
                        return s;
        return NULL;
}

struct h2_response *h2_client_response(struct h2_client *c, int32_t stream_id)
{
        struct h2_stream *s = find_stream(c, stream_id);

        return s ? &s->r : NULL;
}

/* A numeric header value; -2 when it is not a number. */
static int header_int(const char *v)
{
        int64_t n;

        return ocid_parse_int64(v, &n) < 0 || n < 0 || n > 999 ? -2 : (int) n;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
        struct h2_stream *s = find_stream(user_data, frame->hd.stream_id);
        _cleanup_free_ char *v = xstrndup((const char *) value, valuelen);

        if (!s)
                return 0;
        if (namelen == 7 && memcmp(name, ":status", 7) == 0)
                s->r.http_status = header_int(v);
        else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
                s->r.grpc_status = header_int(v);
        else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
                free(s->r.grpc_message);
                s->r.grpc_message = grpc_percent_decode(v);
        }
        return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
        struct h2_client *c = user_data;
        struct h2_stream *s;

        if (frame->hd.type == NGHTTP2_GOAWAY)
                c->goaway = true;
        s = find_stream(c, frame->hd.stream_id);
        if (!s)
                return 0;
        if (frame->hd.type == NGHTTP2_HEADERS)
                s->r.n_header_blocks++;
        if (frame->hd.type == NGHTTP2_RST_STREAM)
                s->r.reset_by_server = true;
        return 0;
}

static int on_data(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
                   void *user_data)
{
        struct h2_stream *s = find_stream(user_data, stream_id);

        if (!s)
                return 0;
        s->r.body = xrealloc(s->r.body, s->r.body_len + len + 1);
        memcpy(s->r.body + s->r.body_len, data, len);
        s->r.body_len += len;
        return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
        struct h2_stream *s = find_stream(user_data, stream_id);

        if (s) {
                s->r.closed = true;
                s->r.close_code = error_code;
        }
        return 0;
}

static ssize_t body_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
        struct h2_stream *s = source->ptr;
        size_t n = s->body.len - s->body.off;

        if (n > length)
                n = length;
        memcpy(buf, s->body.data + s->body.off, n);
        s->body.off += n;
        if (s->body.off == s->body.len)
                *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t) n;
}

static ssize_t body_read_open(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                              uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
        struct h2_stream *s = source->ptr;
        size_t n = s->body.len - s->body.off;

        if (n == 0)
                return NGHTTP2_ERR_DEFERRED;
        if (n > length)
                n = length;
        memcpy(buf, s->body.data + s->body.off, n);
        s->body.off += n;
        return (ssize_t) n;
}

struct h2_client *h2_client_connect(const char *socket_path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        nghttp2_session_callbacks *cbs;
        struct h2_client *c = xzalloc(sizeof(*c));
        nghttp2_settings_entry iv[] = {
                { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000 },
                { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16 * 1024 * 1024 },
        };

        strncat(sa.sun_path, socket_path, sizeof(sa.sun_path) - 1);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (c->fd >= 0)
                        close(c->fd);
                free(c);
                return NULL;
        }
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
        nghttp2_session_client_new(&c->session, cbs, c);
        nghttp2_session_callbacks_del(cbs);
        nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, ELEMENTSOF(iv));
        nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, 64 * 1024 * 1024);
        return c;
}

void h2_client_free(struct h2_client *c)
{
        if (!c)
                return;
        nghttp2_session_del(c->session);
        while (c->streams) {
                struct h2_stream *s = c->streams;

                c->streams = s->next;
                free(s->r.grpc_message);
                free(s->r.body);
                free(s->body.data);
                free(s);
        }
        close(c->fd);
        free(c);
}

#define NVS(n, v) { (uint8_t *) (n), (uint8_t *) (v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE }

int32_t h2_client_request(struct h2_client *c, const char *path, const char *content_type,
                          const char *timeout, const uint8_t *body, size_t len, bool keep_open)
{
        struct h2_stream *s = xzalloc(sizeof(*s));
        nghttp2_nv nva[8] = {
                NVS(":method", "POST"),
                NVS(":scheme", "http"),
                NVS(":authority", "localhost"),
                NVS(":path", path),
                NVS("te", "trailers"),
        };
        size_t n = 5;
        nghttp2_data_provider prd = { .source.ptr = s, .read_callback = keep_open ? body_read_open : body_read };

        if (content_type)
                nva[n++] = (nghttp2_nv) NVS("content-type", content_type);
        if (timeout)
                nva[n++] = (nghttp2_nv) NVS("grpc-timeout", timeout);
        s->body.data = xmalloc(len + 1);
        if (len)
                memcpy(s->body.data, body, len);
        s->body.len = len;
        s->r.grpc_status = -1;
        s->r.stream_id = nghttp2_submit_request(c->session, NULL, nva, n, &prd, s);
        s->next = c->streams;
        c->streams = s;
        return s->r.stream_id;
}

int32_t h2_client_call(struct h2_client *c, const char *path, const ProtobufCMessage *msg, const char *timeout)
{
        size_t len = protobuf_c_message_get_packed_size(msg);
        _cleanup_free_ uint8_t *buf = xmalloc(len + 5);

        buf[0] = 0;
        buf[1] = (uint8_t) (len >> 24);
        buf[2] = (uint8_t) (len >> 16);
        buf[3] = (uint8_t) (len >> 8);
        buf[4] = (uint8_t) len;
        protobuf_c_message_pack(msg, buf + 5);
        return h2_client_request(c, path, "application/grpc", timeout, buf, len + 5, false);
}

void h2_client_cancel(struct h2_client *c, int32_t stream_id)
{
        nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
}

static void write_all(struct h2_client *c, const uint8_t *p, size_t len)
{
        while (len > 0) {
                ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        c->eof = true;
                        return;
                }
                p += n;
                len -= (size_t) n;
        }
}

void h2_client_send_raw(struct h2_client *c, const void *data, size_t len)
{
        write_all(c, data, len);
}

static void flush(struct h2_client *c)
{
        for (;;) {
                const uint8_t *p;
                ssize_t n = nghttp2_session_mem_send(c->session, &p);

                if (n <= 0)
                        return;
                write_all(c, p, (size_t) n);
        }
}

static bool stream_done(struct h2_client *c, int32_t stream_id)
{
        if (stream_id > 0) {
                struct h2_stream *s = find_stream(c, stream_id);

                return !s || s->r.closed;
        }
        for (struct h2_stream *s = c->streams; s; s = s->next)
                if (!s->r.closed)
                        return false;
        return true;
}

int h2_client_wait(struct h2_client *c, int32_t stream_id, int timeout_ms)
{
        int64_t deadline = ocid_now_monotonic_ns() + (int64_t) timeout_ms * 1000000;
        uint8_t buf[65536];

        for (;;) {
                struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
                int64_t left;
                ssize_t n;

                flush(c);
                if (stream_done(c, stream_id))
                        return 0;
                if (c->eof)
                        return -EPIPE;
                left = (deadline - ocid_now_monotonic_ns()) / 1000000;
                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&pfd, 1, (int) left) <= 0)
                        continue;
                n = recv(c->fd, buf, sizeof(buf), 0);
                if (n <= 0) {
                        c->eof = true;
                        continue;
                }
                if (nghttp2_session_mem_recv(c->session, buf, (size_t) n) < 0)
                        c->eof = true;
        }
}

int h2_client_wait_eof(struct h2_client *c, int timeout_ms)
{
        int64_t deadline = ocid_now_monotonic_ns() + (int64_t) timeout_ms * 1000000;
        uint8_t buf[65536];

        while (!c->eof) {
                struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
                int64_t left = (deadline - ocid_now_monotonic_ns()) / 1000000;
                ssize_t n;

                flush(c);
                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&pfd, 1, (int) left) <= 0)
                        continue;
                n = recv(c->fd, buf, sizeof(buf), 0);
                if (n <= 0)
                        c->eof = true;
                else if (nghttp2_session_mem_recv(c->session, buf, (size_t) n) < 0)
                        c->eof = true;
        }
        return 0;
}

bool h2_client_got_goaway(struct h2_client *c)
{
        return c->goaway;
}

bool h2_client_eof(struct h2_client *c)
{
        return c->eof;
}

size_t h2_response_count_messages(const struct h2_response *r)
{
        size_t n = 0, off = 0;

        while (off + 5 <= r->body_len) {
                size_t len = (size_t) r->body[off + 1] << 24 | (size_t) r->body[off + 2] << 16 |
                             (size_t) r->body[off + 3] << 8 | r->body[off + 4];

                if (off + 5 + len > r->body_len)
                        break;
                off += 5 + len;
                n++;
        }
        return n;
}

ProtobufCMessage *h2_response_message(const struct h2_response *r, size_t idx,
                                      const ProtobufCMessageDescriptor *desc)
{
        size_t off = 0;

        for (size_t i = 0; off + 5 <= r->body_len; i++) {
                size_t len = (size_t) r->body[off + 1] << 24 | (size_t) r->body[off + 2] << 16 |
                             (size_t) r->body[off + 3] << 8 | r->body[off + 4];

                if (off + 5 + len > r->body_len)
                        return NULL;
                if (i == idx)
                        return protobuf_c_message_unpack(desc, NULL, len, r->body + off + 5);
                off += 5 + len;
        }
        return NULL;
}
