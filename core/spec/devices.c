/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h> /* major(), minor() */

#include <json-c/json.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "spec/devices.h"
#include "spec/mounts.h"

int devices_permissions_check(const char *perms, struct ocid_error **err)
{
        bool seen[3] = { false, false, false };

        if (!perms)
                return 0;
        for (const char *p = perms; *p; p++) {
                const char *at = strchr("rwm", *p);
                size_t i;

                if (!at || !*p)
                        return ocid_error_msg(err, EINVAL, "permissions '%s': only 'r', 'w' and 'm' are allowed", perms);
                i = (size_t) (at - "rwm");
                if (seen[i])
                        return ocid_error_msg(err, EINVAL, "permissions '%s': '%c' is given twice", perms, *p);
                seen[i] = true;
        }
        return 0;
}

static struct json_object *node(const char *path, char type, unsigned maj, unsigned min, unsigned mode, unsigned uid,
                                unsigned gid)
{
        struct json_object *d = json_object_new_object();
        char t[2] = { type, '\0' };

        json_object_object_add(d, "path", json_object_new_string(path));
        json_object_object_add(d, "type", json_object_new_string(t));
        json_object_object_add(d, "major", json_object_new_int64(maj));
        json_object_object_add(d, "minor", json_object_new_int64(min));
        json_object_object_add(d, "fileMode", json_object_new_int64(mode));
        json_object_object_add(d, "uid", json_object_new_int64(uid));
        json_object_object_add(d, "gid", json_object_new_int64(gid));
        return d;
}

/* A rule; maj/min < 0 is a wildcard, type NUL means all ("a"). */
static void rule(struct json_object *rules, bool allow, char type, long maj, long min, const char *access)
{
        struct json_object *r = json_object_new_object();

        json_object_object_add(r, "allow", json_object_new_boolean(allow));
        if (type) {
                char t[2] = { type, '\0' };
                json_object_object_add(r, "type", json_object_new_string(t));
        }
        if (maj >= 0)
                json_object_object_add(r, "major", json_object_new_int64(maj));
        if (min >= 0)
                json_object_object_add(r, "minor", json_object_new_int64(min));
        json_object_object_add(r, "access", json_object_new_string(access));
        json_object_array_add(rules, r);
}

void devices_add_defaults(struct json_object *devices, struct json_object *rules)
{
        static const struct {
                const char *path;
                unsigned maj, min;
        } defaults[] = {
                { "/dev/null", 1, 3 },    { "/dev/zero", 1, 5 }, { "/dev/full", 1, 7 },
                { "/dev/random", 1, 8 },  { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 },
        };

        rule(rules, false, 0, -1, -1, "rwm");
        for (size_t i = 0; i < ELEMENTSOF(defaults); i++) {
                json_object_array_add(devices, node(defaults[i].path, 'c', defaults[i].maj, defaults[i].min, 0666, 0, 0));
                rule(rules, true, 'c', defaults[i].maj, defaults[i].min, "rwm");
        }
        rule(rules, true, 'c', 5, 2, "rwm");    /* /dev/ptmx, a link to pts/ptmx */
        rule(rules, true, 'c', 136, -1, "rwm"); /* the devpts ptys */
}

static bool skip_name(const char *rel)
{
        static const char *const skipped[] = { "pts", "shm", "mqueue", "console", "ptmx", "fd", ".lxc", ".udev" };

        for (size_t i = 0; i < ELEMENTSOF(skipped); i++)
                if (streq(rel, skipped[i]))
                        return true;
        return false;
}

