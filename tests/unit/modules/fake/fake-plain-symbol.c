/* SPDX-License-Identifier: Apache-2.0 */
/* A good module exporting the plain, unprefixed descriptor symbol. */

#include <ocid/module.h>

static int fake_plain_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        *ret_state = NULL;
        return 0;
}

static const struct ocid_network_ops fake_plain_ops = { .base = { .init = fake_plain_init } };

extern const struct ocid_module_info ocid_module_info;
__attribute__((visibility("default"))) const struct ocid_module_info ocid_module_info = {
        .abi_major = OCID_MODULE_ABI_MAJOR,
        .abi_minor = OCID_MODULE_ABI_MINOR,
        .info_size = sizeof(struct ocid_module_info),
        .kind = OCID_MODULE_KIND_NETWORK,
        .name = "fake-plain-symbol",
        .version = "0",
        .ops = &fake_plain_ops,
        .ops_size = sizeof(fake_plain_ops),
};
