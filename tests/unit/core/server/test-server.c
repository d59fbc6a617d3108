/* SPDX-License-Identifier: Apache-2.0 */
/* End to end in one process: the server runs on its own libuv loop in a
 * thread, on a socket in a temporary directory; the tests speak HTTP/2
 * to it with an nghttp2 client session (h2-client.c). */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "../../test-common.h"
#include "config.h"
#include "server/cri-proto.h"
#include "server/frame.h"
#include "server/grpc.h"
#include "server/server.h"
#include "h2-client.h"

#define MS INT64_C(1000000)
#define MAX_MESSAGE (64 * 1024)

struct fixture {
        char dir[64];
        char *sock;
        struct ocid_config *config;
        struct server_env env;
        struct server_options opts;
        pthread_t thread;
        sem_t ready;
        uv_loop_t loop;
        uv_async_t stop;
        struct server *srv;
        int listen_r;
        bool stopped;
        int64_t stop_requested_ns;
        int64_t stopped_ns;
};

static void fixture_stopped(struct server *s, void *userdata)
{
        struct fixture *f = userdata;

        f->stopped_ns = ocid_now_monotonic_ns();
}

static void stop_cb(uv_async_t *a)
{
        struct fixture *f = a->data;

        server_shutdown(f->srv, fixture_stopped, f);
        if (!uv_is_closing((uv_handle_t *) a))
                uv_close((uv_handle_t *) a, NULL);
}

static void *server_thread(void *p)
{
        struct fixture *f = p;

        assert_int_equal(uv_loop_init(&f->loop), 0);
        assert_int_equal(server_new(&f->loop, &f->env, &f->opts, &f->srv, NULL), 0);
        uv_async_init(&f->loop, &f->stop, stop_cb);
        f->stop.data = f;
        f->listen_r = server_listen(f->srv, NULL);
        sem_post(&f->ready);
        if (f->listen_r < 0) {
                server_shutdown(f->srv, NULL, NULL);
                uv_close((uv_handle_t *) &f->stop, NULL);
        }
        uv_run(&f->loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&f->loop), 0);
        return NULL;
}

static struct fixture *fixture_start(int64_t grace_ns)
{
        struct fixture *f = xzalloc(sizeof(*f));

        /* As in the daemon: a peer that went away is an error, not a signal. */
        signal(SIGPIPE, SIG_IGN);
        strcpy(f->dir, "/tmp/ocid-test-server-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        f->sock = xasprintf("%s/sub/ocid.sock", f->dir);
        f->config = config_new_default();
        f->env = (struct server_env) { .config = f->config, .modules = NULL };
        f->opts = (struct server_options) {
                .listen = f->sock,
                .max_message_size = MAX_MESSAGE,
                .shutdown_grace_ns = grace_ns,
                .test_service = true,
        };
        sem_init(&f->ready, 0, 0);
        assert_int_equal(pthread_create(&f->thread, NULL, server_thread, f), 0);
        sem_wait(&f->ready);
        assert_int_equal(f->listen_r, 0);
        return f;
}

static void fixture_request_stop(struct fixture *f)
{
        f->stop_requested_ns = ocid_now_monotonic_ns();
        uv_async_send(&f->stop);
}

static void fixture_join(struct fixture *f)
{
        pthread_join(f->thread, NULL);
        f->stopped = true;
}

static void fixture_free(struct fixture *f)
{
        if (!f->stopped) {
                fixture_request_stop(f);
                fixture_join(f);
        }
        server_free(f->srv);
        config_free(f->config);
        (void) ocid_rm_rf(f->dir, NULL);
        free(f->sock);
        sem_destroy(&f->ready);
        free(f);
}

static int setup(void **state)
{
        *state = fixture_start(2000 * MS);
        return 0;
}

static int teardown(void **state)
{
        fixture_free(*state);
        return 0;
}

static struct h2_client *connect_client(struct fixture *f)
{
        struct h2_client *c = h2_client_connect(f->sock);

