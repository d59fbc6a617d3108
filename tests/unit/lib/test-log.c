/* SPDX-License-Identifier: Apache-2.0 */
#include "lib-test.h"

#include <fcntl.h>
#include <printf.h> /* register_printf_specifier: counts formatting */
#include <pthread.h>
#include <regex.h>

#include <ocid/log.h>

#define OCID_LOG_CATEGORY "test"

struct captured {
        int calls;
        int level;
        char category[64];
        char message[256];
};

static void capture_sink(int level, const char *category, const char *message, void *userdata)
{
        struct captured *c = userdata;

        c->calls++;
        c->level = level;
        snprintf(c->category, sizeof(c->category), "%s", category);
        snprintf(c->message, sizeof(c->message), "%s", message);
}

static int teardown(void **state)
{
        ocid_log_set_sink(NULL, NULL);
        ocid_log_set_level(OCID_LOG_INFO);
        return 0;
}

static void test_levels(void **state)
{
        assert_int_equal(ocid_log_get_level(), OCID_LOG_INFO);
        assert_true(ocid_log_enabled(OCID_LOG_ERROR));
        assert_true(ocid_log_enabled(OCID_LOG_INFO));
        assert_false(ocid_log_enabled(OCID_LOG_DEBUG));
        ocid_log_set_level(OCID_LOG_TRACE);
        assert_int_equal(ocid_log_get_level(), OCID_LOG_TRACE);
        assert_true(ocid_log_enabled(OCID_LOG_TRACE));
        ocid_log_set_level(OCID_LOG_ERROR);
        assert_false(ocid_log_enabled(OCID_LOG_WARNING));
}

static void test_level_names(void **state)
{
        static const struct {
                const char *name;
                int level;
        } t[] = {
                { "error", OCID_LOG_ERROR }, { "warning", OCID_LOG_WARNING }, { "info", OCID_LOG_INFO },
                { "debug", OCID_LOG_DEBUG }, { "trace", OCID_LOG_TRACE },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                assert_int_equal(ocid_log_level_from_string(t[i].name), t[i].level);
                assert_string_equal(ocid_log_level_to_string(t[i].level), t[i].name);
        }
        assert_int_equal(ocid_log_level_from_string("DEBUG"), OCID_LOG_DEBUG);
        assert_int_equal(ocid_log_level_from_string("warn"), OCID_LOG_WARNING);
        assert_int_equal(ocid_log_level_from_string("verbose"), -EINVAL);
        assert_int_equal(ocid_log_level_from_string(""), -EINVAL);
        assert_int_equal(ocid_log_level_from_string(NULL), -EINVAL);
        assert_string_equal(ocid_log_level_to_string(42), "unknown");
}

static void test_custom_sink(void **state)
{
        struct captured c = { 0 };

        ocid_log_set_sink(capture_sink, &c);
        ocid_log(OCID_LOG_WARNING, "disk '%s' at %d%%, ignoring", "/var", 91);
        assert_int_equal(c.calls, 1);
        assert_int_equal(c.level, OCID_LOG_WARNING);
        assert_string_equal(c.category, "test");
        assert_string_equal(c.message, "disk '/var' at 91%, ignoring");

        ocid_log(OCID_LOG_DEBUG, "below the threshold");
        assert_int_equal(c.calls, 1);
        ocid_log_set_level(OCID_LOG_DEBUG);
        ocid_log_full(OCID_LOG_DEBUG, "cat2", "f.c", 1, "fn", "now %s", "shown");
        assert_int_equal(c.calls, 2);
        assert_string_equal(c.category, "cat2");
        assert_string_equal(c.message, "now shown");
}

/* A %W conversion that counts how often the logger formats. */
static int formatted;

static int count_print(FILE *f, const struct printf_info *info, const void *const *args)
{
        formatted++;
        return fprintf(f, "W");
}

