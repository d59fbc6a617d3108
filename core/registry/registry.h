/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The daemon's registry: for pods and for containers, the names reserved,
 * the IDs indexed by prefix and the records stored by ID. Each part locks
 * itself; docs/registry.md says in which order the lifecycle uses them. */

#include <stddef.h>

#include "registry/names.h"
#include "registry/store.h"
#include "registry/truncindex.h"

struct ocid_registry {
        struct names *pod_names, *ctr_names;
        struct truncindex *pod_ids, *ctr_ids;
        struct store *pods, *ctrs;
};

/* An empty registry. pod_ref_offset and ctr_ref_offset say where the pod and
 * container records embed their struct store_ref (see store_new()). */
struct ocid_registry *registry_new(size_t pod_ref_offset, size_t ctr_ref_offset);

/* Frees every part; the stores drop their references. NULL is a no-op.
 * Returns NULL. */
struct ocid_registry *registry_free(struct ocid_registry *r);

#include <ocid/cleanup.h>
OCID_DEFINE_CLEANUP_FUNC(struct ocid_registry *, registry_free)
