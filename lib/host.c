/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ocid/host.h>
#include <ocid/util.h>

#include "internal.h"

#define DEFAULT_ROOT    "/var/lib/ocid"
#define DEFAULT_RUNROOT "/run/ocid"

/* Copies made by ocid_host_set_paths(). A replaced copy is never freed, so a
 * pointer a module got earlier stays valid. */
static const char *host_root;
static const char *host_runroot;

OCID_EXPORT const char *ocid_host_root(void)
{
        const char *r = __atomic_load_n(&host_root, __ATOMIC_ACQUIRE);
        return r ? r : DEFAULT_ROOT;
}

OCID_EXPORT const char *ocid_host_runroot(void)
{
        const char *r = __atomic_load_n(&host_runroot, __ATOMIC_ACQUIRE);
        return r ? r : DEFAULT_RUNROOT;
}

OCID_EXPORT void ocid_host_set_paths(const char *root, const char *runroot)
{
        if (root)
                __atomic_store_n(&host_root, xstrdup(root), __ATOMIC_RELEASE);
        if (runroot)
                __atomic_store_n(&host_runroot, xstrdup(runroot), __ATOMIC_RELEASE);
}
