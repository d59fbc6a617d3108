/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the OCI runtime modules that drive a runc-compatible command line
 * (oci-runc, oci-crun) share. Compiled into each of them; hidden, so that
 * each module still exports only its descriptor. */

#include <ocid/module.h>

#define OCI_HIDDEN __attribute__((visibility("hidden")))

/* Validates modules.<module> (no settings yet: any key is an error). */
OCI_HIDDEN int oci_check(const config_setting_t *cfg, struct ocid_error **err);

/* Creates the module's state after oci_check. */
OCI_HIDDEN int oci_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err);
OCI_HIDDEN void oci_fini(void *state);

/* A handler is ready when its binary exists, is an executable regular file
 * and `<path> --version` succeeds within OCI_VERSION_TIMEOUT_MS; otherwise
 * not ready with reason "RuntimeBinaryUnavailable" and a message naming the
 * path and the error. The version of an unchanged binary is remembered. */
#define OCI_VERSION_TIMEOUT_MS 10000
#define OCI_REASON_UNAVAILABLE "RuntimeBinaryUnavailable"
OCI_HIDDEN int oci_handler_status(void *state, const struct ocid_runtime_handler *h,
                                  char **ret_reason, char **ret_message, struct ocid_error **err);

/* The module as a whole is ready; its handlers carry the readiness. */
OCI_HIDDEN int oci_status(void *state, char **ret_reason, char **ret_message, struct ocid_error **err);

/* {"binaries": [{"path", "version" | "error"}]}: the binaries the handlers
 * named so far. */
OCI_HIDDEN int oci_info(void *state, char **ret_json, struct ocid_error **err);
