/* SPDX-License-Identifier: Apache-2.0 */
/* Tree helpers of the storage modules; see sc-tree.h. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/util.h>

#include "sc-tree.h"

static size_t sc_inode_hash(dev_t dev, ino_t ino)
{
        uint64_t h = (uint64_t) ino * 0x9e3779b97f4a7c15ull ^ (uint64_t) dev * 0xc2b2ae3d27d4eb4full;

        return (size_t) (h ^ (h >> 31));
}

const struct sc_inode_entry *sc_inode_map_get(const struct sc_inode_map *m, dev_t dev, ino_t ino)
{
        if (m->cap == 0)
                return NULL;
        for (size_t i = sc_inode_hash(dev, ino) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
                const struct sc_inode_entry *e = &m->v[i];

                if (e->dev == 0 && e->ino == 0)
                        return NULL;
                if (e->dev == dev && e->ino == ino)
                        return e;
        }
}

/* Inserts into a table with room; (0, 0) marks a free slot, and no real
 * file has inode 0. */
static void sc_inode_insert(struct sc_inode_entry *v, size_t cap, struct sc_inode_entry e)
{
        size_t i = sc_inode_hash(e.dev, e.ino) & (cap - 1);

        while (v[i].dev != 0 || v[i].ino != 0)
                i = (i + 1) & (cap - 1);
        v[i] = e;
}

void sc_inode_map_put(struct sc_inode_map *m, dev_t dev, ino_t ino, const char *path)
{
        if ((m->n + 1) * 4 > m->cap * 3) {
                size_t cap = m->cap ? m->cap * 2 : 64;
                struct sc_inode_entry *v = xcalloc(cap, sizeof(*v));

                for (size_t i = 0; i < m->cap; i++)
                        if (m->v[i].dev != 0 || m->v[i].ino != 0)
                                sc_inode_insert(v, cap, m->v[i]);
                free(m->v);
                m->v = v;
                m->cap = cap;
        }
        sc_inode_insert(m->v, m->cap, (struct sc_inode_entry) { dev, ino, xstrdup(path) });
        m->n++;
}

void sc_inode_map_done(struct sc_inode_map *m)
{
        for (size_t i = 0; i < m->cap; i++)
                free(m->v[i].path);
        free(m->v);
        memset(m, 0, sizeof(*m));
}

int sc_read_names(int fd, char ***ret)
{
        _cleanup_closedir_ DIR *d = NULL;
        char **v = NULL;
        size_t n = 0, cap = 0;
        int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);

        if (dfd < 0)
                return -errno;
        d = fdopendir(dfd);
        if (!d) {
                int r = -errno;

                (void) close(dfd);
                return r;
        }
        rewinddir(d);
        for (;;) {
                struct dirent *de;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0) {
                                int r = -errno;

                                ocid_strv_free(v);
                                return r;
                        }
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (n + 2 > cap) {
                        cap = cap ? cap * 2 : 16;
                        v = xreallocarray(v, cap, sizeof(char *));
                }
                v[n++] = xstrdup(de->d_name);
                v[n] = NULL;
        }
        if (!v)
                v = xzalloc(sizeof(char *));
        *ret = v;
        return 0;
}

int sc_reopen_parent(int child_fd, dev_t dev, ino_t ino)
{
        struct stat st;
        int fd = openat(child_fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || st.st_dev != dev || st.st_ino != ino) {
                (void) close(fd);
                return -ESTALE;
        }
        return fd;
}
