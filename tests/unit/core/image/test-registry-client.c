/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h> /* unshare, setns */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../../test-common.h"

#include <ocid/error.h>
#include <ocid/exec.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "image/blobstore.h"
#include "image/manifest.h"
#include "image/registry-client.h"
#include "http-server.h"

/* ---- WWW-Authenticate -------------------------------------------------- */

static void test_challenge_bearer(void **state)
{
        struct auth_challenge *c = NULL;
        size_t n = 0;

        assert_int_equal(auth_challenges_parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                                               "scope=\"repository:library/busybox:pull\"",
                                               &c, &n, NULL),
                         0);
        assert_int_equal(n, 1);
        assert_string_equal(c[0].scheme, "bearer");
        assert_int_equal(c[0].n_params, 3);
        assert_string_equal(auth_challenge_param(&c[0], "realm"), "https://auth.docker.io/token");
        assert_string_equal(auth_challenge_param(&c[0], "service"), "registry.docker.io");
        assert_string_equal(auth_challenge_param(&c[0], "scope"), "repository:library/busybox:pull");
        assert_null(auth_challenge_param(&c[0], "error"));
        auth_challenges_free(c, n);
}

static void test_challenge_cases(void **state)
{
        struct auth_challenge *c = NULL;
        size_t n = 0;

        /* case-insensitive scheme and names, spaces around '=', tokens
         * unquoted, escapes in quoted strings */
        assert_int_equal(auth_challenges_parse("BEARER  Realm = \"https://r/t?a=1,b=2\" , Service=svc,"
                                               "error=\"insufficient_scope\",scope=\"a \\\"quoted\\\" \\\\ value\"",
                                               &c, &n, NULL),
                         0);
        assert_int_equal(n, 1);
        assert_string_equal(c[0].scheme, "bearer");
        assert_string_equal(auth_challenge_param(&c[0], "realm"), "https://r/t?a=1,b=2");
        assert_string_equal(auth_challenge_param(&c[0], "SERVICE"), "svc");
        assert_string_equal(auth_challenge_param(&c[0], "error"), "insufficient_scope");
        assert_string_equal(auth_challenge_param(&c[0], "scope"), "a \"quoted\" \\ value");
        auth_challenges_free(c, n);

        /* several challenges in one header */
        assert_int_equal(auth_challenges_parse("Basic realm=\"Registry Realm\", Bearer realm=\"https://x/token\","
                                               "service=\"x\"",
                                               &c, &n, NULL),
                         0);
        assert_int_equal(n, 2);
        assert_string_equal(c[0].scheme, "basic");
        assert_int_equal(c[0].n_params, 1);
        assert_string_equal(auth_challenge_param(&c[0], "realm"), "Registry Realm");
        assert_string_equal(c[1].scheme, "bearer");
        assert_int_equal(c[1].n_params, 2);
        assert_string_equal(auth_challenge_param(&c[1], "service"), "x");
        auth_challenges_free(c, n);

        /* a scheme without parameters, followed by another */
        assert_int_equal(auth_challenges_parse("Negotiate, Basic realm=x", &c, &n, NULL), 0);
        assert_int_equal(n, 2);
        assert_string_equal(c[0].scheme, "negotiate");
        assert_int_equal(c[0].n_params, 0);
        assert_string_equal(auth_challenge_param(&c[1], "realm"), "x");
        auth_challenges_free(c, n);

        /* empty quoted value */
        assert_int_equal(auth_challenges_parse("Bearer realm=\"\"", &c, &n, NULL), 0);
        assert_string_equal(auth_challenge_param(&c[0], "realm"), "");
        auth_challenges_free(c, n);
}

static void test_challenge_malformed(void **state)
{
        static const char *const bad[] = {
                "",
                "   ",
                "Bearer realm=\"unterminated",
                "Bearer realm=\"ends in backslash\\",
                "Bearer realm=\"x\" service=\"y\"",
                "Bearer =x",
                "\"quoted\" realm=x",
                "Bearer realm=x;y=z",
                "Bea(rer realm=x",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_error_ struct ocid_error *err = NULL;
                struct auth_challenge *c = NULL;
                size_t n = 0;

                if (auth_challenges_parse(bad[i], &c, &n, &err) != -EINVAL)
                        fail_msg("'%s' was accepted", bad[i]);
                assert_non_null(strstr(ocid_error_message(&err), "malformed WWW-Authenticate"));
        }
}

