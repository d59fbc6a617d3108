/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Errors travel as a struct ocid_error through a trailing `struct ocid_error **err`.
 * A fallible function returns >= 0 on success or -code on failure; the error is
 * set exactly once, where the failure happens, and prefixed on the way up. */

#include <stdarg.h>

struct ocid_error {
        int code;       /* a positive errno value; never 0 */
        char *message;  /* human readable, owned */
};

/* Sets *err to `code` and "<fmt>: <strerror(code)>". Returns -code.
 * Asserts that *err is NULL (an error is set once). err may be NULL: the
 * error is then dropped and only -code is returned. */
int ocid_error_set(struct ocid_error **err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Like ocid_error_set, but the message is exactly fmt (no strerror suffix):
 * for synthetic errors such as "unknown key 'x'". */
int ocid_error_msg(struct ocid_error **err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

int ocid_error_setv(struct ocid_error **err, int code, int with_strerror, const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));

/* Prefixes the message already in *err with "<fmt>: ". Returns -code of the
 * error. Asserts that an error is set. With err == NULL it returns the code
 * last dropped by ocid_error_set/msg on this thread, so that a chain of
 * `return ocid_error_prefix(err, ...)` keeps the code when errors are not
 * wanted. */
int ocid_error_prefix(struct ocid_error **err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* The code in *err, or 0 when none is set (or err is NULL). */
int ocid_error_code(struct ocid_error *const *err);

/* The message in *err, or "" when none is set. */
const char *ocid_error_message(struct ocid_error *const *err);

/* Frees *err and sets it to NULL: consumes a tolerated error. */
void ocid_error_clear(struct ocid_error **err);

/* Frees e; NULL is a no-op. Returns NULL. */
struct ocid_error *ocid_error_free(struct ocid_error *e);

#include <ocid/cleanup.h>
OCID_DEFINE_CLEANUP_FUNC(struct ocid_error *, ocid_error_free)
#define _cleanup_error_ _cleanup_(ocid_error_freep)
