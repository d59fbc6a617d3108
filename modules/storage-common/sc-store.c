/* SPDX-License-Identifier: Apache-2.0 */
/* The storage modules' shared store: layout, IDs, metadata, crash-safe
 * creation and removal, references, usage. See sc-store.h. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ocid/fs.h>
#include <ocid/host.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "sc-store.h"

#define SC_TMP_PREFIX ".tmp-"

/* Logs under the module's name (this code is compiled into several). */
#define sc_log(s, level, ...) \
        ocid_log_full((level), (s)->name, __FILE__, __LINE__, __func__, __VA_ARGS__)

/* ---- IDs ------------------------------------------------------------------- */

int sc_layer_id_check(const char *id, struct ocid_error **err)
{
        size_t n = id ? strlen(id) : 0;

        if (n != 64)
                return ocid_error_msg(err, EINVAL, "invalid layer ID '%.80s': expected 64 hex digits",
                                      id ? id : "");
        for (size_t i = 0; i < n; i++)
                if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
                        return ocid_error_msg(err, EINVAL,
                                              "invalid layer ID '%.80s': expected 64 lowercase hex digits", id);
        return 0;
}

int sc_rootfs_id_check(const char *id, struct ocid_error **err)
{
        size_t n = id ? strlen(id) : 0;

        if (n == 0 || n > 128 || id[0] == '.' || id[0] == '-')
                goto bad;
        for (size_t i = 0; i < n; i++) {
                char c = id[i];

                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      c == '_' || c == '.' || c == '-'))
                        goto bad;
        }
        return 0;
bad:
        return ocid_error_msg(err, EINVAL,
                              "invalid rootfs ID '%.140s': expected 1 to 128 of [A-Za-z0-9_.-], "
                              "not starting with '.' or '-'", id ? id : "");
}

/* ---- small helpers ---------------------------------------------------------- */

static char *sc_rel(const char *area, const char *id, const char *member)
{
        if (member)
                return xasprintf("%s/%s/%s", area, id, member);
        return xasprintf("%s/%s", area, id);
}

static int sc_exists(struct sc_store *s, const char *area, const char *id)
{
        _cleanup_free_ char *rel = sc_rel(area, id, SC_META);
        struct stat st;

        return fstatat(s->dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int sc_layer_exists(struct sc_store *s, const char *id)
{
        if (sc_layer_id_check(id, NULL) < 0)
                return 0;
        return sc_exists(s, SC_LAYERS, id);
}

int sc_rootfs_exists(struct sc_store *s, const char *id)
{
        if (sc_rootfs_id_check(id, NULL) < 0)
                return 0;
        return sc_exists(s, SC_ROOTFS, id);
}

static int sc_meta(struct sc_store *s, const char *area, const char *what, const char *id,
                   struct json_object **ret, struct ocid_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/%s/%s/%s", s->dir, area, id, SC_META);
        _cleanup_json_ struct json_object *o = NULL;
        int r;

        r = ocid_json_read_file(path, SC_META_MAX, &o, err);
        if (r == -ENOENT) {
                ocid_error_clear(err);
                return ocid_error_msg(err, ENOENT, "%s '%s' does not exist", what, id);
        }
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object))
                return ocid_error_msg(err, EBADMSG, "%s '%s': '%s' is not a JSON object", what, id, path);
        *ret = TAKE_PTR(o);
        return 0;
}

int sc_layer_meta(struct sc_store *s, const char *id, struct json_object **ret, struct ocid_error **err)
{
        int r = sc_layer_id_check(id, err);

        if (r < 0)
                return r;
        return sc_meta(s, SC_LAYERS, "layer", id, ret, err);
}

int sc_rootfs_meta(struct sc_store *s, const char *id, struct json_object **ret, struct ocid_error **err)
{
        int r = sc_rootfs_id_check(id, err);

        if (r < 0)
                return r;
        return sc_meta(s, SC_ROOTFS, "rootfs", id, ret, err);
}

/* fsync of a directory below the store, after a rename in it. */
static int sc_sync_dir(struct sc_store *s, const char *area, struct ocid_error **err)
{
        _cleanup_close_ int fd = openat(s->dfd, area, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return ocid_error_set(err, errno, "sync '%s/%s'", s->dir, area);
        return 0;
}

/* ---- removal ------------------------------------------------------------------ */

/* Makes every directory below fd (consumed) writable by its owner, so that
 * an unprivileged caller can empty read-only directories a layer made. */
static void sc_make_writable(int fd)
{
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        struct dirent *de;

        if (!d) {
                (void) close(fd);
                return;
        }
        (void) fchmod(dirfd(d), 0700);
        while ((de = readdir(d))) {
                struct stat st;
                int cfd;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                (void) fchmodat(dirfd(d), de->d_name, 0700, 0);
                cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cfd >= 0)
                        sc_make_writable(cfd);
        }
}

