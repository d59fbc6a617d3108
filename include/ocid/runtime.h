/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#ifndef OCID_MODULE_ABI_MAJOR
#error "include <ocid/module.h>"
#endif

/* A runtime handler (a RuntimeClass name) as crio.conf defines it under
 * `runtimes.<name>`. One runtime module serves any number of handlers. */
struct ocid_runtime_handler {
        uint32_t size;          /* sizeof(struct ocid_runtime_handler) of the core */
        const char *name;       /* "runc" */
        const char *path;       /* absolute path of the OCI runtime binary */
        const char *root;       /* the runtime's own state root (--root) */
        const char *monitor;    /* absolute path of conmon */
};

/* ABI 1.0: the runtime ops table. Later minors append members at the end. */
struct ocid_runtime_ops {
        struct ocid_module_ops base;
        /* Readiness of one handler, as base.status. */
        int (*handler_status)(void *state, const struct ocid_runtime_handler *h,
                              char **ret_reason, char **ret_message, struct ocid_error **err);
};
