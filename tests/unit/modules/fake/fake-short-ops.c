/* SPDX-License-Identifier: Apache-2.0 */
/* An ops table smaller than the common ops. */

#include "fake-bad.h"

FAKE_BAD_DESCRIPTOR(fake_short_ops, "fake-short-ops",
                    .ops_size = sizeof(struct ocid_module_ops) - sizeof(void *));
