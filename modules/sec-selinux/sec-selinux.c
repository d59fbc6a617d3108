/* SPDX-License-Identifier: Apache-2.0 */
/* sec-selinux: SELinux labels for pods and containers (libselinux). Each pod
 * gets an MCS level of its own ("s0:cX,cY", or the level it asked for),
 * reserved while it exists and recorded under <root>/sec-selinux so that a
 * restarted daemon keeps it; its containers run with a process label and
 * mount their volumes with a mount label built from the host's container
 * contexts (lxc_contexts), the SELinux options of the CRI and that level.
 * Volumes that ask for it are relabelled, system directories never. On a
 * host without SELinux (or with `enabled = "false"`) everything is a no-op
 * and info says why. docs/security.md describes the behaviour. */

#define OCID_LOG_CATEGORY "sec-selinux"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <search.h>               /* tsearch() */
#include <selinux/context.h>      /* context_new() */
#include <selinux/selinux.h>      /* is_selinux_enabled(), lsetfilecon() */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>           /* getrandom() */
#include <sys/stat.h>

#include <ocid/fs.h>
#include <ocid/host.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

#define SEL_NAME "sec-selinux"
#define SEL_DEFAULT_RANGE "c0.c1023"
#define SEL_CATEGORY_MAX 1023u          /* the categories a stock policy defines: c0..c1023 */
#define SEL_RECORD_MAX (64 * 1024)
#define SEL_LABEL_PART_MAX 255

#define SEL_ENABLED_AUTO  0
#define SEL_ENABLED_TRUE  1
#define SEL_ENABLED_FALSE 2

struct sel_config {
        int enabled;            /* SEL_ENABLED_* */
        uint32_t cat_lo, cat_hi;
        char *range;            /* as configured, for info */
};

/* A pod's reservation. */
struct sel_pod {
        char *pod_id;
        char *level;
};

struct sel_state {
        struct sel_config cfg;
        int enabled;            /* labels are applied */
        const char *mode;       /* "enforcing", "permissive" or "unknown" when the host has SELinux */
        char *reason;           /* why not, when not enabled */
        char *process_context;  /* the container defaults from lxc_contexts */
        char *file_context;
        char *dir;              /* <root>/sec-selinux: one record per pod */
        pthread_mutex_t lock;   /* the trees below and the records */
        void *by_level;         /* struct sel_pod by level */
        void *by_pod;           /* the same by pod ID */
        size_t n_pods;
        int warned_disabled;    /* the one log line of a host without SELinux */
};

static const char *const sel_keys[] = { "enabled", "mcs_range", NULL };

static void sel_config_done(struct sel_config *c)
{
        free(c->range);
}

/* "cA.cB" with A < B <= 1023. */
static int sel_parse_range(const char *s, uint32_t *ret_lo, uint32_t *ret_hi)
{
        _cleanup_free_ char *copy = xstrdup(s);
        char *dot = strchr(copy, '.');
        uint64_t lo, hi;

        if (!dot || copy[0] != 'c' || dot[1] != 'c')
                return -EINVAL;
        *dot = '\0';
        if (ocid_parse_uint64(copy + 1, &lo) < 0 || ocid_parse_uint64(dot + 2, &hi) < 0)
                return -EINVAL;
        if (lo >= hi || hi > SEL_CATEGORY_MAX)
                return -ERANGE;
        *ret_lo = (uint32_t) lo;
        *ret_hi = (uint32_t) hi;
        return 0;
}

