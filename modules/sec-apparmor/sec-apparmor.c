/* SPDX-License-Identifier: Apache-2.0 */
/* sec-apparmor: AppArmor profiles for containers. This minor implements the
 * module's life and reports whether AppArmor is enabled on the host; a host
 * without it is reported, not a failure. The security ops come with later
 * ABI minors. */

#define OCID_LOG_CATEGORY "sec-apparmor"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/apparmor.h> /* aa_is_enabled() */

#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

struct aa_state {
        int enabled;
        char *reason;   /* why not, when it is not */
};

/* No settings yet: any key in modules.sec-apparmor is an error. */
static const char *const aa_keys[] = { NULL };

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

static int aa_check(const config_setting_t *cfg, struct ocid_error **err)
{
        return ocid_setting_check_keys(cfg, aa_keys, err);
}

static int aa_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        struct aa_state *s;
        int r;

        r = aa_check(cfg, err);
        if (r < 0)
                return r;
        s = xzalloc(sizeof(*s));
        errno = 0;
        s->enabled = aa_is_enabled() == 1;
        if (!s->enabled)
                s->reason = aa_disabled_reason(errno);
        *ret_state = s;
        return 0;
}

static void aa_fini(void *state)
{
        struct aa_state *s = state;

        if (!s)
                return;
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
        if (!s->enabled)
                json_object_object_add(o, "reason", json_object_new_string(s->reason));
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
};

OCID_MODULE_DEFINE(sec_apparmor, "sec-apparmor", OCID_MODULE_KIND_SECURITY, &aa_ops);
