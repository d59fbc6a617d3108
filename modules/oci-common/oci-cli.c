/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by oci-runc and oci-crun: the module's life, each handler's
 * readiness, and running a runc-compatible command line. */

#define OCID_LOG_CATEGORY "oci"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ocid/exec.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

#include "oci-cli.h"

#define OCI_MAX_BINARIES 64
/* Output of a runtime command kept (state prints a few hundred bytes). */
#define OCI_MAX_COMMAND_OUTPUT (1024 * 1024)
/* The longest runtime message passed on in an error. */
#define OCI_MAX_MESSAGE 4096

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

static const char *const oci_keys[] = { "command_timeout", NULL };

static void oci_binary_done(struct oci_binary *b)
{
        free(b->path);
        free(b->version);
        free(b->error);
        memset(b, 0, sizeof(*b));
}

/* Reads modules.<name> into *ret_timeout_s (which holds the default). */
static int oci_parse(const config_setting_t *cfg, int64_t *ret_timeout_s, struct ocid_error **err)
{
        int r;

        r = ocid_setting_check_keys(cfg, oci_keys, err);
        if (r < 0)
                return r;
        r = ocid_setting_get_int64(cfg, "command_timeout", ret_timeout_s, err);
        if (r < 0)
                return r;
        if (*ret_timeout_s < 1 || *ret_timeout_s > 3600)
                return ocid_setting_error(config_setting_get_member(cfg, "command_timeout"), err,
                                          "%lld is out of range (1 to 3600 seconds)",
                                          (long long) *ret_timeout_s);
        return 0;
}

int oci_check(const config_setting_t *cfg, struct ocid_error **err)
{
        int64_t timeout_s = OCI_DEFAULT_COMMAND_TIMEOUT_S;

        return oci_parse(cfg, &timeout_s, err);
}

int oci_init(const struct oci_flavour *flavour, const config_setting_t *cfg, void **ret_state,
             struct ocid_error **err)
{
        int64_t timeout_s = OCI_DEFAULT_COMMAND_TIMEOUT_S;
        struct oci_state *s;
        int r;

        r = oci_parse(cfg, &timeout_s, err);
        if (r < 0)
                return r;
        s = xzalloc(sizeof(*s));
        s->flavour = flavour;
        s->command_timeout_ms = timeout_s * 1000;
        pthread_mutex_init(&s->lock, NULL);
        ocid_log(OCID_LOG_DEBUG, "%s: command timeout %lld s", flavour->module, (long long) timeout_s);
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
        json_object_object_add(o, "command_timeout", json_object_new_int64(s->command_timeout_ms / 1000));
        json_object_object_add(o, "binaries", a);
        *ret_json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

/* The runtime's command line. */

const char *oci_root(const struct oci_state *s, const struct ocid_runtime_handler *h)
{
        return h->root && *h->root ? h->root : s->flavour->default_root;
}

int oci_check_args(const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
                   const char *need, struct ocid_error **err)
{
        static const struct {
                char letter;
                const char *name;
                size_t offset;
        } members[] = {
                { 'b', "bundle", offsetof(struct ocid_runtime_container, bundle) },
                { 'p', "persist_dir", offsetof(struct ocid_runtime_container, persist_dir) },
                { 'l', "log_path", offsetof(struct ocid_runtime_container, log_path) },
                { 'e', "exit_dir", offsetof(struct ocid_runtime_container, exit_dir) },
        };

        if (!h || h->size < sizeof(struct ocid_runtime_handler))
                return ocid_error_msg(err, EINVAL, "runtime handler description too small");
        if (!h->path || h->path[0] != '/')
                return ocid_error_msg(err, EINVAL, "runtime handler '%s' has no absolute binary path",
                                      h->name ? h->name : "");
        if (!c || c->size < offsetof(struct ocid_runtime_container, systemd_cgroup) + sizeof(int32_t))
                return ocid_error_msg(err, EINVAL, "container description too small");
        if (!c->id || !*c->id || strchr(c->id, '/') || c->id[0] == '-' || c->id[0] == '.')
                return ocid_error_msg(err, EINVAL, "invalid container ID '%s'", c->id ? c->id : "");
        for (const char *n = need; *n; n++) {
                if (*n == 'm') {
                        if (!h->monitor || h->monitor[0] != '/')
                                return ocid_error_msg(err, EINVAL,
                                                      "runtime handler '%s' has no absolute monitor path",
                                                      h->name ? h->name : "");
                        continue;
                }
                for (size_t i = 0; i < ELEMENTSOF(members); i++) {
                        const char *v;

                        if (members[i].letter != *n)
                                continue;
                        v = *(const char *const *) ((const char *) c + members[i].offset);
                        if (!v || v[0] != '/')
                                return ocid_error_msg(err, EINVAL, "container '%s': %s is not an absolute path",
                                                      c->id, members[i].name);
                }
        }
        return 0;
}

/* Go's quoting, as logrus writes msg="...": the text up to the closing
 * quote with its escapes undone. */
static char *oci_unquote(const char *p)
{
        char *out = xmalloc(strlen(p) + 1), *o = out;

        for (; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1]) {
                        p++;
                        *o++ = *p == 'n' || *p == 't' ? ' ' : *p;
                } else
                        *o++ = *p;
        }
        *o = '\0';
        return out;
}

