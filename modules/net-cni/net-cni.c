/* SPDX-License-Identifier: Apache-2.0 */
/* net-cni: pod networking through CNI plugins (spec 0.3.0 to 1.1.0).
 *
 * The network is the first configuration file of conf_dir in lexical order
 * (*.conflist, *.conf, *.json; a single plugin's configuration is run as a
 * list of one). Pods join it on "eth0"; unless the list already chains the
 * "loopback" plugin, "lo" is brought up first with that plugin. What each
 * attachment needs for DEL (the list as it was run, the arguments, the ADD
 * result) is recorded under <root>/net-cni/results, which survives both a
 * daemon restart and a reboot; docs/modules.md has the details. */

#define OCID_LOG_CATEGORY "net-cni"

#include <arpa/inet.h> /* inet_pton */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h> /* NSFS_MAGIC, PROC_SUPER_MAGIC */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h> /* statfs */
#include <unistd.h>

#include <ocid/exec.h>
#include <ocid/fs.h>
#include <ocid/host.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

#define CNI_NOT_READY "NetworkPluginNotReady"
#define CNI_MAX_CONFIG (1 << 20)
#define CNI_MAX_OUTPUT (1 << 20)
#define CNI_IFNAME "eth0"
#define CNI_LO_IFNAME "lo"
#define CNI_LO_NETWORK "cni-loopback"
#define CNI_LO_TYPE "loopback"
#define CNI_RECORD_FORMAT 1
#define CNI_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CNI_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

extern char **environ;

/* The spec versions this runtime speaks, oldest first. */
static const char *const cni_versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL };
#define CNI_VERSION_CHECK 2 /* index of 0.4.0: CHECK, and prevResult on DEL */

/* Capability arguments the runtime can give, as CONVENTIONS.md names them. */
static const char *const cni_capabilities[] = { "portMappings", "bandwidth", "dns", "cgroupPath", NULL };

/* The configuration file last parsed, and what identifies its version. */
struct cni_conf {
        char *file;
        dev_t dev;
        ino_t ino;
        struct timespec mtim, ctim;
        off_t size;
        char *text;             /* the normalised list (cni_list_normalise) */
        char *network;
        char **types;
};

struct cni_state {
        char *conf_dir;
        char **bin_dirs;
        int loopback;
        int64_t plugin_timeout; /* seconds */
        char *cache_dir;        /* <root>/net-cni/results */
        pthread_mutex_t lock;   /* protects conf */
        struct cni_conf *conf;
};

/* One interface of a pod on one network: what ADD, DEL and CHECK need. */
struct cni_attach {
        char *id;
        const char *ifname;
        struct json_object *list;     /* normalised list */
        const char *network;          /* in list */
        int version;                  /* index in cni_versions */
        int disable_check;
        char *args;                   /* CNI_ARGS */
        struct json_object *caps;     /* capability arguments; NULL: none */
        char *netns;                  /* "" when gone */
        struct json_object *result;   /* the ADD result; NULL before */
};

static void cni_conf_free(struct cni_conf *c)
{
        if (!c)
                return;
        free(c->file);
        free(c->text);
        free(c->network);
        ocid_strv_free(c->types);
        free(c);
}
OCID_DEFINE_CLEANUP_FUNC(struct cni_conf *, cni_conf_free)

static void cni_state_free(struct cni_state *s)
{
        if (!s)
                return;
        free(s->conf_dir);
        ocid_strv_free(s->bin_dirs);
        free(s->cache_dir);
        cni_conf_free(s->conf);
        (void) pthread_mutex_destroy(&s->lock);
        free(s);
}
OCID_DEFINE_CLEANUP_FUNC(struct cni_state *, cni_state_free)

static void cni_attach_done(struct cni_attach *a)
{
        free(a->id);
        json_object_put(a->list);
        free(a->args);
        json_object_put(a->caps);
        free(a->netns);
        json_object_put(a->result);
        memset(a, 0, sizeof(*a));
}

static int cni_version_index(const char *v)
{
        for (int i = 0; v && cni_versions[i]; i++)
                if (streq(v, cni_versions[i]))
                        return i;
        return -1;
}

static char *cni_join(char *const *v, const char *sep)
{
        char *s = xstrdup("");

        for (size_t i = 0; v && v[i]; i++) {
                char *next = xasprintf("%s%s%s", s, i ? sep : "", v[i]);
                free(s);
                s = next;
        }
        return s;
}

/* Settings. */

static const char *const cni_keys[] = { "conf_dir", "bin_dirs", "loopback", "plugin_timeout", NULL };