static void test_auth_decode(void **state)
{
        _cleanup_free_ char *u = NULL, *p = NULL;
        _cleanup_error_ struct ocid_error *err = NULL;
        char *x = NULL, *y = NULL;

        /* "user:pa:ss" */
        assert_int_equal(registry_auth_decode("dXNlcjpwYTpzcw==", &u, &p, NULL), 0);
        assert_string_equal(u, "user");
        assert_string_equal(p, "pa:ss");
        free(u);
        free(p);
        /* ":" only: empty user and password */
        assert_int_equal(registry_auth_decode("Og==", &u, &p, NULL), 0);
        assert_string_equal(u, "");
        assert_string_equal(p, "");

        assert_int_equal(registry_auth_decode("dXNlcg==", &x, &y, &err), -EINVAL); /* "user" */
        assert_non_null(strstr(ocid_error_message(&err), "user:password"));
        ocid_error_clear(&err);
        assert_int_equal(registry_auth_decode("not base64!", &x, &y, &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(registry_auth_decode("", &x, &y, &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(registry_auth_decode("AAA6AA==", &x, &y, &err), -EINVAL); /* NUL bytes */
}

/* ---- a fake registry --------------------------------------------------- */

enum { AUTH_NONE, AUTH_BEARER, AUTH_BASIC, AUTH_NO_CHALLENGE };

struct fake {
        struct http_server *srv;
        char host[64];
        pthread_mutex_t lock;

        char *manifest;
        size_t manifest_len;
        char manifest_digest[DIGEST_STRING_SIZE];
        char *blob;
        size_t blob_len;
        char blob_digest[DIGEST_STRING_SIZE];

        int auth;
        const char *user, *password;
        const char *identity_token;
        const char *registry_token;
        int manifest_status;
        int blob_status;
        bool wrong_blob;
        bool wrong_manifest;
        const char *content_digest;     /* Docker-Content-Digest override */
        size_t blob_truncate;
        int blob_stall_ms;
        size_t big_manifest;
        const char *redirect_to;        /* base URL for blob redirects */

        int n_token, n_manifest, n_blob, n_cdn;
        bool cdn_saw_auth;
        char *last_token_target;
        char *last_token_body;
};

static char *b64(const char *s)
{
        size_t n = strlen(s);
        char *out = xmalloc(4 * ((n + 2) / 3) + 1);

        EVP_EncodeBlock((unsigned char *) out, (const unsigned char *) s, (int) n);
        return out;
}

static void set_text(struct http_response *resp, int status, const char *text)
{
        http_response_set(resp, status, text, strlen(text));
}

static bool authorized(struct fake *f, const struct http_request *req, struct http_response *resp)
{
        const char *a = http_request_header(req, "Authorization");

        switch (f->auth) {
        case AUTH_NONE:
                return true;
        case AUTH_BEARER:
                if (a && (ocid_startswith(a, "Bearer tok-") ||
                          (f->registry_token && ocid_startswith(a, "Bearer ") && streq(a + 7, f->registry_token))))
                        return true;
                http_response_add_header(resp, "WWW-Authenticate: Bearer realm=\"http://%s/token\",service=\"fake "
                                               "registry\",scope=\"repository:library/busybox:pull\"", f->host);
                break;
        case AUTH_BASIC: {
                _cleanup_free_ char *up = xasprintf("%s:%s", f->user, f->password);
                _cleanup_free_ char *enc = b64(up);
                if (a && ocid_startswith(a, "Basic ") && streq(a + 6, enc))
                        return true;
                http_response_add_header(resp, "WWW-Authenticate: Basic realm=\"fake\"");
                break;
        }
        default:
                break;
        }
        set_text(resp, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}");
        return false;
}

static void serve_token(struct fake *f, const struct http_request *req, struct http_response *resp)
{
        const char *a = http_request_header(req, "Authorization");
        _cleanup_free_ char *body = NULL;

        f->n_token++;
        free(f->last_token_target);
        free(f->last_token_body);
        f->last_token_target = xstrdup(req->target);
        f->last_token_body = xstrdup(req->body);
        if (streq(req->method, "POST")) {
                _cleanup_free_ char *want = xasprintf("refresh_token=%s", f->identity_token ? f->identity_token : "");
                if (!f->identity_token || !strstr(req->body, "grant_type=refresh_token") || !strstr(req->body, want)) {
                        set_text(resp, 401, "{}");
                        return;
                }
                body = xasprintf("{\"access_token\":\"tok-oauth-%d\",\"expires_in\":300}", f->n_token);
        } else {
                if (f->user) {
                        _cleanup_free_ char *up = xasprintf("%s:%s", f->user, f->password);
                        _cleanup_free_ char *enc = b64(up);
                        if (!a || !ocid_startswith(a, "Basic ") || !streq(a + 6, enc)) {
                                set_text(resp, 401, "{\"details\":\"bad credentials\"}");
                                return;
                        }
                }
                body = xasprintf("{\"token\":\"tok-%d\",\"expires_in\":300,\"issued_at\":\"2024-01-01T00:00:00Z\"}",
                                 f->n_token);
        }
        http_response_set(resp, 200, body, strlen(body));
        http_response_add_header(resp, "Content-Type: application/json");
}

static void fake_handler(const struct http_request *req, struct http_response *resp, void *userdata)
{
        struct fake *f = userdata;
        const char *p;

        pthread_mutex_lock(&f->lock);
        if (ocid_startswith(req->target, "/token")) {
                serve_token(f, req, resp);
        } else if ((p = ocid_startswith(req->target, "/cdn/"))) {
                f->n_cdn++;
                if (http_request_header(req, "Authorization"))
                        f->cdn_saw_auth = true;
                http_response_set(resp, 200, f->blob, f->blob_len);
        } else if ((p = ocid_startswith(req->target, "/v2/library/busybox/manifests/"))) {
                f->n_manifest++;
                if (!authorized(f, req, resp)) {
                } else if (f->manifest_status) {
                        set_text(resp, f->manifest_status, "{\"errors\":[{\"code\":\"X\",\"message\":\"boom\"}]}");
                } else if (f->big_manifest) {
                        char *big = xmalloc(f->big_manifest);
                        memset(big, ' ', f->big_manifest);
                        http_response_set(resp, 200, big, f->big_manifest);
                        free(big);
                } else if (streq(p, "latest") || streq(p, f->manifest_digest)) {
                        http_response_set(resp, 200, f->manifest, f->manifest_len);
                        if (f->wrong_manifest)
                                resp->body[1] = 'X';
                        http_response_add_header(resp, "Content-Type: %s", MEDIA_TYPE_OCI_MANIFEST);
                        http_response_add_header(resp, "Docker-Content-Digest: %s",
                                                 f->content_digest ? f->content_digest : f->manifest_digest);
                } else {
                        set_text(resp, 404,
                                 "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}");
                }
        } else if ((p = ocid_startswith(req->target, "/v2/library/busybox/blobs/"))) {
                f->n_blob++;
                if (!authorized(f, req, resp)) {
                } else if (f->blob_status) {
                        set_text(resp, f->blob_status, "");
                } else if (!streq(p, f->blob_digest)) {
                        set_text(resp, 404, "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\"}]}");
                } else if (f->redirect_to) {
                        set_text(resp, 307, "");
                        http_response_add_header(resp, "Location: %s/cdn/%s", f->redirect_to, p);
                } else {
                        http_response_set(resp, 200, f->blob, f->blob_len);
                        if (f->wrong_blob)
                                resp->body[0] ^= 1;
                        resp->truncate_at = f->blob_truncate;
                        resp->stall_ms = f->blob_stall_ms;
                }
        } else {
                set_text(resp, 404, "");
        }
        pthread_mutex_unlock(&f->lock);
}

static struct fake *fake_start(const char *addr)
{
        struct fake *f = xzalloc(sizeof(*f));

        pthread_mutex_init(&f->lock, NULL);
        f->manifest = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{},\"layers\":[]}",
                                MEDIA_TYPE_OCI_MANIFEST);
        f->manifest_len = strlen(f->manifest);
        assert_int_equal(digest_buffer(f->manifest, f->manifest_len, f->manifest_digest, NULL), 0);
        f->blob_len = 200000;
        f->blob = xmalloc(f->blob_len);
        for (size_t i = 0; i < f->blob_len; i++)
                f->blob[i] = (char) (i * 7 + i / 251);
        assert_int_equal(digest_buffer(f->blob, f->blob_len, f->blob_digest, NULL), 0);
        f->srv = http_server_start(fake_handler, f, addr);
        snprintf(f->host, sizeof(f->host), "%s:%d", addr ? addr : "127.0.0.1", http_server_port(f->srv));
        return f;
}

static void fake_stop(struct fake *f)
{
        http_server_stop(f->srv);
        free(f->manifest);
        free(f->blob);
        free(f->last_token_target);
        free(f->last_token_body);
        pthread_mutex_destroy(&f->lock);
        free(f);
}

struct ctx {
        struct fake *f;
        struct registry_client *rc;
        char dir[64];
        struct blobstore *bs;
};

static int setup(void **state)
{
        struct ctx *c = xzalloc(sizeof(*c));

        c->f = fake_start(NULL);
        if (registry_client_new("ocid-test", &c->rc, NULL) < 0)
                return -1;
        strcpy(c->dir, "/tmp/ocid-test-registry-XXXXXX");
        if (!mkdtemp(c->dir) || blobstore_open(c->dir, &c->bs, NULL) < 0)
                return -1;
        *state = c;
        return 0;
}

static int teardown(void **state)
{
        struct ctx *c = *state;

        fake_stop(c->f);
        registry_client_free(c->rc);
        blobstore_free(c->bs);
        (void) ocid_rm_rf(c->dir, NULL);
        free(c);
        return 0;
}

static struct registry_target target_of(struct fake *f)
{
        return (struct registry_target) { .domain = f->host, .repository = "library/busybox", .stall_timeout_s = 5 };
}

/* ---- manifests ------------------------------------------------------- */

static void test_manifest_anonymous(void **state)
{
        struct ctx *c = *state;
        struct registry_target t = target_of(c->f);
        struct registry_manifest m = { 0 };
        _cleanup_error_ struct ocid_error *err = NULL;

        /* a loopback registry: https first, then plain http */
        if (registry_get_manifest(c->rc, &t, "latest", &m, &err) < 0)
                fail_msg("%s", ocid_error_message(&err));
        assert_int_equal(m.len, c->f->manifest_len);
        assert_memory_equal(m.body, c->f->manifest, m.len);
        assert_string_equal(m.digest, c->f->manifest_digest);
        assert_string_equal(m.content_type, MEDIA_TYPE_OCI_MANIFEST);
        assert_string_equal(m.served_by, c->f->host);
        registry_manifest_done(&m);

        /* by digest */
        assert_int_equal(registry_get_manifest(c->rc, &t, c->f->manifest_digest, &m, NULL), 0);
        assert_string_equal(m.digest, c->f->manifest_digest);
        registry_manifest_done(&m);
        assert_int_equal(c->f->n_manifest, 2);
}

static void test_manifest_head(void **state)
{
        struct ctx *c = *state;
        struct registry_target t = target_of(c->f);
        char d[DIGEST_STRING_SIZE];
        _cleanup_free_ char *ct = NULL;
        int64_t size = 0;

        assert_int_equal(registry_head_manifest(c->rc, &t, "latest", d, &ct, &size, NULL), 0);
        assert_string_equal(d, c->f->manifest_digest);
        assert_string_equal(ct, MEDIA_TYPE_OCI_MANIFEST);
        assert_int_equal(size, (int64_t) c->f->manifest_len);
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                assert_int_equal(registry_head_manifest(c->rc, &t, "nosuchtag", d, NULL, NULL, &err), -ENOENT);
                assert_non_null(strstr(ocid_error_message(&err), "manifest unknown: nosuchtag"));
        }
}

static void test_manifest_errors(void **state)
{
        struct ctx *c = *state;
        struct registry_target t = target_of(c->f);
        struct registry_manifest m = { 0 };
        struct {
                int status;
                int code;
                const char *why;
        } cases[] = {
                { 404, ENOENT, "manifest unknown: latest" },
                { 500, EIO, "registry error: HTTP 500" },
                { 503, EIO, "HTTP 503" },
                { 429, EAGAIN, "too many requests" },
                { 403, EACCES, "unauthorized: boom" },
                { 400, EPROTO, "unexpected HTTP status 400" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_error_ struct ocid_error *err = NULL;

                c->f->manifest_status = cases[i].status;
                assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, &err), -cases[i].code);
                if (!strstr(ocid_error_message(&err), cases[i].why))
                        fail_msg("HTTP %d: '%s' lacks '%s'", cases[i].status, ocid_error_message(&err), cases[i].why);
                /* the message names the image */
                assert_non_null(strstr(ocid_error_message(&err), "library/busybox"));
        }
        c->f->manifest_status = 0;

        /* an unknown tag: NOT_FOUND-style */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                assert_int_equal(registry_get_manifest(c->rc, &t, "nosuchtag", &m, &err), -ENOENT);
                assert_non_null(strstr(ocid_error_message(&err), "manifest unknown: nosuchtag"));
        }
        /* 401 without any challenge */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                c->f->auth = AUTH_NO_CHALLENGE;
                assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, &err), -EACCES);
                assert_non_null(strstr(ocid_error_message(&err), "unauthorized: authentication required"));
                c->f->auth = AUTH_NONE;
        }
        /* bad arguments never reach the network */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                int before = c->f->n_manifest;
                assert_int_equal(registry_get_manifest(c->rc, &t, "../../x", &m, &err), -EINVAL);
                ocid_error_clear(&err);
                t.repository = "library/busybox?x=1";
                assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, &err), -EINVAL);
                assert_int_equal(c->f->n_manifest, before);
        }
}

