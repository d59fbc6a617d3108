/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The CRI transport: gRPC over HTTP/2 cleartext (prior knowledge) on a
 * unix socket. Everything here runs on the libuv loop thread that owns the
 * sockets; handlers run on libuv's worker pool and hand their responses back
 * through struct server_call (server/call.h). See docs/cri-server.md. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "server/methods.h"

struct ocid_error;
struct server;

struct server_options {
        const char *listen;             /* socket path */
        size_t max_message_size;        /* receive and send limit per message */
        int64_t shutdown_grace_ns;      /* in-flight calls may finish for this long */
        bool test_service;              /* serve ocid.test.v1.Test as well */
};

#define SERVER_DEFAULT_SHUTDOWN_GRACE_NS (10 * INT64_C(1000000000))

/* Builds the method table; does not listen yet. env must outlive the
 * server. */
int server_new(uv_loop_t *loop, const struct server_env *env, const struct server_options *opts,
               struct server **ret, struct ocid_error **err);

/* Creates the socket's parent directory (0700) if needed, binds the socket
 * (mode 0600) and starts accepting. The path must not exist. */
int server_listen(struct server *s, struct ocid_error **err);

/* Graceful shutdown: stops accepting, sends GOAWAY on every connection and
 * lets in-flight calls finish. After the grace period the remaining calls
 * are cancelled (status UNAVAILABLE) and, a second later, the connections
 * closed. `done` runs on the loop once every connection is gone; the
 * server's handles are closed then, so uv_run returns when the last worker
 * has finished. Calling it again hurries the shutdown: calls are cancelled
 * right away. */
void server_shutdown(struct server *s, void (*done)(struct server *s, void *userdata), void *userdata);

/* The method table (for tests and the daemon's diagnostics). */
const struct server_methods *server_get_methods(const struct server *s);

size_t server_count_connections(const struct server *s);

/* Frees the server once its loop has stopped (after shutdown completed, or
 * if it never listened). */
struct server *server_free(struct server *s);