static int sel_parse(const config_setting_t *cfg, struct sel_config *c, struct ocid_error **err)
{
        _cleanup_free_ char *enabled = xstrdup("auto");
        int r;

        c->enabled = SEL_ENABLED_AUTO;
        c->range = xstrdup(SEL_DEFAULT_RANGE);
        r = ocid_setting_check_keys(cfg, sel_keys, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_string(cfg, "enabled", &enabled, err);
        if (r < 0)
                return r;
        if (streq(enabled, "auto"))
                c->enabled = SEL_ENABLED_AUTO;
        else if (streq(enabled, "true"))
                c->enabled = SEL_ENABLED_TRUE;
        else if (streq(enabled, "false"))
                c->enabled = SEL_ENABLED_FALSE;
        else
                return ocid_setting_error(config_setting_get_member(cfg, "enabled"), err,
                                          "'%s' is not one of \"auto\", \"true\", \"false\"", enabled);
        r = ocid_setting_get_string(cfg, "mcs_range", &c->range, err);
        if (r < 0)
                return r;
        r = sel_parse_range(c->range, &c->cat_lo, &c->cat_hi);
        if (r < 0)
                return ocid_setting_error(config_setting_get_member(cfg, "mcs_range"), err,
                                          "'%s' is not a range of at least two categories within c0.c%u, as \"c0.c1023\"",
                                          c->range, SEL_CATEGORY_MAX);
        return 0;
}

/* ---- labels ---- */

/* A user, role or type of the CRI: an identifier. */
static int sel_check_name(const char *what, const char *v, struct ocid_error **err)
{
        if (!*v || strlen(v) > SEL_LABEL_PART_MAX)
                return ocid_error_msg(err, EINVAL, "SELinux %s '%s' is empty or too long", what, v);
        for (const char *p = v; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *p))
                        return ocid_error_msg(err, EINVAL, "SELinux %s '%s' holds a character other than letters, digits, '_', '.', '-'",
                                              what, v);
        return 0;
}

/* A level ("s0", "s0:c1,c2", "s0-s0:c0.c1023"): the characters of one. */
static int sel_check_level(const char *v, struct ocid_error **err)
{
        if (!*v || strlen(v) > SEL_LABEL_PART_MAX)
                return ocid_error_msg(err, EINVAL, "SELinux level '%s' is empty or too long", v);
        if (v[0] != 's')
                return ocid_error_msg(err, EINVAL, "SELinux level '%s' does not start with a sensitivity (s0)", v);
        for (const char *p = v; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,:-", *p))
                        return ocid_error_msg(err, EINVAL, "SELinux level '%s' holds a character that no level has", v);
        return 0;
}

static int sel_check_options(const char *user, const char *role, const char *type, const char *level,
                             struct ocid_error **err)
{
        int r = 0;

        if (user)
                r = sel_check_name("user", user, err);
        if (r >= 0 && role)
                r = sel_check_name("role", role, err);
        if (r >= 0 && type)
                r = sel_check_name("type", type, err);
        if (r >= 0 && level)
                r = sel_check_level(level, err);
        return r;
}

/* base with the parts that are not NULL replaced; the result is checked
 * against the loaded policy. */
static int sel_make_label(const char *base, const char *user, const char *role, const char *type,
                          const char *level, char **ret, struct ocid_error **err)
{
        context_t c = context_new(base);
        char *s;
        int r = 0;

        if (!c)
                return ocid_error_set(err, errno ? errno : EINVAL, "parse SELinux context '%s'", base);
        if ((user && context_user_set(c, user)) || (role && context_role_set(c, role)) ||
            (type && context_type_set(c, type)) || (level && context_range_set(c, level)))
                r = ocid_error_set(err, errno ? errno : EINVAL, "build an SELinux label from '%s'", base);
        else if (!(s = context_str(c)))
                r = ocid_error_set(err, errno ? errno : EINVAL, "build an SELinux label from '%s'", base);
        else if (security_check_context(s) < 0)
                r = ocid_error_msg(err, EINVAL, "SELinux label '%s' is not valid in the loaded policy", s);
        else
                *ret = xstrdup(s);
        context_free(c);
        return r;
}

/* The process and mount labels of a pod or container at level. The user
 * applies to both, role and type to the process only (files keep the
 * container file type). */
static int sel_make_labels(struct sel_state *s, const char *user, const char *role, const char *type,
                           const char *level, char **ret_process, char **ret_mount, struct ocid_error **err)
{
        _cleanup_free_ char *p = NULL, *m = NULL;
        int r;

        r = sel_make_label(s->process_context, user, role, type, level, &p, err);
        if (r < 0)
                return r;
        r = sel_make_label(s->file_context, user, NULL, NULL, level, &m, err);
        if (r < 0)
                return r;
        *ret_process = TAKE_PTR(p);
        *ret_mount = TAKE_PTR(m);
        return 0;
}

/* Reads `process` and `file` from the policy's lxc_contexts, lines of
 * `key = "value"` (quotes optional) and `#` comments. */
static int sel_read_contexts(struct sel_state *s, struct ocid_error **err)
{
        const char *path = selinux_lxc_contexts_path();
        _cleanup_free_ char *text = NULL;
        char *save = NULL;
        int r;

        if (!path)
                return ocid_error_msg(err, ENOENT, "the SELinux policy names no container contexts file (lxc_contexts)");
        r = ocid_read_file(path, SEL_RECORD_MAX, &text, NULL, err);
        if (r < 0)
                return ocid_error_prefix(err, "SELinux container contexts");
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq, *key, *value, *end;

                line += strspn(line, " \t");
                if (*line == '#' || !*line)
                        continue;
                eq = strchr(line, '=');
                if (!eq)
                        continue;
                *eq = '\0';
                key = line;
                for (end = eq; end > key && strchr(" \t", end[-1]); end--)
                        end[-1] = '\0';
                value = eq + 1 + strspn(eq + 1, " \t");
                end = value + strlen(value);
                while (end > value && strchr(" \t\r", end[-1]))
                        *--end = '\0';
                if (end - value >= 2 && value[0] == '"' && end[-1] == '"') {
                        end[-1] = '\0';
                        value++;
                }
                if (streq(key, "process") && !s->process_context)
                        s->process_context = xstrdup(value);
                else if (streq(key, "file") && !s->file_context)
                        s->file_context = xstrdup(value);
        }
        if (!s->process_context || !s->file_context)
                return ocid_error_msg(err, EINVAL, "SELinux container contexts '%s' lack the %s entry", path,
                                      s->process_context ? "file" : "process");
        return 0;
}