/* Reads modules.net-cni into s (which holds the defaults). */
static int cni_parse(const config_setting_t *cfg, struct cni_state *s, struct ocid_error **err)
{
        const config_setting_t *m;
        int r;

        r = ocid_setting_check_keys(cfg, cni_keys, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_string(cfg, "conf_dir", &s->conf_dir, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_strv(cfg, "bin_dirs", &s->bin_dirs, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_bool(cfg, "loopback", &s->loopback, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_int64(cfg, "plugin_timeout", &s->plugin_timeout, err);
        if (r < 0)
                return r;

        if (s->conf_dir[0] != '/')
                return ocid_setting_error(config_setting_get_member(cfg, "conf_dir"), err,
                                          "'%s' is not an absolute path", s->conf_dir);
        m = cfg ? config_setting_get_member(cfg, "bin_dirs") : NULL;
        if (!s->bin_dirs[0])
                return ocid_setting_error(m, err, "expected at least one directory");
        for (size_t i = 0; s->bin_dirs[i]; i++)
                if (s->bin_dirs[i][0] != '/')
                        return ocid_setting_error(config_setting_get_elem(m, (unsigned int) i), err,
                                                  "'%s' is not an absolute path", s->bin_dirs[i]);
        if (s->plugin_timeout < 1 || s->plugin_timeout > 3600)
                return ocid_setting_error(config_setting_get_member(cfg, "plugin_timeout"), err,
                                          "%lld is out of range (1 to 3600 seconds)",
                                          (long long) s->plugin_timeout);
        return 0;
}

static struct cni_state *cni_state_new(void)
{
        static const char *const default_bin_dirs[] = { "/opt/cni/bin", "/usr/lib/cni", NULL };
        struct cni_state *s = xzalloc(sizeof(*s));

        s->conf_dir = xstrdup("/etc/cni/net.d");
        s->bin_dirs = ocid_strv_copy(default_bin_dirs);
        s->loopback = 1;
        s->plugin_timeout = 60;
        s->cache_dir = xasprintf("%s/net-cni/results", ocid_host_root());
        (void) pthread_mutex_init(&s->lock, NULL);
        return s;
}

static int cni_check(const config_setting_t *cfg, struct ocid_error **err)
{
        _cleanup_(cni_state_freep) struct cni_state *s = cni_state_new();

        return cni_parse(cfg, s, err);
}

/* init touches nothing on disk: the record directory is made by the first
 * pod_setup. */
static int cni_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        _cleanup_(cni_state_freep) struct cni_state *s = cni_state_new();
        int r;

        r = cni_parse(cfg, s, err);
        if (r < 0)
                return r;
        *ret_state = TAKE_PTR(s);
        return 0;
}

static void cni_fini(void *state)
{
        cni_state_free(state);
}

/* Network configurations. */

/* The CNI rule for container IDs and network names: an alphanumeric
 * character, then alphanumerics, '_', '.' or '-'. */
static bool cni_name_valid(const char *s)
{
        if (!s || !isalnum((unsigned char) s[0]))
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != '_' && *p != '.' && *p != '-')
                        return false;
        return strlen(s) <= 200;
}

/* A plugin type names a file in a bin dir: one path component, no NUL. */
static bool cni_type_valid(struct json_object *type)
{
        const char *t = json_object_get_string(type);

        if (!t || strlen(t) != (size_t) json_object_get_string_len(type))
                return false;
        return ocid_path_component_check(t, NULL) >= 0;
}

/* Builds the list to run from a configuration object `root`, as the file
 * holds it: {"name","cniVersion" or "cniVersions","disableCheck","plugins"}
 * or, when allow_single, one plugin's configuration {"name","cniVersion",
 * "type",...}. Validates what the runtime relies on; `what` names the
 * source in errors ("CNI configuration '<file>'"). The result has
 * "cniVersion" (the newest version both sides speak), "name",
 * "disableCheck" (boolean) and "plugins" (copies). */
static int cni_list_normalise(struct json_object *root, const char *what, int allow_single,
                              struct json_object **ret, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *list = NULL, *plugins_out = NULL;
        struct json_object *plugins = NULL, *versions = NULL, *dc = NULL;
        const char *name, *version = NULL;
        int disable_check = 0, vi = -1;

        if (!json_object_is_type(root, json_type_object))
                return ocid_error_msg(err, EINVAL, "%s is not a JSON object", what);
        name = ocid_json_get_string(root, "name");
        if (!name || !*name)
                return ocid_error_msg(err, EINVAL, "%s has no network name", what);
        if (!cni_name_valid(name))
                return ocid_error_msg(err, EINVAL,
                                      "%s: network name '%s' is not valid (an alphanumeric character, then "
                                      "alphanumerics, '_', '.' or '-')", what, name);

        plugins_out = json_object_new_array();
        if (json_object_object_get_ex(root, "plugins", &plugins)) {
                size_t n;

                if (!json_object_is_type(plugins, json_type_array) ||
                    (n = json_object_array_length(plugins)) == 0)
                        return ocid_error_msg(err, EINVAL, "%s has no plugins", what);
                for (size_t i = 0; i < n; i++) {
                        struct json_object *p = json_object_array_get_idx(plugins, i), *type = NULL;
                        struct json_object *copy = NULL;

                        if (!json_object_is_type(p, json_type_object) ||
                            !json_object_object_get_ex(p, "type", &type) ||
                            !json_object_is_type(type, json_type_string) || !json_object_get_string_len(type))
                                return ocid_error_msg(err, EINVAL, "%s: plugin %zu has no type", what, i);
                        if (!cni_type_valid(type))
                                return ocid_error_msg(err, EINVAL, "%s: plugin type '%s' is not a plain file name",
                                                      what, json_object_get_string(type));
                        if (json_object_deep_copy(p, &copy, NULL) < 0)
                                return ocid_error_msg(err, ENOMEM, "%s: cannot copy plugin %zu", what, i);
                        json_object_array_add(plugins_out, copy);
                }
        } else {
                struct json_object *type = NULL, *copy = NULL;

                if (!allow_single)
                        return ocid_error_msg(err, EINVAL, "%s has no plugins", what);
                if (!json_object_object_get_ex(root, "type", &type) ||
                    !json_object_is_type(type, json_type_string) || !json_object_get_string_len(type))
                        return ocid_error_msg(err, EINVAL, "%s has no plugin type", what);
                if (!cni_type_valid(type))
                        return ocid_error_msg(err, EINVAL, "%s: plugin type '%s' is not a plain file name",
                                              what, json_object_get_string(type));
                if (json_object_deep_copy(root, &copy, NULL) < 0)
                        return ocid_error_msg(err, ENOMEM, "%s: cannot copy the plugin", what);
                json_object_array_add(plugins_out, copy);
        }

        /* 1.1.0: "cniVersions" lists every version the file is valid for;
         * the newest this runtime speaks wins. */
        if (json_object_object_get_ex(root, "cniVersions", &versions) && plugins) {
                if (!json_object_is_type(versions, json_type_array))
                        return ocid_error_msg(err, EINVAL, "%s: cniVersions is not an array", what);
                for (size_t i = 0; i < json_object_array_length(versions); i++) {
                        int k = cni_version_index(json_object_get_string(json_object_array_get_idx(versions, i)));

                        if (k > vi)
                                vi = k;
                }
                if (vi < 0)
                        return ocid_error_msg(err, EINVAL, "%s: none of its cniVersions is supported (supported: "
                                              "0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)", what);
        } else {
                version = ocid_json_get_string(root, "cniVersion");
                if (!version || !*version)
                        return ocid_error_msg(err, EINVAL, "%s has no cniVersion", what);
                vi = cni_version_index(version);
                if (vi < 0)
                        return ocid_error_msg(err, EINVAL, "%s: cniVersion '%s' is not supported (supported: "
                                              "0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)", what, version);
        }

        if (plugins && json_object_object_get_ex(root, "disableCheck", &dc)) {
                if (json_object_is_type(dc, json_type_boolean))
                        disable_check = json_object_get_boolean(dc);
                else if (json_object_is_type(dc, json_type_string) &&
                         (streq(json_object_get_string(dc), "true") || streq(json_object_get_string(dc), "false")))
                        disable_check = streq(json_object_get_string(dc), "true");
                else
                        return ocid_error_msg(err, EINVAL, "%s: disableCheck is not a boolean", what);
        }

        list = json_object_new_object();
        json_object_object_add(list, "cniVersion", json_object_new_string(cni_versions[vi]));
        json_object_object_add(list, "name", json_object_new_string(name));
        json_object_object_add(list, "disableCheck", json_object_new_boolean(disable_check));
        json_object_object_add(list, "plugins", TAKE_PTR(plugins_out));
        *ret = TAKE_PTR(list);
        return 0;
}

static const char *cni_list_name(struct json_object *list)
{
        return ocid_json_get_string(list, "name");
}

static struct json_object *cni_list_plugins(struct json_object *list)
{
        struct json_object *p = NULL;

        (void) json_object_object_get_ex(list, "plugins", &p);
        return p;
}

static const char *cni_plugin_type(struct json_object *list, size_t i)
{
        return ocid_json_get_string(json_object_array_get_idx(cni_list_plugins(list), i), "type");
}

static bool cni_list_has_type(struct json_object *list, const char *type)
{
        size_t n = json_object_array_length(cni_list_plugins(list));

        for (size_t i = 0; i < n; i++)
                if (streq(cni_plugin_type(list, i), type))
                        return true;
        return false;
}

static int cni_name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The configuration files of dir (regular files, not hidden, named
 * *.conflist, *.conf or *.json) in lexical order. */
static int cni_list_configs(const char *dir, char ***ret, struct ocid_error **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_ char **names = NULL;
        struct dirent *de;

        d = opendir(dir);
        if (!d)
                return ocid_error_set(err, errno, "open '%s'", dir);
        while ((errno = 0, de = readdir(d))) {
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                if (!ocid_endswith(de->d_name, ".conflist") && !ocid_endswith(de->d_name, ".conf") &&
                    !ocid_endswith(de->d_name, ".json"))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
                        continue;
                ocid_strv_push(&names, de->d_name);
        }
        if (errno != 0)
                return ocid_error_set(err, errno, "read '%s'", dir);
        if (names)
                qsort(names, ocid_strv_length(names), sizeof(*names), cni_name_cmp);
        *ret = TAKE_PTR(names);
        return 0;
}

/* Parses the configuration file `path` (stat'ed as st) into a new conf. */
static int cni_conf_parse(const char *path, const struct stat *st, struct cni_conf **ret, struct ocid_error **err)
{
        _cleanup_(cni_conf_freep) struct cni_conf *c = xzalloc(sizeof(*c));
        _cleanup_json_ struct json_object *root = NULL, *list = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *what = xasprintf("CNI configuration '%s'", path);
        size_t n;
        int r;

        if (ocid_json_read_file(path, CNI_MAX_CONFIG, &root, &e) < 0)
                return ocid_error_msg(err, EINVAL, "invalid CNI configuration: %s", ocid_error_message(&e));
        /* A .conflist is a list; a .conf or .json is one plugin or a list. */
        r = cni_list_normalise(root, what, !ocid_endswith(path, ".conflist"), &list, err);
        if (r < 0)
                return r;

        c->file = xstrdup(path);
        c->dev = st->st_dev;
        c->ino = st->st_ino;
        c->mtim = st->st_mtim;
        c->ctim = st->st_ctim;
        c->size = st->st_size;
        c->text = xstrdup(json_object_to_json_string_ext(list, CNI_JSON_FLAGS));
        c->network = xstrdup(cni_list_name(list));
        n = json_object_array_length(cni_list_plugins(list));
        for (size_t i = 0; i < n; i++)
                ocid_strv_push(&c->types, cni_plugin_type(list, i));
        *ret = TAKE_PTR(c);
        return 0;
}

static bool cni_conf_matches(const struct cni_conf *c, const char *path, const struct stat *st)
{
        return c && streq(c->file, path) && c->dev == st->st_dev && c->ino == st->st_ino &&
               c->size == st->st_size && c->mtim.tv_sec == st->st_mtim.tv_sec &&
               c->mtim.tv_nsec == st->st_mtim.tv_nsec && c->ctim.tv_sec == st->st_ctim.tv_sec &&
               c->ctim.tv_nsec == st->st_ctim.tv_nsec;
}

static struct cni_conf *cni_conf_copy(const struct cni_conf *c)
{
        struct cni_conf *copy = xzalloc(sizeof(*copy));

        *copy = *c;
        copy->file = xstrdup(c->file);
        copy->text = xstrdup(c->text);
        copy->network = xstrdup(c->network);
        copy->types = ocid_strv_copy((const char *const *) c->types);
        return copy;
}

/* The current network configuration: the first file of conf_dir, parsed
 * again only when the file changed (path, inode, size, mtime, ctime).
 * -ENOENT when there is none. Returns a copy the caller owns. */
static int cni_conf_get(struct cni_state *s, struct cni_conf **ret, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_strv_ char **names = NULL;
        _cleanup_free_ char *path = NULL;
        struct cni_conf *parsed = NULL;
        struct stat st;
        int r;

        r = cni_list_configs(s->conf_dir, &names, &e);
        if (r < 0) {
                if (ocid_error_code(&e) == ENOENT)
                        return ocid_error_msg(err, ENOENT, "no CNI configuration file in %s", s->conf_dir);
                r = ocid_error_code(&e);
                return ocid_error_msg(err, r, "cannot read the CNI configuration directory: %s",
                                      ocid_error_message(&e));
        }
        if (!names || !names[0])
                return ocid_error_msg(err, ENOENT, "no CNI configuration file in %s", s->conf_dir);
        path = ocid_path_join(s->conf_dir, names[0]);
        if (stat(path, &st) < 0)
                return ocid_error_set(err, errno, "stat '%s'", path);

        pthread_mutex_lock(&s->lock);
        if (cni_conf_matches(s->conf, path, &st)) {
                *ret = cni_conf_copy(s->conf);
                pthread_mutex_unlock(&s->lock);
                return 0;
        }
        pthread_mutex_unlock(&s->lock);

        r = cni_conf_parse(path, &st, &parsed, err);
        if (r < 0)
                return r;
        ocid_log(OCID_LOG_DEBUG, "network '%s' from '%s'", parsed->network, path);
        pthread_mutex_lock(&s->lock);
        cni_conf_free(s->conf);
        s->conf = parsed;
        *ret = cni_conf_copy(parsed);
        pthread_mutex_unlock(&s->lock);
        return 0;
}

/* The executable `type` in bin_dirs, or NULL. */
static char *cni_find_plugin(const struct cni_state *s, const char *type)
{
        if (ocid_path_component_check(type, NULL) < 0)
                return NULL;
        for (size_t i = 0; s->bin_dirs[i]; i++) {
                _cleanup_free_ char *p = ocid_path_join(s->bin_dirs[i], type);
                struct stat st;

                if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
                        return TAKE_PTR(p);
        }
        return NULL;
}

/* Readiness. */

/* What a scan of conf_dir found. reason is NULL when the network is ready. */
struct cni_scan {
        struct cni_conf *conf;
        char *reason;
        char *message;
};

static void cni_scan_done(struct cni_scan *scan)
{
        cni_conf_free(scan->conf);
        free(scan->reason);
        free(scan->message);
        memset(scan, 0, sizeof(*scan));
}

/* Records why the network is not ready. */
static void cni_not_ready(struct cni_scan *scan, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void cni_not_ready(struct cni_scan *scan, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&scan->message, fmt, ap) < 0)
                scan->message = NULL;
        va_end(ap);
        if (!scan->message)
                scan->message = xstrdup("CNI network is not ready");
        scan->reason = xstrdup(CNI_NOT_READY);
}

/* Ready when the configuration is valid and every plugin it needs (with
 * "loopback" unless disabled) is in bin_dirs. */
static void cni_scan(struct cni_state *s, struct cni_scan *scan)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_strv_ char **needed = NULL;

        memset(scan, 0, sizeof(*scan));
        if (cni_conf_get(s, &scan->conf, &e) < 0) {
                cni_not_ready(scan, "%s", ocid_error_message(&e));
                return;
        }
        needed = ocid_strv_copy((const char *const *) scan->conf->types);
        if (s->loopback && !ocid_strv_contains(needed, CNI_LO_TYPE))
                ocid_strv_push(&needed, CNI_LO_TYPE);
        for (size_t i = 0; needed[i]; i++) {
                _cleanup_free_ char *path = cni_find_plugin(s, needed[i]);

                if (!path) {
                        _cleanup_free_ char *dirs = cni_join(s->bin_dirs, ":");

                        cni_not_ready(scan, "CNI plugin '%s' of network '%s' (%s) not found in %s",
                                      needed[i], scan->conf->network, scan->conf->file, dirs);
                        return;
                }
        }
}

