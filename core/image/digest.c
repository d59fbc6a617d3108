/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "image/digest.h"

struct digester {
        EVP_MD_CTX *ctx;
        uint64_t count;
};

int digester_reset(struct digester *d, struct ocid_error **err)
{
        if (EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1)
                return ocid_error_msg(err, EIO, "sha256: initialising the digest failed");
        d->count = 0;
        return 0;
}

int digester_new(struct digester **ret, struct ocid_error **err)
{
        _cleanup_digester_ struct digester *d = xzalloc(sizeof(*d));
        int r;

        d->ctx = EVP_MD_CTX_new();
        if (!d->ctx)
                return ocid_error_msg(err, ENOMEM, "sha256: cannot allocate a digest context");
        r = digester_reset(d, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

int digester_update(struct digester *d, const void *buf, size_t len, struct ocid_error **err)
{
        if (len == 0)
                return 0;
        if (EVP_DigestUpdate(d->ctx, buf, len) != 1)
                return ocid_error_msg(err, EIO, "sha256: updating the digest failed");
        d->count += len;
        return 0;
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
        static const char hex[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex[in[i] >> 4];
                out[2 * i + 1] = hex[in[i] & 0xf];
        }
        out[2 * n] = '\0';
}

int digester_final(struct digester *d, char ret[DIGEST_STRING_SIZE], struct ocid_error **err)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        const size_t plen = sizeof(DIGEST_SHA256_PREFIX) - 1;

        if (EVP_DigestFinal_ex(d->ctx, md, &len) != 1 || len * 2 != DIGEST_SHA256_HEX_LEN)
                return ocid_error_msg(err, EIO, "sha256: finishing the digest failed");
        memcpy(ret, DIGEST_SHA256_PREFIX, plen);
        hex_encode(md, len, ret + plen);
        return 0;
}

int digester_peek(const struct digester *d, char ret[DIGEST_STRING_SIZE], struct ocid_error **err)
{
        _cleanup_digester_ struct digester *copy = xzalloc(sizeof(*copy));

        copy->ctx = EVP_MD_CTX_new();
        if (!copy->ctx)
                return ocid_error_msg(err, ENOMEM, "sha256: cannot allocate a digest context");
        if (EVP_MD_CTX_copy_ex(copy->ctx, d->ctx) != 1)
                return ocid_error_msg(err, EIO, "sha256: copying the digest state failed");
        return digester_final(copy, ret, err);
}

uint64_t digester_count(const struct digester *d)
{
        return d->count;
}

struct digester *digester_free(struct digester *d)
{
        if (d) {
                EVP_MD_CTX_free(d->ctx);
                free(d);
        }
        return NULL;
}

int digest_buffer(const void *buf, size_t len, char ret[DIGEST_STRING_SIZE], struct ocid_error **err)
{
        _cleanup_digester_ struct digester *d = NULL;
        int r;

        r = digester_new(&d, err);
        if (r < 0)
                return r;
        r = digester_update(d, buf, len, err);
        if (r < 0)
                return r;
        return digester_final(d, ret, err);
}

int digest_fd(int fd, char ret[DIGEST_STRING_SIZE], uint64_t *ret_size, struct ocid_error **err)
{
        _cleanup_digester_ struct digester *d = NULL;
        _cleanup_free_ char *buf = xmalloc(128 * 1024);
        int r;

        r = digester_new(&d, err);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t n = read(fd, buf, 128 * 1024);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return ocid_error_set(err, errno, "read");
                }
                if (n == 0)
                        break;
                r = digester_update(d, buf, (size_t) n, err);
                if (r < 0)
                        return r;
        }
        if (ret_size)
                *ret_size = digester_count(d);
        return digester_final(d, ret, err);
}

static bool is_lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_lower_hex(char c)
{
        return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

/* OCI image-spec descriptor grammar:
 *   digest    := algorithm ":" encoded
 *   algorithm := component (separator component)*, component [a-z0-9]+,
 *                separator [+._-]
 *   encoded   := [a-zA-Z0-9=_-]+
 * and then the per-algorithm rule (sha256: [a-f0-9]{64}). */
int digest_validate(const char *s, struct ocid_error **err)
{
        const char *colon, *p;
        bool want_component = true;

        if (!s || !*s)
                return ocid_error_msg(err, EINVAL, "invalid digest '': empty");
        colon = strchr(s, ':');
        if (!colon)
                return ocid_error_msg(err, EINVAL, "invalid digest '%s': missing ':' between algorithm and hex", s);
        for (p = s; p < colon; p++) {
                if (is_lower_alnum(*p))
                        want_component = false;
                else if (!want_component && strchr("+._-", *p))
                        want_component = true;
                else
                        return ocid_error_msg(err, EINVAL, "invalid digest '%s': malformed algorithm", s);
        }
        if (want_component)
                return ocid_error_msg(err, EINVAL, "invalid digest '%s': malformed algorithm", s);
        if (!colon[1])
                return ocid_error_msg(err, EINVAL, "invalid digest '%s': empty hex part", s);
        if ((size_t) (colon - s) != strlen("sha256") || strncmp(s, "sha256", 6) != 0)
                return ocid_error_msg(err, EINVAL, "invalid digest '%s': unsupported digest algorithm '%.*s'",
                                      s, (int) (colon - s), s);
        for (p = colon + 1; *p; p++)
                if (!is_lower_hex(*p))
                        return ocid_error_msg(err, EINVAL,
                                              "invalid digest '%s': sha256 needs 64 lowercase hex digits", s);
        if (p - (colon + 1) != DIGEST_SHA256_HEX_LEN)
                return ocid_error_msg(err, EINVAL, "invalid digest '%s': sha256 needs 64 lowercase hex digits", s);
        return 0;
}

bool digest_is_valid(const char *s)
{
        return digest_validate(s, NULL) == 0;
}

const char *digest_hex(const char *digest)
{
        const char *colon = strchr(digest, ':');

        return colon ? colon + 1 : digest;
}

bool digest_equal(const char *a, const char *b)
{
        return a && b && digest_is_valid(a) && digest_is_valid(b) && streq(a, b);
}
