/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Image manifests, indexes and configs (OCI image-spec v1 and Docker
 * schema 2), parsed with json-c into plain structs. Every input is treated
 * as hostile: documents, strings and lists are bounded, every digest is
 * validated, and an unknown or foreign layer type is refused by name. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ocid_error;

#define MEDIA_TYPE_OCI_INDEX              "application/vnd.oci.image.index.v1+json"
#define MEDIA_TYPE_OCI_MANIFEST           "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_TYPE_OCI_CONFIG             "application/vnd.oci.image.config.v1+json"
#define MEDIA_TYPE_OCI_LAYER              "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_TYPE_OCI_LAYER_GZIP         "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_TYPE_OCI_LAYER_ZSTD         "application/vnd.oci.image.layer.v1.tar+zstd"
#define MEDIA_TYPE_OCI_LAYER_ND           "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define MEDIA_TYPE_OCI_LAYER_ND_GZIP      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define MEDIA_TYPE_OCI_LAYER_ND_ZSTD      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
#define MEDIA_TYPE_DOCKER_LIST            "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_TYPE_DOCKER_MANIFEST        "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_TYPE_DOCKER_SCHEMA1         "application/vnd.docker.distribution.manifest.v1+json"
#define MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED  "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define MEDIA_TYPE_DOCKER_CONFIG          "application/vnd.docker.container.image.v1+json"
#define MEDIA_TYPE_DOCKER_LAYER           "application/vnd.docker.image.rootfs.diff.tar"
#define MEDIA_TYPE_DOCKER_LAYER_GZIP      "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MEDIA_TYPE_DOCKER_LAYER_ZSTD      "application/vnd.docker.image.rootfs.diff.tar.zstd"
#define MEDIA_TYPE_DOCKER_FOREIGN_LAYER   "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

/* The Accept header value of a manifest request: every type parsed here. */
#define MANIFEST_ACCEPT                                                       \
        MEDIA_TYPE_OCI_INDEX ", " MEDIA_TYPE_OCI_MANIFEST ", "                \
        MEDIA_TYPE_DOCKER_LIST ", " MEDIA_TYPE_DOCKER_MANIFEST

/* Bounds against hostile documents. */
#define MANIFEST_MAX_SIZE        (4u * 1024 * 1024)
#define IMAGE_CONFIG_MAX_SIZE    (8u * 1024 * 1024)
#define MANIFEST_MAX_LAYERS      1000
#define MANIFEST_MAX_ENTRIES     1000     /* index entries */
#define MANIFEST_MAX_STRING      (64u * 1024)
#define IMAGE_CONFIG_MAX_STRING  (1024u * 1024)
#define IMAGE_CONFIG_MAX_LIST    10000    /* env, cmd, labels, volumes, history */
#define IMAGE_CONFIG_MAX_PORTS   131072   /* every tcp and udp port */
#define MANIFEST_JSON_MAX_DEPTH  32

enum manifest_kind {
        MANIFEST_KIND_INDEX,    /* OCI index or Docker manifest list */
        MANIFEST_KIND_IMAGE,    /* OCI or Docker schema 2 image manifest */
        _MANIFEST_KIND_MAX,
        _MANIFEST_KIND_INVALID = -EINVAL,
};

enum layer_compression {
        LAYER_COMPRESSION_NONE,
        LAYER_COMPRESSION_GZIP,
        LAYER_COMPRESSION_ZSTD,
        _LAYER_COMPRESSION_MAX,
        _LAYER_COMPRESSION_INVALID = -EINVAL,
};

struct platform {
        char *os;               /* "linux" */
        char *architecture;     /* "amd64", "arm64", "arm", ... */
        char *variant;          /* "v7", "v8" or NULL */
        char *os_version;       /* NULL unless given */
};

struct descriptor {
        char *media_type;
        char *digest;           /* validated "sha256:<hex>" */
        int64_t size;           /* >= 0 */
        bool has_platform;
        struct platform platform;
};