/* One line of runtime output: its message and whether it is an error (a
 * line without a level counts as one). */
static char *oci_line_message(const char *line, bool *ret_error)
{
        const char *m, *lvl;
        char *level = NULL, *msg = NULL;

        if (line[0] == '{') {
                _cleanup_json_ struct json_object *o = json_tokener_parse(line);

                if (o && json_object_is_type(o, json_type_object) && ocid_json_get_string(o, "msg")) {
                        level = xstrdup(ocid_json_get_string(o, "level"));
                        msg = xstrdup(ocid_json_get_string(o, "msg"));
                }
        } else if ((m = strstr(line, "msg=")) && (m == line || m[-1] == ' ')) {
                m += 4;
                msg = *m == '"' ? oci_unquote(m + 1) : xstrndup(m, strcspn(m, " "));
                lvl = strstr(line, "level=");
                if (lvl && (lvl == line || lvl[-1] == ' '))
                        level = xstrndup(lvl + 6, strcspn(lvl + 6, " "));
        }
        if (!msg)
                msg = xstrdup(line);
        *ret_error = !level || streq(level, "error") || streq(level, "fatal") || streq(level, "panic");
        free(level);
        return msg;
}

char *oci_runtime_message(const char *text)
{
        _cleanup_free_ char *errors = NULL, *all = NULL;

        if (!text)
                return NULL;
        for (const char *line = text; *line;) {
                size_t len = strcspn(line, "\n");
                _cleanup_free_ char *copy = NULL, *msg = NULL;
                char *start, *end, **dst;
                bool error;

                copy = xstrndup(line, len);
                line += len;
                if (*line)
                        line++;
                start = copy;
                while (*start == ' ' || *start == '\t' || *start == '\r')
                        start++;
                end = start + strlen(start);
                while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                        *--end = '\0';
                if (!*start)
                        continue;
                msg = oci_line_message(start, &error);
                for (dst = error ? &errors : &all;; dst = &all) {
                        char *joined = *dst ? xasprintf("%s; %s", *dst, msg) : xstrdup(msg);

                        free(*dst);
                        *dst = joined;
                        if (dst == &all)
                                break;
                }
        }
        if (errors) {
                free(all);
                all = TAKE_PTR(errors);
        }
        if (all && strlen(all) > OCI_MAX_MESSAGE)
                strcpy(all + OCI_MAX_MESSAGE - 3, "...");
        /* One line: no control characters in an error message. */
        for (char *p = all; p && *p; p++)
                if ((unsigned char) *p < ' ')
                        *p = ' ';
        return TAKE_PTR(all);
}