        assert_non_null(c);
        return c;
}

static void assert_status(struct h2_response *r, int status, const char *message)
{
        assert_non_null(r);
        assert_int_equal(r->http_status, 200);
        if (r->grpc_status != status)
                fail_msg("grpc-status %d (%s), want %d; message '%s'", r->grpc_status,
                         grpc_status_to_string(r->grpc_status), status, r->grpc_message ? r->grpc_message : "");
        if (message)
                assert_string_equal(r->grpc_message, message);
}

static void test_socket_mode(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *dir = xasprintf("%s/sub", f->dir);
        struct stat st;

        assert_int_equal(stat(f->sock, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
}

static void test_version(void **state)
{
        struct fixture *f = *state;
        struct h2_client *c = connect_client(f);
        Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
        Runtime__V1__VersionResponse *resp;
        struct h2_response *r;
        int32_t id;

        req.version = (char *) "0.1.0";
        id = h2_client_call(c, "/runtime.v1.RuntimeService/Version", &req.base, NULL);
        assert_int_equal(h2_client_wait(c, id, 5000), 0);
        r = h2_client_response(c, id);
        assert_status(r, GRPC_STATUS_OK, NULL);
        assert_null(r->grpc_message);
        /* Headers, then trailers: not a Trailers-Only response. */
        assert_int_equal(r->n_header_blocks, 2);
        assert_int_equal(h2_response_count_messages(r), 1);
        resp = (Runtime__V1__VersionResponse *) h2_response_message(r, 0, &runtime__v1__version_response__descriptor);
        assert_non_null(resp);
        assert_string_equal(resp->runtime_name, "ocid");
        assert_string_equal(resp->runtime_version, PACKAGE_VERSION);
        assert_string_equal(resp->runtime_api_version, "v1");
        assert_string_equal(resp->version, "0.1.0");
        runtime__v1__version_response__free_unpacked(resp, NULL);
        h2_client_free(c);
}

static void test_runtime_config_and_status(void **state)
{
        struct fixture *f = *state;
        struct h2_client *c = connect_client(f);
        Runtime__V1__RuntimeConfigRequest rc = RUNTIME__V1__RUNTIME_CONFIG_REQUEST__INIT;
        Runtime__V1__StatusRequest sr = RUNTIME__V1__STATUS_REQUEST__INIT;
        Runtime__V1__RuntimeConfigResponse *rcr;
        Runtime__V1__StatusResponse *st;
        int32_t id1, id2;

        id1 = h2_client_call(c, "/runtime.v1.RuntimeService/RuntimeConfig", &rc.base, NULL);
        sr.verbose = true;
        id2 = h2_client_call(c, "/runtime.v1.RuntimeService/Status", &sr.base, NULL);
        assert_int_equal(h2_client_wait(c, 0, 5000), 0);

        assert_status(h2_client_response(c, id1), GRPC_STATUS_OK, NULL);
        rcr = (Runtime__V1__RuntimeConfigResponse *) h2_response_message(
                h2_client_response(c, id1), 0, &runtime__v1__runtime_config_response__descriptor);
        assert_non_null(rcr);
        assert_non_null(rcr->linux);
        assert_int_equal(rcr->linux->cgroup_driver, RUNTIME__V1__CGROUP_DRIVER__CGROUPFS);
        runtime__v1__runtime_config_response__free_unpacked(rcr, NULL);

        /* Without modules (this fixture loads none) both conditions say so. */
        assert_status(h2_client_response(c, id2), GRPC_STATUS_OK, NULL);
        st = (Runtime__V1__StatusResponse *) h2_response_message(h2_client_response(c, id2), 0,
                                                                  &runtime__v1__status_response__descriptor);
        assert_non_null(st);
        assert_non_null(st->status);
        assert_int_equal(st->status->n_conditions, 2);
        assert_string_equal(st->status->conditions[0]->type, "RuntimeReady");
        assert_false(st->status->conditions[0]->status);
        assert_string_equal(st->status->conditions[0]->reason, "RuntimeHandlerNotFound");
        assert_string_equal(st->status->conditions[1]->type, "NetworkReady");
        assert_false(st->status->conditions[1]->status);
        assert_string_equal(st->status->conditions[1]->reason, "NetworkPluginNotReady");
        assert_int_equal(st->n_info, 2);
        for (size_t i = 0; i < st->n_info; i++) {
                if (streq(st->info[i]->key, "modules"))
                        assert_string_equal(st->info[i]->value, "[]");
                else if (streq(st->info[i]->key, "config"))
                        assert_non_null(strstr(st->info[i]->value, "cgroup_manager"));
                else
                        fail_msg("unexpected info key '%s'", st->info[i]->key);
        }
        runtime__v1__status_response__free_unpacked(st, NULL);
        h2_client_free(c);
}

static void test_unimplemented(void **state)
{
        struct fixture *f = *state;
        struct h2_client *c = connect_client(f);
        Runtime__V1__CheckpointContainerRequest req = RUNTIME__V1__CHECKPOINT_CONTAINER_REQUEST__INIT;
        struct h2_response *r;
        int32_t a, b, d;

        a = h2_client_call(c, "/runtime.v1.RuntimeService/CheckpointContainer", &req.base, NULL);
        b = h2_client_call(c, "/runtime.v1.ImageService/StreamImages", &req.base, NULL);
        d = h2_client_call(c, "/runtime.v1.NoSuchService/Version", &req.base, NULL);
        assert_int_equal(h2_client_wait(c, 0, 5000), 0);
        assert_status(h2_client_response(c, a), GRPC_STATUS_UNIMPLEMENTED,
                      "method RuntimeService/CheckpointContainer is not implemented");
        assert_status(h2_client_response(c, b), GRPC_STATUS_UNIMPLEMENTED,
                      "method ImageService/StreamImages is not implemented");
        r = h2_client_response(c, d);
        assert_status(r, GRPC_STATUS_UNIMPLEMENTED, "unknown method '/runtime.v1.NoSuchService/Version'");
        /* Trailers-Only: one HEADERS block, no DATA. */
        assert_int_equal(r->n_header_blocks, 1);
        assert_int_equal(r->body_len, 0);
        h2_client_free(c);
}

static void test_malformed_requests(void **state)
{
        struct fixture *f = *state;
        struct h2_client *c = connect_client(f);
        Runtime__V1__VersionRequest ok = RUNTIME__V1__VERSION_REQUEST__INIT;
        uint8_t bad_proto[] = { 0, 0, 0, 0, 3, 0xff, 0xff, 0xff };
        uint8_t truncated[] = { 0, 0, 0, 0, 10, 1, 2 };
        uint8_t compressed[] = { 1, 0, 0, 0, 0 };
        uint8_t two[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        int32_t id[8];

        id[0] = h2_client_request(c, "/runtime.v1.RuntimeService/Version", "application/grpc", NULL, bad_proto,
                                  sizeof(bad_proto), false);
        id[1] = h2_client_request(c, "/runtime.v1.RuntimeService/Version", "application/grpc", NULL, truncated,
                                  sizeof(truncated), false);
        id[2] = h2_client_request(c, "/runtime.v1.RuntimeService/Version", "application/grpc", NULL, compressed,
                                  sizeof(compressed), false);
        id[3] = h2_client_request(c, "/runtime.v1.RuntimeService/Version", "application/grpc", NULL, NULL, 0, false);
        id[4] = h2_client_request(c, "/runtime.v1.RuntimeService/Version", "application/grpc", NULL, two,
                                  sizeof(two), false);
        id[5] = h2_client_request(c, "/runtime.v1.RuntimeService/Version", "application/json", NULL, two, 5, false);
        id[6] = h2_client_request(c, "/runtime.v1.RuntimeService/Version", "application/grpc", "soon", two, 5,
                                  false);
        id[7] = h2_client_request(c, "/runtime.v1.RuntimeService/Version", "application/grpc+proto", "5S", two, 5,
                                  false);
        assert_int_equal(h2_client_wait(c, 0, 5000), 0);

        assert_status(h2_client_response(c, id[0]), GRPC_STATUS_INVALID_ARGUMENT,
                      "invalid runtime.v1.VersionRequest message");
        assert_status(h2_client_response(c, id[1]), GRPC_STATUS_INTERNAL, "request ended inside a message");
        assert_status(h2_client_response(c, id[2]), GRPC_STATUS_INTERNAL, NULL);
        assert_status(h2_client_response(c, id[3]), GRPC_STATUS_INTERNAL, "request ended without a message");
        assert_status(h2_client_response(c, id[4]), GRPC_STATUS_INTERNAL,
                      "more than one request message for a unary call");
        assert_int_equal(h2_client_response(c, id[5])->http_status, 415);
        assert_status(h2_client_response(c, id[6]), GRPC_STATUS_INVALID_ARGUMENT, "malformed grpc-timeout 'soon'");
        /* application/grpc+proto and a well-formed timeout are fine. */
        assert_status(h2_client_response(c, id[7]), GRPC_STATUS_OK, NULL);

        /* The connection still serves. */
        id[0] = h2_client_call(c, "/runtime.v1.RuntimeService/Version", &ok.base, NULL);
        assert_int_equal(h2_client_wait(c, id[0], 5000), 0);
        assert_status(h2_client_response(c, id[0]), GRPC_STATUS_OK, NULL);
        assert_false(h2_client_eof(c));
        h2_client_free(c);
}

/* An over-limit message is refused as soon as its prefix arrives, and the
 * stream is reset so that the client stops sending the rest. */
static void test_message_too_large(void **state)
{
        struct fixture *f = *state;
        struct h2_client *c = connect_client(f);
        uint8_t prefix[GRPC_FRAME_HEADER_SIZE];
        struct h2_response *r;
        int32_t id;

        grpc_frame_header(prefix, 16 * 1024 * 1024);
        id = h2_client_request(c, "/runtime.v1.RuntimeService/Version", "application/grpc", NULL, prefix,
                               sizeof(prefix), true);
        assert_int_equal(h2_client_wait(c, id, 5000), 0);
        r = h2_client_response(c, id);
        assert_status(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
                      "message of 16777216 bytes exceeds the limit of 65536 bytes");
        assert_true(r->reset_by_server);
        assert_int_equal(r->close_code, 0);     /* RST_STREAM(NO_ERROR) */
        h2_client_free(c);
}

static void test_deadline(void **state)
{
        struct fixture *f = *state;
        struct h2_client *c = connect_client(f);
        Ocid__Test__V1__SleepRequest req = OCID__TEST__V1__SLEEP_REQUEST__INIT;
        Runtime__V1__VersionRequest v = RUNTIME__V1__VERSION_REQUEST__INIT;
        int64_t start = ocid_now_monotonic_ns(), elapsed;
        int32_t id, id2;

        req.milliseconds = 5000;
        id = h2_client_call(c, "/ocid.test.v1.Test/Sleep", &req.base, "200m");
        /* Handlers do not block each other: Version answers meanwhile. */
        id2 = h2_client_call(c, "/runtime.v1.RuntimeService/Version", &v.base, NULL);
        assert_int_equal(h2_client_wait(c, id2, 5000), 0);
        assert_status(h2_client_response(c, id2), GRPC_STATUS_OK, NULL);
        assert_false(h2_client_response(c, id)->closed);

        assert_int_equal(h2_client_wait(c, id, 5000), 0);
        elapsed = ocid_now_monotonic_ns() - start;
        assert_status(h2_client_response(c, id), GRPC_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
        assert_true(elapsed >= 200 * MS);
        assert_true(elapsed < 2000 * MS);

        /* A sleep within its deadline succeeds. */
        req.milliseconds = 50;
        id = h2_client_call(c, "/ocid.test.v1.Test/Sleep", &req.base, "2S");
        assert_int_equal(h2_client_wait(c, id, 5000), 0);
        assert_status(h2_client_response(c, id), GRPC_STATUS_OK, NULL);
        h2_client_free(c);
}

static void test_client_cancel(void **state)
{
        struct fixture *f = *state;
        struct h2_client *c = connect_client(f);
        Ocid__Test__V1__SleepRequest req = OCID__TEST__V1__SLEEP_REQUEST__INIT;
        Runtime__V1__VersionRequest v = RUNTIME__V1__VERSION_REQUEST__INIT;
        int32_t id;

        req.milliseconds = 10000;
        /* Cancel four sleeps: they occupy the whole default pool of four
         * workers, so the Version below only answers if cancelling them
         * really ended the handlers. */
        for (int i = 0; i < 4; i++) {
                id = h2_client_call(c, "/ocid.test.v1.Test/Sleep", &req.base, NULL);
                assert_int_equal(h2_client_wait(c, id, 100), -ETIMEDOUT);
                h2_client_cancel(c, id);
                assert_int_equal(h2_client_wait(c, id, 5000), 0);
                assert_int_equal(h2_client_response(c, id)->close_code, 8);     /* CANCEL */
        }
        id = h2_client_call(c, "/runtime.v1.RuntimeService/Version", &v.base, NULL);
        assert_int_equal(h2_client_wait(c, id, 3000), 0);
        assert_status(h2_client_response(c, id), GRPC_STATUS_OK, NULL);
        h2_client_free(c);
}

static void test_streaming(void **state)
{
        struct fixture *f = *state;
        struct h2_client *c = connect_client(f);
        Ocid__Test__V1__CountRequest req = OCID__TEST__V1__COUNT_REQUEST__INIT;
        struct h2_response *r;
        int32_t id;

        req.count = 100;
        req.payload_bytes = 1000;
        id = h2_client_call(c, "/ocid.test.v1.Test/Count", &req.base, NULL);
        assert_int_equal(h2_client_wait(c, id, 10000), 0);
        r = h2_client_response(c, id);
        assert_status(r, GRPC_STATUS_OK, NULL);
        assert_int_equal(h2_response_count_messages(r), 100);
        for (size_t i = 0; i < 100; i++) {
                Ocid__Test__V1__CountResponse *m = (Ocid__Test__V1__CountResponse *) h2_response_message(
                        r, i, &ocid__test__v1__count_response__descriptor);

                assert_non_null(m);
                assert_int_equal(m->index, (int) i);
                assert_int_equal(m->payload.len, 1000);
                for (size_t j = 0; j < m->payload.len; j++)
                        assert_int_equal(m->payload.data[j], (uint8_t) (i + j));
                ocid__test__v1__count_response__free_unpacked(m, NULL);
        }

        /* Zero messages: OK status in a Trailers-Only response. */
        req.count = 0;
        id = h2_client_call(c, "/ocid.test.v1.Test/Count", &req.base, NULL);
        assert_int_equal(h2_client_wait(c, id, 5000), 0);
        assert_status(h2_client_response(c, id), GRPC_STATUS_OK, NULL);
        assert_int_equal(h2_client_response(c, id)->body_len, 0);

        /* A message over the limit fails the stream after the ones sent. */
        req.count = 2;
        req.payload_bytes = MAX_MESSAGE + 1;
        id = h2_client_call(c, "/ocid.test.v1.Test/Count", &req.base, NULL);
        assert_int_equal(h2_client_wait(c, id, 5000), 0);
        assert_status(h2_client_response(c, id), GRPC_STATUS_RESOURCE_EXHAUSTED, NULL);
        h2_client_free(c);
}

/* A streaming call whose deadline passes mid-stream ends with
 * DEADLINE_EXCEEDED after the messages already sent. */
static void test_streaming_deadline(void **state)
{
        struct fixture *f = *state;
        struct h2_client *c = connect_client(f);
        Ocid__Test__V1__CountRequest req = OCID__TEST__V1__COUNT_REQUEST__INIT;
        struct h2_response *r;
        size_t n;
        int32_t id;

        req.count = 1000;
        req.interval_milliseconds = 50;
        id = h2_client_call(c, "/ocid.test.v1.Test/Count", &req.base, "300m");
        assert_int_equal(h2_client_wait(c, id, 5000), 0);
        r = h2_client_response(c, id);
        assert_status(r, GRPC_STATUS_DEADLINE_EXCEEDED, NULL);
        n = h2_response_count_messages(r);
        assert_true(n >= 2 && n <= 10);
        /* Every message arrived whole. */
        assert_int_equal(r->body_len, n * GRPC_FRAME_HEADER_SIZE + (n - 1) * 2);
        assert_int_equal(r->n_header_blocks, 2);
        h2_client_free(c);
}

static void test_many_streams_and_connections(void **state)
{
        struct fixture *f = *state;
        struct h2_client *clients[8];
        Runtime__V1__VersionRequest v = RUNTIME__V1__VERSION_REQUEST__INIT;
        int32_t ids[8][50];

        for (size_t i = 0; i < ELEMENTSOF(clients); i++) {
                clients[i] = connect_client(f);
                for (size_t j = 0; j < 50; j++)
                        ids[i][j] = h2_client_call(clients[i], "/runtime.v1.RuntimeService/Version", &v.base,
                                                   NULL);
        }
        for (size_t i = 0; i < ELEMENTSOF(clients); i++) {
                assert_int_equal(h2_client_wait(clients[i], 0, 10000), 0);
                for (size_t j = 0; j < 50; j++)
                        assert_status(h2_client_response(clients[i], ids[i][j]), GRPC_STATUS_OK, NULL);
        }
        assert_int_equal(server_count_connections(f->srv), ELEMENTSOF(clients));
        for (size_t i = 0; i < ELEMENTSOF(clients); i++)
                h2_client_free(clients[i]);
}

static void test_garbage_input(void **state)
{
        struct fixture *f = *state;
        Runtime__V1__VersionRequest v = RUNTIME__V1__VERSION_REQUEST__INIT;
        static const char http1[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        static const uint8_t bogus_frame[] = { 0, 0, 4, 0xff, 0, 0, 0, 0, 1, 'j', 'u', 'n', 'k' };
        struct h2_client *c;
        int32_t id;

        /* Not HTTP/2 at all: dropped. */
        c = connect_client(f);
        h2_client_send_raw(c, http1, sizeof(http1) - 1);
        assert_int_equal(h2_client_wait_eof(c, 5000), 0);
        h2_client_free(c);

        /* A valid preface and SETTINGS, then a frame of an unknown type
         * (ignored, as HTTP/2 says), then DATA on an idle stream: a
         * connection error, answered with GOAWAY and a close. */
        c = connect_client(f);
        assert_int_equal(h2_client_wait(c, 0, 100), 0);
        h2_client_send_raw(c, bogus_frame, sizeof(bogus_frame));
        h2_client_send_raw(c, (const uint8_t[]) { 0, 0, 1, 0, 1, 0, 0, 0, 3, 'x' }, 10);
        assert_int_equal(h2_client_wait_eof(c, 5000), 0);
        assert_true(h2_client_got_goaway(c));
        h2_client_free(c);

        /* The server is fine. */
        c = connect_client(f);
        id = h2_client_call(c, "/runtime.v1.RuntimeService/Version", &v.base, NULL);
        assert_int_equal(h2_client_wait(c, id, 5000), 0);
        assert_status(h2_client_response(c, id), GRPC_STATUS_OK, NULL);
        h2_client_free(c);
}

/* Shutdown lets a call in flight finish, sends GOAWAY, closes the
 * connection and stops the loop. */
static void test_graceful_shutdown(void **state)
{
        struct fixture *f = *state;
        struct h2_client *c = connect_client(f);
        Ocid__Test__V1__SleepRequest req = OCID__TEST__V1__SLEEP_REQUEST__INIT;
        Ocid__Test__V1__SleepResponse *resp;
        int32_t id;

        req.milliseconds = 300;
        id = h2_client_call(c, "/ocid.test.v1.Test/Sleep", &req.base, NULL);
        assert_int_equal(h2_client_wait(c, id, 50), -ETIMEDOUT);
        fixture_request_stop(f);
        assert_int_equal(h2_client_wait(c, id, 5000), 0);
        assert_status(h2_client_response(c, id), GRPC_STATUS_OK, NULL);
        resp = (Ocid__Test__V1__SleepResponse *) h2_response_message(h2_client_response(c, id), 0,
                                                                      &ocid__test__v1__sleep_response__descriptor);
        assert_non_null(resp);
        assert_true(resp->slept_milliseconds >= 300);
        ocid__test__v1__sleep_response__free_unpacked(resp, NULL);
        assert_true(h2_client_got_goaway(c));
        fixture_join(f);
        assert_true(f->stopped_ns > 0);
        /* New connections are refused once the listener is closed. */
        assert_null(h2_client_connect(f->sock));
        h2_client_free(c);
}

/* Calls still running when the grace period ends are cancelled with
 * UNAVAILABLE; the shutdown does not wait for them. */
static void test_shutdown_grace_expires(void **state)
{
        struct fixture *f = fixture_start(200 * MS);
        struct h2_client *c = connect_client(f);
        Ocid__Test__V1__SleepRequest req = OCID__TEST__V1__SLEEP_REQUEST__INIT;
        int32_t id;

        Runtime__V1__VersionRequest v = RUNTIME__V1__VERSION_REQUEST__INIT;
        int32_t id2;

        req.milliseconds = 30000;
        id = h2_client_call(c, "/ocid.test.v1.Test/Sleep", &req.base, NULL);
        /* The server reads a connection in order: once a later call has
         * been answered, the sleep is in flight, however loaded the host. */
        id2 = h2_client_call(c, "/runtime.v1.RuntimeService/Version", &v.base, NULL);
        assert_int_equal(h2_client_wait(c, id2, 5000), 0);
        assert_status(h2_client_response(c, id2), GRPC_STATUS_OK, NULL);
        assert_false(h2_client_response(c, id)->closed);
        fixture_request_stop(f);
        assert_int_equal(h2_client_wait(c, id, 5000), 0);
        assert_status(h2_client_response(c, id), GRPC_STATUS_UNAVAILABLE, "ocid is shutting down");
        h2_client_free(c);
        fixture_join(f);
        assert_true(f->stopped_ns - f->stop_requested_ns < 3000 * MS);
        fixture_free(f);
}

/* The socket path's directory is created; a path that already exists is
 * an error (the daemon decides about stale sockets, not the server). */
static void test_listen_errors(void **state)
{
        char dir[] = "/tmp/ocid-test-listen-XXXXXX";
        _cleanup_free_ char *path = NULL;
        _cleanup_error_ struct ocid_error *error = NULL;
        struct ocid_config *config = config_new_default();
        struct server_env env = { .config = config };
        struct server_options o = { .max_message_size = 1024 };
        struct server *s;
        uv_loop_t loop;
        FILE *fp;

        assert_non_null(mkdtemp(dir));
        path = xasprintf("%s/taken", dir);
        fp = fopen(path, "we");
        assert_non_null(fp);
        fclose(fp);
        o.listen = path;
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(server_new(&loop, &env, &o, &s, NULL), 0);
        assert_true(server_listen(s, &error) < 0);
        assert_non_null(strstr(ocid_error_message(&error), "bind"));
        server_shutdown(s, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&loop), 0);
        server_free(s);
        config_free(config);
        (void) ocid_rm_rf(dir, NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
OCID_TEST_MAIN(T(test_socket_mode),
               T(test_version),
               T(test_runtime_config_and_status),
               T(test_unimplemented),
               T(test_malformed_requests),
               T(test_message_too_large),
               T(test_deadline),
               T(test_client_cancel),
               T(test_streaming),
               T(test_streaming_deadline),
               T(test_many_streams_and_connections),
               T(test_garbage_input),
               T(test_graceful_shutdown),
               cmocka_unit_test(test_shutdown_grace_expires),
               cmocka_unit_test(test_listen_errors))
