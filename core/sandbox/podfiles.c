/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>   /* inet_pton */
#include <elf.h>         /* the program headers of the pause binary */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>   /* mount, umount2, MS_NOSUID, MNT_DETACH */
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "sandbox/podfiles.h"

/* Host files copied into a pod are small text files. */
#define HOST_FILE_MAX (1u << 20)
/* Generous for a static ocid-pause (under 1 MiB on x86-64). */
#define PAUSE_BINARY_MAX (64u << 20)

#define HOSTNAME_MAX 64
#define DOMAIN_MAX   253
#define LABEL_MAX    63

static const char hosts_localhost[] =
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "ff00::0\tip6-mcastprefix\n"
        "ff02::1\tip6-allnodes\n"
        "ff02::2\tip6-allrouters\n";

static bool is_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Dot-separated labels of [A-Za-z0-9-] (and '_' when allow_underscore), each
 * 1..LABEL_MAX bytes, none starting or ending with '-'. */
static bool labels_ok(const char *s, size_t len, bool allow_underscore)
{
        size_t start = 0;

        if (len == 0)
                return false;
        for (size_t i = 0; i <= len; i++) {
                if (i == len || s[i] == '.') {
                        size_t n = i - start;
                        if (n == 0 || n > LABEL_MAX || s[start] == '-' || s[i - 1] == '-')
                                return false;
                        start = i + 1;
                        continue;
                }
                if (!is_alnum(s[i]) && s[i] != '-' && !(allow_underscore && s[i] == '_'))
                        return false;
        }
        return true;
}

/* For messages: the name itself when printable, else a neutral word, so
 * that a newline never reaches a log line. */
static const char *printable(const char *s)
{
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return "(contains control characters)";
        return s;
}

int podfiles_hostname_check(const char *hostname, struct ocid_error **err)
{
        size_t len;

        if (!hostname || !*hostname)
                return ocid_error_msg(err, EINVAL, "empty hostname");
        len = strlen(hostname);
        if (len > HOSTNAME_MAX)
                return ocid_error_msg(err, EINVAL, "hostname '%s' is longer than %d bytes", printable(hostname),
                                      HOSTNAME_MAX);
        if (!labels_ok(hostname, len, false))
                return ocid_error_msg(err, EINVAL,
                                      "hostname '%s' is not a valid host name (dot-separated labels of letters, digits and '-')",
                                      printable(hostname));
        return 0;
}

