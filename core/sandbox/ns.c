/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>  /* NSFS_MAGIC */
#include <pthread.h>
#include <sched.h>        /* unshare, CLONE_NEW* */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>    /* mount, umount2, MS_BIND, MS_PRIVATE, MNT_DETACH */
#include <sys/stat.h>
#include <sys/vfs.h>      /* statfs */
#include <sys/wait.h>
#include <unistd.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "sandbox/ns.h"
#include "sandbox/podfiles.h"
#include "spec/sysctl.h"

/* Serialises the one-time bind mount of <runroot>/pods onto itself, so that
 * two pods created at once never stack two mounts there. */
static pthread_mutex_t pods_dir_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct {
        unsigned flag;
        int clone_flag;
        const char *name;
} ns_kinds[] = {
        { NS_NET, CLONE_NEWNET, "net" },
        { NS_IPC, CLONE_NEWIPC, "ipc" },
        { NS_UTS, CLONE_NEWUTS, "uts" },
};

const char *ns_name(unsigned ns)
{
        for (size_t i = 0; i < ELEMENTSOF(ns_kinds); i++)
                if (ns_kinds[i].flag == ns)
                        return ns_kinds[i].name;
        return NULL;
}

char *ns_pod_dir(const char *runroot, const char *id)
{
        _cleanup_free_ char *pods = ocid_path_join(runroot, NS_PODS_DIR);

        return ocid_path_join(pods, id);
}

char *ns_pin_path(const char *pod_dir, unsigned ns)
{
        const char *name = ns_name(ns);

        if (!name)
                return NULL;
        return xasprintf("%s/" NS_DIR "/%s", pod_dir, name);
}

bool ns_is_pinned(const char *path)
{
        struct statfs sfs;

        return statfs(path, &sfs) == 0 && (uint64_t) sfs.f_type == (uint64_t) NSFS_MAGIC;
}

/* <runroot>/pods as a private mount of its own: pins and the pods' /dev/shm
 * mounts made below it then stay in this mount namespace, and mounts made
 * elsewhere never appear below it. */
static int pods_dir_make_private(const char *pods, struct ocid_error **err)
{
        int r = 0;

        pthread_mutex_lock(&pods_dir_lock);
        /* Changing the propagation of a path that is not the root of a mount
         * is EINVAL: that is how "not yet a mount point" shows. */
        if (mount(NULL, pods, NULL, MS_PRIVATE, NULL) == 0)
                goto out;
        if (errno != EINVAL) {
                r = ocid_error_set(err, errno, "make '%s' a private mount", pods);
                goto out;
        }
        if (mount(pods, pods, NULL, MS_BIND, NULL) < 0) {
                r = ocid_error_set(err, errno, "bind mount '%s' onto itself", pods);
                goto out;
        }
        if (mount(NULL, pods, NULL, MS_PRIVATE, NULL) < 0) {
                r = ocid_error_set(err, errno, "make '%s' a private mount", pods);
                (void) umount2(pods, MNT_DETACH);
        }
out:
        pthread_mutex_unlock(&pods_dir_lock);
        return r;
}

static int mkdir_exist_ok(const char *path, mode_t mode, struct ocid_error **err)
{
        struct stat st;

        if (mkdir(path, mode) == 0)
                return 1;
        if (errno != EEXIST)
                return ocid_error_set(err, errno, "create directory '%s'", path);
        if (lstat(path, &st) < 0)
                return ocid_error_set(err, errno, "stat '%s'", path);
        if (!S_ISDIR(st.st_mode))
                return ocid_error_msg(err, ENOTDIR, "'%s' exists and is not a directory", path);
        return 0;
}

int ns_pod_dir_create(const char *runroot, const char *id, char **ret_dir, struct ocid_error **err)
{
        _cleanup_free_ char *pods = NULL, *dir = NULL;
        int r;

        if (!runroot || runroot[0] != '/')
                return ocid_error_msg(err, EINVAL, "runroot '%s' is not an absolute path", runroot ? runroot : "");
        r = ocid_path_component_check(id, err);
        if (r < 0)
                return ocid_error_prefix(err, "pod id");

        pods = ocid_path_join(runroot, NS_PODS_DIR);
        r = ocid_mkdir_p(pods, 0711, err);
        if (r < 0)
                return r;
        r = pods_dir_make_private(pods, err);
        if (r < 0)
                return r;

        dir = ocid_path_join(pods, id);
        r = mkdir_exist_ok(dir, 0711, err);
        if (r < 0)
                return r;
        if (ret_dir)
                *ret_dir = TAKE_PTR(dir);
        return 0;
}

