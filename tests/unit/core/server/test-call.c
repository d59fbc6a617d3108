/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "../../test-common.h"
#include "server/call.h"
#include "server/cri-proto.h"
#include "server/frame.h"
#include "server/grpc.h"

#define MS INT64_C(1000000)

static int handler_ret;
static int handler_errno;
static int handler_sends;

/* Sends handler_sends CountResponses, then fails with handler_errno if set. */
static int test_handler(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Ocid__Test__V1__CountRequest *req = (const Ocid__Test__V1__CountRequest *) request;

        for (int i = 0; i < handler_sends; i++) {
                Ocid__Test__V1__CountResponse resp = OCID__TEST__V1__COUNT_RESPONSE__INIT;

                resp.index = req->count + i;
                handler_ret = server_call_send(call, &resp.base, err);
                if (handler_ret < 0)
                        return handler_ret;
        }
        if (handler_errno)
                return ocid_error_msg(err, handler_errno, "handler says no (%d)", handler_errno);
        return 0;
}

static struct server_method unary = {
        .path = (char *) "/ocid.test.v1.Test/Unary",
        .name = "Test/Unary",
        .input = &ocid__test__v1__count_request__descriptor,
        .output = &ocid__test__v1__count_response__descriptor,
        .handler = test_handler,
};

static struct server_method streaming = {
        .path = (char *) "/ocid.test.v1.Test/Streaming",
        .name = "Test/Streaming",
        .input = &ocid__test__v1__count_request__descriptor,
        .output = &ocid__test__v1__count_response__descriptor,
        .handler = test_handler,
        .server_streaming = true,
};

static int notified;

static void count_notify(struct server_call *call, void *userdata)
{
        __atomic_add_fetch(&notified, 1, __ATOMIC_RELAXED);
}

static struct server_call *new_call(struct server_method *m, int32_t count, int64_t deadline_ns)
{
        Ocid__Test__V1__CountRequest req = OCID__TEST__V1__COUNT_REQUEST__INIT;
        size_t len;
        uint8_t *buf;

        req.count = count;
        len = protobuf_c_message_get_packed_size(&req.base);
        buf = xmalloc(len + 1);
        protobuf_c_message_pack(&req.base, buf);
        return server_call_new(m, NULL, 1024 * 1024, deadline_ns, buf, len, count_notify, NULL);
}

static int setup(void **state)
{
        handler_ret = 0;
        handler_errno = 0;
        handler_sends = 1;
        notified = 0;
        return 0;
}

/* Drains the queue and unpacks the framed messages. */
static size_t drain(struct server_call *call, int32_t *indexes, size_t max, bool *ret_done)
{
        uint8_t buf[4096];
        size_t len = 0, n = 0, off = 0;

        for (;;) {
                /* Small reads: messages are taken apart across reads. */
                size_t got = server_call_read(call, buf + len, 3, ret_done);

                len += got;
                if (got == 0)
                        break;
        }
        while (off + GRPC_FRAME_HEADER_SIZE <= len) {
                size_t mlen = (size_t) buf[off + 3] << 8 | buf[off + 4];
                Ocid__Test__V1__CountResponse *r;

                assert_int_equal(buf[off], 0);
                r = ocid__test__v1__count_response__unpack(NULL, mlen, buf + off + GRPC_FRAME_HEADER_SIZE);
                assert_non_null(r);
                if (n < max)
                        indexes[n] = r->index;
                n++;
                ocid__test__v1__count_response__free_unpacked(r, NULL);
                off += GRPC_FRAME_HEADER_SIZE + mlen;
        }
        assert_int_equal(off, len);
        return n;
}

static void test_unary_ok(void **state)
{
        struct server_call *call = new_call(&unary, 7, 0);
        int32_t idx[4];
        int status = -1;
        char *message = (char *) "unset";
        bool done;

        assert_false(server_call_get_status(call, &status, &message));
        server_call_run(call);
        assert_int_equal(handler_ret, 0);
        assert_true(server_call_has_output(call));
        assert_int_equal(drain(call, idx, 4, &done), 1);
        assert_int_equal(idx[0], 7);
        assert_true(done);
        assert_true(server_call_get_status(call, &status, &message));
        assert_int_equal(status, GRPC_STATUS_OK);
        assert_null(message);
        /* A unary response does not wake the loop early: it goes out when
         * the handler returns. */
        assert_int_equal(notified, 0);
        server_call_unref(call);
}

