/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Paths of the running daemon that modules may build on: a module keeps its
 * persistent data below <root>/<module name> and its runtime files below
 * <runroot>/<module name>. The daemon sets them once, before any module is
 * loaded. */

const char *ocid_host_root(void);
const char *ocid_host_runroot(void);
/* Copies the paths; NULL leaves one as it is. A string returned earlier
 * stays valid (replaced copies are never freed). */
void ocid_host_set_paths(const char *root, const char *runroot);