/* What the helper process sets inside the new namespaces, prepared before
 * the fork: after it, the child of a threaded process may only make system
 * calls. */
struct pin_plan {
        int clone_flags;
        const char *hostname;
        size_t hostname_len;
        char **paths;        /* /proc/sys/... per sysctl */
        char **keys;         /* normalised keys, for messages */
        const char **values;
        size_t *value_lens;
        size_t n;
};

static void pin_plan_done(struct pin_plan *p)
{
        ocid_strv_free(p->paths);
        ocid_strv_free(p->keys);
        free(p->values);
        free(p->value_lens);
}

/* A normalised key names /proc/sys/<key> with '.' and '/' swapped: '.'
 * separates directories, '/' stands for a '.' inside one. */
static char *sysctl_proc_path(const char *key)
{
        char *p = xasprintf("/proc/sys/%s", key);

        for (char *c = p + strlen("/proc/sys/"); *c; c++)
                *c = *c == '.' ? '/' : *c == '/' ? '.' : *c;
        return p;
}

static int pin_plan_build(const struct ns_pin_config *cfg, struct pin_plan *p, struct ocid_error **err)
{
        int r;

        if (cfg->flags & ~NS_ALL)
                return ocid_error_msg(err, EINVAL, "unknown namespace flags 0x%x", cfg->flags & ~NS_ALL);
        for (size_t i = 0; i < ELEMENTSOF(ns_kinds); i++)
                if (cfg->flags & ns_kinds[i].flag)
                        p->clone_flags |= ns_kinds[i].clone_flag;

        if (cfg->hostname) {
                if (!(cfg->flags & NS_UTS))
                        return ocid_error_msg(err, EINVAL,
                                              "hostname '%s' needs a UTS namespace of the pod's own", cfg->hostname);
                r = podfiles_hostname_check(cfg->hostname, err);
                if (r < 0)
                        return r;
                p->hostname = cfg->hostname;
                p->hostname_len = strlen(cfg->hostname);
        }

        if (cfg->n_sysctls > 0 && !cfg->sysctls)
                return ocid_error_msg(err, EINVAL, "%zu sysctls without a list", cfg->n_sysctls);
        p->paths = xcalloc(cfg->n_sysctls + 1, sizeof(*p->paths));
        p->keys = xcalloc(cfg->n_sysctls + 1, sizeof(*p->keys));
        p->values = xcalloc(cfg->n_sysctls + 1, sizeof(*p->values));
        p->value_lens = xcalloc(cfg->n_sysctls + 1, sizeof(*p->value_lens));
        for (size_t i = 0; i < cfg->n_sysctls; i++) {
                const struct ns_sysctl *s = &cfg->sysctls[i];
                _cleanup_free_ char *key = NULL;
                int ns;

                ns = sysctl_normalize(s->key, &key, err);
                if (ns < 0)
                        return ns;
                if (ns == SYSCTL_NS_NET && !(cfg->flags & NS_NET))
                        return ocid_error_msg(err, EINVAL,
                                              "sysctl '%s' needs a network namespace of the pod's own", s->key);
                if (ns == SYSCTL_NS_IPC && !(cfg->flags & NS_IPC))
                        return ocid_error_msg(err, EINVAL,
                                              "sysctl '%s' needs an IPC namespace of the pod's own", s->key);
                if (ns != SYSCTL_NS_NET && ns != SYSCTL_NS_IPC)
                        return ocid_error_msg(err, EINVAL, "sysctl '%s' is not namespaced", s->key);
                r = sysctl_value_check(s->value, err);
                if (r < 0)
                        return ocid_error_prefix(err, "sysctl '%s'", s->key);

                p->paths[i] = sysctl_proc_path(key);
                p->keys[i] = TAKE_PTR(key);
                p->values[i] = s->value;
                p->value_lens[i] = strlen(s->value);
                p->n++;
        }
        return 0;
}

/* The helper's report: step 0 is success. */
#define STEP_OK       0
#define STEP_UNSHARE  1
#define STEP_HOSTNAME 2
#define STEP_SYSCTL   3

struct pin_report {
        int32_t step;
        int32_t error;
        uint32_t index;
};

static ssize_t write_retry(int fd, const void *buf, size_t len)
{
        ssize_t n;

        do
                n = write(fd, buf, len);
        while (n < 0 && errno == EINTR);
        return n;
}