static void test_unary_two_responses(void **state)
{
        struct server_call *call = new_call(&unary, 0, 0);
        _cleanup_free_ char *message = NULL;
        int status;

        handler_sends = 2;
        server_call_run(call);
        assert_int_equal(handler_ret, -EPROTO);
        assert_true(server_call_get_status(call, &status, &message));
        assert_int_equal(status, GRPC_STATUS_INTERNAL);
        assert_string_equal(message, "a unary call answers exactly one message");
        /* The failed call's response is dropped. */
        assert_false(server_call_has_output(call));
        server_call_unref(call);
}

static void test_unary_no_response(void **state)
{
        struct server_call *call = new_call(&unary, 0, 0);
        _cleanup_free_ char *message = NULL;
        int status;

        handler_sends = 0;
        server_call_run(call);
        assert_true(server_call_get_status(call, &status, &message));
        assert_int_equal(status, GRPC_STATUS_INTERNAL);
        assert_string_equal(message, "handler returned no response");
        server_call_unref(call);
}

static void test_handler_error_to_status(void **state)
{
        static const struct {
                int code, status;
        } table[] = {
                { ENOENT, GRPC_STATUS_NOT_FOUND },
                { EEXIST, GRPC_STATUS_ALREADY_EXISTS },
                { EINVAL, GRPC_STATUS_INVALID_ARGUMENT },
                { EOPNOTSUPP, GRPC_STATUS_UNIMPLEMENTED },
                { EIO, GRPC_STATUS_UNKNOWN },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                struct server_call *call = new_call(&unary, 0, 0);
                _cleanup_free_ char *message = NULL;
                _cleanup_free_ char *want = xasprintf("handler says no (%d)", table[i].code);
                int status;

                handler_sends = 0;
                handler_errno = table[i].code;
                server_call_run(call);
                assert_true(server_call_get_status(call, &status, &message));
                assert_int_equal(status, table[i].status);
                assert_string_equal(message, want);
                server_call_unref(call);
        }
}

static void test_invalid_request(void **state)
{
        uint8_t *garbage = xmalloc(3);
        struct server_call *call;
        _cleanup_free_ char *message = NULL;
        int status;

        memcpy(garbage, "\xff\xff\xff", 3);
        call = server_call_new(&unary, NULL, 1024, 0, garbage, 3, count_notify, NULL);
        handler_ret = 12345;
        server_call_run(call);
        assert_int_equal(handler_ret, 12345);    /* the handler never ran */
        assert_true(server_call_get_status(call, &status, &message));
        assert_int_equal(status, GRPC_STATUS_INVALID_ARGUMENT);
        assert_string_equal(message, "invalid ocid.test.v1.CountRequest message");
        server_call_unref(call);
}

static void test_response_too_large(void **state)
{
        Ocid__Test__V1__CountResponse resp = OCID__TEST__V1__COUNT_RESPONSE__INIT;
        _cleanup_error_ struct ocid_error *error = NULL;
        uint8_t payload[200] = { 0 };
        struct server_call *call = server_call_new(&streaming, NULL, 100, 0, xmalloc(1), 0, count_notify, NULL);

        resp.payload.data = payload;
        resp.payload.len = sizeof(payload);
        assert_int_equal(server_call_send(call, &resp.base, &error), -EMSGSIZE);
        assert_non_null(strstr(ocid_error_message(&error), "exceeds the limit of 100 bytes"));
        assert_false(server_call_has_output(call));
        server_call_unref(call);
}

