/* SPDX-License-Identifier: Apache-2.0 */
/* sec-seccomp: seccomp filters for containers. RuntimeDefault applies the
 * default profile (etc/seccomp.json, re-read when its file changes),
 * Localhost a profile file the pod names, Unconfined none. Profiles are in
 * the OCI format or Docker's; both are translated to the spec's
 * linux.seccomp for the host's architecture and the container's
 * capabilities, with every system call name checked by libseccomp.
 * docs/security.md describes the settings and the rules. */

#define OCID_LOG_CATEGORY "sec-seccomp"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/seccomp.h> /* SECCOMP_MODE_FILTER */
#include <pthread.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

#ifndef OCID_SYSCONFDIR
#define OCID_SYSCONFDIR "/etc"
#endif
#define SCMP_DEFAULT_PROFILE OCID_SYSCONFDIR "/ocid/seccomp.json"
/* A profile is a few hundred entries; anything much bigger is not one. */
#define SCMP_PROFILE_MAX (1u << 20)
#define SCMP_MAX_ARGS 6

/* What an unknown system call name in a profile does. */
#define SCMP_UNKNOWN_WARN   0   /* skipped, one warning per profile */
#define SCMP_UNKNOWN_IGNORE 1   /* skipped silently */
#define SCMP_UNKNOWN_ERROR  2   /* the profile is refused */

struct scmp_state {
        int kernel_support;        /* 1 when the kernel takes seccomp filters */
        char *reason;              /* why not, when it does not */
        char *default_profile;     /* path */
        int require_kernel_support;
        int use_default_when_empty;
        int unknown_mode;
        pthread_mutex_t lock;      /* guards what follows */
        struct json_object *dflt;  /* the default profile as read, or NULL */
        struct stat dflt_st;       /* the file it came from */
        struct stat failed_st;     /* a changed file that failed to load, warned about once */
        int warned_no_kernel;
};

static const char *const scmp_keys[] = {
        "default_profile", "require_kernel_support", "unknown_syscall", "use_default_when_empty", NULL,
};

/* ---- kernel support ------------------------------------------------------- */

/* The kernel has seccomp when PR_GET_SECCOMP works, and filter mode when
 * PR_SET_SECCOMP with SECCOMP_MODE_FILTER and a NULL program fails with
 * EFAULT (or EACCES without no_new_privs) rather than EINVAL. Nothing is
 * installed either way. Returns 1 or 0 with *ret_reason. */
static int scmp_detect(char **ret_reason)
{
        if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL) {
                *ret_reason = xstrdup("the kernel is built without seccomp (CONFIG_SECCOMP)");
                return 0;
        }
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL, 0, 0) < 0 && errno == EINVAL) {
                *ret_reason = xstrdup("the kernel has no seccomp filter mode (CONFIG_SECCOMP_FILTER)");
                return 0;
        }
        return 1;
}

/* ---- profile translation -------------------------------------------------- */

/* What a profile is translated for. */
struct scmp_target {
        uint32_t native;           /* libseccomp token of the host's architecture */
        int kernel_major, kernel_minor;
        struct json_object *caps;  /* the container's bounding set (array of "CAP_X"), or NULL */
        int all_entries;           /* 1: ignore includes/excludes (validation of every entry) */
        int unknown_mode;
};

static const char *const scmp_actions[] = {
        "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", NULL,
};

static const char *const scmp_cmp_ops[] = {
        "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ", NULL,
};

static const char *const scmp_flags[] = {
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", NULL,
};

static bool scmp_in(const char *const *list, const char *s)
{
        for (; *list; list++)
                if (streq(*list, s))
                        return true;
        return false;
}

/* The libseccomp token of an OCI architecture name ("SCMP_ARCH_X86_64"), 0
 * when unknown. */
static uint32_t scmp_arch_token(const char *name)
{
        const char *rest = ocid_startswith(name, "SCMP_ARCH_");
        _cleanup_free_ char *lower = NULL;

        if (!rest || !*rest)
                return 0;
        lower = xstrdup(rest);
        for (char *p = lower; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char) (*p - 'A' + 'a');
        return seccomp_arch_resolve_name(lower);
}

/* Whether a Docker-style architecture name (Go's GOARCH, or libseccomp's
 * own name) means the host's architecture. */
static bool scmp_arch_is_native(const char *name, uint32_t native)
{
        static const struct {
                const char *alias;
                const char *scmp;
        } aliases[] = {
                { "amd64", "x86_64" }, { "386", "x86" }, { "i386", "x86" }, { "arm64", "aarch64" },
        };

        for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
                if (streq(name, aliases[i].alias))
                        return seccomp_arch_resolve_name(aliases[i].scmp) == native;
        return seccomp_arch_resolve_name(name) == native;
}

static bool scmp_strv_json_has(struct json_object *arr, const char *s)
{
        size_t n;

        if (!arr || !json_object_is_type(arr, json_type_array))
                return false;
        n = json_object_array_length(arr);
        for (size_t i = 0; i < n; i++) {
                const char *v = json_object_get_string(json_object_array_get_idx(arr, i));

                if (v && streq(v, s))
                        return true;
        }
        return false;
}