static int cni_status(void *state, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        struct cni_scan scan;

        cni_scan(state, &scan);
        if (!scan.reason) {
                cni_scan_done(&scan);
                return 1;
        }
        *ret_reason = TAKE_PTR(scan.reason);
        *ret_message = TAKE_PTR(scan.message);
        cni_scan_done(&scan);
        return 0;
}

static struct json_object *cni_json_strv(char *const *v)
{
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; v && v[i]; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static int cni_info(void *state, char **ret_json, struct ocid_error **err)
{
        struct cni_state *s = state;
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_json_ struct json_object *list = NULL;
        struct cni_scan scan;

        cni_scan(s, &scan);
        if (scan.conf)
                list = json_tokener_parse(scan.conf->text);
        json_object_object_add(o, "conf_dir", json_object_new_string(s->conf_dir));
        json_object_object_add(o, "bin_dirs", cni_json_strv(s->bin_dirs));
        json_object_object_add(o, "config_file", scan.conf ? json_object_new_string(scan.conf->file) : NULL);
        json_object_object_add(o, "network", scan.conf ? json_object_new_string(scan.conf->network) : NULL);
        json_object_object_add(o, "cni_version",
                               list ? json_object_new_string(ocid_json_get_string(list, "cniVersion")) : NULL);
        json_object_object_add(o, "plugins", cni_json_strv(scan.conf ? scan.conf->types : NULL));
        json_object_object_add(o, "loopback", json_object_new_boolean(s->loopback));
        json_object_object_add(o, "plugin_timeout", json_object_new_int64(s->plugin_timeout));
        json_object_object_add(o, "results_dir", json_object_new_string(s->cache_dir));
        json_object_object_add(o, "ready", json_object_new_boolean(!scan.reason));
        cni_scan_done(&scan);
        *ret_json = xstrdup(json_object_to_json_string_ext(o, CNI_JSON_FLAGS));
        return 0;
}

/* Running plugins. */

struct cni_run {
        const char *command;    /* ADD, DEL, CHECK */
        const struct cni_attach *a;
};

/* The plugin's environment: the daemon's, without CNI_* variables, with
 * PATH (plugins run iptables and the like) and the CNI parameters. */
static char **cni_env(const struct cni_state *s, const struct cni_run *run)
{
        _cleanup_free_ char *cni_path = cni_join(s->bin_dirs, ":");
        const char *path = getenv("PATH");
        char **env = NULL;

        for (char **e = environ; e && *e; e++)
                if (!ocid_startswith(*e, "CNI_") && !ocid_startswith(*e, "PATH="))
                        ocid_strv_push(&env, *e);
#define PUSHF(...) do { char *_v = xasprintf(__VA_ARGS__); ocid_strv_push(&env, _v); free(_v); } while (0)
        PUSHF("PATH=%s", path && *path ? path : CNI_DEFAULT_PATH);
        PUSHF("CNI_COMMAND=%s", run->command);
        PUSHF("CNI_CONTAINERID=%s", run->a->id);
        PUSHF("CNI_NETNS=%s", run->a->netns ? run->a->netns : "");
        PUSHF("CNI_IFNAME=%s", run->a->ifname);
        PUSHF("CNI_ARGS=%s", run->a->args ? run->a->args : "");
        PUSHF("CNI_PATH=%s", cni_path);
#undef PUSHF
        return env;
}

/* The last line(s) of a plugin's stderr, for an error message. */
static char *cni_tail(const char *text)
{
        size_t len;
        const char *start;

        if (!text)
                return xstrdup("");
        len = strlen(text);
        while (len > 0 && isspace((unsigned char) text[len - 1]))
                len--;
        start = text;
        if (len > 512)
                start = text + len - 512;
        while (start < text + len && isspace((unsigned char) *start))
                start++;
        return xstrndup(start, (size_t) (text + len - start));
}

/* Turns a failed plugin run into an error: the CNI error object on stdout
 * when there is one ({"code","msg","details"}), else its stderr. */
static int cni_plugin_error(const char *type, const struct ocid_cmd_result *res, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *o = json_tokener_parse(res->out);
        struct json_object *code = NULL;

        if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "code", &code) &&
            json_object_is_type(code, json_type_int)) {
                const char *msg = ocid_json_get_string(o, "msg");
                const char *details = ocid_json_get_string(o, "details");
                int c = json_object_get_int(code);

                /* Code 11 is "try again later". */
                return ocid_error_msg(err, c == 11 ? EAGAIN : EIO, "CNI plugin '%s' failed (code %d): %s%s%s",
                                      type, c, msg && *msg ? msg : "no message", details && *details ? ": " : "",
                                      details && *details ? details : "");
        } else {
                _cleanup_free_ char *tail = cni_tail(res->err_len ? res->err : res->out);

                return ocid_error_msg(err, EIO, "CNI plugin '%s' failed (exit status %d)%s%s", type,
                                      res->exit_code, *tail ? ": " : "", tail);
        }
}

