/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h> /* inet_pton */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "image/digest.h"
#include "image/reference.h"

/* A reference longer than this cannot be valid (name <= 255, tag <= 128,
 * digest a few hundred); refusing it early bounds the work. */
#define REFERENCE_INPUT_MAX 1024
#define TAG_MAX 128

static bool is_lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c)
{
        return is_alnum(c) || c == '_';
}

static bool has_upper(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (s[i] >= 'A' && s[i] <= 'Z')
                        return true;
        return false;
}

/* tag := [\w][\w.-]{0,127} */
static bool tag_is_valid(const char *t)
{
        size_t n = strlen(t);

        if (n == 0 || n > TAG_MAX || !is_word(t[0]))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!is_word(t[i]) && t[i] != '.' && t[i] != '-')
                        return false;
        return true;
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*
 * separator      := [_.] | "__" | "-"+                  */
static bool path_component_is_valid(const char *s, size_t n)
{
        size_t i = 0;

        for (;;) {
                if (i >= n || !is_lower_alnum(s[i]))
                        return false;
                while (i < n && is_lower_alnum(s[i]))
                        i++;
                if (i == n)
                        return true;
                if (s[i] == '.')
                        i++;
                else if (s[i] == '_')
                        i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
                else if (s[i] == '-')
                        while (i < n && s[i] == '-')
                                i++;
                else
                        return false;
        }
}

static int path_validate(const char *ref, const char *path, struct ocid_error **err)
{
        const char *p = path;

        if (!*path)
                return ocid_error_msg(err, EINVAL, "invalid image reference '%s': missing repository name", ref);
        if (has_upper(path, strlen(path)))
                return ocid_error_msg(err, EINVAL,
                                      "invalid image reference '%s': repository name '%s' must be lowercase",
                                      ref, path);
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t n = slash ? (size_t) (slash - p) : strlen(p);

                if (!path_component_is_valid(p, n))
                        return ocid_error_msg(err, EINVAL,
                                              "invalid image reference '%s': bad repository path component '%.*s' "
                                              "(lowercase letters and digits, separated by '.', '_', '__' or dashes)",
                                              ref, (int) n, p);
                if (!slash)
                        return 0;
                p = slash + 1;
        }
}

/* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool domain_name_is_valid(const char *s, size_t n)
{
        size_t start = 0;

        if (n == 0)
                return false;
        for (size_t i = 0; i <= n; i++) {
                if (i == n || s[i] == '.') {
                        if (i == start || s[start] == '-' || s[i - 1] == '-')
                                return false;
                        start = i + 1;
                } else if (!is_alnum(s[i]) && s[i] != '-') {
                        return false;
                }
        }
        return true;
}

int image_domain_validate(const char *domain, struct ocid_error **err)
{
        const char *port = NULL;
        size_t n = strlen(domain);

        if (domain[0] == '[') {
                const char *close = strchr(domain, ']');

                if (!close || close == domain + 1)
                        return ocid_error_msg(err, EINVAL, "invalid registry '%s': bad IPv6 address", domain);
                for (const char *p = domain + 1; p < close; p++)
                        if (!isxdigit((unsigned char) *p) && *p != ':')
                                return ocid_error_msg(err, EINVAL, "invalid registry '%s': bad IPv6 address", domain);
                if (close[1] == ':')
                        port = close + 2;
                else if (close[1])
                        return ocid_error_msg(err, EINVAL, "invalid registry '%s': junk after the IPv6 address",
                                              domain);
        } else {
                const char *colon = strchr(domain, ':');
                size_t hn = colon ? (size_t) (colon - domain) : n;

                if (!domain_name_is_valid(domain, hn))
                        return ocid_error_msg(err, EINVAL, "invalid registry '%s': bad host name", domain);
                if (colon)
                        port = colon + 1;
        }
        if (port) {
                uint64_t v;

                if (!*port || strspn(port, "0123456789") != strlen(port) || ocid_parse_uint64(port, &v) < 0 ||
                    v == 0 || v > 65535)
                        return ocid_error_msg(err, EINVAL, "invalid registry '%s': bad port", domain);
        }
        return 0;
}

static bool is_image_id(const char *s)
{
        size_t n = strlen(s);

        if (n != DIGEST_SHA256_HEX_LEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

struct image_ref *image_ref_free(struct image_ref *ref)
{
        if (ref) {
                free(ref->domain);
                free(ref->path);
                free(ref->tag);
                free(ref->digest);
                free(ref);
        }
        return NULL;
}

struct image_ref *image_ref_copy(const struct image_ref *ref)
{
        struct image_ref *c = xzalloc(sizeof(*c));

        c->domain = xstrdup(ref->domain);
        c->path = xstrdup(ref->path);
        c->tag = xstrdup(ref->tag);
        c->digest = xstrdup(ref->digest);
        return c;
}

void image_ref_list_free(struct image_ref **list)
{
        if (!list)
                return;
        for (struct image_ref **i = list; *i; i++)
                image_ref_free(*i);
        free(list);
}

bool image_ref_is_qualified(const struct image_ref *ref)
{
        return ref->domain != NULL;
}

static size_t name_length(const char *domain, const char *path)
{
        return (domain ? strlen(domain) + 1 : 0) + strlen(path);
}

int image_ref_parse(const char *s, struct image_ref **ret, struct ocid_error **err)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        _cleanup_free_ char *name = NULL;
        const char *at, *slash, *colon, *last_slash;
        int r;

        if (!s || !*s)
                return ocid_error_msg(err, EINVAL, "invalid image reference '': empty");
        if (strlen(s) > REFERENCE_INPUT_MAX)
                return ocid_error_msg(err, EINVAL, "invalid image reference '%.64s...': longer than %d bytes",
                                      s, REFERENCE_INPUT_MAX);
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p <= ' ' || (unsigned char) *p >= 0x7f)
                        return ocid_error_msg(err, EINVAL,
                                              "invalid image reference '%s': contains a space, control or "
                                              "non-ASCII character",
                                              s);
        if (is_image_id(s))
                return ocid_error_msg(err, EINVAL,
                                      "invalid image reference '%s': a 64-character hexadecimal string is an image ID, "
                                      "not a repository name", s);

        ref = xzalloc(sizeof(*ref));

        at = strchr(s, '@');
        if (at) {
                _cleanup_error_ struct ocid_error *derr = NULL;

                if (digest_validate(at + 1, &derr) < 0)
                        return ocid_error_msg(err, EINVAL, "invalid image reference '%s': %s", s,
                                              ocid_error_message(&derr));
                ref->digest = xstrdup(at + 1);
                name = xstrndup(s, (size_t) (at - s));
        } else {
                name = xstrdup(s);
        }

        last_slash = strrchr(name, '/');
        colon = strrchr(last_slash ? last_slash : name, ':');
        if (colon) {
                if (!tag_is_valid(colon + 1))
                        return ocid_error_msg(err, EINVAL,
                                              "invalid image reference '%s': bad tag '%s' (1 to %d of [A-Za-z0-9_.-], "
                                              "not starting with '.' or '-')", s, colon + 1, TAG_MAX);
                ref->tag = xstrdup(colon + 1);
                name[colon - name] = '\0';
        }
        if (!*name)
                return ocid_error_msg(err, EINVAL, "invalid image reference '%s': missing repository name", s);

        /* The first component is a registry when it could not be a
         * repository path component: it has a '.' or ':', is "localhost",
         * or has an uppercase letter. */
        slash = strchr(name, '/');
        if (slash) {
                size_t n = (size_t) (slash - name);

                if (memchr(name, '.', n) || memchr(name, ':', n) || (n == 9 && strncmp(name, "localhost", 9) == 0) ||
                    has_upper(name, n)) {
                        _cleanup_error_ struct ocid_error *derr = NULL;

                        ref->domain = xstrndup(name, n);
                        if (image_domain_validate(ref->domain, &derr) < 0)
                                return ocid_error_msg(err, EINVAL, "invalid image reference '%s': %s", s,
                                                      ocid_error_message(&derr));
                        ref->path = xstrdup(slash + 1);
                }
        }
        if (!ref->path)
                ref->path = xstrdup(name);

        r = path_validate(s, ref->path, err);
        if (r < 0)
                return r;
        if (name_length(ref->domain, ref->path) > IMAGE_REF_NAME_MAX)
                return ocid_error_msg(err, EINVAL, "invalid image reference '%s': name longer than %d characters",
                                      s, IMAGE_REF_NAME_MAX);
        *ret = TAKE_PTR(ref);
        return 0;
}

int image_ref_qualify(const struct image_ref *ref, const char *domain, struct image_ref **ret,
                      struct ocid_error **err)
{
        _cleanup_image_ref_ struct image_ref *q = image_ref_copy(ref);
        _cleanup_free_ char *full = NULL;