struct scmp_ctx {
        const char *path;
        const struct scmp_target *t;
        uint32_t arches[16];        /* validation architectures */
        size_t n_arches;
        char **unknown;             /* unknown names, each once */
};

static int scmp_bad(const struct scmp_ctx *c, struct ocid_error **err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int scmp_bad(const struct scmp_ctx *c, struct ocid_error **err, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();
        return ocid_error_msg(err, EINVAL, "seccomp profile '%s': %s", c->path, msg);
}

/* An array of strings, or absent; *ret borrows it. */
static int scmp_get_strarray(const struct scmp_ctx *c, struct json_object *o, const char *key, const char *where,
                             struct json_object **ret, struct ocid_error **err)
{
        struct json_object *a = NULL;
        size_t n;

        *ret = NULL;
        if (!json_object_object_get_ex(o, key, &a) || !a)
                return 0;
        if (!json_object_is_type(a, json_type_array))
                return scmp_bad(c, err, "%s%s: expected an array of strings", where, key);
        n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++)
                if (!json_object_is_type(json_object_array_get_idx(a, i), json_type_string))
                        return scmp_bad(c, err, "%s%s[%zu]: expected a string", where, key, i);
        *ret = a;
        return 0;
}

static int scmp_get_uint(const struct scmp_ctx *c, struct json_object *o, const char *key, const char *where,
                         uint64_t max, bool *ret_present, uint64_t *ret, struct ocid_error **err)
{
        struct json_object *v = NULL;

        *ret_present = false;
        if (!json_object_object_get_ex(o, key, &v) || !v)
                return 0;
        if (!json_object_is_type(v, json_type_int))
                return scmp_bad(c, err, "%s%s: expected a non-negative integer", where, key);
        if (json_object_get_int64(v) < 0)
                return scmp_bad(c, err, "%s%s: expected a non-negative integer", where, key);
        *ret = json_object_get_uint64(v);
        if (*ret > max)
                return scmp_bad(c, err, "%s%s: %s is out of range", where, key, json_object_to_json_string(v));
        *ret_present = true;
        return 0;
}

/* "4.14" against the running kernel: 1 when the kernel is at least it. */
static int scmp_kernel_at_least(const struct scmp_ctx *c, const char *where, const char *v, struct ocid_error **err)
{
        unsigned major, minor;
        char tail;

        if (sscanf(v, "%u.%u%c", &major, &minor, &tail) != 2)
                return scmp_bad(c, err, "%sminKernel: '%s' is not MAJOR.MINOR", where, v);
        if (c->t->kernel_major != (int) major)
                return c->t->kernel_major > (int) major;
        return c->t->kernel_minor >= (int) minor;
}

/* Docker's includes/excludes: 1 when the entry applies to this container. */
static int scmp_entry_applies(const struct scmp_ctx *c, struct json_object *e, const char *where,
                              struct ocid_error **err)
{
        static const char *const which[] = { "excludes", "includes" };
        int applies = 1;

        for (size_t w = 0; w < ELEMENTSOF(which); w++) {
                bool include = w == 1;
                _cleanup_free_ char *at = xasprintf("%s%s.", where, which[w]);
                struct json_object *cond = NULL, *caps, *arches, *mk = NULL;
                int r;

                if (!json_object_object_get_ex(e, which[w], &cond) || !cond)
                        continue;
                if (!json_object_is_type(cond, json_type_object))
                        return scmp_bad(c, err, "%s%s: expected an object", where, which[w]);
                r = scmp_get_strarray(c, cond, "caps", at, &caps, err);
                if (r < 0)
                        return r;
                r = scmp_get_strarray(c, cond, "arches", at, &arches, err);
                if (r < 0)
                        return r;
                if (json_object_object_get_ex(cond, "minKernel", &mk) && mk) {
                        if (!json_object_is_type(mk, json_type_string))
                                return scmp_bad(c, err, "%sminKernel: expected a string", at);
                        r = scmp_kernel_at_least(c, at, json_object_get_string(mk), err);
                        if (r < 0)
                                return r;
                        /* includes: needs at least it; excludes: skipped from it on */
                        if (include ? !r : r)
                                applies = 0;
                }
                if (arches && json_object_array_length(arches) > 0) {
                        bool any = false;

                        for (size_t i = 0; i < json_object_array_length(arches); i++)
                                if (scmp_arch_is_native(json_object_get_string(json_object_array_get_idx(arches, i)),
                                                        c->t->native))
                                        any = true;
                        if (include ? !any : any)
                                applies = 0;
                }
                if (caps) {
                        /* includes: every cap must be held; excludes: any held cap skips */
                        for (size_t i = 0; i < json_object_array_length(caps); i++) {
                                bool held = scmp_strv_json_has(
                                        c->t->caps, json_object_get_string(json_object_array_get_idx(caps, i)));

                                if (include ? !held : held)
                                        applies = 0;
                        }
                }
        }
        return applies;
}