/* Runs plugin `type` with `input` on stdin; *ret_out is its stdout. */
static int cni_exec(const struct cni_state *s, const char *type, const struct cni_run *run, const char *input,
                    char **ret_out, struct ocid_error **err)
{
        _cleanup_free_ char *path = cni_find_plugin(s, type);
        _cleanup_strv_ char **env = NULL;
        struct ocid_cmd_result res = { 0 };
        const char *argv[2];
        struct ocid_cmd cmd = { 0 };
        int r;

        if (!path) {
                _cleanup_free_ char *dirs = cni_join(s->bin_dirs, ":");

                return ocid_error_msg(err, ENOENT, "CNI plugin '%s' not found in %s", type, dirs);
        }
        env = cni_env(s, run);
        argv[0] = path;
        argv[1] = NULL;
        cmd.argv = argv;
        cmd.envp = (const char *const *) env;
        cmd.input = input;
        cmd.input_len = strlen(input);
        cmd.timeout_ms = s->plugin_timeout * 1000;
        cmd.max_output = CNI_MAX_OUTPUT;
        ocid_log(OCID_LOG_DEBUG, "%s: %s '%s' on %s (network '%s')", run->a->id, run->command, type,
                 run->a->ifname, run->a->network);
        r = ocid_cmd_run(&cmd, &res, err);
        if (r < 0)
                return ocid_error_prefix(err, "CNI plugin '%s'", type);
        if (res.timed_out)
                r = ocid_error_msg(err, ETIMEDOUT, "CNI plugin '%s' timed out after %lld s", type,
                                   (long long) s->plugin_timeout);
        else if (res.term_signal)
                r = ocid_error_msg(err, EIO, "CNI plugin '%s' was killed by signal %d", type, res.term_signal);
        else if (res.exit_code != 0)
                r = cni_plugin_error(type, &res, err);
        else if (res.out_truncated)
                r = ocid_error_msg(err, EIO, "CNI plugin '%s' wrote more than %d bytes", type, CNI_MAX_OUTPUT);
        else {
                *ret_out = TAKE_PTR(res.out);
                r = 0;
        }
        ocid_cmd_result_done(&res);
        return r;
}

/* The configuration plugin i of the list runs with: its own object with the
 * list's "name" and "cniVersion", "runtimeConfig" holding the capability
 * arguments it declares (and "capabilities" removed), and "prevResult". */
static char *cni_plugin_input(const struct cni_attach *a, size_t i, struct json_object *prev)
{
        _cleanup_json_ struct json_object *p = NULL, *rc = NULL;
        struct json_object *src = json_object_array_get_idx(cni_list_plugins(a->list), i);
        struct json_object *declared = NULL, *old_rc = NULL, *copy = NULL;

        if (json_object_deep_copy(src, &p, NULL) < 0)
                abort();
        json_object_object_add(p, "name", json_object_new_string(a->network));
        json_object_object_add(p, "cniVersion", json_object_new_string(cni_versions[a->version]));

        if (json_object_object_get_ex(p, "runtimeConfig", &old_rc) && json_object_is_type(old_rc, json_type_object)) {
                if (json_object_deep_copy(old_rc, &rc, NULL) < 0)
                        abort();
        } else
                rc = json_object_new_object();
        if (json_object_object_get_ex(p, "capabilities", &declared) && json_object_is_type(declared, json_type_object))
                for (size_t k = 0; cni_capabilities[k]; k++) {
                        struct json_object *on = NULL, *value = NULL;

                        if (!json_object_object_get_ex(declared, cni_capabilities[k], &on) ||
                            !json_object_get_boolean(on) || !a->caps ||
                            !json_object_object_get_ex(a->caps, cni_capabilities[k], &value))
                                continue;
                        if (json_object_deep_copy(value, &copy, NULL) < 0)
                                abort();
                        json_object_object_add(rc, cni_capabilities[k], copy);
                        copy = NULL;
                }
        json_object_object_del(p, "capabilities");
        json_object_object_del(p, "runtimeConfig");
        if (json_object_object_length(rc) > 0)
                json_object_object_add(p, "runtimeConfig", TAKE_PTR(rc));
        if (prev) {
                if (json_object_deep_copy(prev, &copy, NULL) < 0)
                        abort();
                json_object_object_add(p, "prevResult", copy);
        }
        return xstrdup(json_object_to_json_string_ext(p, CNI_JSON_FLAGS));
}

