/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by oci-runc and oci-crun: the parts of driving a runc-compatible
 * OCI runtime command line that do not depend on which one it is. */

#define OCID_LOG_CATEGORY "oci"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/exec.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

#include "oci-cli.h"

#define OCI_MAX_BINARIES 64

/* A runtime binary as handler_status last saw it. */
struct oci_binary {
        char *path;
        dev_t dev;
        ino_t ino;
        struct timespec mtime;
        off_t size;
        char *version;          /* first line of --version, when it succeeded */
        char *error;            /* why not, when it failed */
};

struct oci_state {
        pthread_mutex_t lock;   /* handler_status runs on worker threads */
        struct oci_binary *binaries;
        size_t n_binaries;
};

static const char *const oci_keys[] = { NULL };

static void oci_binary_done(struct oci_binary *b)
{
        free(b->path);
        free(b->version);
        free(b->error);
        memset(b, 0, sizeof(*b));
}

int oci_check(const config_setting_t *cfg, struct ocid_error **err)
{
        return ocid_setting_check_keys(cfg, oci_keys, err);
}

int oci_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        struct oci_state *s;
        int r;

        r = oci_check(cfg, err);
        if (r < 0)
                return r;
        s = xzalloc(sizeof(*s));
        pthread_mutex_init(&s->lock, NULL);
        *ret_state = s;
        return 0;
}

void oci_fini(void *state)
{
        struct oci_state *s = state;

        if (!s)
                return;
        for (size_t i = 0; i < s->n_binaries; i++)
                oci_binary_done(&s->binaries[i]);
        free(s->binaries);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

static bool oci_binary_same(const struct oci_binary *b, const struct stat *st)
{
        return b->dev == st->st_dev && b->ino == st->st_ino && b->size == st->st_size &&
               b->mtime.tv_sec == st->st_mtim.tv_sec && b->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* The first non-empty line of text, trimmed, or NULL. */
static char *oci_first_line(const char *text)
{
        if (!text)
                return NULL;
        for (const char *line = text; *line;) {
                size_t len = strcspn(line, "\n");
                const char *start = line;

                while (len > 0 && (*start == ' ' || *start == '\t'))
                        start++, len--;
                while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t' || start[len - 1] == '\r'))
                        len--;
                if (len > 0)
                        return xstrndup(start, len);
                line += strcspn(line, "\n");
                if (*line)
                        line++;
        }
        return NULL;
}

/* Runs `<path> --version`: 0 with *ret_version, or -1 with *ret_error. */
static int oci_run_version(const char *path, char **ret_version, char **ret_error)
{
        const char *argv[] = { path, "--version", NULL };
        struct ocid_cmd cmd = {
                .argv = argv,
                .timeout_ms = OCI_VERSION_TIMEOUT_MS,
                .max_output = 64 * 1024,
        };
        struct ocid_cmd_result res = { 0 };
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *detail = NULL;

        if (ocid_cmd_run(&cmd, &res, &e) < 0) {
                *ret_error = xasprintf("'%s --version' could not run: %s", path, ocid_error_message(&e));
                return -1;
        }
        if (res.timed_out)
                *ret_error = xasprintf("'%s --version' timed out after %d s", path,
                                       OCI_VERSION_TIMEOUT_MS / 1000);
        else if (res.term_signal)
                *ret_error = xasprintf("'%s --version' was killed by signal %d", path, res.term_signal);
        else if (res.exit_code != 0) {
                detail = oci_first_line(res.err);
                if (!detail)
                        detail = oci_first_line(res.out);
                *ret_error = xasprintf("'%s --version' exited with status %d%s%s", path, res.exit_code,
                                       detail ? ": " : "", detail ? detail : "");
        } else {
                *ret_version = oci_first_line(res.out);
                if (!*ret_version)
                        *ret_version = xstrdup("unknown");
        }
        ocid_cmd_result_done(&res);
        return *ret_error ? -1 : 0;
}

/* Remembers what --version said about the binary behind st. */
static void oci_remember(struct oci_state *s, const char *path, const struct stat *st,
                         const char *version, const char *error)
{
        struct oci_binary *b = NULL;

        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_binaries; i++)
                if (streq(s->binaries[i].path, path))
                        b = &s->binaries[i];
        if (!b) {
                if (s->n_binaries == OCI_MAX_BINARIES) {
                        /* Many paths come and go: forget the oldest. */
                        oci_binary_done(&s->binaries[0]);
                        memmove(&s->binaries[0], &s->binaries[1],
                                (s->n_binaries - 1) * sizeof(*s->binaries));
                        s->n_binaries--;
                }
                s->binaries = xreallocarray(s->binaries, s->n_binaries + 1, sizeof(*s->binaries));
                b = &s->binaries[s->n_binaries++];
                memset(b, 0, sizeof(*b));
        }
        oci_binary_done(b);
        b->path = xstrdup(path);
        b->dev = st->st_dev;
        b->ino = st->st_ino;
        b->size = st->st_size;
        b->mtime = st->st_mtim;
        b->version = xstrdup(version);
        b->error = xstrdup(error);
        pthread_mutex_unlock(&s->lock);
}

/* True when the same, unchanged binary answered --version before. */
static bool oci_known_good(struct oci_state *s, const char *path, const struct stat *st)
{
        bool good = false;

        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_binaries; i++)
                if (streq(s->binaries[i].path, path)) {
                        good = s->binaries[i].version && oci_binary_same(&s->binaries[i], st);
                        break;
                }
        pthread_mutex_unlock(&s->lock);
        return good;
}

