/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Scope-bound cleanup. A cleanup function receives the variable's address
 * and tests the pointee. Ownership leaves a scope only through TAKE_PTR or
 * TAKE_FD. */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void ocid_freep(void *p) { free(*(void **) p); }
static inline void ocid_closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                (void) close(*fd);
                errno = saved;
        }
}
static inline void ocid_fclosep(FILE **f) { if (*f) (void) fclose(*f); }
static inline void ocid_closedirp(DIR **d) { if (*d) (void) closedir(*d); }
/* Frees a NULL-terminated array of strings. */
static inline void ocid_strvfreep(char ***v)
{
        if (*v) {
                for (char **i = *v; *i; i++)
                        free(*i);
                free(*v);
        }
}

#define _cleanup_free_    _cleanup_(ocid_freep)
#define _cleanup_close_   _cleanup_(ocid_closep)
#define _cleanup_fclose_  _cleanup_(ocid_fclosep)
#define _cleanup_closedir_ _cleanup_(ocid_closedirp)
#define _cleanup_strv_    _cleanup_(ocid_strvfreep)

/* OCID_DEFINE_CLEANUP_FUNC(struct foo *, foo_free) defines foo_freep(). */
#define OCID_DEFINE_CLEANUP_FUNC(type, func)                                  \
        static inline void func##p(type *p)                                   \
        {                                                                     \
                if (*p)                                                       \
                        func(*p);                                             \
        }

#define TAKE_PTR(p)                                                           \
        ({                                                                    \
                __typeof__(p) _ptr_ = (p);                                    \
                (p) = NULL;                                                   \
                _ptr_;                                                        \
        })

#define TAKE_FD(fd)                                                           \
        ({                                                                    \
                int _fd_ = (fd);                                              \
                (fd) = -1;                                                    \
                _fd_;                                                         \
        })
