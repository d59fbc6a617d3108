/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Tree helpers of the storage modules: a map from inodes to paths (to keep
 * hardlinks), and reading a directory's names. */

#include <stddef.h>
#include <sys/types.h>

#include <ocid/cleanup.h>

#define SC_TREE_HIDDEN __attribute__((visibility("hidden")))

/* Directory levels a walk keeps open; deeper levels close their parent while
 * a child is walked and reopen it through the child's "..", so that the
 * number of open fds stays bounded however deep a layer is. */
#define SC_FD_DEPTH 32

struct sc_inode_entry {
        dev_t dev;
        ino_t ino;
        char *path;             /* may be NULL (a set) */
};

struct sc_inode_map {
        struct sc_inode_entry *v;
        size_t n, cap;          /* cap: 0 or a power of two */
};

/* The entry for (dev, ino), or NULL. */
SC_TREE_HIDDEN const struct sc_inode_entry *sc_inode_map_get(const struct sc_inode_map *m, dev_t dev, ino_t ino);
/* Adds (dev, ino) with a copy of path (may be NULL); it must be absent. */
SC_TREE_HIDDEN void sc_inode_map_put(struct sc_inode_map *m, dev_t dev, ino_t ino, const char *path);
SC_TREE_HIDDEN void sc_inode_map_done(struct sc_inode_map *m);

/* The names in the directory open as fd (not consumed), without "." and
 * "..", NULL-terminated; -errno on failure. */
SC_TREE_HIDDEN int sc_read_names(int fd, char ***ret);

/* Reopens the parent of the directory open as child_fd, which must be the
 * directory (dev, ino): -ESTALE when the tree moved. */
SC_TREE_HIDDEN int sc_reopen_parent(int child_fd, dev_t dev, ino_t ino);