static void test_manifest_verification(void **state)
{
        struct ctx *c = *state;
        struct registry_target t = target_of(c->f);
        struct registry_manifest m = { 0 };

        /* by digest: the body must hash to it */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                c->f->wrong_manifest = true;
                assert_int_equal(registry_get_manifest(c->rc, &t, c->f->manifest_digest, &m, &err), -EBADMSG);
                assert_non_null(strstr(ocid_error_message(&err), "digest mismatch for"));
                c->f->wrong_manifest = false;
        }
        /* by tag: the body must hash to Docker-Content-Digest */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                c->f->content_digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
                assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, &err), -EBADMSG);
                assert_non_null(strstr(ocid_error_message(&err), "digest mismatch for sha256:0000"));
                c->f->content_digest = NULL;
        }
        /* bounded size */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                c->f->big_manifest = MANIFEST_MAX_SIZE + 1;
                assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, &err), -EFBIG);
                assert_non_null(strstr(ocid_error_message(&err), "larger than 4194304 bytes"));
                c->f->big_manifest = 0;
        }
}

/* ---- authentication -------------------------------------------------- */

static void test_bearer_anonymous(void **state)
{
        struct ctx *c = *state;
        struct registry_target t = target_of(c->f);
        struct registry_manifest m = { 0 };
        _cleanup_error_ struct ocid_error *err = NULL;

        c->f->auth = AUTH_BEARER;
        if (registry_get_manifest(c->rc, &t, "latest", &m, &err) < 0)
                fail_msg("%s", ocid_error_message(&err));
        registry_manifest_done(&m);
        assert_int_equal(c->f->n_token, 1);
        assert_non_null(strstr(c->f->last_token_target, "service=fake%20registry"));
        assert_non_null(strstr(c->f->last_token_target, "scope=repository%3Alibrary%2Fbusybox%3Apull"));
        /* the token is cached for the scope */
        assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, NULL), 0);
        registry_manifest_done(&m);
        assert_int_equal(c->f->n_token, 1);
        /* 401, token, retry; then straight through */
        assert_int_equal(c->f->n_manifest, 3);
}

