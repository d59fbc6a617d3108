/* SPDX-License-Identifier: Apache-2.0 */
/* net-cni: pod networking through CNI plugins. This minor implements the
 * module's life and NetworkReady: the network is ready when the first CNI
 * configuration file (in lexical order) of conf_dir is valid and every
 * plugin it names is found in bin_dirs. Status rescans on every call, so a
 * configuration that appears later is noticed. */

#define OCID_LOG_CATEGORY "net-cni"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

#define CNI_NOT_READY "NetworkPluginNotReady"
#define CNI_MAX_CONFIG (1 << 20)

struct cni_state {
        char *conf_dir;
        char **bin_dirs;
};

/* What a scan of conf_dir found. reason is NULL when the network is ready. */
struct cni_scan {
        char *file;             /* the configuration in use, or NULL */
        char *network;          /* its network name */
        char **plugins;         /* its plugin types, in order */
        char *reason;
        char *message;
};

static void cni_state_free(struct cni_state *s)
{
        if (!s)
                return;
        free(s->conf_dir);
        ocid_strv_free(s->bin_dirs);
        free(s);
}
OCID_DEFINE_CLEANUP_FUNC(struct cni_state *, cni_state_free)

static void cni_scan_done(struct cni_scan *scan)
{
        free(scan->file);
        free(scan->network);
        ocid_strv_free(scan->plugins);
        free(scan->reason);
        free(scan->message);
        memset(scan, 0, sizeof(*scan));
}

static const char *const cni_keys[] = { "conf_dir", "bin_dirs", NULL };

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
        return 0;
}

static struct cni_state *cni_state_new(void)
{
        static const char *const default_bin_dirs[] = { "/opt/cni/bin", "/usr/lib/cni", NULL };
        struct cni_state *s = xzalloc(sizeof(*s));

        s->conf_dir = xstrdup("/etc/cni/net.d");
        s->bin_dirs = ocid_strv_copy(default_bin_dirs);
        return s;
}

static int cni_check(const config_setting_t *cfg, struct ocid_error **err)
{
        _cleanup_(cni_state_freep) struct cni_state *s = cni_state_new();

        return cni_parse(cfg, s, err);
}

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

/* Records why the network is not ready; returns 0 ("not ready"). */
static int cni_not_ready(struct cni_scan *scan, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int cni_not_ready(struct cni_scan *scan, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&scan->message, fmt, ap) < 0)
                scan->message = NULL;
        va_end(ap);
        if (!scan->message)
                scan->message = xstrdup("CNI network is not ready");
        scan->reason = xstrdup(CNI_NOT_READY);
        return 0;
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

/* Reads the network name and plugin types of one configuration: a
 * .conflist has "name" and "plugins" (each with "type"); a .conf or .json
 * is a single plugin's configuration with "name" and "type" (or a list, when
 * it has "plugins"). Returns 1, or 0 (not ready) when anything is missing. */
static int cni_read_config(const char *path, struct cni_scan *scan)
{
        _cleanup_json_ struct json_object *root = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct json_object *plugins = NULL;
        const char *name;

        if (ocid_json_read_file(path, CNI_MAX_CONFIG, &root, &e) < 0)
                return cni_not_ready(scan, "invalid CNI configuration: %s", ocid_error_message(&e));
        if (!json_object_is_type(root, json_type_object))
                return cni_not_ready(scan, "CNI configuration '%s' is not a JSON object", path);
        name = ocid_json_get_string(root, "name");
        if (!name || !*name)
                return cni_not_ready(scan, "CNI configuration '%s' has no network name", path);
        scan->network = xstrdup(name);

        if (json_object_object_get_ex(root, "plugins", &plugins)) {
                size_t n;

                if (!json_object_is_type(plugins, json_type_array) ||
                    (n = json_object_array_length(plugins)) == 0)
                        return cni_not_ready(scan, "CNI configuration '%s' has no plugins", path);
                for (size_t i = 0; i < n; i++) {
                        struct json_object *p = json_object_array_get_idx(plugins, i);
                        const char *type = json_object_is_type(p, json_type_object)
                                ? ocid_json_get_string(p, "type") : NULL;

                        if (!type || !*type)
                                return cni_not_ready(scan, "CNI configuration '%s': plugin %zu has no type",
                                                     path, i);
                        ocid_strv_push(&scan->plugins, type);
                }
        } else {
                const char *type = ocid_json_get_string(root, "type");

                if (ocid_endswith(path, ".conflist"))
                        return cni_not_ready(scan, "CNI configuration '%s' has no plugins", path);
                if (!type || !*type)
                        return cni_not_ready(scan, "CNI configuration '%s' has no plugin type", path);
                ocid_strv_push(&scan->plugins, type);
        }
        return 1;
}

/* True when bin_dirs hold an executable regular file named type. */
static bool cni_find_plugin(const struct cni_state *s, const char *type)
{
        if (strchr(type, '/') || streq(type, ".") || streq(type, ".."))
                return false;
        for (size_t i = 0; s->bin_dirs[i]; i++) {
                _cleanup_free_ char *p = ocid_path_join(s->bin_dirs[i], type);
                struct stat st;

                if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
                        return true;
        }
        return false;
}

/* Returns 1 when the network is ready, else 0 with scan->reason set. */
static int cni_scan(const struct cni_state *s, struct cni_scan *scan)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_strv_ char **names = NULL;

        memset(scan, 0, sizeof(*scan));
        if (cni_list_configs(s->conf_dir, &names, &e) < 0) {
                if (ocid_error_code(&e) == ENOENT)
                        return cni_not_ready(scan, "no CNI configuration file in %s", s->conf_dir);
                return cni_not_ready(scan, "cannot read the CNI configuration directory: %s",
                                     ocid_error_message(&e));
        }
        if (!names || !names[0])
                return cni_not_ready(scan, "no CNI configuration file in %s", s->conf_dir);

        scan->file = ocid_path_join(s->conf_dir, names[0]);
        if (!cni_read_config(scan->file, scan))
                return 0;

        for (size_t i = 0; scan->plugins[i]; i++)
                if (!cni_find_plugin(s, scan->plugins[i])) {
                        _cleanup_free_ char *dirs = NULL;

                        for (size_t j = 0; s->bin_dirs[j]; j++) {
                                char *next = xasprintf("%s%s%s", dirs ? dirs : "", dirs ? ":" : "",
                                                       s->bin_dirs[j]);
                                free(dirs);
                                dirs = next;
                        }
                        return cni_not_ready(scan, "CNI plugin '%s' of network '%s' (%s) not found in %s",
                                             scan->plugins[i], scan->network, scan->file, dirs);
                }
        return 1;
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
        struct cni_scan scan;

        cni_scan(s, &scan);
        json_object_object_add(o, "conf_dir", json_object_new_string(s->conf_dir));
        json_object_object_add(o, "bin_dirs", cni_json_strv(s->bin_dirs));
        json_object_object_add(o, "config_file", scan.file ? json_object_new_string(scan.file) : NULL);
        json_object_object_add(o, "network", scan.network ? json_object_new_string(scan.network) : NULL);
        json_object_object_add(o, "plugins", cni_json_strv(scan.plugins));
        json_object_object_add(o, "ready", json_object_new_boolean(!scan.reason));
        cni_scan_done(&scan);
        *ret_json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

static const struct ocid_network_ops cni_ops = {
        .base = {
                .init = cni_init,
                .fini = cni_fini,
                .check = cni_check,
                .status = cni_status,
                .info = cni_info,
        },
};

OCID_MODULE_DEFINE(net_cni, "net-cni", OCID_MODULE_KIND_NETWORK, &cni_ops);