static void test_streaming_and_notify(void **state)
{
        struct server_call *call = new_call(&streaming, 10, 0);
        int32_t idx[8];
        bool done;
        int status;
        char *message;

        handler_sends = 5;
        server_call_run(call);
        assert_int_equal(notified, 5);
        assert_int_equal(drain(call, idx, 8, &done), 5);
        for (int i = 0; i < 5; i++)
                assert_int_equal(idx[i], 10 + i);
        assert_true(done);
        assert_true(server_call_get_status(call, &status, &message));
        assert_int_equal(status, GRPC_STATUS_OK);
        server_call_unref(call);
}

/* A streaming handler that fails after some messages: the messages stay,
 * the status follows them. */
static void test_streaming_error_keeps_messages(void **state)
{
        struct server_call *call = new_call(&streaming, 0, 0);
        _cleanup_free_ char *message = NULL;
        int32_t idx[4];
        bool done;
        int status;

        handler_sends = 2;
        handler_errno = ENOENT;
        server_call_run(call);
        assert_int_equal(drain(call, idx, 4, &done), 2);
        assert_true(done);
        assert_true(server_call_get_status(call, &status, &message));
        assert_int_equal(status, GRPC_STATUS_NOT_FOUND);
        server_call_unref(call);
}

static void test_cancel(void **state)
{
        Ocid__Test__V1__CountResponse resp = OCID__TEST__V1__COUNT_RESPONSE__INIT;
        _cleanup_error_ struct ocid_error *error = NULL;
        struct server_call *call = new_call(&streaming, 0, 0);
        uint8_t buf[64];
        bool done;

        assert_int_equal(server_call_send(call, &resp.base, NULL), 0);
        assert_int_equal(server_call_send(call, &resp.base, NULL), 0);
        assert_false(server_call_is_cancelled(call));
        /* The first message is partly taken by the transport. */
        assert_int_equal(server_call_read(call, buf, 2, &done), 2);
        assert_false(done);
        server_call_cancel(call, GRPC_STATUS_DEADLINE_EXCEEDED);
        server_call_cancel(call, GRPC_STATUS_CANCELLED);        /* the first reason stays */
        assert_true(server_call_is_cancelled(call));
        /* What remains of the partly sent message still comes out; the
         * unsent one is gone, and after it nothing more is pending. */
        assert_int_equal(server_call_read(call, buf, sizeof(buf), &done), GRPC_FRAME_HEADER_SIZE - 2);
        assert_true(done);
        assert_int_equal(server_call_send(call, &resp.base, &error), -ETIMEDOUT);
        assert_string_equal(ocid_error_message(&error), "deadline exceeded");
        ocid_error_clear(&error);
        assert_int_equal(server_call_sleep(call, 1000 * MS, &error), -ETIMEDOUT);
        server_call_unref(call);
}

static void test_sleep_deadline(void **state)
{
        _cleanup_error_ struct ocid_error *error = NULL;
        int64_t start = ocid_now_monotonic_ns();
        struct server_call *call = new_call(&unary, 0, start + 50 * MS);

        assert_int_equal(server_call_deadline(call), start + 50 * MS);
        assert_int_equal(server_call_sleep(call, 10 * MS, NULL), 0);
        assert_true(ocid_now_monotonic_ns() - start >= 10 * MS);
        assert_int_equal(server_call_sleep(call, 5000 * MS, &error), -ETIMEDOUT);
        assert_true(ocid_now_monotonic_ns() - start >= 50 * MS);
        assert_true(ocid_now_monotonic_ns() - start < 2000 * MS);
        assert_true(server_call_is_cancelled(call));
        server_call_unref(call);
}

struct sleeper {
        struct server_call *call;
        int r;
        int64_t elapsed;
};

static void *sleeper_thread(void *p)
{
        struct sleeper *s = p;
        int64_t start = ocid_now_monotonic_ns();

        s->r = server_call_sleep(s->call, 10000 * MS, NULL);
        s->elapsed = ocid_now_monotonic_ns() - start;
        return NULL;
}