static bool scmp_name_known(const struct scmp_ctx *c, const char *name)
{
        for (size_t i = 0; i < c->n_arches; i++)
                if (seccomp_syscall_resolve_name_arch(c->arches[i], name) != __NR_SCMP_ERROR)
                        return true;
        return false;
}

static int scmp_translate_args(const struct scmp_ctx *c, struct json_object *args, const char *where,
                               struct json_object **ret, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *out = json_object_new_array();
        size_t n;

        if (!json_object_is_type(args, json_type_array))
                return scmp_bad(c, err, "%sargs: expected an array", where);
        n = json_object_array_length(args);
        if (n > SCMP_MAX_ARGS)
                return scmp_bad(c, err, "%sargs: %zu conditions, at most %d are allowed", where, n, SCMP_MAX_ARGS);
        for (size_t i = 0; i < n; i++) {
                struct json_object *a = json_object_array_get_idx(args, i), *op = NULL, *o;
                _cleanup_free_ char *at = xasprintf("%sargs[%zu].", where, i);
                uint64_t index = 0, value = 0, value2 = 0;
                bool has_index, has_value, has_value2;
                int r;

                if (!json_object_is_type(a, json_type_object))
                        return scmp_bad(c, err, "%sargs[%zu]: expected an object", where, i);
                r = scmp_get_uint(c, a, "index", at, SCMP_MAX_ARGS - 1, &has_index, &index, err);
                if (r < 0)
                        return r;
                if (!has_index)
                        return scmp_bad(c, err, "%sindex: missing", at);
                r = scmp_get_uint(c, a, "value", at, UINT64_MAX, &has_value, &value, err);
                if (r < 0)
                        return r;
                r = scmp_get_uint(c, a, "valueTwo", at, UINT64_MAX, &has_value2, &value2, err);
                if (r < 0)
                        return r;
                if (!json_object_object_get_ex(a, "op", &op) || !json_object_is_type(op, json_type_string))
                        return scmp_bad(c, err, "%sop: missing or not a string", at);
                if (!scmp_in(scmp_cmp_ops, json_object_get_string(op)))
                        return scmp_bad(c, err, "%sop: unknown operator '%s'", at, json_object_get_string(op));
                o = json_object_new_object();
                json_object_object_add(o, "index", json_object_new_uint64(index));
                json_object_object_add(o, "value", json_object_new_uint64(value));
                if (has_value2)
                        json_object_object_add(o, "valueTwo", json_object_new_uint64(value2));
                json_object_object_add(o, "op", json_object_new_string(json_object_get_string(op)));
                json_object_array_add(out, o);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static int scmp_action(const struct scmp_ctx *c, struct json_object *o, const char *key, const char *where,
                       const char **ret, struct ocid_error **err)
{
        struct json_object *v = NULL;
        const char *s;

        if (!json_object_object_get_ex(o, key, &v) || !v)
                return scmp_bad(c, err, "%s%s: missing", where, key);
        if (!json_object_is_type(v, json_type_string))
                return scmp_bad(c, err, "%s%s: expected a string", where, key);
        s = json_object_get_string(v);
        if (streq(s, "SCMP_ACT_NOTIFY"))
                return scmp_bad(c, err, "%s%s: SCMP_ACT_NOTIFY needs a seccomp agent, which ocid does not run",
                                where, key);
        if (!scmp_in(scmp_actions, s))
                return scmp_bad(c, err, "%s%s: unknown action '%s'", where, key, s);
        *ret = s;
        return 0;
}

static int scmp_translate_entry(struct scmp_ctx *c, struct json_object *e, size_t idx, struct json_object *out,
                                struct ocid_error **err)
{
        _cleanup_free_ char *where = xasprintf("syscalls[%zu]: ", idx);
        _cleanup_json_ struct json_object *names_out = json_object_new_array(), *args_out = NULL;
        struct json_object *names = NULL, *name = NULL, *args = NULL, *entry;
        const char *action;
        uint64_t errno_ret = 0;
        bool has_errno;
        size_t n;
        int r;

        if (!json_object_is_type(e, json_type_object))
                return scmp_bad(c, err, "syscalls[%zu]: expected an object", idx);
        r = scmp_action(c, e, "action", where, &action, err);
        if (r < 0)
                return r;
        r = scmp_get_strarray(c, e, "names", where, &names, err);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(e, "name", &name) && name && !json_object_is_type(name, json_type_string))
                return scmp_bad(c, err, "%sname: expected a string", where);
        if (!names && !name)
                return scmp_bad(c, err, "%sneither 'names' nor 'name' is given", where);
        r = scmp_get_uint(c, e, "errnoRet", where, UINT32_MAX, &has_errno, &errno_ret, err);
        if (r < 0)
                return r;
        if (has_errno && !streq(action, "SCMP_ACT_ERRNO") && !streq(action, "SCMP_ACT_TRACE"))
                return scmp_bad(c, err, "%serrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one", where);
        if (json_object_object_get_ex(e, "args", &args) && args) {
                r = scmp_translate_args(c, args, where, &args_out, err);
                if (r < 0)
                        return r;
        }
        if (!c->t->all_entries) {
                r = scmp_entry_applies(c, e, where, err);
                if (r <= 0)
                        return r;
        } else {
                r = scmp_entry_applies(c, e, where, err);   /* validates the conditions */
                if (r < 0)
                        return r;
        }

        n = names ? json_object_array_length(names) : 0;
        for (size_t i = 0; i <= n; i++) {
                const char *s = i < n ? json_object_get_string(json_object_array_get_idx(names, i))
                                      : (name ? json_object_get_string(name) : NULL);

                if (!s)
                        continue;
                if (!*s)
                        return scmp_bad(c, err, "%san empty system call name", where);
                if (!scmp_name_known(c, s)) {
                        if (c->t->unknown_mode == SCMP_UNKNOWN_ERROR)
                                return scmp_bad(c, err, "%sunknown system call '%s'", where, s);
                        if (!ocid_strv_contains(c->unknown, s))
                                ocid_strv_push(&c->unknown, s);
                        continue;
                }
                json_object_array_add(names_out, json_object_new_string(s));
        }
        if (json_object_array_length(names_out) == 0)
                return 0;
        entry = json_object_new_object();
        json_object_object_add(entry, "names", TAKE_PTR(names_out));
        json_object_object_add(entry, "action", json_object_new_string(action));
        if (has_errno)
                json_object_object_add(entry, "errnoRet", json_object_new_uint64(errno_ret));
        if (args_out && json_object_array_length(args_out) > 0)
                json_object_object_add(entry, "args", TAKE_PTR(args_out));
        json_object_array_add(out, entry);
        return 0;
}

/* A new string object: the translation never shares objects with the
 * profile, which stays cached (and json-c's reference counts are not
 * atomic) while the spec goes its own way on another thread. */
static struct json_object *scmp_string_copy(struct json_object *s)
{
        return json_object_new_string(json_object_get_string(s));
}

static void scmp_add_arch(struct scmp_ctx *c, uint32_t token)
{
        for (size_t i = 0; i < c->n_arches; i++)
                if (c->arches[i] == token)
                        return;
        if (c->n_arches < ELEMENTSOF(c->arches))
                c->arches[c->n_arches++] = token;
}

/* The architectures: OCI "architectures", or Docker's "archMap" entry for
 * the host. Fills c->arches (for name checks) and out.architectures. */
static int scmp_translate_arches(struct scmp_ctx *c, struct json_object *profile, struct json_object *out,
                                 struct ocid_error **err)
{
        _cleanup_json_ struct json_object *arches_out = json_object_new_array();
        struct json_object *arches = NULL, *map = NULL;
        int r;

        r = scmp_get_strarray(c, profile, "architectures", "", &arches, err);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(profile, "archMap", &map) && map) {
                if (!json_object_is_type(map, json_type_array))
                        return scmp_bad(c, err, "archMap: expected an array");
                for (size_t i = 0; i < json_object_array_length(map); i++) {
                        struct json_object *m = json_object_array_get_idx(map, i), *a = NULL, *subs;
                        _cleanup_free_ char *at = xasprintf("archMap[%zu].", i);
                        uint32_t tok;

                        if (!json_object_is_type(m, json_type_object) ||
                            !json_object_object_get_ex(m, "architecture", &a) ||
                            !json_object_is_type(a, json_type_string))
                                return scmp_bad(c, err, "archMap[%zu]: expected an object with 'architecture'", i);
                        tok = scmp_arch_token(json_object_get_string(a));
                        if (!tok)
                                return scmp_bad(c, err, "%sarchitecture: unknown architecture '%s'", at,
                                                json_object_get_string(a));
                        r = scmp_get_strarray(c, m, "subArchitectures", at, &subs, err);
                        if (r < 0)
                                return r;
                        for (size_t j = 0; subs && j < json_object_array_length(subs); j++)
                                if (!scmp_arch_token(json_object_get_string(json_object_array_get_idx(subs, j))))
                                        return scmp_bad(c, err, "%ssubArchitectures[%zu]: unknown architecture '%s'",
                                                        at, j,
                                                        json_object_get_string(json_object_array_get_idx(subs, j)));
                        if (tok != c->t->native)
                                continue;
                        json_object_array_add(arches_out, scmp_string_copy(a));
                        for (size_t j = 0; subs && j < json_object_array_length(subs); j++)
                                json_object_array_add(arches_out, scmp_string_copy(json_object_array_get_idx(subs, j)));
                }
        } else if (arches) {
                for (size_t i = 0; i < json_object_array_length(arches); i++) {
                        struct json_object *a = json_object_array_get_idx(arches, i);

                        if (!scmp_arch_token(json_object_get_string(a)))
                                return scmp_bad(c, err, "architectures[%zu]: unknown architecture '%s'", i,
                                                json_object_get_string(a));
                        json_object_array_add(arches_out, scmp_string_copy(a));
                }
        }
        scmp_add_arch(c, c->t->native);
        for (size_t i = 0; i < json_object_array_length(arches_out); i++)
                scmp_add_arch(c, scmp_arch_token(json_object_get_string(json_object_array_get_idx(arches_out, i))));
        if (json_object_array_length(arches_out) > 0)
                json_object_object_add(out, "architectures", TAKE_PTR(arches_out));
        return 0;
}

