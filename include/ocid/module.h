/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The module ABI. A module is a shared object exporting exactly one data
 * symbol, its descriptor, named <stem>_LTX_ocid_module_info where <stem> is
 * the file name without ".so" and with '-' turned into '_'. The loader checks
 * the descriptor before any module code runs; module code runs first in
 * ops->init. Every other symbol of a module is static. See docs/modules.md. */

#include <libconfig.h>
#include <stdint.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/log.h>

#define OCID_MODULE_ABI_MAJOR 1  /* bump on any incompatible change */
#define OCID_MODULE_ABI_MINOR 0  /* bump when members are appended */

#define OCID_MODULE_KIND_STORAGE  1u
#define OCID_MODULE_KIND_NETWORK  2u
#define OCID_MODULE_KIND_SECURITY 3u
#define OCID_MODULE_KIND_RUNTIME  4u

/* The head of every kind's ops table. Only init is required; a NULL op
 * means "not supported". */
struct ocid_module_ops {
        /* cfg is the module's own group `modules.<name>` of crio.conf, or
         * NULL when the configuration has none. The module validates it
         * (unknown keys are errors) and returns its state. */
        int (*init)(const config_setting_t *cfg, void **ret_state, struct ocid_error **err);
        void (*fini)(void *state);
        /* Validates cfg without side effects, for `ocid check`. */
        int (*check)(const config_setting_t *cfg, struct ocid_error **err);
        /* Readiness: returns 1 when ready; 0 when not, with *ret_reason (a
         * CamelCase word) and *ret_message set; < 0 on error. */
        int (*status)(void *state, char **ret_reason, char **ret_message, struct ocid_error **err);
        /* A JSON object describing the module's state, for verbose Status. */
        int (*info)(void *state, char **ret_json, struct ocid_error **err);
};

struct ocid_module_info {
        uint32_t abi_major, abi_minor;
        uint32_t info_size;      /* sizeof(struct ocid_module_info) when the module was built */
        uint32_t kind;           /* OCID_MODULE_KIND_* */
        const char *name;        /* "storage-overlay"; must equal the file stem */
        const char *version;     /* the module's version, for logs only */
        const void *ops;         /* const struct ocid_<kind>_ops *, chosen by kind */
        uint32_t ops_size;       /* sizeof(*ops) when the module was built */
        const void *reserved[4]; /* must be NULL */
};

#ifndef OCID_MODULE_VERSION
#  ifdef PACKAGE_VERSION
#    define OCID_MODULE_VERSION PACKAGE_VERSION
#  else
#    define OCID_MODULE_VERSION "unknown"
#  endif
#endif

/* In a module:
 *   OCID_MODULE_DEFINE(storage_overlay, "storage-overlay", OCID_MODULE_KIND_STORAGE, &ovl_ops);
 * `sym` is the file stem with '-' as '_'; `name` is the stem itself. */
#define OCID_MODULE_DEFINE(sym, name, kind, ops)                                     \
        extern const struct ocid_module_info sym##_LTX_ocid_module_info;             \
        __attribute__((visibility("default")))                                       \
        const struct ocid_module_info sym##_LTX_ocid_module_info = {                 \
                OCID_MODULE_ABI_MAJOR, OCID_MODULE_ABI_MINOR,                        \
                (uint32_t) sizeof(struct ocid_module_info), (kind), (name),          \
                OCID_MODULE_VERSION, (ops), (uint32_t) sizeof(*(ops)),               \
                { 0, 0, 0, 0 },                                                      \
        }

/* The kind-specific tables. */
#include <ocid/storage.h>
#include <ocid/network.h>
#include <ocid/security.h>
#include <ocid/runtime.h>
