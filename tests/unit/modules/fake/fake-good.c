/* SPDX-License-Identifier: Apache-2.0 */
/* A well-formed test module, built once per kind (FAKE_SYM, FAKE_NAME and
 * FAKE_KIND come from the build). Its group `modules.<name>` takes:
 *   trace = "<file>";   init and fini append "init <name>" / "fini <name>"
 *   ready = false;      status reports not ready
 *   quiet = true;       ... without a reason or message (a module bug)
 *   status_fails = true; status fails with an error
 *   fail_init = true;   init fails
 * The security build (FAKE_MINIMAL) has only init and fini, to prove that a
 * NULL op is "not supported". */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

struct fake_state {
        char *trace;
        int ready;
        int quiet;
        int status_fails;
};

static const char *const fake_keys[] = { "trace", "ready", "quiet", "status_fails", "fail_init", NULL };

static void fake_trace(const char *file, const char *what)
{
        FILE *f;

        if (!file)
                return;
        f = fopen(file, "ae");
        if (!f)
                return;
        fprintf(f, "%s %s\n", what, FAKE_NAME);
        (void) fclose(f);
}

static int fake_parse(const config_setting_t *cfg, struct fake_state *s, int *ret_fail,
                      struct ocid_error **err)
{
        int r;

        if (!cfg)
                return 0;
        r = ocid_setting_check_keys(cfg, fake_keys, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_string(cfg, "trace", &s->trace, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_bool(cfg, "ready", &s->ready, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_bool(cfg, "quiet", &s->quiet, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_bool(cfg, "status_fails", &s->status_fails, err);
        if (r < 0)
                return r;
        return ocid_setting_get_bool(cfg, "fail_init", ret_fail, err);
}

static void fake_fini(void *state)
{
        struct fake_state *s = state;

        fake_trace(s->trace, "fini");
        free(s->trace);
        free(s);
}

static int fake_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        struct fake_state *s = xzalloc(sizeof(*s));
        int fail = 0, r;

        s->ready = 1;
        r = fake_parse(cfg, s, &fail, err);
        if (r >= 0 && fail)
                r = ocid_error_msg(err, EIO, "failure requested by fail_init");
        if (r < 0) {
                free(s->trace);
                free(s);
                return r;
        }
        fake_trace(s->trace, "init");
        *ret_state = s;
        return 0;
}

#ifndef FAKE_MINIMAL
static int fake_check(const config_setting_t *cfg, struct ocid_error **err)
{
        struct fake_state s = { .ready = 1 };
        int fail = 0, r;

        r = fake_parse(cfg, &s, &fail, err);
        free(s.trace);
        return r;
}

static int fake_status(void *state, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        struct fake_state *s = state;

        if (s->status_fails)
                return ocid_error_msg(err, EHOSTDOWN, "the fake backend is down");
        if (s->ready)
                return 1;
        if (s->quiet)
                return 0;
        *ret_reason = xstrdup("FakeNotReady");
        *ret_message = xstrdup(FAKE_NAME " is configured not ready");
        return 0;
}

static int fake_info(void *state, char **ret_json, struct ocid_error **err)
{
        struct fake_state *s = state;

        *ret_json = xasprintf("{\"name\":\"%s\",\"ready\":%s}", FAKE_NAME, s->ready ? "true" : "false");
        return 0;
}
#  define FAKE_BASE_OPS { fake_init, fake_fini, fake_check, fake_status, fake_info }
#else
#  define FAKE_BASE_OPS { fake_init, fake_fini, NULL, NULL, NULL }
#endif

#if FAKE_KIND == OCID_MODULE_KIND_RUNTIME
/* Ready when the handler's binary is executable. */
static int fake_handler_status(void *state, const struct ocid_runtime_handler *h,
                               char **ret_reason, char **ret_message, struct ocid_error **err)
{
        if (!h->path)
                return ocid_error_msg(err, EINVAL, "handler '%s' has no path", h->name);
        if (access(h->path, X_OK) == 0)
                return 1;
        *ret_reason = xstrdup("FakeBinaryMissing");
        *ret_message = xasprintf("handler '%s': '%s' is not executable", h->name, h->path);
        return 0;
}

static const struct ocid_runtime_ops fake_ops = {
        .base = FAKE_BASE_OPS,
        .handler_status = fake_handler_status,
};
#elif FAKE_KIND == OCID_MODULE_KIND_STORAGE
static const struct ocid_storage_ops fake_ops = { .base = FAKE_BASE_OPS };
#elif FAKE_KIND == OCID_MODULE_KIND_NETWORK
static const struct ocid_network_ops fake_ops = { .base = FAKE_BASE_OPS };
#else
static const struct ocid_security_ops fake_ops = { .base = FAKE_BASE_OPS };
#endif

/* One more expansion, so that FAKE_SYM is replaced before it is pasted. */
#define FAKE_DEFINE(...) OCID_MODULE_DEFINE(__VA_ARGS__)
FAKE_DEFINE(FAKE_SYM, FAKE_NAME, FAKE_KIND, &fake_ops);