/* Translates a profile (OCI or Docker format) into the spec's
 * linux.seccomp. Unknown system call names go to *ret_unknown (NULL when
 * none; NULL-terminated, caller frees) unless the target refuses them. */
static int scmp_translate(const char *path, struct json_object *profile, const struct scmp_target *t,
                          struct json_object **ret, char ***ret_unknown, struct ocid_error **err)
{
        struct scmp_ctx c = { .path = path, .t = t };
        _cleanup_json_ struct json_object *out = json_object_new_object();
        _cleanup_json_ struct json_object *calls_out = json_object_new_array();
        struct json_object *calls = NULL, *flags = NULL;
        const char *action;
        uint64_t errno_ret = 0;
        bool has_errno;
        int r;

        if (!profile || !json_object_is_type(profile, json_type_object))
                return scmp_bad(&c, err, "expected a JSON object");
        r = scmp_action(&c, profile, "defaultAction", "", &action, err);
        if (r < 0)
                return r;
        json_object_object_add(out, "defaultAction", json_object_new_string(action));
        r = scmp_get_uint(&c, profile, "defaultErrnoRet", "", UINT32_MAX, &has_errno, &errno_ret, err);
        if (r < 0)
                return r;
        if (has_errno)
                json_object_object_add(out, "defaultErrnoRet", json_object_new_uint64(errno_ret));
        if (json_object_object_get_ex(profile, "listenerPath", NULL))
                return scmp_bad(&c, err, "listenerPath: seccomp agents are not supported");
        r = scmp_translate_arches(&c, profile, out, err);
        if (r < 0)
                goto fail;
        r = scmp_get_strarray(&c, profile, "flags", "", &flags, err);
        if (r < 0)
                goto fail;
        for (size_t i = 0; flags && i < json_object_array_length(flags); i++)
                if (!scmp_in(scmp_flags, json_object_get_string(json_object_array_get_idx(flags, i)))) {
                        r = scmp_bad(&c, err, "flags[%zu]: unknown flag '%s'", i,
                                     json_object_get_string(json_object_array_get_idx(flags, i)));
                        goto fail;
                }
        if (flags && json_object_array_length(flags) > 0) {
                struct json_object *copy = json_object_new_array();

                for (size_t i = 0; i < json_object_array_length(flags); i++)
                        json_object_array_add(copy, scmp_string_copy(json_object_array_get_idx(flags, i)));
                json_object_object_add(out, "flags", copy);
        }