int sc_rm_tree(const char *path, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        int r, fd;

        r = ocid_rm_rf(path, &e);
        if (r >= 0)
                return r;
        if (geteuid() == 0 || (r != -EACCES && r != -EPERM)) {
                if (err)
                        *err = TAKE_PTR(e);
                return r;
        }
        ocid_error_clear(&e);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
                sc_make_writable(fd);
        return ocid_rm_rf(path, err);
}

/* Removes every ".tmp-*" directory of area: what a crash left. */
static void sc_clean_area(struct sc_store *s, const char *area)
{
        _cleanup_free_ char *dir = ocid_path_join(s->dir, area);
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_error_ struct ocid_error *e = NULL;
                _cleanup_free_ char *path = NULL;

                if (!ocid_startswith(de->d_name, SC_TMP_PREFIX))
                        continue;
                path = ocid_path_join(dir, de->d_name);
                if (sc_rm_tree(path, &e) < 0)
                        sc_log(s, OCID_LOG_WARNING, "remove leftover '%s': %s, ignoring", path,
                                 ocid_error_message(&e));
                else
                        sc_log(s, OCID_LOG_INFO, "removed '%s', left over from an interrupted operation",
                                 path);
        }
}

/* ---- open / close ------------------------------------------------------------- */

int sc_store_open(struct sc_store *s, const char *name, struct ocid_error **err)
{
        static const char *const areas[] = { SC_LAYERS, SC_ROOTFS };
        int r;

        memset(s, 0, sizeof(*s));
        s->dfd = -1;
        pthread_mutex_init(&s->lock, NULL);
        s->name = xstrdup(name);
        s->dir = ocid_path_join(ocid_host_root(), name);
        r = ocid_mkdir_p(s->dir, 0700, err);
        if (r < 0)
                return r;
        if (chmod(s->dir, 0700) < 0)
                return ocid_error_set(err, errno, "chmod '%s'", s->dir);
        s->dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->dfd < 0)
                return ocid_error_set(err, errno, "open '%s'", s->dir);
        for (size_t i = 0; i < ELEMENTSOF(areas); i++) {
                if (mkdirat(s->dfd, areas[i], 0700) < 0 && errno != EEXIST)
                        return ocid_error_set(err, errno, "create '%s/%s'", s->dir, areas[i]);
                sc_clean_area(s, areas[i]);
        }
        return 0;
}

void sc_store_close(struct sc_store *s)
{
        if (s->dfd >= 0)
                (void) close(s->dfd);
        s->dfd = -1;
        pthread_mutex_destroy(&s->lock);
        ocid_strv_free(s->pins);
        ocid_strv_free(s->mountpoints);
        free(s->name);
        free(s->dir);
        s->pins = s->mountpoints = NULL;
        s->name = s->dir = NULL;
}

/* ---- pins ------------------------------------------------------------------------- */

/* Called with the lock held. */
static void sc_pin_locked(struct sc_store *s, const char *id)
{
        ocid_strv_push(&s->pins, id);
}

static void sc_unpin_locked(struct sc_store *s, const char *id)
{
        size_t n = ocid_strv_length(s->pins);

        for (size_t i = 0; i < n; i++)
                if (streq(s->pins[i], id)) {
                        free(s->pins[i]);
                        memmove(s->pins + i, s->pins + i + 1, (n - i) * sizeof(char *));
                        return;
                }
}

/* ---- creation --------------------------------------------------------------------- */

static void sc_txn_done(struct sc_txn *t)
{
        if (t->tmp_fd >= 0)
                (void) close(t->tmp_fd);
        t->tmp_fd = -1;
        free(t->id);
        free(t->base);
        free(t->tmp_name);
        free(t->tmp_path);
        json_object_put(t->meta);
        t->id = t->base = t->tmp_name = t->tmp_path = NULL;
        t->meta = NULL;
}

