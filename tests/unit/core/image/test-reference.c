/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../test-common.h"

#include <ocid/error.h>
#include <ocid/util.h>

#include "image/reference.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D64 "sha256:" H64

struct good_case {
        const char *in;
        const char *normalized;         /* image_ref_string after normalisation */
        const char *domain, *path, *tag, *digest;
};

static const struct good_case good[] = {
        { "busybox", "docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", NULL },
        { "busybox:1.36", "docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", NULL },
        { "user/app", "docker.io/user/app:latest", "docker.io", "user/app", "latest", NULL },
        { "docker.io/busybox", "docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", NULL },
        { "docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "docker.io", "library/busybox",
          "latest", NULL },
        { "index.docker.io/busybox", "docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest",
          NULL },
        { "index.docker.io/user/app:v1", "docker.io/user/app:v1", "docker.io", "user/app", "v1", NULL },
        { "localhost:5000/x", "localhost:5000/x:latest", "localhost:5000", "x", "latest", NULL },
        { "localhost/x", "localhost/x:latest", "localhost", "x", "latest", NULL },
        { "127.0.0.1:5000/x:tag", "127.0.0.1:5000/x:tag", "127.0.0.1:5000", "x", "tag", NULL },
        { "reg.example/a/b@" D64, "reg.example/a/b@" D64, "reg.example", "a/b", NULL, D64 },
        { "busybox:1.36@" D64, "docker.io/library/busybox:1.36@" D64, "docker.io", "library/busybox", "1.36", D64 },
        { "busybox@" D64, "docker.io/library/busybox@" D64, "docker.io", "library/busybox", NULL, D64 },
        { "quay.io/prometheus/node-exporter:v1.6.0", "quay.io/prometheus/node-exporter:v1.6.0", "quay.io",
          "prometheus/node-exporter", "v1.6.0", NULL },
        { "registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", NULL },
        { "[::1]:5000/x:y", "[::1]:5000/x:y", "[::1]:5000", "x", "y", NULL },
        { "a.b.c/d/e/f/g:tag", "a.b.c/d/e/f/g:tag", "a.b.c", "d/e/f/g", "tag", NULL },
        { "my-registry.local:8443/ns/img_name:tag-1.0", "my-registry.local:8443/ns/img_name:tag-1.0",
          "my-registry.local:8443", "ns/img_name", "tag-1.0", NULL },
        { "foo__bar", "docker.io/library/foo__bar:latest", "docker.io", "library/foo__bar", "latest", NULL },
        { "foo-----bar", "docker.io/library/foo-----bar:latest", "docker.io", "library/foo-----bar", "latest", NULL },
        { "foo.bar/baz", "foo.bar/baz:latest", "foo.bar", "baz", "latest", NULL },
        /* no '/': "localhost:5000" is repository "localhost", tag "5000" */
        { "localhost:5000", "docker.io/library/localhost:5000", "docker.io", "library/localhost", "5000", NULL },
        { "ubuntu:Mixed_Case.tag-1", "docker.io/library/ubuntu:Mixed_Case.tag-1", "docker.io", "library/ubuntu",
          "Mixed_Case.tag-1", NULL },
        { "ubuntu:_underscore", "docker.io/library/ubuntu:_underscore", "docker.io", "library/ubuntu", "_underscore",
          NULL },
        /* an uppercase first component is a registry */
        { "Foo/bar", "Foo/bar:latest", "Foo", "bar", "latest", NULL },
        { "UPPER.example/x", "UPPER.example/x:latest", "UPPER.example", "x", "latest", NULL },
        { "a/b/c", "docker.io/a/b/c:latest", "docker.io", "a/b/c", "latest", NULL },
        { "0/1", "docker.io/0/1:latest", "docker.io", "0/1", "latest", NULL },
        { "example.com:443/ns/x", "example.com:443/ns/x:latest", "example.com:443", "ns/x", "latest", NULL },
        { "a.b/c.d_e-f", "a.b/c.d_e-f:latest", "a.b", "c.d_e-f", "latest", NULL },
        { "10.0.0.1/img", "10.0.0.1/img:latest", "10.0.0.1", "img", "latest", NULL },
        { "localhost/a/b@" D64, "localhost/a/b@" D64, "localhost", "a/b", NULL, D64 },
};