struct manifest_index {
        char *media_type;       /* as declared, or deduced */
        size_t n_manifests;
        struct descriptor *manifests;
};

struct manifest_layer {
        struct descriptor desc;
        enum layer_compression compression;
};

struct image_manifest {
        char *media_type;
        struct descriptor config;
        size_t n_layers;
        struct manifest_layer *layers;
};

struct image_label {
        char *key;
        char *value;
};

struct image_history {
        char *created;
        char *created_by;
        char *author;
        char *comment;
        bool empty_layer;
};

/* The parts of an image config a runtime uses. Lists are NULL-terminated
 * string vectors; NULL means absent, which differs from an empty list
 * (an image may reset its Entrypoint to []). */
struct image_config {
        char *created;
        char *author;
        char *os;
        char *architecture;
        char *variant;
        char *user;
        char **env;
        char **entrypoint;
        char **cmd;
        char *working_dir;
        size_t n_labels;
        struct image_label *labels;
        char *stop_signal;
        char **exposed_ports;   /* "80/tcp", sorted as in the document */
        char **volumes;
        char **diff_ids;        /* validated digests, one per layer */
        size_t n_diff_ids;
        size_t n_history;
        struct image_history *history;
};

/* Decides what a fetched manifest is: its mediaType field wins, then the
 * HTTP Content-Type (may be NULL), then its shape. Docker schema 1 and
 * unknown types are -ENOTSUP naming the type. */
int manifest_detect(const char *body, size_t len, const char *content_type, enum manifest_kind *ret,
                    struct ocid_error **err);

int manifest_index_parse(const char *body, size_t len, struct manifest_index **ret, struct ocid_error **err);
struct manifest_index *manifest_index_free(struct manifest_index *idx);

/* Picks the entry for platform `want` (normally platform_host()): exact
 * os/architecture with the best compatible variant. -ENOENT names the
 * platform wanted and those on offer. */
int manifest_index_select(const struct manifest_index *idx, const struct platform *want,
                          const struct descriptor **ret, struct ocid_error **err);

int image_manifest_parse(const char *body, size_t len, struct image_manifest **ret, struct ocid_error **err);
struct image_manifest *image_manifest_free(struct image_manifest *m);

int image_config_parse(const char *body, size_t len, struct image_config **ret, struct ocid_error **err);
struct image_config *image_config_free(struct image_config *c);
/* The config must describe exactly the manifest's layers (one diff_id each). */
int image_config_check_manifest(const struct image_config *c, const struct image_manifest *m,
                                struct ocid_error **err);

/* The compression a layer media type implies; -ENOTSUP with a clear
 * message for foreign (Windows) and unknown layer types. */
int layer_media_type_compression(const char *media_type, enum layer_compression *ret, struct ocid_error **err);
const char *layer_compression_to_string(enum layer_compression c);

/* This host's platform, from uname(2), normalised. */
int platform_host(struct platform *ret, struct ocid_error **err);
/* Normalises in place: lowercase, architecture aliases (x86_64 -> amd64,
 * aarch64 -> arm64, armhf -> arm/v7, ...), arm64's variant "v8" and arm's
 * default variant "v7". */
void platform_normalize(struct platform *p);
/* True when an image for `have` runs on `want`. */
bool platform_matches(const struct platform *want, const struct platform *have);
/* "os/architecture[/variant]", newly allocated. */
char *platform_to_string(const struct platform *p);
void platform_done(struct platform *p);

#include <ocid/cleanup.h>
OCID_DEFINE_CLEANUP_FUNC(struct manifest_index *, manifest_index_free)
#define _cleanup_manifest_index_ _cleanup_(manifest_index_freep)
OCID_DEFINE_CLEANUP_FUNC(struct image_manifest *, image_manifest_free)
#define _cleanup_image_manifest_ _cleanup_(image_manifest_freep)
OCID_DEFINE_CLEANUP_FUNC(struct image_config *, image_config_free)
#define _cleanup_image_config_ _cleanup_(image_config_freep)