static int sc_begin(struct sc_store *s, const char *area, const char *what, const char *id,
                    const char *base, const char *base_key, struct sc_txn *t, struct ocid_error **err)
{
        int r = 0;

        memset(t, 0, sizeof(*t));
        t->tmp_fd = -1;
        pthread_mutex_lock(&s->lock);
        if (sc_exists(s, area, id))
                r = ocid_error_msg(err, EEXIST, "%s '%s' already exists", what, id);
        else if (base && !sc_exists(s, SC_LAYERS, base))
                r = ocid_error_msg(err, ENOENT, "layer '%s' does not exist", base);
        else if (base)
                sc_pin_locked(s, base);
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                return r;

        t->area = area;
        t->id = xstrdup(id);
        t->base = xstrdup(base);
        t->tmp_path = xasprintf("%s/%s/" SC_TMP_PREFIX "%s-XXXXXX", s->dir, area, id);
        if (!mkdtemp(t->tmp_path)) {
                r = ocid_error_set(err, errno, "create a directory in '%s/%s'", s->dir, area);
                sc_abort(s, t);
                return r;
        }
        t->tmp_name = xstrdup(strrchr(t->tmp_path, '/') + 1);
        t->tmp_fd = open(t->tmp_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (t->tmp_fd < 0) {
                r = ocid_error_set(err, errno, "open '%s'", t->tmp_path);
                sc_abort(s, t);
                return r;
        }
        t->meta = json_object_new_object();
        json_object_object_add(t->meta, "id", json_object_new_string(id));
        json_object_object_add(t->meta, base_key, base ? json_object_new_string(base) : NULL);
        json_object_object_add(t->meta, "created", json_object_new_int64((int64_t) time(NULL)));
        return 0;
}

int sc_layer_begin(struct sc_store *s, const char *id, const char *parent, struct sc_txn *t,
                   struct ocid_error **err)
{
        int r;

        r = sc_layer_id_check(id, err);
        if (r < 0)
                return r;
        if (parent) {
                r = sc_layer_id_check(parent, err);
                if (r < 0)
                        return ocid_error_prefix(err, "parent");
                if (streq(parent, id))
                        return ocid_error_msg(err, EINVAL, "layer '%s' cannot be its own parent", id);
        }
        return sc_begin(s, SC_LAYERS, "layer", id, parent, "parent", t, err);
}

int sc_rootfs_begin(struct sc_store *s, const char *id, const char *top, struct sc_txn *t,
                    struct ocid_error **err)
{
        int r;

        r = sc_rootfs_id_check(id, err);
        if (r < 0)
                return r;
        if (top) {
                r = sc_layer_id_check(top, err);
                if (r < 0)
                        return r;
        }
        return sc_begin(s, SC_ROOTFS, "rootfs", id, top, "top", t, err);
}

void sc_abort(struct sc_store *s, struct sc_txn *t)
{
        if (t->tmp_path && t->tmp_name) {
                _cleanup_error_ struct ocid_error *e = NULL;

                if (t->tmp_fd >= 0)
                        (void) close(t->tmp_fd);
                t->tmp_fd = -1;
                if (sc_rm_tree(t->tmp_path, &e) < 0)
                        sc_log(s, OCID_LOG_WARNING, "remove '%s': %s, ignoring", t->tmp_path,
                                 ocid_error_message(&e));
        }
        if (t->base) {
                pthread_mutex_lock(&s->lock);
                sc_unpin_locked(s, t->base);
                pthread_mutex_unlock(&s->lock);
        }
        sc_txn_done(t);
}

int sc_commit(struct sc_store *s, struct sc_txn *t, struct ocid_error **err)
{
        _cleanup_free_ char *meta_path = ocid_path_join(t->tmp_path, SC_META);
        _cleanup_free_ char *from = xasprintf("%s/%s", t->area, t->tmp_name);
        _cleanup_free_ char *to = xasprintf("%s/%s", t->area, t->id);
        const char *what = streq(t->area, SC_LAYERS) ? "layer" : "rootfs";
        int r = 0;

        r = ocid_json_write_file_atomic(meta_path, t->meta, 0600, err);
        if (r < 0)
                goto fail;
        /* Everything below the temporary directory reaches the disk before
         * the rename makes it visible. */
        if (syncfs(t->tmp_fd) < 0) {
                r = ocid_error_set(err, errno, "sync '%s'", t->tmp_path);
                goto fail;
        }
        pthread_mutex_lock(&s->lock);
        if (renameat(s->dfd, from, s->dfd, to) < 0) {
                if (errno == EEXIST || errno == ENOTEMPTY)
                        r = ocid_error_msg(err, EEXIST, "%s '%s' already exists", what, t->id);
                else
                        r = ocid_error_set(err, errno, "rename '%s/%s' to '%s'", s->dir, from, to);
        }
        if (r == 0 && t->base)
                sc_unpin_locked(s, t->base);
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                goto fail;
        free(t->base);
        t->base = NULL;
        r = sc_sync_dir(s, t->area, err);
        sc_txn_done(t);
        return r;
fail:
        sc_abort(s, t);
        return r;
}

/* ---- removal of layers and rootfs ----------------------------------------------- */

/* The first entry of area (other than temporaries) whose metadata has
 * key == id; NULL when none. Called with the lock held. */
static char *sc_find_user_locked(struct sc_store *s, const char *area, const char *key, const char *id)
{
        _cleanup_free_ char *dir = ocid_path_join(s->dir, area);
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return NULL;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                _cleanup_json_ struct json_object *o = NULL;
                _cleanup_error_ struct ocid_error *e = NULL;
                const char *v;

                if (de->d_name[0] == '.')
                        continue;
                path = xasprintf("%s/%s/%s", dir, de->d_name, SC_META);
                if (ocid_json_read_file(path, SC_META_MAX, &o, &e) < 0)
                        continue;
                v = ocid_json_get_string(o, key);
                if (v && streq(v, id))
                        return xstrdup(de->d_name);
        }
        return NULL;
}

