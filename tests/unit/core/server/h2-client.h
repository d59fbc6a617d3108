/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A small synchronous HTTP/2 client (nghttp2 client session on a blocking
 * unix socket) for the server's end-to-end unit tests. It speaks raw gRPC
 * framing so that tests can send malformed requests too. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

struct h2_client;

struct h2_response {
        int32_t stream_id;
        int http_status;        /* 0 until response headers arrive */
        int grpc_status;        /* -1 when absent */
        char *grpc_message;     /* percent-decoded; NULL when absent */
        uint8_t *body;          /* the DATA bytes (framed messages) */
        size_t body_len;
        unsigned n_header_blocks;
        bool closed;            /* the stream is closed */
        uint32_t close_code;    /* its HTTP/2 error code (0 = NO_ERROR) */
        bool reset_by_server;   /* RST_STREAM received */
};

/* Connects to the unix socket and sends the preface and SETTINGS. */
struct h2_client *h2_client_connect(const char *socket_path);
void h2_client_free(struct h2_client *c);

/* Starts a POST request with the given body (sent in full, then END_STREAM
 * unless keep_open). NULL content_type / timeout leave the header out.
 * Returns the stream id (> 0). */
int32_t h2_client_request(struct h2_client *c, const char *path, const char *content_type,
                          const char *timeout, const uint8_t *body, size_t len, bool keep_open);

/* Frames msg as one gRPC message and sends it to path (application/grpc). */
int32_t h2_client_call(struct h2_client *c, const char *path, const ProtobufCMessage *msg, const char *timeout);

/* Sends RST_STREAM(CANCEL) for a stream. */
void h2_client_cancel(struct h2_client *c, int32_t stream_id);

/* Sends raw bytes on the socket, bypassing nghttp2. */
void h2_client_send_raw(struct h2_client *c, const void *data, size_t len);

/* Pumps I/O until the stream closes (stream_id 0: until every stream is
 * closed), the connection ends, or timeout_ms passes. Returns 0 when done,
 * -ETIMEDOUT, or -EPIPE when the connection ended first. */
int h2_client_wait(struct h2_client *c, int32_t stream_id, int timeout_ms);

/* Pumps I/O until the server closes the connection: 0, or -ETIMEDOUT. */
int h2_client_wait_eof(struct h2_client *c, int timeout_ms);

/* True once the server closed the connection or sent GOAWAY. */
bool h2_client_got_goaway(struct h2_client *c);
bool h2_client_eof(struct h2_client *c);

/* The response of a stream started by this client. */
struct h2_response *h2_client_response(struct h2_client *c, int32_t stream_id);

/* Splits a response body into its gRPC messages and unpacks message idx
 * (0-based) with desc; NULL when absent or malformed. Count with
 * h2_response_count_messages(). */
size_t h2_response_count_messages(const struct h2_response *r);
ProtobufCMessage *h2_response_message(const struct h2_response *r, size_t idx,
                                      const ProtobufCMessageDescriptor *desc);
