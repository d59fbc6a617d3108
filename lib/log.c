/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h> /* strcasecmp */
#include <time.h>
#include <unistd.h>

#include <ocid/log.h>
#include <ocid/util.h>

#include "internal.h"

static int log_level = OCID_LOG_INFO;
static ocid_log_sink_fn log_sink;
static void *log_sink_userdata;
static pthread_mutex_t log_stderr_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct {
        int level;
        const char *name;
} level_names[] = {
        { OCID_LOG_ERROR, "error" },
        { OCID_LOG_WARNING, "warning" },
        { OCID_LOG_INFO, "info" },
        { OCID_LOG_DEBUG, "debug" },
        { OCID_LOG_TRACE, "trace" },
};

OCID_EXPORT int ocid_log_level_from_string(const char *name)
{
        if (!name)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcasecmp(name, level_names[i].name) == 0)
                        return level_names[i].level;
        if (strcasecmp(name, "warn") == 0)
                return OCID_LOG_WARNING;
        return -EINVAL;
}

OCID_EXPORT const char *ocid_log_level_to_string(int level)
{
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (level_names[i].level == level)
                        return level_names[i].name;
        return "unknown";
}

OCID_EXPORT void ocid_log_set_level(int level)
{
        __atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

OCID_EXPORT int ocid_log_get_level(void)
{
        return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

OCID_EXPORT int ocid_log_enabled(int level)
{
        return level <= ocid_log_get_level();
}

OCID_EXPORT void ocid_log_set_sink(ocid_log_sink_fn sink, void *userdata)
{
        __atomic_store_n(&log_sink_userdata, userdata, __ATOMIC_RELAXED);
        __atomic_store_n(&log_sink, sink, __ATOMIC_RELEASE);
}

/* Appends `s` to the line, escaping control characters so that one message
 * is always one line. */
static void append_escaped(FILE *f, const char *s)
{
        size_t len = strlen(s);

        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
                len--;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == '\n')
                        fputs("\\n", f);
                else if (c == '\r')
                        fputs("\\r", f);
                else if (c < 0x20 && c != '\t')
                        fprintf(f, "\\x%02x", c);
                else
                        fputc(c, f);
        }
}

static void write_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return; /* nowhere left to report it */
                }
                buf += n;
                len -= (size_t) n;
        }
}

static void default_sink(int level, const char *category, const char *message)
{
        struct timespec ts;
        struct tm tm;
        char stamp[32];
        char *line = NULL;
        size_t line_len = 0;
        FILE *f;
        int saved = errno;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

        f = open_memstream(&line, &line_len);
        if (!f)
                libocid_die("out of memory");
        fprintf(f, "%s.%06ldZ %s %s: ", stamp, ts.tv_nsec / 1000, ocid_log_level_to_string(level),
                category ? category : "-");
        append_escaped(f, message);
        fputc('\n', f);
        if (fclose(f) != 0)
                libocid_die("out of memory");

        pthread_mutex_lock(&log_stderr_lock);
        write_all(STDERR_FILENO, line, line_len);
        pthread_mutex_unlock(&log_stderr_lock);
        free(line);
        errno = saved;
}

OCID_EXPORT void ocid_log_fullv(int level, const char *category, const char *file, int line,
                                const char *func, const char *fmt, va_list ap)
{
        ocid_log_sink_fn sink;
        char *message;
        int saved = errno;

        if (!ocid_log_enabled(level))
                return;
        if (vasprintf(&message, fmt, ap) < 0)
                libocid_die("out of memory");
        sink = __atomic_load_n(&log_sink, __ATOMIC_ACQUIRE);
        if (sink)
                sink(level, category, message, __atomic_load_n(&log_sink_userdata, __ATOMIC_RELAXED));
        else
                default_sink(level, category, message);
        free(message);
        errno = saved;
}

OCID_EXPORT void ocid_log_full(int level, const char *category, const char *file, int line,
                               const char *func, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        ocid_log_fullv(level, category, file, line, func, fmt, ap);
        va_end(ap);
}
