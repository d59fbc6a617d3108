/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Safe extraction of container image layers (tar, tar+gzip, tar+zstd).
 *
 * Every entry is created relative to a directory fd opened on the
 * destination, and every parent path is resolved as if the destination were
 * the root directory (openat2 RESOLVE_IN_ROOT, or an equivalent walk when the
 * kernel lacks openat2). A layer therefore cannot create, change or link
 * anything outside the destination, whatever its names, symlinks and
 * hardlinks say. docs/layers.md describes the rules in full. */

#include <stdint.h>

struct ocid_error;

/* Whiteout handling (at most one of the two; with neither, whiteout entries
 * are dropped and counted in `skipped`):
 *
 * OVERLAY: the layer is unpacked into its own directory, to be an overlay
 *   lower dir. ".wh.NAME" becomes a character device 0:0 named NAME;
 *   ".wh..wh..opq" sets trusted.overlay.opaque="y" on its directory.
 * APPLY: the layer is unpacked on top of a copy of its parent layers (vfs).
 *   ".wh.NAME" removes NAME and everything below it; ".wh..wh..opq" removes
 *   what the directory held before this layer (what this layer itself put
 *   there stays).
 *
 * In both modes a whiteout never hides an entry of its own layer, as the OCI
 * image spec requires, and a whiteout naming nothing is harmless. */
#define OCID_ARCHIVE_WHITEOUT_OVERLAY (1u << 0)
#define OCID_ARCHIVE_WHITEOUT_APPLY   (1u << 1)
/* With OVERLAY: mark opaque directories with user.overlay.opaque instead, for
 * overlay mounts with the "userxattr" option (unprivileged overlay). */
#define OCID_ARCHIVE_OVERLAY_USERXATTR (1u << 2)

/* Default bound on the number of entries in one layer. */
#define OCID_ARCHIVE_MAX_ENTRIES 1000000u
/* Longest entry name, hardlink target or symlink target accepted. */
#define OCID_ARCHIVE_MAX_NAME 4096u

struct ocid_archive_options {
        uint32_t flags;          /* OCID_ARCHIVE_* */
        uint32_t reserved0;      /* must be 0 */
        uint64_t max_entries;    /* 0: OCID_ARCHIVE_MAX_ENTRIES */
        uint64_t max_bytes;      /* bound on the file content written; 0: none */
        uint64_t reserved[4];    /* must be 0 */
};

struct ocid_archive_stats {
        uint64_t entries;        /* entries read from the archive */
        uint64_t bytes;          /* bytes of regular file content written */
        uint64_t files;          /* regular files created */
        uint64_t dirs;           /* directory entries (created or updated) */
        uint64_t symlinks;
        uint64_t hardlinks;
        uint64_t specials;       /* device nodes and fifos created */
        uint64_t whiteouts;      /* whiteouts and opaque markers carried out */
        uint64_t skipped;        /* entries left out: device nodes when not
                                  * root, sockets, AUFS metadata, whiteouts
                                  * with nothing to do or no whiteout mode */
        uint64_t xattrs_skipped; /* extended attributes not kept (policy in
                                  * docs/layers.md, or unsupported by the
                                  * file system) */
        uint64_t reserved[4];
};

/* Reads an archive from fd (from its current position; the compression is
 * detected) and unpacks it into dest_dir, which must exist. An entry that
 * would escape dest_dir is an error naming the entry, for example
 * "layer entry '../../etc/passwd': path escapes the layer". On failure the
 * entries unpacked so far stay: the caller unpacks into a fresh directory and
 * removes it on failure. ret may be NULL; it is filled only on success. */
int ocid_archive_extract(int fd, const char *dest_dir, uint32_t flags, struct ocid_archive_stats *ret,
                         struct ocid_error **err);

/* The same with limits; opts NULL means the defaults. */
int ocid_archive_extract_full(int fd, const char *dest_dir, const struct ocid_archive_options *opts,
                              struct ocid_archive_stats *ret, struct ocid_error **err);
