/* SPDX-License-Identifier: Apache-2.0 */
/* A reserved member that is not NULL. */

#include "fake-bad.h"

static const char fake_junk[] = "junk";

FAKE_BAD_DESCRIPTOR(fake_reserved, "fake-reserved", .reserved = { NULL, NULL, fake_junk, NULL });