/* ADD: every plugin in order, each given the previous one's result. */
static int cni_chain_add(const struct cni_state *s, struct cni_attach *a, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *prev = NULL;
        const struct cni_run run = { "ADD", a };
        size_t n = json_object_array_length(cni_list_plugins(a->list));

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *input = cni_plugin_input(a, i, prev), *out = NULL;
                const char *type = cni_plugin_type(a->list, i);
                struct json_object *result;
                enum json_tokener_error jerr;
                int r;

                r = cni_exec(s, type, &run, input, &out, err);
                if (r < 0)
                        return r;
                result = json_tokener_parse_verbose(out, &jerr);
                if (!result || !json_object_is_type(result, json_type_object)) {
                        json_object_put(result);
                        return ocid_error_msg(err, EPROTO, "CNI plugin '%s' returned %s", type,
                                              *out ? "an invalid result" : "no result");
                }
                json_object_put(prev);
                prev = result;
        }
        json_object_put(a->result);
        a->result = TAKE_PTR(prev);
        return 0;
}

/* DEL: every plugin in reverse order, given the ADD result (from 0.4.0). */
static int cni_chain_del(const struct cni_state *s, const struct cni_attach *a, struct ocid_error **err)
{
        const struct cni_run run = { "DEL", a };
        size_t n = json_object_array_length(cni_list_plugins(a->list));
        struct json_object *prev = a->version >= CNI_VERSION_CHECK ? a->result : NULL;

        for (size_t i = n; i-- > 0;) {
                _cleanup_free_ char *input = cni_plugin_input(a, i, prev), *out = NULL;
                int r;

                r = cni_exec(s, cni_plugin_type(a->list, i), &run, input, &out, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* CHECK: every plugin in order, given the ADD result. */
static int cni_chain_check(const struct cni_state *s, const struct cni_attach *a, struct ocid_error **err)
{
        const struct cni_run run = { "CHECK", a };
        size_t n = json_object_array_length(cni_list_plugins(a->list));

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *input = cni_plugin_input(a, i, a->result), *out = NULL;
                int r;

                r = cni_exec(s, cni_plugin_type(a->list, i), &run, input, &out, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Records: <cache_dir>/<id>-<ifname>.json, written before ADD (without a
 * result) and again after it, removed after a successful DEL. */

static char *cni_record_path(const struct cni_state *s, const char *id, const char *ifname)
{
        _cleanup_free_ char *name = xasprintf("%s-%s.json", id, ifname);

        return ocid_path_join(s->cache_dir, name);
}

static int cni_record_write(const struct cni_state *s, const struct cni_attach *a, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_free_ char *path = cni_record_path(s, a->id, a->ifname);
        struct json_object *copy = NULL;

        json_object_object_add(o, "format", json_object_new_int(CNI_RECORD_FORMAT));
        json_object_object_add(o, "id", json_object_new_string(a->id));
        json_object_object_add(o, "ifname", json_object_new_string(a->ifname));
        json_object_object_add(o, "network", json_object_new_string(a->network));
        json_object_object_add(o, "config", json_object_get(a->list));
        json_object_object_add(o, "cni_args", json_object_new_string(a->args ? a->args : ""));
        json_object_object_add(o, "capability_args", a->caps ? json_object_get(a->caps) : NULL);
        json_object_object_add(o, "netns", json_object_new_string(a->netns ? a->netns : ""));
        if (a->result) {
                if (json_object_deep_copy(a->result, &copy, NULL) < 0)
                        abort();
                json_object_object_add(o, "result", copy);
        }
        return ocid_json_write_file_atomic(path, o, 0600, err);
}

/* Removes what an atomic write of the record (id, ifname) interrupted by a
 * crash left: ".<id>-<ifname>.json.<hex>.tmp". Called once the record is
 * gone, when no write for this pod can be running (the core never runs two
 * operations on one pod at once). */
static void cni_record_remove_temps(const struct cni_state *s, const char *id, const char *ifname)
{
        _cleanup_free_ char *prefix = xasprintf(".%s-%s.json.", id, ifname);
        _cleanup_closedir_ DIR *d = opendir(s->cache_dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d)))
                if (ocid_startswith(de->d_name, prefix) && ocid_endswith(de->d_name, ".tmp"))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
}

static int cni_record_remove(const struct cni_state *s, const struct cni_attach *a, struct ocid_error **err)
{
        _cleanup_free_ char *path = cni_record_path(s, a->id, a->ifname);

        if (unlink(path) < 0 && errno != ENOENT)
                return ocid_error_set(err, errno, "remove '%s'", path);
        cni_record_remove_temps(s, a->id, a->ifname);
        return 0;
}

/* Reads the record of (id, ifname) into a. -ENOENT when there is none; any
 * other error means the record is unusable. */
static int cni_record_read(const struct cni_state *s, const char *id, const char *ifname, struct cni_attach *a,
                           struct ocid_error **err)
{
        _cleanup_free_ char *path = cni_record_path(s, id, ifname);
        _cleanup_free_ char *what = xasprintf("network record '%s'", path);
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *config = NULL, *caps = NULL, *result = NULL;
        const char *args, *netns;
        int r;

        r = ocid_json_read_file(path, CNI_MAX_CONFIG + 2 * CNI_MAX_OUTPUT, &o, err);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object) ||
            ocid_json_get_int64(o, "format", 0) != CNI_RECORD_FORMAT)
                return ocid_error_msg(err, EINVAL, "%s has an unknown format", what);
        if (!json_object_object_get_ex(o, "config", &config))
                return ocid_error_msg(err, EINVAL, "%s has no network configuration", what);
        r = cni_list_normalise(config, what, 0, &a->list, err);
        if (r < 0)
                return r;
        a->id = xstrdup(id);
        a->ifname = streq(ifname, CNI_LO_IFNAME) ? CNI_LO_IFNAME : CNI_IFNAME;
        a->network = cni_list_name(a->list);
        a->version = cni_version_index(ocid_json_get_string(a->list, "cniVersion"));
        a->disable_check = json_object_get_boolean(json_object_object_get(a->list, "disableCheck"));
        args = ocid_json_get_string(o, "cni_args");
        a->args = xstrdup(args ? args : "");
        if (json_object_object_get_ex(o, "capability_args", &caps) && json_object_is_type(caps, json_type_object))
                a->caps = json_object_get(caps);
        netns = ocid_json_get_string(o, "netns");
        a->netns = xstrdup(netns ? netns : "");
        if (json_object_object_get_ex(o, "result", &result) && json_object_is_type(result, json_type_object))
                a->result = json_object_get(result);
        return 0;
}

/* Pods. */

/* True when path is a live network namespace (nsfs; proc on old kernels). */
static bool cni_netns_alive(const char *path)
{
        struct statfs sf;

        if (!path || !*path || statfs(path, &sf) < 0)
                return false;
        return sf.f_type == (__typeof__(sf.f_type)) NSFS_MAGIC ||
               sf.f_type == (__typeof__(sf.f_type)) PROC_SUPER_MAGIC;
}

static const char *cni_pod_str(const struct ocid_network_pod *pod, size_t offset, size_t end)
{
        const char *v;

        if ((size_t) pod->size < end)
                return NULL;
        memcpy(&v, (const char *) pod + offset, sizeof(v));
        return v && *v ? v : NULL;
}

#define CNI_POD(pod, member)                                                  \
        cni_pod_str((pod), offsetof(struct ocid_network_pod, member),         \
                    offsetof(struct ocid_network_pod, member) + sizeof(const char *))

static int cni_pod_id(const struct ocid_network_pod *pod, struct ocid_error **err)
{
        const char *id = CNI_POD(pod, id);

        if (!id)
                return ocid_error_msg(err, EINVAL, "no pod ID");
        if (!cni_name_valid(id))
                return ocid_error_msg(err, EINVAL, "pod ID '%s' is not valid for CNI (an alphanumeric character, "
                                      "then alphanumerics, '_', '.' or '-')", id);
        return 0;
}

/* CNI_ARGS: IgnoreUnknown=1;K8S_POD_NAMESPACE=..;K8S_POD_NAME=..;
 * K8S_POD_INFRA_CONTAINER_ID=..;K8S_POD_UID=.. (absent values left out). */
static int cni_pod_args(const struct ocid_network_pod *pod, char **ret, struct ocid_error **err)
{
        static const struct {
                const char *key, *label;
                size_t offset;
        } fields[] = {
                { "K8S_POD_NAMESPACE", "namespace", offsetof(struct ocid_network_pod, namespace_) },
                { "K8S_POD_NAME", "name", offsetof(struct ocid_network_pod, name) },
                { "K8S_POD_INFRA_CONTAINER_ID", "ID", offsetof(struct ocid_network_pod, id) },
                { "K8S_POD_UID", "UID", offsetof(struct ocid_network_pod, uid) },
        };
        _cleanup_free_ char *args = xstrdup("IgnoreUnknown=1");

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const char *v = cni_pod_str(pod, fields[i].offset, fields[i].offset + sizeof(const char *));
                char *next;

                if (!v)
                        continue;
                for (const char *p = v; *p; p++)
                        if (*p == ';' || *p == '=' || iscntrl((unsigned char) *p) || isspace((unsigned char) *p))
                                return ocid_error_msg(err, EINVAL, "pod %s '%s' cannot be passed in CNI_ARGS",
                                                      fields[i].label, v);
                next = xasprintf("%s;%s=%s", args, fields[i].key, v);
                free(args);
                args = next;
        }
        *ret = TAKE_PTR(args);
        return 0;
}