        if (!q->domain) {
                if (!domain || !*domain)
                        domain = IMAGE_REF_DEFAULT_DOMAIN;
                if (image_domain_validate(domain, err) < 0)
                        return -EINVAL;
                q->domain = xstrdup(domain);
        }
        if (streq(q->domain, "index.docker.io")) {
                free(q->domain);
                q->domain = xstrdup(IMAGE_REF_DEFAULT_DOMAIN);
        }
        if (streq(q->domain, IMAGE_REF_DEFAULT_DOMAIN) && !strchr(q->path, '/')) {
                char *p = xasprintf("library/%s", q->path);

                free(q->path);
                q->path = p;
        }
        if (!q->tag && !q->digest)
                q->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
        if (name_length(q->domain, q->path) > IMAGE_REF_NAME_MAX) {
                full = image_ref_name(q);
                return ocid_error_msg(err, EINVAL, "invalid image reference '%s': name longer than %d characters",
                                      full, IMAGE_REF_NAME_MAX);
        }
        *ret = TAKE_PTR(q);
        return 0;
}

int image_ref_parse_normalized(const char *s, struct image_ref **ret, struct ocid_error **err)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        int r;

        r = image_ref_parse(s, &ref, err);
        if (r < 0)
                return r;
        return image_ref_qualify(ref, IMAGE_REF_DEFAULT_DOMAIN, ret, err);
}

int image_ref_candidates(const char *s, char *const *search_registries, struct image_ref ***ret,
                         struct ocid_error **err)
{
        static char *const default_search[] = { (char *) IMAGE_REF_DEFAULT_DOMAIN, NULL };
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        struct image_ref **list;
        size_t n = 0, count;
        int r;

        r = image_ref_parse(s, &ref, err);
        if (r < 0)
                return r;
        if (!search_registries || !search_registries[0])
                search_registries = default_search;
        count = ref->domain ? 1 : ocid_strv_length(search_registries);
        list = xcalloc(count + 1, sizeof(*list));
        for (size_t i = 0; i < count; i++) {
                r = image_ref_qualify(ref, ref->domain ? NULL : search_registries[i], &list[n], err);
                if (r < 0) {
                        image_ref_list_free(list);
                        return ocid_error_prefix(err, "unqualified-search registry '%s'", search_registries[i]);
                }
                n++;
        }
        *ret = list;
        return 0;
}

char *image_ref_name(const struct image_ref *ref)
{
        return ref->domain ? xasprintf("%s/%s", ref->domain, ref->path) : xstrdup(ref->path);
}

char *image_ref_string(const struct image_ref *ref)
{
        _cleanup_free_ char *name = image_ref_name(ref);

        return xasprintf("%s%s%s%s%s", name, ref->tag ? ":" : "", ref->tag ? ref->tag : "",
                         ref->digest ? "@" : "", ref->digest ? ref->digest : "");
}

char *image_ref_tagged(const struct image_ref *ref)
{
        _cleanup_free_ char *name = NULL;

        if (!ref->tag)
                return NULL;
        name = image_ref_name(ref);
        return xasprintf("%s:%s", name, ref->tag);
}

char *image_ref_digested(const struct image_ref *ref, const char *digest)
{
        _cleanup_free_ char *name = image_ref_name(ref);

        return xasprintf("%s@%s", name, digest);
}

const char *image_ref_manifest_ref(const struct image_ref *ref)
{
        if (ref->digest)
                return ref->digest;
        return ref->tag ? ref->tag : IMAGE_REF_DEFAULT_TAG;
}

const char *image_domain_api_host(const char *domain)
{
        if (streq(domain, IMAGE_REF_DEFAULT_DOMAIN) || streq(domain, "index.docker.io"))
                return "registry-1.docker.io";
        return domain;
}

bool image_domain_is_loopback(const char *domain)
{
        _cleanup_free_ char *host = NULL;

        if (domain[0] == '[') {
                const char *close = strchr(domain, ']');
                struct in6_addr a6;

                if (!close)
                        return false;
                host = xstrndup(domain + 1, (size_t) (close - domain - 1));
                return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
        }
        host = xstrndup(domain, strcspn(domain, ":"));
        if (streq(host, "localhost"))
                return true;
        {
                struct in_addr a4;

                return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
        }
}
