/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A tiny HTTP/1.1 server for unit tests: one thread per connection, one
 * request per connection ("Connection: close"), answers from a callback. */

#include <stdbool.h>
#include <stddef.h>

struct http_request {
        char method[16];
        char *target;           /* path and query, as sent */
        size_t n_headers;
        char **names;
        char **values;
        char *body;
        size_t body_len;
};

const char *http_request_header(const struct http_request *r, const char *name);

struct http_response {
        int status;
        char *headers;          /* extra "Name: value\r\n" lines, may be NULL */
        char *body;             /* may be NULL */
        size_t body_len;
        /* misbehaviour: send only the first `truncate_at` bytes of the body
         * (when > 0), then wait up to `stall_ms` (or until the client closes)
         * before closing */
        size_t truncate_at;
        int stall_ms;
};

/* Fills resp (all allocated with malloc; the server frees them). */
typedef void (*http_handler_fn)(const struct http_request *req, struct http_response *resp, void *userdata);

struct http_server;

/* Listens on a free port of IPv4 address `addr` (NULL: 127.0.0.1). */
struct http_server *http_server_start(http_handler_fn fn, void *userdata, const char *addr);
int http_server_port(const struct http_server *s);
/* Stops accepting and waits for every connection thread. */
void http_server_stop(struct http_server *s);

/* Helpers for handlers. */
void http_response_set(struct http_response *resp, int status, const char *body, size_t len);
void http_response_add_header(struct http_response *resp, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
