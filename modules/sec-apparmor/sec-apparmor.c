/* SPDX-License-Identifier: Apache-2.0 */
/* sec-apparmor: AppArmor profiles for containers. RuntimeDefault (and an
 * unset choice, where AppArmor is enabled) confines a container with the
 * project's own profile, generated from a template and loaded with
 * apparmor_parser when the kernel does not have it yet; Localhost names a
 * profile that must already be loaded; Unconfined applies none. A host
 * without AppArmor is reported, not a failure: only an explicit Localhost
 * profile is refused there. docs/security.md describes the behaviour. */

#define OCID_LOG_CATEGORY "sec-apparmor"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/apparmor.h> /* aa_is_enabled(), aa_find_mountpoint() */

#include <ocid/exec.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

#define AA_DEFAULT_PROFILE "ocid-default"
#define AA_DEFAULT_PARSER "/sbin/apparmor_parser"
#define AA_DEFAULT_TEMPLATE OCID_SYSCONFDIR "/ocid/apparmor/ocid-default"
#define AA_DEFAULT_PARSER_TIMEOUT 60            /* seconds */
/* What the template says where the profile's name goes. */
#define AA_TEMPLATE_NAME "@PROFILE_NAME@"
#define AA_TEMPLATE_MAX (1024 * 1024)
#define AA_PROFILE_NAME_MAX 1024

struct aa_config {
        char *default_profile;
        char *parser;
        char *template;
        int64_t parser_timeout;
};

struct aa_state {
        struct aa_config cfg;
        int enabled;
        char *reason;                   /* why not, when it is not */
        int warned_disabled;            /* the one log line of a host without AppArmor */
        pthread_mutex_t load_lock;      /* one apparmor_parser at a time */
};

static const char *const aa_keys[] = { "default_profile", "parser", "template", "parser_timeout", NULL };

static void aa_config_done(struct aa_config *c)
{
        free(c->default_profile);
        free(c->parser);
        free(c->template);
}

/* The default profile's name goes into the template verbatim: only a plain
 * word is allowed. */
static bool aa_default_name_is_valid(const char *name)
{
        if (!*name || strlen(name) > 255)
                return false;
        for (const char *p = name; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *p))
                        return false;
        return name[0] != '.' && name[0] != '-';
}