static int walk(int dirfd, const char *rel, unsigned depth, size_t *count, struct json_object *devices,
                struct ocid_error **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd;

        fd = openat(dirfd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno == EACCES || errno == ENOENT)
                        return 0; /* vanished or unreadable: not a device anyone asked for */
                return ocid_error_set(err, errno, "open '%s'", rel[0] ? rel : ".");
        }
        d = fdopendir(fd);
        if (!d) {
                int e = errno;
                (void) close(fd);
                return ocid_error_set(err, e, "read directory '%s'", rel[0] ? rel : ".");
        }
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *child = NULL;
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                child = rel[0] ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
                if (depth == 0 && skip_name(de->d_name))
                        continue;
                if (fstatat(dirfd, child, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        int r;
                        if (depth + 1 >= DEVICES_HOST_DEPTH)
                                continue;
                        r = walk(dirfd, child, depth + 1, count, devices, err);
                        if (r < 0)
                                return r;
                } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
                        _cleanup_free_ char *path = xasprintf("/dev/%s", child);
                        bool bad = false;

                        for (const char *p = path; *p; p++)
                                bad = bad || (unsigned char) *p < 0x20 || *p == 0x7f;
                        if (bad)
                                continue;
                        if (++*count > DEVICES_HOST_MAX)
                                return ocid_error_msg(err, E2BIG, "more than %d device nodes on the host", DEVICES_HOST_MAX);
                        json_object_array_add(devices, node(path, S_ISCHR(st.st_mode) ? 'c' : 'b', major(st.st_rdev),
                                                            minor(st.st_rdev), st.st_mode & 07777, st.st_uid, st.st_gid));
                }
        }
        if (errno)
                return ocid_error_set(err, errno, "read directory '%s'", rel[0] ? rel : ".");
        return 0;
}

int devices_add_host(const char *dev_dir, struct json_object *devices, struct json_object *rules,
                     struct ocid_error **err)
{
        _cleanup_close_ int fd = -1;
        size_t count = 0;
        int r;

        if (!dev_dir)
                dev_dir = "/dev";
        fd = open(dev_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return ocid_error_set(err, errno, "open '%s'", dev_dir);
        r = walk(fd, "", 0, &count, devices, err);
        if (r < 0)
                return ocid_error_prefix(err, "list the host's devices in '%s'", dev_dir);
        rule(rules, true, 0, -1, -1, "rwm");
        return 0;
}

int devices_add_cri(const Runtime__V1__Device *d, size_t index, struct json_object *devices,
                    struct json_object *rules, struct ocid_error **err)
{
        _cleanup_free_ char *field = xasprintf("container config: devices[%zu]", index);
        _cleanup_free_ char *cfield = xasprintf("%s.container_path", field);
        _cleanup_free_ char *hfield = xasprintf("%s.host_path", field);
        const char *perms;
        struct stat st;
        char type;
        size_t n;
        int r;

        if (!d)
                return ocid_error_msg(err, EINVAL, "%s: empty device", field);
        r = mounts_container_path_check(d->container_path, cfield, err);
        if (r < 0)
                return r;
        r = mounts_container_path_check(d->host_path, hfield, err);
        if (r < 0)
                return r;
        perms = d->permissions && *d->permissions ? d->permissions : "rwm";
        r = devices_permissions_check(perms, err);
        if (r < 0)
                return ocid_error_prefix(err, "%s", field);
        if (stat(d->host_path, &st) < 0) {
                if (errno == ENOENT)
                        return ocid_error_msg(err, EINVAL, "%s: '%s' does not exist on the host", hfield, d->host_path);
                return ocid_error_set(err, errno, "%s: stat '%s'", hfield, d->host_path);
        }
        if (S_ISCHR(st.st_mode))
                type = 'c';
        else if (S_ISBLK(st.st_mode))
                type = 'b';
        else
                return ocid_error_msg(err, EINVAL, "%s: '%s' is not a character or block device", hfield, d->host_path);

        n = json_object_array_length(devices);
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(devices, i);
                const char *p = ocid_json_get_string(e, "path");
                if (p && streq(p, d->container_path)) {
                        json_object_array_del_idx(devices, i, 1);
                        break;
                }
        }
        json_object_array_add(devices, node(d->container_path, type, major(st.st_rdev), minor(st.st_rdev),
                                            st.st_mode & 07777, st.st_uid, st.st_gid));
        rule(rules, true, type, (long) major(st.st_rdev), (long) minor(st.st_rdev), perms);
        return 0;
}
