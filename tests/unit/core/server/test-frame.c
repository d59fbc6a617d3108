/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "../../test-common.h"
#include "server/frame.h"

struct collected {
        uint8_t *msgs[16];
        size_t lens[16];
        size_t n;
        int fail_at;            /* callback fails for message number fail_at (1-based) */
};

static int collect(uint8_t *data, size_t len, void *userdata, struct ocid_error **err)
{
        struct collected *c = userdata;

        assert_non_null(data);
        if (c->fail_at && (int) c->n + 1 == c->fail_at) {
                free(data);
                return ocid_error_msg(err, EPROTO, "callback refused");
        }
        assert_true(c->n < ELEMENTSOF(c->msgs));
        c->msgs[c->n] = data;
        c->lens[c->n] = len;
        c->n++;
        return 0;
}

static void collected_done(struct collected *c)
{
        for (size_t i = 0; i < c->n; i++)
                free(c->msgs[i]);
        c->n = 0;
}

/* Frames a message into out; returns its framed length. */
static size_t frame(uint8_t *out, const void *msg, size_t len)
{
        grpc_frame_header(out, (uint32_t) len);
        memcpy(out + GRPC_FRAME_HEADER_SIZE, msg, len);
        return GRPC_FRAME_HEADER_SIZE + len;
}

static void test_header_encoding(void **state)
{
        uint8_t h[GRPC_FRAME_HEADER_SIZE];

        grpc_frame_header(h, 0x01020304);
        assert_memory_equal(h, ((uint8_t[]) { 0, 1, 2, 3, 4 }), 5);
        grpc_frame_header(h, 0);
        assert_memory_equal(h, ((uint8_t[]) { 0, 0, 0, 0, 0 }), 5);
}

/* Three messages (one empty) fed in every possible pair of chunk splits:
 * the result never depends on where DATA frames cut the stream. */
static void test_every_split(void **state)
{
        uint8_t stream[64];
        size_t len = 0;

        len += frame(stream + len, "hello", 5);
        len += frame(stream + len, "", 0);
        len += frame(stream + len, "gRPC framing", 12);

        for (size_t a = 0; a <= len; a++) {
                for (size_t b = a; b <= len; b++) {
                        _cleanup_error_ struct ocid_error *error = NULL;
                        struct grpc_decoder d;
                        struct collected c = { 0 };

                        grpc_decoder_init(&d, 1024);
                        assert_int_equal(grpc_decoder_feed(&d, stream, a, collect, &c, &error), 0);
                        assert_int_equal(grpc_decoder_feed(&d, stream + a, b - a, collect, &c, &error), 0);
                        assert_int_equal(grpc_decoder_feed(&d, stream + b, len - b, collect, &c, &error), 0);
                        assert_null(error);
                        assert_true(grpc_decoder_is_idle(&d));
                        assert_int_equal(c.n, 3);
                        assert_int_equal(c.lens[0], 5);
                        assert_memory_equal(c.msgs[0], "hello", 5);
                        assert_int_equal(c.lens[1], 0);
                        assert_int_equal(c.lens[2], 12);
                        assert_memory_equal(c.msgs[2], "gRPC framing", 12);
                        collected_done(&c);
                        grpc_decoder_done(&d);
                }
        }
}

static void test_byte_by_byte_large(void **state)
{
        size_t msg_len = 300000;        /* several buffer growths */
        _cleanup_free_ uint8_t *stream = xmalloc(msg_len + GRPC_FRAME_HEADER_SIZE);
        _cleanup_free_ uint8_t *msg = xmalloc(msg_len);
        _cleanup_error_ struct ocid_error *error = NULL;
        struct collected c = { 0 };
        struct grpc_decoder d;
        size_t len;

        for (size_t i = 0; i < msg_len; i++)
                msg[i] = (uint8_t) (i * 7 + 3);
        len = frame(stream, msg, msg_len);
        grpc_decoder_init(&d, msg_len);
        for (size_t i = 0; i < len; i++) {
                assert_int_equal(grpc_decoder_feed(&d, stream + i, 1, collect, &c, &error), 0);
                assert_int_equal(c.n, i + 1 == len ? 1 : 0);
                assert_int_equal(grpc_decoder_is_idle(&d), i + 1 == len || i + 1 == 0);
        }
        assert_int_equal(c.lens[0], msg_len);
        assert_memory_equal(c.msgs[0], msg, msg_len);
        collected_done(&c);
        grpc_decoder_done(&d);
}

/* The limit applies as soon as the prefix is complete: the body is never
 * needed (nor buffered) to refuse it. */
