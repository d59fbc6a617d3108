/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Linux capabilities for the OCI spec: names, the default set a container
 * gets, and the CRI add/drop/ambient rules applied to it. A set is a bit
 * mask, bit n for capability number n. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct ocid_error;

/* The capabilities this build knows by name: 0 (CAP_CHOWN) to 40
 * (CAP_CHECKPOINT_RESTORE). */
#define CAPS_COUNT 41
#define CAPS_ALL_KNOWN ((UINT64_C(1) << CAPS_COUNT) - 1)
#define CAPS_BIT(n) (UINT64_C(1) << (n))

/* "CAP_CHOWN" for 0; NULL beyond the table. */
const char *caps_name(unsigned cap);

/* Parses "CAP_CHOWN", "chown", "Cap_Chown": the CAP_ prefix is optional and
 * case does not matter. Returns 0 and the number, or -EINVAL ("ALL" is not
 * a capability: callers handle it). */
int caps_parse(const char *name, unsigned *ret);

/* The default set of a container that is not privileged (docs/container-spec.md). */
uint64_t caps_default(void);

/* What the CRI asks for; the arrays hold names as caps_parse() reads them,
 * plus "ALL" in add and drop. */
struct caps_request {
        char **add;
        size_t n_add;
        char **drop;
        size_t n_drop;
        char **ambient;
        size_t n_ambient;
};

/* Computes a container's capability set and its ambient set.
 * privileged: the set is everything `held` has (the daemon's own effective
 * set) and add/drop are validated but ignored. Otherwise: the default set
 * (intersected with `held`), then "ALL" in drop clears it, "ALL" in add
 * fills it with `held`, then single drops, then single adds. Ambient
 * capabilities join every set. A name that is not a capability, or one the
 * daemon does not hold, is -EINVAL naming the list and the name. */
int caps_compute(const struct caps_request *req, bool privileged, uint64_t held, uint64_t *ret_caps,
                 uint64_t *ret_ambient, struct ocid_error **err);

/* A JSON array of "CAP_*" names in number order. */
struct json_object *caps_to_json(uint64_t set);

/* The effective capability set of the calling thread (capget(2)). */
int caps_probe_effective(uint64_t *ret, struct ocid_error **err);