/* ---- the MCS level reservations ---- */

static int sel_cmp_level(const void *a, const void *b)
{
        return strcmp(((const struct sel_pod *) a)->level, ((const struct sel_pod *) b)->level);
}

static int sel_cmp_pod(const void *a, const void *b)
{
        return strcmp(((const struct sel_pod *) a)->pod_id, ((const struct sel_pod *) b)->pod_id);
}

static struct sel_pod *sel_pod_free(struct sel_pod *p)
{
        if (p) {
                free(p->pod_id);
                free(p->level);
                free(p);
        }
        return NULL;
}

static void sel_pod_freev(void *p)
{
        sel_pod_free(p);
}

static void sel_noop(void *p)
{
}

static struct sel_pod *sel_find_level(struct sel_state *s, const char *level)
{
        struct sel_pod key = { .level = (char *) level };
        void *n = tfind(&key, &s->by_level, sel_cmp_level);

        return n ? *(struct sel_pod **) n : NULL;
}

static struct sel_pod *sel_find_pod(struct sel_state *s, const char *pod_id)
{
        struct sel_pod key = { .pod_id = (char *) pod_id };
        void *n = tfind(&key, &s->by_pod, sel_cmp_pod);

        return n ? *(struct sel_pod **) n : NULL;
}

/* Takes p into both trees; its level and pod are not held yet. */
static void sel_hold(struct sel_state *s, struct sel_pod *p)
{
        if (!tsearch(p, &s->by_level, sel_cmp_level) || !tsearch(p, &s->by_pod, sel_cmp_pod))
                abort();        /* tsearch fails only without memory */
        s->n_pods++;
}

