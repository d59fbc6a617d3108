/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "image"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h> /* EVP_DecodeBlock */

#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "image/blobstore.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "image/registry-client.h"

#define ERROR_BODY_MAX      (64u * 1024)  /* kept of a failed response, for its message */
#define TOKEN_BODY_MAX      (1024u * 1024)
#define TOKEN_MAX_LEN       (256u * 1024)
#define TOKEN_CACHE_MAX     1024
#define TOKEN_MIN_LIFETIME  60             /* seconds; the token spec's default and minimum */
#define MAX_REDIRECTS       10
#define NS_PER_SEC          1000000000LL
#define TIMER_SLACK_NS      (100 * 1000000LL)

struct token_entry {
        struct token_entry *next;
        char *key;              /* host \n scope \n credential fingerprint */
        char *token;
        int64_t expires_ns;
};

struct host_entry {
        struct host_entry *next;
        char *host;
};

struct registry_client {
        char *user_agent;
        CURLSH *share;
        pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
        pthread_mutex_t lock;           /* tokens, plain_hosts */
        struct token_entry *tokens;
        size_t n_tokens;
        struct host_entry *plain_hosts; /* insecure hosts found to speak plain HTTP */
};

/* ---- libcurl global state --------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *userdata)
{
        struct registry_client *rc = userdata;

        (void) handle;
        (void) access;
        if (data >= 0 && data < CURL_LOCK_DATA_LAST)
                (void) pthread_mutex_lock(&rc->share_locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *userdata)
{
        struct registry_client *rc = userdata;

        (void) handle;
        if (data >= 0 && data < CURL_LOCK_DATA_LAST)
                (void) pthread_mutex_unlock(&rc->share_locks[data]);
}

int registry_client_new(const char *user_agent, struct registry_client **ret, struct ocid_error **err)
{
        struct registry_client *rc;

        (void) pthread_once(&curl_once, curl_init_once);
        if (curl_init_result != CURLE_OK)
                return ocid_error_msg(err, EIO, "libcurl initialisation failed: %s",
                                      curl_easy_strerror(curl_init_result));

        rc = xzalloc(sizeof(*rc));
        rc->user_agent = user_agent ? xstrdup(user_agent) : xasprintf("ocid/%s", PACKAGE_VERSION);
        (void) pthread_mutex_init(&rc->lock, NULL);
        for (size_t i = 0; i < ELEMENTSOF(rc->share_locks); i++)
                (void) pthread_mutex_init(&rc->share_locks[i], NULL);
        /* DNS and TLS sessions are shared between threads; connections are
         * not, which libcurl does not support across concurrent threads. */
        rc->share = curl_share_init();
        if (!rc->share) {
                registry_client_free(rc);
                return ocid_error_msg(err, ENOMEM, "libcurl: cannot create a share handle");
        }
        (void) curl_share_setopt(rc->share, CURLSHOPT_LOCKFUNC, share_lock);
        (void) curl_share_setopt(rc->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        (void) curl_share_setopt(rc->share, CURLSHOPT_USERDATA, rc);
        (void) curl_share_setopt(rc->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        (void) curl_share_setopt(rc->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        *ret = rc;
        return 0;
}

struct registry_client *registry_client_free(struct registry_client *rc)
{
        if (!rc)
                return NULL;
        if (rc->share)
                (void) curl_share_cleanup(rc->share);
        while (rc->tokens) {
                struct token_entry *t = rc->tokens;
                rc->tokens = t->next;
                free(t->key);
                free(t->token);
                free(t);
        }
        while (rc->plain_hosts) {
                struct host_entry *h = rc->plain_hosts;
                rc->plain_hosts = h->next;
                free(h->host);
                free(h);
        }
        for (size_t i = 0; i < ELEMENTSOF(rc->share_locks); i++)
                (void) pthread_mutex_destroy(&rc->share_locks[i]);
        (void) pthread_mutex_destroy(&rc->lock);
        free(rc->user_agent);
        free(rc);
        return NULL;
}

void registry_manifest_done(struct registry_manifest *m)
{
        free(m->body);
        free(m->content_type);
        free(m->served_by);
        *m = (struct registry_manifest) { 0 };
}

/* ---- WWW-Authenticate ------------------------------------------------- */

static bool is_tchar(char c)
{
        return isalnum((unsigned char) c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ws(const char *p)
{
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

static void challenge_add_param(struct auth_challenge *c, char *name, char *value)
{
        c->names = xreallocarray(c->names, c->n_params + 1, sizeof(char *));
        c->values = xreallocarray(c->values, c->n_params + 1, sizeof(char *));
        for (char *q = name; *q; q++)
                *q = (char) tolower((unsigned char) *q);
        c->names[c->n_params] = name;
        c->values[c->n_params] = value;
        c->n_params++;
}

void auth_challenges_free(struct auth_challenge *c, size_t n)
{
        if (!c)
                return;
        for (size_t i = 0; i < n; i++) {
                free(c[i].scheme);
                for (size_t j = 0; j < c[i].n_params; j++) {
                        free(c[i].names[j]);
                        free(c[i].values[j]);
                }
                free(c[i].names);
                free(c[i].values);
        }
        free(c);
}

const char *auth_challenge_param(const struct auth_challenge *c, const char *name)
{
        for (size_t i = 0; i < c->n_params; i++)
                if (strcasecmp(c->names[i], name) == 0)
                        return c->values[i];
        return NULL;
}

/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE; *p is at the
 * opening quote. */
static int parse_quoted(const char **pp, char **ret)
{
        const char *p = *pp + 1;
        _cleanup_free_ char *out = xmalloc(strlen(p) + 1);
        size_t n = 0;

        for (;;) {
                if (!*p)
                        return -EINVAL;
                if (*p == '"')
                        break;
                if (*p == '\\') {
                        p++;
                        if (!*p)
                                return -EINVAL;
                }
                out[n++] = *p++;
        }
        out[n] = '\0';
        *pp = p + 1;
        *ret = TAKE_PTR(out);
        return 0;
}

static size_t token_len(const char *p)
{
        size_t n = 0;

        while (is_tchar(p[n]))
                n++;
        return n;
}

/* challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 * auth-param  = token BWS "=" BWS ( token / quoted-string )
 * Challenges and parameters are both comma-separated: a token that is not
 * followed by "=" starts the next challenge. */
int auth_challenges_parse(const char *header, struct auth_challenge **ret, size_t *ret_n, struct ocid_error **err)
{
        struct auth_challenge *list = NULL;
        size_t n = 0;
        const char *p = header;

#define FAIL(why)                                                                                  \
        do {                                                                                       \
                auth_challenges_free(list, n);                                                    \
                return ocid_error_msg(err, EINVAL, "malformed WWW-Authenticate header '%s': %s", header, why); \
        } while (0)

        for (;;) {
                struct auth_challenge *c;
                size_t tl;

                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                if (!*p)
                        break;
                tl = token_len(p);
                if (tl == 0)
                        FAIL("expected an authentication scheme");
                list = xreallocarray(list, n + 1, sizeof(*list));
                c = &list[n++];
                *c = (struct auth_challenge) { .scheme = xstrndup(p, tl) };
                for (char *q = c->scheme; *q; q++)
                        *q = (char) tolower((unsigned char) *q);
                p += tl;
                if (*p && *p != ' ' && *p != '\t' && *p != ',')
                        FAIL("bad character after the scheme");

                /* parameters */
                for (;;) {
                        const char *start, *q;
                        char *name, *value = NULL;

                        start = p;
                        while (*p == ' ' || *p == '\t' || *p == ',')
                                p++;
                        if (!*p)
                                break;
                        tl = token_len(p);
                        if (tl == 0)
                                FAIL("expected a parameter name");
                        q = skip_ws(p + tl);
                        if (*q != '=') {
                                /* the next challenge's scheme */
                                p = start;
                                break;
                        }
                        name = xstrndup(p, tl);
                        p = skip_ws(q + 1);
                        if (*p == '"') {
                                if (parse_quoted(&p, &value) < 0) {
                                        free(name);
                                        FAIL("unterminated quoted string");
                                }
                        } else {
                                tl = token_len(p);
                                value = xstrndup(p, tl);
                                p += tl;
                        }
                        challenge_add_param(c, name, value);
                        p = skip_ws(p);
                        if (*p && *p != ',')
                                FAIL("expected ',' between parameters");
                }
                if (!*p)
                        break;
        }
#undef FAIL
        if (n == 0)
                return ocid_error_msg(err, EINVAL, "malformed WWW-Authenticate header '%s': no challenge", header);
        *ret = list;
        *ret_n = n;
        return 0;
}

/* ---- credentials ------------------------------------------------------ */

static bool nonempty(const char *s)
{
        return s && *s;
}

int registry_auth_decode(const char *auth, char **ret_user, char **ret_password, struct ocid_error **err)
{
        size_t len = strlen(auth), pad = 0;
        _cleanup_free_ unsigned char *out = NULL;
        const char *colon;
        int n;

        if (len == 0 || len % 4 != 0 || len > 64 * 1024)
                return ocid_error_msg(err, EINVAL, "credentials: 'auth' is not valid base64");
        while (pad < 2 && auth[len - 1 - pad] == '=')
                pad++;
        out = xmalloc(len / 4 * 3 + 1);
        n = EVP_DecodeBlock(out, (const unsigned char *) auth, (int) len);
        if (n < 0 || (size_t) n < pad)
                return ocid_error_msg(err, EINVAL, "credentials: 'auth' is not valid base64");
        n -= (int) pad;
        out[n] = '\0';
        if (memchr(out, '\0', (size_t) n))
                return ocid_error_msg(err, EINVAL, "credentials: 'auth' decodes to binary data");
        colon = strchr((char *) out, ':');
        if (!colon)
                return ocid_error_msg(err, EINVAL, "credentials: 'auth' does not decode to 'user:password'");
        *ret_user = xstrndup((char *) out, (size_t) (colon - (char *) out));
        *ret_password = xstrdup(colon + 1);
        return 0;
}

/* The basic credentials of an auth struct, or none. */
static int auth_basic(const struct registry_auth *a, char **ret_user, char **ret_password, struct ocid_error **err)
{
        *ret_user = *ret_password = NULL;
        if (!a)
                return 0;
        if (nonempty(a->username)) {
                *ret_user = xstrdup(a->username);
                *ret_password = xstrdup(a->password ? a->password : "");
                return 0;
        }
        if (nonempty(a->auth))
                return registry_auth_decode(a->auth, ret_user, ret_password, err);
        return 0;
}

/* Tokens are cached per credentials too: a token obtained with one pull's
 * credentials must never serve a pull that brought other (or none). */
static int auth_fingerprint(const struct registry_auth *a, char ret[DIGEST_STRING_SIZE], struct ocid_error **err)
{
        _cleanup_digester_ struct digester *d = NULL;
        const char *fields[5];
        int r;

        if (!a) {
                strcpy(ret, "anonymous");
                return 0;
        }
        fields[0] = a->username;
        fields[1] = a->password;
        fields[2] = a->auth;
        fields[3] = a->identity_token;
        fields[4] = a->registry_token;
        r = digester_new(&d, err);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fields); i++) {
                const char *f = fields[i] ? fields[i] : "";
                /* each field with its NUL, so that field boundaries count */
                r = digester_update(d, f, strlen(f) + 1, err);
        }
        if (r < 0)
                return r;
        return digester_final(d, ret, err);
}

/* ---- token cache ------------------------------------------------------ */

static char *token_key(const char *host, const char *scope, const char *fp)
{
        return xasprintf("%s\n%s\n%s", host, scope, fp);
}

static char *token_cache_get(struct registry_client *rc, const char *key)
{
        int64_t now = ocid_now_monotonic_ns();
        char *r = NULL;

        (void) pthread_mutex_lock(&rc->lock);
        for (struct token_entry *t = rc->tokens; t; t = t->next)
                if (streq(t->key, key) && t->expires_ns > now) {
                        r = xstrdup(t->token);
                        break;
                }
        (void) pthread_mutex_unlock(&rc->lock);
        return r;
}

static void token_cache_put(struct registry_client *rc, const char *key, const char *token, int64_t lifetime_s)
{
        int64_t now = ocid_now_monotonic_ns();
        struct token_entry *e;

        /* Renew a little before the registry's deadline. */
        if (lifetime_s > 2 * 10)
                lifetime_s -= 10;
        (void) pthread_mutex_lock(&rc->lock);
        for (struct token_entry **p = &rc->tokens; *p;) {
                struct token_entry *t = *p;
                if (t->expires_ns <= now || streq(t->key, key) || rc->n_tokens >= TOKEN_CACHE_MAX) {
                        *p = t->next;
                        free(t->key);
                        free(t->token);
                        free(t);
                        rc->n_tokens--;
                } else {
                        p = &t->next;
                }
        }
        e = xzalloc(sizeof(*e));
        e->key = xstrdup(key);
        e->token = xstrdup(token);
        e->expires_ns = now + lifetime_s * NS_PER_SEC;
        e->next = rc->tokens;
        rc->tokens = e;
        rc->n_tokens++;
        (void) pthread_mutex_unlock(&rc->lock);
}

static bool plain_host_known(struct registry_client *rc, const char *host)
{
        bool r = false;

        (void) pthread_mutex_lock(&rc->lock);
        for (struct host_entry *h = rc->plain_hosts; h; h = h->next)
                if (streq(h->host, host)) {
                        r = true;
                        break;
                }
        (void) pthread_mutex_unlock(&rc->lock);
        return r;
}

static void plain_host_remember(struct registry_client *rc, const char *host)
{
        struct host_entry *e;

        if (plain_host_known(rc, host))
                return;
        e = xzalloc(sizeof(*e));
        e->host = xstrdup(host);
        (void) pthread_mutex_lock(&rc->lock);
        e->next = rc->plain_hosts;
        rc->plain_hosts = e;
        (void) pthread_mutex_unlock(&rc->lock);
}

/* ---- one HTTP exchange ------------------------------------------------ */

/* An endpoint: the registry or one of its mirrors. */
struct endpoint {
        const char *host;       /* "registry-1.docker.io", "mirror:5000" */
        bool plain_allowed;     /* may speak plain HTTP */
        bool verify_tls;
        bool plain;             /* this attempt uses http:// */
};

struct xfer {
        const struct registry_target *t;
        const struct endpoint *ep;
        CURL *curl;
        char errbuf[CURL_ERROR_SIZE];

        /* headers of the latest response (a redirect starts over) */
        char *content_type;
        char *content_digest;
        char **challenges;

        /* a 2xx body goes to the writer, or to body up to max */
        struct blob_writer *writer;
        size_t max;
        char *body;
        size_t len, cap;
        bool too_big;
        struct ocid_error *sink_err;

        unsigned stall_s;
        int64_t last_progress_ns;
        curl_off_t last_dlnow;
        int64_t last_report_ns;
        bool stalled;
        bool deadline_hit;
        bool report_progress;
};

static void xfer_reset_headers(struct xfer *x)
{
        free(x->content_type);
        free(x->content_digest);
        ocid_strv_free(x->challenges);
        x->content_type = x->content_digest = NULL;
        x->challenges = NULL;
}

/* Releases a response; x is zeroed, so a second call is harmless. */
static void xfer_done(struct xfer *x)
{
        xfer_reset_headers(x);
        free(x->body);
        ocid_error_free(x->sink_err);
        if (x->curl)
                curl_easy_cleanup(x->curl);
        *x = (struct xfer) { 0 };
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct xfer *x = userdata;
        size_t n = size * nmemb, len = n;
        _cleanup_free_ char *line = NULL;
        char *colon, *value;

        while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
                len--;
        line = xstrndup(data, len);
        if (ocid_startswith(line, "HTTP/")) {
                xfer_reset_headers(x);
                return n;
        }
        colon = strchr(line, ':');
        if (!colon)
                return n;
        *colon = '\0';
        value = (char *) skip_ws(colon + 1);
        for (size_t e = strlen(value); e > 0 && (value[e - 1] == ' ' || value[e - 1] == '\t'); e--)
                value[e - 1] = '\0';
        if (strcasecmp(line, "content-type") == 0) {
                free(x->content_type);
                x->content_type = xstrdup(value);
        } else if (strcasecmp(line, "docker-content-digest") == 0) {
                free(x->content_digest);
                x->content_digest = xstrdup(value);
        } else if (strcasecmp(line, "www-authenticate") == 0 && ocid_strv_length(x->challenges) < 16) {
                ocid_strv_push(&x->challenges, value);
        }
        return n;
}

static long xfer_status(struct xfer *x)
{
        long code = 0;

        (void) curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
        return code;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct xfer *x = userdata;
        size_t n = size * nmemb;
        long status = xfer_status(x);
        bool ok = status >= 200 && status < 300;

        if (ok && x->writer) {
                if (blob_writer_write(x->writer, data, n, &x->sink_err) < 0)
                        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
                return n;
        }
        if (ok && x->len + n > x->max) {
                x->too_big = true;
                return 0;
        }
        if (!ok && x->len + n > ERROR_BODY_MAX) {
                n = ERROR_BODY_MAX - x->len; /* keep the start of an error body only */
                if (n == 0)
                        return size * nmemb;
        }
        if (x->len + n + 1 > x->cap) {
                x->cap = (x->len + n + 1) * 2;
                x->body = xrealloc(x->body, x->cap);
        }
        memcpy(x->body + x->len, data, n);
        x->len += n;
        x->body[x->len] = '\0';
        return size * nmemb;
}

static int xferinfo_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
        struct xfer *x = userdata;
        int64_t now = ocid_now_monotonic_ns();

        (void) ultotal;
        (void) ulnow;
        if (dlnow != x->last_dlnow) {
                x->last_dlnow = dlnow;
                x->last_progress_ns = now;
        }
        if (x->t->deadline_ns > 0 && now >= x->t->deadline_ns) {
                x->deadline_hit = true;
                return 1;
        }
        if (now - x->last_progress_ns >= (int64_t) x->stall_s * NS_PER_SEC) {
                x->stalled = true;
                return 1;
        }
        if (x->report_progress && x->t->progress && now - x->last_report_ns >= NS_PER_SEC && dlnow > 0 &&
            xfer_status(x) / 100 == 2) {
                uint64_t total = dltotal > 0 ? (uint64_t) dltotal : 0;

                if (x->writer && blob_writer_expected_size(x->writer) >= 0)
                        total = (uint64_t) blob_writer_expected_size(x->writer);
                x->last_report_ns = now;
                x->t->progress(x->t->progress_userdata, x->writer ? blob_writer_written(x->writer) : (uint64_t) dlnow,
                               total);
        }
        return 0;
}

static bool deadline_passed(const struct registry_target *t)
{
        return t->deadline_ns > 0 && ocid_now_monotonic_ns() >= t->deadline_ns;
}

/* Maps a failed curl_easy_perform to an error. *ret_network says the
 * server never gave an HTTP answer (worth trying plain HTTP or the next
 * endpoint). */
static int xfer_error(struct xfer *x, CURLcode cc, const char *what, bool *ret_network, struct ocid_error **err)
{
        const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
        const char *host = x->ep->host;
        int64_t now = ocid_now_monotonic_ns();

        *ret_network = false;
        if (x->sink_err) {
                /* the blob writer refused the data (too large, disk error) */
                int code = x->sink_err->code;
                int r = ocid_error_msg(err, code, "%s: %s", what, x->sink_err->message);
                x->sink_err = ocid_error_free(x->sink_err);
                return r;
        }
        if (x->too_big)
                return ocid_error_msg(err, EFBIG, "%s: response from %s is larger than %zu bytes", what, host, x->max);
        /* libcurl's own timers (CURLOPT_TIMEOUT_MS from the deadline,
         * CURLOPT_LOW_SPEED_TIME from the stall limit) fire a little before
         * or after ours: attribute a timeout by the clock, with slack. */
        if (x->deadline_hit ||
            ((cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_ABORTED_BY_CALLBACK) && x->t->deadline_ns > 0 &&
             now >= x->t->deadline_ns - TIMER_SLACK_NS))
                return ocid_error_msg(err, ETIMEDOUT, "%s: deadline exceeded talking to %s", what, host);
        *ret_network = true;
        if (x->stalled ||
            (cc == CURLE_OPERATION_TIMEDOUT &&
             now - x->last_progress_ns >= (int64_t) x->stall_s * NS_PER_SEC - TIMER_SLACK_NS))
                return ocid_error_msg(err, ETIMEDOUT, "%s: no progress for %u seconds from %s", what, x->stall_s,
                                      host);
        if (cc == CURLE_OPERATION_TIMEDOUT)
                return ocid_error_msg(err, ETIMEDOUT, "%s: timed out talking to %s: %s", what, host, detail);
        switch (cc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return ocid_error_msg(err, EHOSTUNREACH, "%s: cannot resolve %s: %s", what, host, detail);
        case CURLE_COULDNT_CONNECT:
                return ocid_error_msg(err, ECONNREFUSED, "%s: cannot connect to %s: %s", what, host, detail);
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_USE_SSL_FAILED:
                return ocid_error_msg(err, EPROTO, "%s: TLS error talking to %s: %s", what, host, detail);
        case CURLE_TOO_MANY_REDIRECTS:
                *ret_network = false;
                return ocid_error_msg(err, ELOOP, "%s: too many redirects from %s", what, host);
        case CURLE_UNSUPPORTED_PROTOCOL:
                *ret_network = false;
                return ocid_error_msg(err, EPROTO, "%s: %s redirected to a refused protocol: %s", what, host, detail);
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return ocid_error_msg(err, ECONNRESET, "%s: connection to %s failed: %s", what, host, detail);
        default:
                return ocid_error_msg(err, EIO, "%s: request to %s failed: %s", what, host, detail);
        }
}

/* The message a registry put in its error body, if any:
 * {"errors":[{"code":"...","message":"...","detail":...}]} */
static char *registry_error_message(const char *body, size_t len)
{
        _cleanup_json_ struct json_object *obj = NULL;
        struct json_object *errors, *first, *v;

        if (!body || len == 0)
                return NULL;
        obj = json_tokener_parse(body);
        if (!obj || !json_object_object_get_ex(obj, "errors", &errors) ||
            !json_object_is_type(errors, json_type_array) || json_object_array_length(errors) == 0)
                return NULL;
        first = json_object_array_get_idx(errors, 0);
        if (!first || !json_object_is_type(first, json_type_object))
                return NULL;
        if (json_object_object_get_ex(first, "message", &v) && json_object_is_type(v, json_type_string) &&
            json_object_get_string_len(v) > 0)
                return xstrndup(json_object_get_string(v), 512);
        if (json_object_object_get_ex(first, "code", &v) && json_object_is_type(v, json_type_string))
                return xstrndup(json_object_get_string(v), 512);
        return NULL;
}

struct xfer_req {
        const char *method;             /* "GET", "HEAD", "POST" */
        const char *url;
        const char *accept;             /* may be NULL */
        const char *bearer;             /* Authorization: Bearer ..., may be NULL */
        const char *basic_user;         /* basic credentials, may be NULL */
        const char *basic_password;
        const char *post_fields;        /* POST form body */
        struct blob_writer *writer;
        size_t max;
        bool report_progress;
};

/* Performs one request (following redirects). Returns 0 with the response
 * in x (status via xfer_status), or an error; *ret_network as xfer_error. */
static int xfer_perform(struct registry_client *rc, const struct registry_target *t, const struct endpoint *ep,
                        const struct xfer_req *rq, const char *what, struct xfer *x, bool *ret_network,
                        struct ocid_error **err)
{
        struct curl_slist *headers = NULL;
        _cleanup_free_ char *auth_header = NULL, *accept_header = NULL;
        const char *protocols = ep->plain_allowed ? "http,https" : "https";
        int64_t now = ocid_now_monotonic_ns();
        CURLcode cc;

        *ret_network = false;
        *x = (struct xfer) { .t = t, .ep = ep, .writer = rq->writer, .max = rq->max,
                             .report_progress = rq->report_progress };
        x->stall_s = t->stall_timeout_s ? t->stall_timeout_s : REGISTRY_DEFAULT_STALL_S;
        x->last_progress_ns = now;
        x->last_report_ns = now;
        if (t->deadline_ns > 0 && now >= t->deadline_ns)
                return ocid_error_msg(err, ETIMEDOUT, "%s: deadline exceeded before contacting %s", what, ep->host);

        x->curl = curl_easy_init();
        if (!x->curl)
                return ocid_error_msg(err, ENOMEM, "%s: libcurl: cannot create a handle", what);

        if (rq->accept) {
                accept_header = xasprintf("Accept: %s", rq->accept);
                headers = curl_slist_append(headers, accept_header);
        }
        if (rq->bearer) {
                auth_header = xasprintf("Authorization: Bearer %s", rq->bearer);
                headers = curl_slist_append(headers, auth_header);
        }

        (void) curl_easy_setopt(x->curl, CURLOPT_URL, rq->url);
        (void) curl_easy_setopt(x->curl, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(x->curl, CURLOPT_SHARE, rc->share);
        (void) curl_easy_setopt(x->curl, CURLOPT_USERAGENT, rc->user_agent);
        (void) curl_easy_setopt(x->curl, CURLOPT_ERRORBUFFER, x->errbuf);
        (void) curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, headers);
#if LIBCURL_VERSION_NUM >= 0x075500
        (void) curl_easy_setopt(x->curl, CURLOPT_PROTOCOLS_STR, protocols);
        (void) curl_easy_setopt(x->curl, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
#else
        (void) curl_easy_setopt(x->curl, CURLOPT_PROTOCOLS,
                                ep->plain_allowed ? (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS) : (long) CURLPROTO_HTTPS);
        (void) curl_easy_setopt(x->curl, CURLOPT_REDIR_PROTOCOLS,
                                ep->plain_allowed ? (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS) : (long) CURLPROTO_HTTPS);
        (void) protocols;
#endif
        (void) curl_easy_setopt(x->curl, CURLOPT_FOLLOWLOCATION, 1L);
        (void) curl_easy_setopt(x->curl, CURLOPT_MAXREDIRS, (long) MAX_REDIRECTS);
        (void) curl_easy_setopt(x->curl, CURLOPT_TCP_KEEPALIVE, 1L);
        (void) curl_easy_setopt(x->curl, CURLOPT_SSL_VERIFYPEER, ep->verify_tls ? 1L : 0L);
        (void) curl_easy_setopt(x->curl, CURLOPT_SSL_VERIFYHOST, ep->verify_tls ? 2L : 0L);
        (void) curl_easy_setopt(x->curl, CURLOPT_HEADERFUNCTION, header_cb);
        (void) curl_easy_setopt(x->curl, CURLOPT_HEADERDATA, x);
        (void) curl_easy_setopt(x->curl, CURLOPT_WRITEFUNCTION, write_cb);
        (void) curl_easy_setopt(x->curl, CURLOPT_WRITEDATA, x);
        (void) curl_easy_setopt(x->curl, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
        (void) curl_easy_setopt(x->curl, CURLOPT_XFERINFODATA, x);
        (void) curl_easy_setopt(x->curl, CURLOPT_NOPROGRESS, 0L);
        /* No byte for stall_s seconds aborts (also checked, with a precise
         * error, in xferinfo_cb); so does the connect phase. */
        (void) curl_easy_setopt(x->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        (void) curl_easy_setopt(x->curl, CURLOPT_LOW_SPEED_TIME, (long) x->stall_s);
        (void) curl_easy_setopt(x->curl, CURLOPT_CONNECTTIMEOUT_MS, (long) x->stall_s * 1000L);
        if (t->deadline_ns > 0) {
                int64_t ms = (t->deadline_ns - now) / 1000000;
                (void) curl_easy_setopt(x->curl, CURLOPT_TIMEOUT_MS, (long) (ms > 0 ? ms : 1));
        }
        if (rq->basic_user) {
                (void) curl_easy_setopt(x->curl, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
                (void) curl_easy_setopt(x->curl, CURLOPT_USERNAME, rq->basic_user);
                (void) curl_easy_setopt(x->curl, CURLOPT_PASSWORD, rq->basic_password ? rq->basic_password : "");
        }
        if (streq(rq->method, "HEAD"))
                (void) curl_easy_setopt(x->curl, CURLOPT_NOBODY, 1L);
        else if (streq(rq->method, "POST"))
                (void) curl_easy_setopt(x->curl, CURLOPT_COPYPOSTFIELDS, rq->post_fields ? rq->post_fields : "");
        else
                (void) curl_easy_setopt(x->curl, CURLOPT_HTTPGET, 1L);

        ocid_log(OCID_LOG_DEBUG, "%s %s", rq->method, rq->url);
        cc = curl_easy_perform(x->curl);
        curl_slist_free_all(headers);
        (void) curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, NULL);
        if (cc != CURLE_OK) {
                int r = xfer_error(x, cc, what, ret_network, err);
                xfer_done(x);
                return r;
        }
        ocid_log(OCID_LOG_DEBUG, "%s %s: HTTP %ld", rq->method, rq->url, xfer_status(x));
        return 0;
}

/* ---- requests with authentication ------------------------------------ */

static char *url_escape(const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        char *out = xmalloc(strlen(s) * 3 + 1), *o = out;

        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (isalnum(c) || strchr("-._~", c))
                        *o++ = (char) c;
                else {
                        *o++ = '%';
                        *o++ = hex[c >> 4];
                        *o++ = hex[c & 0xf];
                }
        }
        *o = '\0';
        return out;
}

static int status_error(struct xfer *x, const char *what, const char *unknown_msg, struct ocid_error **err)
{
        long status = xfer_status(x);
        _cleanup_free_ char *msg = registry_error_message(x->body, x->len);
        const char *host = x->ep->host;

        if (status == 401 || status == 403)
                return ocid_error_msg(err, EACCES, "%s: unauthorized: %s (HTTP %ld from %s)", what,
                                      msg ? msg : "authentication required", status, host);
        if (status == 404)
                return ocid_error_msg(err, ENOENT, "%s: %s (HTTP 404 from %s)", what, unknown_msg, host);
        if (status == 429)
                return ocid_error_msg(err, EAGAIN, "%s: too many requests: %s (HTTP 429 from %s)", what,
                                      msg ? msg : "rate limit reached", host);
        if (status >= 500)
                return ocid_error_msg(err, EIO, "%s: registry error: HTTP %ld from %s%s%s", what, status, host,
                                      msg ? ": " : "", msg ? msg : "");
        return ocid_error_msg(err, EPROTO, "%s: unexpected HTTP status %ld from %s%s%s", what, status, host,
                              msg ? ": " : "", msg ? msg : "");
}

static bool is_plain_url(const char *url)
{
        return strncasecmp(url, "http://", 7) == 0;
}

/* Gets a bearer token from the challenge's realm. */
static int fetch_token(struct registry_client *rc, const struct registry_target *t, const struct endpoint *ep,
                       const struct auth_challenge *ch, const char *scope, char **ret_token, int64_t *ret_lifetime,
                       struct ocid_error **err)
{
        const char *realm = auth_challenge_param(ch, "realm");
        const char *service = auth_challenge_param(ch, "service");
        const char *ch_scope = auth_challenge_param(ch, "scope");
        _cleanup_free_ char *user = NULL, *password = NULL, *url = NULL, *query = NULL, *esc_service = NULL,
                            *esc_scope = NULL, *form = NULL;
        _cleanup_json_ struct json_object *obj = NULL;
        struct json_object *v;
        const struct registry_auth *a = t->auth;
        struct endpoint token_ep = *ep;
        struct xfer x;
        struct xfer_req rq = { .accept = "application/json", .max = TOKEN_BODY_MAX };
        const char *token = NULL;
        int64_t lifetime = TOKEN_MIN_LIFETIME;
        bool network;
        long status;
        int r;

        if (!realm || !*realm)
                return ocid_error_msg(err, EACCES, "unauthorized: %s asked for a bearer token without a realm",
                                      ep->host);
        if (strncasecmp(realm, "https://", 8) != 0 && !(is_plain_url(realm) && ep->plain_allowed))
                return ocid_error_msg(err, EACCES, "unauthorized: %s names token realm '%s', which is not https",
                                      ep->host, realm);
        token_ep.host = realm;

        esc_service = service ? url_escape(service) : NULL;
        esc_scope = url_escape(ch_scope ? ch_scope : scope);
        query = xasprintf("%s%s%sscope=%s", service ? "service=" : "", service ? esc_service : "",
                          service ? "&" : "", esc_scope);

        if (a && nonempty(a->identity_token)) {
                _cleanup_free_ char *esc_token = url_escape(a->identity_token);

                /* OAuth2 refresh-token grant */
                form = xasprintf("grant_type=refresh_token&client_id=ocid&refresh_token=%s&%s", esc_token, query);
                url = xstrdup(realm);
                rq.method = "POST";
                rq.post_fields = form;
        } else {
                r = auth_basic(a, &user, &password, err);
                if (r < 0)
                        return r;
                url = xasprintf("%s%c%s", realm, strchr(realm, '?') ? '&' : '?', query);
                rq.method = "GET";
                rq.basic_user = user;
                rq.basic_password = password;
        }
        rq.url = url;

        r = xfer_perform(rc, t, &token_ep, &rq, "token request", &x, &network, err);
        if (r < 0) {
                xfer_done(&x);
                return r;
        }
        status = xfer_status(&x);
        if (status == 401 || status == 403) {
                _cleanup_free_ char *msg = registry_error_message(x.body, x.len);
                r = ocid_error_msg(err, EACCES, "unauthorized: token server %s refused the %s (HTTP %ld)%s%s", realm,
                                   (user || form) ? "credentials" : "anonymous request", status, msg ? ": " : "",
                                   msg ? msg : "");
                xfer_done(&x);
                return r;
        }
        if (status < 200 || status >= 300) {
                r = ocid_error_msg(err, EACCES, "unauthorized: token server %s answered HTTP %ld", realm, status);
                xfer_done(&x);
                return r;
        }
        obj = x.body ? json_tokener_parse(x.body) : NULL;
        xfer_done(&x);
        if (!obj || !json_object_is_type(obj, json_type_object))
                return ocid_error_msg(err, EBADMSG, "token server %s sent no JSON object", realm);
        if (json_object_object_get_ex(obj, "token", &v) && json_object_is_type(v, json_type_string) &&
            json_object_get_string_len(v) > 0)
                token = json_object_get_string(v);
        else if (json_object_object_get_ex(obj, "access_token", &v) && json_object_is_type(v, json_type_string) &&
                 json_object_get_string_len(v) > 0)
                token = json_object_get_string(v);
        if (!token)
                return ocid_error_msg(err, EBADMSG, "token server %s sent neither 'token' nor 'access_token'", realm);
        if (strlen(token) > TOKEN_MAX_LEN || strpbrk(token, "\r\n"))
                return ocid_error_msg(err, EBADMSG, "token server %s sent a malformed token", realm);
        if (json_object_object_get_ex(obj, "expires_in", &v) && json_object_is_type(v, json_type_int) &&
            json_object_get_int64(v) > TOKEN_MIN_LIFETIME)
                lifetime = json_object_get_int64(v);
        *ret_token = xstrdup(token);
        *ret_lifetime = lifetime;
        return 0;
}

static const struct auth_challenge *find_challenge(const struct auth_challenge *c, size_t n, const char *scheme)
{
        for (size_t i = 0; i < n; i++)
                if (streq(c[i].scheme, scheme))
                        return &c[i];
        return NULL;
}

/* One request to one endpoint, with the challenge-response dance: try with
 * what is known (a cached or given token), and on 401 answer the
 * challenge once. On success x holds a 2xx response. */
static int endpoint_request(struct registry_client *rc, const struct registry_target *t, const struct endpoint *ep,
                            struct xfer_req *rq, const char *what, struct xfer *x, bool *ret_network,
                            struct ocid_error **err)
{
        _cleanup_free_ char *scope = xasprintf("repository:%s:pull", t->repository);
        _cleanup_free_ char *key = NULL, *token = NULL, *user = NULL, *password = NULL;
        const struct registry_auth *a = t->auth;
        char fp[DIGEST_STRING_SIZE];
        int r;

        r = auth_fingerprint(a, fp, err);
        if (r < 0)
                return r;
        key = token_key(ep->host, scope, fp);
        rq->bearer = rq->basic_user = rq->basic_password = NULL;
        if (a && nonempty(a->registry_token))
                token = xstrdup(a->registry_token);
        else
                token = token_cache_get(rc, key);

        for (int attempt = 0;; attempt++) {
                struct auth_challenge *ch = NULL;
                const struct auth_challenge *bearer, *basic;
                size_t n_ch = 0;
                long status;

                rq->bearer = token;
                r = xfer_perform(rc, t, ep, rq, what, x, ret_network, err);
                if (r < 0) {
                        rq->bearer = rq->basic_user = rq->basic_password = NULL;
                        return r;
                }
                status = xfer_status(x);
                if (status != 401 || attempt > 0)
                        break;
                for (size_t i = 0; x->challenges && x->challenges[i]; i++) {
                        struct auth_challenge *more = NULL;
                        size_t n_more = 0;

                        if (auth_challenges_parse(x->challenges[i], &more, &n_more, NULL) < 0)
                                continue;
                        ch = xreallocarray(ch, n_ch + n_more, sizeof(*ch));
                        memcpy(ch + n_ch, more, n_more * sizeof(*ch));
                        n_ch += n_more;
                        free(more);
                }
                if (!ch)
                        break; /* 401 without a usable challenge: reported by the caller */
                bearer = find_challenge(ch, n_ch, "bearer");
                basic = find_challenge(ch, n_ch, "basic");
                if (bearer && !(a && nonempty(a->registry_token))) {
                        int64_t lifetime = 0;
                        char *fresh = NULL;

                        r = fetch_token(rc, t, ep, bearer, scope, &fresh, &lifetime, err);
                        auth_challenges_free(ch, n_ch);
                        if (r < 0) {
                                xfer_done(x);
                                return ocid_error_prefix(err, "%s", what);
                        }
                        token_cache_put(rc, key, fresh, lifetime);
                        free(token);
                        token = fresh;
                } else if (basic && !bearer) {
                        auth_challenges_free(ch, n_ch);
                        r = auth_basic(a, &user, &password, err);
                        if (r < 0) {
                                xfer_done(x);
                                return r;
                        }
                        if (!user)
                                break; /* no credentials to offer: 401 reported below */
                        rq->basic_user = user;
                        rq->basic_password = password;
                } else {
                        auth_challenges_free(ch, n_ch);
                        break;
                }
                xfer_done(x);
        }
        /* user, password and token die with this scope */
        rq->bearer = rq->basic_user = rq->basic_password = NULL;
        return 0;
}

/* ---- endpoints, mirrors ------------------------------------------------ */

static bool host_in_list(char *const *list, const char *host)
{
        for (size_t i = 0; list && list[i]; i++)
                if (streq(list[i], host))
                        return true;
        return false;
}

static void endpoint_init(const struct registry_target *t, const char *host, bool is_registry, struct endpoint *ep)
{
        bool insecure = host_in_list(t->insecure, host) || (is_registry && host_in_list(t->insecure, t->domain));

        *ep = (struct endpoint) {
                .host = host,
                .plain_allowed = insecure || image_domain_is_loopback(host),
                .verify_tls = !insecure,
        };
}

static bool safe_path_chars(const char *s, const char *extra)
{
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr(extra, *s))
                        return false;
        return true;
}

static int target_validate(const struct registry_target *t, const char *ref, struct ocid_error **err)
{
        if (!t->domain || image_domain_validate(t->domain, NULL) < 0)
                return ocid_error_msg(err, EINVAL, "invalid registry '%s'", t->domain ? t->domain : "");
        if (!t->repository || !*t->repository || !safe_path_chars(t->repository, "._-/"))
                return ocid_error_msg(err, EINVAL, "invalid repository '%s'", t->repository ? t->repository : "");
        if (!ref || !*ref || !safe_path_chars(ref, "._-:"))
                return ocid_error_msg(err, EINVAL, "invalid manifest reference '%s'", ref ? ref : "");
        for (size_t i = 0; t->mirrors && t->mirrors[i]; i++)
                if (image_domain_validate(t->mirrors[i], NULL) < 0)
                        return ocid_error_msg(err, EINVAL, "invalid mirror '%s' for registry '%s'", t->mirrors[i],
                                              t->domain);
        return 0;
}

/* Runs a request against one endpoint, choosing the scheme: https, and for
 * a host that may speak plain HTTP, http when https cannot connect (the
 * choice is remembered). `path` starts with "/v2/". */
static int endpoint_run(struct registry_client *rc, const struct registry_target *t, struct endpoint *ep,
                        const char *path, struct xfer_req *rq, const char *what, struct xfer *x,
                        struct ocid_error **err)
{
        _cleanup_free_ char *url = NULL;
        bool network = false;
        int r;

        if (ep->plain_allowed && plain_host_known(rc, ep->host)) {
                url = xasprintf("http://%s%s", ep->host, path);
                rq->url = url;
                return endpoint_request(rc, t, ep, rq, what, x, &network, err);
        }

        url = xasprintf("https://%s%s", ep->host, path);
        rq->url = url;
        if (!ep->plain_allowed)
                return endpoint_request(rc, t, ep, rq, what, x, &network, err);

        {
                _cleanup_error_ struct ocid_error *https_err = NULL;

                r = endpoint_request(rc, t, ep, rq, what, x, &network, &https_err);
                if (r >= 0 || !network || deadline_passed(t)) {
                        if (r < 0)
                                *err = TAKE_PTR(https_err);
                        return r;
                }
                xfer_done(x);
                if (rq->writer && blob_writer_written(rq->writer) > 0) {
                        r = blob_writer_reset(rq->writer, err);
                        if (r < 0)
                                return r;
                }
                free(url);
                url = xasprintf("http://%s%s", ep->host, path);
                rq->url = url;
                r = endpoint_request(rc, t, ep, rq, what, x, &network, err);
                if (r >= 0)
                        plain_host_remember(rc, ep->host);
                else if (network)
                        /* neither answered: the https error may be the telling one */
                        ocid_error_prefix(err, "over https: %s; over http", ocid_error_message(&https_err));
                return r;
        }
}

typedef int (*attempt_check_fn)(struct xfer *x, const char *what, void *userdata, struct ocid_error **err);

/* Tries each mirror, then the registry. An attempt fails on any error
 * (network, HTTP status, a failed check); only a passed deadline stops the
 * round early. On failure the error names every attempt. */
static int run_with_mirrors(struct registry_client *rc, const struct registry_target *t, const char *path,
                            struct xfer_req *rq, const char *what, const char *unknown_msg, attempt_check_fn check,
                            void *userdata, struct xfer *x, char **ret_host, struct ocid_error **err)
{
        size_t n_mirrors = ocid_strv_length(t->mirrors);
        _cleanup_free_ char *summary = NULL;
        int last_code = EIO;

        for (size_t i = 0; i <= n_mirrors; i++) {
                const bool is_registry = i == n_mirrors;
                const char *host = is_registry ? image_domain_api_host(t->domain) : t->mirrors[i];
                _cleanup_error_ struct ocid_error *e = NULL;
                struct endpoint ep;
                int r;

                endpoint_init(t, host, is_registry, &ep);
                if (rq->writer && blob_writer_written(rq->writer) > 0) {
                        r = blob_writer_reset(rq->writer, err);
                        if (r < 0)
                                return r;
                }
                rq->basic_user = rq->basic_password = NULL;
                r = endpoint_run(rc, t, &ep, path, rq, what, x, &e);
                if (r >= 0) {
                        long status = xfer_status(x);

                        if (status < 200 || status >= 300)
                                r = status_error(x, what, unknown_msg, &e);
                        else if (check)
                                r = check(x, what, userdata, &e);
                        if (r >= 0) {
                                if (ret_host)
                                        *ret_host = xstrdup(host);
                                return 0;
                        }
                        xfer_done(x);
                }
                last_code = e ? e->code : EIO;
                ocid_log(OCID_LOG_DEBUG, "attempt at %s%s failed: %s", is_registry ? "" : "mirror ", host,
                         ocid_error_message(&e));
                if (n_mirrors == 0) {
                        *err = TAKE_PTR(e);
                        return -last_code;
                }
                {
                        char *joined = xasprintf("%s%s%s%s: %s", summary ? summary : "", summary ? "; " : "",
                                                 is_registry ? "" : "mirror ", host, ocid_error_message(&e));
                        free(summary);
                        summary = joined;
                }
                if (deadline_passed(t))
                        break;
        }
        return ocid_error_msg(err, last_code, "%s: every source failed: %s", what, summary);
}

/* ---- the public requests --------------------------------------------- */

struct manifest_check {
        const char *ref;
        char digest[DIGEST_STRING_SIZE];
};

static int check_manifest(struct xfer *x, const char *what, void *userdata, struct ocid_error **err)
{
        struct manifest_check *mc = userdata;
        int r;

        r = digest_buffer(x->body ? x->body : "", x->len, mc->digest, err);
        if (r < 0)
                return r;
        if (digest_is_valid(mc->ref) && !streq(mc->ref, mc->digest))
                return ocid_error_msg(err, EBADMSG, "%s: digest mismatch for %s: got %s", what, mc->ref, mc->digest);
        if (x->content_digest && ocid_startswith(x->content_digest, DIGEST_SHA256_PREFIX) &&
            !streq(x->content_digest, mc->digest))
                return ocid_error_msg(err, EBADMSG, "%s: digest mismatch for %s: got %s", what, x->content_digest,
                                      mc->digest);
        return 0;
}

int registry_get_manifest(struct registry_client *rc, const struct registry_target *t, const char *ref,
                          struct registry_manifest *ret, struct ocid_error **err)
{
        _cleanup_free_ char *path = NULL, *what = NULL, *unknown = NULL, *host = NULL;
        struct manifest_check mc = { .ref = ref };
        struct xfer_req rq = { .method = "GET", .accept = MANIFEST_ACCEPT, .max = MANIFEST_MAX_SIZE };
        struct xfer x = { 0 };
        int r;

        r = target_validate(t, ref, err);
        if (r < 0)
                return r;
        path = xasprintf("/v2/%s/manifests/%s", t->repository, ref);
        what = xasprintf("fetch manifest %s/%s%s%s", t->domain, t->repository,
                         digest_is_valid(ref) ? "@" : ":", ref);
        unknown = xasprintf("manifest unknown: %s", ref);
        r = run_with_mirrors(rc, t, path, &rq, what, unknown, check_manifest, &mc, &x, &host, err);
        if (r < 0) {
                xfer_done(&x);
                return r;
        }
        *ret = (struct registry_manifest) {
                .body = x.body ? TAKE_PTR(x.body) : xstrdup(""),
                .len = x.len,
                .content_type = TAKE_PTR(x.content_type),
                .served_by = TAKE_PTR(host),
        };
        memcpy(ret->digest, mc.digest, DIGEST_STRING_SIZE);
        xfer_done(&x);
        return 0;
}

int registry_head_manifest(struct registry_client *rc, const struct registry_target *t, const char *ref,
                           char ret_digest[DIGEST_STRING_SIZE], char **ret_content_type, int64_t *ret_size,
                           struct ocid_error **err)
{
        _cleanup_free_ char *path = NULL, *what = NULL, *unknown = NULL;
        struct xfer_req rq = { .method = "HEAD", .accept = MANIFEST_ACCEPT, .max = 0 };
        struct xfer x = { 0 };
        curl_off_t len = -1;
        const char *digest;
        int r;

        r = target_validate(t, ref, err);
        if (r < 0)
                return r;
        path = xasprintf("/v2/%s/manifests/%s", t->repository, ref);
        what = xasprintf("check manifest %s/%s%s%s", t->domain, t->repository,
                         digest_is_valid(ref) ? "@" : ":", ref);
        unknown = xasprintf("manifest unknown: %s", ref);
        r = run_with_mirrors(rc, t, path, &rq, what, unknown, NULL, NULL, &x, NULL, err);
        if (r < 0) {
                xfer_done(&x);
                return r;
        }
        digest = digest_is_valid(ref) ? ref : x.content_digest;
        if (!digest || !digest_is_valid(digest)) {
                xfer_done(&x);
                return ocid_error_msg(err, EPROTO, "%s: the registry sent no valid Docker-Content-Digest", what);
        }
        if (x.content_digest && digest_is_valid(ref) && !streq(x.content_digest, ref)) {
                r = ocid_error_msg(err, EBADMSG, "%s: digest mismatch for %s: got %s", what, ref, x.content_digest);
                xfer_done(&x);
                return r;
        }
        memcpy(ret_digest, digest, strlen(digest) + 1);
        (void) curl_easy_getinfo(x.curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
        if (ret_content_type)
                *ret_content_type = TAKE_PTR(x.content_type);
        if (ret_size)
                *ret_size = len >= 0 ? (int64_t) len : -1;
        xfer_done(&x);
        return 0;
}

static int check_blob(struct xfer *x, const char *what, void *userdata, struct ocid_error **err)
{
        (void) userdata;
        if (blob_writer_check(x->writer, err) < 0)
                return ocid_error_prefix(err, "%s", what);
        return 0;
}

int registry_fetch_blob(struct registry_client *rc, const struct registry_target *t, const char *digest,
                        struct blob_writer *w, struct ocid_error **err)
{
        _cleanup_free_ char *path = NULL, *what = NULL, *unknown = NULL;
        struct xfer_req rq = { .method = "GET", .writer = w, .report_progress = true };
        struct xfer x = { 0 };
        const char *expected = blob_writer_expected_digest(w);
        int r;

        r = target_validate(t, digest, err);
        if (r < 0)
                return r;
        r = digest_validate(digest, err);
        if (r < 0)
                return r;
        if (!expected || !streq(expected, digest))
                return ocid_error_msg(err, EINVAL, "fetch blob %s: the writer expects %s", digest,
                                      expected ? expected : "any content");
        path = xasprintf("/v2/%s/blobs/%s", t->repository, digest);
        what = xasprintf("fetch blob %s from %s/%s", digest, t->domain, t->repository);
        unknown = xasprintf("blob unknown: %s", digest);
        r = run_with_mirrors(rc, t, path, &rq, what, unknown, check_blob, NULL, &x, NULL, err);
        if (r >= 0 && t->progress)
                t->progress(t->progress_userdata, blob_writer_written(w),
                            blob_writer_expected_size(w) >= 0 ? (uint64_t) blob_writer_expected_size(w) : 0);
        xfer_done(&x);
        return r;
}
