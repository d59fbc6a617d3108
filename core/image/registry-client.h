/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A client of the OCI distribution API (v2) on libcurl: manifests by tag or
 * digest, blobs streamed into the blob store, bearer-token and basic
 * authentication, per-registry mirrors, progress and stall timeouts.
 *
 * One struct registry_client serves every thread: each request uses its own
 * curl easy handle; the token cache and the DNS/TLS-session share are
 * locked. docs/images.md describes the protocol as implemented. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/digest.h"

struct ocid_error;
struct blob_writer;

/* Credentials as the CRI AuthConfig carries them. Empty strings count as
 * unset. A registry_token is sent as the bearer token as is; an
 * identity_token is an OAuth2 refresh token exchanged at the token realm;
 * otherwise username/password (or `auth`, base64 "user:pass") are sent as
 * basic credentials to the token realm, or to the registry itself when it
 * asks for Basic. */
struct registry_auth {
        const char *username;
        const char *password;
        const char *auth;
        const char *identity_token;
        const char *registry_token;
};

/* Called as a blob downloads (about once a second, and at the end). total
 * is 0 when unknown. */
typedef void (*registry_progress_fn)(void *userdata, uint64_t done, uint64_t total);

/* Where and how one pull talks to a registry. */
struct registry_target {
        const char *domain;             /* reference domain: "docker.io", "localhost:5000" */
        const char *repository;         /* "library/busybox" */
        char *const *mirrors;           /* hosts ("host[:port]") tried first, in order; may be NULL */
        char *const *insecure;          /* hosts allowed over plain HTTP (and with unverified TLS);
                                           loopback hosts always are; may be NULL */
        const struct registry_auth *auth; /* NULL: anonymous */
        int64_t deadline_ns;            /* absolute CLOCK_MONOTONIC; 0: none */
        unsigned stall_timeout_s;       /* no progress this long aborts; 0: REGISTRY_DEFAULT_STALL_S */
        registry_progress_fn progress;
        void *progress_userdata;
};

#define REGISTRY_DEFAULT_STALL_S 60

struct registry_client;

/* user_agent may be NULL ("ocid/<version>"). Initialises libcurl globally
 * once per process. */
int registry_client_new(const char *user_agent, struct registry_client **ret, struct ocid_error **err);
struct registry_client *registry_client_free(struct registry_client *rc);

struct registry_manifest {
        char *body;                     /* NUL-terminated, len bytes, at most MANIFEST_MAX_SIZE */
        size_t len;
        char *content_type;             /* as the registry sent it, or NULL */
        char digest[DIGEST_STRING_SIZE]; /* sha256 of body, verified */
        char *served_by;                /* the host that answered */
};
void registry_manifest_done(struct registry_manifest *m);

/* GET /v2/<repository>/manifests/<ref> (ref: a tag or a digest). The body
 * is verified against ref when ref is a digest, and against the
 * Docker-Content-Digest header when the registry sends one. */
int registry_get_manifest(struct registry_client *rc, const struct registry_target *t, const char *ref,
                          struct registry_manifest *ret, struct ocid_error **err);

/* HEAD of the same: the digest (from Docker-Content-Digest, or ref itself
 * when ref is a digest), the content type (may be NULL) and size (-1 if
 * unknown). */
int registry_head_manifest(struct registry_client *rc, const struct registry_target *t, const char *ref,
                           char ret_digest[DIGEST_STRING_SIZE], char **ret_content_type, int64_t *ret_size,
                           struct ocid_error **err);

/* GET /v2/<repository>/blobs/<digest>, following redirects, streamed into
 * w (whose expected digest and size it must match; the caller commits). */
int registry_fetch_blob(struct registry_client *rc, const struct registry_target *t, const char *digest,
                        struct blob_writer *w, struct ocid_error **err);

/* ---- exposed for tests ------------------------------------------------ */

/* One challenge of a WWW-Authenticate header (RFC 7235): a scheme and its
 * parameters (names lowercased, values unquoted). */
struct auth_challenge {
        char *scheme;                   /* lowercased: "bearer", "basic" */
        size_t n_params;
        char **names;
        char **values;
};

/* Parses a header value holding one or more comma-separated challenges,
 * with quoted-string values (backslash escapes) or tokens. -EINVAL on
 * malformed input. */
int auth_challenges_parse(const char *header, struct auth_challenge **ret, size_t *ret_n, struct ocid_error **err);
void auth_challenges_free(struct auth_challenge *c, size_t n);
const char *auth_challenge_param(const struct auth_challenge *c, const char *name);

/* Decodes a docker `auth` value (base64 "user:pass"). */
int registry_auth_decode(const char *auth, char **ret_user, char **ret_password, struct ocid_error **err);