static bool ip_ok(const char *s)
{
        unsigned char buf[16];

        return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

static int search_check(const char *s, size_t i, struct ocid_error **err)
{
        size_t len = s ? strlen(s) : 0;

        /* A trailing dot (absolute name) is allowed, as Kubernetes does. */
        if (len > 1 && s[len - 1] == '.')
                len--;
        if (len == 0)
                return ocid_error_msg(err, EINVAL, "dns_config.searches[%zu]: empty search domain", i);
        if (len > DOMAIN_MAX)
                return ocid_error_msg(err, EINVAL, "dns_config.searches[%zu]: search domain '%s' is longer than %d bytes",
                                      i, printable(s), DOMAIN_MAX);
        if (!labels_ok(s, len, true))
                return ocid_error_msg(err, EINVAL, "dns_config.searches[%zu]: '%s' is not a valid domain name", i,
                                      printable(s));
        return 0;
}

/* An option is one resolv.conf token such as "ndots:5" or "edns0". */
static int option_check(const char *s, size_t i, struct ocid_error **err)
{
        size_t len = s ? strlen(s) : 0;

        if (len == 0)
                return ocid_error_msg(err, EINVAL, "dns_config.options[%zu]: empty option", i);
        if (len > PODFILES_DNS_MAX_OPTION_LEN)
                return ocid_error_msg(err, EINVAL, "dns_config.options[%zu]: option '%s' is longer than %d bytes", i,
                                      printable(s), PODFILES_DNS_MAX_OPTION_LEN);
        for (size_t k = 0; k < len; k++)
                if (!is_alnum(s[k]) && !strchr("-_.:", s[k]))
                        return ocid_error_msg(err, EINVAL,
                                              "dns_config.options[%zu]: option '%s' has a character other than letters, digits, '-', '_', '.' and ':'",
                                              i, printable(s));
        return 0;
}

int podfiles_dns_check(const struct podfiles_dns *dns, struct ocid_error **err)
{
        size_t chars = 0;
        int r;

        if (!dns)
                return 0;
        if ((dns->n_servers && !dns->servers) || (dns->n_searches && !dns->searches) ||
            (dns->n_options && !dns->options))
                return ocid_error_msg(err, EINVAL, "dns_config: a count without its list");

        if (dns->n_servers > PODFILES_DNS_MAX_SERVERS)
                return ocid_error_msg(err, EINVAL, "dns_config.servers: %zu servers, at most %d are allowed",
                                      dns->n_servers, PODFILES_DNS_MAX_SERVERS);
        for (size_t i = 0; i < dns->n_servers; i++)
                if (!ip_ok(dns->servers[i]))
                        return ocid_error_msg(err, EINVAL, "dns_config.servers[%zu]: '%s' is not an IP address", i,
                                              dns->servers[i] ? printable(dns->servers[i]) : "");

        if (dns->n_searches > PODFILES_DNS_MAX_SEARCHES)
                return ocid_error_msg(err, EINVAL, "dns_config.searches: %zu search domains, at most %d are allowed",
                                      dns->n_searches, PODFILES_DNS_MAX_SEARCHES);
        for (size_t i = 0; i < dns->n_searches; i++) {
                r = search_check(dns->searches[i], i, err);
                if (r < 0)
                        return r;
                chars += strlen(dns->searches[i]) + (i > 0);
        }
        if (chars > PODFILES_DNS_MAX_SEARCH_CHARS)
                return ocid_error_msg(err, EINVAL, "dns_config.searches: %zu characters in all, at most %d are allowed",
                                      chars, PODFILES_DNS_MAX_SEARCH_CHARS);

        if (dns->n_options > PODFILES_DNS_MAX_OPTIONS)
                return ocid_error_msg(err, EINVAL, "dns_config.options: %zu options, at most %d are allowed",
                                      dns->n_options, PODFILES_DNS_MAX_OPTIONS);
        for (size_t i = 0; i < dns->n_options; i++) {
                r = option_check(dns->options[i], i, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int write_pod_file(const char *pod_dir, const char *name, const char *data, size_t len,
                          struct ocid_error **err)
{
        _cleanup_free_ char *path = ocid_path_join(pod_dir, name);

        return ocid_write_file_atomic(path, data, len, 0644, err);
}

/* Reads a host file; a missing one reads as empty. */
static int read_host_file(const char *path, char **ret, size_t *ret_len, struct ocid_error **err)
{
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        r = ocid_read_file(path, HOST_FILE_MAX, ret, ret_len, &e);
        if (r >= 0)
                return 0;
        if (r != -ENOENT) {
                if (err)
                        *err = TAKE_PTR(e);
                return r;
        }
        *ret = xstrdup("");
        *ret_len = 0;
        return 0;
}

/* The text an open_memstream() collected; NULL after a write error. */
static char *memstream_finish(FILE **f, char **buf, size_t *len)
{
        int bad = ferror(*f);

        if (fclose(*f) != 0)
                bad = 1;
        *f = NULL;
        if (bad) {
                free(*buf);
                *buf = NULL;
                *len = 0;
        }
        return *buf;
}

int podfiles_write_hostname(const char *pod_dir, const char *hostname, struct ocid_error **err)
{
        _cleanup_free_ char *text = NULL;
        int r;

        r = podfiles_hostname_check(hostname, err);
        if (r < 0)
                return r;
        text = xasprintf("%s\n", hostname);
        return write_pod_file(pod_dir, PODFILES_HOSTNAME, text, strlen(text), err);
}

static int hosts_check(const struct podfiles_hosts *h, struct ocid_error **err)
{
        int r;

        if (h->hostname) {
                r = podfiles_hostname_check(h->hostname, err);
                if (r < 0)
                        return ocid_error_prefix(err, "hosts");
        }
        if ((h->n_pod_ips && !h->pod_ips) || (h->n_extra && !h->extra))
                return ocid_error_msg(err, EINVAL, "hosts: a count without its list");
        for (size_t i = 0; i < h->n_pod_ips; i++)
                if (!ip_ok(h->pod_ips[i]))
                        return ocid_error_msg(err, EINVAL, "hosts: pod IP '%s' is not an IP address",
                                              h->pod_ips[i] ? printable(h->pod_ips[i]) : "");
        for (size_t i = 0; i < h->n_extra; i++) {
                const struct podfiles_host_entry *e = &h->extra[i];

                if (!ip_ok(e->ip))
                        return ocid_error_msg(err, EINVAL, "hosts: entry %zu: '%s' is not an IP address", i,
                                              e->ip ? printable(e->ip) : "");
                if (e->n_names == 0 || !e->names)
                        return ocid_error_msg(err, EINVAL, "hosts: entry %zu ('%s') has no names", i, e->ip);
                for (size_t k = 0; k < e->n_names; k++) {
                        r = podfiles_hostname_check(e->names[k], err);
                        if (r < 0)
                                return ocid_error_prefix(err, "hosts: entry %zu ('%s')", i, e->ip);
                }
        }
        return 0;
}

int podfiles_write_hosts(const char *pod_dir, const struct podfiles_hosts *h, struct ocid_error **err)
{
        _cleanup_free_ char *base = NULL, *text = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t base_len = 0, len = 0;
        int r;

        r = hosts_check(h, err);
        if (r < 0)
                return r;
        if (h->base) {
                r = read_host_file(h->base, &base, &base_len, err);
                if (r < 0)
                        return ocid_error_prefix(err, "hosts");
        }

        f = open_memstream(&text, &len);
        if (!f)
                return ocid_error_set(err, errno, "hosts: open_memstream");
        if (base) {
                fwrite(base, 1, base_len, f);
                if (base_len > 0 && base[base_len - 1] != '\n')
                        fputc('\n', f);
        } else {
                fputs(hosts_localhost, f);
        }
        if (h->hostname) {
                if (h->n_pod_ips == 0)
                        fprintf(f, "127.0.1.1\t%s\n", h->hostname);
                for (size_t i = 0; i < h->n_pod_ips; i++)
                        fprintf(f, "%s\t%s\n", h->pod_ips[i], h->hostname);
        }
        for (size_t i = 0; i < h->n_extra; i++) {
                fputs(h->extra[i].ip, f);
                for (size_t k = 0; k < h->extra[i].n_names; k++)
                        fprintf(f, "%c%s", k == 0 ? '\t' : ' ', h->extra[i].names[k]);
                fputc('\n', f);
        }
        if (!memstream_finish(&f, &text, &len))
                return ocid_error_msg(err, ENOMEM, "hosts: building the file failed");
        return write_pod_file(pod_dir, PODFILES_HOSTS, text, len, err);
}

int podfiles_write_resolv_conf(const char *pod_dir, const struct podfiles_dns *dns, const char *host_file,
                               struct ocid_error **err)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t len = 0;
        int r;

        r = podfiles_dns_check(dns, err);
        if (r < 0)
                return r;

        if (!dns || (dns->n_servers == 0 && dns->n_searches == 0 && dns->n_options == 0)) {
                r = read_host_file(host_file ? host_file : PODFILES_HOST_RESOLV_CONF, &text, &len, err);
                if (r < 0)
                        return ocid_error_prefix(err, "resolv.conf");
                return write_pod_file(pod_dir, PODFILES_RESOLV_CONF, text, len, err);
        }

        f = open_memstream(&text, &len);
        if (!f)
                return ocid_error_set(err, errno, "resolv.conf: open_memstream");
        for (size_t i = 0; i < dns->n_servers; i++)
                fprintf(f, "nameserver %s\n", dns->servers[i]);
        if (dns->n_searches > 0) {
                fputs("search", f);
                for (size_t i = 0; i < dns->n_searches; i++)
                        fprintf(f, " %s", dns->searches[i]);
                fputc('\n', f);
        }
        if (dns->n_options > 0) {
                fputs("options", f);
                for (size_t i = 0; i < dns->n_options; i++)
                        fprintf(f, " %s", dns->options[i]);
                fputc('\n', f);
        }
        if (!memstream_finish(&f, &text, &len))
                return ocid_error_msg(err, ENOMEM, "resolv.conf: building the file failed");
        return write_pod_file(pod_dir, PODFILES_RESOLV_CONF, text, len, err);
}

/* A mount point differs in st_dev from its parent directory. */
static int is_mount_point(const char *path, const char *parent, struct ocid_error **err)
{
        struct stat a, b;

        if (lstat(path, &a) < 0)
                return ocid_error_set(err, errno, "stat '%s'", path);
        if (lstat(parent, &b) < 0)
                return ocid_error_set(err, errno, "stat '%s'", parent);
        return a.st_dev != b.st_dev;
}

int podfiles_mount_shm(const char *pod_dir, uint64_t size, char **ret_path, struct ocid_error **err)
{
        _cleanup_free_ char *path = ocid_path_join(pod_dir, PODFILES_SHM), *opts = NULL;
        bool created = true;
        struct stat st;
        int r;

        if (size == 0)
                size = PODFILES_SHM_SIZE_DEFAULT;
        if (mkdir(path, 0755) < 0) {
                created = false;
                if (errno != EEXIST)
                        return ocid_error_set(err, errno, "create '%s'", path);
                if (lstat(path, &st) < 0)
                        return ocid_error_set(err, errno, "stat '%s'", path);
                if (!S_ISDIR(st.st_mode))
                        return ocid_error_msg(err, ENOTDIR, "'%s' exists and is not a directory", path);
                r = is_mount_point(path, pod_dir, err);
                if (r < 0)
                        return r;
                if (r > 0)
                        return ocid_error_msg(err, EEXIST, "'%s' is mounted already", path);
        }
        opts = xasprintf("mode=1777,size=%" PRIu64, size);
        if (mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0) {
                r = ocid_error_set(err, errno, "mount a tmpfs (%s) on '%s'", opts, path);
                if (created)
                        (void) rmdir(path);
                return r;
        }
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return 0;
}

int podfiles_unmount_shm(const char *pod_dir, struct ocid_error **err)
{
        _cleanup_free_ char *path = ocid_path_join(pod_dir, PODFILES_SHM);

        for (int i = 0;; i++) {
                if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
                        if (i < 64)
                                continue;
                        return ocid_error_msg(err, EBUSY, "unmount '%s': still mounted after %d unmounts", path, i);
                }
                if (errno == EINVAL || errno == ENOENT)
                        break;
                return ocid_error_set(err, errno, "unmount '%s'", path);
        }
        if (rmdir(path) < 0 && errno != ENOENT)
                return ocid_error_set(err, errno, "remove '%s'", path);
        return 0;
}

const char *podfiles_pause_binary(void)
{
        const char *env = secure_getenv("OCID_PAUSE_BINARY");

        return env && *env ? env : OCID_LIBEXECDIR "/ocid-pause";
}

/* Whether an ELF file names a program interpreter (is dynamically linked):
 * 1 yes, 0 no, -1 not an ELF executable this host can read. */
static int elf_has_interp(const unsigned char *data, size_t len)
{
        if (len < EI_NIDENT || memcmp(data, ELFMAG, SELFMAG) != 0)
                return -1;
        if (data[EI_CLASS] == ELFCLASS64 && len >= sizeof(Elf64_Ehdr)) {
                Elf64_Ehdr eh;
                memcpy(&eh, data, sizeof(eh));
                if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
                    (uint64_t) eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
                        return -1;
                for (size_t i = 0; i < eh.e_phnum; i++) {
                        Elf64_Phdr ph;
                        memcpy(&ph, data + eh.e_phoff + i * sizeof(ph), sizeof(ph));
                        if (ph.p_type == PT_INTERP)
                                return 1;
                }
                return 0;
        }
        if (data[EI_CLASS] == ELFCLASS32 && len >= sizeof(Elf32_Ehdr)) {
                Elf32_Ehdr eh;
                memcpy(&eh, data, sizeof(eh));
                if (eh.e_phentsize != sizeof(Elf32_Phdr) || eh.e_phoff > len ||
                    (uint64_t) eh.e_phnum * sizeof(Elf32_Phdr) > len - eh.e_phoff)
                        return -1;
                for (size_t i = 0; i < eh.e_phnum; i++) {
                        Elf32_Phdr ph;
                        memcpy(&ph, data + eh.e_phoff + i * sizeof(ph), sizeof(ph));
                        if (ph.p_type == PT_INTERP)
                                return 1;
                }
                return 0;
        }
        return -1;
}

int podfiles_infra_rootfs(const char *rootfs, const char *pause_binary, struct ocid_error **err)
{
        _cleanup_free_ char *data = NULL, *dest = NULL;
        size_t len = 0;
        int r;

        r = ocid_read_file(pause_binary, PAUSE_BINARY_MAX, &data, &len, err);
        if (r < 0)
                return ocid_error_prefix(err, "infra rootfs: read the pause binary");
        switch (elf_has_interp((const unsigned char *) data, len)) {
        case 0:
                break;
        case 1:
                return ocid_error_msg(err, ENOEXEC,
                                      "infra rootfs: '%s' is dynamically linked and cannot run alone in a rootfs (build ocid where libc.a is installed)",
                                      pause_binary);
        default:
                return ocid_error_msg(err, ENOEXEC, "infra rootfs: '%s' is not an ELF executable", pause_binary);
        }
        r = ocid_mkdir_p(rootfs, 0755, err);
        if (r < 0)
                return ocid_error_prefix(err, "infra rootfs");
        dest = ocid_path_join(rootfs, PODFILES_PAUSE_NAME);
        r = ocid_write_file_atomic(dest, data, len, 0755, err);
        if (r < 0)
                return ocid_error_prefix(err, "infra rootfs");
        return 0;
}