int oci_run(struct oci_state *s, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
            const char *const *args, char **ret_out, char **ret_failure, struct ocid_error **err)
{
        _cleanup_free_ const char **argv = NULL;
        _cleanup_free_ char *root = xasprintf("--root=%s", oci_root(s, h)), *msg = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_cmd_result res = { 0 };
        struct ocid_cmd cmd = {
                .timeout_ms = s->command_timeout_ms,
                .max_output = OCI_MAX_COMMAND_OUTPUT,
        };
        size_t n = 0, n_args = 0;
        int r;

        while (args[n_args])
                n_args++;
        argv = xcalloc(n_args + 4, sizeof(*argv));
        argv[n++] = h->path;
        argv[n++] = root;
        if (c && c->systemd_cgroup)
                argv[n++] = "--systemd-cgroup";
        for (size_t i = 0; i < n_args; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        cmd.argv = argv;

        r = ocid_cmd_run(&cmd, &res, &e);
        if (r < 0) {
                *err = TAKE_PTR(e);
                return r;
        }
        if (res.timed_out) {
                r = ocid_error_msg(err, ETIMEDOUT, "'%s %s' timed out after %lld s", h->path, args[0],
                                   (long long) (s->command_timeout_ms / 1000));
                ocid_cmd_result_done(&res);
                return r;
        }
        if (res.term_signal == 0 && res.exit_code == 0) {
                if (ret_out)
                        *ret_out = TAKE_PTR(res.out);
                ocid_cmd_result_done(&res);
                return 0;
        }
        msg = oci_runtime_message(res.err);
        if (!msg)
                msg = oci_runtime_message(res.out);
        if (res.term_signal)
                *ret_failure = xasprintf("'%s %s' was killed by signal %d%s%s", h->path, args[0],
                                         res.term_signal, msg ? ": " : "", msg ? msg : "");
        else
                *ret_failure = xasprintf("'%s %s' exited with status %d%s%s", h->path, args[0], res.exit_code,
                                         msg ? ": " : "", msg ? msg : "");
        ocid_cmd_result_done(&res);
        return 1;
}

int oci_runtime_knows(struct oci_state *s, const struct ocid_runtime_handler *h, const char *id)
{
        _cleanup_free_ char *dir = ocid_path_join(oci_root(s, h), id);
        struct stat st;

        if (stat(dir, &st) < 0)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        return S_ISDIR(st.st_mode) ? 1 : 0;
}

int oci_parse_time(const char *s, int64_t *ret_ns)
{
        struct tm tm = { 0 };
        int year, mon, day, hour, min, sec, n = 0;
        int64_t frac = 0, offset = 0;
        time_t t;

        if (!s || sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &year, &mon, &day, &hour, &min, &sec, &n) != 6 ||
            n == 0)
                return -EINVAL;
        s += n;
        if (*s == '.') {
                int digits = 0;

                for (s++; *s >= '0' && *s <= '9'; s++, digits++)
                        if (digits < 9)
                                frac = frac * 10 + (*s - '0');
                if (digits == 0)
                        return -EINVAL;
                for (; digits < 9; digits++)
                        frac *= 10;
        }
        if (*s == 'Z' || *s == 'z')
                s++;
        else if (*s == '+' || *s == '-') {
                int oh, om, m = 0;

                if (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || m != 5)
                        return -EINVAL;
                offset = (int64_t) (oh * 3600 + om * 60) * (*s == '-' ? -1 : 1);
                s += 6;
        } else
                return -EINVAL;
        if (*s)
                return -EINVAL;
        tm.tm_year = year - 1900;
        tm.tm_mon = mon - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;
        t = timegm(&tm);
        if (t == (time_t) -1 && !(year == 1969 && mon == 12 && day == 31))
                return -EINVAL;
        *ret_ns = ((int64_t) t - offset) * 1000000000 + frac;
        return 0;
}

int oci_runtime_state(struct oci_state *s, const struct ocid_runtime_handler *h,
                      const struct ocid_runtime_container *c, struct ocid_runtime_state *ret,
                      struct ocid_error **err)
{
        const char *args[] = { "state", c->id, NULL };
        _cleanup_free_ char *out = NULL, *failure = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        const char *status, *created;
        int64_t created_ns = 0;
        int r;

        r = oci_run(s, h, c, args, &out, &failure, err);
        if (r < 0)
                return r;
        if (r > 0) {
                r = oci_runtime_knows(s, h, c->id);
                if (r == 0)
                        return ocid_error_msg(err, ENOENT, "container '%s' does not exist", c->id);
                return ocid_error_msg(err, EIO, "state of container '%s': %s", c->id, failure);
        }
        o = json_tokener_parse(out);
        if (!o || !json_object_is_type(o, json_type_object))
                return ocid_error_msg(err, EPROTO, "state of container '%s': '%s state' printed no JSON object",
                                      c->id, h->path);
        status = ocid_json_get_string(o, "status");
        if (!status || strlen(status) >= sizeof(ret->status))
                return ocid_error_msg(err, EPROTO, "state of container '%s': no valid status", c->id);
        if (OCID_RUNTIME_HAS(ret, struct ocid_runtime_state, status)) {
                memset(ret->status, 0, sizeof(ret->status));
                memcpy(ret->status, status, strlen(status));
        }
        if (OCID_RUNTIME_HAS(ret, struct ocid_runtime_state, pid)) {
                int64_t pid = ocid_json_get_int64(o, "pid", 0);

                ret->pid = pid > 0 && pid <= INT32_MAX && !streq(status, "stopped") ? (int32_t) pid : 0;
        }
        created = ocid_json_get_string(o, "created");
        if (created && oci_parse_time(created, &created_ns) < 0)
                created_ns = 0;
        if (OCID_RUNTIME_HAS(ret, struct ocid_runtime_state, created_ns))
                ret->created_ns = created_ns;
        return 0;
}

int oci_failed(struct oci_state *s, const struct ocid_runtime_handler *h, const struct ocid_runtime_container *c,
               const char *what, const char *failure, int flags, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_runtime_state st = { .size = sizeof(st) };
        int r;

        r = oci_runtime_state(s, h, c, &st, &e);
        if (r == -ENOENT)
                return ocid_error_msg(err, ENOENT, "container '%s' does not exist", c->id);
        if (r >= 0 && (flags & OCI_STOPPED_ESRCH) && streq(st.status, "stopped"))
                return ocid_error_msg(err, ESRCH, "container '%s' is not running", c->id);
        if (r >= 0 && (flags & OCI_BUSY_UNLESS_STOPPED) && !streq(st.status, "stopped"))
                return ocid_error_msg(err, EBUSY, "container '%s' is %s", c->id, st.status);
        return ocid_error_msg(err, EIO, "%s container '%s': %s", what, c->id, failure);
}