static int oci_unavailable(char **ret_reason, char **ret_message, char *message)
{
        *ret_reason = xstrdup(OCI_REASON_UNAVAILABLE);
        *ret_message = message;
        return 0;
}

int oci_handler_status(void *state, const struct ocid_runtime_handler *h,
                       char **ret_reason, char **ret_message, struct ocid_error **err)
{
        struct oci_state *s = state;
        _cleanup_free_ char *version = NULL, *error = NULL;
        struct stat st;

        if (!h || h->size < sizeof(struct ocid_runtime_handler))
                return ocid_error_msg(err, EINVAL, "runtime handler description too small");
        if (!h->path || !*h->path)
                return oci_unavailable(ret_reason, ret_message,
                                       xasprintf("runtime handler '%s' has no binary path",
                                                 h->name ? h->name : ""));
        if (stat(h->path, &st) < 0)
                return oci_unavailable(ret_reason, ret_message,
                                       xasprintf("runtime binary '%s': %s", h->path, strerror(errno)));
        if (!S_ISREG(st.st_mode))
                return oci_unavailable(ret_reason, ret_message,
                                       xasprintf("runtime binary '%s' is not a regular file", h->path));
        if (access(h->path, X_OK) < 0)
                return oci_unavailable(ret_reason, ret_message,
                                       xasprintf("runtime binary '%s' is not executable: %s", h->path,
                                                 strerror(errno)));
        if (oci_known_good(s, h->path, &st))
                return 1;

        (void) oci_run_version(h->path, &version, &error);
        oci_remember(s, h->path, &st, version, error);
        if (error)
                return oci_unavailable(ret_reason, ret_message, xasprintf("runtime binary %s", error));
        return 1;
}

int oci_status(void *state, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        return 1;
}

int oci_info(void *state, char **ret_json, struct ocid_error **err)
{
        struct oci_state *s = state;
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *a = json_object_new_array();

        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_binaries; i++) {
                struct json_object *b = json_object_new_object();

                json_object_object_add(b, "path", json_object_new_string(s->binaries[i].path));
                if (s->binaries[i].version)
                        json_object_object_add(b, "version", json_object_new_string(s->binaries[i].version));
                if (s->binaries[i].error)
                        json_object_object_add(b, "error", json_object_new_string(s->binaries[i].error));
                json_object_array_add(a, b);
        }
        pthread_mutex_unlock(&s->lock);
        json_object_object_add(o, "binaries", a);
        *ret_json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}
