/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration: built-in defaults, then crio.conf, then the drop-ins of
 * crio.conf.d in lexical order. Each file is parsed with libconfig and applied
 * onto the configuration built so far, key by key, checking every value as it
 * goes, so that an error names the file and line the operator wrote. */

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h> /* dirname */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/setting.h>
#include <ocid/util.h>

#include "config.h"

static const char *const log_levels[] = { "error", "warning", "info", "debug", "trace", NULL };
static const char *const cgroup_managers[] = { "cgroupfs", "systemd", NULL };
static const char *const infra_modes[] = { "when-needed", "always", NULL };

static const char *const top_keys[] = {
        "root", "runroot", "listen", "log_level", "modules_dir", "conmon",
        "cgroup_manager", "storage", "network", "security", "default_runtime",
        "runtimes", "image", "stream", "max_message_size", "modules", NULL,
};
static const char *const runtime_keys[] = { "module", "path", "root", NULL };
static const char *const image_keys[] = {
        "unqualified_search_registries", "insecure_registries", "mirrors",
        "pause_image", "infra", "pull_progress_timeout", NULL,
};
static const char *const mirror_keys[] = { "registry", "locations", NULL };
static const char *const stream_keys[] = { "address", "port", NULL };

#define LISTEN_NAME "ocid.sock"

/* ---- small helpers ------------------------------------------------------ */

static char **strv_new_empty(void)
{
        return xzalloc(sizeof(char *));
}

