/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Private to libocid. The library is built with -fvisibility=hidden; every
 * function of the public API is defined with OCID_EXPORT. */

#define OCID_EXPORT __attribute__((visibility("default")))

/* Writes a short message to stderr and aborts: used only for out of memory
 * and other conditions a caller cannot handle. */
_Noreturn void libocid_die(const char *msg);
