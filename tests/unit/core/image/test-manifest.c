/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../test-common.h"

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "image/manifest.h"

#define SHA_A "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define SHA_B "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
#define SHA_C "sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"
#define SHA_D "sha256:18ac3e7343f016890c510e93f935261169d9e3f565436429830faf0934f4f8e4"
#define SHA_E "sha256:3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea"
#define SHA_G "sha256:cd0aa9856147b6c5b4ff2b7dfee5da20aa38253099ef1b4a64aced233c9afe29"
#define SHA_J "sha256:189f40034be7a199f1fa9891668ee3ab6049f82d38c68be70f596eab2e1857b7"

static char *fixture(const char *name, size_t *ret_len)
{
        const char *dir = getenv("OCID_TEST_SRCDIR");
        _cleanup_free_ char *path = dir ? xasprintf("%s/core/image/fixtures/%s", dir, name)
                                        : xasprintf("%s/%s", FIXTURES_DIR, name);
        _cleanup_error_ struct ocid_error *err = NULL;
        char *data = NULL;

        if (ocid_read_file(path, 1 << 20, &data, ret_len, &err) < 0)
                fail_msg("%s", ocid_error_message(&err));
        return data;
}

static struct platform plat(const char *os, const char *arch, const char *variant)
{
        struct platform p = { .os = xstrdup(os), .architecture = xstrdup(arch), .variant = xstrdup(variant) };
        return p;
}

/* ---- detection ---- */

static void test_detect(void **state)
{
        static const struct {
                const char *file;
                int kind;       /* or -ENOTSUP */
        } cases[] = {
                { "index-oci.json", MANIFEST_KIND_INDEX },
                { "index-docker.json", MANIFEST_KIND_INDEX },
                { "manifest-oci.json", MANIFEST_KIND_IMAGE },
                { "manifest-docker.json", MANIFEST_KIND_IMAGE },
                { "manifest-schema1.json", -ENOTSUP },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_error_ struct ocid_error *err = NULL;
                size_t len;
                _cleanup_free_ char *body = fixture(cases[i].file, &len);
                enum manifest_kind kind = _MANIFEST_KIND_INVALID;
                int r = manifest_detect(body, len, NULL, &kind, &err);

                if (cases[i].kind < 0) {
                        assert_int_equal(r, cases[i].kind);
                        assert_non_null(strstr(ocid_error_message(&err), "schema 1"));
                } else {
                        if (r < 0)
                                fail_msg("%s: %s", cases[i].file, ocid_error_message(&err));
                        assert_int_equal(kind, cases[i].kind);
                }
        }
}

static void test_detect_without_media_type(void **state)
{
        const char *idx = "{\"schemaVersion\":2,\"manifests\":[]}";
        const char *img = "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}";
        const char *neither = "{\"schemaVersion\":2}";
        _cleanup_error_ struct ocid_error *err = NULL;
        enum manifest_kind kind;

        /* the HTTP content type decides... */
        assert_int_equal(manifest_detect(img, strlen(img), MEDIA_TYPE_DOCKER_MANIFEST "; charset=utf-8", &kind, NULL), 0);
        assert_int_equal(kind, MANIFEST_KIND_IMAGE);
        assert_int_equal(manifest_detect(neither, strlen(neither), MEDIA_TYPE_OCI_INDEX, &kind, NULL), 0);
        assert_int_equal(kind, MANIFEST_KIND_INDEX);
        assert_int_equal(manifest_detect(neither, strlen(neither), "application/vnd.example+json", &kind, &err),
                         -ENOTSUP);
        assert_non_null(strstr(ocid_error_message(&err), "application/vnd.example+json"));
        ocid_error_clear(&err);
        /* ...then the shape */
        assert_int_equal(manifest_detect(idx, strlen(idx), "application/json", &kind, NULL), 0);
        assert_int_equal(kind, MANIFEST_KIND_INDEX);
        assert_int_equal(manifest_detect(img, strlen(img), NULL, &kind, NULL), 0);
        assert_int_equal(kind, MANIFEST_KIND_IMAGE);
        assert_int_equal(manifest_detect(neither, strlen(neither), NULL, &kind, &err), -ENOTSUP);
        ocid_error_clear(&err);
        /* the document's own mediaType wins over the header */
        {
                const char *m = "{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_TYPE_OCI_INDEX "\",\"manifests\":[]}";
                assert_int_equal(manifest_detect(m, strlen(m), MEDIA_TYPE_OCI_MANIFEST, &kind, NULL), 0);
                assert_int_equal(kind, MANIFEST_KIND_INDEX);
        }
}

