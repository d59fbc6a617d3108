/* SPDX-License-Identifier: Apache-2.0 */
/* No ops table at all. */

#include "fake-bad.h"

FAKE_BAD_DESCRIPTOR(fake_no_ops, "fake-no-ops", .ops = NULL, .ops_size = 0);
