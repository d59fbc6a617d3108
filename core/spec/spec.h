/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The OCI runtime spec (config.json) of a container, built from the CRI
 * ContainerConfig and PodSandboxConfig, the image config and what the pod
 * already holds (pinned namespaces, /etc files, /dev/shm). Every input is
 * validated; a bad one is -EINVAL with a message naming the field, e.g.
 * "container config: linux.resources.cpu_shares: 1 is out of range ...".
 * docs/container-spec.md describes the result and the rules. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/cri-proto.h"

struct json_object;
struct ocid_error;
struct image_config;

/* A namespace path that means "the host's namespace". */
#define SPEC_NS_HOST "host"

#define SPEC_OCI_VERSION "1.0.2"
#define SPEC_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SPEC_NOFILE_DEFAULT UINT64_C(1048576)
#define SPEC_MAX_ENV     100000
#define SPEC_MAX_ARGS    100000
#define SPEC_MAX_MOUNTS  1024
#define SPEC_MAX_DEVICES 1024
#define SPEC_MAX_PATHS   1024       /* masked or read-only paths */

/* Facts about the host and the daemon that the spec depends on.
 * spec_host_probe() reads them from the running system; tests fill them
 * by hand. */
struct spec_host {
        bool cgroup_v2;              /* /sys/fs/cgroup is cgroup2 (not hybrid) */
        bool swap_accounting;        /* memory+swap limits can be set */
        uint64_t caps;               /* the daemon's effective capabilities */
        int oom_score_adj;           /* the daemon's own */
        uint64_t nofile_max;         /* the daemon's hard RLIMIT_NOFILE */
        const char *hugepages_dir;   /* NULL: /sys/kernel/mm/hugepages */
        const char *mountinfo_path;  /* NULL: /proc/self/mountinfo */
        const char *dev_dir;         /* NULL: /dev (a privileged container gets its devices) */
};

int spec_host_probe(struct spec_host *ret, struct ocid_error **err);

/* The PID namespace of a container. */
enum spec_pid_mode {
        SPEC_PID_CONTAINER,   /* its own */
        SPEC_PID_POD,         /* the pod's infra container's (pidns path) */
        SPEC_PID_HOST,
        SPEC_PID_TARGET,      /* another container's (pidns path) */
        _SPEC_PID_MAX,
        _SPEC_PID_INVALID = -EINVAL,
};

/* Maps the CRI NamespaceMode of namespace_options.pid; -EINVAL when out of
 * range. */
enum spec_pid_mode spec_pid_mode_from_cri(int mode);

enum spec_cgroup_manager {
        SPEC_CGROUP_CGROUPFS,   /* cgroupsPath "<parent>/ocid-<id>" */
        SPEC_CGROUP_SYSTEMD,    /* cgroupsPath "<parent slice>:ocid:<id>" */
        _SPEC_CGROUP_MAX,
        _SPEC_CGROUP_INVALID = -EINVAL,
};

struct spec_input {
        const char *container_id;
        const char *pod_id;
        const char *rootfs;                     /* absolute host path: root.path */
        int rootfs_fd;                          /* a directory fd of the same rootfs */
        const Runtime__V1__ContainerConfig *config;
        const Runtime__V1__PodSandboxConfig *sandbox;
        const struct image_config *image;       /* NULL: the image has no config */
        const char *image_name;                 /* for the annotation; may be NULL */
        const char *hostname_path;              /* the pod's files; NULL: not mounted */
        const char *hosts_path;
        const char *resolv_conf_path;
        const char *shm_path;                   /* the pod's /dev/shm; required unless IPC is the host's */
        const char *netns;                      /* pinned namespace paths, or SPEC_NS_HOST */
        const char *ipcns;
        const char *utsns;
        enum spec_pid_mode pid_mode;
        const char *pidns;                      /* for SPEC_PID_POD and SPEC_PID_TARGET */
        const char *cgroup_parent;              /* NULL or "": "/" (cgroupfs), "system.slice" (systemd) */
        enum spec_cgroup_manager cgroup_manager;
        const struct spec_host *host;
};

/* A seccomp or AppArmor profile choice, as the CRI made it. */
enum spec_profile {
        SPEC_PROFILE_UNSET,             /* nothing asked: the security module's default */
        SPEC_PROFILE_RUNTIME_DEFAULT,
        SPEC_PROFILE_UNCONFINED,
        SPEC_PROFILE_LOCALHOST,         /* localhost_ref names it */
        _SPEC_PROFILE_MAX,
        _SPEC_PROFILE_INVALID = -EINVAL,
};

struct spec_profile_choice {
        enum spec_profile type;
        char *localhost_ref;            /* LOCALHOST only */
};

/* What the security modules and the lifecycle need besides the spec. */
struct spec_extra {
        bool privileged;
        bool tty;
        bool stdin;
        bool stdin_once;
        int stop_signal;                /* CRI, then image StopSignal, then SIGTERM */
        uint32_t uid;
        uint32_t gid;
        struct spec_profile_choice seccomp;
        struct spec_profile_choice apparmor;
        char *selinux_user;             /* NULL when not given */
        char *selinux_role;
        char *selinux_type;
        char *selinux_level;
        char **relabel;                 /* NULL-terminated resolved host paths of mounts with selinux_relabel */
};

void spec_extra_done(struct spec_extra *x);

/* Builds the spec. On success *ret_spec is a new object and *ret_extra is
 * filled (free it with spec_extra_done()); on failure neither is touched. */
int spec_build(const struct spec_input *in, struct json_object **ret_spec, struct spec_extra *ret_extra,
               struct ocid_error **err);