static void test_bearer_credentials(void **state)
{
        struct ctx *c = *state;
        struct registry_target t = target_of(c->f);
        struct registry_manifest m = { 0 };
        struct registry_auth good = { .username = "alice", .password = "s3cret" };
        struct registry_auth bad = { .username = "alice", .password = "wrong" };
        struct registry_auth encoded = { .auth = "YWxpY2U6czNjcmV0" }; /* alice:s3cret */

        c->f->auth = AUTH_BEARER;
        c->f->user = "alice";
        c->f->password = "s3cret";

        t.auth = &good;
        assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, NULL), 0);
        registry_manifest_done(&m);
        assert_int_equal(c->f->n_token, 1);

        /* a token obtained with credentials does not serve a pull without */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                t.auth = NULL;
                assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, &err), -EACCES);
                assert_non_null(strstr(ocid_error_message(&err), "unauthorized"));
                assert_non_null(strstr(ocid_error_message(&err), "anonymous request"));
                assert_int_equal(c->f->n_token, 2);
        }
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                t.auth = &bad;
                assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, &err), -EACCES);
                assert_non_null(strstr(ocid_error_message(&err), "refused the credentials"));
        }
        t.auth = &encoded;
        assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, NULL), 0);
        registry_manifest_done(&m);
}

