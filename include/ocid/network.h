/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#ifndef OCID_MODULE_ABI_MAJOR
#error "include <ocid/module.h>"
#endif

/* ABI 1.0: the network ops table. Later minors append members at the end. */
struct ocid_network_ops {
        struct ocid_module_ops base;
};