/* ---- index ---- */

static void test_index_parse(void **state)
{
        _cleanup_manifest_index_ struct manifest_index *idx = NULL;
        _cleanup_error_ struct ocid_error *err = NULL;
        size_t len;
        _cleanup_free_ char *body = fixture("index-oci.json", &len);

        if (manifest_index_parse(body, len, &idx, &err) < 0)
                fail_msg("%s", ocid_error_message(&err));
        assert_string_equal(idx->media_type, MEDIA_TYPE_OCI_INDEX);
        assert_int_equal(idx->n_manifests, 9);
        assert_string_equal(idx->manifests[0].digest, SHA_A);
        assert_int_equal(idx->manifests[0].size, 1001);
        assert_true(idx->manifests[0].has_platform);
        assert_string_equal(idx->manifests[0].platform.os, "linux");
        assert_string_equal(idx->manifests[0].platform.architecture, "amd64");
        assert_null(idx->manifests[0].platform.variant);
        /* arm64's v8 is the default and normalised away */
        assert_null(idx->manifests[1].platform.variant);
        assert_string_equal(idx->manifests[3].platform.variant, "v7");
        assert_string_equal(idx->manifests[6].platform.os, "windows");
        assert_string_equal(idx->manifests[6].platform.os_version, "10.0.17763.1339");
        assert_false(idx->manifests[8].has_platform);
}

static void check_select(const struct manifest_index *idx, struct platform want, const char *expect)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        const struct descriptor *d = NULL;
        int r = manifest_index_select(idx, &want, &d, &err);

        if (expect) {
                if (r < 0)
                        fail_msg("%s/%s: %s", want.os, want.architecture, ocid_error_message(&err));
                assert_string_equal(d->digest, expect);
        } else {
                assert_int_equal(r, -ENOENT);
                assert_non_null(strstr(ocid_error_message(&err), "no image for platform"));
        }
        platform_done(&want);
}

static void test_index_select(void **state)
{
        _cleanup_manifest_index_ struct manifest_index *oci = NULL, *docker = NULL;
        size_t len;
        _cleanup_free_ char *b1 = fixture("index-oci.json", &len);
        assert_int_equal(manifest_index_parse(b1, len, &oci, NULL), 0);
        _cleanup_free_ char *b2 = fixture("index-docker.json", &len);
        assert_int_equal(manifest_index_parse(b2, len, &docker, NULL), 0);
        assert_string_equal(docker->media_type, MEDIA_TYPE_DOCKER_LIST);

        check_select(oci, plat("linux", "amd64", NULL), SHA_A);
        check_select(oci, plat("linux", "x86_64", NULL), SHA_A);
        check_select(oci, plat("linux", "arm64", NULL), SHA_B);
        check_select(oci, plat("linux", "arm64", "v8"), SHA_B);
        check_select(oci, plat("linux", "aarch64", NULL), SHA_B);
        check_select(oci, plat("linux", "arm", "v7"), SHA_D);   /* exact beats v6 listed first */
        check_select(oci, plat("linux", "arm", NULL), SHA_D);   /* arm means v7 */
        check_select(oci, plat("linux", "armv7l", NULL), SHA_D);
        check_select(oci, plat("linux", "arm", "v6"), SHA_C);
        check_select(oci, plat("linux", "arm", "v8"), SHA_D);   /* 32-bit ARMv8 runs v7 best */
        check_select(oci, plat("linux", "arm", "v5"), NULL);
        check_select(oci, plat("linux", "i686", NULL), SHA_E);
        check_select(oci, plat("windows", "amd64", NULL), SHA_G);
        check_select(oci, plat("linux", "s390x", NULL), NULL);
        check_select(oci, plat("LINUX", "AMD64", NULL), SHA_A);

        check_select(docker, plat("linux", "arm64", "v8"), SHA_B);
        check_select(docker, plat("linux", "arm", "v7"), SHA_A);
        check_select(docker, plat("linux", "s390x", NULL), SHA_C);
        check_select(docker, plat("linux", "amd64", NULL), NULL);

        /* the error names the platform wanted and those on offer */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                struct platform want = plat("linux", "riscv64", NULL);
                const struct descriptor *d;

                assert_int_equal(manifest_index_select(oci, &want, &d, &err), -ENOENT);
                assert_non_null(strstr(ocid_error_message(&err), "linux/riscv64"));
                assert_non_null(strstr(ocid_error_message(&err), "linux/amd64, linux/arm64, linux/arm/v6"));
                platform_done(&want);
        }
}

