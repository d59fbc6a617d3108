/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Common includes for cmocka unit tests, which print TAP. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define OCID_TEST_MAIN(...)                                                   \
        int main(void)                                                        \
        {                                                                     \
                const struct CMUnitTest tests[] = { __VA_ARGS__ };            \
                cmocka_set_message_output(CM_OUTPUT_TAP);                     \
                return cmocka_run_group_tests(tests, NULL, NULL);             \
        }