static void sel_release(struct sel_state *s, struct sel_pod *p)
{
        (void) tdelete(p, &s->by_level, sel_cmp_level);
        (void) tdelete(p, &s->by_pod, sel_cmp_pod);
        s->n_pods--;
        sel_pod_free(p);
}

/* The level of pair number idx of the range: the pairs (i, j), i < j, in
 * order (c0,c1), (c0,c2), ... (c0,cN), (c1,c2), ... */
static char *sel_pair_level(const struct sel_config *c, uint64_t idx)
{
        uint64_t n = c->cat_hi - c->cat_lo + 1, i = 0;

        while (idx >= n - 1 - i) {
                idx -= n - 1 - i;
                i++;
        }
        return xasprintf("s0:c%" PRIu64 ",c%" PRIu64, c->cat_lo + i, c->cat_lo + i + 1 + idx);
}

/* A free level of the range: a random pair, or the next free one after
 * it. With every pair held: -ENOSPC. */
static int sel_allocate(struct sel_state *s, char **ret, struct ocid_error **err)
{
        uint64_t n = s->cfg.cat_hi - s->cfg.cat_lo + 1, pairs = n * (n - 1) / 2, start;

        if (getrandom(&start, sizeof(start), 0) != (ssize_t) sizeof(start))
                return ocid_error_set(err, errno ? errno : EIO, "get random bytes for an MCS level");
        start %= pairs;
        for (uint64_t k = 0; k < pairs; k++) {
                _cleanup_free_ char *level = sel_pair_level(&s->cfg, (start + k) % pairs);

                if (!sel_find_level(s, level)) {
                        *ret = TAKE_PTR(level);
                        return 0;
                }
        }
        return ocid_error_msg(err, ENOSPC, "every MCS level of the range %s is held (%" PRIu64 " pairs of categories)",
                              s->cfg.range, pairs);
}

static char *sel_record_path(struct sel_state *s, const char *pod_id)
{
        _cleanup_free_ char *name = xasprintf("%s.json", pod_id);

        return ocid_path_join(s->dir, name);
}

static int sel_record_write(struct sel_state *s, const struct sel_pod *p, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_free_ char *path = sel_record_path(s, p->pod_id);

        json_object_object_add(o, "pod_id", json_object_new_string(p->pod_id));
        json_object_object_add(o, "level", json_object_new_string(p->level));
        return ocid_json_write_file_atomic(path, o, 0600, err);
}

/* One record: the pod it names must be its file's name and its level must
 * be free. */
static int sel_record_load(struct sel_state *s, const char *name, struct ocid_error **err)
{
        _cleanup_free_ char *path = ocid_path_join(s->dir, name);
        _cleanup_free_ char *pod_id = xstrndup(name, strlen(name) - strlen(".json"));
        _cleanup_json_ struct json_object *o = NULL;
        const char *id, *level;
        struct sel_pod *p, *holder;
        int r;

        r = ocid_json_read_file(path, SEL_RECORD_MAX, &o, err);
        if (r < 0)
                return r;
        id = ocid_json_get_string(o, "pod_id");
        level = ocid_json_get_string(o, "level");
        if (!id || !streq(id, pod_id))
                return ocid_error_msg(err, EINVAL, "record '%s' does not name pod '%s'", path, pod_id);
        if (!level)
                return ocid_error_msg(err, EINVAL, "record '%s' has no level", path);
        r = sel_check_level(level, err);
        if (r < 0)
                return ocid_error_prefix(err, "record '%s'", path);
        holder = sel_find_level(s, level);
        if (holder)
                return ocid_error_msg(err, EEXIST, "record '%s': level '%s' is held by pod '%s' already", path, level,
                                      holder->pod_id);
        p = xzalloc(sizeof(*p));
        p->pod_id = TAKE_PTR(pod_id);
        p->level = xstrdup(level);
        sel_hold(s, p);
        return 0;
}

/* Re-reserves the level of every pod recorded under <root>/sec-selinux. A
 * record that cannot be taken is reported and left where it is. */
