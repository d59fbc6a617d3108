/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared by the malformed test modules: working ops, so that each module
 * fails the loader for exactly the one defect its descriptor carries. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <ocid/module.h>

/* Each module restates the one member it breaks after the defaults below. */
#pragma GCC diagnostic ignored "-Woverride-init"

__attribute__((unused))
static int fake_bad_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        *ret_state = NULL;
        return 0;
}

__attribute__((unused))
static const struct ocid_storage_ops fake_bad_storage_ops = {
        .base = { .init = fake_bad_init },
};

/* A descriptor that passes every check, for `name` (the file stem) and
 * symbol `sym`; each module overrides one member. */
#define FAKE_BAD_DESCRIPTOR(sym_, name_, ...)                                   \
        extern const struct ocid_module_info sym_##_LTX_ocid_module_info;      \
        __attribute__((visibility("default")))                                \
        const struct ocid_module_info sym_##_LTX_ocid_module_info = {          \
                .abi_major = OCID_MODULE_ABI_MAJOR,                           \
                .abi_minor = OCID_MODULE_ABI_MINOR,                           \
                .info_size = sizeof(struct ocid_module_info),                 \
                .kind = OCID_MODULE_KIND_STORAGE,                             \
                .name = (name_),                                              \
                .version = "0",                                               \
                .ops = &fake_bad_storage_ops,                                 \
                .ops_size = sizeof(fake_bad_storage_ops),                     \
                __VA_ARGS__                                                   \
        }
