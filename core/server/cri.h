/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The CRI services (runtime.v1 RuntimeService and ImageService): every
 * method of both, with the handlers implemented so far (Version, Status,
 * RuntimeConfig); the others answer UNIMPLEMENTED naming themselves. */

struct ocid_error;
struct server_methods;

int cri_register(struct server_methods *t, struct ocid_error **err);
