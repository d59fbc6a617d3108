/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to the security modules and the chain they form. */

#define OCID_LOG_CATEGORY "security"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/module.h>
#include <ocid/util.h>

#include "module-loader.h"
#include "modules.h"
#include "security.h"

#define SECURITY_OP(m, member) MODULE_OP((m), struct ocid_security_ops, member)

int security_status(struct ocid_module *m, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        int r;

        r = module_check_callable(m, OCID_MODULE_KIND_SECURITY, "status", err);
        if (r < 0)
                return r;
        return module_status(m, ret_reason, ret_message, err);
}

/* A pod or container ID as the core makes them: 64 lowercase hex digits. */
static int security_id_check(const char *what, const char *id, struct ocid_error **err)
{
        size_t n = 0;

        if (!id || !*id)
                return ocid_error_msg(err, EINVAL, "security: no %s ID", what);
        for (const char *p = id; *p; p++, n++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return ocid_error_msg(err, EINVAL, "security: invalid %s ID '%s'", what, id);
        if (n != 64)
                return ocid_error_msg(err, EINVAL, "security: invalid %s ID '%s'", what, id);
        return 0;
}

static int security_profile_check(const char *what, const struct ocid_security_profile *p,
                                  struct ocid_error **err)
{
        if (p->type > OCID_SECURITY_PROFILE_LOCALHOST)
                return ocid_error_msg(err, EINVAL, "%s profile: unknown profile type %" PRIu32, what, p->type);
        if (p->type == OCID_SECURITY_PROFILE_LOCALHOST && (!p->localhost_ref || !*p->localhost_ref))
                return ocid_error_msg(err, EINVAL, "%s profile: a Localhost profile needs localhost_ref", what);
        return 0;
}

int security_apply_chain(const struct ocid_modules *m, const struct ocid_security_request *req,
                         struct json_object *spec, char **ret_mount_label, struct ocid_error **err)
{
        static const char *const no_paths[] = { NULL };
        struct ocid_security_request rq;
        int r;

        if (!req)
                return ocid_error_msg(err, EINVAL, "security: no request");
        if (!spec || !json_object_is_type(spec, json_type_object))
                return ocid_error_msg(err, EINVAL, "security: the spec is not a JSON object");
        r = security_id_check("container", req->container_id, err);
        if (r < 0)
                return r;
        r = security_id_check("pod", req->pod_id, err);
        if (r < 0)
                return r;
        r = security_profile_check("seccomp", &req->seccomp, err);
        if (r < 0)
                return r;
        r = security_profile_check("AppArmor", &req->apparmor, err);
        if (r < 0)
                return r;

        rq = *req;
        rq.size = (uint32_t) sizeof(rq);
        rq.privileged = req->privileged ? 1 : 0;
        rq.relabel = req->relabel ? req->relabel : no_paths;
        rq.mount_label = NULL;

        for (size_t i = 0; m && i < m->n_security; i++) {
                struct ocid_module *mod = m->security[i];
                _cleanup_error_ struct ocid_error *e = NULL;
                int (*apply)(void *, struct ocid_security_request *, struct json_object *,
                             struct ocid_error **);

                r = module_check_callable(mod, OCID_MODULE_KIND_SECURITY, "apply", err);
                if (r < 0)
                        goto fail;
                apply = SECURITY_OP(mod, apply);
                if (!apply)
                        continue;
                r = apply(mod->state, &rq, spec, &e);
                if (r < 0) {
                        r = module_op_failed(mod, "apply", r, &e, err);
                        goto fail;
                }
        }
        if (ret_mount_label)
                *ret_mount_label = rq.mount_label;
        else
                free(rq.mount_label);
        return 0;

fail:
        free(rq.mount_label);
        return r;
}

/* Calls pod_remove of m->security[0..n-1] in reverse order, logging
 * failures: the rollback of a pod_create chain. */
static void security_pod_rollback(const struct ocid_modules *m, size_t n, const char *pod_id)
{
        while (n-- > 0) {
                struct ocid_module *mod = m->security[n];
                _cleanup_error_ struct ocid_error *e = NULL;
                int (*pod_remove)(void *, const char *, struct ocid_error **) = SECURITY_OP(mod, pod_remove);
                int r;

                if (!pod_remove)
                        continue;
                r = pod_remove(mod->state, pod_id, &e);
                if (r < 0)
                        ocid_log(OCID_LOG_WARNING, "pod '%s': rollback of module '%s': %s, ignoring", pod_id,
                                 mod->name, e ? e->message : "failed without a message");
        }
}

int security_pod_create_chain(const struct ocid_modules *m, const struct ocid_security_pod *pod,
                              char **ret_process_label, char **ret_mount_label, struct ocid_error **err)
{
        _cleanup_free_ char *process_label = NULL, *mount_label = NULL;
        struct ocid_security_pod p;
        size_t i;
        int r;

        if (!pod)
                return ocid_error_msg(err, EINVAL, "security: no pod");
        r = security_id_check("pod", pod->pod_id, err);
        if (r < 0)
                return r;
        p = *pod;
        p.size = (uint32_t) sizeof(p);
        p.restore = pod->restore ? 1 : 0;

        for (i = 0; m && i < m->n_security; i++) {
                struct ocid_module *mod = m->security[i];
                _cleanup_error_ struct ocid_error *e = NULL;
                _cleanup_free_ char *pl = NULL, *ml = NULL;
                int (*pod_create)(void *, const struct ocid_security_pod *, char **, char **,
                                  struct ocid_error **);

                r = module_check_callable(mod, OCID_MODULE_KIND_SECURITY, "pod_create", err);
                if (r < 0)
                        goto fail;
                pod_create = SECURITY_OP(mod, pod_create);
                if (!pod_create)
                        continue;
                r = pod_create(mod->state, &p, &pl, &ml, &e);
                if (r < 0) {
                        r = module_op_failed(mod, "pod_create", r, &e, err);
                        goto fail;
                }
                if (pl) {
                        free(process_label);
                        process_label = TAKE_PTR(pl);
                }
                if (ml) {
                        free(mount_label);
                        mount_label = TAKE_PTR(ml);
                }
        }
        if (ret_process_label)
                *ret_process_label = TAKE_PTR(process_label);
        if (ret_mount_label)
                *ret_mount_label = TAKE_PTR(mount_label);
        return 0;

fail:
        security_pod_rollback(m, i, p.pod_id);
        return r;
}

int security_pod_remove_chain(const struct ocid_modules *m, const char *pod_id, struct ocid_error **err)
{
        int first = 0, r;

        r = security_id_check("pod", pod_id, err);
        if (r < 0)
                return r;
        for (size_t i = m ? m->n_security : 0; i-- > 0;) {
                struct ocid_module *mod = m->security[i];
                _cleanup_error_ struct ocid_error *e = NULL;
                int (*pod_remove)(void *, const char *, struct ocid_error **);

                r = module_check_callable(mod, OCID_MODULE_KIND_SECURITY, "pod_remove", &e);
                if (r >= 0) {
                        pod_remove = SECURITY_OP(mod, pod_remove);
                        if (!pod_remove)
                                continue;
                        r = pod_remove(mod->state, pod_id, &e);
                        if (r < 0) {
                                struct ocid_error *moved = NULL;

                                r = module_op_failed(mod, "pod_remove", r, &e, &moved);
                                e = moved;
                        }
                }
                if (r < 0 && first == 0) {
                        first = r;
                        *err = TAKE_PTR(e);
                }
        }
        return first;
}