static int sel_records_restore(struct sel_state *s, struct ocid_error **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        d = opendir(s->dir);
        if (!d)
                return ocid_error_set(err, errno, "open '%s'", s->dir);
        while ((errno = 0, de = readdir(d))) {
                _cleanup_error_ struct ocid_error *e = NULL;
                size_t len = strlen(de->d_name);

                if (de->d_name[0] == '.' || len <= 5 || !ocid_endswith(de->d_name, ".json"))
                        continue;
                if (sel_record_load(s, de->d_name, &e) < 0)
                        ocid_log(OCID_LOG_WARNING, "%s, ignoring", e->message);
        }
        if (errno)
                return ocid_error_set(err, errno, "read '%s'", s->dir);
        if (s->n_pods > 0)
                ocid_log(OCID_LOG_INFO, "re-reserved the SELinux levels of %zu pods", s->n_pods);
        return 0;
}

/* Logs, once per module life, that SELinux options are not applied. */
static void sel_note_disabled(struct sel_state *s, const char *what)
{
        if (!__atomic_exchange_n(&s->warned_disabled, 1, __ATOMIC_ACQ_REL))
                ocid_log(OCID_LOG_INFO, "%s asked for SELinux options or a relabel; none are applied: %s", what,
                         s->reason);
}

static bool sel_any(const char *a, const char *b, const char *c, const char *d)
{
        return a || b || c || d;
}

static int sel_pod_create(void *state, const struct ocid_security_pod *pod, char **ret_process_label,
                          char **ret_mount_label, struct ocid_error **err)
{
        struct sel_state *s = state;
        _cleanup_free_ char *level = NULL, *pl = NULL, *ml = NULL;
        struct sel_pod *p, *holder;
        int r;

        if (!s->enabled) {
                if (sel_any(pod->selinux_user, pod->selinux_role, pod->selinux_type, pod->selinux_level))
                        sel_note_disabled(s, "a pod");
                return 0;
        }
        r = ocid_path_component_check(pod->pod_id, err);
        if (r < 0)
                return r;
        r = sel_check_options(pod->selinux_user, pod->selinux_role, pod->selinux_type, pod->selinux_level, err);
        if (r < 0)
                return r;

        pthread_mutex_lock(&s->lock);
        p = sel_find_pod(s, pod->pod_id);
        if (p) {
                /* a restored pod, or the same pod asked twice: its level */
                if (pod->selinux_level && !streq(pod->selinux_level, p->level))
                        r = ocid_error_msg(err, EEXIST, "pod '%s' holds SELinux level '%s', not '%s'", pod->pod_id,
                                           p->level, pod->selinux_level);
                else
                        level = xstrdup(p->level);
                pthread_mutex_unlock(&s->lock);
                if (r < 0)
                        return r;
                r = sel_make_labels(s, pod->selinux_user, pod->selinux_role, pod->selinux_type, level, &pl, &ml, err);
                if (r < 0)
                        return r;
                *ret_process_label = TAKE_PTR(pl);
                *ret_mount_label = TAKE_PTR(ml);
                return 0;
        }

        if (pod->selinux_level) {
                holder = sel_find_level(s, pod->selinux_level);
                if (holder)
                        r = ocid_error_msg(err, EEXIST, "SELinux level '%s' is held by pod '%s'", pod->selinux_level,
                                           holder->pod_id);
                else
                        level = xstrdup(pod->selinux_level);
        } else
                r = sel_allocate(s, &level, err);
        if (r >= 0)
                r = sel_make_labels(s, pod->selinux_user, pod->selinux_role, pod->selinux_type, level, &pl, &ml, err);
        if (r >= 0) {
                p = xzalloc(sizeof(*p));
                p->pod_id = xstrdup(pod->pod_id);
                p->level = TAKE_PTR(level);
                r = sel_record_write(s, p, err);
                if (r >= 0) {
                        sel_hold(s, p);
                        ocid_log(OCID_LOG_DEBUG, "pod '%s': SELinux level '%s'", p->pod_id, p->level);
                } else
                        sel_pod_free(p);
        }
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                return r;
        *ret_process_label = TAKE_PTR(pl);
        *ret_mount_label = TAKE_PTR(ml);
        return 0;
}