        if (json_object_object_get_ex(profile, "syscalls", &calls) && calls) {
                if (!json_object_is_type(calls, json_type_array)) {
                        r = scmp_bad(&c, err, "syscalls: expected an array");
                        goto fail;
                }
                for (size_t i = 0; i < json_object_array_length(calls); i++) {
                        r = scmp_translate_entry(&c, json_object_array_get_idx(calls, i), i, calls_out, err);
                        if (r < 0)
                                goto fail;
                }
        }
        json_object_object_add(out, "syscalls", TAKE_PTR(calls_out));
        *ret = TAKE_PTR(out);
        if (ret_unknown)
                *ret_unknown = TAKE_PTR(c.unknown);
        ocid_strv_free(c.unknown);
        return 0;

fail:
        ocid_strv_free(c.unknown);
        return r;
}

/* ---- reading profiles ----------------------------------------------------- */

OCID_DEFINE_CLEANUP_FUNC(struct json_tokener *, json_tokener_free)

/* Reads and parses a profile file: a regular file of at most
 * SCMP_PROFILE_MAX bytes holding one JSON value. *ret_st gets its stat. */
static int scmp_read_profile(const char *path, struct json_object **ret, struct stat *ret_st,
                             struct ocid_error **err)
{
        _cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *data = NULL;
        enum json_tokener_error jerr;
        struct json_object *obj;
        struct stat st;
        size_t len = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return ocid_error_set(err, errno, "seccomp profile '%s'", path);
        if (fstat(fd, &st) < 0)
                return ocid_error_set(err, errno, "seccomp profile '%s'", path);
        if (!S_ISREG(st.st_mode))
                return ocid_error_msg(err, EINVAL, "seccomp profile '%s': not a regular file", path);
        if ((uint64_t) st.st_size > SCMP_PROFILE_MAX)
                return ocid_error_msg(err, EFBIG, "seccomp profile '%s': larger than %u bytes", path,
                                      SCMP_PROFILE_MAX);
        data = xmalloc(SCMP_PROFILE_MAX + 1);
        for (;;) {
                ssize_t n = read(fd, data + len, SCMP_PROFILE_MAX + 1 - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return ocid_error_set(err, errno, "seccomp profile '%s': read", path);
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > SCMP_PROFILE_MAX)
                        return ocid_error_msg(err, EFBIG, "seccomp profile '%s': larger than %u bytes", path,
                                              SCMP_PROFILE_MAX);
        }
        tok = json_tokener_new();
        if (!tok)
                return ocid_error_set(err, ENOMEM, "seccomp profile '%s'", path);
        obj = json_tokener_parse_ex(tok, data, (int) len);
        jerr = json_tokener_get_error(tok);
        if (!obj || jerr != json_tokener_success) {
                json_object_put(obj);
                return ocid_error_msg(err, EINVAL, "seccomp profile '%s': invalid JSON at offset %zu: %s", path,
                                      json_tokener_get_parse_end(tok),
                                      jerr == json_tokener_continue ? "unexpected end of data"
                                                                    : json_tokener_error_desc(jerr));
        }
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
                if (!strchr(" \t\r\n", data[i])) {
                        json_object_put(obj);
                        return ocid_error_msg(err, EINVAL, "seccomp profile '%s': invalid JSON at offset %zu: "
                                              "data after the profile", path, i);
                }
        *ret = obj;
        if (ret_st)
                *ret_st = st;
        return 0;
}