static void test_index_skips_artifacts(void **state)
{
        const char *body =
                "{\"schemaVersion\":2,\"manifests\":["
                "{\"mediaType\":\"application/vnd.in-toto+json\",\"digest\":\"" SHA_A "\",\"size\":1,"
                "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
                "{\"mediaType\":\"" MEDIA_TYPE_OCI_MANIFEST "\",\"digest\":\"" SHA_B "\",\"size\":1,"
                "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
        _cleanup_manifest_index_ struct manifest_index *idx = NULL;

        assert_int_equal(manifest_index_parse(body, strlen(body), &idx, NULL), 0);
        check_select(idx, plat("linux", "amd64", NULL), SHA_B);
}

/* ---- platforms ---- */

static void test_platform_normalize(void **state)
{
        static const struct {
                const char *os, *arch, *variant;
                const char *want_os, *want_arch, *want_variant;
        } cases[] = {
                { "linux", "x86_64", NULL, "linux", "amd64", NULL },
                { "Linux", "AMD64", NULL, "linux", "amd64", NULL },
                { "linux", "amd64", "v1", "linux", "amd64", NULL },
                { "linux", "amd64", "v3", "linux", "amd64", "v3" },
                { "linux", "aarch64", NULL, "linux", "arm64", NULL },
                { "linux", "arm64", "v8", "linux", "arm64", NULL },
                { "linux", "arm64", "8", "linux", "arm64", NULL },
                { "linux", "arm64", "", "linux", "arm64", NULL },
                { "linux", "arm", NULL, "linux", "arm", "v7" },
                { "linux", "arm", "7", "linux", "arm", "v7" },
                { "linux", "arm", "V6", "linux", "arm", "v6" },
                { "linux", "armv7l", NULL, "linux", "arm", "v7" },
                { "linux", "armv6l", NULL, "linux", "arm", "v6" },
                { "linux", "armv5tel", NULL, "linux", "arm", "v5" },
                { "linux", "armhf", NULL, "linux", "arm", "v7" },
                { "linux", "armel", NULL, "linux", "arm", "v6" },
                { "linux", "i386", NULL, "linux", "386", NULL },
                { "linux", "i686", NULL, "linux", "386", NULL },
                { "linux", "ppc64le", NULL, "linux", "ppc64le", NULL },
                { "linux", "riscv64", NULL, "linux", "riscv64", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct platform p = plat(cases[i].os, cases[i].arch, cases[i].variant);

                platform_normalize(&p);
                assert_string_equal(p.os, cases[i].want_os);
                assert_string_equal(p.architecture, cases[i].want_arch);
                if (!streq_ptr(p.variant, cases[i].want_variant))
                        fail_msg("%s/%s: variant '%s', expected '%s'", cases[i].arch,
                                 cases[i].variant ? cases[i].variant : "", p.variant ? p.variant : "(null)",
                                 cases[i].want_variant ? cases[i].want_variant : "(null)");
                platform_done(&p);
        }
}

static void test_platform_host_and_match(void **state)
{
        struct platform host = { 0 }, a, b;
        _cleanup_free_ char *s = NULL;

        assert_int_equal(platform_host(&host, NULL), 0);
        assert_string_equal(host.os, "linux");
        assert_non_null(host.architecture);
        assert_true(platform_matches(&host, &host));
        s = platform_to_string(&host);
        assert_non_null(ocid_startswith(s, "linux/"));
        platform_done(&host);

        a = plat("linux", "arm", "v7");
        b = plat("linux", "arm", "v6");
        assert_true(platform_matches(&a, &b));
        assert_false(platform_matches(&b, &a));
        platform_done(&a);
        platform_done(&b);
        a = plat("linux", "amd64", NULL);
        b = plat("linux", "arm64", NULL);
        assert_false(platform_matches(&a, &b));
        platform_done(&b);
        b = plat("windows", "amd64", NULL);
        assert_false(platform_matches(&a, &b));
        platform_done(&b);
        b = plat("linux", "amd64", "v3");
        assert_false(platform_matches(&a, &b));
        platform_done(&a);
        platform_done(&b);
}

/* ---- image manifests ---- */

static void test_manifest_oci(void **state)
{
        _cleanup_image_manifest_ struct image_manifest *m = NULL;
        _cleanup_error_ struct ocid_error *err = NULL;
        size_t len;
        _cleanup_free_ char *body = fixture("manifest-oci.json", &len);

        if (image_manifest_parse(body, len, &m, &err) < 0)
                fail_msg("%s", ocid_error_message(&err));
        assert_string_equal(m->media_type, MEDIA_TYPE_OCI_MANIFEST);
        assert_string_equal(m->config.media_type, MEDIA_TYPE_OCI_CONFIG);
        assert_string_equal(m->config.digest, SHA_J);
        assert_int_equal(m->config.size, 1470);
        assert_int_equal(m->n_layers, 4);
        assert_string_equal(m->layers[0].desc.digest, SHA_A);
        assert_int_equal(m->layers[0].desc.size, 2592180);
        assert_int_equal(m->layers[0].compression, LAYER_COMPRESSION_GZIP);
        assert_int_equal(m->layers[1].compression, LAYER_COMPRESSION_ZSTD);
        assert_int_equal(m->layers[2].compression, LAYER_COMPRESSION_NONE);
        assert_int_equal(m->layers[3].compression, LAYER_COMPRESSION_GZIP);
        assert_int_equal(m->layers[3].desc.size, 0);
        assert_string_equal(layer_compression_to_string(m->layers[1].compression), "zstd");
}

static void test_manifest_docker(void **state)
{
        _cleanup_image_manifest_ struct image_manifest *m = NULL;
        size_t len;
        _cleanup_free_ char *body = fixture("manifest-docker.json", &len);

        assert_int_equal(image_manifest_parse(body, len, &m, NULL), 0);
        assert_string_equal(m->media_type, MEDIA_TYPE_DOCKER_MANIFEST);
        assert_string_equal(m->config.media_type, MEDIA_TYPE_DOCKER_CONFIG);
        assert_int_equal(m->n_layers, 1);
        assert_string_equal(m->layers[0].desc.digest, SHA_E);
        assert_int_equal(m->layers[0].compression, LAYER_COMPRESSION_GZIP);
}

static void test_manifest_refused(void **state)
{
        static const struct {
                const char *file;
                int code;
                const char *why;
        } cases[] = {
                { "manifest-foreign.json", ENOTSUP, "foreign layer type" },
                { "manifest-artifact.json", ENOTSUP, "not a container image" },
                { "manifest-schema1.json", ENOTSUP, "schemaVersion 1" },
                { "index-oci.json", ENOTSUP, "unexpected media type" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_error_ struct ocid_error *err = NULL;
                struct image_manifest *m = NULL;
                size_t len;
                _cleanup_free_ char *body = fixture(cases[i].file, &len);

                assert_int_equal(image_manifest_parse(body, len, &m, &err), -cases[i].code);
                assert_null(m);
                if (!strstr(ocid_error_message(&err), cases[i].why))
                        fail_msg("%s: '%s' lacks '%s'", cases[i].file, ocid_error_message(&err), cases[i].why);
        }
}

static void test_layer_media_types(void **state)
{
        static const struct {
                const char *mt;
                int c;
        } cases[] = {
                { MEDIA_TYPE_OCI_LAYER, LAYER_COMPRESSION_NONE },
                { MEDIA_TYPE_OCI_LAYER_GZIP, LAYER_COMPRESSION_GZIP },
                { MEDIA_TYPE_OCI_LAYER_ZSTD, LAYER_COMPRESSION_ZSTD },
                { MEDIA_TYPE_OCI_LAYER_ND, LAYER_COMPRESSION_NONE },
                { MEDIA_TYPE_OCI_LAYER_ND_ZSTD, LAYER_COMPRESSION_ZSTD },
                { MEDIA_TYPE_DOCKER_LAYER, LAYER_COMPRESSION_NONE },
                { MEDIA_TYPE_DOCKER_LAYER_GZIP, LAYER_COMPRESSION_GZIP },
                { MEDIA_TYPE_DOCKER_LAYER_ZSTD, LAYER_COMPRESSION_ZSTD },
                { MEDIA_TYPE_DOCKER_FOREIGN_LAYER, -ENOTSUP },
                { "application/vnd.oci.image.layer.v1.tar+bzip2", -ENOTSUP },
                { "", -ENOTSUP },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_error_ struct ocid_error *err = NULL;
                enum layer_compression c = _LAYER_COMPRESSION_INVALID;
                int r = layer_media_type_compression(cases[i].mt, &c, &err);

                if (cases[i].c < 0) {
                        assert_int_equal(r, cases[i].c);
                        assert_non_null(strstr(ocid_error_message(&err), cases[i].mt));
                } else {
                        assert_int_equal(r, 0);
                        assert_int_equal(c, cases[i].c);
                }
        }
        assert_null(layer_compression_to_string(_LAYER_COMPRESSION_MAX));
}

/* ---- configs ---- */

static void test_config_full(void **state)
{
        _cleanup_image_config_ struct image_config *c = NULL;
        _cleanup_image_manifest_ struct image_manifest *oci = NULL, *docker = NULL;
        _cleanup_error_ struct ocid_error *err = NULL;
        size_t len;
        _cleanup_free_ char *body = fixture("config.json", &len);

        if (image_config_parse(body, len, &c, &err) < 0)
                fail_msg("%s", ocid_error_message(&err));
        assert_string_equal(c->created, "2024-01-02T03:04:05.123456789Z");
        assert_string_equal(c->author, "ocid tests");
        assert_string_equal(c->os, "linux");
        assert_string_equal(c->architecture, "amd64");
        assert_null(c->variant);
        assert_string_equal(c->user, "1000:1000");
        assert_int_equal(ocid_strv_length(c->env), 2);
        assert_string_equal(c->env[1], "LANG=C.UTF-8");
        assert_int_equal(ocid_strv_length(c->entrypoint), 2);
        assert_string_equal(c->entrypoint[0], "/bin/entry");
        assert_int_equal(ocid_strv_length(c->cmd), 3);
        assert_string_equal(c->cmd[2], "echo \"hello\"");
        assert_string_equal(c->working_dir, "/srv");
        assert_int_equal(c->n_labels, 2);
        for (size_t i = 0; i < c->n_labels; i++) {
                if (streq(c->labels[i].key, "org.example.name"))
                        assert_string_equal(c->labels[i].value, "test");
                else {
                        assert_string_equal(c->labels[i].key, "empty");
                        assert_string_equal(c->labels[i].value, "");
                }
        }
        assert_string_equal(c->stop_signal, "SIGQUIT");
        assert_int_equal(ocid_strv_length(c->exposed_ports), 2);
        assert_true(ocid_strv_contains(c->exposed_ports, "80/tcp"));
        assert_true(ocid_strv_contains(c->exposed_ports, "53/udp"));
        assert_int_equal(ocid_strv_length(c->volumes), 1);
        assert_string_equal(c->volumes[0], "/data");
        assert_int_equal(c->n_diff_ids, 4);
        assert_string_equal(c->diff_ids[0], SHA_A);
        assert_string_equal(c->diff_ids[3], SHA_D);
        assert_int_equal(c->n_history, 5);
        assert_false(c->history[0].empty_layer);
        assert_true(c->history[1].empty_layer);
        assert_string_equal(c->history[2].author, "someone");
        assert_string_equal(c->history[2].comment, "buildkit");
        assert_null(c->history[3].created);
        assert_string_equal(c->history[4].created_by, "COPY c d");

        /* four diff_ids: fits the four-layer manifest, not the one-layer one */
        {
                _cleanup_free_ char *m1 = fixture("manifest-oci.json", &len);
                assert_int_equal(image_manifest_parse(m1, len, &oci, NULL), 0);
        }
        {
                _cleanup_free_ char *m2 = fixture("manifest-docker.json", &len);
                assert_int_equal(image_manifest_parse(m2, len, &docker, NULL), 0);
        }
        assert_int_equal(image_config_check_manifest(c, oci, NULL), 0);
        assert_int_equal(image_config_check_manifest(c, docker, &err), -EBADMSG);
        assert_non_null(strstr(ocid_error_message(&err), "4 layer diff_ids but the manifest has 1 layers"));
}

static void test_config_minimal(void **state)
{
        _cleanup_image_config_ struct image_config *c = NULL;
        size_t len;
        _cleanup_free_ char *body = fixture("config-minimal.json", &len);

        assert_int_equal(image_config_parse(body, len, &c, NULL), 0);
        assert_string_equal(c->architecture, "arm64");
        assert_string_equal(c->variant, "v8");
        assert_null(c->user);
        assert_null(c->env);
        assert_null(c->entrypoint);
        assert_null(c->cmd);
        assert_int_equal(c->n_labels, 0);
        assert_int_equal(c->n_diff_ids, 0);
        assert_non_null(c->diff_ids);
        assert_int_equal(c->n_history, 0);
}

static void test_config_empty_entrypoint(void **state)
{
        const char *body = "{\"config\":{\"Entrypoint\":[],\"Cmd\":null,\"Labels\":{\"k\":null}},"
                           "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
        _cleanup_image_config_ struct image_config *c = NULL;

        assert_int_equal(image_config_parse(body, strlen(body), &c, NULL), 0);
        /* [] resets the entrypoint; null means "not set" */
        assert_non_null(c->entrypoint);
        assert_int_equal(ocid_strv_length(c->entrypoint), 0);
        assert_null(c->cmd);
        assert_int_equal(c->n_labels, 1);
        assert_string_equal(c->labels[0].value, "");
}

/* ---- hostile input ---- */

static char *many(const char *head, const char *item, size_t n, const char *tail)
{
        size_t hl = strlen(head), il = strlen(item), tl = strlen(tail);
        char *s = xmalloc(hl + n * (il + 1) + tl + 1), *p = s;

        memcpy(p, head, hl);
        p += hl;
        for (size_t i = 0; i < n; i++) {
                if (i)
                        *p++ = ',';
                memcpy(p, item, il);
                p += il;
        }
        memcpy(p, tail, tl);
        p += tl;
        *p = '\0';
        return s;
}

#define LAYER "{\"mediaType\":\"" MEDIA_TYPE_OCI_LAYER_GZIP "\",\"digest\":\"" SHA_A "\",\"size\":1}"
#define CONFIG_DESC "{\"mediaType\":\"" MEDIA_TYPE_OCI_CONFIG "\",\"digest\":\"" SHA_J "\",\"size\":1}"
#define MHEAD "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":["

static void test_hostile_manifests(void **state)
{
        _cleanup_free_ char *ok = many(MHEAD, LAYER, 1000, "]}");
        _cleanup_free_ char *too_many = many(MHEAD, LAYER, 1001, "]}");
        _cleanup_free_ char *idx_too_many = many("{\"schemaVersion\":2,\"manifests\":[", LAYER, 1001, "]}");
        _cleanup_free_ char *deep = NULL, *huge = NULL, *long_mt = NULL;
        struct image_manifest *m = NULL;
        struct manifest_index *idx = NULL;
        const struct {
                const char *body;
                const char *why;
        } cases[] = {
                { MHEAD LAYER "]", "not valid JSON" },
                { MHEAD LAYER "]} x", "data after" },
                { "[]", "not a JSON object" },
                { "", "empty" },
                { "{\"schemaVersion\":2,\"layers\":[]}", "'config' is missing" },
                { "{\"schemaVersion\":2,\"config\":" CONFIG_DESC "}", "'layers' is missing" },
                { "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":{}}", "'layers' is not an array" },
                { "{\"config\":" CONFIG_DESC ",\"layers\":[]}", "'schemaVersion' is missing" },
                { "{\"schemaVersion\":\"2\",\"config\":" CONFIG_DESC ",\"layers\":[]}", "not an integer" },
                { MHEAD "{\"mediaType\":\"" MEDIA_TYPE_OCI_LAYER "\",\"digest\":\"sha256:abc\",\"size\":1}]}",
                  "layers[0]: invalid digest 'sha256:abc'" },
                { MHEAD "{\"mediaType\":\"" MEDIA_TYPE_OCI_LAYER "\",\"digest\":\"" SHA_A "\",\"size\":-1}]}",
                  "'size' is negative" },
                { MHEAD "{\"mediaType\":\"" MEDIA_TYPE_OCI_LAYER "\",\"digest\":\"" SHA_A "\",\"size\":\"1\"}]}",
                  "'size' is not an integer" },
                { MHEAD "{\"mediaType\":\"" MEDIA_TYPE_OCI_LAYER "\",\"digest\":\"" SHA_A "\"}]}", "'size' is missing" },
                { MHEAD "{\"mediaType\":7,\"digest\":\"" SHA_A "\",\"size\":1}]}", "'mediaType' is not a string" },
                { MHEAD "{\"mediaType\":\"" MEDIA_TYPE_OCI_LAYER "\\u0000x\",\"digest\":\"" SHA_A "\",\"size\":1}]}",
                  "NUL" },
                { MHEAD "7]}", "layers[0]: not an object" },
                { too_many, "1001 layers, more than the 1000 allowed" },
        };

        assert_int_equal(image_manifest_parse(ok, strlen(ok), &m, NULL), 0);
        assert_int_equal(m->n_layers, 1000);
        m = image_manifest_free(m);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_error_ struct ocid_error *err = NULL;

                assert_true(image_manifest_parse(cases[i].body, strlen(cases[i].body), &m, &err) < 0);
                assert_null(m);
                if (!strstr(ocid_error_message(&err), cases[i].why))
                        fail_msg("case %zu: '%s' lacks '%s'", i, ocid_error_message(&err), cases[i].why);
        }

        /* a body with a NUL byte, a nesting bomb, an oversize document, an
         * oversize string */
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                const char body[] = "{\"schemaVersion\":2}\0junk";

                assert_int_equal(image_manifest_parse(body, sizeof(body) - 1, &m, &err), -EBADMSG);
                assert_non_null(strstr(ocid_error_message(&err), "NUL byte"));
        }
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                size_t depth = 10000;

                deep = xmalloc(2 * depth + 20);
                strcpy(deep, "{\"a\":");
                memset(deep + 5, '[', depth);
                memset(deep + 5 + depth, ']', depth);
                strcpy(deep + 5 + 2 * depth, "}");
                assert_int_equal(image_manifest_parse(deep, strlen(deep), &m, &err), -EBADMSG);
                assert_non_null(strstr(ocid_error_message(&err), "not valid JSON"));
        }
        {
                _cleanup_error_ struct ocid_error *err = NULL;

                huge = xmalloc(MANIFEST_MAX_SIZE + 2);
                memset(huge, ' ', MANIFEST_MAX_SIZE + 1);
                huge[0] = '{';
                huge[MANIFEST_MAX_SIZE] = '}';
                huge[MANIFEST_MAX_SIZE + 1] = '\0';
                assert_int_equal(image_manifest_parse(huge, MANIFEST_MAX_SIZE + 1, &m, &err), -EFBIG);
                ocid_error_clear(&err);
                assert_int_equal(manifest_index_parse(huge, MANIFEST_MAX_SIZE + 1, &idx, &err), -EFBIG);
        }
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                _cleanup_free_ char *s = xmalloc(MANIFEST_MAX_STRING + 2);

                memset(s, 'x', MANIFEST_MAX_STRING + 1);
                s[MANIFEST_MAX_STRING + 1] = '\0';
                long_mt = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":" CONFIG_DESC
                                    ",\"layers\":[]}", s);
                assert_int_equal(image_manifest_parse(long_mt, strlen(long_mt), &m, &err), -EBADMSG);
                assert_non_null(strstr(ocid_error_message(&err), "longer than"));
        }
        {
                _cleanup_error_ struct ocid_error *err = NULL;

                assert_int_equal(manifest_index_parse(idx_too_many, strlen(idx_too_many), &idx, &err), -EBADMSG);
                assert_non_null(strstr(ocid_error_message(&err), "1001 manifests, more than the 1000 allowed"));
        }
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                const char *b = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MEDIA_TYPE_OCI_MANIFEST
                                "\",\"digest\":\"" SHA_A "\",\"size\":1,\"platform\":{\"os\":\"linux\"}}]}";

                assert_int_equal(manifest_index_parse(b, strlen(b), &idx, &err), -EBADMSG);
                assert_non_null(strstr(ocid_error_message(&err), "manifests[0]: platform: 'architecture' is missing"));
        }
}

