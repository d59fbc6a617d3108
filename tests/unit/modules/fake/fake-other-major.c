/* SPDX-License-Identifier: Apache-2.0 */
/* Another ABI major. */

#include "fake-bad.h"

FAKE_BAD_DESCRIPTOR(fake_other_major, "fake-other-major", .abi_major = OCID_MODULE_ABI_MAJOR + 1);
