/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#ifndef OCID_MODULE_ABI_MAJOR
#error "include <ocid/module.h>"
#endif

#include <stddef.h>
#include <stdint.h>

/* The OCI spec crosses this ABI as a json-c object (json-c is in
 * ocid-module.pc's Requires): a module edits it in place with json-c's own
 * calls. Only the type's name is needed here. */
struct json_object;

/* The CRI's choice of a seccomp or AppArmor profile. */
#define OCID_SECURITY_PROFILE_UNSET           0u  /* nothing asked */
#define OCID_SECURITY_PROFILE_RUNTIME_DEFAULT 1u
#define OCID_SECURITY_PROFILE_UNCONFINED      2u
#define OCID_SECURITY_PROFILE_LOCALHOST       3u  /* localhost_ref names it */

struct ocid_security_profile {
        uint32_t type;               /* OCID_SECURITY_PROFILE_* */
        /* LOCALHOST: what the pod named (seccomp: a host file path;
         * AppArmor: a profile name); NULL otherwise. Untrusted input. */
        const char *localhost_ref;
};

/* True when the struct at p, whose first member `size` says how large the
 * caller's (core's) version of `type` is, holds `member`. A module reads a
 * member appended by a later minor only when this says so. */
#define OCID_SECURITY_HAS(p, type, member)                                    \
        ((size_t) (p)->size >= offsetof(type, member) + sizeof(((type *) NULL)->member))

/* A container as the security modules see it, beside its OCI spec. The
 * core fills `size`; strings are valid during the call only. */
struct ocid_security_request {
        uint32_t size;
        const char *container_id;    /* 64 hex characters */
        const char *pod_id;          /* the pod's ID, as pod_create got it */
        /* 1 for a privileged container (CRI security_context.privileged):
         * a module applies no confinement unless the request asks for one
         * explicitly (LOCALHOST or RUNTIME_DEFAULT). */
        int32_t privileged;
        struct ocid_security_profile seccomp;
        struct ocid_security_profile apparmor;
        /* CRI SELinuxOptions of the container; NULL when not given. */
        const char *selinux_user;
        const char *selinux_role;
        const char *selinux_type;
        const char *selinux_level;
        /* Resolved host paths of the mounts that asked for a relabel
         * (selinux_relabel), NULL-terminated; never NULL. */
        const char *const *relabel;
        /* In/out: the SELinux label of the container's mounts. NULL from
         * the core; a module that labels mounts replaces it with a
         * malloc()ed string (freeing the old one), so that the modules after
         * it in the chain see it. The core frees it after the chain. The
         * one member a module may write: everything else is the core's. */
        char *mount_label;
};

/* A pod as the per-pod hooks see it. */
struct ocid_security_pod {
        uint32_t size;
        const char *pod_id;          /* 64 hex characters */
        /* CRI SELinuxOptions of the pod; NULL when not given. */
        const char *selinux_user;
        const char *selinux_role;
        const char *selinux_type;
        const char *selinux_level;
        /* 1 when the core brings back a pod that existed before a restart:
         * the module takes back what it gave the pod then (e.g. the same
         * MCS level) instead of allocating anew, and refuses nothing that
         * it accepted before. */
        int32_t restore;
};

/* ABI 1.0: the security ops table. Later minors append members at the end.
 *
 * The configured security modules form a chain: the core calls each op on
 * every module in the order crio.conf lists them (`security`), and a NULL
 * op means the module has nothing to do at that step. Ops may run
 * concurrently on worker threads, for different containers and pods. */
struct ocid_security_ops {
        struct ocid_module_ops base;
        /* Applies the module's confinement to the container's spec (an OCI
         * runtime spec object, as config.json will hold it): e.g.
         * linux.seccomp, process.apparmorProfile, process.selinuxLabel,
         * linux.mountLabel. Runs after the core built the spec and before
         * it is written. A module may refuse the container: it returns
         * < 0 with the error (-EINVAL for a bad request, which the CRI
         * reports as INVALID_ARGUMENT); the spec is then thrown away, so
         * a module need not undo its edits. */
        int (*apply)(void *state, struct ocid_security_request *req, struct json_object *spec,
                     struct ocid_error **err);
        /* RunPodSandbox, before the pod's namespaces exist: sets up what the
         * module keeps per pod (SELinux: reserves the pod's MCS level).
         * May return the pod's process and mount labels (malloc()ed, owned
         * by the caller; left NULL when the module has none). A failure
         * fails the pod; the core then calls pod_remove on the modules
         * whose pod_create succeeded. */
        int (*pod_create)(void *state, const struct ocid_security_pod *pod, char **ret_process_label,
                          char **ret_mount_label, struct ocid_error **err);
        /* RemovePodSandbox, after its containers are gone, and the rollback
         * of a failed RunPodSandbox: releases what pod_create took. An
         * unknown pod ID is success (idempotent). */
        int (*pod_remove)(void *state, const char *pod_id, struct ocid_error **err);
};
