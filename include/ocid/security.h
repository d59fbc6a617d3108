/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#ifndef OCID_MODULE_ABI_MAJOR
#error "include <ocid/module.h>"
#endif

/* ABI 1.0: the security ops table. Later minors append members at the end. */
struct ocid_security_ops {
        struct ocid_module_ops base;
};