/* A Localhost reference: an absolute path without "." or ".." components. */
static int scmp_localhost_check(const char *ref, struct ocid_error **err)
{
        if (!ref || ref[0] != '/')
                return ocid_error_msg(err, EINVAL, "seccomp profile '%s': a Localhost profile must be an "
                                      "absolute path", ref ? ref : "");
        for (const char *p = ref; *p;) {
                size_t n = strcspn(p, "/");

                if ((n == 2 && p[0] == '.' && p[1] == '.') || (n == 1 && p[0] == '.'))
                        return ocid_error_msg(err, EINVAL, "seccomp profile '%s': '.' and '..' are not allowed "
                                              "in the path", ref);
                p += n;
                while (*p == '/')
                        p++;
        }
        return 0;
}

static void scmp_target_init(const struct scmp_state *s, struct json_object *spec, struct scmp_target *t)
{
        struct utsname u;
        struct json_object *proc = NULL, *caps = NULL, *bounding = NULL;

        *t = (struct scmp_target) { .native = seccomp_arch_native(), .unknown_mode = s->unknown_mode };
        if (uname(&u) == 0 && sscanf(u.release, "%d.%d", &t->kernel_major, &t->kernel_minor) != 2)
                t->kernel_major = t->kernel_minor = 0;
        if (spec && json_object_object_get_ex(spec, "process", &proc) &&
            json_object_object_get_ex(proc, "capabilities", &caps) &&
            json_object_object_get_ex(caps, "bounding", &bounding))
                t->caps = bounding;
}

static void scmp_warn_unknown(const char *path, char **unknown)
{
        _cleanup_free_ char *list = NULL;

        if (!unknown || !unknown[0])
                return;
        for (size_t i = 0; unknown[i]; i++) {
                char *l = xasprintf("%s%s'%s'", list ? list : "", list ? ", " : "", unknown[i]);

                free(list);
                list = l;
        }
        ocid_log(OCID_LOG_WARNING, "seccomp profile '%s': system calls unknown to libseccomp on this host: %s, "
                 "ignoring", path, list);
}

/* Reads the default profile again when its file changed (or was never
 * read). With s->lock held. A file that fails to load keeps the previous
 * profile, with one warning per change. */
static int scmp_default_refresh(struct scmp_state *s, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *p = NULL, *check = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        char **unknown = NULL;
        struct scmp_target t = { 0 };
        struct stat st;
        int r;

        if (stat(s->default_profile, &st) == 0 && s->dflt && st.st_dev == s->dflt_st.st_dev &&
            st.st_ino == s->dflt_st.st_ino && st.st_size == s->dflt_st.st_size &&
            st.st_mtim.tv_sec == s->dflt_st.st_mtim.tv_sec && st.st_mtim.tv_nsec == s->dflt_st.st_mtim.tv_nsec)
                return 0;

        r = scmp_read_profile(s->default_profile, &p, &st, &e);
        if (r >= 0) {
                scmp_target_init(s, NULL, &t);
                t.all_entries = 1;
                r = scmp_translate(s->default_profile, p, &t, &check, &unknown, &e);
        }
        if (r < 0) {
                if (!s->dflt) {
                        *err = TAKE_PTR(e);
                        return r;
                }
                if (stat(s->default_profile, &st) < 0 || st.st_ino != s->failed_st.st_ino ||
                    st.st_mtim.tv_sec != s->failed_st.st_mtim.tv_sec ||
                    st.st_mtim.tv_nsec != s->failed_st.st_mtim.tv_nsec || st.st_size != s->failed_st.st_size) {
                        ocid_log(OCID_LOG_WARNING, "reloading the default profile: %s; keeping the previous one",
                                 e->message);
                        s->failed_st = st;
                }
                return 0;
        }
        if (t.unknown_mode == SCMP_UNKNOWN_WARN)
                scmp_warn_unknown(s->default_profile, unknown);
        ocid_strv_free(unknown);
        if (s->dflt)
                ocid_log(OCID_LOG_INFO, "default profile '%s' reloaded", s->default_profile);
        json_object_put(s->dflt);
        s->dflt = TAKE_PTR(p);
        s->dflt_st = st;
        return 0;
}

