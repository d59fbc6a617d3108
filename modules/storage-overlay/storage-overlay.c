/* SPDX-License-Identifier: Apache-2.0 */
/* storage-overlay: container root filesystems as overlay mounts over
 * content-addressed layers. This minor implements the module's life and its
 * readiness; the storage ops come with later ABI minors. */

#define OCID_LOG_CATEGORY "storage-overlay"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h> /* uname(): the kernel release names its module directory */

#include <ocid/fs.h>
#include <ocid/host.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

struct ovl_state {
        char *dir;      /* <root>/storage-overlay */
};

static void ovl_state_free(struct ovl_state *s)
{
        if (!s)
                return;
        free(s->dir);
        free(s);
}
OCID_DEFINE_CLEANUP_FUNC(struct ovl_state *, ovl_state_free)

/* No settings yet: any key in modules.storage-overlay is an error. */
static const char *const ovl_keys[] = { NULL };

static int ovl_check(const config_setting_t *cfg, struct ocid_error **err)
{
        return ocid_setting_check_keys(cfg, ovl_keys, err);
}

static int ovl_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        _cleanup_(ovl_state_freep) struct ovl_state *s = NULL;
        int r;

        r = ovl_check(cfg, err);
        if (r < 0)
                return r;
        s = xzalloc(sizeof(*s));
        s->dir = ocid_path_join(ocid_host_root(), "storage-overlay");
        r = ocid_mkdir_p(s->dir, 0700, err);
        if (r < 0)
                return r;
        if (chmod(s->dir, 0700) < 0)
                return ocid_error_set(err, errno, "chmod '%s'", s->dir);
        *ret_state = TAKE_PTR(s);
        return 0;
}

static void ovl_fini(void *state)
{
        ovl_state_free(state);
}

/* True when some line of `text` has `word` as its last tab- or
 * space-separated field (the format of /proc/filesystems). */
static bool ovl_lines_end_with(const char *text, const char *word)
{
        size_t n = strlen(word);

        for (const char *line = text; line && *line;) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t) (end - line) : strlen(line);

                if (len >= n && memcmp(line + len - n, word, n) == 0 &&
                    (len == n || line[len - n - 1] == '\t' || line[len - n - 1] == ' '))
                        return true;
                line = end ? end + 1 : NULL;
        }
        return false;
}

/* The kernel mounts overlay when it is registered (/proc/filesystems) or
 * when it can load it on the first mount (built in, or a module listed in
 * the kernel's module directory). Returns 1 or 0 with *ret_why. */
static int ovl_kernel_support(char **ret_why)
{
        static const char *const lists[] = { "modules.builtin", "modules.dep" };
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *fs = NULL;
        struct utsname u;

        if (ocid_read_file("/proc/filesystems", 1 << 20, &fs, NULL, &e) < 0) {
                *ret_why = xasprintf("cannot tell whether the kernel supports overlay: %s",
                                     ocid_error_message(&e));
                return 0;
        }
        if (ovl_lines_end_with(fs, "overlay"))
                return 1;
        if (uname(&u) == 0)
                for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                        _cleanup_free_ char *path = xasprintf("/lib/modules/%s/%s", u.release, lists[i]);
                        _cleanup_free_ char *text = NULL;

                        if (ocid_read_file(path, 64 << 20, &text, NULL, &e) < 0) {
                                ocid_error_clear(&e);
                                continue;
                        }
                        if (strstr(text, "/overlay.ko"))
                                return 1;
                }
        *ret_why = xstrdup("the kernel does not support overlay: it is not in /proc/filesystems "
                           "and no overlay kernel module is available");
        return 0;
}

static int ovl_status(void *state, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        struct ovl_state *s = state;
        char *why = NULL;
        struct stat st;

        if (stat(s->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                *ret_reason = xstrdup("StorageDirMissing");
                *ret_message = xasprintf("storage directory '%s' is missing", s->dir);
                return 0;
        }
        if (!ovl_kernel_support(&why)) {
                *ret_reason = xstrdup("OverlayUnsupported");
                *ret_message = why;
                return 0;
        }
        return 1;
}

static int ovl_info(void *state, char **ret_json, struct ocid_error **err)
{
        struct ovl_state *s = state;
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_free_ char *why = NULL;
        int supported = ovl_kernel_support(&why);

        json_object_object_add(o, "dir", json_object_new_string(s->dir));
        json_object_object_add(o, "kernel_support", json_object_new_boolean(supported));
        *ret_json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

static const struct ocid_storage_ops ovl_ops = {
        .base = {
                .init = ovl_init,
                .fini = ovl_fini,
                .check = ovl_check,
                .status = ovl_status,
                .info = ovl_info,
        },
};

OCID_MODULE_DEFINE(storage_overlay, "storage-overlay", OCID_MODULE_KIND_STORAGE, &ovl_ops);
