/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/util.h>

#include "spec/rootfs.h"
#include "spec/user.h"

#define CTX "container config: linux.security_context."

struct field {
        const char *s;
        size_t len;
};

struct pw_entry {
        char *name;
        uint32_t uid;
        uint32_t gid;
        char *home;
};

static void pw_entry_done(struct pw_entry *e)
{
        free(e->name);
        free(e->home);
        *e = (struct pw_entry) { 0 };
}

struct db {
        char *buf; /* the file, or "" when it does not exist */
        size_t len;
};

static void db_done(struct db *db)
{
        free(db->buf);
}

static int db_load(int rootfs_fd, const char *path, struct db *ret, struct ocid_error **err)
{
        int r = rootfs_read_file(rootfs_fd, path, ROOTFS_MAX_FILE, &ret->buf, &ret->len, err);

        if (r == -ENOENT) {
                ocid_error_clear(err);
                ret->buf = xstrdup("");
                ret->len = 0;
                return 0;
        }
        return r;
}

/* Iterates over the lines of a database: returns false at the end. Lines
 * with a NUL byte are skipped (a C string would see only part of them). */
static bool next_line(const struct db *db, size_t *pos, struct field *line)
{
        while (*pos < db->len) {
                const char *start = db->buf + *pos;
                const char *nl = memchr(start, '\n', db->len - *pos);
                size_t len = nl ? (size_t) (nl - start) : db->len - *pos;

                *pos += len + (nl ? 1 : 0);
                if (len == 0 || memchr(start, '\0', len))
                        continue;
                /* NIS compat entries ("+user", "-@group") and comments are
                 * not local users. */
                if (start[0] == '+' || start[0] == '-' || start[0] == '#')
                        continue;
                *line = (struct field) { start, len };
                return true;
        }
        return false;
}

/* Splits a line into exactly n fields separated by ':'. */
static bool split(const struct field *line, struct field *out, size_t n)
{
        const char *p = line->s, *end = line->s + line->len;

        for (size_t i = 0; i < n; i++) {
                const char *c = memchr(p, ':', (size_t) (end - p));

                if (i == n - 1) {
                        if (c)
                                return false;
                        out[i] = (struct field) { p, (size_t) (end - p) };
                        return true;
                }
                if (!c)
                        return false;
                out[i] = (struct field) { p, (size_t) (c - p) };
                p = c + 1;
        }
        return false;
}

static bool field_eq(const struct field *f, const char *s)
{
        return f->len == strlen(s) && memcmp(f->s, s, f->len) == 0;
}

