/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "server/frame.h"

/* The first allocation for a message body; it grows as data arrives, so a
 * header announcing a large message costs nothing until the bytes come. */
#define DECODER_INITIAL_ALLOC (64 * 1024)

void grpc_decoder_init(struct grpc_decoder *d, size_t max)
{
        *d = (struct grpc_decoder) { .max = max };
}

void grpc_decoder_done(struct grpc_decoder *d)
{
        free(d->buf);
        d->buf = NULL;
        d->len = d->alloc = d->want = 0;
        d->in_message = false;
}

bool grpc_decoder_is_idle(const struct grpc_decoder *d)
{
        return d->header_len == 0 && !d->in_message;
}

void grpc_frame_header(uint8_t out[GRPC_FRAME_HEADER_SIZE], uint32_t len)
{
        out[0] = 0;
        out[1] = (uint8_t) (len >> 24);
        out[2] = (uint8_t) (len >> 16);
        out[3] = (uint8_t) (len >> 8);
        out[4] = (uint8_t) len;
}

static void decoder_fail(struct grpc_decoder *d)
{
        d->failed = true;
        grpc_decoder_done(d);
}

static int decoder_start_message(struct grpc_decoder *d, struct ocid_error **err)
{
        uint8_t flag = d->header[0];
        size_t want = (size_t) d->header[1] << 24 | (size_t) d->header[2] << 16 |
                      (size_t) d->header[3] << 8 | (size_t) d->header[4];

        d->header_len = 0;
        if (flag == 1) {
                decoder_fail(d);
                return ocid_error_msg(err, EPROTO,
                                      "compressed message received, but no message encoding is in use");
        }
        if (flag != 0) {
                decoder_fail(d);
                return ocid_error_msg(err, EPROTO, "invalid compressed flag %u in message prefix", flag);
        }
        if (want > d->max) {
                decoder_fail(d);
                return ocid_error_msg(err, EMSGSIZE,
                                      "message of %zu bytes exceeds the limit of %zu bytes", want, d->max);
        }
        d->want = want;
        d->len = 0;
        d->alloc = want < DECODER_INITIAL_ALLOC ? (want ? want : 1) : DECODER_INITIAL_ALLOC;
        d->buf = xmalloc(d->alloc);
        d->in_message = true;
        return 0;
}

static int decoder_finish_message(struct grpc_decoder *d, grpc_message_fn fn, void *userdata,
                                  struct ocid_error **err)
{
        uint8_t *buf = TAKE_PTR(d->buf);
        size_t len = d->len;

        d->in_message = false;
        d->len = d->alloc = d->want = 0;
        return fn(buf, len, userdata, err);
}

int grpc_decoder_feed(struct grpc_decoder *d, const uint8_t *data, size_t len,
                      grpc_message_fn fn, void *userdata, struct ocid_error **err)
{
        int r;

        if (d->failed)
                return ocid_error_msg(err, EPROTO, "message stream already failed");

        while (len > 0 || (d->in_message && d->len == d->want)) {
                if (!d->in_message) {
                        size_t n = GRPC_FRAME_HEADER_SIZE - d->header_len;

                        if (n > len)
                                n = len;
                        memcpy(d->header + d->header_len, data, n);
                        d->header_len += n;
                        data += n;
                        len -= n;
                        if (d->header_len < GRPC_FRAME_HEADER_SIZE)
                                break;
                        r = decoder_start_message(d, err);
                        if (r < 0)
                                return r;
                        continue;
                }

                if (d->len < d->want) {
                        size_t n = d->want - d->len;

                        if (n > len)
                                n = len;
                        if (d->len + n > d->alloc) {
                                size_t alloc = d->alloc;

                                while (alloc < d->len + n)
                                        alloc = alloc > d->want / 2 ? d->want : alloc * 2;
                                d->buf = xrealloc(d->buf, alloc);
                                d->alloc = alloc;
                        }
                        memcpy(d->buf + d->len, data, n);
                        d->len += n;
                        data += n;
                        len -= n;
                }
                if (d->len == d->want) {
                        r = decoder_finish_message(d, fn, userdata, err);
                        if (r < 0) {
                                decoder_fail(d);
                                return r;
                        }
                }
        }
        return 0;
}
