/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Allocation that aborts on OOM, string helpers, checked number parsing. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ocid_error;

void *xmalloc(size_t size);
void *xzalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* xreallocarray aborts on overflow of n * size too. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);      /* NULL in, NULL out */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
/* Like streq, but NULL equals only NULL. */
static inline bool streq_ptr(const char *a, const char *b)
{
        return (a && b) ? strcmp(a, b) == 0 : a == b;
}
/* Returns the rest of s after prefix, or NULL when s does not start with it. */
const char *ocid_startswith(const char *s, const char *prefix);
bool ocid_endswith(const char *s, const char *suffix);

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Checked parsers: the whole string must be a decimal number in range, an
 * optional '-' then digits for int64, digits only for uint64 (no '+', no
 * whitespace, no base prefix). Return 0 or -EINVAL / -ERANGE; *ret
 * untouched on failure. */
int ocid_parse_int64(const char *s, int64_t *ret);
int ocid_parse_uint64(const char *s, uint64_t *ret);

/* NULL-terminated string vectors. */
size_t ocid_strv_length(char *const *v);
char **ocid_strv_copy(const char *const *v);
/* Appends a copy of s; *v may be NULL. */
void ocid_strv_push(char ***v, const char *s);
bool ocid_strv_contains(char *const *v, const char *s);
void ocid_strv_free(char **v);

/* Monotonic and real time in nanoseconds. */
int64_t ocid_now_monotonic_ns(void);
int64_t ocid_now_realtime_ns(void);

/* Random lowercase hex ID of 64 characters (256 bits from getrandom()). */
int ocid_random_id(char ret[65], struct ocid_error **err);