/* Parses a JSON member of the pod, expecting `type`. */
static int cni_pod_json(const char *text, const char *label, json_type type, struct json_object **ret,
                        struct ocid_error **err)
{
        struct json_object *o = json_tokener_parse(text);

        if (!o || !json_object_is_type(o, type)) {
                json_object_put(o);
                return ocid_error_msg(err, EINVAL, "pod %s is not a JSON %s", label,
                                      type == json_type_array ? "array" : "object");
        }
        *ret = o;
        return 0;
}

/* The portMappings argument: entries with a host port, as
 * {"hostPort","containerPort","protocol" (lowercase),"hostIP" (if any)}. */
static int cni_port_mappings(const char *text, struct json_object **ret, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *in = NULL, *out = json_object_new_array();
        size_t n;
        int r;

        r = cni_pod_json(text, "port_mappings", json_type_array, &in, err);
        if (r < 0)
                return r;
        n = json_object_array_length(in);
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(in, i), *m;
                int64_t host, container;
                const char *proto, *ip;
                _cleanup_free_ char *lower = NULL;

                if (!json_object_is_type(e, json_type_object))
                        return ocid_error_msg(err, EINVAL, "pod port_mappings[%zu] is not an object", i);
                host = ocid_json_get_int64(e, "hostPort", 0);
                container = ocid_json_get_int64(e, "containerPort", 0);
                if (host < 0 || host > 65535 || container < 1 || container > 65535)
                        return ocid_error_msg(err, EINVAL, "pod port_mappings[%zu]: port out of range", i);
                if (host == 0)
                        continue;
                proto = ocid_json_get_string(e, "protocol");
                lower = xstrdup(proto && *proto ? proto : "tcp");
                for (char *p = lower; *p; p++)
                        *p = (char) tolower((unsigned char) *p);
                if (!streq(lower, "tcp") && !streq(lower, "udp") && !streq(lower, "sctp"))
                        return ocid_error_msg(err, EINVAL, "pod port_mappings[%zu]: unknown protocol '%s'", i,
                                              proto);
                m = json_object_new_object();
                json_object_object_add(m, "hostPort", json_object_new_int64(host));
                json_object_object_add(m, "containerPort", json_object_new_int64(container));
                json_object_object_add(m, "protocol", json_object_new_string(lower));
                ip = ocid_json_get_string(e, "hostIP");
                if (ip && *ip)
                        json_object_object_add(m, "hostIP", json_object_new_string(ip));
                json_object_array_add(out, m);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* The capability arguments the pod gives (NULL members are absent). */
static int cni_pod_caps(const struct ocid_network_pod *pod, struct json_object **ret, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *caps = json_object_new_object();
        const char *v;
        int r;

        if ((v = CNI_POD(pod, port_mappings))) {
                struct json_object *pm = NULL;

                r = cni_port_mappings(v, &pm, err);
                if (r < 0)
                        return r;
                json_object_object_add(caps, "portMappings", pm);
        }
        if ((v = CNI_POD(pod, bandwidth))) {
                struct json_object *bw = NULL;

                r = cni_pod_json(v, "bandwidth", json_type_object, &bw, err);
                if (r < 0)
                        return r;
                json_object_object_add(caps, "bandwidth", bw);
        }
        if ((v = CNI_POD(pod, dns))) {
                struct json_object *dns = NULL;

                r = cni_pod_json(v, "dns", json_type_object, &dns, err);
                if (r < 0)
                        return r;
                json_object_object_add(caps, "dns", dns);
        }
        if ((v = CNI_POD(pod, cgroup_parent)))
                json_object_object_add(caps, "cgroupPath", json_object_new_string(v));
        *ret = TAKE_PTR(caps);
        return 0;
}

/* Fills a from the list (taken), for pod. */
static void cni_attach_init(struct cni_attach *a, const char *id, const char *ifname, struct json_object *list,
                            const char *args, struct json_object *caps, const char *netns)
{
        a->id = xstrdup(id);
        a->ifname = ifname;
        a->list = list;
        a->network = cni_list_name(list);
        a->version = cni_version_index(ocid_json_get_string(list, "cniVersion"));
        a->disable_check = json_object_get_boolean(json_object_object_get(list, "disableCheck"));
        a->args = xstrdup(args);
        a->caps = caps ? json_object_get(caps) : NULL;
        a->netns = xstrdup(netns ? netns : "");
}

/* The list that brings up "lo", in the network's version. */
static struct json_object *cni_loopback_list(int version)
{
        struct json_object *list = json_object_new_object(), *plugins = json_object_new_array();
        struct json_object *p = json_object_new_object();

        json_object_object_add(p, "type", json_object_new_string(CNI_LO_TYPE));
        json_object_array_add(plugins, p);
        json_object_object_add(list, "cniVersion", json_object_new_string(cni_versions[version]));
        json_object_object_add(list, "name", json_object_new_string(CNI_LO_NETWORK));
        json_object_object_add(list, "disableCheck", json_object_new_boolean(0));
        json_object_object_add(list, "plugins", plugins);
        return list;
}

/* Undoes attachments [0, n) in reverse order; those that fail to detach
 * keep their records, so that a later teardown retries. */
static void cni_undo(const struct cni_state *s, struct cni_attach *as, size_t n)
{
        for (size_t i = n; i-- > 0;) {
                _cleanup_error_ struct ocid_error *e = NULL;

                if (cni_chain_del(s, &as[i], &e) < 0 || cni_record_remove(s, &as[i], &e) < 0)
                        ocid_log(OCID_LOG_WARNING,
                                 "pod '%s': undoing network '%s' on %s failed, kept for teardown: %s",
                                 as[i].id, as[i].network, as[i].ifname, ocid_error_message(&e));
        }
}

/* The result the core sees: pod addresses (without prefix length; those of
 * host-side interfaces left out), IPv4 first. */
static int cni_result_summary(const struct cni_attach *a, char **ret, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *ifs = NULL, *ips = NULL, *dns = NULL;
        struct json_object *ifs_out = json_object_new_array(), *gws = json_object_new_array();
        _cleanup_strv_ char **v4 = NULL, **v6 = NULL;
        struct json_object *ips_out = json_object_new_array();
        const char *version = ocid_json_get_string(a->result, "cniVersion");
        size_t n_ifs = 0;

        json_object_object_add(o, "ips", ips_out);
        json_object_object_add(o, "gateways", gws);
        json_object_object_add(o, "interfaces", ifs_out);
        json_object_object_add(o, "network", json_object_new_string(a->network));
        json_object_object_add(o, "cni_version", json_object_new_string(version ? version
                                                                        : cni_versions[a->version]));

        if (json_object_object_get_ex(a->result, "interfaces", &ifs) && json_object_is_type(ifs, json_type_array)) {
                n_ifs = json_object_array_length(ifs);
                for (size_t i = 0; i < n_ifs; i++) {
                        struct json_object *in = json_object_array_get_idx(ifs, i), *out;
                        static const char *const keys[] = { "name", "mac", "sandbox" };

                        if (!json_object_is_type(in, json_type_object))
                                continue;
                        out = json_object_new_object();
                        for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                                const char *v = ocid_json_get_string(in, keys[k]);

                                if (v && *v)
                                        json_object_object_add(out, keys[k], json_object_new_string(v));
                        }
                        json_object_array_add(ifs_out, out);
                }
        }
        if (json_object_object_get_ex(a->result, "ips", &ips) && json_object_is_type(ips, json_type_array))
                for (size_t i = 0; i < json_object_array_length(ips); i++) {
                        struct json_object *e = json_object_array_get_idx(ips, i), *idx = NULL;
                        const char *addr = ocid_json_get_string(e, "address"), *gw, *slash;
                        unsigned char buf[sizeof(struct in6_addr)];
                        _cleanup_free_ char *ip = NULL;

                        if (!addr)
                                return ocid_error_msg(err, EPROTO, "CNI result of network '%s': ips[%zu] has no "
                                                      "address", a->network, i);
                        if (json_object_object_get_ex(e, "interface", &idx) &&
                            json_object_is_type(idx, json_type_int)) {
                                int64_t k = json_object_get_int64(idx);
                                const char *sandbox;

                                if (k >= 0 && (size_t) k < n_ifs) {
                                        sandbox = ocid_json_get_string(json_object_array_get_idx(ifs, (size_t) k),
                                                                       "sandbox");
                                        if (!sandbox || !*sandbox)
                                                continue;
                                }
                        }
                        slash = strchr(addr, '/');
                        ip = slash ? xstrndup(addr, (size_t) (slash - addr)) : xstrdup(addr);
                        if (inet_pton(AF_INET, ip, buf) == 1)
                                ocid_strv_push(&v4, ip);
                        else if (inet_pton(AF_INET6, ip, buf) == 1)
                                ocid_strv_push(&v6, ip);
                        else
                                return ocid_error_msg(err, EPROTO, "CNI result of network '%s': ips[%zu]: '%s' "
                                                      "is not an address", a->network, i, addr);
                        gw = ocid_json_get_string(e, "gateway");
                        if (gw && *gw) {
                                bool seen = false;

                                for (size_t g = 0; g < json_object_array_length(gws); g++)
                                        seen = seen || streq(json_object_get_string(json_object_array_get_idx(gws, g)), gw);
                                if (!seen)
                                        json_object_array_add(gws, json_object_new_string(gw));
                        }
                }
        for (size_t i = 0; v4 && v4[i]; i++)
                json_object_array_add(ips_out, json_object_new_string(v4[i]));
        for (size_t i = 0; v6 && v6[i]; i++)
                json_object_array_add(ips_out, json_object_new_string(v6[i]));
        if (json_object_object_get_ex(a->result, "dns", &dns) && json_object_is_type(dns, json_type_object) &&
            json_object_object_length(dns) > 0)
                json_object_object_add(o, "dns", json_object_get(dns));
        *ret = xstrdup(json_object_to_json_string_ext(o, CNI_JSON_FLAGS));
        return 0;
}

