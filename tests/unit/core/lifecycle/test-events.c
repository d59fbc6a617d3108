/* SPDX-License-Identifier: Apache-2.0 */
#include "../../test-common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ocid/error.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "lifecycle/events.h"

#define MS INT64_C(1000000)

static int build_calls;

/* The event is "<type>:<container>:<pod>"; a container named "skip" builds
 * nothing. */
static struct event *build(void *userdata, int32_t type, const char *ctr, const char *pod, int64_t created_at)
{
        char *s;
        struct event *ev;

        assert_ptr_equal(userdata, &build_calls);
        assert_true(created_at > 0);
        __atomic_add_fetch(&build_calls, 1, __ATOMIC_RELAXED);
        if (streq(ctr, "skip"))
                return NULL;
        s = xasprintf("%d:%s:%s", type, ctr, pod);
        ev = event_new(s, strlen(s));
        free(s);
        return ev;
}

static void wait_dispatched(struct event_bus *bus, uint64_t n)
{
        for (int i = 0; i < 5000 && event_bus_dispatched(bus) < n; i++)
                nanosleep(&(struct timespec) { 0, MS }, NULL);
        assert_int_equal(event_bus_dispatched(bus), n);
}

static void expect_event(struct event_sub *s, const char *text)
{
        struct event *ev = NULL;

        assert_int_equal(event_sub_next(s, 2000 * MS, &ev), 1);
        assert_int_equal(ev->len, strlen(text));
        assert_memory_equal(ev->data, text, ev->len);
        event_unref(ev);
}

static struct event_bus *bus_new(size_t queue_max)
{
        struct ocid_error *err = NULL;
        struct event_bus *bus = NULL;

        build_calls = 0;
        assert_int_equal(event_bus_new(queue_max, build, &build_calls, &bus, &err), 0);
        assert_null(err);
        return bus;
}

static void test_no_subscriber_builds_nothing(void **state)
{
        struct event_bus *bus = bus_new(0);

        (void) state;
        event_bus_notify(bus, 0, "a", "p");
        event_bus_notify(bus, 1, "a", "p");
        wait_dispatched(bus, 2);
        assert_int_equal(build_calls, 0);
        event_bus_free(bus);
        /* NULL bus: notify and free are no-ops. */
        event_bus_notify(NULL, 0, "a", "p");
        assert_null(event_bus_free(NULL));
}

static void test_two_subscribers_in_order(void **state)
{
        struct event_bus *bus = bus_new(0);
        struct event_sub *a = event_bus_subscribe(bus, "client a");
        struct event_sub *b = event_bus_subscribe(bus, "client b");
        struct event *ev = NULL;

        (void) state;
        event_bus_notify(bus, 0, "c1", "p1");
        event_bus_notify(bus, 1, "c1", "p1");
        event_bus_notify(bus, 2, "skip", "p1");
        event_bus_notify(bus, 3, "c1", "p1");
        wait_dispatched(bus, 4);
        /* Built once per notice, not once per subscriber. */
        assert_int_equal(build_calls, 4);
        expect_event(a, "0:c1:p1");
        expect_event(a, "1:c1:p1");
        expect_event(a, "3:c1:p1");
        expect_event(b, "0:c1:p1");
        expect_event(b, "1:c1:p1");
        expect_event(b, "3:c1:p1");
        assert_int_equal(event_sub_next(a, 20 * MS, &ev), 0);
        assert_null(ev);
        assert_int_equal(event_sub_lost(a), 0);
        event_bus_unsubscribe(bus, a);
        event_bus_unsubscribe(bus, b);
        event_bus_free(bus);
}

static void test_slow_subscriber_loses_and_counts(void **state)
{
        struct event_bus *bus = bus_new(4);
        struct event_sub *slow = event_bus_subscribe(bus, "slow client");
        struct event_sub *fast = event_bus_subscribe(bus, "fast client");
        char want[64];

        (void) state;
        for (int i = 0; i < 10; i++) {
                char id[16];

                snprintf(id, sizeof(id), "c%d", i);
                event_bus_notify(bus, 0, id, "p");
                /* The fast client keeps up. */
                snprintf(want, sizeof(want), "0:c%d:p", i);
                expect_event(fast, want);
        }
        wait_dispatched(bus, 10);
        assert_int_equal(event_sub_lost(slow), 6);
        assert_int_equal(event_sub_lost(fast), 0);
        /* The slow one has the first four, then nothing. */
        for (int i = 0; i < 4; i++) {
                snprintf(want, sizeof(want), "0:c%d:p", i);
                expect_event(slow, want);
        }
        event_bus_unsubscribe(bus, slow);
        event_bus_unsubscribe(bus, fast);
        event_bus_free(bus);
}

static void test_publisher_never_blocks(void **state)
{
        struct event_bus *bus = bus_new(8);
        struct event_sub *never = event_bus_subscribe(bus, "client that never reads");
        int64_t start = ocid_now_monotonic_ns();

        (void) state;
        for (int i = 0; i < 20000; i++)
                event_bus_notify(bus, 2, "c", "p");
        /* 20000 notices without a reader take far less than the time a
         * blocked publisher would wait (it would wait forever). */
        assert_true(ocid_now_monotonic_ns() - start < INT64_C(5000) * MS);
        wait_dispatched(bus, 20000);
        assert_int_equal(event_sub_lost(never), 20000 - 8);
        event_bus_unsubscribe(bus, never);
        event_bus_free(bus);
}

static void test_close_ends_subscriptions(void **state)
{
        struct event_bus *bus = bus_new(0);
        struct event_sub *s = event_bus_subscribe(bus, "client");
        struct event_sub *late;
        struct event *ev = NULL;

        (void) state;
        event_bus_notify(bus, 1, "c", "p");
        wait_dispatched(bus, 1);
        event_bus_close(bus);
        /* What was queued is still delivered, then the end. */
        expect_event(s, "1:c:p");
        assert_int_equal(event_sub_next(s, 2000 * MS, &ev), -EPIPE);
        late = event_bus_subscribe(bus, "late client");
        assert_int_equal(event_sub_next(late, 2000 * MS, &ev), -EPIPE);
        /* Notices after the close are dropped. */
        event_bus_notify(bus, 1, "c", "p");
        event_bus_unsubscribe(bus, late);
        event_bus_unsubscribe(bus, s);
        event_bus_free(bus);
}

static void test_event_refs(void **state)
{
        struct event *ev = event_new("abc", 3);

        (void) state;
        assert_ptr_equal(event_ref(ev), ev);
        assert_int_equal(ev->refs, 2);
        event_unref(ev);
        assert_int_equal(ev->refs, 1);
        event_unref(ev);
        event_unref(NULL);
}

OCID_TEST_MAIN(cmocka_unit_test(test_no_subscriber_builds_nothing), cmocka_unit_test(test_two_subscribers_in_order),
               cmocka_unit_test(test_slow_subscriber_loses_and_counts),
               cmocka_unit_test(test_publisher_never_blocks), cmocka_unit_test(test_close_ends_subscriptions),
               cmocka_unit_test(test_event_refs))
