/* SPDX-License-Identifier: Apache-2.0 */
/* A descriptor smaller than its minor defines. */

#include "fake-bad.h"

FAKE_BAD_DESCRIPTOR(fake_short_info, "fake-short-info",
                    .info_size = offsetof(struct ocid_module_info, reserved));
