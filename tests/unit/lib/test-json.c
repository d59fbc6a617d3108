/* SPDX-License-Identifier: Apache-2.0 */
#include "lib-test.h"

#include <sys/stat.h>

#include <ocid/json.h>

static void test_roundtrip(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *p = NULL, *raw = NULL;
        _cleanup_json_ struct json_object *obj = json_object_new_object(), *back = NULL;
        struct ocid_error *err = NULL;
        struct stat st;

        json_object_object_add(obj, "id", json_object_new_string("abc"));
        json_object_object_add(obj, "path", json_object_new_string("/var/lib/x"));
        json_object_object_add(obj, "n", json_object_new_int64(5000000000LL));
        p = xasprintf("%s/rec.json", t);
        assert_int_equal(ocid_json_write_file_atomic(p, obj, 0600, &err), 0);
        assert_null(err);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        /* plain: no spaces, slashes not escaped */
        assert_int_equal(ocid_read_file(p, 4096, &raw, NULL, &err), 0);
        assert_string_equal(raw, "{\"id\":\"abc\",\"path\":\"/var/lib/x\",\"n\":5000000000}");

        assert_int_equal(ocid_json_read_file(p, 4096, &back, &err), 0);
        assert_string_equal(ocid_json_get_string(back, "id"), "abc");
        assert_true(ocid_json_get_int64(back, "n", 0) == 5000000000LL);
        rm_tmpdir(TAKE_PTR(t));
}

static void expect_parse_error(const char *text, int code, const char *needle)
{
        _cleanup_free_ char *t = make_tmpdir(), *p = NULL;
        struct json_object *obj = NULL;
        struct ocid_error *err = NULL;

        p = xasprintf("%s/bad.json", t);
        write_text(p, text);
        assert_int_equal(ocid_json_read_file(p, 64, &obj, &err), -code);
        assert_null(obj);
        assert_non_null(strstr(ocid_error_message(&err), p));
        if (!strstr(ocid_error_message(&err), needle))
                fail_msg("'%s' lacks '%s'", ocid_error_message(&err), needle);
        ocid_error_clear(&err);
        rm_tmpdir(TAKE_PTR(t));
}

static void test_read_errors(void **state)
{
        struct json_object *obj = NULL;
        struct ocid_error *err = NULL;

        expect_parse_error("{\"a\": }", EBADMSG, "parse JSON");
        expect_parse_error("{\"a\": 1", EBADMSG, "unexpected end");
        expect_parse_error("", EBADMSG, "unexpected end");
        expect_parse_error("{} {}", EBADMSG, "trailing data");
        expect_parse_error("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]", EFBIG,
                           "larger than 64");

        assert_int_equal(ocid_json_read_file("/nonexistent/x.json", 64, &obj, &err), -ENOENT);
        assert_null(obj);
        ocid_error_clear(&err);
}

static void test_read_whitespace_ok(void **state)
{
        _cleanup_free_ char *t = make_tmpdir(), *p = NULL;
        _cleanup_json_ struct json_object *obj = NULL;
        struct ocid_error *err = NULL;

        p = xasprintf("%s/ok.json", t);
        write_text(p, "  [1, 2]\n\n");
        assert_int_equal(ocid_json_read_file(p, 64, &obj, &err), 0);
        assert_true(json_object_is_type(obj, json_type_array));
        assert_int_equal(json_object_array_length(obj), 2);
        rm_tmpdir(TAKE_PTR(t));
}

static void test_write_error(void **state)
{
        _cleanup_json_ struct json_object *obj = json_object_new_object();
        struct ocid_error *err = NULL;

        assert_int_equal(ocid_json_write_file_atomic("/nonexistent/dir/x.json", obj, 0600, &err), -ENOENT);
        ocid_error_clear(&err);
}

static void test_getters(void **state)
{
        _cleanup_json_ struct json_object *o = json_tokener_parse("{\"s\":\"v\",\"i\":-3,\"d\":1.5,\"b\":true,\"n\":null}");
        _cleanup_json_ struct json_object *arr = json_tokener_parse("[1]");

        assert_non_null(o);
        assert_string_equal(ocid_json_get_string(o, "s"), "v");
        assert_null(ocid_json_get_string(o, "i"));
        assert_null(ocid_json_get_string(o, "n"));
        assert_null(ocid_json_get_string(o, "missing"));
        assert_null(ocid_json_get_string(NULL, "s"));
        assert_null(ocid_json_get_string(arr, "s"));

        assert_int_equal(ocid_json_get_int64(o, "i", 9), -3);
        assert_int_equal(ocid_json_get_int64(o, "d", 9), 9);
        assert_int_equal(ocid_json_get_int64(o, "s", 9), 9);
        assert_int_equal(ocid_json_get_int64(o, "b", 9), 9);
        assert_int_equal(ocid_json_get_int64(o, "missing", 9), 9);
        assert_int_equal(ocid_json_get_int64(NULL, "i", 9), 9);
        assert_int_equal(ocid_json_get_int64(arr, "i", 9), 9);
}

OCID_TEST_MAIN(cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_read_errors),
               cmocka_unit_test(test_read_whitespace_ok), cmocka_unit_test(test_write_error),
               cmocka_unit_test(test_getters))
