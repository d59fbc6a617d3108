/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/setting.h>
#include <ocid/util.h>

#include "internal.h"

OCID_EXPORT char *ocid_setting_path(const config_setting_t *s)
{
        _cleanup_free_ char *path = NULL;

        /* Built from the leaf up: each step prepends "name." or "[i]". */
        path = xstrdup("");
        for (; s && !config_setting_is_root(s); s = config_setting_parent(s)) {
                const config_setting_t *parent = config_setting_parent(s);
                const char *name = config_setting_name(s);
                const char *sep = path[0] && path[0] != '[' ? "." : "";
                char *next;

                if (parent && (config_setting_is_array(parent) || config_setting_is_list(parent)))
                        next = xasprintf("[%d]%s%s", config_setting_index(s), sep, path);
                else
                        next = xasprintf("%s%s%s", name ? name : "?", sep, path);
                free(path);
                path = next;
        }
        return TAKE_PTR(path);
}

OCID_EXPORT int ocid_setting_error(const config_setting_t *s, struct ocid_error **err, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL, *path = NULL, *where = NULL;
        const char *file = NULL;
        unsigned int line = 0;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                libocid_die("out of memory");
        va_end(ap);

        if (s) {
                file = config_setting_source_file(s);
                line = config_setting_source_line(s);
                path = ocid_setting_path(s);
        }
        if (file && line)
                where = xasprintf("%s:%u: ", file, line);
        else if (file)
                where = xasprintf("%s: ", file);
        else if (line)
                where = xasprintf("line %u: ", line);
        else
                where = xstrdup("");

        if (path && *path)
                return ocid_error_msg(err, EINVAL, "%s%s: %s", where, path, msg);
        return ocid_error_msg(err, EINVAL, "%s%s", where, msg);
}

/* The member `key` of group, or NULL when group is NULL or has none. A group
 * that is not a group is an error. */
static int get_member(const config_setting_t *group, const char *key, config_setting_t **ret,
                      struct ocid_error **err)
{
        *ret = NULL;
        if (!group)
                return 0;
        if (!config_setting_is_group(group))
                return ocid_setting_error(group, err, "expected a group");
        *ret = config_setting_get_member(group, key);
        return 0;
}

OCID_EXPORT int ocid_setting_check_keys(const config_setting_t *group, const char *const *allowed,
                                        struct ocid_error **err)
{
        int n;

        if (!group)
                return 0;
        if (!config_setting_is_group(group))
                return ocid_setting_error(group, err, "expected a group");
        n = config_setting_length(group);
        for (int i = 0; i < n; i++) {
                const config_setting_t *m = config_setting_get_elem(group, (unsigned int) i);
                const char *name = config_setting_name(m);
                bool found = false;

                for (const char *const *a = allowed; a && *a; a++)
                        if (name && streq(name, *a)) {
                                found = true;
                                break;
                        }
                if (!found)
                        return ocid_setting_error(m, err, "unknown key");
        }
        return 0;
}

OCID_EXPORT int ocid_setting_get_string(const config_setting_t *group, const char *key, char **ret,
                                        struct ocid_error **err)
{
        config_setting_t *m;
        int r;

        r = get_member(group, key, &m, err);
        if (r < 0 || !m)
                return r;
        if (config_setting_type(m) != CONFIG_TYPE_STRING)
                return ocid_setting_error(m, err, "expected a string");
        free(*ret);
        *ret = xstrdup(config_setting_get_string(m));
        return 0;
}

OCID_EXPORT int ocid_setting_get_int64(const config_setting_t *group, const char *key, int64_t *ret,
                                       struct ocid_error **err)
{
        config_setting_t *m;
        int r;

        r = get_member(group, key, &m, err);
        if (r < 0 || !m)
                return r;
        if (config_setting_type(m) != CONFIG_TYPE_INT && config_setting_type(m) != CONFIG_TYPE_INT64)
                return ocid_setting_error(m, err, "expected an integer");
        *ret = (int64_t) config_setting_get_int64(m);
        return 0;
}

OCID_EXPORT int ocid_setting_get_bool(const config_setting_t *group, const char *key, int *ret,
                                      struct ocid_error **err)
{
        config_setting_t *m;
        int r;

        r = get_member(group, key, &m, err);
        if (r < 0 || !m)
                return r;
        if (config_setting_type(m) != CONFIG_TYPE_BOOL)
                return ocid_setting_error(m, err, "expected a boolean");
        *ret = config_setting_get_bool(m) ? 1 : 0;
        return 0;
}

OCID_EXPORT int ocid_setting_get_strv(const config_setting_t *group, const char *key, char ***ret,
                                      struct ocid_error **err)
{
        _cleanup_strv_ char **v = NULL;
        config_setting_t *m;
        int r, n;

        r = get_member(group, key, &m, err);
        if (r < 0 || !m)
                return r;
        if (config_setting_type(m) != CONFIG_TYPE_ARRAY && config_setting_type(m) != CONFIG_TYPE_LIST)
                return ocid_setting_error(m, err, "expected an array of strings");
        n = config_setting_length(m);
        v = xcalloc((size_t) n + 1, sizeof(*v));
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(m, (unsigned int) i);

                if (config_setting_type(e) != CONFIG_TYPE_STRING)
                        return ocid_setting_error(e, err, "expected a string");
                v[i] = xstrdup(config_setting_get_string(e));
        }
        ocid_strv_free(*ret);
        *ret = TAKE_PTR(v);
        return 0;
}
