/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Paths and files. */

#include <stddef.h>
#include <sys/types.h>

struct ocid_error;

/* Joins `rel` below `root` lexically: "." and empty components are dropped,
 * ".." never climbs above root (as if root were "/"), a leading "/" in rel is
 * relative to root. The result never names anything outside root. */
char *ocid_path_join_beneath(const char *root, const char *rel);

/* Plain join with exactly one "/" between the parts. */
char *ocid_path_join(const char *a, const char *b);

/* Validates a single path component: non-empty, not "." or "..", no "/",
 * no NUL, at most 255 bytes. */
int ocid_path_component_check(const char *name, struct ocid_error **err);

/* mkdir -p with mode for every directory it creates (exactly mode: the umask
 * does not apply). Existing directories are fine and keep their mode; an
 * existing non-directory is -ENOTDIR. */
int ocid_mkdir_p(const char *path, mode_t mode, struct ocid_error **err);

/* Creates (or opens) the regular file `rel` below directory `root`, making
 * missing parent directories with dir_mode, and returns an O_WRONLY |
 * O_APPEND descriptor on it. No component of rel may be "." or ".." and
 * none may be a symlink (-ELOOP, naming it): whatever someone planted below
 * root, the file is root's own. rel must be relative. */
int ocid_create_file_beneath(const char *root, const char *rel, mode_t dir_mode, mode_t mode, int *ret_fd,
                             struct ocid_error **err);

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync, chmod to mode, rename over path, fsync of the directory. A crash at
 * any point leaves the old content or the new one; on a failure before the
 * rename the temporary file is removed and the old content is untouched. */
int ocid_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                           struct ocid_error **err);

/* Writes all of data to fd, retrying on EINTR and short writes. Returns 0
 * or -errno (no error object: callers add the context they know). */
int ocid_write_all(int fd, const void *data, size_t len);

/* Reads a whole regular file, refusing more than max bytes (-EFBIG); a
 * directory is -EISDIR, any other non-regular file -EINVAL.
 * *ret is NUL-terminated; ret_len may be NULL. */
int ocid_read_file(const char *path, size_t max, char **ret, size_t *ret_len, struct ocid_error **err);

/* Removes path and everything below it without following symlinks or
 * crossing mount points. A missing path is success. A mount point below
 * path is left alone and reported (-EXDEV) after the rest is removed; path
 * itself being a mount point is -EBUSY; "/", "." and ".." are -EINVAL. */
int ocid_rm_rf(const char *path, struct ocid_error **err);
