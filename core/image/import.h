/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Air-gapped nodes: `ocid image import PATH` loads an OCI image layout (a
 * directory, or a tar of one) or a docker-archive tar (what `docker save`
 * writes) into the image store with its names, and `ocid image ls` lists
 * the store. docs/images.md, "Air-gapped nodes", states the rules.
 *
 * An import checks everything before it stores anything: every blob
 * against its digest and size, every layer against its config's diff_id,
 * every name against the reference grammar. Only then are the blobs
 * ingested, the layers unpacked (image_store_unpack) and the records
 * written (image_store_commit), under a lease, so an import works the same
 * with or without a running daemon, which sees the new images at its next
 * call. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "image/store.h"

struct daemon_options;
struct ocid_error;

/* A non-fatal remark about the input ("entry 2 is not an image, ignoring"). */
typedef void (*image_import_warn_fn)(void *userdata, const char *message);

struct image_import_options {
        /* --name: names the image (or, without a tag, the repository of
         * every image's tags) instead of the names in the input. NULL: the
         * input's names. */
        const char *name;
        /* A tar is unpacked into a private directory below tmp_dir (created
         * as needed, mode 0700) and removed at the end. NULL: $TMPDIR, else
         * /var/tmp. */
        const char *tmp_dir;
        image_import_warn_fn warn;      /* NULL: warnings are dropped */
        void *warn_userdata;
        image_unpack_progress_fn progress;      /* passed to image_store_unpack; may be NULL */
        void *progress_userdata;
};

/* One image an import stored. */
struct image_imported {
        struct image_record *record;    /* the record as written (with older names too) */
        char **names;                   /* the tags this import gave it; never NULL */
};

struct image_imported *image_imported_free(struct image_imported *i);
/* Frees a NULL-terminated vector. */
void image_imported_list_free(struct image_imported **v);

/* Imports every image `path` holds into s ("-": a tar read from standard
 * input). *ret (may be NULL) receives what was stored, as a
 * NULL-terminated vector in the input's order. Errors: -EINVAL for input
 * that is neither an OCI layout nor a docker-archive, a bad document or an
 * unsafe path; -ENOENT for a missing blob; -EBADMSG for content that does
 * not match its digest or diff_id; each names what is wrong. A failed check
 * stores nothing at all. */
int image_import(struct image_store *s, const char *path, const struct image_import_options *o,
                 struct image_imported ***ret, struct ocid_error **err);

/* "12.3MB": a byte count in SI units, as image listings show sizes. */
char *image_format_size(uint64_t bytes);

/* Writes the table of `ocid image ls`: IMAGE ID (12 hex digits),
 * REPOSITORY:TAG (one line per tag, "<none>" when untagged), DIGEST (the
 * repository's digest, short) and SIZE. */
int image_list_print(struct image_record *const *records, FILE *f, struct ocid_error **err);

/* `ocid [OPTION]... image SUBCOMMAND ...`: argv[0] is "image". Global
 * options (--config, --root, --log-level) may also follow "image" and fill
 * o. Returns the process exit code: 0, 1 on failure, 2 on a usage or
 * configuration error. */
int image_cli_main(struct daemon_options *o, int argc, char *argv[]);

#include <ocid/cleanup.h>
static inline void image_imported_list_freep(struct image_imported ***v)
{
        if (*v)
                image_imported_list_free(*v);
}
#define _cleanup_image_imported_list_ _cleanup_(image_imported_list_freep)
