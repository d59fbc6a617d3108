/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* ocid.test.v1.Test (test.proto): Sleep and Count, served only when the
 * daemon runs with OCID_TEST_SERVICE=1, to exercise the transport
 * (deadlines, shutdown with calls in flight, server streaming). */

struct ocid_error;
struct server_methods;

int selftest_register(struct server_methods *t, struct ocid_error **err);