static int cni_pod_setup(void *state, const struct ocid_network_pod *pod, char **ret_result,
                         struct ocid_error **err)
{
        struct cni_state *s = state;
        _cleanup_(cni_conf_freep) struct cni_conf *conf = NULL;
        _cleanup_json_ struct json_object *caps = NULL, *list = NULL;
        _cleanup_free_ char *args = NULL;
        struct cni_attach as[2] = { { 0 } };
        const char *id, *netns;
        size_t n = 0, i, undo = 0;
        int r;

        r = cni_pod_id(pod, err);
        if (r < 0)
                return r;
        id = CNI_POD(pod, id);
        netns = CNI_POD(pod, netns_path);
        if (!netns || netns[0] != '/')
                return ocid_error_msg(err, EINVAL, "pod '%s': no absolute network namespace path", id);
        if (!cni_netns_alive(netns))
                return ocid_error_msg(err, access(netns, F_OK) < 0 ? ENOENT : EINVAL,
                                      "pod '%s': '%s' is not a network namespace", id, netns);
        r = cni_pod_args(pod, &args, err);
        if (r < 0)
                return r;
        r = cni_pod_caps(pod, &caps, err);
        if (r < 0)
                return r;
        r = cni_conf_get(s, &conf, err);
        if (r < 0)
                return r;
        list = json_tokener_parse(conf->text);
        if (!list)
                return ocid_error_msg(err, EIO, "cannot parse the normalised network list");

        if (s->loopback && !cni_list_has_type(list, CNI_LO_TYPE))
                cni_attach_init(&as[n++], id, CNI_LO_IFNAME,
                                cni_loopback_list(cni_version_index(ocid_json_get_string(list, "cniVersion"))),
                                args, NULL, netns);
        cni_attach_init(&as[n++], id, CNI_IFNAME, TAKE_PTR(list), args, caps, netns);

