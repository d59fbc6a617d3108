/* SPDX-License-Identifier: Apache-2.0 */
/* Loading modules with libltdl and checking their descriptors before any
 * module code runs. The checks and their order are STYLE.md section 2;
 * docs/modules.md lists the messages. */

#define OCID_LOG_CATEGORY "module"

#include <assert.h>
#include <errno.h>
#include <ltdl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "module-loader.h"

/* sizeof(struct ocid_module_info) as each minor of this major defined it.
 * When a minor appends a member, the entry of every older minor becomes the
 * offsetof() of the first member it lacks. */
static const size_t info_size_for_minor[OCID_MODULE_ABI_MINOR + 1] = {
        [0] = sizeof(struct ocid_module_info),
};

/* The known kinds, with the size of their ops table for each minor (same
 * rule as above). */
static const struct {
        uint32_t kind;
        const char *name;
        size_t ops_size[OCID_MODULE_ABI_MINOR + 1];
} module_kinds[] = {
        { OCID_MODULE_KIND_STORAGE,  "storage",  { [0] = sizeof(struct ocid_storage_ops) } },
        { OCID_MODULE_KIND_NETWORK,  "network",  { [0] = sizeof(struct ocid_network_ops) } },
        { OCID_MODULE_KIND_SECURITY, "security", { [0] = sizeof(struct ocid_security_ops) } },
        { OCID_MODULE_KIND_RUNTIME,  "runtime",  { [0] = sizeof(struct ocid_runtime_ops) } },
};

/* libltdl is initialised once and never exited: modules are never
 * unloaded. The names of the modules loaded and not yet finalised, so that
 * the same module cannot be active twice. Loading happens on the main
 * thread at start-up; the lock only keeps the bookkeeping honest. */
static pthread_once_t ltdl_once = PTHREAD_ONCE_INIT;
static int ltdl_init_result;
static pthread_mutex_t loaded_lock = PTHREAD_MUTEX_INITIALIZER;
static char **loaded_names;
static char **loaded_paths;

static void ltdl_init_once(void)
{
        ltdl_init_result = lt_dlinit();
}

static void lt_dlhandle_closep(lt_dlhandle *h)
{
        if (*h)
                (void) lt_dlclose(*h);
}

static void lt_dladvise_destroyp(lt_dladvise *a)
{
        if (*a)
                (void) lt_dladvise_destroy(a);
}

const char *module_kind_to_string(uint32_t kind)
{
        for (size_t i = 0; i < ELEMENTSOF(module_kinds); i++)
                if (module_kinds[i].kind == kind)
                        return module_kinds[i].name;
        return "unknown";
}

static int module_kind_index(uint32_t kind)
{
        for (size_t i = 0; i < ELEMENTSOF(module_kinds); i++)
                if (module_kinds[i].kind == kind)
                        return (int) i;
        return -1;
}

const char *module_search_path(const char *search_path)
{
        const char *env = secure_getenv("OCID_MODULE_DIR");

        if (env && *env)
                return env;
        if (search_path && *search_path)
                return search_path;
        return OCID_MODULEDIR;
}

/* A module name becomes a file name and, with '-' as '_', part of a C
 * symbol: letters, digits, '-' and '_' only. */
static bool module_name_is_valid(const char *name)
{
        if (!name || !*name || strlen(name) > 128)
                return false;
        for (const char *c = name; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
                        return false;
        return true;
}

/* The first `<dir>/<name>.so` or `<dir>/<name>.la` that is a regular file,
 * or NULL. */
static char *module_find_file(const char *path, const char *name)
{
        static const char *const exts[] = { ".so", ".la" };
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;

        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                for (size_t i = 0; i < ELEMENTSOF(exts); i++) {
                        _cleanup_free_ char *file = xasprintf("%s%s", name, exts[i]);
                        _cleanup_free_ char *p = ocid_path_join(dir, file);
                        struct stat st;

                        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
                                return TAKE_PTR(p);
                        ocid_log(OCID_LOG_TRACE, "module '%s': no '%s'", name, p);
                }
        }
        return NULL;
}

/* Looks `name` up among the loaded modules; returns its path or NULL. */
static const char *loaded_find_locked(const char *name)
{
        for (size_t i = 0; loaded_names && loaded_names[i]; i++)
                if (streq(loaded_names[i], name))
                        return loaded_paths[i];
        return NULL;
}