/* ---- the module ----------------------------------------------------------- */

struct scmp_settings {
        char *default_profile;
        int require_kernel_support;
        int use_default_when_empty;
        int unknown_mode;
};

static int scmp_parse(const config_setting_t *cfg, struct scmp_settings *ret, struct ocid_error **err)
{
        _cleanup_free_ char *unknown = NULL;
        int r;

        ret->default_profile = xstrdup(SCMP_DEFAULT_PROFILE);
        if (!cfg)
                return 0;
        r = ocid_setting_check_keys(cfg, scmp_keys, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_string(cfg, "default_profile", &ret->default_profile, err);
        if (r < 0)
                return r;
        if (ret->default_profile[0] != '/')
                return ocid_setting_error(config_setting_get_member(cfg, "default_profile"), err,
                                          "'%s' is not an absolute path", ret->default_profile);
        r = ocid_setting_get_bool(cfg, "require_kernel_support", &ret->require_kernel_support, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_bool(cfg, "use_default_when_empty", &ret->use_default_when_empty, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_string(cfg, "unknown_syscall", &unknown, err);
        if (r < 0)
                return r;
        if (!unknown || streq(unknown, "warn"))
                ret->unknown_mode = SCMP_UNKNOWN_WARN;
        else if (streq(unknown, "ignore"))
                ret->unknown_mode = SCMP_UNKNOWN_IGNORE;
        else if (streq(unknown, "error"))
                ret->unknown_mode = SCMP_UNKNOWN_ERROR;
        else
                return ocid_setting_error(config_setting_get_member(cfg, "unknown_syscall"), err,
                                          "'%s' is not one of \"warn\", \"ignore\", \"error\"", unknown);
        return 0;
}

/* The settings, and the default profile when its file exists (a missing
 * one is only a warning at start-up). */
static int scmp_check(const config_setting_t *cfg, struct ocid_error **err)
{
        _cleanup_json_ struct json_object *p = NULL, *out = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct scmp_settings st = { 0 };
        struct scmp_state tmp = { 0 };
        struct scmp_target t;
        char **unknown = NULL;
        int r;

        r = scmp_parse(cfg, &st, err);
        if (r < 0)
                goto finish;
        r = scmp_read_profile(st.default_profile, &p, NULL, &e);
        if (r < 0 && ocid_error_code(&e) == ENOENT) {
                r = 0;
                goto finish;
        }
        if (r >= 0) {
                tmp.unknown_mode = st.unknown_mode;
                scmp_target_init(&tmp, NULL, &t);
                t.all_entries = 1;
                r = scmp_translate(st.default_profile, p, &t, &out, &unknown, &e);
                ocid_strv_free(unknown);
        }
        if (r < 0)
                *err = TAKE_PTR(e);
finish:
        free(st.default_profile);
        return r;
}

static void scmp_fini(void *state)
{
        struct scmp_state *s = state;

        if (!s)
                return;
        json_object_put(s->dflt);
        pthread_mutex_destroy(&s->lock);
        free(s->default_profile);
        free(s->reason);
        free(s);
}

static int scmp_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct scmp_settings st = { 0 };
        struct scmp_state *s;
        int r;

        r = scmp_parse(cfg, &st, err);
        if (r < 0) {
                free(st.default_profile);
                return r;
        }
        s = xzalloc(sizeof(*s));
        pthread_mutex_init(&s->lock, NULL);
        s->default_profile = st.default_profile;
        s->require_kernel_support = st.require_kernel_support;
        s->use_default_when_empty = st.use_default_when_empty;
        s->unknown_mode = st.unknown_mode;
        s->kernel_support = scmp_detect(&s->reason);
        if (!s->kernel_support && s->require_kernel_support) {
                r = ocid_error_msg(err, EOPNOTSUPP, "%s, and require_kernel_support is set", s->reason);
                scmp_fini(s);
                return r;
        }

        /* A default profile that is there must be valid; a missing one is
         * reported when a container asks for it. */
        r = scmp_default_refresh(s, &e);
        if (r < 0 && ocid_error_code(&e) != ENOENT) {
                *err = TAKE_PTR(e);
                scmp_fini(s);
                return r;
        }
        if (r < 0)
                ocid_log(OCID_LOG_WARNING, "%s: RuntimeDefault containers will fail until it exists",
                         ocid_error_message(&e));
        *ret_state = s;
        return 0;
}

/* Ready either way: without kernel support containers run unconfined by
 * seccomp (unless require_kernel_support), and info says why. */
static int scmp_status(void *state, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        return 1;
}

static int scmp_info(void *state, char **ret_json, struct ocid_error **err)
{
        struct scmp_state *s = state;
        _cleanup_json_ struct json_object *o = json_object_new_object();
        const struct scmp_version *v = seccomp_version();
        _cleanup_free_ char *lib = v ? xasprintf("%u.%u.%u", v->major, v->minor, v->micro) : NULL;

        json_object_object_add(o, "kernel_support", json_object_new_boolean(s->kernel_support));
        if (!s->kernel_support)
                json_object_object_add(o, "reason", json_object_new_string(s->reason));
        json_object_object_add(o, "libseccomp", lib ? json_object_new_string(lib) : NULL);
        json_object_object_add(o, "default_profile", json_object_new_string(s->default_profile));
        pthread_mutex_lock(&s->lock);
        json_object_object_add(o, "default_profile_loaded", json_object_new_boolean(s->dflt != NULL));
        pthread_mutex_unlock(&s->lock);
        *ret_json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

static void scmp_set(struct json_object *spec, struct json_object *seccomp)
{
        struct json_object *linux_ = NULL;

        if (!json_object_object_get_ex(spec, "linux", &linux_) || !json_object_is_type(linux_, json_type_object)) {
                linux_ = json_object_new_object();
                json_object_object_add(spec, "linux", linux_);
        }
        if (seccomp)
                json_object_object_add(linux_, "seccomp", seccomp);
        else
                json_object_object_del(linux_, "seccomp");
}

static int scmp_apply(void *state, struct ocid_security_request *req, struct json_object *spec,
                      struct ocid_error **err)
{
        struct scmp_state *s = state;
        _cleanup_json_ struct json_object *profile = NULL;
        struct json_object *seccomp = NULL;
        char **unknown = NULL;
        struct scmp_target t;
        uint32_t type = req->seccomp.type;
        const char *path;
        int r;

        if (type == OCID_SECURITY_PROFILE_UNSET)
                type = s->use_default_when_empty && !req->privileged ? OCID_SECURITY_PROFILE_RUNTIME_DEFAULT
                                                                     : OCID_SECURITY_PROFILE_UNCONFINED;
        if (type == OCID_SECURITY_PROFILE_UNCONFINED) {
                scmp_set(spec, NULL);
                return 0;
        }
        if (type == OCID_SECURITY_PROFILE_LOCALHOST) {
                r = scmp_localhost_check(req->seccomp.localhost_ref, err);
                if (r < 0)
                        return r;
        } else if (type != OCID_SECURITY_PROFILE_RUNTIME_DEFAULT)
                return ocid_error_msg(err, EINVAL, "seccomp: unknown profile type %" PRIu32, type);

        if (!s->kernel_support) {
                if (type == OCID_SECURITY_PROFILE_LOCALHOST || s->require_kernel_support)
                        return ocid_error_msg(err, EOPNOTSUPP, "seccomp: %s", s->reason);
                pthread_mutex_lock(&s->lock);
                if (!s->warned_no_kernel)
                        ocid_log(OCID_LOG_WARNING, "%s: containers run without the default seccomp profile",
                                 s->reason);
                s->warned_no_kernel = 1;
                pthread_mutex_unlock(&s->lock);
                scmp_set(spec, NULL);
                return 0;
        }

        scmp_target_init(s, spec, &t);
        if (type == OCID_SECURITY_PROFILE_RUNTIME_DEFAULT) {
                path = s->default_profile;
                pthread_mutex_lock(&s->lock);
                r = scmp_default_refresh(s, err);
                if (r >= 0)
                        r = scmp_translate(path, s->dflt, &t, &seccomp, &unknown, err);
                pthread_mutex_unlock(&s->lock);
                ocid_strv_free(unknown);   /* warned about when loaded */
                if (r < 0)
                        return ocid_error_prefix(err, "RuntimeDefault");
        } else {
                path = req->seccomp.localhost_ref;
                r = scmp_read_profile(path, &profile, NULL, err);
                if (r < 0)
                        return r;
                r = scmp_translate(path, profile, &t, &seccomp, &unknown, err);
                if (r < 0)
                        return r;
                if (t.unknown_mode == SCMP_UNKNOWN_WARN)
                        scmp_warn_unknown(path, unknown);
                ocid_strv_free(unknown);
        }
        scmp_set(spec, seccomp);
        return 0;
}

static const struct ocid_security_ops scmp_ops = {
        .base = {
                .init = scmp_init,
                .fini = scmp_fini,
                .check = scmp_check,
                .status = scmp_status,
                .info = scmp_info,
        },
        .apply = scmp_apply,
};

OCID_MODULE_DEFINE(sec_seccomp, "sec-seccomp", OCID_MODULE_KIND_SECURITY, &scmp_ops);