        for (i = 0; i < n; i++) {
                _cleanup_free_ char *path = cni_record_path(s, id, as[i].ifname);

                if (access(path, F_OK) == 0) {
                        r = ocid_error_msg(err, EEXIST, "pod '%s' is already attached to network '%s' on %s "
                                           "(see '%s'); tear it down first", id, as[i].network, as[i].ifname,
                                           path);
                        goto out;
                }
        }
        /* Every plugin must be there before anything runs. */
        for (i = 0; i < n; i++)
                for (size_t k = 0; k < json_object_array_length(cni_list_plugins(as[i].list)); k++) {
                        const char *type = cni_plugin_type(as[i].list, k);
                        _cleanup_free_ char *path = cni_find_plugin(s, type);

                        if (!path) {
                                _cleanup_free_ char *dirs = cni_join(s->bin_dirs, ":");

                                r = ocid_error_msg(err, ENOENT, "add pod '%s' to network '%s': CNI plugin '%s' "
                                                   "not found in %s", id, as[i].network, type, dirs);
                                goto out;
                        }
                }
        r = ocid_mkdir_p(s->cache_dir, 0700, err);
        if (r < 0)
                goto out;

        for (i = 0, undo = 0; i < n; i++, undo = i) {
                r = cni_record_write(s, &as[i], err);
                if (r < 0)
                        break;
                /* From here on, as[i] is undone too on failure: the plugins
                 * before a failing one did their part. */
                undo = i + 1;
                r = cni_chain_add(s, &as[i], err);
                if (r >= 0)
                        r = cni_record_write(s, &as[i], err);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                r = ocid_error_prefix(err, "add pod '%s' to network '%s'", id, as[i].network);
                cni_undo(s, as, undo);
                goto out;
        }
        r = cni_result_summary(&as[n - 1], ret_result, err);
        if (r < 0)
                cni_undo(s, as, n);
out:
        for (i = 0; i < n; i++)
                cni_attach_done(&as[i]);
        return r;
}

/* The netns for DEL/CHECK: the core's path, else the recorded one; "" when
 * it is gone (plugins then release what they can without it). */
static void cni_attach_netns(struct cni_attach *a, const struct ocid_network_pod *pod)
{
        const char *given = CNI_POD(pod, netns_path);
        char *use = xstrdup(given ? given : a->netns);

        free(a->netns);
        a->netns = cni_netns_alive(use) ? use : (free(use), xstrdup(""));
}

/* Detaches (id, ifname). A missing record means not attached. An unusable
 * record is replaced by the current configuration (or for "lo" the
 * loopback list), so that DEL still runs and releases addresses. */
static int cni_teardown_one(struct cni_state *s, const struct ocid_network_pod *pod, const char *ifname,
                            struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct cni_attach a = { 0 };
        const char *id = CNI_POD(pod, id);
        int r;

        r = cni_record_read(s, id, ifname, &a, &e);
        if (r == -ENOENT) {
                cni_record_remove_temps(s, id, ifname);
                return 0;
        }
        if (r < 0) {
                _cleanup_(cni_conf_freep) struct cni_conf *conf = NULL;
                _cleanup_error_ struct ocid_error *ce = NULL;
                _cleanup_free_ char *args = NULL;
                struct json_object *list;

                cni_attach_done(&a);
                r = cni_pod_args(pod, &args, err);
                if (r < 0)
                        return r;
                if (streq(ifname, CNI_LO_IFNAME))
                        list = cni_loopback_list(cni_version_index("1.0.0"));
                else if (cni_conf_get(s, &conf, &ce) >= 0)
                        list = json_tokener_parse(conf->text);
                else
                        return ocid_error_msg(err, EINVAL, "%s, and the current network configuration is "
                                              "unusable too: %s", ocid_error_message(&e), ocid_error_message(&ce));
                ocid_log(OCID_LOG_WARNING, "pod '%s': %s; detaching %s with network '%s' instead",
                         id, ocid_error_message(&e), ifname, cni_list_name(list));
                cni_attach_init(&a, id, streq(ifname, CNI_LO_IFNAME) ? CNI_LO_IFNAME : CNI_IFNAME, list, args,
                                NULL, NULL);
        }
        cni_attach_netns(&a, pod);
        r = cni_chain_del(s, &a, err);
        if (r < 0)
                r = ocid_error_prefix(err, "remove pod '%s' from network '%s'", id, a.network);
        else
                r = cni_record_remove(s, &a, err);
        cni_attach_done(&a);
        return r;
}

static int cni_pod_teardown(void *state, const struct ocid_network_pod *pod, struct ocid_error **err)
{
        int r;

        r = cni_pod_id(pod, err);
        if (r < 0)
                return r;
        /* Reverse order of setup: the network, then "lo". */
        r = cni_teardown_one(state, pod, CNI_IFNAME, err);
        if (r < 0)
                return r;
        return cni_teardown_one(state, pod, CNI_LO_IFNAME, err);
}

/* Checks (id, ifname): 1 checked, 0 not checkable (before 0.4.0, or
 * disableCheck), -ENOENT when not attached. */
static int cni_check_one(struct cni_state *s, const struct ocid_network_pod *pod, const char *ifname,
                         struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct cni_attach a = { 0 };
        const char *id = CNI_POD(pod, id);
        int r;

        r = cni_record_read(s, id, ifname, &a, &e);
        if (r == -ENOENT)
                r = ocid_error_msg(err, ENOENT, "pod '%s' is not attached to a network on %s", id, ifname);
        else if (r < 0) {
                r = ocid_error_code(&e);
                if (err)
                        *err = TAKE_PTR(e);
                r = -r;
        } else if (r >= 0 && !a.result)
                r = ocid_error_msg(err, EIO, "pod '%s': the network setup on %s did not complete", id, ifname);
        else if (r >= 0 && (a.version < CNI_VERSION_CHECK || a.disable_check))
                r = 0;
        else if (r >= 0) {
                cni_attach_netns(&a, pod);
                if (!*a.netns)
                        r = ocid_error_msg(err, ENOENT, "pod '%s': its network namespace is gone", id);
                else if ((r = cni_chain_check(s, &a, err)) < 0)
                        r = ocid_error_prefix(err, "check pod '%s' on network '%s'", id, a.network);
                else
                        r = 1;
        }
        cni_attach_done(&a);
        return r;
}

static int cni_pod_check(void *state, const struct ocid_network_pod *pod, struct ocid_error **err)
{
        _cleanup_free_ char *lo = NULL;
        struct cni_state *s = state;
        int r;

        r = cni_pod_id(pod, err);
        if (r < 0)
                return r;
        lo = cni_record_path(s, CNI_POD(pod, id), CNI_LO_IFNAME);
        if (access(lo, F_OK) == 0) {
                r = cni_check_one(s, pod, CNI_LO_IFNAME, err);
                if (r < 0)
                        return r;
        }
        return cni_check_one(s, pod, CNI_IFNAME, err);
}

static const struct ocid_network_ops cni_ops = {
        .base = {
                .init = cni_init,
                .fini = cni_fini,
                .check = cni_check,
                .status = cni_status,
                .info = cni_info,
        },
        .pod_setup = cni_pod_setup,
        .pod_teardown = cni_pod_teardown,
        .pod_check = cni_pod_check,
};

OCID_MODULE_DEFINE(net_cni, "net-cni", OCID_MODULE_KIND_NETWORK, &cni_ops);