static void test_identity_and_registry_tokens(void **state)
{
        struct ctx *c = *state;
        struct registry_target t = target_of(c->f);
        struct registry_manifest m = { 0 };
        struct registry_auth oauth = { .identity_token = "refresh-me" };
        struct registry_auth direct = { .registry_token = "given-token" };
        struct registry_auth wrong = { .registry_token = "not-accepted" };

        c->f->auth = AUTH_BEARER;
        c->f->identity_token = "refresh-me";
        c->f->registry_token = "given-token";

        t.auth = &oauth;
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                if (registry_get_manifest(c->rc, &t, "latest", &m, &err) < 0)
                        fail_msg("%s", ocid_error_message(&err));
        }
        registry_manifest_done(&m);
        assert_non_null(strstr(c->f->last_token_body, "grant_type=refresh_token"));
        assert_non_null(strstr(c->f->last_token_body, "refresh_token=refresh-me"));
        assert_non_null(strstr(c->f->last_token_body, "service=fake%20registry"));

        /* a registry token is sent as is: no token request */
        t.auth = &direct;
        {
                int before = c->f->n_token;
                assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, NULL), 0);
                registry_manifest_done(&m);
                assert_int_equal(c->f->n_token, before);
        }
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                t.auth = &wrong;
                assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, &err), -EACCES);
        }
}

static void test_basic_challenge(void **state)
{
        struct ctx *c = *state;
        struct registry_target t = target_of(c->f);
        struct registry_manifest m = { 0 };
        struct registry_auth good = { .username = "bob", .password = "pw" };

        c->f->auth = AUTH_BASIC;
        c->f->user = "bob";
        c->f->password = "pw";
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, &err), -EACCES);
                assert_non_null(strstr(ocid_error_message(&err), "unauthorized"));
        }
        t.auth = &good;
        assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, NULL), 0);
        registry_manifest_done(&m);
        assert_int_equal(c->f->n_token, 0);
}

struct par {
        struct ctx *c;
        int result;
};

static void *par_main(void *arg)
{
        struct par *p = arg;
        struct registry_target t = target_of(p->c->f);
        struct registry_manifest m = { 0 };

        for (int i = 0; i < 5; i++) {
                p->result = registry_get_manifest(p->c->rc, &t, "latest", &m, NULL);
                if (p->result < 0)
                        break;
                registry_manifest_done(&m);
        }
        return NULL;
}

