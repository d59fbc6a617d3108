/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* gRPC wire vocabulary that does not depend on the transport: status codes,
 * the errno -> status mapping used at the CRI edge, the grpc-timeout header
 * and the percent-encoding of grpc-message. Pure functions, no I/O. */

#include <stddef.h>
#include <stdint.h>

/* The canonical gRPC status codes (wire values). */
#define GRPC_STATUS_OK                   0
#define GRPC_STATUS_CANCELLED            1
#define GRPC_STATUS_UNKNOWN              2
#define GRPC_STATUS_INVALID_ARGUMENT     3
#define GRPC_STATUS_DEADLINE_EXCEEDED    4
#define GRPC_STATUS_NOT_FOUND            5
#define GRPC_STATUS_ALREADY_EXISTS       6
#define GRPC_STATUS_PERMISSION_DENIED    7
#define GRPC_STATUS_RESOURCE_EXHAUSTED   8
#define GRPC_STATUS_FAILED_PRECONDITION  9
#define GRPC_STATUS_ABORTED             10
#define GRPC_STATUS_OUT_OF_RANGE        11
#define GRPC_STATUS_UNIMPLEMENTED       12
#define GRPC_STATUS_INTERNAL            13
#define GRPC_STATUS_UNAVAILABLE         14
#define GRPC_STATUS_DATA_LOSS           15
#define GRPC_STATUS_UNAUTHENTICATED     16
#define _GRPC_STATUS_MAX                17

/* "OK", "NOT_FOUND", ...; "UNKNOWN_STATUS" for a value out of range. */
const char *grpc_status_to_string(int status);

/* Maps a positive errno value (the code of an ocid_error) to a status; the
 * table is in docs/cri-server.md. 0 maps to OK. */
int grpc_status_from_errno(int code);

/* Parses a grpc-timeout value: 1 to 8 ASCII digits followed by one unit of
 * H, M, S, m, u, n. Returns the timeout in nanoseconds, saturated at
 * INT64_MAX for values too large to represent. Returns -EINVAL for anything
 * else (empty, no unit, unknown unit, sign, blanks, more than 8 digits). */
int grpc_timeout_parse(const char *s, int64_t *ret_ns);

/* Percent-encodes a status message for the grpc-message trailer: bytes
 * outside 0x20..0x7e and '%' itself become "%XX" (uppercase hex). Returns a
 * new string. */
char *grpc_percent_encode(const char *s);

/* The inverse, lenient as the spec asks: a malformed escape is kept as is.
 * Returns a new string (may contain any byte but NUL). */
char *grpc_percent_decode(const char *s);