static void test_cancel_wakes_sleep(void **state)
{
        struct sleeper s = { .call = new_call(&unary, 0, 0) };
        pthread_t t;

        assert_int_equal(pthread_create(&t, NULL, sleeper_thread, &s), 0);
        usleep(50000);
        server_call_cancel(s.call, GRPC_STATUS_CANCELLED);
        pthread_join(t, NULL);
        assert_int_equal(s.r, -ECANCELED);
        assert_true(s.elapsed < 5000 * MS);
        server_call_unref(s.call);
}

struct producer {
        struct server_call *call;
        int sent;
        int r;
};

static void *producer_thread(void *p)
{
        struct producer *pr = p;
        static uint8_t payload[256 * 1024];
        Ocid__Test__V1__CountResponse resp = OCID__TEST__V1__COUNT_RESPONSE__INIT;

        resp.payload.data = payload;
        resp.payload.len = sizeof(payload);
        for (int i = 0; i < 64; i++) {
                pr->r = server_call_send(pr->call, &resp.base, NULL);
                if (pr->r < 0)
                        return NULL;
                __atomic_store_n(&pr->sent, i + 1, __ATOMIC_RELEASE);
        }
        return NULL;
}

/* A streaming handler cannot run ahead of the transport by more than
 * CALL_QUEUE_HIGH bytes: it blocks until the queue drains. */
static void test_backpressure(void **state)
{
        struct producer pr = { .call = server_call_new(&streaming, NULL, 1024 * 1024, 0, xmalloc(1), 0,
                                                       count_notify, NULL) };
        _cleanup_free_ uint8_t *buf = xmalloc(1024 * 1024);
        size_t total = 0, per_msg = 256 * 1024 + 4 + GRPC_FRAME_HEADER_SIZE;
        pthread_t t;
        bool done;
        int sent;

        assert_int_equal(pthread_create(&t, NULL, producer_thread, &pr), 0);
        usleep(200000);
        sent = __atomic_load_n(&pr.sent, __ATOMIC_ACQUIRE);
        assert_true(sent > 0);
        assert_true((size_t) sent * per_msg <= CALL_QUEUE_HIGH + per_msg);
        assert_true(sent < 64);
        while (total < 64 * per_msg) {
                size_t n = server_call_read(pr.call, buf, 1024 * 1024, &done);

                total += n;
                if (n == 0)
                        usleep(1000);
        }
        pthread_join(t, NULL);
        assert_int_equal(pr.r, 0);
        assert_int_equal(pr.sent, 64);
        assert_int_equal(total, 64 * per_msg);
        server_call_unref(pr.call);
}

/* Cancelling releases a producer blocked on a full queue. */
static void test_cancel_releases_blocked_sender(void **state)
{
        struct producer pr = { .call = server_call_new(&streaming, NULL, 1024 * 1024, 0, xmalloc(1), 0,
                                                       count_notify, NULL) };
        pthread_t t;

        assert_int_equal(pthread_create(&t, NULL, producer_thread, &pr), 0);
        usleep(100000);
        server_call_cancel(pr.call, GRPC_STATUS_CANCELLED);
        pthread_join(t, NULL);
        assert_int_equal(pr.r, -ECANCELED);
        assert_true(pr.sent < 64);
        server_call_unref(pr.call);
}

static void test_refcount(void **state)
{
        struct server_call *call = new_call(&unary, 0, 0);

        assert_ptr_equal(server_call_ref(call), call);
        assert_null(server_call_unref(call));
        assert_int_equal(call->refs, 1);
        assert_null(server_call_unref(call));
        assert_null(server_call_unref(NULL));
}

#define T(f) cmocka_unit_test_setup(f, setup)
OCID_TEST_MAIN(T(test_unary_ok),
               T(test_unary_two_responses),
               T(test_unary_no_response),
               T(test_handler_error_to_status),
               T(test_invalid_request),
               T(test_response_too_large),
               T(test_streaming_and_notify),
               T(test_streaming_error_keeps_messages),
               T(test_cancel),
               T(test_sleep_deadline),
               T(test_cancel_wakes_sleep),
               T(test_backpressure),
               T(test_cancel_releases_blocked_sender),
               T(test_refcount))
