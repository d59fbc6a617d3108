/* SPDX-License-Identifier: Apache-2.0 */
/* sec-selinux: SELinux labels for containers. This minor implements the
 * module's life and reports whether SELinux is enabled on the host, and in
 * which mode; a host without it is reported, not a failure. The security
 * ops come with later ABI minors. */

#define OCID_LOG_CATEGORY "sec-selinux"

#include <errno.h>
#include <selinux/selinux.h> /* is_selinux_enabled(), security_getenforce() */
#include <stdlib.h>
#include <string.h>

#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

struct sel_state {
        int enabled;
        const char *mode;       /* "enforcing", "permissive" or "unknown" when enabled */
        char *reason;           /* why not, when it is not */
};

/* No settings yet: any key in modules.sec-selinux is an error. */
static const char *const sel_keys[] = { NULL };

static int sel_check(const config_setting_t *cfg, struct ocid_error **err)
{
        return ocid_setting_check_keys(cfg, sel_keys, err);
}

static int sel_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        struct sel_state *s;
        int r, enforce;

        r = sel_check(cfg, err);
        if (r < 0)
                return r;
        s = xzalloc(sizeof(*s));
        errno = 0;
        r = is_selinux_enabled();
        if (r == 1) {
                s->enabled = 1;
                enforce = security_getenforce();
                s->mode = enforce == 1 ? "enforcing" : enforce == 0 ? "permissive" : "unknown";
        } else if (r == 0)
                s->reason = xstrdup("SELinux is disabled or not supported by the kernel");
        else
                s->reason = xasprintf("cannot determine whether SELinux is enabled: %s",
                                      strerror(errno ? errno : EIO));
        *ret_state = s;
        return 0;
}

static void sel_fini(void *state)
{
        struct sel_state *s = state;

        if (!s)
                return;
        free(s->reason);
        free(s);
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
        if (s->enabled)
                json_object_object_add(o, "mode", json_object_new_string(s->mode));
        else
                json_object_object_add(o, "reason", json_object_new_string(s->reason));
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
};

OCID_MODULE_DEFINE(sec_selinux, "sec-selinux", OCID_MODULE_KIND_SECURITY, &sel_ops);
