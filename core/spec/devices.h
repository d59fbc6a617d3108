/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Device nodes of the OCI spec (linux.devices) and the device cgroup rules
 * (linux.resources.devices): a default allow-list for every container, all
 * host devices for a privileged one, and the CRI's devices. */

#include <stdbool.h>
#include <stddef.h>

#include "server/cri-proto.h"

struct json_object;
struct ocid_error;

#define DEVICES_HOST_MAX   16384   /* device nodes taken from the host's /dev */
#define DEVICES_HOST_DEPTH 8

/* "rwm" or a subset of it, each letter once; "" means "rwm". */
int devices_permissions_check(const char *perms, struct ocid_error **err);

/* Adds the default device nodes (null, zero, full, random, urandom, tty)
 * to `devices`, and to `rules` the cgroup rules: deny everything, then
 * allow those nodes plus /dev/ptmx and the devpts ptys. */
void devices_add_defaults(struct json_object *devices, struct json_object *rules);

/* For a privileged container: every character and block device below
 * dev_dir (default /dev; pts, shm, mqueue, console and ptmx skipped,
 * symlinks not followed) as a node at the same path below /dev, and one
 * rule allowing every device. */
int devices_add_host(const char *dev_dir, struct json_object *devices, struct json_object *rules,
                     struct ocid_error **err);

/* One CRI device: the host path must be a character or block device (a
 * symlink to one is followed), the container path absolute, permissions a
 * subset of "rwm". A node already in `devices` at the same container path
 * is replaced. Errors name "container config: devices[<index>]". */
int devices_add_cri(const Runtime__V1__Device *d, size_t index, struct json_object *devices,
                    struct json_object *rules, struct ocid_error **err);