static void test_hostile_configs(void **state)
{
        _cleanup_free_ char *env_ok = many("{\"config\":{\"Env\":[", "\"A=1\"", IMAGE_CONFIG_MAX_LIST,
                                           "]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
        _cleanup_free_ char *env_many = many("{\"config\":{\"Env\":[", "\"A=1\"", IMAGE_CONFIG_MAX_LIST + 1,
                                             "]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
        _cleanup_free_ char *diff_many = many("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[", "\"" SHA_A "\"",
                                              MANIFEST_MAX_LAYERS + 1, "]}}");
        struct image_config *c = NULL;
        const struct {
                const char *body;
                const char *why;
        } cases[] = {
                { "{}", "'rootfs' is missing" },
                { "{\"rootfs\":{\"type\":\"layers\"}}", "'diff_ids' is missing" },
                { "{\"rootfs\":{\"type\":\"tarball\",\"diff_ids\":[]}}", "unknown type 'tarball'" },
                { "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:x\"]}}", "diff_ids[0]: invalid digest" },
                { "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[7]}}", "not a string" },
                { "{\"config\":7,\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "'config' is not an object" },
                { "{\"config\":{\"Env\":\"A=1\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                  "'Env' is not an array" },
                { "{\"config\":{\"Cmd\":[\"a\",1]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                  "entry 1: 'Cmd' is not a string" },
                { "{\"config\":{\"Labels\":{\"k\":1}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                  "Labels: 'k' is not a string" },
                { "{\"config\":{\"Labels\":[]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                  "'Labels' is not an object" },
                { "{\"config\":{\"ExposedPorts\":[\"80/tcp\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                  "'ExposedPorts' is not an object" },
                { "{\"config\":{\"User\":0},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                  "'User' is not a string" },
                { "{\"history\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "'history' is not an array" },
                { "{\"history\":[{\"empty_layer\":\"yes\"}],\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                  "'empty_layer' is not a boolean" },
                { "{\"os\":[],\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "'os' is not a string" },
                { env_many, "'Env' has 10001 entries" },
                { diff_many, "'diff_ids' has 1001 entries" },
        };

        assert_int_equal(image_config_parse(env_ok, strlen(env_ok), &c, NULL), 0);
        assert_int_equal(ocid_strv_length(c->env), IMAGE_CONFIG_MAX_LIST);
        c = image_config_free(c);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_error_ struct ocid_error *err = NULL;

                assert_true(image_config_parse(cases[i].body, strlen(cases[i].body), &c, &err) < 0);
                assert_null(c);
                assert_non_null(ocid_startswith(ocid_error_message(&err), "image config: "));
                if (!strstr(ocid_error_message(&err), cases[i].why))
                        fail_msg("case %zu: '%s' lacks '%s'", i, ocid_error_message(&err), cases[i].why);
        }
}

OCID_TEST_MAIN(cmocka_unit_test(test_detect), cmocka_unit_test(test_detect_without_media_type),
               cmocka_unit_test(test_index_parse), cmocka_unit_test(test_index_select),
               cmocka_unit_test(test_index_skips_artifacts), cmocka_unit_test(test_platform_normalize),
               cmocka_unit_test(test_platform_host_and_match), cmocka_unit_test(test_manifest_oci),
               cmocka_unit_test(test_manifest_docker), cmocka_unit_test(test_manifest_refused),
               cmocka_unit_test(test_layer_media_types), cmocka_unit_test(test_config_full),
               cmocka_unit_test(test_config_minimal), cmocka_unit_test(test_config_empty_entrypoint),
               cmocka_unit_test(test_hostile_manifests), cmocka_unit_test(test_hostile_configs))
