/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "spec/sysctl.h"

static bool key_char_ok(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* The namespace of a normalised key, or 0 when it is not namespaced. The
 * list is the one Kubernetes calls safe to set per pod. */
static int key_namespace(const char *key)
{
        static const char *const ipc_exact[] = { "kernel.sem" };
        static const char *const ipc_prefix[] = { "kernel.shm", "kernel.msg", "fs.mqueue." };

        if (ocid_startswith(key, "net."))
                return SYSCTL_NS_NET;
        for (size_t i = 0; i < ELEMENTSOF(ipc_exact); i++)
                if (streq(key, ipc_exact[i]))
                        return SYSCTL_NS_IPC;
        for (size_t i = 0; i < ELEMENTSOF(ipc_prefix); i++)
                if (ocid_startswith(key, ipc_prefix[i]))
                        return SYSCTL_NS_IPC;
        return 0;
}

int sysctl_normalize(const char *key, char **ret, struct ocid_error **err)
{
        _cleanup_free_ char *k = NULL;
        const char *dot, *slash, *comp;
        size_t len;
        int ns;

        if (!key || !*key)
                return ocid_error_msg(err, EINVAL, "empty sysctl name");
        len = strlen(key);
        if (len > SYSCTL_MAX_KEY)
                return ocid_error_msg(err, EINVAL, "sysctl name is longer than %d bytes", SYSCTL_MAX_KEY);
        for (size_t i = 0; i < len; i++)
                if (!key_char_ok(key[i]) && key[i] != '.' && key[i] != '/')
                        return ocid_error_msg(err, EINVAL, "sysctl '%s': invalid character 0x%02x in the name", key,
                                              (unsigned char) key[i]);

        k = xstrdup(key);
        dot = strchr(key, '.');
        slash = strchr(key, '/');
        if (slash && (!dot || slash < dot))
                for (char *p = k; *p; p++)
                        *p = *p == '/' ? '.' : *p == '.' ? '/' : *p;

        /* Components as the kernel sees them under /proc/sys: '.' separates,
         * '/' stands for a literal '.' inside a component. */
        comp = k;
        for (;;) {
                const char *end = strchrnul(comp, '.');
                size_t n = (size_t) (end - comp);
                bool only_dots = true;

                if (n == 0)
                        return ocid_error_msg(err, EINVAL, "sysctl '%s': empty name component", key);
                for (size_t i = 0; i < n; i++)
                        if (comp[i] != '/')
                                only_dots = false;
                if (only_dots && n <= 2)
                        return ocid_error_msg(err, EINVAL, "sysctl '%s': '.' or '..' as a name component", key);
                if (!*end)
                        break;
                comp = end + 1;
        }

        ns = key_namespace(k);
        if (ns == 0)
                return ocid_error_msg(err, EINVAL, "sysctl '%s' is not namespaced: only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* may be set for a pod",
                                      key);
        *ret = TAKE_PTR(k);
        return ns;
}

int sysctl_value_check(const char *value, struct ocid_error **err)
{
        size_t len;

        if (!value || !*value)
                return ocid_error_msg(err, EINVAL, "empty value");
        len = strlen(value);
        if (len > SYSCTL_MAX_VALUE)
                return ocid_error_msg(err, EINVAL, "value is longer than %d bytes", SYSCTL_MAX_VALUE);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) value[i];
                if (c < 0x20 || c == 0x7f)
                        return ocid_error_msg(err, EINVAL, "value contains the control character 0x%02x", c);
                if (c == '=')
                        return ocid_error_msg(err, EINVAL, "value contains '='");
        }
        return 0;
}

int sysctl_add(struct json_object *out, const char *key, const char *value, bool host_network, bool host_ipc,
               struct ocid_error **err)
{
        _cleanup_free_ char *k = NULL;
        int ns, r;

        ns = sysctl_normalize(key, &k, err);
        if (ns < 0)
                return ocid_error_prefix(err, "pod config: linux.sysctls");
        if (ns == SYSCTL_NS_NET && host_network)
                return ocid_error_msg(err, EINVAL, "pod config: linux.sysctls: sysctl '%s' is not allowed with the host network namespace", key);
        if (ns == SYSCTL_NS_IPC && host_ipc)
                return ocid_error_msg(err, EINVAL, "pod config: linux.sysctls: sysctl '%s' is not allowed with the host IPC namespace", key);
        r = sysctl_value_check(value, err);
        if (r < 0)
                return ocid_error_prefix(err, "pod config: linux.sysctls: sysctl '%s'", key);
        if (json_object_object_get_ex(out, k, NULL))
                return ocid_error_msg(err, EINVAL, "pod config: linux.sysctls: sysctl '%s' is given twice", k);
        json_object_object_add(out, k, json_object_new_string(value));
        return 0;
}
