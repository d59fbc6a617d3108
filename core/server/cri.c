/* SPDX-License-Identifier: Apache-2.0 */
#define OCID_LOG_CATEGORY "cri"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "config.h"
#include "modules.h"
#include "network.h"
#include "runtime.h"
#include "server/call.h"
#include "server/cri-container.h"
#include "server/cri-events.h"
#include "server/cri-image.h"
#include "server/cri-pod.h"
#include "server/cri-proto.h"
#include "server/cri.h"
#include "server/methods.h"

#define CRI_RUNTIME_NAME        "ocid"
#define CRI_RUNTIME_API_VERSION "v1"
/* VersionResponse.version: the version of the kubelet runtime API. */
#define CRI_KUBELET_API_VERSION "0.1.0"

static int cri_version(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        Runtime__V1__VersionResponse resp = RUNTIME__V1__VERSION_RESPONSE__INIT;

        resp.version = (char *) CRI_KUBELET_API_VERSION;
        resp.runtime_name = (char *) CRI_RUNTIME_NAME;
        resp.runtime_version = (char *) PACKAGE_VERSION;
        resp.runtime_api_version = (char *) CRI_RUNTIME_API_VERSION;
        return server_call_send(call, &resp.base, err);
}

/* One condition of StatusResponse, owning its strings. */
struct cri_condition {
        Runtime__V1__RuntimeCondition c;
        char *reason;
        char *message;
};

typedef int (*cri_status_fn)(const void *subject, char **ret_reason, char **ret_message, struct ocid_error **err);

static int cri_runtime_status(const void *subject, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        return runtime_handler_status(subject, ret_reason, ret_message, err);
}

static int cri_network_status(const void *subject, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        return network_status((struct ocid_module *) subject, ret_reason, ret_message, err);
}

/* Fills a condition from a module's readiness. A module that cannot tell
 * is reported not ready with the reason `failed_reason`: Status itself
 * succeeds, because the kubelet reads readiness from it. */
static void cri_condition_fill(struct cri_condition *cond, const char *type, cri_status_fn fn, const void *subject,
                               const char *missing_reason, const char *missing_message,
                               const char *failed_reason)
{
        _cleanup_error_ struct ocid_error *error = NULL;
        int r;

        runtime__v1__runtime_condition__init(&cond->c);
        cond->c.type = (char *) type;
        if (!subject) {
                cond->reason = xstrdup(missing_reason);
                cond->message = xstrdup(missing_message);
                r = 0;
        } else {
                r = fn(subject, &cond->reason, &cond->message, &error);
        }
        if (r < 0) {
                ocid_log(OCID_LOG_WARNING, "%s: status unavailable: %s", type, ocid_error_message(&error));
                cond->reason = xstrdup(failed_reason);
                cond->message = xstrdup(ocid_error_message(&error));
        }
        cond->c.status = r > 0;
        if (r <= 0) {
                cond->c.reason = cond->reason ? cond->reason : (char *) failed_reason;
                cond->c.message = cond->message ? cond->message : (char *) "";
        }
}

static char *cri_config_text(const struct ocid_config *config)
{
        _cleanup_error_ struct ocid_error *error = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ struct json_object *s = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        f = open_memstream(&text, &len);
        if (!f)
                abort();
        r = config_print(config, f, &error);
        if (fclose(f) != 0)
                abort();
        if (r < 0) {
                ocid_log(OCID_LOG_WARNING, "Status: cannot describe the configuration: %s",
                         ocid_error_message(&error));
                return xstrdup("null");
        }
        /* info values are JSON: the crio.conf text as a JSON string. */
        s = json_object_new_string_len(text, (int) len);
        return xstrdup(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN));
}