struct bad_case {
        const char *in;
        const char *why;        /* a substring of the message */
};

static const struct bad_case bad[] = {
        { "", "empty" },
        { "Busybox", "must be lowercase" },
        { "user/App", "must be lowercase" },
        { "docker.io/User/app", "must be lowercase" },
        { "busybox:", "bad tag" },
        { "busybox:-tag", "bad tag" },
        { "busybox:.tag", "bad tag" },
        { "busybox:ta/g", "bad port" },
        { "busybox:t@g", "invalid digest" },
        { "busybox@sha256:abc", "64 lowercase hex" },
        { "busybox@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "64 lowercase hex" },
        { "busybox@md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm 'md5'" },
        { "busybox@", "empty" },
        { "busybox@sha256", "missing ':'" },
        { "busybox@" D64 "@" D64, "64 lowercase hex" },
        { "-busybox", "bad repository path component" },
        { "busybox-", "bad repository path component" },
        { "a_-b", "bad repository path component" },
        { "a..b", "bad repository path component" },
        { "a___b", "bad repository path component" },
        { "a/", "bad repository path component" },
        { "/a", "bad repository path component" },
        { "a//b", "bad repository path component" },
        { "a:b:c", "bad repository path component" },
        { "localhost:abc/x", "bad port" },
        { "reg.example:99999/x", "bad port" },
        { "reg.example:/x", "bad port" },
        { "-reg.example/x", "bad host name" },
        { "reg-.example/x", "bad host name" },
        { "reg_example.com/x", "bad host name" },
        { "reg..example/x", "bad host name" },
        { "[::1/x", "bad IPv6" },
        { "[::g]:5000/x", "bad IPv6" },
        { "[::1]x/y", "junk after" },
        { H64, "image ID" },
        { "busybox latest", "space" },
        { "busy\tbox", "space" },
        { "caf\xc3\xa9", "non-ASCII" },
        { "reg.example/", "missing repository name" },
        { ":tag", "missing repository name" },
        { "@" D64, "missing repository name" },
};

static void test_good(void **state)
{
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_error_ struct ocid_error *err = NULL;
                _cleanup_image_ref_ struct image_ref *ref = NULL;
                _cleanup_free_ char *s = NULL;
                const struct good_case *c = &good[i];
                int r;

                r = image_ref_parse_normalized(c->in, &ref, &err);
                if (r < 0)
                        fail_msg("'%s': %s", c->in, ocid_error_message(&err));
                s = image_ref_string(ref);
                if (!streq(s, c->normalized))
                        fail_msg("'%s' -> '%s', expected '%s'", c->in, s, c->normalized);
                assert_string_equal(ref->domain, c->domain);
                assert_string_equal(ref->path, c->path);
                assert_true(streq_ptr(ref->tag, c->tag));
                assert_true(streq_ptr(ref->digest, c->digest));
                assert_true(image_ref_is_qualified(ref));

                /* normalising is idempotent */
                {
                        _cleanup_image_ref_ struct image_ref *again = NULL;
                        _cleanup_free_ char *s2 = NULL;

                        assert_int_equal(image_ref_parse_normalized(s, &again, NULL), 0);
                        s2 = image_ref_string(again);
                        assert_string_equal(s, s2);
                }
        }
}

static void test_bad(void **state)
{
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_error_ struct ocid_error *err = NULL;
                struct image_ref *ref = NULL;
                int r;

                r = image_ref_parse(bad[i].in, &ref, &err);
                if (r >= 0)
                        fail_msg("'%s' was accepted", bad[i].in);
                assert_int_equal(r, -EINVAL);
                assert_null(ref);
                assert_int_equal(ocid_error_code(&err), EINVAL);
                if (!strstr(ocid_error_message(&err), bad[i].why))
                        fail_msg("'%s': message '%s' lacks '%s'", bad[i].in, ocid_error_message(&err), bad[i].why);
                /* the message names the reference (first bytes at least) */
                if (*bad[i].in && strlen(bad[i].in) < 60 && !strstr(ocid_error_message(&err), bad[i].in))
                        fail_msg("'%s': message '%s' does not name it", bad[i].in, ocid_error_message(&err));
        }
}

