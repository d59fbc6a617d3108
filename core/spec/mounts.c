/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "spec/mounts.h"
#include "spec/rootfs.h"

/* Decodes the octal escapes (\040 for a space, ...) of a mountinfo field. */
static char *mountinfo_unescape(const char *s, size_t len)
{
        char *out = xmalloc(len + 1), *o = out;

        for (size_t i = 0; i < len; i++) {
                if (s[i] == '\\' && i + 4 <= len && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
                    s[i + 3] >= '0' && s[i + 3] <= '7') {
                        *o++ = (char) (((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
                        i += 3;
                } else {
                        *o++ = s[i];
                }
        }
        *o = '\0';
        return out;
}

static bool path_is_below(const char *path, const char *mount_point)
{
        size_t n = strlen(mount_point);

        if (streq(mount_point, "/"))
                return true;
        return strncmp(path, mount_point, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int mounts_propagation(const char *mountinfo_path, const char *path, unsigned *ret_flags, char **ret_mount_point,
                       struct ocid_error **err)
{
        _cleanup_free_ char *buf = NULL, *best = NULL;
        unsigned best_flags = 0;
        size_t len, pos = 0;
        int r;

        if (!mountinfo_path)
                mountinfo_path = "/proc/self/mountinfo";
        r = ocid_read_file(mountinfo_path, MOUNTINFO_MAX_SIZE, &buf, &len, err);
        if (r < 0)
                return r;

        while (pos < len) {
                char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
                const char *fields[64];
                size_t flen[64], nf = 0;
                _cleanup_free_ char *mp = NULL;
                unsigned flags = 0;
                char *p, *end;

                end = nl ? nl : buf + len;
                pos = (size_t) (end - buf) + 1;
                for (p = line; p < end && nf < ELEMENTSOF(fields);) {
                        char *sp = memchr(p, ' ', (size_t) (end - p));
                        char *fe = sp ? sp : end;
                        fields[nf] = p;
                        flen[nf++] = (size_t) (fe - p);
                        p = fe + 1;
                }
                if (nf < 7)
                        continue;
                mp = mountinfo_unescape(fields[4], flen[4]);
                if (mp[0] != '/' || !path_is_below(path, mp))
                        continue;
                for (size_t i = 6; i < nf; i++) {
                        if (flen[i] == 1 && fields[i][0] == '-')
                                break;
                        if (flen[i] > 7 && strncmp(fields[i], "shared:", 7) == 0)
                                flags |= MOUNT_PROP_SHARED;
                        else if (flen[i] > 7 && strncmp(fields[i], "master:", 7) == 0)
                                flags |= MOUNT_PROP_SLAVE;
                }
                if (!best || strlen(mp) >= strlen(best)) {
                        free(best);
                        best = TAKE_PTR(mp);
                        best_flags = flags;
                }
        }
        if (!best)
                return ocid_error_msg(err, ENOENT, "no mount holds '%s' in %s", path, mountinfo_path);
        *ret_flags = best_flags;
        if (ret_mount_point)
                *ret_mount_point = TAKE_PTR(best);
        return 0;
}

int mounts_container_path_check(const char *path, const char *field, struct ocid_error **err)
{
        size_t len = path ? strlen(path) : 0;

        if (len == 0)
                return ocid_error_msg(err, EINVAL, "%s: empty path", field);
        if (path[0] != '/')
                return ocid_error_msg(err, EINVAL, "%s: path '%s' is not absolute", field, path);
        if (len >= PATH_MAX)
                return ocid_error_msg(err, EINVAL, "%s: path is longer than %d bytes", field, PATH_MAX - 1);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) path[i];
                if (c < 0x20 || c == 0x7f)
                        return ocid_error_msg(err, EINVAL, "%s: path contains the control character 0x%02x", field, c);
        }
        return 0;
}

/* True when a path names "/" without looking at the file system
 * ("/", "//", "/.", "/tmp/.."). */
static bool lexically_root(const char *path)
{
        size_t depth = 0;

        for (const char *p = path; *p;) {
                size_t n;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        depth = depth > 0 ? depth - 1 : 0;
                else if (!(n == 1 && p[0] == '.'))
                        depth++;
                p += n;
        }
        return depth == 0;
}

int mounts_host_path(const char *host_path, const char *field, char **ret, struct ocid_error **err)
{
        _cleanup_free_ char *real = NULL;
        struct stat st;
        int r;

        r = mounts_container_path_check(host_path, field, err);
        if (r < 0)
                return r;
        if (lstat(host_path, &st) < 0) {
                if (errno == ENOENT)
                        return ocid_error_msg(err, EINVAL, "%s: '%s' does not exist on the host", field, host_path);
                return ocid_error_set(err, errno, "%s: stat '%s'", field, host_path);
        }
        real = realpath(host_path, NULL);
        if (!real) {
                if (errno == ENOENT)
                        return ocid_error_msg(err, EINVAL, "%s: '%s' is a dangling symlink on the host", field, host_path);
                return ocid_error_set(err, errno, "%s: resolve '%s'", field, host_path);
        }
        if (streq(real, "/") && !lexically_root(host_path))
                return ocid_error_msg(err, EINVAL, "%s: '%s' leads through a symlink to the host's root directory, refused",
                                      field, host_path);
        *ret = TAKE_PTR(real);
        return 0;
}

void mounts_append(struct json_object *mounts, const char *destination, const char *type, const char *source,
                   const char *const *options)
{
        struct json_object *m = json_object_new_object(), *opts;

        json_object_object_add(m, "destination", json_object_new_string(destination));
        json_object_object_add(m, "type", json_object_new_string(type));
        json_object_object_add(m, "source", json_object_new_string(source));
        opts = json_object_new_array();
        for (const char *const *o = options; o && *o; o++)
                json_object_array_add(opts, json_object_new_string(*o));
        json_object_object_add(m, "options", opts);
        json_object_array_add(mounts, m);
}

void mount_result_done(struct mount_result *r)
{
        json_object_put(r->mount);
        free(r->destination);
        free(r->source);
        *r = (struct mount_result) { 0 };
}

int mounts_from_cri(const Runtime__V1__Mount *m, size_t index, int rootfs_fd, bool privileged,
                    const char *mountinfo_path, struct mount_result *ret, struct ocid_error **err)
{
        _cleanup_(mount_result_done) struct mount_result res = { 0 };
        _cleanup_free_ char *field = xasprintf("container config: mounts[%zu]", index);
        _cleanup_free_ char *cfield = xasprintf("%s.container_path", field);
        _cleanup_free_ char *hfield = xasprintf("%s.host_path", field);
        const char *opts[16];
        size_t n = 0;
        int r;

        if (!m)
                return ocid_error_msg(err, EINVAL, "%s: empty mount", field);
        if (m->image && m->image->image && *m->image->image)
                return ocid_error_msg(err, ENOTSUP, "%s: image volumes are not supported", field);
        if (m->n_uidmappings > 0 || m->n_gidmappings > 0)
                return ocid_error_msg(err, ENOTSUP, "%s: ID-mapped mounts are not supported", field);

        r = mounts_container_path_check(m->container_path, cfield, err);
        if (r < 0)
                return r;
        r = rootfs_resolve(rootfs_fd, m->container_path, &res.destination, err);
        if (r < 0)
                return ocid_error_prefix(err, "%s", cfield);
        if (streq(res.destination, "/"))
                return ocid_error_msg(err, EINVAL, "%s: '%s' is the container's root directory", cfield,
                                      m->container_path);

        r = mounts_host_path(m->host_path, hfield, &res.source, err);
        if (r < 0)
                return r;

        opts[n++] = "rbind";
        switch (m->propagation) {
        case RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE:
                opts[n++] = "rprivate";
                res.want = MOUNT_WANT_PRIVATE;
                break;
        case RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER:
                opts[n++] = "rslave";
                res.want = MOUNT_WANT_SLAVE;
                break;
        case RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL:
                if (!privileged)
                        return ocid_error_msg(err, EINVAL, "%s.propagation: bidirectional propagation needs a privileged container",
                                              field);
                opts[n++] = "rshared";
                res.want = MOUNT_WANT_SHARED;
                break;
        default:
                return ocid_error_msg(err, EINVAL, "%s.propagation: unknown value %d", field, (int) m->propagation);
        }
        if (res.want != MOUNT_WANT_PRIVATE) {
                _cleanup_free_ char *mp = NULL;
                unsigned flags;

                r = mounts_propagation(mountinfo_path, res.source, &flags, &mp, err);
                if (r < 0)
                        return ocid_error_prefix(err, "%s.propagation", field);
                if (res.want == MOUNT_WANT_SHARED && !(flags & MOUNT_PROP_SHARED))
                        return ocid_error_msg(err, EINVAL, "%s.propagation: path '%s' is mounted on '%s' but it is not a shared mount",
                                              field, res.source, mp);
                if (res.want == MOUNT_WANT_SLAVE && !(flags & (MOUNT_PROP_SHARED | MOUNT_PROP_SLAVE)))
                        return ocid_error_msg(err, EINVAL, "%s.propagation: path '%s' is mounted on '%s' but it is not a shared or slave mount",
                                              field, res.source, mp);
        }

        opts[n++] = m->readonly ? "ro" : "rw";
        if (m->recursive_read_only) {
                if (!m->readonly)
                        return ocid_error_msg(err, EINVAL, "%s.recursive_read_only: needs readonly", field);
                if (res.want != MOUNT_WANT_PRIVATE)
                        return ocid_error_msg(err, EINVAL, "%s.recursive_read_only: needs private propagation", field);
                opts[n++] = "rro";
        }
        for (size_t i = 0; i < m->n_mount_options; i++) {
                static const char *const allowed[] = { "nosuid", "nodev", "noexec" };
                const char *o = m->mount_options[i];
                bool ok = false;

                for (size_t j = 0; j < ELEMENTSOF(allowed); j++)
                        if (o && streq(o, allowed[j])) {
                                bool dup = false;
                                for (size_t k = 0; k < n; k++)
                                        dup = dup || streq(opts[k], o);
                                if (!dup)
                                        opts[n++] = allowed[j];
                                ok = true;
                        }
                if (!ok)
                        return ocid_error_msg(err, EINVAL, "%s.mount_options: '%s' is not supported (only nosuid, nodev, noexec)",
                                              field, o ? o : "");
        }
        opts[n] = NULL;

        res.mount = json_object_new_object();
        json_object_object_add(res.mount, "destination", json_object_new_string(res.destination));
        json_object_object_add(res.mount, "type", json_object_new_string("bind"));
        json_object_object_add(res.mount, "source", json_object_new_string(res.source));
        {
                struct json_object *a = json_object_new_array();
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(a, json_object_new_string(opts[i]));
                json_object_object_add(res.mount, "options", a);
        }
        *ret = res;
        res = (struct mount_result) { 0 };
        return 0;
}
