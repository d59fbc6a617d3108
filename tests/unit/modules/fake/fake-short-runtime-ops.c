/* SPDX-License-Identifier: Apache-2.0 */
/* A runtime module whose table stops after the common ops. */

#include "fake-bad.h"

static const struct ocid_module_ops fake_common_only = { .init = fake_bad_init };

FAKE_BAD_DESCRIPTOR(fake_short_runtime_ops, "fake-short-runtime-ops",
                    .kind = OCID_MODULE_KIND_RUNTIME, .ops = &fake_common_only,
                    .ops_size = sizeof(fake_common_only));
