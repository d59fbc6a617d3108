/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Pod and container records: everything the daemon knows about a pod or
 * a container, as it is kept in memory and written to <root>/pods/<id>.json
 * and <root>/containers/<id>.json (atomically: temp file, fsync, rename,
 * fsync of the directory), so that a restart can restore them (issue 5).
 * This file is the only place that knows their paths and their JSON
 * format. docs/pods.md and docs/restart.md list the members. */

#include <stdint.h>

struct json_object;
struct ocid_error;

#define RECORDS_PODS_DIR "pods"
#define RECORDS_CTRS_DIR "containers"
#define RECORDS_VERSION  1
/* A record is small; anything bigger is not one of ours. */
#define RECORDS_MAX_SIZE (UINT64_C(4) << 20)

/* CRI NamespaceMode values, as stored. */
#define RECORDS_NS_POD       0
#define RECORDS_NS_CONTAINER 1
#define RECORDS_NS_NODE      2
#define RECORDS_NS_TARGET    3

/* CRI PodSandboxState values, as stored. */
#define RECORDS_POD_READY    0
#define RECORDS_POD_NOTREADY 1

struct pod_record {
        char *id;                /* 64 hex characters */
        char *name;              /* k8s_<name>_<namespace>_<uid>_<attempt>, reserved */
        char *meta_name, *meta_uid, *meta_namespace;
        uint32_t meta_attempt;
        char *hostname;
        char *log_directory;
        char *runtime_handler;   /* as requested: "" is the default handler */
        char *cgroup_parent;
        char **labels;           /* key, value, key, value..., NULL-terminated; never NULL */
        char **annotations;      /* the same */
        int32_t ns_network, ns_pid, ns_ipc;   /* RECORDS_NS_* */
        char *pod_dir;           /* <runroot>/pods/<id> */
        char *netns_path, *ipcns_path, *utsns_path;  /* pins; NULL: the host's */
        char *shm_path;          /* NULL: the host's /dev/shm */
        char *port_mappings;     /* JSON array given to the network module, or NULL */
        char *dns;               /* JSON object given to the network module, or NULL */
        char *network;           /* the network module's result (JSON), or NULL */
        char **ips;              /* from `network`, primary first; never NULL */
        char *sysctls;           /* JSON object of the normalised sysctls */
        int64_t created_at;      /* ns since the epoch */
        int32_t state;           /* RECORDS_POD_* */
        int32_t infra_pid;       /* the infra container's PID 1 at creation; 0: none */
};

void pod_record_done(struct pod_record *r);

/* The record as a JSON object (a new reference). */
struct json_object *pod_record_to_json(const struct pod_record *r);

/* Fills *ret from a JSON object; a missing or mistyped member is -EINVAL
 * naming it. On failure *ret is left empty (nothing to free). */
int pod_record_from_json(struct json_object *obj, struct pod_record *ret, struct ocid_error **err);

/* <root>/pods/<id>.json */
char *pod_record_path(const char *root, const char *id);

/* Writes the record atomically (mode 0600), creating <root>/pods. */
int pod_record_save(const char *root, const struct pod_record *r, struct ocid_error **err);

/* Reads <root>/pods/<id>.json. A missing file is -ENOENT. */
int pod_record_load(const char *root, const char *id, struct pod_record *ret, struct ocid_error **err);

/* Removes the record. A missing one is success. */
int pod_record_remove(const char *root, const char *id, struct ocid_error **err);

/* Helpers for the key/value vectors: the value of key, or NULL. */
const char *records_kv_get(char *const *kv, const char *key);

/* Container states, as the CRI numbers them. */
#define CTR_CREATED 0
#define CTR_RUNNING 1
#define CTR_EXITED  2
#define CTR_UNKNOWN 3

struct ctr_record {
        char *id;
        char *name;               /* k8s_<ctr>_<pod>_<namespace>_<uid>_<attempt>, reserved */
        char *pod_id;
        char *meta_name;
        uint32_t meta_attempt;
        char *image;              /* as the config named it */
        char *image_id;           /* "sha256:<config>" */
        char *image_ref;          /* a repo digest, or image_id */
        char **labels, **annotations;   /* key, value... ; never NULL */
        char *log_path;           /* absolute */
        char *bundle;             /* <runroot>/containers/<id> */
        char *persist_dir;        /* <bundle>/persist */
        char *rootfs;             /* the mounted root file system */
        char *runtime_handler;
        char *mounts;             /* JSON array of the CRI mounts */
        char *resources;          /* JSON: the OCI linux.resources */
        int32_t stop_signal;
        int32_t tty, stdin_open, stdin_once;
        int32_t pid;
        int64_t created_at, started_at, finished_at;
        int32_t exit_code;
        int32_t oom_killed;
        int32_t state;            /* CTR_* */
};

void ctr_record_done(struct ctr_record *r);

/* "created", "running", "exited"; anything else is "unknown". */
const char *ctr_record_state_name(int32_t state);

/* The record as a JSON object (a new reference). */
struct json_object *ctr_record_to_json(const struct ctr_record *r);

/* The reverse of ctr_record_to_json. A missing or mistyped member is
 * -EINVAL naming it; on failure *ret is left empty (nothing to free). */
int ctr_record_from_json(struct json_object *obj, struct ctr_record *ret, struct ocid_error **err);

/* <root>/containers/<id>.json */
char *ctr_record_path(const char *root, const char *id);

/* Writes the record atomically (mode 0600), creating <root>/containers. */
int ctr_record_save(const char *root, const struct ctr_record *r, struct ocid_error **err);

/* Reads <root>/containers/<id>.json. A missing file is -ENOENT. */
int ctr_record_load(const char *root, const char *id, struct ctr_record *ret, struct ocid_error **err);

/* Removes the record. A missing one is success. */
int ctr_record_remove(const char *root, const char *id, struct ocid_error **err);

/* ---- request identity ---- */

struct ProtobufCMessage;

/* The sha256 (64 hex digits) of a request message and `extra` (may be
 * NULL): every set field by number and value, nested messages included.
 * Map entries are hashed in sorted order, so that two encodings of the
 * same request that list a map in different orders (Go randomises map
 * order) hash the same. */
void records_request_hash(const struct ProtobufCMessage *m, const char *extra, char ret[65]);