static void test_threads(void **state)
{
        struct ctx *c = *state;
        struct par p[8];
        pthread_t th[8];

        c->f->auth = AUTH_BEARER;
        for (int i = 0; i < 8; i++) {
                p[i] = (struct par) { .c = c };
                assert_int_equal(pthread_create(&th[i], NULL, par_main, &p[i]), 0);
        }
        for (int i = 0; i < 8; i++) {
                assert_int_equal(pthread_join(th[i], NULL), 0);
                assert_int_equal(p[i].result, 0);
        }
        assert_true(c->f->n_token >= 1 && c->f->n_token <= 8);
}

/* ---- blobs ----------------------------------------------------------- */

struct progress {
        int calls;
        uint64_t done, total;
};

static void on_progress(void *userdata, uint64_t done, uint64_t total)
{
        struct progress *p = userdata;

        p->calls++;
        p->done = done;
        p->total = total;
}

static void test_blob(void **state)
{
        struct ctx *c = *state;
        struct registry_target t = target_of(c->f);
        struct progress pr = { 0 };
        _cleanup_blob_writer_ struct blob_writer *w = NULL;
        _cleanup_error_ struct ocid_error *err = NULL;

        c->f->auth = AUTH_BEARER;
        t.progress = on_progress;
        t.progress_userdata = &pr;
        assert_int_equal(blobstore_writer_begin(c->bs, c->f->blob_digest, (int64_t) c->f->blob_len, &w, NULL), 0);
        if (registry_fetch_blob(c->rc, &t, c->f->blob_digest, w, &err) < 0)
                fail_msg("%s", ocid_error_message(&err));
        assert_int_equal(blob_writer_commit(w, NULL, NULL), 0);
        assert_int_equal(blobstore_verify(c->bs, c->f->blob_digest, NULL), 0);
        assert_true(pr.calls >= 1);
        assert_int_equal(pr.done, c->f->blob_len);
        assert_int_equal(pr.total, c->f->blob_len);

        /* unknown blob */
        {
                _cleanup_blob_writer_ struct blob_writer *w2 = NULL;
                const char *other = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

                ocid_error_clear(&err);
                assert_int_equal(blobstore_writer_begin(c->bs, other, 1, &w2, NULL), 0);
                assert_int_equal(registry_fetch_blob(c->rc, &t, other, w2, &err), -ENOENT);
                assert_non_null(strstr(ocid_error_message(&err), "blob unknown: " "sha256:1111"));
        }
}

static void test_blob_corrupt_and_truncated(void **state)
{
        struct ctx *c = *state;
        struct registry_target t = target_of(c->f);

        {
                _cleanup_blob_writer_ struct blob_writer *w = NULL;
                _cleanup_error_ struct ocid_error *err = NULL;

                c->f->wrong_blob = true;
                assert_int_equal(blobstore_writer_begin(c->bs, c->f->blob_digest, (int64_t) c->f->blob_len, &w, NULL),
                                 0);
                assert_int_equal(registry_fetch_blob(c->rc, &t, c->f->blob_digest, w, &err), -EBADMSG);
                assert_non_null(strstr(ocid_error_message(&err), "digest mismatch for"));
                c->f->wrong_blob = false;
        }
        {
                _cleanup_blob_writer_ struct blob_writer *w = NULL;
                _cleanup_error_ struct ocid_error *err = NULL;

                /* the server announces the full length and closes half way */
                c->f->blob_truncate = c->f->blob_len / 2;
                assert_int_equal(blobstore_writer_begin(c->bs, c->f->blob_digest, (int64_t) c->f->blob_len, &w, NULL),
                                 0);
                assert_true(registry_fetch_blob(c->rc, &t, c->f->blob_digest, w, &err) < 0);
                c->f->blob_truncate = 0;
        }
        assert_false(blobstore_exists(c->bs, c->f->blob_digest));
        /* a blob larger than its descriptor says is cut off at once */
        {
                _cleanup_blob_writer_ struct blob_writer *w = NULL;
                _cleanup_error_ struct ocid_error *err = NULL;

                assert_int_equal(blobstore_writer_begin(c->bs, c->f->blob_digest, 100, &w, NULL), 0);
                assert_int_equal(registry_fetch_blob(c->rc, &t, c->f->blob_digest, w, &err), -EFBIG);
                assert_non_null(strstr(ocid_error_message(&err), "larger than its expected size of 100 bytes"));
        }
}

