/* SPDX-License-Identifier: Apache-2.0 */
/* An ops table without init. */

#include "fake-bad.h"

static const struct ocid_storage_ops fake_no_init = { .base = { .init = NULL } };

FAKE_BAD_DESCRIPTOR(fake_null_init, "fake-null-init", .ops = &fake_no_init,
                    .ops_size = sizeof(fake_no_init));
