/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The files a pod's containers bind mount: hostname, hosts, resolv.conf,
 * the /dev/shm tmpfs, and the infra container's rootfs. They live in the pod
 * directory (ns_pod_dir_create()):
 *
 *   <pod_dir>/hostname      "<hostname>\n"
 *   <pod_dir>/hosts         localhost lines, the pod's name, extra entries
 *   <pod_dir>/resolv.conf   from the CRI DNSConfig (or the host's file)
 *   <pod_dir>/shm/          tmpfs, unless the pod uses the host's IPC
 *
 * Files are written atomically, mode 0644. docs/pods.md has the details. */

#include <stddef.h>
#include <stdint.h>

struct ocid_error;

#define PODFILES_HOSTNAME    "hostname"
#define PODFILES_HOSTS       "hosts"
#define PODFILES_RESOLV_CONF "resolv.conf"
#define PODFILES_SHM         "shm"

/* The infra container's command inside its rootfs. */
#define PODFILES_PAUSE_NAME "pause"

#define PODFILES_SHM_SIZE_DEFAULT (UINT64_C(64) << 20)

/* Limits on the DNS configuration (docs/pods.md says where they come from). */
#define PODFILES_DNS_MAX_SERVERS      3
#define PODFILES_DNS_MAX_SEARCHES     32
#define PODFILES_DNS_MAX_SEARCH_CHARS 2048
#define PODFILES_DNS_MAX_OPTIONS      32
#define PODFILES_DNS_MAX_OPTION_LEN   64

/* The host files used when the pod brings none of its own. */
#define PODFILES_HOST_RESOLV_CONF "/etc/resolv.conf"
#define PODFILES_HOST_HOSTS       "/etc/hosts"

/* Arrays as protobuf-c lays out repeated string fields. */
struct podfiles_dns {
        char *const *servers;
        size_t n_servers;
        char *const *searches;
        size_t n_searches;
        char *const *options;
        size_t n_options;
};

struct podfiles_host_entry {
        const char *ip;
        char *const *names;
        size_t n_names;
};

struct podfiles_hosts {
        /* NULL: start with the standard localhost lines; else the path of a
         * hosts file to start from (the host's, for a host-network pod). */
        const char *base;
        /* The pod's own line(s), when hostname is not NULL: one per pod IP,
         * or 127.0.1.1 while no IP is known. */
        const char *hostname;
        char *const *pod_ips;
        size_t n_pod_ips;
        /* Appended as they are (the host aliases hook). */
        const struct podfiles_host_entry *extra;
        size_t n_extra;
};

/* A hostname: 1 to 64 bytes of dot-separated labels of [A-Za-z0-9-], each
 * 1 to 63 bytes, not starting or ending with '-'. */
int podfiles_hostname_check(const char *hostname, struct ocid_error **err);

/* Checks every server (an IPv4 or IPv6 address), search domain and option
 * against the limits above; errors name the field and index
 * ("dns_config.searches[2]"). A NULL dns is valid. */
int podfiles_dns_check(const struct podfiles_dns *dns, struct ocid_error **err);

/* Writes <pod_dir>/hostname. */
int podfiles_write_hostname(const char *pod_dir, const char *hostname, struct ocid_error **err);

/* Writes <pod_dir>/hosts; every address and name is checked first. */
int podfiles_write_hosts(const char *pod_dir, const struct podfiles_hosts *h, struct ocid_error **err);

/* Writes <pod_dir>/resolv.conf from dns (checked first). With no servers,
 * searches and options (or dns NULL) it is a copy of host_file (NULL:
 * PODFILES_HOST_RESOLV_CONF; a missing host file gives an empty file). */
int podfiles_write_resolv_conf(const char *pod_dir, const struct podfiles_dns *dns, const char *host_file,
                               struct ocid_error **err);

/* Mounts a tmpfs of `size` bytes (0: PODFILES_SHM_SIZE_DEFAULT) on
 * <pod_dir>/shm (created 0755; mode 1777 inside, nosuid, nodev, noexec).
 * Already mounted is -EEXIST. *ret_path (may be NULL) gets the path. */
int podfiles_mount_shm(const char *pod_dir, uint64_t size, char **ret_path, struct ocid_error **err);

/* Unmounts (detached) and removes <pod_dir>/shm. Idempotent. */
int podfiles_unmount_shm(const char *pod_dir, struct ocid_error **err);

/* The ocid-pause binary: $OCID_PAUSE_BINARY (for the build tree and tests)
 * or $(pkglibexecdir)/ocid-pause. */
const char *podfiles_pause_binary(void);

/* Lays out a minimal infra rootfs: `rootfs` (created 0755 with its
 * parents) holding only PODFILES_PAUSE_NAME, a copy of pause_binary
 * (0755, written atomically, so it can be redone at any time). The binary
 * must be a statically linked ELF executable (nothing else is in the
 * rootfs to load it): anything else is -ENOEXEC. */
int podfiles_infra_rootfs(const char *rootfs, const char *pause_binary, struct ocid_error **err);
