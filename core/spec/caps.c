/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <linux/capability.h> /* struct __user_cap_header_struct, _LINUX_CAPABILITY_VERSION_3 */
#include <strings.h>          /* strcasecmp */
#include <sys/syscall.h>      /* SYS_capget */
#include <unistd.h>

#include <json-c/json.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "spec/caps.h"

static const char *const cap_names[CAPS_COUNT] = {
        "CAP_CHOWN",           "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
        "CAP_FSETID",          "CAP_KILL",         "CAP_SETGID",          "CAP_SETUID",
        "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",       "CAP_NET_RAW",      "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",    "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",    "CAP_SYS_BOOT",        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",     "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
        "CAP_LEASE",           "CAP_AUDIT_WRITE",  "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",    "CAP_SYSLOG",          "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",   "CAP_PERFMON",         "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
};

const char *caps_name(unsigned cap)
{
        return cap < CAPS_COUNT ? cap_names[cap] : NULL;
}

int caps_parse(const char *name, unsigned *ret)
{
        const char *bare;

        if (!name || !*name)
                return -EINVAL;
        bare = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;
        if (!*bare)
                return -EINVAL;
        for (unsigned i = 0; i < CAPS_COUNT; i++)
                if (strcasecmp(cap_names[i] + 4, bare) == 0) {
                        *ret = i;
                        return 0;
                }
        return -EINVAL;
}

uint64_t caps_default(void)
{
        /* CRI-O's default set: no NET_RAW, MKNOD, SYS_CHROOT or AUDIT_WRITE. */
        return CAPS_BIT(0) /* CHOWN */ | CAPS_BIT(1) /* DAC_OVERRIDE */ | CAPS_BIT(3) /* FOWNER */ |
               CAPS_BIT(4) /* FSETID */ | CAPS_BIT(5) /* KILL */ | CAPS_BIT(6) /* SETGID */ |
               CAPS_BIT(7) /* SETUID */ | CAPS_BIT(8) /* SETPCAP */ | CAPS_BIT(10) /* NET_BIND_SERVICE */;
}

static bool is_all(const char *name)
{
        return name && strcasecmp(name, "ALL") == 0;
}

/* Parses one list entry; "ALL" is only allowed where allow_all says. */
static int parse_entry(const char *list, const char *name, bool allow_all, uint64_t held, bool need_held,
                       unsigned *ret, struct ocid_error **err)
{
        if (!name || !*name)
                return ocid_error_msg(err, EINVAL, "%s: empty capability name", list);
        if (is_all(name)) {
                if (!allow_all)
                        return ocid_error_msg(err, EINVAL, "%s: 'ALL' is not allowed here", list);
                *ret = CAPS_COUNT; /* marker */
                return 0;
        }
        if (caps_parse(name, ret) < 0)
                return ocid_error_msg(err, EINVAL, "%s: unknown capability '%s'", list, name);
        if (need_held && !(held & CAPS_BIT(*ret)))
                return ocid_error_msg(err, EINVAL, "%s: capability %s is not held by the daemon, so no container can get it",
                                      list, cap_names[*ret]);
        return 0;
}

int caps_compute(const struct caps_request *req, bool privileged, uint64_t held, uint64_t *ret_caps,
                 uint64_t *ret_ambient, struct ocid_error **err)
{
        static const struct caps_request none = { 0 };
        uint64_t set, add = 0, drop = 0, ambient = 0;
        bool add_all = false, drop_all = false;
        unsigned c;
        int r;

        if (!req)
                req = &none;
        held &= CAPS_ALL_KNOWN;
        for (size_t i = 0; i < req->n_drop; i++) {
                r = parse_entry("capabilities.drop_capabilities", req->drop[i], true, held, false, &c, err);
                if (r < 0)
                        return r;
                if (c == CAPS_COUNT)
                        drop_all = true;
                else
                        drop |= CAPS_BIT(c);
        }
        for (size_t i = 0; i < req->n_add; i++) {
                r = parse_entry("capabilities.add_capabilities", req->add[i], true, held, !privileged, &c, err);
                if (r < 0)
                        return r;
                if (c == CAPS_COUNT)
                        add_all = true;
                else
                        add |= CAPS_BIT(c);
        }
        for (size_t i = 0; i < req->n_ambient; i++) {
                r = parse_entry("capabilities.add_ambient_capabilities", req->ambient[i], false, held, true, &c, err);
                if (r < 0)
                        return r;
                ambient |= CAPS_BIT(c);
        }

        if (privileged) {
                set = held;
        } else {
                set = caps_default() & held;
                if (drop_all)
                        set = 0;
                if (add_all)
                        set = held;
                set &= ~drop;
                set |= add;
        }
        set |= ambient;
        *ret_caps = set;
        *ret_ambient = ambient;
        return 0;
}

struct json_object *caps_to_json(uint64_t set)
{
        struct json_object *a = json_object_new_array();

        for (unsigned i = 0; i < CAPS_COUNT; i++)
                if (set & CAPS_BIT(i))
                        json_object_array_add(a, json_object_new_string(cap_names[i]));
        return a;
}

int caps_probe_effective(uint64_t *ret, struct ocid_error **err)
{
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };

        if (syscall(SYS_capget, &hdr, data) < 0)
                return ocid_error_set(err, errno, "capget");
        *ret = ((uint64_t) data[1].effective << 32) | data[0].effective;
        return 0;
}
