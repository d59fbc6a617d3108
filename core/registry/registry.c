/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include <ocid/util.h>

#include "registry/registry.h"

struct ocid_registry *registry_new(size_t pod_ref_offset, size_t ctr_ref_offset)
{
        struct ocid_registry *r = xzalloc(sizeof(*r));

        r->pod_names = names_new();
        r->ctr_names = names_new();
        r->pod_ids = truncindex_new();
        r->ctr_ids = truncindex_new();
        r->pods = store_new(pod_ref_offset);
        r->ctrs = store_new(ctr_ref_offset);
        return r;
}

struct ocid_registry *registry_free(struct ocid_registry *r)
{
        if (!r)
                return NULL;
        /* Containers before pods: a container record may hold its pod. */
        store_free(r->ctrs);
        store_free(r->pods);
        truncindex_free(r->ctr_ids);
        truncindex_free(r->pod_ids);
        names_free(r->ctr_names);
        names_free(r->pod_names);
        free(r);
        return NULL;
}