static int sel_pod_remove(void *state, const char *pod_id, struct ocid_error **err)
{
        struct sel_state *s = state;
        _cleanup_free_ char *path = NULL;
        struct sel_pod *p;
        int r = 0;

        if (!s->enabled)
                return 0;
        r = ocid_path_component_check(pod_id, err);
        if (r < 0)
                return r;
        path = sel_record_path(s, pod_id);
        pthread_mutex_lock(&s->lock);
        p = sel_find_pod(s, pod_id);
        if (p) {
                /* the record goes first: a level that is still recorded is
                 * still held after a restart */
                if (unlink(path) < 0 && errno != ENOENT)
                        r = ocid_error_set(err, errno, "remove '%s'", path);
                else
                        sel_release(s, p);
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

/* ---- relabelling ---- */

/* Directories that are never relabelled: the system's own, whether named
 * directly or through a symlink; below the ones in sel_system_trees nothing
 * is. */
static const char *const sel_system_paths[] = {
        "/", "/bin", "/boot", "/dev", "/etc", "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/selinux",
        "/etc/pki", "/home", "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp",
        "/usr", "/var", "/var/lib", "/var/log", "/var/tmp", "/var/run", NULL,
};
static const char *const sel_system_trees[] = { "/usr", "/boot", "/dev", "/proc", "/sys", NULL };

static bool sel_is_system_path(const char *path)
{
        for (size_t i = 0; sel_system_paths[i]; i++)
                if (streq(path, sel_system_paths[i]))
                        return true;
        /* /lib, /lib32, /lib64, /libx32, ... */
        if (ocid_startswith(path, "/lib") && !strchr(path + 1, '/'))
                return true;
        for (size_t i = 0; sel_system_trees[i]; i++) {
                const char *rest = ocid_startswith(path, sel_system_trees[i]);

                if (rest && rest[0] == '/')
                        return true;
        }
        /* the daemon's own state */
        return streq(path, ocid_host_root()) || streq(path, ocid_host_runroot());
}

/* path with repeated and trailing slashes dropped (no other change). */
static char *sel_path_tidy(const char *path)
{
        char *t = xmalloc(strlen(path) + 1), *o = t;

        for (const char *p = path; *p; p++)
                if (!(*p == '/' && (p[1] == '/' || (p[1] == '\0' && o > t))))
                        *o++ = *p;
        *o = '\0';
        return t;
}

/* Labels dir_path (open as dfd) and everything below it on the same
 * filesystem, never following a symlink. */
static int sel_relabel_tree(const char *path, int dfd, dev_t dev, const char *label, struct ocid_error **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        d = fdopendir(dfd);
        if (!d) {
                int e = errno;

                close(dfd);
                return ocid_error_set(err, e, "open directory '%s'", path);
        }
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *child = NULL;
                struct stat st;
                int r;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                child = ocid_path_join(path, de->d_name);
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;       /* gone meanwhile */
                        return ocid_error_set(err, errno, "stat '%s'", child);
                }
                if (st.st_dev != dev)
                        continue;               /* a mount point: not ours to label */
                if (lsetfilecon(child, label) < 0)
                        return ocid_error_set(err, errno, "label '%s' as '%s'", child, label);
                if (S_ISDIR(st.st_mode)) {
                        int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                        if (fd < 0)
                                return ocid_error_set(err, errno, "open '%s'", child);
                        r = sel_relabel_tree(child, fd, dev, label, err);
                        if (r < 0)
                                return r;
                }
        }
        if (errno)
                return ocid_error_set(err, errno, "read directory '%s'", path);
        return 0;
}

