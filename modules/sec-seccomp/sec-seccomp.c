/* SPDX-License-Identifier: Apache-2.0 */
/* sec-seccomp: seccomp filters for containers (libseccomp). This minor
 * implements the module's life and reports whether the kernel supports
 * seccomp filters; a kernel without them is reported, not a failure. The
 * security ops come with later ABI minors. */

#define OCID_LOG_CATEGORY "sec-seccomp"

#include <errno.h>
#include <linux/seccomp.h> /* SECCOMP_MODE_FILTER */
#include <seccomp.h>       /* seccomp_version() */
#include <stdlib.h>
#include <sys/prctl.h>

#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

struct scmp_state {
        int kernel_support;     /* 1 when the kernel takes seccomp filters */
        char *reason;           /* why not, when it does not */
};

/* No settings yet: any key in modules.sec-seccomp is an error. */
static const char *const scmp_keys[] = { NULL };

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

static int scmp_check(const config_setting_t *cfg, struct ocid_error **err)
{
        return ocid_setting_check_keys(cfg, scmp_keys, err);
}

static int scmp_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        struct scmp_state *s;
        int r;

        r = scmp_check(cfg, err);
        if (r < 0)
                return r;
        s = xzalloc(sizeof(*s));
        s->kernel_support = scmp_detect(&s->reason);
        *ret_state = s;
        return 0;
}

static void scmp_fini(void *state)
{
        struct scmp_state *s = state;

        if (!s)
                return;
        free(s->reason);
        free(s);
}

/* Ready either way: without kernel support containers run unconfined by
 * seccomp, and info says why. */
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
        *ret_json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
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
};

OCID_MODULE_DEFINE(sec_seccomp, "sec-seccomp", OCID_MODULE_KIND_SECURITY, &scmp_ops);
