/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "server/call.h"
#include "server/cri-proto.h"
#include "server/methods.h"
#include "server/selftest.h"

#define NS_PER_MS INT64_C(1000000)

/* Sleeps the requested time; the deadline or a cancellation ends it early
 * (the transport has then already answered, and this result is dropped). */
static int selftest_sleep(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Ocid__Test__V1__SleepRequest *req = (const Ocid__Test__V1__SleepRequest *) request;
        Ocid__Test__V1__SleepResponse resp = OCID__TEST__V1__SLEEP_RESPONSE__INIT;
        int64_t start = ocid_now_monotonic_ns();
        int r;

        if (req->milliseconds < 0 || req->milliseconds > INT64_MAX / NS_PER_MS)
                return ocid_error_msg(err, EINVAL, "milliseconds must be between 0 and %" PRId64,
                                      INT64_MAX / NS_PER_MS);
        r = server_call_sleep(call, req->milliseconds * NS_PER_MS, err);
        if (r < 0)
                return r;
        resp.slept_milliseconds = (ocid_now_monotonic_ns() - start) / NS_PER_MS;
        return server_call_send(call, &resp.base, err);
}

/* Streams `count` messages with index 0..count-1, each with a payload of
 * payload_bytes bytes (byte i is (index + i) & 0xff, so that the client can
 * check it), interval_milliseconds apart. */
static int selftest_count(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Ocid__Test__V1__CountRequest *req = (const Ocid__Test__V1__CountRequest *) request;
        _cleanup_free_ uint8_t *payload = NULL;
        int r;

        if (req->count < 0)
                return ocid_error_msg(err, EINVAL, "count must not be negative");
        if (req->payload_bytes < 0)
                return ocid_error_msg(err, EINVAL, "payload_bytes must not be negative");
        if (req->interval_milliseconds < 0 || req->interval_milliseconds > INT64_MAX / NS_PER_MS)
                return ocid_error_msg(err, EINVAL, "interval_milliseconds is out of range");
        if ((size_t) req->payload_bytes > call->max_message_size)
                return ocid_error_msg(err, EMSGSIZE, "payload_bytes exceeds the message size limit of %zu bytes",
                                      call->max_message_size);

        payload = xmalloc((size_t) req->payload_bytes + 1);
        for (int32_t index = 0; index < req->count; index++) {
                Ocid__Test__V1__CountResponse resp = OCID__TEST__V1__COUNT_RESPONSE__INIT;

                if (index > 0 && req->interval_milliseconds > 0) {
                        r = server_call_sleep(call, req->interval_milliseconds * NS_PER_MS, err);
                        if (r < 0)
                                return r;
                }
                for (int32_t i = 0; i < req->payload_bytes; i++)
                        payload[i] = (uint8_t) (index + i);
                resp.index = index;
                resp.payload.data = payload;
                resp.payload.len = (size_t) req->payload_bytes;
                r = server_call_send(call, &resp.base, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const struct server_method_impl test_service[] = {
        { "Sleep", selftest_sleep, false },
        { "Count", selftest_count, true },
};

int selftest_register(struct server_methods *t, struct ocid_error **err)
{
        return server_methods_add_service(t, &ocid__test__v1__test__descriptor, test_service,
                                          ELEMENTSOF(test_service), err);
}
