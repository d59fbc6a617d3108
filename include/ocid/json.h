/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* json-c helpers. */

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* mode_t */
#include <ocid/cleanup.h>

struct ocid_error;

OCID_DEFINE_CLEANUP_FUNC(struct json_object *, json_object_put)
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Parses a file of at most max bytes; a parse error names the file. */
int ocid_json_read_file(const char *path, size_t max, struct json_object **ret, struct ocid_error **err);
/* Serialises obj (plain, no spaces) and writes it with ocid_write_file_atomic. */
int ocid_json_write_file_atomic(const char *path, struct json_object *obj, mode_t mode, struct ocid_error **err);

/* Typed getters: NULL / default when absent or of another type. */
const char *ocid_json_get_string(struct json_object *obj, const char *key);
int64_t ocid_json_get_int64(struct json_object *obj, const char *key, int64_t def);
