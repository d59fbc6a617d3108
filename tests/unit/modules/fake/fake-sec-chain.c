/* SPDX-License-Identifier: Apache-2.0 */
/* A test security module with every security op, built twice (FAKE_SYM and
 * FAKE_NAME come from the build: fake-sec-a, fake-sec-b) to prove the
 * chain's order, refusals and rollback. Its group `modules.<name>` takes:
 *   trace = "<file>";        each op appends one line naming itself and the module
 *   label = "<text>";        apply sets mount_label to it; pod_create returns
 *                            "<text>_process" and "<text>_mount"
 *   refuse = true;           apply refuses the container (EACCES)
 *   fail_pod_create = true;  pod_create fails (EIO)
 *   fail_pod_remove = true;  pod_remove fails (EIO)
 * apply appends the module's name to the spec's annotation "chain". */

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

struct chain_state {
        char *trace;
        char *label;
        int refuse, fail_pod_create, fail_pod_remove;
};

static const char *const chain_keys[] = { "trace", "label", "refuse", "fail_pod_create", "fail_pod_remove", NULL };

static void chain_trace(const struct chain_state *s, const char *what, const char *detail)
{
        FILE *f;

        if (!s->trace)
                return;
        f = fopen(s->trace, "ae");
        if (!f)
                return;
        fprintf(f, "%s %s %s\n", what, FAKE_NAME, detail ? detail : "-");
        (void) fclose(f);
}

static void chain_fini(void *state)
{
        struct chain_state *s = state;

        free(s->trace);
        free(s->label);
        free(s);
}

static int chain_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        struct chain_state *s = xzalloc(sizeof(*s));
        int r = 0;

        if (cfg && ((r = ocid_setting_check_keys(cfg, chain_keys, err)) < 0 ||
                    (r = ocid_setting_get_string(cfg, "trace", &s->trace, err)) < 0 ||
                    (r = ocid_setting_get_string(cfg, "label", &s->label, err)) < 0 ||
                    (r = ocid_setting_get_bool(cfg, "refuse", &s->refuse, err)) < 0 ||
                    (r = ocid_setting_get_bool(cfg, "fail_pod_create", &s->fail_pod_create, err)) < 0 ||
                    (r = ocid_setting_get_bool(cfg, "fail_pod_remove", &s->fail_pod_remove, err)) < 0)) {
                chain_fini(s);
                return r;
        }
        *ret_state = s;
        return 0;
}

static int chain_apply(void *state, struct ocid_security_request *req, struct json_object *spec,
                       struct ocid_error **err)
{
        struct chain_state *s = state;
        struct json_object *ann = NULL, *chain = NULL;
        _cleanup_free_ char *detail = xasprintf("%s size=%u privileged=%d seccomp=%u apparmor=%u relabel=%s",
                                                req->mount_label ? req->mount_label : "(none)",
                                                (unsigned) req->size, (int) req->privileged,
                                                (unsigned) req->seccomp.type, (unsigned) req->apparmor.type,
                                                req->relabel[0] ? req->relabel[0] : "(none)");

        chain_trace(s, "apply", detail);
        if (s->refuse)
                return ocid_error_msg(err, EACCES, "refused by %s", FAKE_NAME);
        if (!json_object_object_get_ex(spec, "annotations", &ann)) {
                ann = json_object_new_object();
                json_object_object_add(spec, "annotations", ann);
        }
        if (json_object_object_get_ex(ann, "chain", &chain)) {
                _cleanup_free_ char *v = xasprintf("%s,%s", json_object_get_string(chain), FAKE_NAME);

                json_object_object_add(ann, "chain", json_object_new_string(v));
        } else
                json_object_object_add(ann, "chain", json_object_new_string(FAKE_NAME));
        if (s->label) {
                struct ocid_security_request *rw = (struct ocid_security_request *) req;

                free(rw->mount_label);
                rw->mount_label = xstrdup(s->label);
        }
        return 0;
}

static int chain_pod_create(void *state, const struct ocid_security_pod *pod, char **ret_process_label,
                            char **ret_mount_label, struct ocid_error **err)
{
        struct chain_state *s = state;
        _cleanup_free_ char *detail = xasprintf("restore=%d level=%s", (int) pod->restore,
                                                pod->selinux_level ? pod->selinux_level : "(none)");

        chain_trace(s, "pod_create", detail);
        if (s->fail_pod_create)
                return ocid_error_msg(err, EIO, "pod_create failure requested");
        if (s->label) {
                *ret_process_label = xasprintf("%s_process", s->label);
                *ret_mount_label = xasprintf("%s_mount", s->label);
        }
        return 0;
}

static int chain_pod_remove(void *state, const char *pod_id, struct ocid_error **err)
{
        struct chain_state *s = state;

        chain_trace(s, "pod_remove", NULL);
        if (s->fail_pod_remove)
                return ocid_error_msg(err, EIO, "pod_remove failure requested");
        return 0;
}

static const struct ocid_security_ops chain_ops = {
        .base = { chain_init, chain_fini, NULL, NULL, NULL },
        .apply = chain_apply,
        .pod_create = chain_pod_create,
        .pod_remove = chain_pod_remove,
};

#define FAKE_DEFINE(...) OCID_MODULE_DEFINE(__VA_ARGS__)
FAKE_DEFINE(FAKE_SYM, FAKE_NAME, OCID_MODULE_KIND_SECURITY, &chain_ops);