static int count_arginfo(const struct printf_info *info, size_t n, int *argtypes, int *size)
{
        if (n > 0)
                argtypes[0] = PA_INT;
        return 1;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
static void test_threshold_before_formatting(void **state)
{
        struct captured c = { 0 };

        assert_int_equal(register_printf_specifier('W', count_print, count_arginfo), 0);
        ocid_log_set_sink(capture_sink, &c);
        formatted = 0;
        ocid_log(OCID_LOG_DEBUG, "%W", 1);
        assert_int_equal(formatted, 0);
        assert_int_equal(c.calls, 0);
        ocid_log(OCID_LOG_ERROR, "%W", 1);
        assert_int_equal(formatted, 1);
        assert_string_equal(c.message, "W");
}
#pragma GCC diagnostic pop

/* Runs fn with stderr sent to a temporary file; returns what was written. */
static char *capture_stderr(void (*fn)(void))
{
        char path[] = "/tmp/ocid-log-test.XXXXXX";
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);
        char *data = NULL;
        struct ocid_error *err = NULL;

        assert_true(fd >= 0 && saved >= 0);
        assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        fn();
        assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
        close(saved);
        close(fd);
        assert_int_equal(ocid_read_file(path, 1 << 24, &data, NULL, &err), 0);
        unlink(path);
        return data;
}

static void log_two(void)
{
        errno = EXDEV;
        ocid_log(OCID_LOG_INFO, "hello %s", "world");
        /* logging keeps errno */
        assert_int_equal(errno, EXDEV);
        ocid_log(OCID_LOG_ERROR, "two\nlines\n");
        ocid_log(OCID_LOG_DEBUG, "not shown");
}

static void test_default_sink_format(void **state)
{
        _cleanup_free_ char *out = capture_stderr(log_two);
        regex_t re;

        assert_int_equal(regcomp(&re,
                                 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z info test: hello world\n"
                                 "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z error test: two\\\\nlines\n$",
                                 REG_EXTENDED),
                         0);
        if (regexec(&re, out, 0, NULL, 0) != 0)
                fail_msg("unexpected log output: %s", out);
        regfree(&re);
}

static void test_default_sink_restored(void **state)
{
        struct captured c = { 0 };
        _cleanup_free_ char *out = NULL;

        ocid_log_set_sink(capture_sink, &c);
        ocid_log_set_sink(NULL, NULL);
        out = capture_stderr(log_two);
        assert_int_equal(c.calls, 0);
        assert_non_null(strstr(out, " info test: hello world\n"));
}

#define THREADS 8
#define LINES 500

static void *log_lines(void *arg)
{
        for (int i = 0; i < LINES; i++)
                ocid_log(OCID_LOG_INFO, "thread %ld line %d %s", (long) (intptr_t) arg, i,
                         "padding-padding-padding-padding-padding-padding-padding-padding-padding");
        return NULL;
}

static void log_threads(void)
{
        pthread_t t[THREADS];

        for (long i = 0; i < THREADS; i++)
                assert_int_equal(pthread_create(&t[i], NULL, log_lines, (void *) (intptr_t) i), 0);
        for (int i = 0; i < THREADS; i++)
                pthread_join(t[i], NULL);
}

static void test_default_sink_threads(void **state)
{
        _cleanup_free_ char *out = capture_stderr(log_threads);
        regex_t re;
        int lines = 0;
        char *save = NULL;

        assert_int_equal(regcomp(&re,
                                 "^[0-9-]{10}T[0-9:]{8}\\.[0-9]{6}Z info test: thread [0-7] line [0-9]+ (padding-){8}padding$",
                                 REG_EXTENDED | REG_NOSUB),
                         0);
        for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (regexec(&re, l, 0, NULL, 0) != 0)
                        fail_msg("interleaved line: %s", l);
                lines++;
        }
        regfree(&re);
        assert_int_equal(lines, THREADS * LINES);
}

OCID_TEST_MAIN(cmocka_unit_test_teardown(test_levels, teardown), cmocka_unit_test(test_level_names),
               cmocka_unit_test_teardown(test_custom_sink, teardown),
               cmocka_unit_test_teardown(test_threshold_before_formatting, teardown),
               cmocka_unit_test_teardown(test_default_sink_format, teardown),
               cmocka_unit_test_teardown(test_default_sink_restored, teardown),
               cmocka_unit_test_teardown(test_default_sink_threads, teardown))