static void test_tag_length(void **state)
{
        char tag[130], in[160];
        struct image_ref *ref = NULL;

        memset(tag, 'a', 128);
        tag[128] = '\0';
        snprintf(in, sizeof(in), "busybox:%s", tag);
        assert_int_equal(image_ref_parse(in, &ref, NULL), 0);
        assert_int_equal(strlen(ref->tag), 128);
        ref = image_ref_free(ref);

        tag[128] = 'a';
        tag[129] = '\0';
        snprintf(in, sizeof(in), "busybox:%s", tag);
        assert_int_equal(image_ref_parse(in, &ref, NULL), -EINVAL);
}

static void test_name_length(void **state)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        char in[300];
        struct image_ref *ref = NULL;

        /* 255 characters of name are fine... */
        memset(in, 'a', 255);
        memcpy(in, "r.io/", 5);
        in[255] = '\0';
        assert_int_equal(image_ref_parse(in, &ref, NULL), 0);
        ref = image_ref_free(ref);
        /* ...256 are not */
        memset(in, 'a', 256);
        memcpy(in, "r.io/", 5);
        in[256] = '\0';
        assert_int_equal(image_ref_parse(in, &ref, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "longer than 255"));
        ocid_error_clear(&err);

        /* "library/" added by qualification can push a name over */
        memset(in, 'a', 250);
        in[250] = '\0';
        assert_int_equal(image_ref_parse_normalized(in, &ref, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "longer than 255"));
}

static void test_parse_unqualified(void **state)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        _cleanup_free_ char *s = NULL;

        assert_int_equal(image_ref_parse("busybox", &ref, NULL), 0);
        assert_null(ref->domain);
        assert_false(image_ref_is_qualified(ref));
        assert_string_equal(ref->path, "busybox");
        assert_null(ref->tag);
        assert_null(ref->digest);
        s = image_ref_string(ref);
        assert_string_equal(s, "busybox");
}

static void test_candidates(void **state)
{
        char *search[] = { "docker.io", "quay.io", "localhost:5000", NULL };
        char *empty[] = { NULL };
        char *badreg[] = { "bad_registry", NULL };
        _cleanup_error_ struct ocid_error *err = NULL;
        struct image_ref **list = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        assert_int_equal(image_ref_candidates("busybox:1", search, &list, NULL), 0);
        assert_non_null(list[0]);
        assert_non_null(list[1]);
        assert_non_null(list[2]);
        assert_null(list[3]);
        a = image_ref_string(list[0]);
        b = image_ref_string(list[1]);
        c = image_ref_string(list[2]);
        assert_string_equal(a, "docker.io/library/busybox:1");
        assert_string_equal(b, "quay.io/busybox:1");
        assert_string_equal(c, "localhost:5000/busybox:1");
        image_ref_list_free(list);
        free(a);
        a = NULL;

        /* a qualified name is itself only */
        assert_int_equal(image_ref_candidates("quay.io/x/y", search, &list, NULL), 0);
        assert_non_null(list[0]);
        assert_null(list[1]);
        a = image_ref_string(list[0]);
        assert_string_equal(a, "quay.io/x/y:latest");
        image_ref_list_free(list);
        free(a);
        a = NULL;

        /* no list: docker.io */
        assert_int_equal(image_ref_candidates("user/app", NULL, &list, NULL), 0);
        a = image_ref_string(list[0]);
        assert_string_equal(a, "docker.io/user/app:latest");
        assert_null(list[1]);
        image_ref_list_free(list);
        free(a);
        a = NULL;
        assert_int_equal(image_ref_candidates("user/app", empty, &list, NULL), 0);
        assert_null(list[1]);
        image_ref_list_free(list);

        assert_int_equal(image_ref_candidates("user/app", badreg, &list, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "bad_registry"));
        ocid_error_clear(&err);
        assert_int_equal(image_ref_candidates("user/App", search, &list, &err), -EINVAL);
}