static int cri_status(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const Runtime__V1__StatusRequest *req = (const Runtime__V1__StatusRequest *) request;
        const struct server_env *env = server_call_env(call);
        const struct ocid_modules *modules = env->modules;
        Runtime__V1__StatusResponse resp = RUNTIME__V1__STATUS_RESPONSE__INIT;
        Runtime__V1__RuntimeStatus status = RUNTIME__V1__RUNTIME_STATUS__INIT;
        struct cri_condition conds[2];
        Runtime__V1__RuntimeCondition *cond_ptrs[2] = { &conds[0].c, &conds[1].c };
        Runtime__V1__StatusResponse__InfoEntry info[2], *info_ptrs[2] = { &info[0], &info[1] };
        _cleanup_free_ char *modules_json = NULL, *config_json = NULL;
        _cleanup_free_ Runtime__V1__RuntimeHandler *handlers = NULL;
        _cleanup_free_ Runtime__V1__RuntimeHandler **handler_ptrs = NULL;
        Runtime__V1__RuntimeHandlerFeatures features = RUNTIME__V1__RUNTIME_HANDLER_FEATURES__INIT;
        const struct modules_handler *def = modules ? modules_find_handler(modules, NULL) : NULL;
        size_t n_handlers = 0;
        int r;

        cri_condition_fill(&conds[0], "RuntimeReady", cri_runtime_status, def, "RuntimeHandlerNotFound",
                           "no default runtime handler is configured", "RuntimeStatusUnavailable");
        cri_condition_fill(&conds[1], "NetworkReady", cri_network_status, modules ? modules->network : NULL,
                           "NetworkPluginNotReady", "no network module is loaded", "NetworkStatusUnavailable");
        status.n_conditions = ELEMENTSOF(cond_ptrs);
        status.conditions = cond_ptrs;
        resp.status = &status;

        /* The handlers, each with the features ocid supports for it (none
         * of the optional ones yet); "" is the default handler. */
        if (modules && modules->n_handlers > 0) {
                handlers = xcalloc(modules->n_handlers + 1, sizeof(*handlers));
                handler_ptrs = xcalloc(modules->n_handlers + 1, sizeof(*handler_ptrs));
                if (def) {
                        runtime__v1__runtime_handler__init(&handlers[n_handlers]);
                        handlers[n_handlers].name = (char *) "";
                        handlers[n_handlers].features = &features;
                        handler_ptrs[n_handlers] = &handlers[n_handlers];
                        n_handlers++;
                }
                for (size_t i = 0; i < modules->n_handlers; i++) {
                        runtime__v1__runtime_handler__init(&handlers[n_handlers]);
                        handlers[n_handlers].name = (char *) modules->handlers[i].h.name;
                        handlers[n_handlers].features = &features;
                        handler_ptrs[n_handlers] = &handlers[n_handlers];
                        n_handlers++;
                }
                resp.n_runtime_handlers = n_handlers;
                resp.runtime_handlers = handler_ptrs;
        }

        if (req->verbose) {
                modules_json = modules ? modules_info_json(modules) : xstrdup("[]");
                config_json = cri_config_text(env->config);
                runtime__v1__status_response__info_entry__init(&info[0]);
                info[0].key = (char *) "modules";
                info[0].value = modules_json;
                runtime__v1__status_response__info_entry__init(&info[1]);
                info[1].key = (char *) "config";
                info[1].value = config_json;
                resp.n_info = ELEMENTSOF(info_ptrs);
                resp.info = info_ptrs;
        }

        r = server_call_send(call, &resp.base, err);
        for (size_t i = 0; i < ELEMENTSOF(conds); i++) {
                free(conds[i].reason);
                free(conds[i].message);
        }
        return r;
}

static int cri_runtime_config(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err)
{
        const struct ocid_config *config = server_call_env(call)->config;
        Runtime__V1__RuntimeConfigResponse resp = RUNTIME__V1__RUNTIME_CONFIG_RESPONSE__INIT;
        Runtime__V1__LinuxRuntimeConfiguration lrc = RUNTIME__V1__LINUX_RUNTIME_CONFIGURATION__INIT;

        lrc.cgroup_driver = config->cgroup_manager && streq(config->cgroup_manager, "systemd")
                                    ? RUNTIME__V1__CGROUP_DRIVER__SYSTEMD
                                    : RUNTIME__V1__CGROUP_DRIVER__CGROUPFS;
        resp.linux = &lrc;
        return server_call_send(call, &resp.base, err);
}

/* Implemented methods, and the streaming flag of every server-streaming
 * method (the protoc-c descriptors do not record streaming). */
static const struct server_method_impl runtime_service[] = {
        { "Version", cri_version, false },
        { "Status", cri_status, false },
        { "RuntimeConfig", cri_runtime_config, false },
        { "RunPodSandbox", cri_pod_run, false },
        { "StopPodSandbox", cri_pod_stop, false },
        { "RemovePodSandbox", cri_pod_remove, false },
        { "PodSandboxStatus", cri_pod_status, false },
        { "ListPodSandbox", cri_pod_list, false },
        { "CreateContainer", cri_ctr_create, false },
        { "StartContainer", cri_ctr_start, false },
        { "StopContainer", cri_ctr_stop, false },
        { "RemoveContainer", cri_ctr_remove, false },
        { "ContainerStatus", cri_ctr_status, false },
        { "ListContainers", cri_ctr_list, false },
        { "ExecSync", cri_ctr_exec_sync, false },
        { "UpdateContainerResources", cri_ctr_update, false },
        { "ReopenContainerLog", cri_ctr_reopen_log, false },
        { "StreamPodSandboxes", NULL, true },
        { "StreamContainers", NULL, true },
        { "StreamContainerStats", NULL, true },
        { "StreamPodSandboxStats", NULL, true },
        { "GetContainerEvents", cri_events_get, true },
        { "StreamPodSandboxMetrics", NULL, true },
};

static const struct server_method_impl image_service[] = {
        { "PullImage", cri_image_pull, false },
        { "ListImages", cri_image_list, false },
        { "ImageStatus", cri_image_status, false },
        { "RemoveImage", cri_image_remove, false },
        { "ImageFsInfo", cri_image_fs_info, false },
        { "StreamImages", NULL, true },
};

int cri_register(struct server_methods *t, struct ocid_error **err)
{
        int r;

        r = server_methods_add_service(t, &runtime__v1__runtime_service__descriptor, runtime_service,
                                       ELEMENTSOF(runtime_service), err);
        if (r < 0)
                return r;
        return server_methods_add_service(t, &runtime__v1__image_service__descriptor, image_service,
                                          ELEMENTSOF(image_service), err);
}