static void test_blob_redirect(void **state)
{
        struct ctx *c = *state;
        struct registry_target t = target_of(c->f);
        struct fake *cdn = fake_start(NULL);
        _cleanup_free_ char *base = xasprintf("http://%s", cdn->host);
        _cleanup_blob_writer_ struct blob_writer *w = NULL;
        _cleanup_error_ struct ocid_error *err = NULL;

        c->f->auth = AUTH_BEARER;
        c->f->redirect_to = base;
        assert_int_equal(blobstore_writer_begin(c->bs, c->f->blob_digest, (int64_t) c->f->blob_len, &w, NULL), 0);
        if (registry_fetch_blob(c->rc, &t, c->f->blob_digest, w, &err) < 0)
                fail_msg("%s", ocid_error_message(&err));
        assert_int_equal(blob_writer_commit(w, NULL, NULL), 0);
        assert_int_equal(cdn->n_cdn, 1);
        /* the registry's token never goes to another host */
        assert_false(cdn->cdn_saw_auth);
        fake_stop(cdn);
}

static void test_stall_and_deadline(void **state)
{
        struct ctx *c = *state;
        struct registry_target t = target_of(c->f);
        int64_t start;

        c->f->blob_truncate = 1000;
        c->f->blob_stall_ms = 10000;
        t.stall_timeout_s = 1;
        {
                _cleanup_blob_writer_ struct blob_writer *w = NULL;
                _cleanup_error_ struct ocid_error *err = NULL;

                assert_int_equal(blobstore_writer_begin(c->bs, c->f->blob_digest, (int64_t) c->f->blob_len, &w, NULL),
                                 0);
                start = ocid_now_monotonic_ns();
                assert_int_equal(registry_fetch_blob(c->rc, &t, c->f->blob_digest, w, &err), -ETIMEDOUT);
                assert_non_null(strstr(ocid_error_message(&err), "no progress for 1 seconds"));
                assert_true(ocid_now_monotonic_ns() - start < 8000 * 1000000LL);
        }
        t.stall_timeout_s = 10;
        t.deadline_ns = ocid_now_monotonic_ns() + 300 * 1000000LL;
        {
                _cleanup_blob_writer_ struct blob_writer *w = NULL;
                _cleanup_error_ struct ocid_error *err = NULL;

                assert_int_equal(blobstore_writer_begin(c->bs, c->f->blob_digest, (int64_t) c->f->blob_len, &w, NULL),
                                 0);
                start = ocid_now_monotonic_ns();
                assert_int_equal(registry_fetch_blob(c->rc, &t, c->f->blob_digest, w, &err), -ETIMEDOUT);
                if (!strstr(ocid_error_message(&err), "deadline exceeded"))
                        fail_msg("%s", ocid_error_message(&err));
                assert_true(ocid_now_monotonic_ns() - start < 8000 * 1000000LL);
        }
        /* a deadline already past: nothing is sent */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                struct registry_manifest m = { 0 };
                int before = c->f->n_manifest;

                t.deadline_ns = ocid_now_monotonic_ns() - 1;
                assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, &err), -ETIMEDOUT);
                assert_int_equal(c->f->n_manifest, before);
        }
        c->f->blob_truncate = 0;
        c->f->blob_stall_ms = 0;
}

/* ---- mirrors --------------------------------------------------------- */

static int closed_port(void)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port;

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &len), 0);
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}

static void test_mirrors(void **state)
{
        struct ctx *c = *state;
        struct fake *m404 = fake_start(NULL), *mbad = fake_start(NULL);
        _cleanup_free_ char *dead = xasprintf("127.0.0.1:%d", closed_port());
        char *mirrors[] = { m404->host, dead, mbad->host, NULL };
        struct registry_target t = target_of(c->f);
        struct registry_manifest m = { 0 };

        t.mirrors = mirrors;
        m404->manifest_status = 404;
        m404->blob_status = 404;
        mbad->manifest_status = 500;
        mbad->wrong_blob = true;

        /* manifests: a 404 mirror, a dead one and a 500 one fall through */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                if (registry_get_manifest(c->rc, &t, "latest", &m, &err) < 0)
                        fail_msg("%s", ocid_error_message(&err));
                assert_string_equal(m.served_by, c->f->host);
                registry_manifest_done(&m);
                assert_int_equal(m404->n_manifest, 1);
                assert_int_equal(mbad->n_manifest, 1);
        }
        /* the first mirror that works serves */
        mbad->manifest_status = 0;
        assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, NULL), 0);
        assert_string_equal(m.served_by, mbad->host);
        registry_manifest_done(&m);

        /* blobs: the corrupt mirror is skipped, the registry serves */
        {
                _cleanup_blob_writer_ struct blob_writer *w = NULL;
                _cleanup_error_ struct ocid_error *err = NULL;

                assert_int_equal(blobstore_writer_begin(c->bs, c->f->blob_digest, (int64_t) c->f->blob_len, &w, NULL),
                                 0);
                if (registry_fetch_blob(c->rc, &t, c->f->blob_digest, w, &err) < 0)
                        fail_msg("%s", ocid_error_message(&err));
                assert_int_equal(blob_writer_commit(w, NULL, NULL), 0);
                assert_int_equal(mbad->n_blob, 1);
                assert_int_equal(c->f->n_blob, 1);
        }

        /* everything fails: the error names every attempt, and its code is
         * the registry's own */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                _cleanup_free_ char *want_dead = xasprintf("mirror %s: ", dead);
                _cleanup_free_ char *want_404 = xasprintf("mirror %s: ", m404->host);
                _cleanup_free_ char *want_reg = xasprintf("; %s: ", c->f->host);

                c->f->manifest_status = 404;
                mbad->manifest_status = 500;
                assert_int_equal(registry_get_manifest(c->rc, &t, "latest", &m, &err), -ENOENT);
                assert_non_null(strstr(ocid_error_message(&err), "every source failed"));
                assert_non_null(strstr(ocid_error_message(&err), want_404));
                assert_non_null(strstr(ocid_error_message(&err), want_dead));
                assert_non_null(strstr(ocid_error_message(&err), "cannot connect"));
                assert_non_null(strstr(ocid_error_message(&err), "HTTP 500"));
                assert_non_null(strstr(ocid_error_message(&err), want_reg));
                assert_non_null(strstr(ocid_error_message(&err), "manifest unknown: latest"));
        }
        fake_stop(m404);
        fake_stop(mbad);
}

