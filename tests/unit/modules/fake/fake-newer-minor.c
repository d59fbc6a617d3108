/* SPDX-License-Identifier: Apache-2.0 */
/* ABI minor newer than the loader's. */

#include "fake-bad.h"

FAKE_BAD_DESCRIPTOR(fake_newer_minor, "fake-newer-minor", .abi_minor = OCID_MODULE_ABI_MINOR + 1);
