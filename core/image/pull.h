/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Pulling an image from a registry into the image store: reference
 * candidates, manifest (and index) resolution, blobs through the blob
 * store's single-flight fetch, layers through image_store_unpack, and the
 * record written last. Two pulls of one reference at the same time do the
 * work once. docs/images.md, "PullImage", describes the steps. */

#include <stddef.h>
#include <stdint.h>

struct ocid_error;
struct config_mirror;
struct image_record;
struct image_store;
struct registry_auth;
struct registry_client;
struct image_puller;

struct image_pull_request {
        const char *image;                      /* as the kubelet sends it: "busybox", "r:5000/x@sha256:..." */
        const struct registry_auth *auth;       /* NULL: anonymous */
        char *const *search_registries;         /* for unqualified names; NULL: docker.io */
        char *const *insecure_registries;       /* may be NULL */
        const struct config_mirror *mirrors;    /* per registry, tried before it */
        size_t n_mirrors;
        const char *pinned_image;               /* pulled under this name, the image is pinned; NULL/"": none */
        int64_t stall_timeout_s;                /* no progress this long aborts; 0: never */
        int64_t deadline_ns;                    /* CLOCK_MONOTONIC; 0: none */
};

/* rc may be NULL: the puller creates its own registry client. */
int image_puller_new(struct image_store *s, struct registry_client *rc, struct image_puller **ret,
                     struct ocid_error **err);
struct image_puller *image_puller_free(struct image_puller *p);

/* Pulls req->image and returns its record. Unqualified names are tried on
 * each search registry in order; when none has it the error is -ENOENT
 * naming every reference tried. A reference with a tag records the tag
 * (taken from any older image) and the repo digest; a reference with a
 * digest records the repo digest only. A bad reference is -EINVAL. */
int image_pull(struct image_puller *p, const struct image_pull_request *req, struct image_record **ret,
               struct ocid_error **err);

#include <ocid/cleanup.h>
OCID_DEFINE_CLEANUP_FUNC(struct image_puller *, image_puller_free)
#define _cleanup_image_puller_ _cleanup_(image_puller_freep)
