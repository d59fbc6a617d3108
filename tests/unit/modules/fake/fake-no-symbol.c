/* SPDX-License-Identifier: Apache-2.0 */
/* Exports something, but no descriptor. */

#include "fake-bad.h"

extern const int fake_no_symbol_LTX_something_else;
__attribute__((visibility("default"))) const int fake_no_symbol_LTX_something_else = 1;

