/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The method table: every gRPC method the server knows, by path, with its
 * request type, its handler (NULL: answered UNIMPLEMENTED) and whether the
 * server streams its response. Services are added from their protoc-c
 * service descriptors, so a method cannot be forgotten. */

#include <stdbool.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

struct ocid_error;
struct ocid_config;
struct ocid_modules;
struct server_call;
struct image_store;
struct image_puller;
struct lifecycle;

/* What handlers may reach, immutable while the server runs (the objects
 * pointed to are thread-safe). */
struct server_env {
        const struct ocid_config *config;
        const struct ocid_modules *modules;
        struct image_store *images;     /* NULL: the ImageService answers UNAVAILABLE */
        struct image_puller *puller;
        struct lifecycle *lifecycle;    /* NULL: pod and container calls answer UNAVAILABLE */
};

/* Runs on a worker thread with the unpacked request. A unary handler calls
 * server_call_send() exactly once before returning 0; a streaming handler
 * calls it once per message. On failure it returns a negative errno with
 * *err set; the errno picks the gRPC status (docs/cri-server.md). */
typedef int (*server_handler_fn)(struct server_call *call, const ProtobufCMessage *request,
                                 struct ocid_error **err);

struct server_method {
        char *path;                     /* "/runtime.v1.RuntimeService/Version" */
        const char *name;               /* "RuntimeService/Version", points into path */
        const ProtobufCMessageDescriptor *input;
        const ProtobufCMessageDescriptor *output;
        server_handler_fn handler;      /* NULL: not implemented */
        bool server_streaming;
};

/* An implementation (or only the streaming flag) for one method of a
 * service, matched by method name ("Version"). */
struct server_method_impl {
        const char *method;
        server_handler_fn handler;
        bool server_streaming;
};

struct server_methods {
        struct server_method *v;        /* sorted by path */
        size_t n;
};

/* Adds every method of svc. Each impl must name a method of svc (-EINVAL
 * otherwise: a typo must not leave a method unimplemented silently); a path
 * already in the table is -EEXIST. */
int server_methods_add_service(struct server_methods *t, const ProtobufCServiceDescriptor *svc,
                               const struct server_method_impl *impls, size_t n_impls,
                               struct ocid_error **err);

/* The method for a request path, or NULL. */
const struct server_method *server_methods_find(const struct server_methods *t, const char *path);

void server_methods_done(struct server_methods *t);