static bool strv_equal(char *const *a, char *const *b)
{
        size_t n = ocid_strv_length(a);

        if (n != ocid_strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

static bool str_in(const char *s, const char *const *set)
{
        for (; *set; set++)
                if (streq(s, *set))
                        return true;
        return false;
}

/* "a, b, c" for messages. */
static char *join_set(const char *const *set)
{
        size_t len = 1;
        char *s;

        for (const char *const *i = set; *i; i++)
                len += strlen(*i) + 2;
        s = xzalloc(len);
        for (const char *const *i = set; *i; i++) {
                if (i != set)
                        strcat(s, ", ");
                strcat(s, *i);
        }
        return s;
}

static char *setting_origin(const config_setting_t *s)
{
        const char *file = config_setting_source_file(s);

        return xasprintf("%s:%u", file ? file : "(unknown)", config_setting_source_line(s));
}

static bool is_absolute(const char *p)
{
        return p[0] == '/';
}

bool config_module_name_is_valid(const char *name)
{
        if (!name || !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
                return false;
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
                        return false;
        return true;
}

/* A runtime handler is named by RuntimeClass.handler, which Kubernetes
 * restricts to a DNS label (RFC 1123). */
static bool handler_name_is_valid(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > 63 || name[0] == '-' || name[n - 1] == '-')
                return false;
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
                        return false;
        return true;
}

static int check_search_path(const char *v, char **ret_bad)
{
        const char *p = v;

        for (;;) {
                const char *end = strchrnul(p, ':');

                if (end == p || *p != '/') {
                        *ret_bad = xstrndup(p, (size_t) (end - p));
                        return -EINVAL;
                }
                if (!*end)
                        return 0;
                p = end + 1;
        }
}

/* ---- defaults and lifetime ---------------------------------------------- */

static void runtime_done(struct config_runtime *r)
{
        free(r->name);
        free(r->module);
        free(r->path);
        free(r->root);
        free(r->origin);
}

static void mirror_done(struct config_mirror *m)
{
        free(m->registry);
        ocid_strv_free(m->locations);
}

static void mirrors_free(struct config_mirror *m, size_t n)
{
        for (size_t i = 0; i < n; i++)
                mirror_done(&m[i]);
        free(m);
}

static void runtime_add(struct ocid_config *c, const char *name, const char *module,
                        const char *path, const char *root, char *origin)
{
        struct config_runtime *r;

        c->runtimes = xreallocarray(c->runtimes, c->n_runtimes + 1, sizeof(*c->runtimes));
        r = &c->runtimes[c->n_runtimes++];
        r->name = xstrdup(name);
        r->module = xstrdup(module);
        r->path = xstrdup(path);
        r->root = xstrdup(root);
        r->origin = origin;
}

struct ocid_config *config_new_default(void)
{
        static const char *const security[] = { "sec-seccomp", "sec-apparmor", "sec-selinux", NULL };
        static const char *const search[] = { "docker.io", NULL };
        struct ocid_config *c = xzalloc(sizeof(*c));

        c->root = xstrdup("/var/lib/ocid");
        c->runroot = xstrdup("/run/ocid");
        c->listen = xstrdup("/run/ocid/" LISTEN_NAME);
        c->log_level = xstrdup("info");
        c->modules_dir = xstrdup(OCID_MODULEDIR);
        c->conmon = xstrdup("/usr/bin/conmon");
        c->cgroup_manager = xstrdup("cgroupfs");
        c->storage = xstrdup("storage-overlay");
        c->network = xstrdup("net-cni");
        c->security = ocid_strv_copy(security);
        c->default_runtime = xstrdup("runc");
        runtime_add(c, "runc", "oci-runc", "/usr/sbin/runc", "/run/runc", NULL);
        runtime_add(c, "crun", "oci-crun", "/usr/bin/crun", "/run/crun", NULL);
        c->image.unqualified_search_registries = ocid_strv_copy(search);
        c->image.insecure_registries = strv_new_empty();
        c->image.pause_image = xstrdup("");
        c->image.infra = xstrdup("when-needed");
        c->image.pull_progress_timeout = 60;
        c->stream.address = xstrdup("127.0.0.1");
        c->stream.port = 0;
        c->max_message_size = 16 * 1024 * 1024;
        return c;
}

struct ocid_config *config_free(struct ocid_config *c)
{
        if (!c)
                return NULL;
        free(c->root);
        free(c->runroot);
        free(c->listen);
        free(c->log_level);
        free(c->modules_dir);
        free(c->conmon);
        free(c->cgroup_manager);
        free(c->storage);
        free(c->network);
        ocid_strv_free(c->security);
        free(c->default_runtime);
        free(c->default_runtime_origin);
        for (size_t i = 0; i < c->n_runtimes; i++)
                runtime_done(&c->runtimes[i]);
        free(c->runtimes);
        ocid_strv_free(c->image.unqualified_search_registries);
        ocid_strv_free(c->image.insecure_registries);
        mirrors_free(c->image.mirrors, c->image.n_mirrors);
        free(c->image.pause_image);
        free(c->image.infra);
        free(c->stream.address);
        for (size_t i = 0; i < c->n_module_groups; i++)
                free(c->module_groups[i].name);
        free(c->module_groups);
        for (size_t i = 0; i < c->n_files; i++) {
                if (c->files[i]) {
                        config_destroy(c->files[i]);
                        free(c->files[i]);
                }
                free(c->file_names[i]);
        }
        free(c->files);
        free(c->file_names);
        free(c);
        return NULL;
}

static void config_tp_free(config_t *cf)
{
        config_destroy(cf);
        free(cf);
}
OCID_DEFINE_CLEANUP_FUNC(config_t *, config_tp_free)

const config_setting_t *config_module_setting(const struct ocid_config *c, const char *name)
{
        for (size_t i = 0; i < c->n_module_groups; i++)
                if (streq(c->module_groups[i].name, name))
                        return c->module_groups[i].setting;
        return NULL;
}

const struct config_runtime *config_find_runtime(const struct ocid_config *c, const char *name)
{
        for (size_t i = 0; i < c->n_runtimes; i++)
                if (streq(c->runtimes[i].name, name))
                        return &c->runtimes[i];
        return NULL;
}

/* ---- reading values ------------------------------------------------------ */

static bool expect_group(const config_setting_t *s, struct ocid_error **err, int *r)
{
        if (config_setting_is_group(s))
                return true;
        *r = ocid_setting_error(s, err, "expected a group { ... }");
        return false;
}

/* The optional group `name` of top: 1 with *ret set when top has it, 0 when
 * it does not, or the error of a member that is not a group. */
static int get_group(const config_setting_t *top, const char *name, const config_setting_t **ret,
                     struct ocid_error **err)
{
        const config_setting_t *g = config_setting_get_member(top, name);
        int r;

        if (!g)
                return 0;
        if (!expect_group(g, err, &r))
                return r;
        *ret = g;
        return 1;
}

/* Reads an optional string member into *field (replacing it) after check()
 * accepts it. check returns NULL or a message (owned) saying what is wrong. */
typedef char *(*value_check_fn)(const char *v, const void *arg);

static int get_checked_string(const config_setting_t *g, const char *key, value_check_fn check,
                              const void *arg, char **field, struct ocid_error **err)
{
        const config_setting_t *s = config_setting_get_member(g, key);
        _cleanup_free_ char *v = NULL;
        _cleanup_free_ char *why = NULL;
        int r;

        if (!s)
                return 0;
        r = ocid_setting_get_string(g, key, &v, err);
        if (r < 0)
                return r;
        if (check) {
                why = check(v, arg);
                if (why)
                        return ocid_setting_error(s, err, "%s", why);
        }
        free(*field);
        *field = TAKE_PTR(v);
        return 1;
}

static char *check_absolute(const char *v, const void *arg)
{
        return is_absolute(v) ? NULL : xasprintf("'%s' is not an absolute path", v);
}

static char *check_nonempty(const char *v, const void *arg)
{
        return v[0] ? NULL : xstrdup("must not be empty");
}

static char *check_module_name(const char *v, const void *arg)
{
        if (config_module_name_is_valid(v))
                return NULL;
        return xasprintf("'%s' is not a valid module name (a file stem: [a-z0-9][a-z0-9-]*)", v);
}

static char *check_enum(const char *v, const void *arg)
{
        const char *const *set = arg;
        _cleanup_free_ char *list = NULL;

        if (str_in(v, set))
                return NULL;
        list = join_set(set);
        return xasprintf("'%s' is not one of: %s", v, list);
}

static char *check_search_path_value(const char *v, const void *arg)
{
        _cleanup_free_ char *bad = NULL;

        if (check_search_path(v, &bad) >= 0)
                return NULL;
        if (!bad[0])
                return xasprintf("'%s' has an empty entry", v);
        return xasprintf("entry '%s' is not an absolute path", bad);
}

static int get_int_range(const config_setting_t *g, const char *key, int64_t min, int64_t max,
                         int64_t *field, struct ocid_error **err)
{
        const config_setting_t *s = config_setting_get_member(g, key);
        int64_t v = 0;
        int r;

        if (!s)
                return 0;
        r = ocid_setting_get_int64(g, key, &v, err);
        if (r < 0)
                return r;
        if (v < min || v > max)
                return ocid_setting_error(s, err, "%" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")",
                                          v, min, max);
        *field = v;
        return 1;
}

/* An array of strings, each accepted by check, optionally without
 * duplicates. Replaces *field. */
static int get_checked_strv(const config_setting_t *g, const char *key, value_check_fn check,
                            bool unique, char ***field, struct ocid_error **err)
{
        const config_setting_t *s = config_setting_get_member(g, key);
        _cleanup_strv_ char **v = NULL;
        int r;

        if (!s)
                return 0;
        r = ocid_setting_get_strv(g, key, &v, err);
        if (r < 0)
                return r;
        if (!v)
                v = strv_new_empty();
        for (size_t i = 0; v[i]; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                _cleanup_free_ char *why = check ? check(v[i], NULL) : NULL;

                if (why)
                        return ocid_setting_error(e ? e : s, err, "%s", why);
                if (unique)
                        for (size_t j = 0; j < i; j++)
                                if (streq(v[i], v[j]))
                                        return ocid_setting_error(e ? e : s, err, "'%s' is listed twice", v[i]);
        }
        ocid_strv_free(*field);
        *field = TAKE_PTR(v);
        return 1;
}

/* ---- applying one file ---------------------------------------------------- */

struct load_state {
        bool listen_set;
};

static int apply_runtime(struct ocid_config *c, const config_setting_t *s, struct ocid_error **err)
{
        const char *name = config_setting_name(s);
        _cleanup_free_ char *module = NULL, *path = NULL, *root = NULL;
        struct config_runtime *old;
        int r;

        if (!expect_group(s, err, &r))
                return r;
        if (!handler_name_is_valid(name))
                return ocid_setting_error(s, err, "'%s' is not a valid runtime handler name "
                                          "(a DNS label: [a-z0-9-], at most 63, no '-' at either end)", name);
        r = ocid_setting_check_keys(s, runtime_keys, err);
        if (r < 0)
                return r;
        r = get_checked_string(s, "module", check_module_name, NULL, &module, err);
        if (r < 0)
                return r;
        if (r == 0)
                return ocid_setting_error(s, err, "missing required key 'module'");
        r = get_checked_string(s, "path", check_absolute, NULL, &path, err);
        if (r < 0)
                return r;
        if (r == 0)
                return ocid_setting_error(s, err, "missing required key 'path'");
        r = get_checked_string(s, "root", check_absolute, NULL, &root, err);
        if (r < 0)
                return r;
        if (r == 0)
                root = xasprintf("/run/%s", name);

        old = (struct config_runtime *) config_find_runtime(c, name);
        if (old) {
                runtime_done(old);
                old->name = xstrdup(name);
                old->module = TAKE_PTR(module);
                old->path = TAKE_PTR(path);
                old->root = TAKE_PTR(root);
                old->origin = setting_origin(s);
        } else
                runtime_add(c, name, module, path, root, setting_origin(s));
        return 0;
}

static int apply_runtimes(struct ocid_config *c, const config_setting_t *top, struct ocid_error **err)
{
        const config_setting_t *g = NULL;
        int r;

        r = get_group(top, "runtimes", &g, err);
        if (r <= 0)
                return r;
        for (int i = 0; i < config_setting_length(g); i++) {
                r = apply_runtime(c, config_setting_get_elem(g, (unsigned) i), err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_mirror(const config_setting_t *s, struct config_mirror *m, struct ocid_error **err)
{
        int r;

        if (!expect_group(s, err, &r))
                return r;
        r = ocid_setting_check_keys(s, mirror_keys, err);
        if (r < 0)
                return r;
        r = get_checked_string(s, "registry", check_nonempty, NULL, &m->registry, err);
        if (r < 0)
                return r;
        if (r == 0)
                return ocid_setting_error(s, err, "missing required key 'registry'");
        m->locations = strv_new_empty();
        r = get_checked_strv(s, "locations", check_nonempty, true, &m->locations, err);
        return r < 0 ? r : 0;
}

static int apply_mirrors(struct ocid_config *c, const config_setting_t *g, struct ocid_error **err)
{
        const config_setting_t *s = config_setting_get_member(g, "mirrors");
        struct config_mirror *mirrors = NULL;
        size_t n = 0;
        int r = 0;

        if (!s)
                return 0;
        /* `mirrors = [];` is an empty array to libconfig; accept it as "none". */
        if (!config_setting_is_list(s) && !(config_setting_is_array(s) && config_setting_length(s) == 0))
                return ocid_setting_error(s, err, "expected a list of groups ( { registry = ...; }, ... )");

        for (int i = 0; i < config_setting_length(s); i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);

                mirrors = xreallocarray(mirrors, n + 1, sizeof(*mirrors));
                memset(&mirrors[n], 0, sizeof(*mirrors));
                r = parse_mirror(e, &mirrors[n++], err);
                if (r < 0)
                        break;
                for (size_t j = 0; j + 1 < n; j++)
                        if (streq(mirrors[j].registry, mirrors[n - 1].registry)) {
                                r = ocid_setting_error(e, err, "registry '%s' has two mirror entries",
                                                       mirrors[j].registry);
                                break;
                        }
                if (r < 0)
                        break;
        }
        if (r < 0) {
                mirrors_free(mirrors, n);
                return r;
        }
        mirrors_free(c->image.mirrors, c->image.n_mirrors);
        c->image.mirrors = mirrors;
        c->image.n_mirrors = n;
        return 0;
}

static int apply_image(struct ocid_config *c, const config_setting_t *top, struct ocid_error **err)
{
        const config_setting_t *g = NULL;
        int r;

        r = get_group(top, "image", &g, err);
        if (r <= 0)
                return r;
        r = ocid_setting_check_keys(g, image_keys, err);
        if (r < 0)
                return r;
        r = get_checked_strv(g, "unqualified_search_registries", check_nonempty, true,
                             &c->image.unqualified_search_registries, err);
        if (r < 0)
                return r;
        r = get_checked_strv(g, "insecure_registries", check_nonempty, true,
                             &c->image.insecure_registries, err);
        if (r < 0)
                return r;
        r = apply_mirrors(c, g, err);
        if (r < 0)
                return r;
        r = get_checked_string(g, "pause_image", NULL, NULL, &c->image.pause_image, err);
        if (r < 0)
                return r;
        r = get_checked_string(g, "infra", check_enum, infra_modes, &c->image.infra, err);
        if (r < 0)
                return r;
        r = get_int_range(g, "pull_progress_timeout", 0, INT64_MAX, &c->image.pull_progress_timeout, err);
        return r < 0 ? r : 0;
}

static int apply_stream(struct ocid_config *c, const config_setting_t *top, struct ocid_error **err)
{
        const config_setting_t *g = NULL;
        int r;

        r = get_group(top, "stream", &g, err);
        if (r <= 0)
                return r;
        r = ocid_setting_check_keys(g, stream_keys, err);
        if (r < 0)
                return r;
        r = get_checked_string(g, "address", check_nonempty, NULL, &c->stream.address, err);
        if (r < 0)
                return r;
        r = get_int_range(g, "port", 0, 65535, &c->stream.port, err);
        return r < 0 ? r : 0;
}

static int apply_modules(struct ocid_config *c, const config_setting_t *top, struct ocid_error **err)
{
        const config_setting_t *g = NULL;
        int r;

        r = get_group(top, "modules", &g, err);
        if (r <= 0)
                return r;
        for (int i = 0; i < config_setting_length(g); i++) {
                const config_setting_t *s = config_setting_get_elem(g, (unsigned) i);
                const char *name = config_setting_name(s);
                size_t k;

                if (!expect_group(s, err, &r))
                        return r;
                if (!config_module_name_is_valid(name))
                        return ocid_setting_error(s, err, "'%s' is not a valid module name "
                                                  "(a file stem: [a-z0-9][a-z0-9-]*)", name);
                /* Taken whole from the last file that defines it. */
                for (k = 0; k < c->n_module_groups; k++)
                        if (streq(c->module_groups[k].name, name))
                                break;
                if (k == c->n_module_groups) {
                        c->module_groups = xreallocarray(c->module_groups, k + 1, sizeof(*c->module_groups));
                        c->module_groups[k].name = xstrdup(name);
                        c->n_module_groups++;
                }
                c->module_groups[k].setting = s;
        }
        return 0;
}

static int apply_file(struct ocid_config *c, struct load_state *st, const config_t *cf,
                      struct ocid_error **err)
{
        const config_setting_t *top = config_root_setting(cf);
        const config_setting_t *s;
        int r;

        r = ocid_setting_check_keys(top, top_keys, err);
        if (r < 0)
                return r;
        if ((r = get_checked_string(top, "root", check_absolute, NULL, &c->root, err)) < 0 ||
            (r = get_checked_string(top, "runroot", check_absolute, NULL, &c->runroot, err)) < 0)
                return r;
        r = get_checked_string(top, "listen", check_absolute, NULL, &c->listen, err);
        if (r < 0)
                return r;
        if (r > 0)
                st->listen_set = true;
        if ((r = get_checked_string(top, "log_level", check_enum, log_levels, &c->log_level, err)) < 0 ||
            (r = get_checked_string(top, "modules_dir", check_search_path_value, NULL, &c->modules_dir, err)) < 0 ||
            (r = get_checked_string(top, "conmon", check_absolute, NULL, &c->conmon, err)) < 0 ||
            (r = get_checked_string(top, "cgroup_manager", check_enum, cgroup_managers, &c->cgroup_manager, err)) < 0 ||
            (r = get_checked_string(top, "storage", check_module_name, NULL, &c->storage, err)) < 0 ||
            (r = get_checked_string(top, "network", check_module_name, NULL, &c->network, err)) < 0 ||
            (r = get_checked_strv(top, "security", check_module_name, true, &c->security, err)) < 0)
                return r;
        r = get_checked_string(top, "default_runtime", check_nonempty, NULL, &c->default_runtime, err);
        if (r < 0)
                return r;
        if (r > 0) {
                s = config_setting_get_member(top, "default_runtime");
                free(c->default_runtime_origin);
                c->default_runtime_origin = setting_origin(s);
        }
        if ((r = apply_runtimes(c, top, err)) < 0 ||
            (r = apply_image(c, top, err)) < 0 ||
            (r = apply_stream(c, top, err)) < 0 ||
            (r = get_int_range(top, "max_message_size", CONFIG_MESSAGE_SIZE_MIN, CONFIG_MESSAGE_SIZE_MAX,
                               &c->max_message_size, err)) < 0 ||
            (r = apply_modules(c, top, err)) < 0)
                return r;
        return 0;
}

/* Parses path into a new config_t. Returns -ENOENT (with an error) when the
 * file does not exist. */
static int parse_file(const char *path, config_t **ret, struct ocid_error **err)
{
        _cleanup_(config_tp_freep) config_t *cf = NULL;
        _cleanup_free_ char *dir_buf = xstrdup(path);
        struct stat st;

        if (stat(path, &st) < 0)
                return ocid_error_set(err, errno, "read configuration '%s'", path);
        if (S_ISDIR(st.st_mode))
                return ocid_error_set(err, EISDIR, "read configuration '%s'", path);

        cf = xmalloc(sizeof(*cf));
        config_init(cf);
        /* @include "x" is relative to the including file's directory. */
        config_set_include_dir(cf, dirname(dir_buf));
        if (config_read_file(cf, path) != CONFIG_TRUE) {
                const char *file = config_error_file(cf);

                if (config_error_type(cf) == CONFIG_ERR_FILE_IO)
                        return ocid_error_msg(err, EIO, "%s: %s", file ? file : path, config_error_text(cf));
                return ocid_error_msg(err, EINVAL, "%s:%d: %s", file ? file : path,
                                      config_error_line(cf), config_error_text(cf));
        }
        *ret = TAKE_PTR(cf);
        return 0;
}

static int strcmp_ptr(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The *.conf regular files (or links to them) of dir, sorted with strcmp.
 * A missing directory has none. */
static int list_dropins(const char *dir, char ***ret, struct ocid_error **err)
{
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_ char **names = strv_new_empty();
        size_t n = 0;
        struct dirent *de;

        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT) {
                        *ret = TAKE_PTR(names);
                        return 0;
                }
                return ocid_error_set(err, errno, "open drop-in directory '%s'", dir);
        }
        for (;;) {
                struct stat st;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno)
                                return ocid_error_set(err, errno, "read drop-in directory '%s'", dir);
                        break;
                }
                /* Hidden files are skipped, as a shell's *.conf would. */
                if (de->d_name[0] == '.' || !ocid_endswith(de->d_name, ".conf"))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0) {
                        if (errno == ENOENT)   /* a dangling link, or removed meanwhile */
                                continue;
                        return ocid_error_set(err, errno, "stat '%s/%s'", dir, de->d_name);
                }
                if (!S_ISREG(st.st_mode))
                        continue;
                ocid_strv_push(&names, de->d_name);
                n++;
        }
        qsort(names, n, sizeof(*names), strcmp_ptr);
        *ret = TAKE_PTR(names);
        return 0;
}