static void test_oversize_at_prefix(void **state)
{
        _cleanup_error_ struct ocid_error *error = NULL;
        uint8_t hdr[GRPC_FRAME_HEADER_SIZE];
        struct collected c = { 0 };
        struct grpc_decoder d;

        grpc_decoder_init(&d, 100);
        grpc_frame_header(hdr, 101);
        assert_int_equal(grpc_decoder_feed(&d, hdr, 4, collect, &c, &error), 0);
        assert_null(error);
        assert_int_equal(grpc_decoder_feed(&d, hdr + 4, 1, collect, &c, &error), -EMSGSIZE);
        assert_non_null(strstr(ocid_error_message(&error), "101 bytes exceeds the limit of 100 bytes"));
        assert_null(d.buf);
        assert_int_equal(c.n, 0);
        ocid_error_clear(&error);
        /* A failed decoder takes nothing more. */
        assert_int_equal(grpc_decoder_feed(&d, (const uint8_t *) "x", 1, collect, &c, &error), -EPROTO);
        grpc_decoder_done(&d);

        /* Exactly at the limit is fine. */
        {
                uint8_t stream[GRPC_FRAME_HEADER_SIZE + 100] = { 0 };

                grpc_decoder_init(&d, 100);
                grpc_frame_header(stream, 100);
                assert_int_equal(grpc_decoder_feed(&d, stream, sizeof(stream), collect, &c, NULL), 0);
                assert_int_equal(c.n, 1);
                collected_done(&c);
                grpc_decoder_done(&d);
        }

        /* The largest length a prefix can carry. */
        grpc_decoder_init(&d, 16 * 1024 * 1024);
        memcpy(hdr, (uint8_t[]) { 0, 0xff, 0xff, 0xff, 0xff }, 5);
        assert_int_equal(grpc_decoder_feed(&d, hdr, 5, collect, &c, NULL), -EMSGSIZE);
        grpc_decoder_done(&d);
}

static void test_compressed_flag(void **state)
{
        _cleanup_error_ struct ocid_error *error = NULL;
        uint8_t stream[GRPC_FRAME_HEADER_SIZE + 3];
        struct collected c = { 0 };
        struct grpc_decoder d;

        frame(stream, "abc", 3);
        stream[0] = 1;
        grpc_decoder_init(&d, 100);
        assert_int_equal(grpc_decoder_feed(&d, stream, sizeof(stream), collect, &c, &error), -EPROTO);
        assert_non_null(strstr(ocid_error_message(&error), "compressed message"));
        assert_int_equal(c.n, 0);
        grpc_decoder_done(&d);
        ocid_error_clear(&error);

        stream[0] = 2;
        grpc_decoder_init(&d, 100);
        assert_int_equal(grpc_decoder_feed(&d, stream, sizeof(stream), collect, &c, &error), -EPROTO);
        assert_non_null(strstr(ocid_error_message(&error), "invalid compressed flag 2"));
        grpc_decoder_done(&d);
}

static void test_partial_is_not_idle(void **state)
{
        uint8_t stream[GRPC_FRAME_HEADER_SIZE + 3];
        struct collected c = { 0 };
        struct grpc_decoder d;

        frame(stream, "abc", 3);
        grpc_decoder_init(&d, 100);
        assert_true(grpc_decoder_is_idle(&d));
        assert_int_equal(grpc_decoder_feed(&d, stream, 2, collect, &c, NULL), 0);
        assert_false(grpc_decoder_is_idle(&d));         /* inside the prefix */
        assert_int_equal(grpc_decoder_feed(&d, stream + 2, 4, collect, &c, NULL), 0);
        assert_false(grpc_decoder_is_idle(&d));         /* inside the body */
        assert_int_equal(grpc_decoder_feed(&d, stream + 6, 2, collect, &c, NULL), 0);
        assert_true(grpc_decoder_is_idle(&d));
        assert_int_equal(c.n, 1);
        collected_done(&c);
        grpc_decoder_done(&d);
}

static void test_callback_error_stops(void **state)
{
        _cleanup_error_ struct ocid_error *error = NULL;
        uint8_t stream[64];
        struct collected c = { .fail_at = 2 };
        struct grpc_decoder d;
        size_t len = 0;

        len += frame(stream + len, "one", 3);
        len += frame(stream + len, "two", 3);
        len += frame(stream + len, "three", 5);
        grpc_decoder_init(&d, 100);
        assert_int_equal(grpc_decoder_feed(&d, stream, len, collect, &c, &error), -EPROTO);
        assert_string_equal(ocid_error_message(&error), "callback refused");
        assert_int_equal(c.n, 1);
        collected_done(&c);
        grpc_decoder_done(&d);
}

OCID_TEST_MAIN(cmocka_unit_test(test_header_encoding),
               cmocka_unit_test(test_every_split),
               cmocka_unit_test(test_byte_by_byte_large),
               cmocka_unit_test(test_oversize_at_prefix),
               cmocka_unit_test(test_compressed_flag),
               cmocka_unit_test(test_partial_is_not_idle),
               cmocka_unit_test(test_callback_error_stops))
