/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* gRPC length-prefixed messages: 1 byte compressed flag, 4 bytes big-endian
 * length, then the message. DATA frame boundaries have no relation to
 * message boundaries, so the decoder accepts input in arbitrary chunks. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ocid_error;

#define GRPC_FRAME_HEADER_SIZE 5

struct grpc_decoder {
        size_t max;             /* largest message accepted */
        uint8_t header[GRPC_FRAME_HEADER_SIZE];
        size_t header_len;      /* header bytes collected so far */
        uint8_t *buf;           /* the message being collected */
        size_t len;             /* bytes of it collected */
        size_t want;            /* its announced length */
        size_t alloc;
        bool in_message;        /* header complete, body pending */
        bool failed;
};

/* Called for each complete message; takes ownership of data (a malloc'd
 * buffer, never NULL, even for an empty message). A negative return stops
 * decoding and is returned by grpc_decoder_feed. */
typedef int (*grpc_message_fn)(uint8_t *data, size_t len, void *userdata, struct ocid_error **err);

void grpc_decoder_init(struct grpc_decoder *d, size_t max);
void grpc_decoder_done(struct grpc_decoder *d);

/* Feeds bytes. Errors: -EMSGSIZE as soon as a header announces more than
 * max bytes (nothing of that message is buffered), -EPROTO for a compressed
 * flag other than 0 (ocid accepts no message encoding). After an error the
 * decoder refuses further input with -EPROTO. */
int grpc_decoder_feed(struct grpc_decoder *d, const uint8_t *data, size_t len,
                      grpc_message_fn fn, void *userdata, struct ocid_error **err);

/* True when no partial message is pending (between messages). */
bool grpc_decoder_is_idle(const struct grpc_decoder *d);

/* Writes the 5-byte prefix of an uncompressed message of len bytes. */
void grpc_frame_header(uint8_t out[GRPC_FRAME_HEADER_SIZE], uint32_t len);