static int load_one(struct ocid_config *c, struct load_state *st, const char *path,
                    struct ocid_error **err)
{
        config_t *cf = NULL;
        int r;

        r = parse_file(path, &cf, err);
        if (r < 0)
                return r;
        /* Kept (and owned by c) from here on, even when applying fails. */
        c->files = xreallocarray(c->files, c->n_files + 1, sizeof(*c->files));
        c->file_names = xreallocarray(c->file_names, c->n_files + 1, sizeof(*c->file_names));
        c->files[c->n_files] = cf;
        c->file_names[c->n_files] = xstrdup(path);
        c->n_files++;
        return apply_file(c, st, cf, err);
}

int config_load_flags(const char *path, unsigned flags, struct ocid_config **ret,
                      struct ocid_error **err)
{
        _cleanup_(config_freep) struct ocid_config *c = config_new_default();
        _cleanup_free_ char *dir_buf = xstrdup(path);
        _cleanup_free_ char *dropin_dir = NULL;
        _cleanup_strv_ char **dropins = NULL;
        struct load_state st = { 0 };
        int r;

        if (!path)
                return config_load_flags(CONFIG_DEFAULT_PATH, flags | CONFIG_LOAD_MISSING_OK, ret, err);
        r = load_one(c, &st, path, err);
        if (r < 0) {
                if (!(flags & CONFIG_LOAD_MISSING_OK) || ocid_error_code(err) != ENOENT)
                        return r;
                ocid_error_clear(err);
        }