/* A decimal ID: digits only, at most USER_ID_MAX. */
static int parse_id(const char *s, size_t len, uint32_t *ret)
{
        uint64_t v = 0;

        if (len == 0 || len > 10)
                return len == 0 ? -EINVAL : -ERANGE;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (v > USER_ID_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

static bool is_numeric(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

int user_name_check(const char *name, const char *what, struct ocid_error **err)
{
        size_t len = name ? strlen(name) : 0;

        if (len == 0)
                return ocid_error_msg(err, EINVAL, "%s: empty name", what);
        if (len > USER_MAX_NAME)
                return ocid_error_msg(err, EINVAL, "%s: name is longer than %d bytes", what, USER_MAX_NAME);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) name[i];
                if (c <= 0x20 || c == 0x7f || c == ':' || c == ',')
                        return ocid_error_msg(err, EINVAL, "%s: invalid character 0x%02x in name", what, c);
        }
        return 0;
}

static int check_home(const struct field *f, const char *user, struct ocid_error **err)
{
        for (size_t i = 0; i < f->len; i++) {
                unsigned char c = (unsigned char) f->s[i];
                if (c < 0x20 || c == 0x7f)
                        return ocid_error_msg(err, EINVAL,
                                              "the home directory of user '%s' in the container's /etc/passwd contains the control character 0x%02x",
                                              user, c);
        }
        return 0;
}

/* Finds a passwd entry by name (name != NULL) or by uid. Returns 1 when
 * found, 0 when not. An entry whose name matches but whose IDs or home are
 * invalid is an error; lines that do not parse are skipped as the C
 * library does. */
static int passwd_find(const struct db *db, const char *name, uint32_t uid, struct pw_entry *ret,
                       struct ocid_error **err)
{
        struct field line, f[7];
        size_t pos = 0;

        while (next_line(db, &pos, &line)) {
                uint32_t u, g;

                if (!split(&line, f, 7) || f[0].len == 0)
                        continue;
                if (name) {
                        if (!field_eq(&f[0], name))
                                continue;
                        if (parse_id(f[2].s, f[2].len, &u) < 0 || parse_id(f[3].s, f[3].len, &g) < 0)
                                return ocid_error_msg(err, EINVAL,
                                                      "user '%s' in the container's /etc/passwd has an invalid uid or gid (not a number, or above %" PRIu32 ")",
                                                      name, USER_ID_MAX);
                } else {
                        if (parse_id(f[2].s, f[2].len, &u) < 0 || u != uid)
                                continue;
                        if (parse_id(f[3].s, f[3].len, &g) < 0)
                                continue;
                }
                {
                        _cleanup_free_ char *n = xstrndup(f[0].s, f[0].len);
                        int r = check_home(&f[5], n, err);
                        if (r < 0)
                                return r;
                        ret->name = TAKE_PTR(n);
                }
                ret->uid = u;
                ret->gid = g;
                ret->home = f[5].len > 0 ? xstrndup(f[5].s, f[5].len) : xstrdup("/");
                return 1;
        }
        return 0;
}

/* Finds a group's gid by name. Returns 1 when found, 0 when not. */
static int group_find(const struct db *db, const char *name, uint32_t *ret, struct ocid_error **err)
{
        struct field line, f[4];
        size_t pos = 0;

        while (next_line(db, &pos, &line)) {
                if (!split(&line, f, 4) || !field_eq(&f[0], name))
                        continue;
                if (parse_id(f[2].s, f[2].len, ret) < 0)
                        return ocid_error_msg(err, EINVAL,
                                              "group '%s' in the container's /etc/group has an invalid gid (not a number, or above %" PRIu32 ")",
                                              name, USER_ID_MAX);
                return 1;
        }
        return 0;
}

static void gids_add(struct user_result *r, uint32_t gid)
{
        for (size_t i = 0; i < r->n_gids; i++)
                if (r->gids[i] == gid)
                        return;
        r->gids = xreallocarray(r->gids, r->n_gids + 1, sizeof(uint32_t));
        r->gids[r->n_gids++] = gid;
}

/* Adds the gid of every group that lists `user` as a member. */
static int group_memberships(const struct db *db, const char *user, struct user_result *r, struct ocid_error **err)
{
        struct field line, f[4];
        size_t pos = 0;

        while (next_line(db, &pos, &line)) {
                const char *p, *end;
                uint32_t gid;

                if (!split(&line, f, 4) || parse_id(f[2].s, f[2].len, &gid) < 0)
                        continue;
                p = f[3].s;
                end = f[3].s + f[3].len;
                while (p < end) {
                        const char *comma = memchr(p, ',', (size_t) (end - p));
                        struct field m = { p, (size_t) ((comma ? comma : end) - p) };

                        if (field_eq(&m, user)) {
                                if (r->n_gids >= USER_MAX_GROUPS)
                                        return ocid_error_msg(err, EINVAL, "user '%s' is in more than %d groups",
                                                              user, USER_MAX_GROUPS);
                                gids_add(r, gid);
                                break;
                        }
                        p = comma ? comma + 1 : end;
                }
        }
        return 0;
}

static int id_from_int64(int64_t v, const char *field, uint32_t *ret, struct ocid_error **err)
{
        if (v < 0 || v > (int64_t) USER_ID_MAX)
                return ocid_error_msg(err, EINVAL, "%s: %" PRId64 " is out of range (0 to %" PRIu32 ")", field, v,
                                      USER_ID_MAX);
        *ret = (uint32_t) v;
        return 0;
}

/* The image's USER: "", "name", "uid", "name:group", "uid:gid" and the
 * mixed forms. */
static int resolve_image_user(const struct db *pw, const struct db *gr, const char *spec, struct pw_entry *ret,
                              bool *ret_have_group, uint32_t *ret_group, struct ocid_error **err)
{
        _cleanup_free_ char *user = NULL;
        const char *colon, *group = NULL;
        uint32_t id;
        int r;

        *ret_have_group = false;
        if (!spec || !*spec)
                spec = "0";
        colon = strchr(spec, ':');
        if (colon) {
                group = colon + 1;
                if (strchr(group, ':'))
                        return ocid_error_msg(err, EINVAL, "image config: User '%s': more than one ':'", spec);
                user = xstrndup(spec, (size_t) (colon - spec));
        } else {
                user = xstrdup(spec);
        }

        if (is_numeric(user)) {
                r = parse_id(user, strlen(user), &id);
                if (r < 0)
                        return ocid_error_msg(err, EINVAL, "image config: User '%s': uid '%s' is out of range (0 to %" PRIu32 ")",
                                              spec, user, USER_ID_MAX);
                r = passwd_find(pw, NULL, id, ret, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        *ret = (struct pw_entry) { .uid = id, .gid = 0, .home = xstrdup("/") };
        } else {
                r = user_name_check(user, "image config: User", err);
                if (r < 0)
                        return r;
                r = passwd_find(pw, user, 0, ret, err);
                if (r < 0)
                        return ocid_error_prefix(err, "image config: User '%s'", spec);
                if (r == 0)
                        return ocid_error_msg(err, EINVAL, "image config: User '%s': user '%s' not found in the container's /etc/passwd",
                                              spec, user);
        }

        if (group) {
                if (is_numeric(group)) {
                        if (parse_id(group, strlen(group), ret_group) < 0)
                                return ocid_error_msg(err, EINVAL, "image config: User '%s': gid '%s' is out of range (0 to %" PRIu32 ")",
                                                      spec, group, USER_ID_MAX);
                } else {
                        r = user_name_check(group, "image config: User: group", err);
                        if (r < 0)
                                return r;
                        r = group_find(gr, group, ret_group, err);
                        if (r < 0)
                                return ocid_error_prefix(err, "image config: User '%s'", spec);
                        if (r == 0)
                                return ocid_error_msg(err, EINVAL, "image config: User '%s': group '%s' not found in the container's /etc/group",
                                                      spec, group);
                }
                *ret_have_group = true;
        }
        return 0;
}

int user_resolve(int rootfs_fd, const struct user_request *req, struct user_result *ret, struct ocid_error **err)
{
        _cleanup_(db_done) struct db pw = { 0 }, gr = { 0 };
        _cleanup_(pw_entry_done) struct pw_entry e = { 0 };
        _cleanup_(user_result_done) struct user_result res = { 0 };
        bool have_username = req->username && *req->username;
        bool have_group = false;
        uint32_t group = 0;
        int r;

        if (req->has_uid && have_username)
                return ocid_error_msg(err, EINVAL, CTX "run_as_user and run_as_username are both set; only one may be");
        if (req->has_gid && !req->has_uid && !have_username)
                return ocid_error_msg(err, EINVAL, CTX "run_as_group is set without run_as_user or run_as_username");
        if (req->n_groups > USER_MAX_GROUPS)
                return ocid_error_msg(err, EINVAL, CTX "supplemental_groups: more than %d groups", USER_MAX_GROUPS);

        /* The request's own values first: they need no file. */
        if (req->has_uid) {
                r = id_from_int64(req->uid, CTX "run_as_user", &res.uid, err);
                if (r < 0)
                        return r;
        }
        if (req->has_gid) {
                r = id_from_int64(req->gid, CTX "run_as_group", &res.gid, err);
                if (r < 0)
                        return r;
        }
        if (have_username) {
                r = user_name_check(req->username, CTX "run_as_username", err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < req->n_groups; i++) {
                uint32_t g;

                r = id_from_int64(req->groups[i], CTX "supplemental_groups", &g, err);
                if (r < 0)
                        return r;
        }

        r = db_load(rootfs_fd, "/etc/passwd", &pw, err);
        if (r < 0)
                return r;
        r = db_load(rootfs_fd, "/etc/group", &gr, err);
        if (r < 0)
                return r;

        if (req->has_uid) {
                r = passwd_find(&pw, NULL, res.uid, &e, err);
                if (r < 0)
                        return ocid_error_prefix(err, CTX "run_as_user");
                if (r == 0)
                        e = (struct pw_entry) { .uid = res.uid, .gid = 0, .home = xstrdup("/") };
        } else if (have_username) {
                r = passwd_find(&pw, req->username, 0, &e, err);
                if (r < 0)
                        return ocid_error_prefix(err, CTX "run_as_username");
                if (r == 0)
                        return ocid_error_msg(err, EINVAL, CTX "run_as_username: user '%s' not found in the container's /etc/passwd",
                                              req->username);
        } else {
                r = resolve_image_user(&pw, &gr, req->image_user, &e, &have_group, &group, err);
                if (r < 0)
                        return r;
        }

        res.uid = e.uid;
        if (!req->has_gid)
                res.gid = have_group ? group : e.gid;

        if (!req->strict_groups && e.name) {
                r = group_memberships(&gr, e.name, &res, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < req->n_groups; i++)
                gids_add(&res, (uint32_t) req->groups[i]); /* checked above */
        if (res.n_gids > USER_MAX_GROUPS)
                return ocid_error_msg(err, EINVAL, "the container's user is in more than %d groups", USER_MAX_GROUPS);

        res.home = TAKE_PTR(e.home);
        *ret = res;
        res = (struct user_result) { 0 };
        return 0;
}

void user_result_done(struct user_result *r)
{
        free(r->gids);
        free(r->home);
        *r = (struct user_result) { 0 };
}