static void test_format(void **state)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        _cleanup_free_ char *name = NULL, *tagged = NULL, *digested = NULL;
        _cleanup_image_ref_ struct image_ref *bydigest = NULL;

        assert_int_equal(image_ref_parse_normalized("busybox:1.36@" D64, &ref, NULL), 0);
        name = image_ref_name(ref);
        tagged = image_ref_tagged(ref);
        digested = image_ref_digested(ref, ref->digest);
        assert_string_equal(name, "docker.io/library/busybox");
        assert_string_equal(tagged, "docker.io/library/busybox:1.36");
        assert_string_equal(digested, "docker.io/library/busybox@" D64);
        /* the digest wins for the pull */
        assert_string_equal(image_ref_manifest_ref(ref), D64);

        assert_int_equal(image_ref_parse_normalized("r.io/x@" D64, &bydigest, NULL), 0);
        assert_null(image_ref_tagged(bydigest));
        assert_string_equal(image_ref_manifest_ref(bydigest), D64);
        {
                _cleanup_image_ref_ struct image_ref *t = NULL;
                assert_int_equal(image_ref_parse_normalized("r.io/x:v2", &t, NULL), 0);
                assert_string_equal(image_ref_manifest_ref(t), "v2");
        }
}

static void test_copy(void **state)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL, *copy = NULL;

        assert_int_equal(image_ref_parse_normalized("busybox:1@" D64, &ref, NULL), 0);
        copy = image_ref_copy(ref);
        assert_ptr_not_equal(copy->path, ref->path);
        assert_string_equal(copy->domain, ref->domain);
        assert_string_equal(copy->path, ref->path);
        assert_string_equal(copy->tag, ref->tag);
        assert_string_equal(copy->digest, ref->digest);
}

static void test_domains(void **state)
{
        assert_string_equal(image_domain_api_host("docker.io"), "registry-1.docker.io");
        assert_string_equal(image_domain_api_host("index.docker.io"), "registry-1.docker.io");
        assert_string_equal(image_domain_api_host("quay.io"), "quay.io");
        assert_string_equal(image_domain_api_host("localhost:5000"), "localhost:5000");

        assert_true(image_domain_is_loopback("localhost"));
        assert_true(image_domain_is_loopback("localhost:5000"));
        assert_true(image_domain_is_loopback("127.0.0.1"));
        assert_true(image_domain_is_loopback("127.0.0.1:5000"));
        assert_true(image_domain_is_loopback("127.1.2.3:80"));
        assert_true(image_domain_is_loopback("[::1]:5000"));
        assert_true(image_domain_is_loopback("[::1]"));
        assert_false(image_domain_is_loopback("[::2]:5000"));
        assert_false(image_domain_is_loopback("128.0.0.1"));
        assert_false(image_domain_is_loopback("localhost.example.com"));
        assert_false(image_domain_is_loopback("docker.io"));
        assert_false(image_domain_is_loopback("10.0.0.1:5000"));

        assert_int_equal(image_domain_validate("a.b:1", NULL), 0);
        assert_int_equal(image_domain_validate("a.b:0", NULL), -EINVAL);
        assert_int_equal(image_domain_validate("a.b:65536", NULL), -EINVAL);
        assert_int_equal(image_domain_validate("a.b:65535", NULL), 0);
        assert_int_equal(image_domain_validate("", NULL), -EINVAL);
        assert_int_equal(image_domain_validate("[]", NULL), -EINVAL);
}

static void test_qualify_other_registry(void **state)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL, *q = NULL;
        _cleanup_free_ char *s = NULL;

        assert_int_equal(image_ref_parse("busybox", &ref, NULL), 0);
        /* only docker.io has the "library/" namespace */
        assert_int_equal(image_ref_qualify(ref, "registry.example:5000", &q, NULL), 0);
        s = image_ref_string(q);
        assert_string_equal(s, "registry.example:5000/busybox:latest");
}

OCID_TEST_MAIN(cmocka_unit_test(test_good), cmocka_unit_test(test_bad), cmocka_unit_test(test_tag_length),
               cmocka_unit_test(test_name_length), cmocka_unit_test(test_parse_unqualified),
               cmocka_unit_test(test_candidates), cmocka_unit_test(test_format), cmocka_unit_test(test_copy),
               cmocka_unit_test(test_domains), cmocka_unit_test(test_qualify_other_registry))
