/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Stop signals: an image's StopSignal ("SIGTERM", "TERM", "15",
 * "SIGRTMIN+3") and the CRI Signal enum, as signal numbers. */

struct ocid_error;

/* Parses a signal name or number. Names are matched case-insensitively, as
 * Docker does, with or without "SIG"; numbers are 1 to 64; SIGRTMIN is 34 as glibc
 * and Docker number it, "RTMIN+n" and "RTMAX-n" stay within 34..64. Anything else is -EINVAL
 * naming the text. */
int signal_parse(const char *text, int *ret, struct ocid_error **err);

/* The number for a CRI runtime.v1.Signal value; 0 for
 * SIGNAL_RUNTIME_DEFAULT, -EINVAL for a value outside the enum. */
int signal_from_cri(int value, int *ret, struct ocid_error **err);

/* "SIGTERM" for 15, "SIGRTMIN+3" for 37, or NULL for a number without a
 * name (0, 32, 33, > 64). The name is written to buf (or is a literal). */
const char *signal_name(int sig, char buf[static 16]);
