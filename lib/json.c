/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/json.h>

#include "internal.h"

OCID_DEFINE_CLEANUP_FUNC(struct json_tokener *, json_tokener_free)

OCID_EXPORT int ocid_json_read_file(const char *path, size_t max, struct json_object **ret,
                                    struct ocid_error **err)
{
        _cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;
        _cleanup_free_ char *data = NULL;
        struct json_object *obj;
        enum json_tokener_error jerr;
        size_t len;
        int r;

        r = ocid_read_file(path, max, &data, &len, err);
        if (r < 0)
                return r;
        if (len > INT32_MAX)
                return ocid_error_msg(err, EFBIG, "parse JSON '%s': file too large", path);

        tok = json_tokener_new();
        if (!tok)
                return ocid_error_set(err, ENOMEM, "parse JSON '%s'", path);
        obj = json_tokener_parse_ex(tok, data, (int) len);
        jerr = json_tokener_get_error(tok);
        if (!obj || jerr != json_tokener_success) {
                json_object_put(obj);
                if (jerr == json_tokener_continue || jerr == json_tokener_success)
                        return ocid_error_msg(err, EBADMSG, "parse JSON '%s': unexpected end of data", path);
                return ocid_error_msg(err, EBADMSG, "parse JSON '%s' at offset %zu: %s", path,
                                      json_tokener_get_parse_end(tok), json_tokener_error_desc(jerr));
        }
        /* only whitespace may follow the value */
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
                if (!strchr(" \t\r\n", data[i])) {
                        json_object_put(obj);
                        return ocid_error_msg(err, EBADMSG, "parse JSON '%s': trailing data at offset %zu",
                                              path, i);
                }
        *ret = obj;
        return 0;
}

OCID_EXPORT int ocid_json_write_file_atomic(const char *path, struct json_object *obj, mode_t mode,
                                            struct ocid_error **err)
{
        const char *s;
        size_t len;

        s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                              &len);
        if (!s)
                return ocid_error_set(err, ENOMEM, "serialise JSON for '%s'", path);
        return ocid_write_file_atomic(path, s, len, mode, err);
}

OCID_EXPORT const char *ocid_json_get_string(struct json_object *obj, const char *key)
{
        struct json_object *v;

        if (!obj || !json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

OCID_EXPORT int64_t ocid_json_get_int64(struct json_object *obj, const char *key, int64_t def)
{
        struct json_object *v;

        if (!obj || !json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v) ||
            !json_object_is_type(v, json_type_int))
                return def;
        return json_object_get_int64(v);
}
