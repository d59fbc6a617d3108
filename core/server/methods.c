/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "server/methods.h"

static int method_compare(const void *a, const void *b)
{
        return strcmp(((const struct server_method *) a)->path, ((const struct server_method *) b)->path);
}

int server_methods_add_service(struct server_methods *t, const ProtobufCServiceDescriptor *svc,
                               const struct server_method_impl *impls, size_t n_impls,
                               struct ocid_error **err)
{
        size_t first = t->n;

        for (size_t i = 0; i < n_impls; i++) {
                bool found = false;

                for (unsigned j = 0; j < svc->n_methods && !found; j++)
                        found = streq(svc->methods[j].name, impls[i].method);
                if (!found)
                        return ocid_error_msg(err, EINVAL, "service '%s' has no method '%s'",
                                              svc->name, impls[i].method);
        }

        for (unsigned j = 0; j < svc->n_methods; j++) {
                _cleanup_free_ char *path = xasprintf("/%s/%s", svc->name, svc->methods[j].name);

                if (server_methods_find(t, path))
                        return ocid_error_msg(err, EEXIST, "method '%s' is already registered", path);
        }

        t->v = xreallocarray(t->v, t->n + svc->n_methods, sizeof(*t->v));
        for (unsigned j = 0; j < svc->n_methods; j++) {
                const ProtobufCMethodDescriptor *md = &svc->methods[j];
                struct server_method *m = &t->v[first + j];
                const char *short_service = svc->short_name ? svc->short_name : svc->name;

                *m = (struct server_method) {
                        .path = xasprintf("/%s/%s", svc->name, md->name),
                        .input = md->input,
                        .output = md->output,
                };
                /* name: "<Service>/<Method>", the tail of the path. */
                m->name = m->path + strlen(m->path) - strlen(short_service) - 1 - strlen(md->name);
                for (size_t i = 0; i < n_impls; i++) {
                        if (streq(impls[i].method, md->name)) {
                                m->handler = impls[i].handler;
                                m->server_streaming = impls[i].server_streaming;
                        }
                }
        }
        t->n = first + svc->n_methods;
        qsort(t->v, t->n, sizeof(*t->v), method_compare);
        return 0;
}

const struct server_method *server_methods_find(const struct server_methods *t, const char *path)
{
        struct server_method key = { .path = (char *) path };

        if (t->n == 0 || !path)
                return NULL;
        return bsearch(&key, t->v, t->n, sizeof(*t->v), method_compare);
}

void server_methods_done(struct server_methods *t)
{
        for (size_t i = 0; i < t->n; i++)
                free(t->v[i].path);
        free(t->v);
        t->v = NULL;
        t->n = 0;
}