/* ---- the plain-HTTP policy ------------------------------------------- */

/* A non-loopback IPv4 address for the test registry. Tests never send
 * traffic to the host's own interfaces: the test moves into a network
 * namespace of its own (root only) and gives its loopback device an address
 * from the documentation range, which is not loopback to the policy. */
static bool own_address(char *ret, size_t size, int *ret_host_netns)
{
        static const char *const up[] = { "ip", "link", "set", "lo", "up", NULL };
        static const char *const add[] = { "ip", "addr", "add", "192.0.2.10/32", "dev", "lo", NULL };
        const char *const *cmds[] = { up, add };

        if (geteuid() != 0)
                return false;
        *ret_host_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (*ret_host_netns < 0 || unshare(CLONE_NEWNET) < 0)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(cmds); i++) {
                struct ocid_cmd cmd = { .argv = cmds[i], .timeout_ms = 10000 };
                struct ocid_cmd_result r = { 0 };
                int ok = ocid_cmd_run(&cmd, &r, NULL) >= 0 && r.exit_code == 0;

                ocid_cmd_result_done(&r);
                if (!ok)
                        return false;
        }
        snprintf(ret, size, "192.0.2.10");
        return true;
}

static void test_plain_http_policy(void **state)
{
        char addr[64];
        struct fake *f;
        struct registry_client *rc = NULL;
        struct registry_manifest m = { 0 };
        _cleanup_free_ char *domain = NULL;
        struct registry_target t;

        _cleanup_close_ int host_netns = -1;

        if (!own_address(addr, sizeof(addr), &host_netns)) {
                if (host_netns >= 0)
                        assert_int_equal(setns(host_netns, CLONE_NEWNET), 0);
                skip();
        }
        f = fake_start(addr);
        domain = xasprintf("%s:%d", addr, http_server_port(f->srv));
        assert_int_equal(registry_client_new(NULL, &rc, NULL), 0);
        t = (struct registry_target) { .domain = domain, .repository = "library/busybox", .stall_timeout_s = 5 };

        /* not loopback, not listed: https only, so the plain server is
         * never asked */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                assert_true(registry_get_manifest(rc, &t, "latest", &m, &err) < 0);
                assert_int_equal(f->n_manifest, 0);
        }
        /* listed as insecure: plain http is allowed */
        {
                char *insecure[] = { domain, NULL };
                _cleanup_error_ struct ocid_error *err = NULL;

                t.insecure = insecure;
                if (registry_get_manifest(rc, &t, "latest", &m, &err) < 0)
                        fail_msg("%s", ocid_error_message(&err));
                registry_manifest_done(&m);
                assert_int_equal(f->n_manifest, 1);
        }
        registry_client_free(rc);
        fake_stop(f);
        assert_int_equal(setns(host_netns, CLONE_NEWNET), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

OCID_TEST_MAIN(cmocka_unit_test(test_challenge_bearer), cmocka_unit_test(test_challenge_cases),
               cmocka_unit_test(test_challenge_malformed), cmocka_unit_test(test_auth_decode),
               T(test_manifest_anonymous), T(test_manifest_head), T(test_manifest_errors),
               T(test_manifest_verification), T(test_bearer_anonymous), T(test_bearer_credentials),
               T(test_identity_and_registry_tokens), T(test_basic_challenge), T(test_threads), T(test_blob),
               T(test_blob_corrupt_and_truncated), T(test_blob_redirect), T(test_stall_and_deadline),
               T(test_mirrors), cmocka_unit_test(test_plain_http_policy))