/* Closes every descriptor above 2 but lo and hi (lo < hi). System calls
 * only: it runs in the forked child. */
static void close_fds_except(int lo, int hi)
{
        if (lo > 3 && close_range(3, (unsigned) lo - 1, 0) < 0)
                for (int fd = 3; fd < lo; fd++)
                        (void) close(fd);
        if (hi > lo + 1 && close_range((unsigned) lo + 1, (unsigned) hi - 1, 0) < 0)
                for (int fd = lo + 1; fd < hi; fd++)
                        (void) close(fd);
        if (close_range((unsigned) hi + 1, ~0U, 0) < 0)
                for (int fd = hi + 1; fd < 65536; fd++)
                        (void) close(fd);
}

/* Runs in the forked child: system calls only. */
static _Noreturn void pin_child(const struct pin_plan *p, int report_fd, int hold_fd)
{
        struct pin_report rep = { STEP_OK, 0, 0 };
        int lo = report_fd < hold_fd ? report_fd : hold_fd;
        int hi = report_fd < hold_fd ? hold_fd : report_fd;
        ssize_t n;
        char c;

        /* The fork copied every descriptor of the daemon, among them the
         * pipes of pins other threads are making at the same moment: holding
         * one of those would keep that pin's helper waiting for as long as
         * this one lives. Keep only our own two (and 0-2). */
        close_fds_except(lo, hi);
        if (unshare(p->clone_flags) < 0) {
                rep = (struct pin_report) { STEP_UNSHARE, errno, 0 };
                goto report;
        }
        if (p->hostname && sethostname(p->hostname, p->hostname_len) < 0) {
                rep = (struct pin_report) { STEP_HOSTNAME, errno, 0 };
                goto report;
        }
        for (size_t i = 0; i < p->n; i++) {
                /* /proc/sys/net and the IPC keys resolve to the namespaces of
                 * the process that opens them: this one's, now. */
                int fd = open(p->paths[i], O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

                if (fd < 0) {
                        rep = (struct pin_report) { STEP_SYSCTL, errno, (uint32_t) i };
                        goto report;
                }
                n = write_retry(fd, p->values[i], p->value_lens[i]);
                if (n < 0 || (size_t) n != p->value_lens[i]) {
                        rep = (struct pin_report) { STEP_SYSCTL, n < 0 ? errno : EIO, (uint32_t) i };
                        (void) close(fd);
                        goto report;
                }
                if (close(fd) < 0) {
                        rep = (struct pin_report) { STEP_SYSCTL, errno, (uint32_t) i };
                        goto report;
                }
        }
report:
        if (write_retry(report_fd, &rep, sizeof(rep)) != (ssize_t) sizeof(rep) || rep.step != STEP_OK)
                _exit(1);
        /* Stay alive, so that /proc/<pid>/ns/ stays valid, until the parent
         * has mounted the pins and closes its end (or dies). */
        do
                n = read(hold_fd, &c, 1);
        while (n < 0 && errno == EINTR);
        _exit(0);
}

static int report_to_error(const struct pin_plan *p, const struct pin_report *rep, struct ocid_error **err)
{
        int code = rep->error > 0 ? rep->error : EIO;

        switch (rep->step) {
        case STEP_UNSHARE:
                return ocid_error_set(err, code, "create namespaces");
        case STEP_HOSTNAME:
                return ocid_error_set(err, code, "set hostname '%s'", p->hostname);
        case STEP_SYSCTL:
                if (rep->index < p->n)
                        return ocid_error_set(err, code, "set sysctl '%s' to '%s'", p->keys[rep->index],
                                              p->values[rep->index]);
                break;
        default:
                break;
        }
        return ocid_error_msg(err, EPROTO, "namespace helper sent a malformed report");
}

static void reap(pid_t pid, bool kill_first)
{
        if (kill_first)
                (void) kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

/* Removes one pin: unmount (all stacked mounts), unlink. Missing and
 * unmounted pins are fine. */
static int unpin_one(const char *path, struct ocid_error **err)
{
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
        if (unlink(path) < 0 && errno != ENOENT)
                return ocid_error_set(err, errno, "remove '%s'", path);
        return 0;
}

struct pin_progress {
        char *dir;
        bool dir_created;
        char *files[ELEMENTSOF(ns_kinds)];   /* created by this call */
};

static void pin_rollback(struct pin_progress *pr)
{
        for (size_t i = ELEMENTSOF(ns_kinds); i-- > 0;) {
                if (!pr->files[i])
                        continue;
                (void) unpin_one(pr->files[i], NULL);
                free(pr->files[i]);
                pr->files[i] = NULL;
        }
        if (pr->dir_created)
                (void) rmdir(pr->dir);
}

static void pin_progress_done(struct pin_progress *pr)
{
        for (size_t i = 0; i < ELEMENTSOF(ns_kinds); i++)
                free(pr->files[i]);
        free(pr->dir);
}

static int pin_mount_all(pid_t pid, unsigned flags, struct pin_progress *pr, struct ocid_error **err)
{
        for (size_t i = 0; i < ELEMENTSOF(ns_kinds); i++) {
                _cleanup_free_ char *path = NULL, *src = NULL;
                int fd;

                if (!(flags & ns_kinds[i].flag))
                        continue;
                path = ocid_path_join(pr->dir, ns_kinds[i].name);
                fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
                if (fd < 0)
                        return ocid_error_set(err, errno, "create pin '%s'", path);
                (void) close(fd);
                pr->files[i] = xstrdup(path);

                src = xasprintf("/proc/%d/ns/%s", (int) pid, ns_kinds[i].name);
                if (mount(src, path, NULL, MS_BIND, NULL) < 0)
                        return ocid_error_set(err, errno, "bind mount '%s' onto '%s'", src, path);
        }
        return 0;
}

int ns_pin(const char *pod_dir, const struct ns_pin_config *cfg, struct ocid_error **err)
{
        _cleanup_(pin_plan_done) struct pin_plan plan = { 0 };
        _cleanup_(pin_progress_done) struct pin_progress pr = { 0 };
        _cleanup_close_ int report_r = -1, report_w = -1, hold_r = -1, hold_w = -1;
        struct pin_report rep;
        int fds[2], r;
        ssize_t n;
        pid_t pid;

        r = pin_plan_build(cfg, &plan, err);
        if (r < 0)
                return ocid_error_prefix(err, "pin namespaces");
        if (cfg->flags == 0)
                return 0;

        pr.dir = ocid_path_join(pod_dir, NS_DIR);
        r = mkdir_exist_ok(pr.dir, 0711, err);
        if (r < 0)
                return ocid_error_prefix(err, "pin namespaces");
        pr.dir_created = r > 0;

        if (pipe2(fds, O_CLOEXEC) < 0) {
                r = ocid_error_set(err, errno, "pin namespaces: pipe");
                goto fail;
        }
        report_r = fds[0];
        report_w = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0) {
                r = ocid_error_set(err, errno, "pin namespaces: pipe");
                goto fail;
        }
        hold_r = fds[0];
        hold_w = fds[1];

        pid = fork();
        if (pid < 0) {
                r = ocid_error_set(err, errno, "pin namespaces: fork");
                goto fail;
        }
        if (pid == 0) {
                (void) close(report_r);
                (void) close(hold_w);
                pin_child(&plan, report_w, hold_r);
        }
        (void) close(TAKE_FD(report_w));
        (void) close(TAKE_FD(hold_r));

        do
                n = read(report_r, &rep, sizeof(rep));
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t) sizeof(rep)) {
                r = n < 0 ? ocid_error_set(err, errno, "pin namespaces: read the helper's report")
                          : ocid_error_msg(err, EIO, "pin namespaces: the helper exited without a report");
                reap(pid, true);
                goto fail;
        }
        if (rep.step != STEP_OK) {
                r = report_to_error(&plan, &rep, err);
                reap(pid, true);
                r = ocid_error_prefix(err, "pin namespaces");
                goto fail;
        }

        r = pin_mount_all(pid, cfg->flags, &pr, err);
        (void) close(TAKE_FD(hold_w));  /* lets the helper exit */
        reap(pid, r < 0);
        if (r < 0) {
                r = ocid_error_prefix(err, "pin namespaces");
                goto fail;
        }
        return 0;

fail:
        pin_rollback(&pr);
        return r;
}

int ns_unpin(const char *pod_dir, struct ocid_error **err)
{
        _cleanup_free_ char *dir = ocid_path_join(pod_dir, NS_DIR);
        int r;

        for (size_t i = 0; i < ELEMENTSOF(ns_kinds); i++) {
                _cleanup_free_ char *path = ocid_path_join(dir, ns_kinds[i].name);

                r = unpin_one(path, err);
                if (r < 0)
                        return ocid_error_prefix(err, "unpin namespaces");
        }
        if (rmdir(dir) < 0 && errno != ENOENT)
                return ocid_error_set(err, errno, "unpin namespaces: remove '%s'", dir);
        return 0;
}
