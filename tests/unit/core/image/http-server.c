/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ocid/util.h>

#include "http-server.h"

#define MAX_HEAD (64 * 1024)

struct conn {
        struct conn *next;
        pthread_t thread;
        int fd;
        struct http_server *server;
};

struct http_server {
        int listen_fd;
        int port;
        int stop_pipe[2];
        pthread_t accept_thread;
        http_handler_fn fn;
        void *userdata;
        pthread_mutex_t lock;
        struct conn *conns;
};

const char *http_request_header(const struct http_request *r, const char *name)
{
        for (size_t i = 0; i < r->n_headers; i++)
                if (strcasecmp(r->names[i], name) == 0)
                        return r->values[i];
        return NULL;
}

void http_response_set(struct http_response *resp, int status, const char *body, size_t len)
{
        resp->status = status;
        free(resp->body);
        resp->body = xmalloc(len + 1);
        memcpy(resp->body, body, len);
        resp->body[len] = '\0';
        resp->body_len = len;
}

void http_response_add_header(struct http_response *resp, const char *fmt, ...)
{
        va_list ap;
        char *line, *joined;

        va_start(ap, fmt);
        if (vasprintf(&line, fmt, ap) < 0)
                abort();
        va_end(ap);
        joined = xasprintf("%s%s\r\n", resp->headers ? resp->headers : "", line);
        free(line);
        free(resp->headers);
        resp->headers = joined;
}

static bool send_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return false;
                }
                p += w;
                n -= (size_t) w;
        }
        return true;
}

static void request_free(struct http_request *r)
{
        free(r->target);
        for (size_t i = 0; i < r->n_headers; i++) {
                free(r->names[i]);
                free(r->values[i]);
        }
        free(r->names);
        free(r->values);
        free(r->body);
}

/* Reads one request; false when the peer sent something that is not
 * HTTP (a TLS ClientHello, when a client tries https first). */
static bool read_request(int fd, struct http_request *req)
{
        char *buf = xmalloc(MAX_HEAD + 1), *end, *line, *save = NULL;
        size_t len = 0, have_body, want = 0;
        const char *cl;

        for (;;) {
                ssize_t n;

                if (len == MAX_HEAD)
                        goto fail;
                n = recv(fd, buf + len, MAX_HEAD - len, 0);
                if (n <= 0)
                        goto fail;
                len += (size_t) n;
                buf[len] = '\0';
                if (buf[0] < 'A' || buf[0] > 'Z')
                        goto fail;
                end = strstr(buf, "\r\n\r\n");
                if (end)
                        break;
        }
        *end = '\0';
        line = strtok_r(buf, "\r\n", &save);
        if (!line)
                goto fail;
        {
                char *sp1 = strchr(line, ' '), *sp2;
                if (!sp1 || (size_t) (sp1 - line) >= sizeof(req->method))
                        goto fail;
                memcpy(req->method, line, (size_t) (sp1 - line));
                req->method[sp1 - line] = '\0';
                sp2 = strchr(sp1 + 1, ' ');
                if (!sp2)
                        goto fail;
                req->target = xstrndup(sp1 + 1, (size_t) (sp2 - sp1 - 1));
        }
        while ((line = strtok_r(NULL, "\r\n", &save))) {
                char *colon = strchr(line, ':'), *v;
                if (!colon)
                        continue;
                *colon = '\0';
                v = colon + 1;
                while (*v == ' ')
                        v++;
                req->names = xreallocarray(req->names, req->n_headers + 1, sizeof(char *));
                req->values = xreallocarray(req->values, req->n_headers + 1, sizeof(char *));
                req->names[req->n_headers] = xstrdup(line);
                req->values[req->n_headers] = xstrdup(v);
                req->n_headers++;
        }
        cl = http_request_header(req, "Content-Length");
        if (cl)
                want = (size_t) strtoul(cl, NULL, 10);
        req->body = xmalloc(want + 1);
        have_body = len - (size_t) (end + 4 - buf);
        if (have_body > want)
                have_body = want;
        memcpy(req->body, end + 4, have_body);
        while (have_body < want) {
                ssize_t n = recv(fd, req->body + have_body, want - have_body, 0);
                if (n <= 0)
                        goto fail;
                have_body += (size_t) n;
        }
        req->body[want] = '\0';
        req->body_len = want;
        free(buf);
        return true;
fail:
        free(buf);
        return false;
}

