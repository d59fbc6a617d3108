/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Image references as a kubelet sends them, parsed after the distribution
 * reference grammar and normalised the way docker and CRI-O do:
 *   busybox                 -> docker.io/library/busybox:latest
 *   user/app                -> docker.io/user/app:latest
 *   localhost:5000/x        -> localhost:5000/x:latest
 *   r.example/a/b@sha256:.. -> pulled by digest, no tag
 *   name:tag@sha256:..      -> pulled by digest, tag kept for naming
 * docs/images.md states the rules in full. */

#include <stdbool.h>

struct ocid_error;

#define IMAGE_REF_DEFAULT_DOMAIN  "docker.io"
#define IMAGE_REF_DEFAULT_TAG     "latest"
/* The longest name (domain "/" path) the grammar allows. */
#define IMAGE_REF_NAME_MAX        255

struct image_ref {
        char *domain;   /* "docker.io", "localhost:5000"; NULL while unqualified */
        char *path;     /* "library/busybox" */
        char *tag;      /* NULL when none was given (after qualification: only with a digest) */
        char *digest;   /* "sha256:<hex>" or NULL */
};

/* Parses s strictly without qualifying it: a name without a domain keeps
 * domain NULL and its path as written, and no tag is invented. -EINVAL with
 * a message naming the reference and what is wrong. */
int image_ref_parse(const char *s, struct image_ref **ret, struct ocid_error **err);

/* Parses s and, when it has no domain, qualifies it with docker.io: what a
 * reference means with the default unqualified-search list. */
int image_ref_parse_normalized(const char *s, struct image_ref **ret, struct ocid_error **err);

/* The fully qualified references s may mean, in the order they should be
 * tried: one when s names its registry, else one per unqualified-search
 * registry (NULL or empty list: docker.io). *ret is a NULL-terminated array
 * to release with image_ref_list_free(). */
int image_ref_candidates(const char *s, char *const *search_registries, struct image_ref ***ret,
                         struct ocid_error **err);
void image_ref_list_free(struct image_ref **list);

/* A qualified copy of ref on `domain`: docker.io's single-component names
 * gain "library/", index.docker.io becomes docker.io, and "latest" is the
 * tag when neither tag nor digest is set. -EINVAL when the name would grow
 * past IMAGE_REF_NAME_MAX or the domain is malformed. */
int image_ref_qualify(const struct image_ref *ref, const char *domain, struct image_ref **ret,
                      struct ocid_error **err);

bool image_ref_is_qualified(const struct image_ref *ref);

struct image_ref *image_ref_copy(const struct image_ref *ref);
struct image_ref *image_ref_free(struct image_ref *ref);

#include <ocid/cleanup.h>
OCID_DEFINE_CLEANUP_FUNC(struct image_ref *, image_ref_free)
#define _cleanup_image_ref_ _cleanup_(image_ref_freep)

/* Formatting (newly allocated). string: the whole reference
 * "[domain/]path[:tag][@digest]"; name: "[domain/]path"; tagged:
 * "name:tag" or NULL without a tag; digested: "name@<digest>". */
char *image_ref_string(const struct image_ref *ref);
char *image_ref_name(const struct image_ref *ref);
char *image_ref_tagged(const struct image_ref *ref);
char *image_ref_digested(const struct image_ref *ref, const char *digest);

/* What a pull asks the registry's manifest endpoint for: the digest when one
 * is set (it wins over the tag), else the tag ("latest" if none). */
const char *image_ref_manifest_ref(const struct image_ref *ref);

/* The host serving the registry API for a reference domain: docker.io (and
 * index.docker.io) is served by registry-1.docker.io; any other is itself. */
const char *image_domain_api_host(const char *domain);

/* True for a loopback registry (localhost, 127.0.0.0/8, ::1), with or
 * without a port: such a registry may be reached over plain HTTP. */
bool image_domain_is_loopback(const char *domain);

/* Validates "host[:port]" after the grammar (domain name, IPv4 or
 * [IPv6]). */
int image_domain_validate(const char *domain, struct ocid_error **err);
