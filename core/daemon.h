/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The daemon's life: effective configuration (file plus command-line
 * overrides), single-instance guard, start-up, signals (SIGTERM/SIGINT
 * graceful stop, SIGHUP reload) and clean shutdown. core/main.c parses the
 * command line and maps failures to exit codes. */

#include <stdbool.h>

struct ocid_config;
struct ocid_error;

/* Command-line overrides; NULL when not given. */
struct daemon_options {
        const char *config_path;        /* NULL: the default crio.conf */
        const char *root;
        const char *runroot;
        const char *listen;
        const char *log_level;
};

/* Applies the overrides to c. A new runroot also moves the socket when
 * its path was derived from the old runroot (neither the configuration nor
 * --listen chose it). Relative paths and unknown log levels are -EINVAL. */
int daemon_apply_overrides(struct ocid_config *c, const struct daemon_options *o, struct ocid_error **err);

/* config_load plus the overrides: the effective configuration. */
int daemon_load_config(const struct daemon_options *o, struct ocid_config **ret, struct ocid_error **err);

/* Is something accepting connections on the unix socket `path`? 1: yes;
 * 0: no (nothing there, or a stale socket file nobody listens on); < 0 on
 * error (e.g. the path exists but is not a socket). */
int daemon_socket_is_live(const char *path, struct ocid_error **err);

/* Runs the daemon in the foreground with the effective configuration c
 * (taken over) until SIGTERM or SIGINT, then shuts down cleanly. Returns 0
 * after a clean shutdown; -EBUSY when another ocid serves the socket or
 * holds the lock; another negative errno for other start-up failures. */
int daemon_run(struct ocid_config *c, const struct daemon_options *o, struct ocid_error **err);