static const char *reason(int status)
{
        switch (status) {
        case 200: return "OK";
        case 307: return "Temporary Redirect";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        default: return "Status";
        }
}

static void *conn_main(void *arg)
{
        struct conn *c = arg;
        struct http_request req = { 0 };
        struct http_response resp = { .status = 500 };

        if (read_request(c->fd, &req)) {
                char *head;
                size_t n;

                c->server->fn(&req, &resp, c->server->userdata);
                head = xasprintf("HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", resp.status,
                                 reason(resp.status), resp.body_len, resp.headers ? resp.headers : "");
                if (send_all(c->fd, head, strlen(head)) && !streq(req.method, "HEAD")) {
                        n = resp.truncate_at > 0 && resp.truncate_at < resp.body_len ? resp.truncate_at
                                                                                      : resp.body_len;
                        (void) send_all(c->fd, resp.body ? resp.body : "", n);
                }
                free(head);
                if (resp.stall_ms > 0) {
                        /* hold the connection open, silent, until the
                         * client gives up or the time is over */
                        struct pollfd p = { c->fd, POLLIN | POLLRDHUP, 0 };
                        (void) poll(&p, 1, resp.stall_ms);
                }
        }
        request_free(&req);
        free(resp.headers);
        free(resp.body);
        shutdown(c->fd, SHUT_RDWR);
        close(c->fd);
        return NULL;
}

static void *accept_main(void *arg)
{
        struct http_server *s = arg;

        for (;;) {
                struct pollfd p[2] = { { s->listen_fd, POLLIN, 0 }, { s->stop_pipe[0], POLLIN, 0 } };
                struct conn *c;
                int fd;

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return NULL;
                }
                if (p[1].revents)
                        return NULL;
                fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                c = xzalloc(sizeof(*c));
                c->fd = fd;
                c->server = s;
                pthread_mutex_lock(&s->lock);
                c->next = s->conns;
                s->conns = c;
                pthread_mutex_unlock(&s->lock);
                if (pthread_create(&c->thread, NULL, conn_main, c) != 0)
                        abort();
        }
}

struct http_server *http_server_start(http_handler_fn fn, void *userdata, const char *addr)
{
        struct http_server *s = xzalloc(sizeof(*s));
        struct sockaddr_in a = { .sin_family = AF_INET };
        socklen_t alen = sizeof(a);
        int one = 1;

        if (inet_pton(AF_INET, addr ? addr : "127.0.0.1", &a.sin_addr) != 1)
                abort();
        s->fn = fn;
        s->userdata = userdata;
        pthread_mutex_init(&s->lock, NULL);
        s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s->listen_fd < 0 || setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(s->listen_fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(s->listen_fd, 64) < 0 ||
            getsockname(s->listen_fd, (struct sockaddr *) &a, &alen) < 0 || pipe2(s->stop_pipe, O_CLOEXEC) < 0)
                abort();
        s->port = ntohs(a.sin_port);
        if (pthread_create(&s->accept_thread, NULL, accept_main, s) != 0)
                abort();
        return s;
}

int http_server_port(const struct http_server *s)
{
        return s->port;
}

void http_server_stop(struct http_server *s)
{
        if (!s)
                return;
        if (write(s->stop_pipe[1], "x", 1) != 1)
                abort();
        pthread_join(s->accept_thread, NULL);
        while (s->conns) {
                struct conn *c = s->conns;
                s->conns = c->next;
                pthread_join(c->thread, NULL);
                free(c);
        }
        close(s->listen_fd);
        close(s->stop_pipe[0]);
        close(s->stop_pipe[1]);
        pthread_mutex_destroy(&s->lock);
        free(s);
}
