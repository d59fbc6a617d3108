/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers for reading libconfig settings with errors that name the file,
 * the line and the full key, as "crio.conf:12: modules.net-cni.conf_dir:
 * expected a string". Core and modules use them alike. */

#include <libconfig.h>
#include <stdint.h>

struct ocid_error;

/* The full dotted path of a setting ("modules.net-cni.conf_dir"). */
char *ocid_setting_path(const config_setting_t *s);

/* Sets an EINVAL error "<file>:<line>: <path>: <message>" for setting s. */
int ocid_setting_error(const config_setting_t *s, struct ocid_error **err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Every member of group must be named in allowed (NULL-terminated);
 * otherwise "unknown key". */
int ocid_setting_check_keys(const config_setting_t *group, const char *const *allowed, struct ocid_error **err);

/* Reads an optional member. Absent: *ret is left as it is (the default) and 0
 * is returned. Present with the wrong type: an error naming file, line, key.
 * Strings are copied (the old *ret is freed). */
int ocid_setting_get_string(const config_setting_t *group, const char *key, char **ret, struct ocid_error **err);
int ocid_setting_get_int64(const config_setting_t *group, const char *key, int64_t *ret, struct ocid_error **err);
int ocid_setting_get_bool(const config_setting_t *group, const char *key, int *ret, struct ocid_error **err);
/* An array of strings; replaces *ret (a NULL-terminated vector). */
int ocid_setting_get_strv(const config_setting_t *group, const char *key, char ***ret, struct ocid_error **err);