static void loaded_remove(const char *name, const char *path)
{
        pthread_mutex_lock(&loaded_lock);
        for (size_t i = 0; loaded_names && loaded_names[i]; i++) {
                if (!streq(loaded_names[i], name) || !streq(loaded_paths[i], path))
                        continue;
                free(loaded_names[i]);
                free(loaded_paths[i]);
                /* Move the tail down, NULL terminator included. */
                for (size_t j = i; loaded_names[j]; j++) {
                        loaded_names[j] = loaded_names[j + 1];
                        loaded_paths[j] = loaded_paths[j + 1];
                }
                break;
        }
        pthread_mutex_unlock(&loaded_lock);
}

/* The descriptor checks, in the order STYLE.md section 2 fixes. Each
 * failure names the module and its file; only the members that the module's
 * info_size covers are read. */
static int module_check_descriptor(const char *name, const char *path,
                                   const struct ocid_module_info *info,
                                   uint32_t expected_kind, struct ocid_error **err)
{
        int k;

        if (info->abi_major != OCID_MODULE_ABI_MAJOR)
                return ocid_error_msg(err, ENOEXEC,
                                      "module '%s': %s: ABI major version %u, but ocid supports %u",
                                      name, path, info->abi_major, OCID_MODULE_ABI_MAJOR);
        if (info->abi_minor > OCID_MODULE_ABI_MINOR)
                return ocid_error_msg(err, ENOEXEC,
                                      "module '%s': %s: ABI version %u.%u is newer than ocid's %u.%u",
                                      name, path, info->abi_major, info->abi_minor,
                                      OCID_MODULE_ABI_MAJOR, OCID_MODULE_ABI_MINOR);
        if (info->info_size < info_size_for_minor[info->abi_minor])
                return ocid_error_msg(err, ENOEXEC,
                                      "module '%s': %s: descriptor size %u is smaller than %zu, the size for ABI %u.%u",
                                      name, path, info->info_size,
                                      info_size_for_minor[info->abi_minor],
                                      info->abi_major, info->abi_minor);

        if (!info->ops)
                return ocid_error_msg(err, ENOEXEC, "module '%s': %s: descriptor has no ops table",
                                      name, path);
        if (info->ops_size < sizeof(struct ocid_module_ops))
                return ocid_error_msg(err, ENOEXEC,
                                      "module '%s': %s: ops table size %u is smaller than %zu, the size of the common ops",
                                      name, path, info->ops_size, sizeof(struct ocid_module_ops));
        k = module_kind_index(info->kind);
        if (k >= 0 && info->ops_size < module_kinds[k].ops_size[info->abi_minor])
                return ocid_error_msg(err, ENOEXEC,
                                      "module '%s': %s: %s ops table size %u is smaller than %zu, the size for ABI %u.%u",
                                      name, path, module_kinds[k].name, info->ops_size,
                                      module_kinds[k].ops_size[info->abi_minor],
                                      info->abi_major, info->abi_minor);

        for (size_t i = 0; i < ELEMENTSOF(info->reserved); i++)
                if (info->reserved[i])
                        return ocid_error_msg(err, ENOEXEC,
                                              "module '%s': %s: reserved descriptor member %zu is not NULL",
                                              name, path, i);

        if (k < 0)
                return ocid_error_msg(err, ENOEXEC, "module '%s': %s: unknown kind %u",
                                      name, path, info->kind);
        if (expected_kind != 0 && info->kind != expected_kind)
                return ocid_error_msg(err, EINVAL, "module '%s': %s: is a %s module, expected a %s module",
                                      name, path, module_kind_to_string(info->kind),
                                      module_kind_to_string(expected_kind));

        if (!info->name)
                return ocid_error_msg(err, ENOEXEC, "module '%s': %s: descriptor has no name", name, path);
        if (!streq(info->name, name))
                return ocid_error_msg(err, ENOEXEC,
                                      "module '%s': %s: descriptor names it '%s', which does not match its file name",
                                      name, path, info->name);
        return 0;
}

int module_load(const char *search_path, const char *name, uint32_t expected_kind,
                struct ocid_module **ret, struct ocid_error **err)
{
        _cleanup_(lt_dladvise_destroyp) lt_dladvise advise = NULL;
        _cleanup_(lt_dlhandle_closep) lt_dlhandle handle = NULL;
        _cleanup_free_ char *path = NULL, *ltx = NULL;
        const struct ocid_module_info *info;
        const struct ocid_module_ops *base;
        struct ocid_module *m;
        const char *dirs, *other;
        int r;

