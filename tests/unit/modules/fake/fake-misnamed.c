/* SPDX-License-Identifier: Apache-2.0 */
/* A descriptor whose name is not the file's. */

#include "fake-bad.h"

FAKE_BAD_DESCRIPTOR(fake_misnamed, "fake-renamed");
