/* SPDX-License-Identifier: Apache-2.0 */
/* Passes every check; init fails with a message. */

#include "fake-bad.h"

#include <errno.h>

static int fake_failing_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        return ocid_error_msg(err, EIO, "cannot reach the frobnicator");
}

static const struct ocid_storage_ops fake_failing_ops = { .base = { .init = fake_failing_init } };

FAKE_BAD_DESCRIPTOR(fake_init_fails, "fake-init-fails", .ops = &fake_failing_ops,
                    .ops_size = sizeof(fake_failing_ops));
