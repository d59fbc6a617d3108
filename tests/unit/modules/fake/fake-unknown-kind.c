/* SPDX-License-Identifier: Apache-2.0 */
/* A kind the loader does not know. */

#include "fake-bad.h"

FAKE_BAD_DESCRIPTOR(fake_unknown_kind, "fake-unknown-kind", .kind = 99);