/* Relabels a volume the pod asked to relabel, refusing system paths. */
static int sel_relabel(const char *path, const char *label, struct ocid_error **err)
{
        _cleanup_free_ char *tidy = NULL, *real = NULL;
        struct stat st;
        int fd;

        if (path[0] != '/')
                return ocid_error_msg(err, EINVAL, "refusing to relabel '%s': not an absolute path", path);
        tidy = sel_path_tidy(path);
        if (sel_is_system_path(tidy))
                return ocid_error_msg(err, EPERM, "refusing to relabel '%s': a system directory", path);
        real = realpath(path, NULL);
        if (!real)
                return ocid_error_set(err, errno, "relabel '%s'", path);
        if (sel_is_system_path(real))
                return ocid_error_msg(err, EPERM, "refusing to relabel '%s': it resolves to the system directory '%s'",
                                      path, real);
        if (lstat(real, &st) < 0)
                return ocid_error_set(err, errno, "stat '%s'", real);
        if (lsetfilecon(real, label) < 0)
                return ocid_error_set(err, errno, "label '%s' as '%s'", real, label);
        if (!S_ISDIR(st.st_mode))
                return 0;
        fd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return ocid_error_set(err, errno, "open '%s'", real);
        return sel_relabel_tree(real, fd, st.st_dev, label, err);
}

/* ---- the container ---- */

static int sel_apply(void *state, struct ocid_security_request *req, struct json_object *spec,
                     struct ocid_error **err)
{
        struct sel_state *s = state;
        _cleanup_free_ char *level = NULL, *pl = NULL, *ml = NULL;
        struct json_object *process, *linux_;
        struct sel_pod *p;
        bool explicit = sel_any(req->selinux_user, req->selinux_role, req->selinux_type, req->selinux_level);
        int r;

        if (!s->enabled) {
                if (explicit || (req->relabel && req->relabel[0]))
                        sel_note_disabled(s, "a container");
                return 0;
        }
        r = sel_check_options(req->selinux_user, req->selinux_role, req->selinux_type, req->selinux_level, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->lock);
        p = sel_find_pod(s, req->pod_id);
        if (p)
                level = xstrdup(p->level);
        pthread_mutex_unlock(&s->lock);
        if (!level)
                return ocid_error_msg(err, ENOENT, "pod '%s' holds no SELinux level", req->pod_id);
        if (req->selinux_level && !streq(req->selinux_level, level))
                return ocid_error_msg(err, EINVAL, "the container's SELinux level '%s' is not its pod's '%s'",
                                      req->selinux_level, level);
        r = sel_make_labels(s, req->selinux_user, req->selinux_role, req->selinux_type, level, &pl, &ml, err);
        if (r < 0)
                return r;

        for (size_t i = 0; req->relabel && req->relabel[i]; i++) {
                r = sel_relabel(req->relabel[i], ml, err);
                if (r < 0)
                        return r;
        }

        if (!json_object_object_get_ex(spec, "process", &process) || !json_object_is_type(process, json_type_object))
                return ocid_error_msg(err, EINVAL, "the container's spec has no process object");
        if (!json_object_object_get_ex(spec, "linux", &linux_)) {
                linux_ = json_object_new_object();
                json_object_object_add(spec, "linux", linux_);
        } else if (!json_object_is_type(linux_, json_type_object))
                return ocid_error_msg(err, EINVAL, "the container's spec has a linux member that is not an object");
        /* A privileged container runs with the runtime's own label unless
         * it asked for SELinux options; its mounts keep the pod's label. */
        if (req->privileged && !explicit)
                json_object_object_del(process, "selinuxLabel");
        else
                json_object_object_add(process, "selinuxLabel", json_object_new_string(pl));
        json_object_object_add(linux_, "mountLabel", json_object_new_string(ml));
        free(req->mount_label);
        req->mount_label = TAKE_PTR(ml);
        return 0;
}

/* ---- life ---- */