        if (!module_name_is_valid(name))
                return ocid_error_msg(err, EINVAL,
                                      "module '%s': invalid name (only letters, digits, '-' and '_')",
                                      name ? name : "");

        (void) pthread_once(&ltdl_once, ltdl_init_once);
        if (ltdl_init_result != 0)
                return ocid_error_msg(err, ELIBACC, "module '%s': cannot initialise libltdl: %s",
                                      name, lt_dlerror());

        dirs = module_search_path(search_path);
        path = module_find_file(dirs, name);
        if (!path) {
                ocid_log(OCID_LOG_DEBUG, "module '%s': step 'find': not in '%s'", name, dirs);
                return ocid_error_msg(err, ENOENT, "module '%s': not found in %s", name, dirs);
        }

        if (lt_dladvise_init(&advise) != 0 || lt_dladvise_local(&advise) != 0)
                return ocid_error_msg(err, ENOMEM, "module '%s': %s: cannot set up libltdl: %s",
                                      name, path, lt_dlerror());
        handle = lt_dlopenadvise(path, advise);
        if (!handle) {
                const char *why = lt_dlerror();

                ocid_log(OCID_LOG_DEBUG, "module '%s': step 'open' of '%s' failed: %s", name, path,
                         why ? why : "unknown error");
                return ocid_error_msg(err, ENOEXEC, "module '%s': %s: cannot load: %s",
                                      name, path, why ? why : "unknown error");
        }

        /* The plain symbol first, then the libtool-prefixed one. */
        info = lt_dlsym(handle, "ocid_module_info");
        if (!info) {
                ltx = xasprintf("%s_LTX_ocid_module_info", name);
                for (char *c = ltx; *c; c++)
                        if (*c == '-')
                                *c = '_';
                info = lt_dlsym(handle, ltx);
        }
        if (!info) {
                ocid_log(OCID_LOG_DEBUG, "module '%s': step 'symbol' of '%s' failed", name, path);
                return ocid_error_msg(err, ENOEXEC,
                                      "module '%s': %s: exports neither 'ocid_module_info' nor '%s'",
                                      name, path, ltx);
        }

        r = module_check_descriptor(name, path, info, expected_kind, err);
        if (r < 0) {
                ocid_log(OCID_LOG_DEBUG, "module '%s': step 'descriptor' of '%s' failed: %s",
                         name, path, ocid_error_message(err));
                return r;
        }

        pthread_mutex_lock(&loaded_lock);
        other = loaded_find_locked(name);
        if (other) {
                r = ocid_error_msg(err, EEXIST, "module '%s': %s: already loaded from %s",
                                   name, path, other);
                pthread_mutex_unlock(&loaded_lock);
                ocid_log(OCID_LOG_DEBUG, "module '%s': step 'duplicate' of '%s' failed", name, path);
                return r;
        }

        base = info->ops;
        if (!base->init) {
                pthread_mutex_unlock(&loaded_lock);
                ocid_log(OCID_LOG_DEBUG, "module '%s': step 'init' of '%s' failed", name, path);
                return ocid_error_msg(err, ENOEXEC, "module '%s': %s: ops table has no init",
                                      name, path);
        }

        ocid_strv_push(&loaded_names, name);
        ocid_strv_push(&loaded_paths, path);
        pthread_mutex_unlock(&loaded_lock);

        /* Passed: the shared object stays for the life of the process. */
        (void) TAKE_PTR(handle);

        m = xzalloc(sizeof(*m));
        m->name = xstrdup(name);
        m->path = TAKE_PTR(path);
        m->kind = info->kind;
        m->info = info;
        m->ops = info->ops;
        ocid_log(OCID_LOG_DEBUG, "module '%s': loaded %s module version %s (ABI %u.%u) from %s",
                 m->name, module_kind_to_string(m->kind), info->version ? info->version : "unknown",
                 info->abi_major, info->abi_minor, m->path);
        *ret = m;
        return 0;
}

int module_op_failed(const struct ocid_module *m, const char *op, int r,
                     struct ocid_error **op_err, struct ocid_error **err)
{
        if (r >= 0) {
                ocid_error_clear(op_err);
                return r;
        }

        /* A failing op reports its error itself; make sure of it. */
        assert(*op_err);
        if (!*op_err) {
                int code = (r > -4096) ? -r : EIO;

                (void) ocid_error_msg(op_err, code, "returned %d without an error message", r);
        }
        r = ocid_error_prefix(op_err, "module '%s': %s", m->name, op);
        if (err) {
                assert(!*err);
                *err = TAKE_PTR(*op_err);
        } else
                ocid_error_clear(op_err);
        return r;
}

