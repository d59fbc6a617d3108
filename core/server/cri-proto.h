/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The protoc-c code generated from cri.proto and test.proto (in the build
 * tree). GNU C predefines the macro `linux`, which is also a CRI field name:
 * every file that includes the generated headers does so through this one. */

#undef linux
#include "server/cri.pb-c.h"
#include "server/test.pb-c.h"
