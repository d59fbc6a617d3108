/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Logging. Every .c file that logs defines OCID_LOG_CATEGORY ("storage",
 * "cri", ...) before using ocid_log(). Modules log only through this. */

#include <stdarg.h>

#define OCID_LOG_ERROR   3
#define OCID_LOG_WARNING 4
#define OCID_LOG_INFO    6
#define OCID_LOG_DEBUG   7
#define OCID_LOG_TRACE   8

typedef void (*ocid_log_sink_fn)(int level, const char *category, const char *message, void *userdata);

void ocid_log_full(int level, const char *category, const char *file, int line,
                   const char *func, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));
void ocid_log_fullv(int level, const char *category, const char *file, int line,
                    const char *func, const char *fmt, va_list ap)
        __attribute__((format(printf, 6, 0)));

#define ocid_log(level, ...)                                                  \
        ocid_log_full((level), OCID_LOG_CATEGORY, __FILE__, __LINE__, __func__, __VA_ARGS__)

/* True when a message at `level` would be written. */
int ocid_log_enabled(int level);

/* The level threshold (default OCID_LOG_INFO). Safe from any thread. */
void ocid_log_set_level(int level);
int ocid_log_get_level(void);

/* "error", "warning", "info", "debug", "trace" <-> level. Returns -EINVAL for
 * an unknown name. */
int ocid_log_level_from_string(const char *name);
const char *ocid_log_level_to_string(int level);

/* Replaces the sink (NULL restores the default: one line on stderr with an
 * RFC 3339 timestamp, level and category, as
 * "2026-11-28T12:00:00.123456Z info cri: message", control characters in
 * the message escaped). Call before threads start. */
void ocid_log_set_sink(ocid_log_sink_fn sink, void *userdata);
