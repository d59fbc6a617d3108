/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Exit tracking: an inotify watch on the exit directory
 * (<runroot>/exits), where conmon writes `<container id>` holding the
 * exit status when a container's init process ends. The watch runs in the
 * event loop; each new exit file is handed to a worker thread, which
 * records the exit in the container (state, exit code, finish time = the
 * file's mtime, OOM marker), writes its record and publishes
 * CONTAINER_STOPPED. So an exit shows in ContainerStatus and
 * ListContainers at once instead of at the next poll (docs/restart.md). */

#include <stdint.h>
#include <uv.h>

struct exitwatch;
struct lifecycle;
struct lc_container;
struct ocid_error;

/* Called on a worker thread for each exit file closed after writing or
 * moved into the directory; `name` is the file's name. */
typedef void (*exitwatch_fn)(void *userdata, const char *name);

/* Creates dir (0700) if needed and watches it. The watch holds no
 * reference on the loop's liveness beyond its poll handle. */
int exitwatch_new(uv_loop_t *loop, const char *dir, exitwatch_fn fn, void *userdata, struct exitwatch **ret,
                  struct ocid_error **err);
/* Stops watching; the memory goes once the loop has closed the handle
 * and every queued worker call has run. NULL is a no-op. */
void exitwatch_close(struct exitwatch *w);

/* Reads <dir>/<id>: 1 with the exit status and the file's mtime (ns since
 * the epoch), 0 when there is no complete exit file, negative on another
 * error. */
int exitwatch_read(const char *dir, const char *id, int32_t *ret_code, int64_t *ret_finished_ns,
                   struct ocid_error **err);

/* The lifecycle's handler for an exit file (an exitwatch_fn with the
 * lifecycle as userdata): a name that is not a container ID, or a
 * container that is unknown or already recorded as exited, changes
 * nothing. Publishes CONTAINER_STOPPED for a known container. */
void exitwatch_container_exited(void *lifecycle, const char *name);

/* Records an exit in the container (under its lock) and writes its record
 * unless it is already exited. Returns 1 when this call recorded it. */
int exitwatch_record_exit(struct lifecycle *lc, struct lc_container *c, int32_t code, int64_t finished_ns,
                          int32_t oom_killed, struct ocid_error **err);