/* Renames area/id to a temporary name, so that it is gone for every other
 * call, then removes that. What cannot be removed stays as a temporary
 * directory for the next start to remove: the rename was the removal. */
static int sc_remove_renamed(struct sc_store *s, const char *area, const char *what, const char *id,
                             bool locked, struct ocid_error **err)
{
        _cleanup_free_ char *from = xasprintf("%s/%s", area, id);
        _cleanup_free_ char *to = NULL, *path = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        char rnd[65];
        int r;

        r = ocid_random_id(rnd, err);
        if (r < 0)
                return r;
        rnd[12] = '\0';
        to = xasprintf("%s/" SC_TMP_PREFIX "%s-rm-%s", area, id, rnd);
        if (renameat(s->dfd, from, s->dfd, to) < 0) {
                if (errno == ENOENT)
                        return ocid_error_msg(err, ENOENT, "%s '%s' does not exist", what, id);
                return ocid_error_set(err, errno, "rename '%s/%s'", s->dir, from);
        }
        if (locked)
                pthread_mutex_unlock(&s->lock);
        (void) sc_sync_dir(s, area, NULL);
        path = ocid_path_join(s->dir, to);
        if (sc_rm_tree(path, &e) < 0)
                sc_log(s, OCID_LOG_WARNING, "%s '%s' removed, but not all of '%s': %s, ignoring", what, id,
                         path, ocid_error_message(&e));
        if (locked)
                pthread_mutex_lock(&s->lock);
        return 0;
}

int sc_layer_remove(struct sc_store *s, const char *id, struct json_object **ret_meta,
                    struct ocid_error **err)
{
        _cleanup_json_ struct json_object *meta = NULL;
        _cleanup_free_ char *user = NULL;
        int r;

        r = sc_layer_id_check(id, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->lock);
        r = sc_meta(s, SC_LAYERS, "layer", id, &meta, err);
        if (r < 0)
                goto out;
        if (ocid_strv_contains(s->pins, id)) {
                r = ocid_error_msg(err, EBUSY, "layer '%s' is in use: a layer or rootfs is being created on it",
                                   id);
                goto out;
        }
        user = sc_find_user_locked(s, SC_LAYERS, "parent", id);
        if (user) {
                r = ocid_error_msg(err, EBUSY, "layer '%s' is in use: it is the parent of layer '%s'", id, user);
                goto out;
        }
        user = sc_find_user_locked(s, SC_ROOTFS, "top", id);
        if (user) {
                r = ocid_error_msg(err, EBUSY, "layer '%s' is in use by rootfs '%s'", id, user);
                goto out;
        }
        r = sc_remove_renamed(s, SC_LAYERS, "layer", id, true, err);
out:
        pthread_mutex_unlock(&s->lock);
        if (r >= 0 && ret_meta)
                *ret_meta = TAKE_PTR(meta);
        return r;
}

int sc_rootfs_remove(struct sc_store *s, const char *id, struct ocid_error **err)
{
        int r;

        r = sc_rootfs_id_check(id, err);
        if (r < 0)
                return r;
        return sc_remove_renamed(s, SC_ROOTFS, "rootfs", id, false, err);
}

/* ---- misc ------------------------------------------------------------------------------ */

int sc_drain(int fd, struct ocid_error **err)
{
        char buf[65536];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));

                if (n == 0)
                        return 0;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return ocid_error_set(err, errno, "read the rest of the layer stream");
                }
        }
}