static int aa_parse(const config_setting_t *cfg, struct aa_config *c, struct ocid_error **err)
{
        int r;

        c->default_profile = xstrdup(AA_DEFAULT_PROFILE);
        c->parser = xstrdup(AA_DEFAULT_PARSER);
        c->template = xstrdup(AA_DEFAULT_TEMPLATE);
        c->parser_timeout = AA_DEFAULT_PARSER_TIMEOUT;

        r = ocid_setting_check_keys(cfg, aa_keys, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_string(cfg, "default_profile", &c->default_profile, err);
        if (r < 0)
                return r;
        if (!aa_default_name_is_valid(c->default_profile))
                return ocid_setting_error(config_setting_get_member(cfg, "default_profile"), err,
                                          "'%s' is not a valid profile name (letters, digits, '_', '.', '-')",
                                          c->default_profile);
        r = ocid_setting_get_string(cfg, "parser", &c->parser, err);
        if (r < 0)
                return r;
        if (c->parser[0] != '/')
                return ocid_setting_error(config_setting_get_member(cfg, "parser"), err,
                                          "'%s' is not an absolute path", c->parser);
        r = ocid_setting_get_string(cfg, "template", &c->template, err);
        if (r < 0)
                return r;
        if (c->template[0] != '/')
                return ocid_setting_error(config_setting_get_member(cfg, "template"), err,
                                          "'%s' is not an absolute path", c->template);
        r = ocid_setting_get_int64(cfg, "parser_timeout", &c->parser_timeout, err);
        if (r < 0)
                return r;
        if (c->parser_timeout < 1 || c->parser_timeout > 3600)
                return ocid_setting_error(config_setting_get_member(cfg, "parser_timeout"), err,
                                          "%" PRId64 " is out of range (1 to 3600 seconds)", c->parser_timeout);
        return 0;
}

/* Why aa_is_enabled() said no, from its errno (libapparmor's documented
 * values). */
static char *aa_disabled_reason(int e)
{
        switch (e) {
        case ENOSYS:
                return xstrdup("AppArmor is not available on this system");
        case ECANCELED:
                return xstrdup("AppArmor is available but was disabled at boot");
        case ENOENT:
                return xstrdup("AppArmor is available but its interface (securityfs) is not mounted");
        case EPERM:
        case EACCES:
                return xstrdup("not permitted to determine whether AppArmor is enabled");
        default:
                return xasprintf("AppArmor is not enabled: %s", strerror(e ? e : ENOSYS));
        }
}

/* Whether the kernel has a profile called name: a line "<name> (<mode>)" of
 * <securityfs>/apparmor/profiles. Returns 1, 0, or < 0 with *err. */
static int aa_profile_is_loaded(const char *name, struct ocid_error **err)
{
        _cleanup_free_ char *mnt = NULL, *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t cap = 0, len = strlen(name);
        ssize_t n;

        if (aa_find_mountpoint(&mnt) < 0)
                return ocid_error_set(err, errno ? errno : ENOENT, "find the AppArmor filesystem");
        path = ocid_path_join(mnt, "profiles");
        f = fopen(path, "re");
        if (!f)
                return ocid_error_set(err, errno, "open '%s'", path);
        while ((n = getline(&line, &cap, f)) >= 0) {
                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = '\0';
                /* the mode is the last parenthesised word: a name may hold
                 * spaces and parentheses of its own */
                char *mode = strrchr(line, '(');
                if (!mode || mode == line || mode[-1] != ' ')
                        continue;
                if ((size_t) (mode - 1 - line) == len && strncmp(line, name, len) == 0)
                        return 1;
        }
        if (ferror(f))
                return ocid_error_set(err, EIO, "read '%s'", path);
        return 0;
}

/* The template with every AA_TEMPLATE_NAME replaced by name. */
static int aa_render_template(const char *template_path, const char *name, char **ret, size_t *ret_len,
                              struct ocid_error **err)
{
        _cleanup_free_ char *text = NULL;
        char *out = NULL;
        size_t len, out_len = 0, nl = strlen(name), tl = strlen(AA_TEMPLATE_NAME);
        const char *p, *hit;
        int found = 0;
        int r;

        r = ocid_read_file(template_path, AA_TEMPLATE_MAX, &text, &len, err);
        if (r < 0)
                return ocid_error_prefix(err, "AppArmor profile template");
        if (memchr(text, '\0', len))
                return ocid_error_msg(err, EINVAL, "AppArmor profile template '%s' holds a NUL byte", template_path);
        for (p = text; (hit = strstr(p, AA_TEMPLATE_NAME)); p = hit + tl) {
                out = xrealloc(out, out_len + (size_t) (hit - p) + nl + 1);
                memcpy(out + out_len, p, (size_t) (hit - p));
                out_len += (size_t) (hit - p);
                memcpy(out + out_len, name, nl);
                out_len += nl;
                found = 1;
        }
        if (!found) {
                free(out);
                return ocid_error_msg(err, EINVAL, "AppArmor profile template '%s' does not contain %s",
                                      template_path, AA_TEMPLATE_NAME);
        }
        len = strlen(p);
        out = xrealloc(out, out_len + len + 1);
        memcpy(out + out_len, p, len + 1);
        *ret = out;
        *ret_len = out_len + len;
        return 0;
}

/* Loads (or replaces) the default profile: the rendered template on
 * apparmor_parser's stdin, -K to skip its cache, -r to replace. */
static int aa_load_default(struct aa_state *s, struct ocid_error **err)
{
        _cleanup_free_ char *text = NULL;
        struct ocid_cmd_result res = { 0 };
        const char *argv[] = { s->cfg.parser, "-Kr", NULL };
        struct ocid_cmd cmd = {
                .argv = argv,
                .timeout_ms = s->cfg.parser_timeout * 1000,
                .max_output = 64 * 1024,
        };
        size_t len = 0;
        int r;

        r = aa_render_template(s->cfg.template, s->cfg.default_profile, &text, &len, err);
        if (r < 0)
                return r;
        cmd.input = text;
        cmd.input_len = len;
        r = ocid_cmd_run(&cmd, &res, err);
        if (r < 0)
                return ocid_error_prefix(err, "run '%s'", s->cfg.parser);
        if (res.timed_out)
                r = ocid_error_msg(err, ETIMEDOUT, "'%s' did not finish in %" PRId64 " s",
                                   s->cfg.parser, s->cfg.parser_timeout);
        else if (res.exit_code != 0) {
                /* its diagnostics, on one line */
                for (char *c = res.err; c && *c; c++)
                        if (*c == '\n' || *c == '\r' || *c == '\t')
                                *c = ' ';
                while (res.err_len > 0 && res.err[res.err_len - 1] == ' ')
                        res.err[--res.err_len] = '\0';
                if (res.exit_code < 0)
                        r = ocid_error_msg(err, EIO, "'%s' was killed by signal %d", s->cfg.parser,
                                           res.term_signal);
                else
                        r = ocid_error_msg(err, EIO, "'%s' failed with exit code %d: %s", s->cfg.parser,
                                           res.exit_code, res.err_len ? res.err : "(no message)");
        }
        ocid_cmd_result_done(&res);
        if (r < 0)
                return r;
        ocid_log(OCID_LOG_INFO, "loaded AppArmor profile '%s' from '%s'", s->cfg.default_profile,
                 s->cfg.template);
        return 0;
}

/* Makes sure the default profile is in the kernel. */
static int aa_ensure_default(struct aa_state *s, struct ocid_error **err)
{
        int r;

        pthread_mutex_lock(&s->load_lock);
        r = aa_profile_is_loaded(s->cfg.default_profile, err);
        if (r == 0) {
                r = aa_load_default(s, err);
                if (r >= 0) {
                        r = aa_profile_is_loaded(s->cfg.default_profile, err);
                        if (r == 0)
                                r = ocid_error_msg(err, EIO, "'%s' succeeded but profile '%s' is still not loaded",
                                                   s->cfg.parser, s->cfg.default_profile);
                }
        }
        pthread_mutex_unlock(&s->load_lock);
        if (r < 0)
                return ocid_error_prefix(err, "AppArmor profile '%s'", s->cfg.default_profile);
        return 0;
}

/* A profile name a pod gave: not empty, no control characters. */
static int aa_check_ref(const char *ref, struct ocid_error **err)
{
        size_t len = ref ? strlen(ref) : 0;

        if (len == 0)
                return ocid_error_msg(err, EINVAL, "the AppArmor localhost profile name is empty");
        if (len > AA_PROFILE_NAME_MAX)
                return ocid_error_msg(err, EINVAL, "the AppArmor localhost profile name is longer than %d bytes",
                                      AA_PROFILE_NAME_MAX);
        for (const unsigned char *p = (const unsigned char *) ref; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return ocid_error_msg(err, EINVAL,
                                              "the AppArmor localhost profile name holds a control character");
        return 0;
}

/* The profile for one container, from the CRI choice: *ret_profile is the
 * name to set, or NULL for none. */
static int aa_choose(struct aa_state *s, uint32_t type, const char *ref, int privileged, char **ret_profile,
                     struct ocid_error **err)
{
        int r;

        switch (type) {
        case OCID_SECURITY_PROFILE_UNSET:
                /* what other runtimes do: the default where AppArmor is on,
                 * but a privileged container runs unconfined unless asked */
                if (privileged || !s->enabled) {
                        *ret_profile = NULL;
                        return 0;
                }
                break;
        case OCID_SECURITY_PROFILE_RUNTIME_DEFAULT:
                break;
        case OCID_SECURITY_PROFILE_UNCONFINED:
                *ret_profile = NULL;
                return 0;
        case OCID_SECURITY_PROFILE_LOCALHOST:
                r = aa_check_ref(ref, err);
                if (r < 0)
                        return r;
                if (!s->enabled)
                        return ocid_error_msg(err, EOPNOTSUPP,
                                              "AppArmor profile '%s' was asked for, but AppArmor is not enabled on this host (%s)",
                                              ref, s->reason);
                r = aa_profile_is_loaded(ref, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        return ocid_error_msg(err, ENOENT, "AppArmor profile '%s' is not loaded", ref);
                *ret_profile = xstrdup(ref);
                return 0;
        default:
                return ocid_error_msg(err, EINVAL, "unknown AppArmor profile type %" PRIu32, type);
        }

        /* runtime/default */
        if (!s->enabled) {
                if (!__atomic_exchange_n(&s->warned_disabled, 1, __ATOMIC_ACQ_REL))
                        ocid_log(OCID_LOG_INFO,
                                 "containers asking for the runtime default AppArmor profile run without one: %s",
                                 s->reason);
                *ret_profile = NULL;
                return 0;
        }
        r = aa_ensure_default(s, err);
        if (r < 0)
                return r;
        *ret_profile = xstrdup(s->cfg.default_profile);
        return 0;
}

/* Sets or clears process.apparmorProfile. */
static int aa_apply(void *state, struct ocid_security_request *req, struct json_object *spec,
                    struct ocid_error **err)
{
        struct aa_state *s = state;
        _cleanup_free_ char *profile = NULL;
        struct json_object *process;
        int r;

        r = aa_choose(s, req->apparmor.type, req->apparmor.localhost_ref, req->privileged, &profile, err);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(spec, "process", &process) || !json_object_is_type(process, json_type_object))
                return ocid_error_msg(err, EINVAL, "the container's spec has no process object");
        if (profile) {
                ocid_log(OCID_LOG_DEBUG, "container '%s': AppArmor profile '%s'", req->container_id, profile);
                json_object_object_add(process, "apparmorProfile", json_object_new_string(profile));
        } else
                json_object_object_del(process, "apparmorProfile");
        return 0;
}

static int aa_check(const config_setting_t *cfg, struct ocid_error **err)
{
        struct aa_config c = { 0 };
        int r = aa_parse(cfg, &c, err);

        aa_config_done(&c);
        return r;
}

static int aa_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        struct aa_state *s;
        int r;

        s = xzalloc(sizeof(*s));
        r = aa_parse(cfg, &s->cfg, err);
        if (r < 0) {
                aa_config_done(&s->cfg);
                free(s);
                return r;
        }
        pthread_mutex_init(&s->load_lock, NULL);
        errno = 0;
        s->enabled = aa_is_enabled() == 1;
        if (!s->enabled)
                s->reason = aa_disabled_reason(errno);
        ocid_log(OCID_LOG_DEBUG, "AppArmor %s, default profile '%s'", s->enabled ? "enabled" : "not enabled",
                 s->cfg.default_profile);
        *ret_state = s;
        return 0;
}

static void aa_fini(void *state)
{
        struct aa_state *s = state;

        if (!s)
                return;
        pthread_mutex_destroy(&s->load_lock);
        aa_config_done(&s->cfg);
        free(s->reason);
        free(s);
}

/* Ready either way: without AppArmor containers run unconfined by it, and
 * info says why. */
static int aa_status(void *state, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        return 1;
}

static int aa_info(void *state, char **ret_json, struct ocid_error **err)
{
        struct aa_state *s = state;
        _cleanup_json_ struct json_object *o = json_object_new_object();

        json_object_object_add(o, "enabled", json_object_new_boolean(s->enabled));
        json_object_object_add(o, "default_profile", json_object_new_string(s->cfg.default_profile));
        if (!s->enabled)
                json_object_object_add(o, "reason", json_object_new_string(s->reason));
        else {
                _cleanup_error_ struct ocid_error *e = NULL;
                int r = aa_profile_is_loaded(s->cfg.default_profile, &e);

                if (r >= 0)
                        json_object_object_add(o, "default_profile_loaded", json_object_new_boolean(r));
                else
                        json_object_object_add(o, "default_profile_loaded_error",
                                               json_object_new_string(e->message));
        }
        *ret_json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

static const struct ocid_security_ops aa_ops = {
        .base = {
                .init = aa_init,
                .fini = aa_fini,
                .check = aa_check,
                .status = aa_status,
                .info = aa_info,
        },
        .apply = aa_apply,
};

OCID_MODULE_DEFINE(sec_apparmor, "sec-apparmor", OCID_MODULE_KIND_SECURITY, &aa_ops);
