/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The user a container's process runs as: the CRI's run_as_user,
 * run_as_username and run_as_group, or the image's USER, resolved against
 * the /etc/passwd and /etc/group of the container's own rootfs (read
 * through rootfs_read_file(), never the host's). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ocid_error;

/* The largest valid ID: (uint32_t) -1 means "no ID" to the kernel. */
#define USER_ID_MAX UINT32_C(4294967294)
/* Upper bound of the supplemental groups of one process (NGROUPS_MAX). */
#define USER_MAX_GROUPS 65536
/* Longest user or group name accepted. */
#define USER_MAX_NAME 256

struct user_request {
        bool has_uid;             /* run_as_user is set */
        int64_t uid;
        const char *username;     /* run_as_username; NULL or "" when unset */
        bool has_gid;             /* run_as_group is set */
        int64_t gid;
        const char *image_user;   /* the image's USER; NULL or "" for root */
        const int64_t *groups;    /* supplemental_groups */
        size_t n_groups;
        bool strict_groups;       /* SupplementalGroupsPolicy Strict: no groups from /etc/group */
};

struct user_result {
        uint32_t uid;
        uint32_t gid;
        uint32_t *gids;           /* supplemental groups, without duplicates */
        size_t n_gids;
        char *home;               /* from /etc/passwd, or "/" */
};

/* Resolves the request (the precedence and errors are in
 * docs/container-spec.md). Every error is -EINVAL with a message that names
 * the field, except an unreadable /etc/passwd or /etc/group, which keeps
 * the code of the failure (-EFBIG for an oversized file). A missing
 * /etc/passwd or /etc/group counts as empty. */
int user_resolve(int rootfs_fd, const struct user_request *req, struct user_result *ret,
                 struct ocid_error **err);

void user_result_done(struct user_result *r);

/* A user or group name as accepted from the CRI or an image: non-empty, at
 * most USER_MAX_NAME bytes, no ':', ',', whitespace or control character. */
int user_name_check(const char *name, const char *what, struct ocid_error **err);