static int sel_check(const config_setting_t *cfg, struct ocid_error **err)
{
        struct sel_config c = { 0 };
        int r = sel_parse(cfg, &c, err);

        sel_config_done(&c);
        return r;
}

static void sel_fini(void *state)
{
        struct sel_state *s = state;

        if (!s)
                return;
        tdestroy(s->by_pod, sel_noop);
        tdestroy(s->by_level, sel_pod_freev);
        pthread_mutex_destroy(&s->lock);
        sel_config_done(&s->cfg);
        free(s->reason);
        free(s->process_context);
        free(s->file_context);
        free(s->dir);
        free(s);
}

static int sel_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        struct sel_state *s = xzalloc(sizeof(*s));
        int r, host, enforce;

        pthread_mutex_init(&s->lock, NULL);
        r = sel_parse(cfg, &s->cfg, err);
        if (r < 0)
                goto fail;

        errno = 0;
        host = is_selinux_enabled();
        if (host == 1) {
                enforce = security_getenforce();
                s->mode = enforce == 1 ? "enforcing" : enforce == 0 ? "permissive" : "unknown";
        } else if (host == 0)
                s->reason = xstrdup("SELinux is disabled or not supported by the kernel");
        else
                s->reason = xasprintf("cannot determine whether SELinux is enabled: %s", strerror(errno ? errno : EIO));

        if (s->cfg.enabled == SEL_ENABLED_FALSE) {
                free(s->reason);
                s->reason = xstrdup("turned off by the configuration (enabled = \"false\")");
        } else if (host != 1 && s->cfg.enabled == SEL_ENABLED_TRUE) {
                r = ocid_error_msg(err, EOPNOTSUPP, "SELinux is required (enabled = \"true\"), but %s", s->reason);
                goto fail;
        } else if (host == 1) {
                s->enabled = 1;
                r = sel_read_contexts(s, err);
                if (r < 0)
                        goto fail;
                s->dir = ocid_path_join(ocid_host_root(), SEL_NAME);
                r = ocid_mkdir_p(s->dir, 0700, err);
                if (r < 0)
                        goto fail;
                r = sel_records_restore(s, err);
                if (r < 0)
                        goto fail;
        }
        ocid_log(OCID_LOG_DEBUG, "SELinux %s", s->enabled ? s->mode : s->reason);
        *ret_state = s;
        return 0;

fail:
        sel_fini(s);
        return r;
}

/* Ready either way: without SELinux containers are not labelled, and info
 * says why. */
static int sel_status(void *state, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        return 1;
}

static int sel_info(void *state, char **ret_json, struct ocid_error **err)
{
        struct sel_state *s = state;
        _cleanup_json_ struct json_object *o = json_object_new_object();

        json_object_object_add(o, "enabled", json_object_new_boolean(s->enabled));
        if (s->mode)
                json_object_object_add(o, "mode", json_object_new_string(s->mode));
        if (!s->enabled)
                json_object_object_add(o, "reason", json_object_new_string(s->reason));
        else {
                size_t n;

                pthread_mutex_lock(&s->lock);
                n = s->n_pods;
                pthread_mutex_unlock(&s->lock);
                json_object_object_add(o, "mcs_range", json_object_new_string(s->cfg.range));
                json_object_object_add(o, "pods", json_object_new_int64((int64_t) n));
                json_object_object_add(o, "process_context", json_object_new_string(s->process_context));
                json_object_object_add(o, "file_context", json_object_new_string(s->file_context));
        }
        *ret_json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

static const struct ocid_security_ops sel_ops = {
        .base = {
                .init = sel_init,
                .fini = sel_fini,
                .check = sel_check,
                .status = sel_status,
                .info = sel_info,
        },
        .apply = sel_apply,
        .pod_create = sel_pod_create,
        .pod_remove = sel_pod_remove,
};

OCID_MODULE_DEFINE(sec_selinux, "sec-selinux", OCID_MODULE_KIND_SECURITY, &sel_ops);