        dropin_dir = ocid_path_join(dirname(dir_buf), CONFIG_DROPIN_DIR);
        r = list_dropins(dropin_dir, &dropins, err);
        if (r < 0)
                return r;
        for (size_t i = 0; dropins[i]; i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", dropin_dir, dropins[i]);

                r = load_one(c, &st, p, err);
                if (r < 0)
                        return r;
        }

        if (!st.listen_set) {
                free(c->listen);
                c->listen = ocid_path_join(c->runroot, LISTEN_NAME);
        }

        r = config_validate(c, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int config_load(const char *path, struct ocid_config **ret, struct ocid_error **err)
{
        if (!path)
                return config_load_flags(CONFIG_DEFAULT_PATH, CONFIG_LOAD_MISSING_OK, ret, err);
        return config_load_flags(path, 0, ret, err);
}

/* ---- cross checks ------------------------------------------------------- */

/* An EINVAL error "<origin>: <key>: <message>", or "<key>: <message>" when
 * the origin is unknown (a built-in default or a value set by code). */
static int fail(struct ocid_error **err, const char *origin, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int fail(struct ocid_error **err, const char *origin, const char *key, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                abort();   /* out of memory, as xasprintf */
        if (origin)
                return ocid_error_msg(err, EINVAL, "%s: %s: %s", origin, key, msg);
        return ocid_error_msg(err, EINVAL, "%s: %s", key, msg);
}

static int validate_string(const char *key, const char *v, value_check_fn check, const void *arg,
                           struct ocid_error **err)
{
        _cleanup_free_ char *why = NULL;

        if (!v)
                return fail(err, NULL, key, "not set");
        why = check ? check(v, arg) : NULL;
        if (why)
                return fail(err, NULL, key, "%s", why);
        return 0;
}

/* Errors name the entry as ocid_setting_path does: "security[2]". */
static int validate_strv(const char *key, char *const *v, value_check_fn check, struct ocid_error **err)
{
        for (size_t i = 0; v && v[i]; i++) {
                _cleanup_free_ char *why = check(v[i], NULL);
                _cleanup_free_ char *entry = xasprintf("%s[%zu]", key, i);

                if (why)
                        return fail(err, NULL, entry, "%s", why);
                for (size_t j = 0; j < i; j++)
                        if (streq(v[i], v[j]))
                                return fail(err, NULL, entry, "'%s' is listed twice", v[i]);
        }
        return 0;
}

static int validate_runtime(const struct config_runtime *rt, struct ocid_error **err)
{
        _cleanup_free_ char *key = xasprintf("runtimes.%s", rt->name ? rt->name : "");
        _cleanup_free_ char *key_module = xasprintf("%s.module", key);
        _cleanup_free_ char *key_path = xasprintf("%s.path", key);
        _cleanup_free_ char *key_root = xasprintf("%s.root", key);
        _cleanup_free_ char *why = NULL;

        if (!rt->name || !handler_name_is_valid(rt->name))
                return fail(err, rt->origin, key, "'%s' is not a valid runtime handler name",
                            rt->name ? rt->name : "");
        if (!rt->module)
                return fail(err, rt->origin, key_module, "not set");
        why = check_module_name(rt->module, NULL);
        if (why)
                return fail(err, rt->origin, key_module, "%s", why);
        if (!rt->path || !is_absolute(rt->path))
                return fail(err, rt->origin, key_path, "'%s' is not an absolute path",
                            rt->path ? rt->path : "");
        if (!rt->root || !is_absolute(rt->root))
                return fail(err, rt->origin, key_root, "'%s' is not an absolute path",
                            rt->root ? rt->root : "");
        return 0;
}

int config_validate(const struct ocid_config *c, struct ocid_error **err)
{
        int r;

        if ((r = validate_string("root", c->root, check_absolute, NULL, err)) < 0 ||
            (r = validate_string("runroot", c->runroot, check_absolute, NULL, err)) < 0 ||
            (r = validate_string("listen", c->listen, check_absolute, NULL, err)) < 0 ||
            (r = validate_string("log_level", c->log_level, check_enum, log_levels, err)) < 0 ||
            (r = validate_string("modules_dir", c->modules_dir, check_search_path_value, NULL, err)) < 0 ||
            (r = validate_string("conmon", c->conmon, check_absolute, NULL, err)) < 0 ||
            (r = validate_string("cgroup_manager", c->cgroup_manager, check_enum, cgroup_managers, err)) < 0 ||
            (r = validate_string("storage", c->storage, check_module_name, NULL, err)) < 0 ||
            (r = validate_string("network", c->network, check_module_name, NULL, err)) < 0 ||
            (r = validate_strv("security", c->security, check_module_name, err)) < 0)
                return r;

        for (size_t i = 0; i < c->n_runtimes; i++) {
                r = validate_runtime(&c->runtimes[i], err);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (streq(c->runtimes[i].name, c->runtimes[j].name))
                                return fail(err, c->runtimes[i].origin, "runtimes",
                                            "handler '%s' is defined twice", c->runtimes[i].name);
        }
        if (!c->default_runtime || !c->default_runtime[0])
                return fail(err, c->default_runtime_origin, "default_runtime", "must not be empty");
        if (!config_find_runtime(c, c->default_runtime)) {
                _cleanup_free_ char *names = NULL;
                const char **v = xcalloc(c->n_runtimes + 1, sizeof(*v));

                for (size_t i = 0; i < c->n_runtimes; i++)
                        v[i] = c->runtimes[i].name;
                names = c->n_runtimes ? join_set(v) : xstrdup("none");
                free(v);
                return fail(err, c->default_runtime_origin, "default_runtime",
                            "no runtime handler '%s' is defined (defined: %s)", c->default_runtime, names);
        }

        if ((r = validate_strv("image.unqualified_search_registries", c->image.unqualified_search_registries,
                               check_nonempty, err)) < 0 ||
            (r = validate_strv("image.insecure_registries", c->image.insecure_registries,
                               check_nonempty, err)) < 0)
                return r;
        for (size_t i = 0; i < c->image.n_mirrors; i++) {
                const struct config_mirror *m = &c->image.mirrors[i];
                _cleanup_free_ char *key = xasprintf("image.mirrors[%zu]", i);
                _cleanup_free_ char *key_locations = xasprintf("%s.locations", key);

                if (!m->registry || !m->registry[0])
                        return fail(err, NULL, key, "has no registry");

                for (size_t j = 0; j < i; j++)
                        if (streq(m->registry, c->image.mirrors[j].registry))
                                return fail(err, NULL, key, "registry '%s' has two mirror entries", m->registry);
                r = validate_strv(key_locations, m->locations, check_nonempty, err);
                if (r < 0)
                        return r;
        }
        if (!c->image.pause_image)
                return fail(err, NULL, "image.pause_image", "not set");
        if ((r = validate_string("image.infra", c->image.infra, check_enum, infra_modes, err)) < 0)
                return r;
        if (c->image.pull_progress_timeout < 0)
                return fail(err, NULL, "image.pull_progress_timeout", "%" PRId64 " is out of range (0..)",
                            c->image.pull_progress_timeout);
        if ((r = validate_string("stream.address", c->stream.address, check_nonempty, NULL, err)) < 0)
                return r;
        if (c->stream.port < 0 || c->stream.port > 65535)
                return fail(err, NULL, "stream.port", "%" PRId64 " is out of range (0..65535)", c->stream.port);
        if (c->max_message_size < CONFIG_MESSAGE_SIZE_MIN || c->max_message_size > CONFIG_MESSAGE_SIZE_MAX)
                return fail(err, NULL, "max_message_size", "%" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")",
                            c->max_message_size, CONFIG_MESSAGE_SIZE_MIN, CONFIG_MESSAGE_SIZE_MAX);
        for (size_t i = 0; i < c->n_module_groups; i++)
                if (!config_module_name_is_valid(c->module_groups[i].name))
                        return fail(err, NULL, "modules", "'%s' is not a valid module name",
                                    c->module_groups[i].name);
        return 0;
}

/* ---- writing -------------------------------------------------------------- */

static void write_indent(FILE *f, int depth)
{
        for (int i = 0; i < depth; i++)
                fputs("  ", f);
}

/* A libconfig string literal: the escapes its scanner reads back. */
static void write_string(FILE *f, const char *s)
{
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                switch (*p) {
                case '"':  fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\n': fputs("\\n", f); break;
                case '\r': fputs("\\r", f); break;
                case '\t': fputs("\\t", f); break;
                case '\f': fputs("\\f", f); break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\x%02x", *p);
                        else
                                fputc(*p, f);
                }
        }
        fputc('"', f);
}

/* A comment line must stay one line whatever a file name holds. */
static void write_comment_text(FILE *f, const char *s)
{
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

static void write_strv(FILE *f, char *const *v)
{
        fputs("[", f);
        for (size_t i = 0; v && v[i]; i++) {
                fputs(i ? ", " : " ", f);
                write_string(f, v[i]);
        }
        fputs(" ]", f);
}

static void write_key_string(FILE *f, int depth, const char *key, const char *v)
{
        write_indent(f, depth);
        fprintf(f, "%s = ", key);
        write_string(f, v ? v : "");
        fputs(";\n", f);
}

static void write_key_strv(FILE *f, int depth, const char *key, char *const *v)
{
        write_indent(f, depth);
        fprintf(f, "%s = ", key);
        write_strv(f, v);
        fputs(";\n", f);
}

static void write_int64(FILE *f, int64_t v)
{
        /* libconfig reads an unsuffixed number as a 32-bit int. */
        if (v >= INT32_MIN && v <= INT32_MAX)
                fprintf(f, "%" PRId64, v);
        else
                fprintf(f, "%" PRId64 "L", v);
}

static void write_key_int64(FILE *f, int depth, const char *key, int64_t v)
{
        write_indent(f, depth);
        fprintf(f, "%s = ", key);
        write_int64(f, v);
        fputs(";\n", f);
}

static void write_value(FILE *f, const config_setting_t *s, int depth);

/* A named member of a group: "name = value;". */
static void write_member(FILE *f, const config_setting_t *s, int depth)
{
        write_indent(f, depth);
        fprintf(f, "%s = ", config_setting_name(s));
        write_value(f, s, depth);
        fputs(";\n", f);
}

static void write_value(FILE *f, const config_setting_t *s, int depth)
{
        int n = config_setting_length(s);

        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT: {
                int v = config_setting_get_int(s);

                if (config_setting_get_format(s) == CONFIG_FORMAT_HEX && v >= 0)
                        fprintf(f, "0x%X", (unsigned) v);
                else
                        fprintf(f, "%d", v);
                break;
        }
        case CONFIG_TYPE_INT64: {
                long long v = config_setting_get_int64(s);

                if (config_setting_get_format(s) == CONFIG_FORMAT_HEX && v >= 0)
                        fprintf(f, "0x%llXL", (unsigned long long) v);
                else
                        fprintf(f, "%lldL", v);
                break;
        }
        case CONFIG_TYPE_FLOAT: {
                double v = config_setting_get_float(s);
                char buf[64];

                /* The shortest form that reads back as the same double. */
                for (int prec = 15; prec <= 17; prec++) {
                        snprintf(buf, sizeof(buf), "%.*g", prec, v);
                        if (strtod(buf, NULL) == v)
                                break;
                }
                /* Keep it a float when read back: "1" would be an int. */
                if (!strpbrk(buf, ".eEni"))
                        strcat(buf, ".0");
                fputs(buf, f);
                break;
        }
        case CONFIG_TYPE_BOOL:
                fputs(config_setting_get_bool(s) ? "true" : "false", f);
                break;
        case CONFIG_TYPE_STRING:
                write_string(f, config_setting_get_string(s));
                break;
        case CONFIG_TYPE_ARRAY:
                fputs("[", f);
                for (int i = 0; i < n; i++) {
                        fputs(i ? ", " : " ", f);
                        write_value(f, config_setting_get_elem(s, (unsigned) i), depth + 1);
                }
                fputs(" ]", f);
                break;
        case CONFIG_TYPE_LIST:
                fputs("(", f);
                for (int i = 0; i < n; i++) {
                        fputs(i ? ",\n" : "\n", f);
                        write_indent(f, depth + 1);
                        write_value(f, config_setting_get_elem(s, (unsigned) i), depth + 1);
                }
                if (n) {
                        fputc('\n', f);
                        write_indent(f, depth);
                }
                fputs(")", f);
                break;
        case CONFIG_TYPE_GROUP:
                fputs("{\n", f);
                for (int i = 0; i < n; i++)
                        write_member(f, config_setting_get_elem(s, (unsigned) i), depth + 1);
                write_indent(f, depth);
                fputs("}", f);
                break;
        default:
                /* CONFIG_TYPE_NONE: libconfig's parser never creates one. */
                fputs("()", f);
                break;
        }
}

static void write_runtime(FILE *f, const struct config_runtime *rt)
{
        if (rt->origin) {
                fputs("  # from ", f);
                write_comment_text(f, rt->origin);
                fputc('\n', f);
        }
        fprintf(f, "  %s = {\n", rt->name);
        write_key_string(f, 2, "module", rt->module);
        write_key_string(f, 2, "path", rt->path);
        write_key_string(f, 2, "root", rt->root);
        fputs("  };\n", f);
}

static void write_config(const struct ocid_config *c, FILE *f)
{
        fputs("# The effective ocid configuration (crio.conf syntax), built from the defaults", f);
        for (size_t i = 0; i < c->n_files; i++) {
                fputs(i + 1 < c->n_files ? ",\n# " : " and\n# ", f);
                write_comment_text(f, c->file_names[i]);
        }
        fputs(".\n\n", f);

        write_key_string(f, 0, "root", c->root);
        write_key_string(f, 0, "runroot", c->runroot);
        write_key_string(f, 0, "listen", c->listen);
        write_key_string(f, 0, "log_level", c->log_level);
        write_key_string(f, 0, "modules_dir", c->modules_dir);
        write_key_string(f, 0, "conmon", c->conmon);
        write_key_string(f, 0, "cgroup_manager", c->cgroup_manager);
        write_key_string(f, 0, "storage", c->storage);
        write_key_string(f, 0, "network", c->network);
        write_key_strv(f, 0, "security", c->security);
        write_key_string(f, 0, "default_runtime", c->default_runtime);
        fputs("runtimes = {\n", f);
        for (size_t i = 0; i < c->n_runtimes; i++)
                write_runtime(f, &c->runtimes[i]);
        fputs("};\n", f);

        fputs("image = {\n", f);
        write_key_strv(f, 1, "unqualified_search_registries", c->image.unqualified_search_registries);
        write_key_strv(f, 1, "insecure_registries", c->image.insecure_registries);
        fputs("  mirrors = (", f);
        for (size_t i = 0; i < c->image.n_mirrors; i++) {
                fputs(i ? ",\n" : "\n", f);
                fputs("    {\n", f);
                write_key_string(f, 3, "registry", c->image.mirrors[i].registry);
                write_key_strv(f, 3, "locations", c->image.mirrors[i].locations);
                fputs("    }", f);
        }
        fputs(c->image.n_mirrors ? "\n  );\n" : " );\n", f);
        write_key_string(f, 1, "pause_image", c->image.pause_image);
        write_key_string(f, 1, "infra", c->image.infra);
        write_key_int64(f, 1, "pull_progress_timeout", c->image.pull_progress_timeout);
        fputs("};\n", f);

        fputs("stream = {\n", f);
        write_key_string(f, 1, "address", c->stream.address);
        write_key_int64(f, 1, "port", c->stream.port);
        fputs("};\n", f);
        write_key_int64(f, 0, "max_message_size", c->max_message_size);

        fputs("modules = {\n", f);
        for (size_t i = 0; i < c->n_module_groups; i++) {
                const struct config_module_group *g = &c->module_groups[i];
                _cleanup_free_ char *origin = setting_origin(g->setting);

                fputs("  # from ", f);
                write_comment_text(f, origin);
                fputc('\n', f);
                write_indent(f, 1);
                fprintf(f, "%s = ", g->name);
                write_value(f, g->setting, 1);
                fputs(";\n", f);
        }
        fputs("};\n", f);
}

int config_print(const struct ocid_config *c, FILE *f, struct ocid_error **err)
{
        write_config(c, f);
        errno = 0;
        if (fflush(f) != 0 || ferror(f))
                return ocid_error_set(err, errno ? errno : EIO, "write configuration");
        return 0;
}

/* ---- comparing ------------------------------------------------------------ */

static char *setting_to_string(const config_setting_t *s)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                abort();   /* out of memory, as xmalloc */
        write_value(f, s, 0);
        if (fclose(f) != 0)
                abort();
        return buf;
}

static bool runtime_equal(const struct config_runtime *a, const struct config_runtime *b)
{
        return streq_ptr(a->module, b->module) && streq_ptr(a->path, b->path) && streq_ptr(a->root, b->root);
}

static bool mirrors_equal(const struct ocid_config *a, const struct ocid_config *b)
{
        if (a->image.n_mirrors != b->image.n_mirrors)
                return false;
        for (size_t i = 0; i < a->image.n_mirrors; i++)
                if (!streq_ptr(a->image.mirrors[i].registry, b->image.mirrors[i].registry) ||
                    !strv_equal(a->image.mirrors[i].locations, b->image.mirrors[i].locations))
                        return false;
        return true;
}

static bool module_group_equal(const struct ocid_config *a, const struct ocid_config *b, const char *name)
{
        const config_setting_t *sa = config_module_setting(a, name), *sb = config_module_setting(b, name);
        _cleanup_free_ char *ta = NULL, *tb = NULL;

        if (!sa || !sb)
                return sa == sb;
        ta = setting_to_string(sa);
        tb = setting_to_string(sb);
        return streq(ta, tb);
}

char **config_changed_keys(const struct ocid_config *a, const struct ocid_config *b)
{
        char **v = strv_new_empty();

#define CHANGED_STR(key, field) do { if (!streq_ptr(a->field, b->field)) ocid_strv_push(&v, key); } while (0)
#define CHANGED_STRV(key, field) do { if (!strv_equal(a->field, b->field)) ocid_strv_push(&v, key); } while (0)
#define CHANGED_INT(key, field) do { if (a->field != b->field) ocid_strv_push(&v, key); } while (0)
        CHANGED_STR("root", root);
        CHANGED_STR("runroot", runroot);
        CHANGED_STR("listen", listen);
        CHANGED_STR("log_level", log_level);
        CHANGED_STR("modules_dir", modules_dir);
        CHANGED_STR("conmon", conmon);
        CHANGED_STR("cgroup_manager", cgroup_manager);
        CHANGED_STR("storage", storage);
        CHANGED_STR("network", network);
        CHANGED_STRV("security", security);
        CHANGED_STR("default_runtime", default_runtime);
        for (size_t i = 0; i < a->n_runtimes; i++) {
                const struct config_runtime *other = config_find_runtime(b, a->runtimes[i].name);

                if (!other || !runtime_equal(&a->runtimes[i], other)) {
                        _cleanup_free_ char *k = xasprintf("runtimes.%s", a->runtimes[i].name);
                        ocid_strv_push(&v, k);
                }
        }
        for (size_t i = 0; i < b->n_runtimes; i++)
                if (!config_find_runtime(a, b->runtimes[i].name)) {
                        _cleanup_free_ char *k = xasprintf("runtimes.%s", b->runtimes[i].name);
                        ocid_strv_push(&v, k);
                }
        CHANGED_STRV("image.unqualified_search_registries", image.unqualified_search_registries);
        CHANGED_STRV("image.insecure_registries", image.insecure_registries);
        if (!mirrors_equal(a, b))
                ocid_strv_push(&v, "image.mirrors");
        CHANGED_STR("image.pause_image", image.pause_image);
        CHANGED_STR("image.infra", image.infra);
        CHANGED_INT("image.pull_progress_timeout", image.pull_progress_timeout);
        CHANGED_STR("stream.address", stream.address);
        CHANGED_INT("stream.port", stream.port);
        CHANGED_INT("max_message_size", max_message_size);
        for (size_t i = 0; i < a->n_module_groups; i++)
                if (!module_group_equal(a, b, a->module_groups[i].name)) {
                        _cleanup_free_ char *k = xasprintf("modules.%s", a->module_groups[i].name);
                        ocid_strv_push(&v, k);
                }
        for (size_t i = 0; i < b->n_module_groups; i++)
                if (!config_module_setting(a, b->module_groups[i].name)) {
                        _cleanup_free_ char *k = xasprintf("modules.%s", b->module_groups[i].name);
                        ocid_strv_push(&v, k);
                }
#undef CHANGED_STR
#undef CHANGED_STRV
#undef CHANGED_INT
        return v;
}