int module_status_result(const struct ocid_module *m, const char *op, int r,
                         char **reason, char **message)
{
        if (r > 0) {
                free(*reason);
                *reason = NULL;
                free(*message);
                *message = NULL;
                return 1;
        }
        assert(r == 0);
        if (!*reason || !**reason) {
                ocid_log(OCID_LOG_DEBUG, "module '%s': %s: not ready without a reason", m->name, op);
                free(*reason);
                *reason = xstrdup("NotReady");
        }
        if (!*message) {
                ocid_log(OCID_LOG_DEBUG, "module '%s': %s: not ready without a message", m->name, op);
                *message = xasprintf("module '%s' is not ready", m->name);
        }
        return 0;
}

int module_init(struct ocid_module *m, const config_setting_t *cfg, struct ocid_error **err)
{
        const struct ocid_module_ops *base = m->ops;
        _cleanup_error_ struct ocid_error *e = NULL;
        void *state = NULL;
        int r;

        assert(!m->initialised);
        r = base->init(cfg, &state, &e);
        if (r < 0) {
                ocid_log(OCID_LOG_DEBUG, "module '%s': step 'init' failed: %s", m->name,
                         e ? e->message : "no message");
                return module_op_failed(m, "init", r, &e, err);
        }
        m->state = state;
        m->initialised = 1;
        ocid_log(OCID_LOG_DEBUG, "module '%s': initialised", m->name);
        return 0;
}

void module_fini(struct ocid_module *m)
{
        const struct ocid_module_ops *base;

        if (!m)
                return;
        base = m->ops;
        if (m->initialised && base->fini)
                base->fini(m->state);
        m->initialised = 0;
        m->state = NULL;
        loaded_remove(m->name, m->path);
        free(m->name);
        free(m->path);
        free(m);
}

int module_check_callable(const struct ocid_module *m, uint32_t kind, const char *op,
                          struct ocid_error **err)
{
        if (!m)
                return ocid_error_msg(err, EINVAL, "%s: no module", op);
        if (kind != 0 && m->kind != kind)
                return ocid_error_msg(err, EINVAL, "module '%s' is a %s module, not a %s module",
                                      m->name, module_kind_to_string(m->kind),
                                      module_kind_to_string(kind));
        if (!m->initialised)
                return ocid_error_msg(err, EINVAL, "module '%s': %s: not initialised", m->name, op);
        return 0;
}

int module_check(const struct ocid_module *m, const config_setting_t *cfg, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        int (*check)(const config_setting_t *, struct ocid_error **);

        check = MODULE_OP(m, struct ocid_module_ops, check);
        if (!check)
                return ocid_error_msg(err, EOPNOTSUPP, "module '%s' does not support check", m->name);
        return module_op_failed(m, "check", check(cfg, &e), &e, err);
}

int module_status(const struct ocid_module *m, char **ret_reason, char **ret_message,
                  struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL;
        int (*status)(void *, char **, char **, struct ocid_error **);
        int r;

        r = module_check_callable(m, 0, "status", err);
        if (r < 0)
                return r;
        status = MODULE_OP(m, struct ocid_module_ops, status);
        if (!status)
                return ocid_error_msg(err, EOPNOTSUPP, "module '%s' does not support status", m->name);
        r = status(m->state, &reason, &message, &e);
        if (r < 0)
                return module_op_failed(m, "status", r, &e, err);
        r = module_status_result(m, "status", r, &reason, &message);
        *ret_reason = TAKE_PTR(reason);
        *ret_message = TAKE_PTR(message);
        return r;
}

int module_info(const struct ocid_module *m, char **ret_json, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        int (*info)(void *, char **, struct ocid_error **);
        char *json = NULL;
        int r;

        r = module_check_callable(m, 0, "info", err);
        if (r < 0)
                return r;
        info = MODULE_OP(m, struct ocid_module_ops, info);
        if (!info)
                return ocid_error_msg(err, EOPNOTSUPP, "module '%s' does not support info", m->name);
        r = info(m->state, &json, &e);
        if (r < 0) {
                free(json);
                return module_op_failed(m, "info", r, &e, err);
        }
        if (!json)
                return ocid_error_msg(err, EPROTO, "module '%s': info: returned no JSON", m->name);
        *ret_json = json;
        return 0;
}
