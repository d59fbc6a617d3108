/* SPDX-License-Identifier: Apache-2.0 */
/* Air-gapped image import (OCI image layouts, docker-archives) and the
 * `ocid image` command line. docs/images.md, "Air-gapped nodes". */

#define OCID_LOG_CATEGORY "image"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h> /* flock */
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "config.h"
#include "daemon.h"
#include "image/digest.h"
#include "image/import.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "modules.h"

/* Bounds against hostile input. */
#define IMPORT_MAX_MEMBERS      100000          /* tar members */
#define IMPORT_MAX_LINK_DEPTH   40              /* links followed to reach a member */
#define IMPORT_LAYOUT_FILE_MAX  4096            /* oci-layout */
#define IMPORT_NESTED_INDEX_MAX 4               /* index -> index -> ... -> manifest */
#define IMPORT_BUF_SIZE         (128u * 1024)
/* A staging directory of a dead import is removed once it is this old. */
#define IMPORT_STALE_NS         (INT64_C(60) * 1000000000)

#define IMPORT_STAGING_PREFIX   "ocid-import-"
#define IMPORT_ANNOTATION_REF   "org.opencontainers.image.ref.name"
#define IMPORT_ANNOTATION_CTRD  "io.containerd.image.name"

OCID_DEFINE_CLEANUP_FUNC(struct archive *, archive_read_free)
#define _cleanup_archive_read_ _cleanup_(archive_read_freep)

static void import_warn(const struct image_import_options *o, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void import_warn(const struct image_import_options *o, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        if (!o->warn)
                return;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (msg)
                o->warn(o->warn_userdata, msg);
}

/* ---- small helpers ----------------------------------------------------- */

/* Normalises a path inside the input. Components are split at '/'; empty
 * ones and "." are dropped. ".." climbs one component when allow_dotdot
 * (a link target) and is refused otherwise; climbing above the top and
 * absolute paths are refused always. base (may be NULL) is the normalised
 * directory a relative path starts from. The result has no leading or
 * trailing '/'; "" is the top itself. */
static int import_path_normalize(const char *base, const char *p, bool allow_dotdot, char **ret,
                                 struct ocid_error **err)
{
        _cleanup_free_ char *copy = NULL;
        _cleanup_free_ char *out = NULL;
        size_t len = 0;
        char *save = NULL;

        if (p[0] == '/')
                return ocid_error_msg(err, EINVAL, "'%s' is an absolute path", p);
        copy = base && *base ? xasprintf("%s/%s", base, p) : xstrdup(p);
        out = xzalloc(strlen(copy) + 1);
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (streq(c, "."))
                        continue;
                if (streq(c, "..")) {
                        char *slash;

                        if (!allow_dotdot)
                                return ocid_error_msg(err, EINVAL, "'%s' contains '..'", p);
                        if (len == 0)
                                return ocid_error_msg(err, EINVAL, "'%s' leads outside the archive", p);
                        slash = strrchr(out, '/');
                        len = slash ? (size_t) (slash - out) : 0;
                        out[len] = '\0';
                        continue;
                }
                if (len > 0)
                        out[len++] = '/';
                memcpy(out + len, c, strlen(c) + 1);
                len += strlen(c);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* The tag grammar of the distribution reference. */
static bool import_tag_is_valid(const char *t)
{
        size_t n = strlen(t);

        if (n == 0 || n > 128)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = t[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                          c == '_' || (i > 0 && (c == '.' || c == '-'));

                if (!ok)
                        return false;
        }
        return true;
}

enum import_kind {
        IMPORT_KIND_OTHER,
        IMPORT_KIND_INDEX,
        IMPORT_KIND_IMAGE,
};

static enum import_kind import_media_kind(const char *media_type)
{
        if (streq(media_type, MEDIA_TYPE_OCI_INDEX) || streq(media_type, MEDIA_TYPE_DOCKER_LIST))
                return IMPORT_KIND_INDEX;
        if (streq(media_type, MEDIA_TYPE_OCI_MANIFEST) || streq(media_type, MEDIA_TYPE_DOCKER_MANIFEST))
                return IMPORT_KIND_IMAGE;
        return IMPORT_KIND_OTHER;
}

/* Parses one JSON document of at most max bytes: bounded nesting, no NUL,
 * nothing after it. `what` names it in errors. */
static int import_json_parse(const char *buf, size_t len, const char *what, struct json_object **ret,
                             struct ocid_error **err)
{
        struct json_tokener *tok;
        struct json_object *obj;
        enum json_tokener_error jerr;
        size_t end;

        if (memchr(buf, '\0', len))
                return ocid_error_msg(err, EINVAL, "%s: not JSON (contains a NUL byte)", what);
        tok = json_tokener_new_ex(MANIFEST_JSON_MAX_DEPTH);
        if (!tok)
                return ocid_error_set(err, ENOMEM, "%s: create a JSON parser", what);
        obj = json_tokener_parse_ex(tok, buf, (int) len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!obj || jerr != json_tokener_success) {
                json_object_put(obj);
                return ocid_error_msg(err, EINVAL, "%s: bad JSON: %s", what,
                                      jerr == json_tokener_continue ? "unexpected end of data"
                                                                     : json_tokener_error_desc(jerr));
        }
        for (; end < len; end++)
                if (!strchr(" \t\r\n", buf[end])) {
                        json_object_put(obj);
                        return ocid_error_msg(err, EINVAL, "%s: bad JSON: data after the document", what);
                }
        *ret = obj;
        return 0;
}

/* Reads fd to EOF, at most max bytes (-EFBIG beyond). *ret is
 * NUL-terminated. */
static int import_read_fd(int fd, size_t max, const char *what, char **ret, size_t *ret_len,
                          struct ocid_error **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, alloc = 0;

        for (;;) {
                ssize_t n;

                if (alloc - len < 4096 + 1) {
                        alloc = alloc ? alloc * 2 : 16384;
                        buf = xrealloc(buf, alloc);
                }
                n = read(fd, buf + len, alloc - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return ocid_error_set(err, errno, "read %s", what);
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > max)
                        return ocid_error_msg(err, EFBIG, "%s is larger than %zu bytes", what, max);
        }
        buf = xrealloc(buf, len + 1);
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

/* ---- the input: a layout directory or an unpacked tar ------------------- */

enum member_type {
        MEMBER_FILE,
        MEMBER_SYMLINK,
        MEMBER_HARDLINK,
};

struct import_member {
        char *path;             /* normalised */
        enum member_type type;
        char *target;           /* symlink: as written; hardlink: normalised */
        size_t file;            /* MEMBER_FILE: the staged file "f<file>" */
};

struct import_source {
        const char *path;       /* as given, for messages */
        int dir_fd;             /* the layout directory, or the staging directory */
        char *staging;          /* a tar's staging directory, removed at the end */
        struct import_member *members;
        size_t n_members;
};

static void import_source_done(struct import_source *src)
{
        if (src->dir_fd >= 0)
                (void) close(src->dir_fd);
        src->dir_fd = -1;
        if (src->staging) {
                _cleanup_error_ struct ocid_error *e = NULL;

                if (ocid_rm_rf(src->staging, &e) < 0)
                        ocid_log(OCID_LOG_WARNING, "remove '%s': %s, ignoring", src->staging,
                                 ocid_error_message(&e));
                free(src->staging);
                src->staging = NULL;
        }
        for (size_t i = 0; i < src->n_members; i++) {
                free(src->members[i].path);
                free(src->members[i].target);
        }
        free(src->members);
        src->members = NULL;
        src->n_members = 0;
}

/* Removes staging directories that imports which died left behind: those
 * no live import holds locked and that are older than a minute. */
static void import_clean_stale(const char *tmp_dir)
{
        _cleanup_closedir_ DIR *d = opendir(tmp_dir);
        struct dirent *de;
        int64_t now = ocid_now_realtime_ns();

        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_close_ int fd = -1;
                _cleanup_free_ char *p = NULL;
                _cleanup_error_ struct ocid_error *e = NULL;
                struct stat st;

                if (!ocid_startswith(de->d_name, IMPORT_STAGING_PREFIX))
                        continue;
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 || fstat(fd, &st) < 0)
                        continue;
                if (now - ((int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec) < IMPORT_STALE_NS)
                        continue;
                if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                        continue;
                p = ocid_path_join(tmp_dir, de->d_name);
                if (ocid_rm_rf(p, &e) < 0)
                        ocid_log(OCID_LOG_DEBUG, "remove stale '%s': %s", p, ocid_error_message(&e));
        }
}

static const struct import_member *import_source_find(const struct import_source *src, const char *path)
{
        /* The last member of a name wins, as when a tar is unpacked. */
        for (size_t i = src->n_members; i > 0; i--)
                if (streq(src->members[i - 1].path, path))
                        return &src->members[i - 1];
        return NULL;
}

static struct import_member *import_source_add(struct import_source *src, const char *path, enum member_type type)
{
        struct import_member *m;

        src->members = xreallocarray(src->members, src->n_members + 1, sizeof(*src->members));
        m = &src->members[src->n_members++];
        *m = (struct import_member) { .path = xstrdup(path), .type = type };
        return m;
}

static int import_stage_member(struct import_source *src, struct archive *a, struct archive_entry *e,
                               struct ocid_error **err)
{
        const char *name = archive_entry_pathname(e);
        const char *hardlink = archive_entry_hardlink(e);
        _cleanup_free_ char *path = NULL;
        struct import_member *m;
        mode_t type = archive_entry_filetype(e);
        int r;

        if (!name)
                return ocid_error_msg(err, EINVAL, "a member has no name");
        r = import_path_normalize(NULL, name, false, &path, err);
        if (r < 0)
                return ocid_error_prefix(err, "unsafe member name");
        if (hardlink) {
                _cleanup_free_ char *target = NULL;

                r = import_path_normalize(NULL, hardlink, false, &target, err);
                if (r < 0)
                        return ocid_error_prefix(err, "member '%s': unsafe hard link target", name);
                m = import_source_add(src, path, MEMBER_HARDLINK);
                m->target = TAKE_PTR(target);
                return 0;
        }
        if (type == AE_IFLNK) {
                const char *target = archive_entry_symlink(e);

                if (!target)
                        return ocid_error_msg(err, EINVAL, "member '%s': symbolic link without a target", name);
                m = import_source_add(src, path, MEMBER_SYMLINK);
                m->target = xstrdup(target);
                return 0;
        }
        if (type == AE_IFREG) {
                _cleanup_free_ char *fname = xasprintf("f%zu", src->n_members);
                _cleanup_close_ int fd = -1;

                fd = openat(src->dir_fd, fname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd < 0)
                        return ocid_error_set(err, errno, "create '%s/%s'", src->staging, fname);
                r = archive_read_data_into_fd(a, fd);
                if (r < ARCHIVE_WARN)
                        return ocid_error_msg(err, archive_errno(a) > 0 ? archive_errno(a) : EIO,
                                              "member '%s': %s", name, archive_error_string(a));
                if (close(TAKE_FD(fd)) < 0)
                        return ocid_error_set(err, errno, "write '%s/%s'", src->staging, fname);
                m = import_source_add(src, path, MEMBER_FILE);
                m->file = src->n_members - 1;
                return 0;
        }
        /* Directories need no record; devices, fifos and sockets are no
         * part of an image archive's format and are left out. */
        return 0;
}

/* Unpacks the tar at src->path ("-": standard input) into a fresh staging
 * directory: regular files as numbered files, links as records. Nothing is
 * created from a member's name, so no name can reach outside. */
static int import_source_stage(struct import_source *src, const char *tmp_dir, struct ocid_error **err)
{
        _cleanup_archive_read_ struct archive *a = NULL;
        _cleanup_close_ int in = -1;
        struct archive_entry *e;
        size_t count = 0;
        int r;

        r = ocid_mkdir_p(tmp_dir, 0700, err);
        if (r < 0)
                return r;
        import_clean_stale(tmp_dir);
        src->staging = xasprintf("%s/" IMPORT_STAGING_PREFIX "XXXXXX", tmp_dir);
        if (!mkdtemp(src->staging)) {
                r = ocid_error_set(err, errno, "create a directory in '%s'", tmp_dir);
                free(TAKE_PTR(src->staging));
                return r;
        }
        src->dir_fd = open(src->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (src->dir_fd < 0)
                return ocid_error_set(err, errno, "open '%s'", src->staging);
        /* Held until the end: tells import_clean_stale that we are alive. */
        if (flock(src->dir_fd, LOCK_EX | LOCK_NB) < 0)
                return ocid_error_set(err, errno, "lock '%s'", src->staging);

        if (streq(src->path, "-"))
                in = dup(STDIN_FILENO);
        else
                in = open(src->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (in < 0)
                return ocid_error_set(err, errno, "open");

        a = archive_read_new();
        if (!a)
                return ocid_error_set(err, ENOMEM, "create an archive reader");
        /* The tar formats and the usual compressions; never the filters
         * that run an external program. */
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_bzip2(a);
        archive_read_support_filter_xz(a);
        archive_read_support_filter_zstd(a);
        if (archive_read_open_fd(a, in, IMPORT_BUF_SIZE) != ARCHIVE_OK)
                return ocid_error_msg(err, EINVAL, "not a tar archive: %s", archive_error_string(a));
        for (;;) {
                r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN) {
                        if (count == 0)
                                return ocid_error_msg(err, EINVAL, "not a tar archive: %s", archive_error_string(a));
                        return ocid_error_msg(err, EINVAL, "read the tar: %s", archive_error_string(a));
                }
                if (++count > IMPORT_MAX_MEMBERS)
                        return ocid_error_msg(err, E2BIG, "the tar has more than %u members", IMPORT_MAX_MEMBERS);
                r = import_stage_member(src, a, e, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Opens `rel` (a normalised path) for reading: in a layout directory
 * below it, in a tar the member of that name, following the archive's own
 * links within the archive. */
static int import_source_open(const struct import_source *src, const char *rel, int *ret_fd,
                              struct ocid_error **err)
{
        _cleanup_free_ char *cur = xstrdup(rel);
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (!src->staging) {
                /* O_NONBLOCK: a fifo must not block the open; it is then
                 * refused as not a regular file. */
                fd = openat(src->dir_fd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0) {
                        if (errno == ENOENT)
                                return ocid_error_msg(err, ENOENT, "'%s' is missing", rel);
                        return ocid_error_set(err, errno, "open '%s'", rel);
                }
                if (fstat(fd, &st) < 0)
                        return ocid_error_set(err, errno, "stat '%s'", rel);
                if (!S_ISREG(st.st_mode))
                        return ocid_error_msg(err, EINVAL, "'%s' is not a regular file", rel);
                *ret_fd = TAKE_FD(fd);
                return 0;
        }

        for (unsigned depth = 0; depth <= IMPORT_MAX_LINK_DEPTH; depth++) {
                const struct import_member *m = import_source_find(src, cur);
                _cleanup_free_ char *dir = NULL, *next = NULL, *fname = NULL;
                char *slash;
                int r;

                if (!m) {
                        if (streq(cur, rel))
                                return ocid_error_msg(err, ENOENT, "'%s' is missing", rel);
                        return ocid_error_msg(err, ENOENT, "'%s' leads to '%s', which is missing", rel, cur);
                }
                switch (m->type) {
                case MEMBER_FILE:
                        fname = xasprintf("f%zu", m->file);
                        fd = openat(src->dir_fd, fname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                        if (fd < 0)
                                return ocid_error_set(err, errno, "open '%s/%s'", src->staging, fname);
                        *ret_fd = TAKE_FD(fd);
                        return 0;
                case MEMBER_HARDLINK:
                        next = xstrdup(m->target);
                        break;
                case MEMBER_SYMLINK:
                        dir = xstrdup(m->path);
                        slash = strrchr(dir, '/');
                        if (slash)
                                *slash = '\0';
                        else
                                dir[0] = '\0';
                        r = import_path_normalize(dir, m->target, true, &next, err);
                        if (r < 0)
                                return ocid_error_prefix(err, "link '%s' -> '%s'", m->path, m->target);
                        break;
                }
                free(cur);
                cur = TAKE_PTR(next);
        }
        return ocid_error_msg(err, ELOOP, "'%s': too many levels of links", rel);
}

static int import_source_open_input(struct import_source *src, const char *path, const char *tmp_dir,
                                    struct ocid_error **err)
{
        struct stat st;

        src->path = path;
        if (streq(path, "-"))
                return import_source_stage(src, tmp_dir, err);
        if (stat(path, &st) < 0)
                return ocid_error_set(err, errno, "open");
        if (S_ISDIR(st.st_mode)) {
                src->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (src->dir_fd < 0)
                        return ocid_error_set(err, errno, "open");
                return 0;
        }
        if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
                return ocid_error_msg(err, EINVAL, "neither a directory nor a regular file");
        return import_source_stage(src, tmp_dir, err);
}

static bool import_source_has(const struct import_source *src, const char *rel)
{
        struct stat st;

        if (src->staging)
                return import_source_find(src, rel) != NULL;
        return fstatat(src->dir_fd, rel, &st, 0) == 0;
}

/* ---- reading and checking content ---------------------------------------- */

static char *blob_rel_path(const char *digest)
{
        return xasprintf("blobs/sha256/%s", digest_hex(digest));
}

/* Reads the document `rel`, at most max bytes; when digest is set, checks
 * it (and size, when >= 0) against the content. */
static int import_read_doc(const struct import_source *src, const char *rel, const char *digest, int64_t size,
                           size_t max, char **ret, size_t *ret_len, struct ocid_error **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        char actual[DIGEST_STRING_SIZE];
        size_t len = 0;
        int r;

        r = import_source_open(src, rel, &fd, err);
        if (r < 0)
                return r;
        r = import_read_fd(fd, max, rel, &buf, &len, err);
        if (r < 0)
                return r;
        if (digest) {
                if (size >= 0 && (uint64_t) size != len)
                        return ocid_error_msg(err, EBADMSG, "'%s' has %zu bytes, but its descriptor says %" PRId64,
                                              rel, len, size);
                r = digest_buffer(buf, len, actual, err);
                if (r < 0)
                        return r;
                if (!digest_equal(digest, actual))
                        return ocid_error_msg(err, EBADMSG, "digest mismatch for %s ('%s'): content is %s", digest,
                                              rel, actual);
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* Reads fd for libarchive, hashing every byte as it goes by. */
struct hashing_reader {
        int fd;
        struct digester *d;
        uint64_t count;
        char buf[IMPORT_BUF_SIZE];
};

static la_ssize_t hashing_reader_read(struct archive *a, void *userdata, const void **buf)
{
        struct hashing_reader *h = userdata;
        ssize_t n;

        do
                n = read(h->fd, h->buf, sizeof(h->buf));
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                if (a)
                        archive_set_error(a, errno, "read: %s", strerror(errno));
                return -1;
        }
        if (n > 0 && digester_update(h->d, h->buf, (size_t) n, NULL) < 0) {
                if (a)
                        archive_set_error(a, EIO, "hashing failed");
                return -1;
        }
        h->count += (uint64_t) n;
        *buf = h->buf;
        return n;
}

static int layer_magic(int fd, enum layer_compression *ret, struct ocid_error **err)
{
        unsigned char m[4] = { 0 };
        ssize_t n = pread(fd, m, sizeof(m), 0);

        if (n < 0)
                return ocid_error_set(err, errno, "read");
        if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
                *ret = LAYER_COMPRESSION_GZIP;
        else if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
                *ret = LAYER_COMPRESSION_ZSTD;
        else
                *ret = LAYER_COMPRESSION_NONE;
        return 0;
}

/* Reads a layer blob once, computing the digest of its bytes and the
 * digest of its uncompressed content (the diff_id). *compression is the
 * compression expected, or with detect the one found (gzip and zstd by
 * their magic numbers, else none). */
static int layer_scan(int fd, bool detect, enum layer_compression *compression, char ret_digest[DIGEST_STRING_SIZE],
                      char ret_diff_id[DIGEST_STRING_SIZE], uint64_t *ret_size, struct ocid_error **err)
{
        _cleanup_archive_read_ struct archive *a = NULL;
        _cleanup_digester_ struct digester *diff = NULL;
        _cleanup_free_ struct hashing_reader *h = NULL;
        _cleanup_free_ char *out = NULL;
        struct archive_entry *e;
        int r, want;

        if (detect) {
                r = layer_magic(fd, compression, err);
                if (r < 0)
                        return r;
        }
        if (*compression == LAYER_COMPRESSION_NONE) {
                r = digest_fd(fd, ret_digest, ret_size, err);
                if (r < 0)
                        return r;
                memcpy(ret_diff_id, ret_digest, DIGEST_STRING_SIZE);
                return 0;
        }

        h = xzalloc(sizeof(*h));
        h->fd = fd;
        r = digester_new(&h->d, err);
        if (r >= 0)
                r = digester_new(&diff, err);
        if (r < 0)
                goto finish;
        a = archive_read_new();
        if (!a) {
                r = ocid_error_set(err, ENOMEM, "create an archive reader");
                goto finish;
        }
        /* Only the filter the layer claims, and the raw format: the data
         * is hashed as it is, whatever it holds. */
        if (*compression == LAYER_COMPRESSION_GZIP) {
                archive_read_support_filter_gzip(a);
                want = ARCHIVE_FILTER_GZIP;
        } else {
                archive_read_support_filter_zstd(a);
                want = ARCHIVE_FILTER_ZSTD;
        }
        archive_read_support_format_raw(a);
        if (archive_read_open(a, h, NULL, hashing_reader_read, NULL) != ARCHIVE_OK) {
                r = ocid_error_msg(err, EBADMSG, "%s", archive_error_string(a));
                goto finish;
        }
        if (archive_filter_code(a, 0) != want) {
                r = ocid_error_msg(err, EBADMSG, "not %s-compressed data",
                                   layer_compression_to_string(*compression));
                goto finish;
        }
        r = archive_read_next_header(a, &e);
        if (r != ARCHIVE_EOF) {
                if (r < ARCHIVE_WARN) {
                        r = ocid_error_msg(err, EBADMSG, "%s", archive_error_string(a));
                        goto finish;
                }
                out = xmalloc(IMPORT_BUF_SIZE);
                for (;;) {
                        la_ssize_t n = archive_read_data(a, out, IMPORT_BUF_SIZE);

                        if (n == 0)
                                break;
                        if (n < 0) {
                                r = ocid_error_msg(err, EBADMSG, "decompress: %s", archive_error_string(a));
                                goto finish;
                        }
                        r = digester_update(diff, out, (size_t) n, err);
                        if (r < 0)
                                goto finish;
                }
        }
        /* What follows the compressed stream is part of the blob too. */
        for (;;) {
                const void *b;
                la_ssize_t n = hashing_reader_read(NULL, h, &b);

                if (n == 0)
                        break;
                if (n < 0) {
                        r = ocid_error_set(err, errno, "read");
                        goto finish;
                }
        }
        r = digester_final(h->d, ret_digest, err);
        if (r >= 0)
                r = digester_final(diff, ret_diff_id, err);
        if (r >= 0 && ret_size)
                *ret_size = h->count;
finish:
        if (h)
                digester_free(h->d);
        return r < 0 ? r : 0;
}

/* ---- the plan: what will be stored -------------------------------------- */

struct import_blob {
        char *digest;
        int64_t size;
        char *rel;              /* where it is in the input, or NULL: */
        char *data;             /* the document in memory */
        size_t len;
};

struct import_image {
        char *what;             /* "index.json manifests[0]", for messages */
        char *top_digest;       /* what the input names: the index or the manifest */
        char *manifest_digest;
        bool registry_digest;   /* top_digest is a registry's digest: the names get repo digests */
        struct import_blob *blobs;      /* every blob to store, documents first */
        size_t n_blobs;
        char **extra_blobs;     /* indexes the image was selected from */
        char **names;           /* references from the input, as written */
        char **tags;            /* bare tags from the input */
        char **repo_tags;       /* the final names */
        char **repo_digests;
};

struct import_plan {
        struct import_image *images;
        size_t n_images;
        char **checked_layers;  /* "<digest> <diff_id>" of every layer blob already read */
        struct platform host;
};

static void import_image_done(struct import_image *im)
{
        free(im->what);
        free(im->top_digest);
        free(im->manifest_digest);
        for (size_t i = 0; i < im->n_blobs; i++) {
                free(im->blobs[i].digest);
                free(im->blobs[i].rel);
                free(im->blobs[i].data);
        }
        free(im->blobs);
        ocid_strv_free(im->extra_blobs);
        ocid_strv_free(im->names);
        ocid_strv_free(im->tags);
        ocid_strv_free(im->repo_tags);
        ocid_strv_free(im->repo_digests);
}

static void import_plan_done(struct import_plan *p)
{
        for (size_t i = 0; i < p->n_images; i++)
                import_image_done(&p->images[i]);
        free(p->images);
        ocid_strv_free(p->checked_layers);
        platform_done(&p->host);
}

static void strv_add_unique(char ***v, const char *s)
{
        if (!ocid_strv_contains(*v, s))
                ocid_strv_push(v, s);
}

static void import_image_add_blob(struct import_image *im, const char *digest, int64_t size, const char *rel,
                                  char *data, size_t len)
{
        struct import_blob *b;

        for (size_t i = 0; i < im->n_blobs; i++)
                if (streq(im->blobs[i].digest, digest)) {
                        free(data);
                        return;
                }
        im->blobs = xreallocarray(im->blobs, im->n_blobs + 1, sizeof(*im->blobs));
        b = &im->blobs[im->n_blobs++];
        *b = (struct import_blob) {
                .digest = xstrdup(digest), .size = size, .rel = xstrdup(rel), .data = data, .len = len,
        };
}

/* Checks one layer blob at `rel`: its digest (when known) and size, and
 * its uncompressed content against diff_id. Returns the digest and the
 * compression found (with detect). */
static int import_check_layer(struct import_plan *p, const struct import_source *src, const char *rel,
                              const char *digest, int64_t size, const char *diff_id, bool detect,
                              enum layer_compression *compression, char ret_digest[DIGEST_STRING_SIZE],
                              uint64_t *ret_size, struct ocid_error **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *key = NULL;
        char actual[DIGEST_STRING_SIZE], actual_diff[DIGEST_STRING_SIZE];
        uint64_t n = 0;
        int r;

        r = import_source_open(src, rel, &fd, err);
        if (r < 0)
                return r;
        r = layer_scan(fd, detect, compression, actual, actual_diff, &n, err);
        if (r < 0)
                return ocid_error_prefix(err, "layer '%s'", rel);
        if (digest && !digest_equal(digest, actual))
                return ocid_error_msg(err, EBADMSG, "digest mismatch for %s ('%s'): content is %s", digest, rel,
                                      actual);
        if (size >= 0 && (uint64_t) size != n)
                return ocid_error_msg(err, EBADMSG, "layer '%s' has %" PRIu64 " bytes, but its descriptor says %" PRId64,
                                      rel, n, size);
        if (!digest_equal(diff_id, actual_diff))
                return ocid_error_msg(err, EBADMSG,
                                      "layer '%s' (%s): diff_id mismatch: the config says %s, the content is %s", rel,
                                      actual, diff_id, actual_diff);
        key = xasprintf("%s %s", actual, actual_diff);
        strv_add_unique(&p->checked_layers, key);
        memcpy(ret_digest, actual, DIGEST_STRING_SIZE);
        *ret_size = n;
        return 0;
}

static bool import_layer_was_checked(const struct import_plan *p, const char *digest, const char *diff_id)
{
        _cleanup_free_ char *key = xasprintf("%s %s", digest, diff_id);

        return ocid_strv_contains(p->checked_layers, key);
}

/* The image manifest `digest`: reads and checks it, its config and every
 * layer, adding them to im. */
static int import_image_manifest(struct import_plan *p, const struct import_source *src, struct import_image *im,
                                 const struct descriptor *d, struct ocid_error **err)
{
        _cleanup_image_manifest_ struct image_manifest *m = NULL;
        _cleanup_image_config_ struct image_config *c = NULL;
        _cleanup_free_ char *mrel = blob_rel_path(d->digest), *crel = NULL, *mbuf = NULL, *cbuf = NULL;
        size_t mlen, clen;
        int r;

        r = import_read_doc(src, mrel, d->digest, d->size, MANIFEST_MAX_SIZE, &mbuf, &mlen, err);
        if (r < 0)
                return r;
        r = image_manifest_parse(mbuf, mlen, &m, err);
        if (r < 0)
                return ocid_error_prefix(err, "manifest %s", d->digest);
        crel = blob_rel_path(m->config.digest);
        r = import_read_doc(src, crel, m->config.digest, m->config.size, IMAGE_CONFIG_MAX_SIZE, &cbuf, &clen, err);
        if (r < 0)
                return ocid_error_prefix(err, "config of manifest %s", d->digest);
        r = image_config_parse(cbuf, clen, &c, err);
        if (r >= 0)
                r = image_config_check_manifest(c, m, err);
        if (r < 0)
                return ocid_error_prefix(err, "config %s", m->config.digest);

        im->manifest_digest = xstrdup(d->digest);
        import_image_add_blob(im, d->digest, d->size, NULL, TAKE_PTR(mbuf), mlen);
        import_image_add_blob(im, m->config.digest, m->config.size, NULL, TAKE_PTR(cbuf), clen);
        for (size_t i = 0; i < m->n_layers; i++) {
                const struct manifest_layer *l = &m->layers[i];
                _cleanup_free_ char *lrel = blob_rel_path(l->desc.digest);
                enum layer_compression comp = l->compression;
                char digest[DIGEST_STRING_SIZE];
                uint64_t size;

                if (!import_layer_was_checked(p, l->desc.digest, c->diff_ids[i])) {
                        r = import_check_layer(p, src, lrel, l->desc.digest, l->desc.size, c->diff_ids[i], false,
                                               &comp, digest, &size, err);
                        if (r < 0)
                                return ocid_error_prefix(err, "manifest %s", d->digest);
                }
                import_image_add_blob(im, l->desc.digest, l->desc.size, lrel, NULL, 0);
        }
        return 0;
}

/* An entry of index.json: an index is resolved to this host's platform
 * (through nested indexes too), then the image manifest is read. Takes
 * names and tags over. */
static int import_oci_entry(struct import_plan *p, const struct import_source *src, const char *what,
                            const struct descriptor *entry, char **names, char **tags, struct ocid_error **err)
{
        struct import_image im = { 0 };
        struct manifest_index *indexes[IMPORT_NESTED_INDEX_MAX] = { 0 };
        const struct descriptor *d = entry;
        int r = 0;

        im.what = xstrdup(what);
        im.top_digest = xstrdup(entry->digest);
        im.registry_digest = true;
        im.names = names;
        im.tags = tags;

        for (unsigned depth = 0;; depth++) {
                _cleanup_free_ char *rel = NULL, *buf = NULL;
                enum import_kind kind = import_media_kind(d->media_type);
                size_t len;

                if (kind == IMPORT_KIND_IMAGE)
                        break;
                if (kind != IMPORT_KIND_INDEX) {
                        r = ocid_error_msg(err, ENOTSUP, "media type '%s' is not an image", d->media_type);
                        goto finish;
                }
                if (depth >= IMPORT_NESTED_INDEX_MAX) {
                        r = ocid_error_msg(err, EINVAL, "indexes nested more than %u deep", IMPORT_NESTED_INDEX_MAX);
                        goto finish;
                }
                rel = blob_rel_path(d->digest);
                r = import_read_doc(src, rel, d->digest, d->size, MANIFEST_MAX_SIZE, &buf, &len, err);
                if (r < 0)
                        goto finish;
                r = manifest_index_parse(buf, len, &indexes[depth], err);
                if (r < 0) {
                        r = ocid_error_prefix(err, "index %s", d->digest);
                        goto finish;
                }
                strv_add_unique(&im.extra_blobs, d->digest);
                import_image_add_blob(&im, d->digest, d->size, NULL, TAKE_PTR(buf), len);
                r = manifest_index_select(indexes[depth], &p->host, &d, err);
                if (r < 0) {
                        r = ocid_error_prefix(err, "index %s", im.extra_blobs[depth]);
                        goto finish;
                }
        }
        r = import_image_manifest(p, src, &im, d, err);
        if (r < 0)
                goto finish;

        /* One image named by several entries is one image with all their
         * names. */
        for (size_t i = 0; i < p->n_images; i++)
                if (streq(p->images[i].manifest_digest, im.manifest_digest) &&
                    streq(p->images[i].top_digest, im.top_digest)) {
                        for (char **n = im.names; n && *n; n++)
                                strv_add_unique(&p->images[i].names, *n);
                        for (char **t = im.tags; t && *t; t++)
                                strv_add_unique(&p->images[i].tags, *t);
                        goto finish;
                }
        p->images = xreallocarray(p->images, p->n_images + 1, sizeof(*p->images));
        p->images[p->n_images++] = im;
        im = (struct import_image) { 0 };
finish:
        import_image_done(&im);
        for (size_t i = 0; i < ELEMENTSOF(indexes); i++)
                manifest_index_free(indexes[i]);
        return r < 0 ? ocid_error_prefix(err, "%s", what) : 0;
}

/* The names an index.json entry's annotations give: a reference (with a
 * registry or repository path, a tag or a digest) or a bare tag. */
static void import_oci_annotations(struct json_object *entry, const struct image_import_options *o,
                                   const char *what, char ***names, char ***tags)
{
        struct json_object *ann = NULL;
        const char *ctrd, *ref;

        if (!json_object_object_get_ex(entry, "annotations", &ann) || !json_object_is_type(ann, json_type_object))
                return;
        ctrd = ocid_json_get_string(ann, IMPORT_ANNOTATION_CTRD);
        ref = ocid_json_get_string(ann, IMPORT_ANNOTATION_REF);
        if (ctrd && *ctrd)
                strv_add_unique(names, ctrd);
        if (!ref || !*ref)
                return;
        if (strpbrk(ref, "/:@"))
                strv_add_unique(names, ref);
        else if (import_tag_is_valid(ref))
                strv_add_unique(tags, ref);
        else
                import_warn(o, "%s: annotation %s '%s' is neither a tag nor a reference, ignoring", what,
                            IMPORT_ANNOTATION_REF, ref);
}

/* A key grouping the platform-specific entries of index.json that are one
 * image: their names. */
static char *import_group_key(char *const *names, char *const *tags)
{
        char *out = xstrdup("");

        for (char *const *n = names; n && *n; n++) {
                char *prev = out;

                out = xasprintf("%s n:%s", prev, *n);
                free(prev);
        }
        for (char *const *t = tags; t && *t; t++) {
                char *prev = out;

                out = xasprintf("%s t:%s", prev, *t);
                free(prev);
        }
        return out;
}

struct import_entry_info {
        enum import_kind kind;
        char **names;
        char **tags;
        char *key;
        bool done;
};

static int import_plan_oci(struct import_plan *p, const struct import_source *src,
                           const struct image_import_options *o, struct ocid_error **err)
{
        _cleanup_free_ char *lbuf = NULL, *ibuf = NULL;
        _cleanup_json_ struct json_object *layout = NULL, *index = NULL;
        _cleanup_manifest_index_ struct manifest_index *idx = NULL;
        struct import_entry_info *info = NULL;
        struct json_object *list = NULL;
        const char *version;
        size_t len;
        int r;

        r = import_read_doc(src, "oci-layout", NULL, -1, IMPORT_LAYOUT_FILE_MAX, &lbuf, &len, err);
        if (r < 0)
                return r;
        r = import_json_parse(lbuf, len, "oci-layout", &layout, err);
        if (r < 0)
                return r;
        version = ocid_json_get_string(layout, "imageLayoutVersion");
        if (!version)
                return ocid_error_msg(err, EINVAL, "oci-layout: no imageLayoutVersion");
        if (!ocid_startswith(version, "1."))
                return ocid_error_msg(err, ENOTSUP, "oci-layout: unsupported imageLayoutVersion '%s'", version);

        r = import_read_doc(src, "index.json", NULL, -1, MANIFEST_MAX_SIZE, &ibuf, &len, err);
        if (r < 0)
                return r;
        r = import_json_parse(ibuf, len, "index.json", &index, err);
        if (r < 0)
                return r;
        r = manifest_index_parse(ibuf, len, &idx, err);
        if (r < 0)
                return ocid_error_prefix(err, "index.json");
        json_object_object_get_ex(index, "manifests", &list);

        info = xcalloc(idx->n_manifests ? idx->n_manifests : 1, sizeof(*info));
        for (size_t i = 0; i < idx->n_manifests; i++) {
                _cleanup_free_ char *what = xasprintf("index.json: manifests[%zu]", i);

                info[i].kind = import_media_kind(idx->manifests[i].media_type);
                if (info[i].kind == IMPORT_KIND_OTHER) {
                        import_warn(o, "%s: media type '%s' is not an image, ignoring", what,
                                    idx->manifests[i].media_type);
                        info[i].done = true;
                        continue;
                }
                import_oci_annotations(json_object_array_get_idx(list, i), o, what, &info[i].names, &info[i].tags);
                info[i].key = import_group_key(info[i].names, info[i].tags);
        }

        /* Image manifests for a platform are grouped by their names, and
         * each group gives the one that suits this host; other entries are
         * taken as they are (an index is resolved in import_oci_entry). */
        for (size_t i = 0; i < idx->n_manifests && r >= 0; i++) {
                const struct descriptor *d = &idx->manifests[i], *pick = NULL;
                _cleanup_free_ char *what = xasprintf("index.json: manifests[%zu]", i);
                _cleanup_error_ struct ocid_error *e = NULL;
                struct manifest_index group = { .media_type = idx->media_type };

                if (info[i].done)
                        continue;
                info[i].done = true;
                if (info[i].kind != IMPORT_KIND_IMAGE || !d->has_platform) {
                        r = import_oci_entry(p, src, what, d, TAKE_PTR(info[i].names), TAKE_PTR(info[i].tags), err);
                        continue;
                }
                group.manifests = xcalloc(idx->n_manifests, sizeof(*group.manifests));
                group.manifests[group.n_manifests++] = *d;
                for (size_t j = i + 1; j < idx->n_manifests; j++) {
                        if (info[j].done || info[j].kind != IMPORT_KIND_IMAGE || !idx->manifests[j].has_platform ||
                            !streq(info[j].key, info[i].key))
                                continue;
                        info[j].done = true;
                        group.manifests[group.n_manifests++] = idx->manifests[j];
                }
                if (manifest_index_select(&group, &p->host, &pick, &e) < 0)
                        import_warn(o, "%s: %s, ignoring", what, ocid_error_message(&e));
                else
                        r = import_oci_entry(p, src, what, pick, TAKE_PTR(info[i].names), TAKE_PTR(info[i].tags),
                                             err);
                /* group holds shallow copies of idx's descriptors. */
                free(group.manifests);
        }

        for (size_t i = 0; i < idx->n_manifests; i++) {
                ocid_strv_free(info[i].names);
                ocid_strv_free(info[i].tags);
                free(info[i].key);
        }
        free(info);
        return r < 0 ? r : 0;
}

/* The digest a docker-archive path promises: "blobs/sha256/<hex>" (and,
 * for a config, "<hex>.json"), or NULL. */
static char *import_docker_path_digest(const char *rel, bool config)
{
        const char *base = strrchr(rel, '/'), *hex = NULL;
        _cleanup_free_ char *d = NULL;

        base = base ? base + 1 : rel;
        if (ocid_startswith(rel, "blobs/sha256/") && !strchr(rel + strlen("blobs/sha256/"), '/'))
                hex = rel + strlen("blobs/sha256/");
        if (config && !hex && ocid_endswith(base, ".json") && strlen(base) == DIGEST_SHA256_HEX_LEN + 5)
                hex = base;
        if (!hex)
                return NULL;
        d = xasprintf(DIGEST_SHA256_PREFIX "%.*s", DIGEST_SHA256_HEX_LEN, hex);
        if (!digest_is_valid(d) || (hex != base && strlen(hex) != DIGEST_SHA256_HEX_LEN))
                return NULL;
        return TAKE_PTR(d);
}

static const char *import_layer_media_type(enum layer_compression c)
{
        switch (c) {
        case LAYER_COMPRESSION_GZIP:
                return MEDIA_TYPE_DOCKER_LAYER_GZIP;
        case LAYER_COMPRESSION_ZSTD:
                return MEDIA_TYPE_DOCKER_LAYER_ZSTD;
        default:
                return MEDIA_TYPE_DOCKER_LAYER;
        }
}

static struct json_object *import_json_descriptor(const char *media_type, int64_t size, const char *digest)
{
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "mediaType", json_object_new_string(media_type));
        json_object_object_add(o, "size", json_object_new_int64(size));
        json_object_object_add(o, "digest", json_object_new_string(digest));
        return o;
}

/* A layer of a docker-archive, read once however many images list it. */
struct import_docker_layer {
        char *rel;
        char digest[DIGEST_STRING_SIZE];
        char diff_id[DIGEST_STRING_SIZE];
        enum layer_compression compression;
        uint64_t size;
};

struct import_docker_layers {
        struct import_docker_layer *v;
        size_t n;
};

static void import_docker_layers_done(struct import_docker_layers *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i].rel);
        free(l->v);
}

static const char *import_json_string_member(struct json_object *obj, const char *key)
{
        struct json_object *v;

        if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* One entry of a docker-archive's manifest.json. */
static int import_docker_entry(struct import_plan *p, const struct import_source *src,
                               struct import_docker_layers *cache, struct json_object *entry, const char *what,
                               struct ocid_error **err)
{
        _cleanup_(import_image_done) struct import_image im = { 0 };
        _cleanup_image_config_ struct image_config *c = NULL;
        _cleanup_image_manifest_ struct image_manifest *check = NULL;
        _cleanup_json_ struct json_object *manifest = NULL;
        _cleanup_free_ char *crel = NULL, *cbuf = NULL, *promised = NULL, *mtext = NULL;
        struct json_object *layers = NULL, *tags = NULL, *sources = NULL, *mlayers;
        char cdigest[DIGEST_STRING_SIZE], mdigest[DIGEST_STRING_SIZE];
        const char *config_path;
        size_t clen, n_layers;
        int r;

        if (!json_object_is_type(entry, json_type_object))
                return ocid_error_msg(err, EINVAL, "%s: not an object", what);
        config_path = import_json_string_member(entry, "Config");
        if (!config_path)
                return ocid_error_msg(err, EINVAL, "%s: 'Config' is missing or not a string", what);
        r = import_path_normalize(NULL, config_path, false, &crel, err);
        if (r < 0)
                return ocid_error_prefix(err, "%s: unsafe Config path", what);
        r = import_read_doc(src, crel, NULL, -1, IMAGE_CONFIG_MAX_SIZE, &cbuf, &clen, err);
        if (r < 0)
                return ocid_error_prefix(err, "%s: config", what);
        r = digest_buffer(cbuf, clen, cdigest, err);
        if (r < 0)
                return r;
        promised = import_docker_path_digest(crel, true);
        if (promised && !digest_equal(promised, cdigest))
                return ocid_error_msg(err, EBADMSG, "%s: digest mismatch for %s ('%s'): content is %s", what, promised,
                                      crel, cdigest);
        r = image_config_parse(cbuf, clen, &c, err);
        if (r < 0)
                return ocid_error_prefix(err, "%s: config '%s'", what, crel);

        if (json_object_object_get_ex(entry, "LayerSources", &sources) && json_object_is_type(sources, json_type_object) &&
            json_object_object_length(sources) > 0)
                return ocid_error_msg(err, ENOTSUP, "%s: foreign layers (LayerSources) are not supported", what);
        if (!json_object_object_get_ex(entry, "Layers", &layers) || !json_object_is_type(layers, json_type_array))
                return ocid_error_msg(err, EINVAL, "%s: 'Layers' is missing or not an array", what);
        n_layers = json_object_array_length(layers);
        if (n_layers > MANIFEST_MAX_LAYERS)
                return ocid_error_msg(err, EINVAL, "%s: %zu layers, more than the %d allowed", what, n_layers,
                                      MANIFEST_MAX_LAYERS);
        if (n_layers != c->n_diff_ids)
                return ocid_error_msg(err, EBADMSG, "%s: %zu layers, but config '%s' has %zu diff_ids", what, n_layers,
                                      crel, c->n_diff_ids);

        im.what = xstrdup(what);
        im.registry_digest = false;
        manifest = json_object_new_object();
        json_object_object_add(manifest, "schemaVersion", json_object_new_int(2));
        json_object_object_add(manifest, "mediaType", json_object_new_string(MEDIA_TYPE_DOCKER_MANIFEST));
        json_object_object_add(manifest, "config",
                               import_json_descriptor(MEDIA_TYPE_DOCKER_CONFIG, (int64_t) clen, cdigest));
        mlayers = json_object_new_array();
        json_object_object_add(manifest, "layers", mlayers);

        for (size_t i = 0; i < n_layers; i++) {
                struct json_object *jl = json_object_array_get_idx(layers, i);
                _cleanup_free_ char *lrel = NULL, *lpromised = NULL;
                struct import_docker_layer *dl = NULL;

                if (!json_object_is_type(jl, json_type_string))
                        return ocid_error_msg(err, EINVAL, "%s: Layers[%zu] is not a string", what, i);
                r = import_path_normalize(NULL, json_object_get_string(jl), false, &lrel, err);
                if (r < 0)
                        return ocid_error_prefix(err, "%s: unsafe path in Layers[%zu]", what, i);
                for (size_t k = 0; k < cache->n; k++)
                        if (streq(cache->v[k].rel, lrel))
                                dl = &cache->v[k];
                if (!dl) {
                        struct import_docker_layer l = { .compression = LAYER_COMPRESSION_NONE };
                        _cleanup_close_ int fd = -1;

                        r = import_source_open(src, lrel, &fd, err);
                        if (r >= 0)
                                r = layer_scan(fd, true, &l.compression, l.digest, l.diff_id, &l.size, err);
                        if (r < 0)
                                return ocid_error_prefix(err, "%s: layer '%s'", what, lrel);
                        lpromised = import_docker_path_digest(lrel, false);
                        if (lpromised && !digest_equal(lpromised, l.digest))
                                return ocid_error_msg(err, EBADMSG, "%s: digest mismatch for %s ('%s'): content is %s",
                                                      what, lpromised, lrel, l.digest);
                        l.rel = xstrdup(lrel);
                        cache->v = xreallocarray(cache->v, cache->n + 1, sizeof(*cache->v));
                        cache->v[cache->n] = l;
                        dl = &cache->v[cache->n++];
                }
                if (!digest_equal(dl->diff_id, c->diff_ids[i]))
                        return ocid_error_msg(err, EBADMSG,
                                              "%s: layer '%s' (%s): diff_id mismatch: the config says %s, the content is %s",
                                              what, lrel, dl->digest, c->diff_ids[i], dl->diff_id);
                json_object_array_add(mlayers, import_json_descriptor(import_layer_media_type(dl->compression),
                                                                      (int64_t) dl->size, dl->digest));
                import_image_add_blob(&im, dl->digest, (int64_t) dl->size, dl->rel, NULL, 0);
        }

        /* The image manifest docker save does not write: what the store
         * keeps of every image. The same archive gives the same manifest. */
        mtext = xstrdup(json_object_to_json_string_ext(manifest, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        r = digest_buffer(mtext, strlen(mtext), mdigest, err);
        if (r < 0)
                return r;
        r = image_manifest_parse(mtext, strlen(mtext), &check, err);
        if (r >= 0)
                r = image_config_check_manifest(c, check, err);
        if (r < 0)
                return ocid_error_prefix(err, "%s: the manifest made for it", what);
        im.top_digest = xstrdup(mdigest);
        im.manifest_digest = xstrdup(mdigest);
        {
                size_t len = strlen(mtext);

                import_image_add_blob(&im, mdigest, (int64_t) len, NULL, TAKE_PTR(mtext), len);
                import_image_add_blob(&im, cdigest, (int64_t) clen, NULL, TAKE_PTR(cbuf), clen);
        }

        if (json_object_object_get_ex(entry, "RepoTags", &tags) && !json_object_is_type(tags, json_type_null)) {
                if (!json_object_is_type(tags, json_type_array))
                        return ocid_error_msg(err, EINVAL, "%s: 'RepoTags' is not an array", what);
                for (size_t i = 0; i < json_object_array_length(tags); i++) {
                        struct json_object *t = json_object_array_get_idx(tags, i);

                        if (!json_object_is_type(t, json_type_string))
                                return ocid_error_msg(err, EINVAL, "%s: RepoTags[%zu] is not a string", what, i);
                        strv_add_unique(&im.names, json_object_get_string(t));
                }
        }

        for (size_t i = 0; i < p->n_images; i++)
                if (streq(p->images[i].manifest_digest, im.manifest_digest)) {
                        for (char **n = im.names; n && *n; n++)
                                strv_add_unique(&p->images[i].names, *n);
                        return 0;
                }
        p->images = xreallocarray(p->images, p->n_images + 1, sizeof(*p->images));
        p->images[p->n_images++] = im;
        im = (struct import_image) { 0 };
        return 0;
}

static int import_plan_docker(struct import_plan *p, const struct import_source *src, struct ocid_error **err)
{
        _cleanup_(import_docker_layers_done) struct import_docker_layers cache = { 0 };
        _cleanup_json_ struct json_object *list = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len, n;
        int r;

        r = import_read_doc(src, "manifest.json", NULL, -1, MANIFEST_MAX_SIZE, &buf, &len, err);
        if (r < 0)
                return r;
        r = import_json_parse(buf, len, "manifest.json", &list, err);
        if (r < 0)
                return r;
        if (!json_object_is_type(list, json_type_array))
                return ocid_error_msg(err, EINVAL, "manifest.json: not an array");
        n = json_object_array_length(list);
        if (n > MANIFEST_MAX_ENTRIES)
                return ocid_error_msg(err, EINVAL, "manifest.json: %zu entries, more than the %d allowed", n,
                                      MANIFEST_MAX_ENTRIES);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *what = xasprintf("manifest.json: entry %zu", i);

                r = import_docker_entry(p, src, &cache, json_object_array_get_idx(list, i), what, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- names ------------------------------------------------------------- */

static int import_plan_names(struct import_plan *p, const struct image_import_options *o, struct ocid_error **err)
{
        _cleanup_image_ref_ struct image_ref *base = NULL;
        int r;

        if (o->name) {
                r = image_ref_parse(o->name, &base, err);
                if (r < 0)
                        return ocid_error_prefix(err, "--name");
                if (base->digest)
                        return ocid_error_msg(err, EINVAL, "--name '%s': give a name and a tag, not a digest", o->name);
                if (base->tag && p->n_images > 1)
                        return ocid_error_msg(err, EINVAL,
                                              "--name '%s' names one image, but there are %zu; give a "
                                              "repository without a tag to name each image by its own tags",
                                              o->name, p->n_images);
        }

        for (size_t i = 0; i < p->n_images; i++) {
                struct import_image *im = &p->images[i];
                _cleanup_strv_ char **refs = NULL;

                if (base && base->tag) {
                        ocid_strv_push(&refs, o->name);
                } else if (base) {
                        _cleanup_strv_ char **tags = ocid_strv_copy((const char *const *) im->tags);

                        for (char **n = im->names; n && *n; n++) {
                                _cleanup_image_ref_ struct image_ref *ref = NULL;

                                if (image_ref_parse(*n, &ref, NULL) >= 0 && ref->tag)
                                        strv_add_unique(&tags, ref->tag);
                        }
                        for (char **t = tags; t && *t; t++) {
                                _cleanup_free_ char *s = xasprintf("%s:%s", o->name, *t);

                                ocid_strv_push(&refs, s);
                        }
                        if (!tags || !tags[0]) {
                                if (p->n_images == 1)
                                        ocid_strv_push(&refs, o->name);
                                else
                                        import_warn(o, "%s: no tag to name it '%s:<tag>' by, importing it untagged",
                                                    im->what, o->name);
                        }
                } else {
                        refs = ocid_strv_copy((const char *const *) im->names);
                        if ((!refs || !refs[0]) && im->tags && im->tags[0])
                                import_warn(o,
                                            "%s: tag '%s' has no repository, importing the image untagged (name it "
                                            "with --name REPOSITORY)",
                                            im->what, im->tags[0]);
                }

                for (char **s = refs; s && *s; s++) {
                        _cleanup_image_ref_ struct image_ref *ref = NULL;
                        _cleanup_free_ char *tagged = NULL, *digested = NULL;

                        r = image_ref_parse_normalized(*s, &ref, err);
                        if (r < 0)
                                return ocid_error_prefix(err, "%s", im->what);
                        if (ref->digest && !digest_equal(ref->digest, im->top_digest))
                                return ocid_error_msg(err, EINVAL, "%s: name '%s' is for %s, but the image is %s",
                                                      im->what, *s, ref->digest, im->top_digest);
                        tagged = image_ref_tagged(ref);
                        if (tagged) {
                                for (size_t j = 0; j < i; j++)
                                        if (ocid_strv_contains(p->images[j].repo_tags, tagged))
                                                return ocid_error_msg(err, EINVAL, "%s and %s are both named '%s'",
                                                                      p->images[j].what, im->what, tagged);
                                strv_add_unique(&im->repo_tags, tagged);
                        }
                        if (im->registry_digest) {
                                digested = image_ref_digested(ref, im->top_digest);
                                strv_add_unique(&im->repo_digests, digested);
                        }
                }
        }
        return 0;
}

/* ---- storing ----------------------------------------------------------- */

static int import_store(struct image_store *s, struct import_plan *p, const struct import_source *src,
                        const struct image_import_options *o, struct image_imported ***ret, struct ocid_error **err)
{
        static char *const none[] = { NULL };
        _cleanup_image_lease_ struct image_lease *lease = NULL;
        struct blobstore *bs = image_store_blobs(s);
        struct image_unpack_options uo = {
                .progress = o->progress,
                .progress_userdata = o->progress_userdata,
        };
        struct image_imported **done = NULL;
        int r;

        r = image_lease_new(s, &lease, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_images; i++) {
                struct import_image *im = &p->images[i];

                for (size_t j = 0; j < im->n_blobs; j++) {
                        struct import_blob *b = &im->blobs[j];

                        r = image_lease_add_blob(lease, b->digest, err);
                        if (r < 0)
                                return r;
                        if (blobstore_exists(bs, b->digest))
                                continue;
                        if (b->data) {
                                r = blobstore_put(bs, b->digest, b->data, b->len, NULL, err);
                        } else {
                                _cleanup_close_ int fd = -1;

                                r = import_source_open(src, b->rel, &fd, err);
                                if (r >= 0)
                                        r = blobstore_ingest_fd(bs, b->digest, b->size, fd, NULL, err);
                        }
                        if (r < 0)
                                return ocid_error_prefix(err, "%s: store %s", im->what, b->digest);
                }
                r = image_store_unpack(s, lease, im->manifest_digest, &uo, err);
                if (r < 0)
                        return ocid_error_prefix(err, "%s: unpack", im->what);
        }

        /* Every layer exists: only now does any image become visible. */
        done = xcalloc(p->n_images + 1, sizeof(*done));
        for (size_t i = 0; i < p->n_images; i++) {
                struct import_image *im = &p->images[i];

                done[i] = xzalloc(sizeof(*done[i]));
                done[i]->names = im->repo_tags ? ocid_strv_copy((const char *const *) im->repo_tags) : xzalloc(sizeof(char *));
                r = image_store_commit(s, im->manifest_digest, im->repo_tags ? im->repo_tags : none,
                                       im->repo_digests ? im->repo_digests : none, im->extra_blobs, 0,
                                       &done[i]->record, err);
                if (r < 0) {
                        image_imported_list_free(done);
                        return ocid_error_prefix(err, "%s: record", im->what);
                }
        }
        if (ret)
                *ret = done;
        else
                image_imported_list_free(done);
        return 0;
}

struct image_imported *image_imported_free(struct image_imported *i)
{
        if (!i)
                return NULL;
        image_record_free(i->record);
        ocid_strv_free(i->names);
        free(i);
        return NULL;
}

void image_imported_list_free(struct image_imported **v)
{
        for (size_t i = 0; v && v[i]; i++)
                image_imported_free(v[i]);
        free(v);
}

int image_import(struct image_store *s, const char *path, const struct image_import_options *o,
                 struct image_imported ***ret, struct ocid_error **err)
{
        static const struct image_import_options defaults = { 0 };
        _cleanup_(import_source_done) struct import_source src = { .dir_fd = -1 };
        _cleanup_(import_plan_done) struct import_plan p = { 0 };
        const char *tmp;
        int r;

        if (!o)
                o = &defaults;
        tmp = o->tmp_dir;
        if (!tmp)
                tmp = getenv("TMPDIR");
        if (!tmp || !*tmp)
                tmp = "/var/tmp";

        r = import_source_open_input(&src, path, tmp, err);
        if (r < 0)
                return r;
        r = platform_host(&p.host, err);
        if (r < 0)
                return r;

        if (import_source_has(&src, "oci-layout") || import_source_has(&src, "index.json")) {
                r = import_plan_oci(&p, &src, o, err);
        } else if (import_source_has(&src, "manifest.json")) {
                if (!src.staging)
                        return ocid_error_msg(err, ENOTSUP,
                                              "a directory with a manifest.json but no oci-layout: import a "
                                              "docker-archive as the tar 'docker save' wrote");
                r = import_plan_docker(&p, &src, err);
        } else {
                return ocid_error_msg(err, EINVAL,
                                      "neither an OCI image layout (no oci-layout and index.json) nor a "
                                      "docker-archive (no manifest.json)");
        }
        if (r < 0)
                return r;
        if (p.n_images == 0) {
                _cleanup_free_ char *plat = platform_to_string(&p.host);

                return ocid_error_msg(err, ENOENT, "no image for this host (%s)", plat);
        }
        r = import_plan_names(&p, o, err);
        if (r < 0)
                return r;
        return import_store(s, &p, &src, o, ret, err);
}

/* ---- listing ----------------------------------------------------------- */

char *image_format_size(uint64_t bytes)
{
        static const char *const units[] = { "kB", "MB", "GB", "TB", "PB", "EB" };
        double v = (double) bytes;
        size_t u = 0;

        if (bytes < 1000)
                return xasprintf("%" PRIu64 "B", bytes);
        v /= 1000;
        /* Three significant digits; 999.96 kB rounds up to 1.00MB. */
        while (v >= 999.5 && u + 1 < ELEMENTSOF(units)) {
                v /= 1000;
                u++;
        }
        if (v < 9.995)
                return xasprintf("%.2f%s", v, units[u]);
        if (v < 99.95)
                return xasprintf("%.1f%s", v, units[u]);
        return xasprintf("%.0f%s", v, units[u]);
}

/* The digest of the repository that `tag` ("name:tag") belongs to, among
 * r's repo digests; with tag NULL the first one. NULL when none. */
static const char *image_list_digest(const struct image_record *r, const char *tag)
{
        size_t name_len = 0;

        if (tag) {
                const char *slash = strrchr(tag, '/'), *colon = strrchr(tag, ':');

                name_len = colon && (!slash || colon > slash) ? (size_t) (colon - tag) : strlen(tag);
        }
        for (char **d = r->repo_digests; d && *d; d++) {
                const char *at = strrchr(*d, '@');

                if (!at)
                        continue;
                if (!tag || ((size_t) (at - *d) == name_len && strncmp(*d, tag, name_len) == 0))
                        return at + 1;
        }
        return NULL;
}

/* The first 12 hex digits of a digest ("sha256:<hex>"), or "<none>". */
static char *image_list_short(const char *digest)
{
        const char *hex = digest ? strchr(digest, ':') : NULL;

        hex = hex ? hex + 1 : digest;
        if (!hex || !*hex)
                return xstrdup("<none>");
        return xstrndup(hex, 12);
}

struct image_list_row {
        char *id, *name, *digest, *size;
};

int image_list_print(struct image_record *const *records, FILE *f, struct ocid_error **err)
{
        struct image_list_row *rows = NULL;
        size_t n = 0, w_name = strlen("REPOSITORY:TAG");
        int r = 0;

        for (size_t i = 0; records && records[i]; i++) {
                const struct image_record *rec = records[i];
                size_t n_tags = ocid_strv_length(rec->repo_tags);

                for (size_t t = 0; t < (n_tags ? n_tags : 1); t++) {
                        const char *tag = n_tags ? rec->repo_tags[t] : NULL;
                        struct image_list_row *row;

                        rows = xreallocarray(rows, n + 1, sizeof(*rows));
                        row = &rows[n++];
                        row->id = image_list_short(rec->id);
                        row->name = xstrdup(tag ? tag : "<none>");
                        row->digest = image_list_short(image_list_digest(rec, tag));
                        row->size = image_format_size(rec->size);
                        if (strlen(row->name) > w_name)
                                w_name = strlen(row->name);
                }
        }

        if (fprintf(f, "%-12s   %-*s   %-12s   %s\n", "IMAGE ID", (int) w_name, "REPOSITORY:TAG", "DIGEST", "SIZE") < 0)
                r = -EIO;
        for (size_t i = 0; i < n; i++) {
                if (r >= 0 && fprintf(f, "%-12s   %-*s   %-12s   %s\n", rows[i].id, (int) w_name, rows[i].name,
                                      rows[i].digest, rows[i].size) < 0)
                        r = -EIO;
                free(rows[i].id);
                free(rows[i].name);
                free(rows[i].digest);
                free(rows[i].size);
        }
        free(rows);
        if (r >= 0 && fflush(f) != 0)
                r = -EIO;
        if (r < 0)
                return ocid_error_set(err, errno ? errno : EIO, "write the image list");
        return 0;
}

/* ---- the command line -------------------------------------------------- */

#define EXIT_USAGE 2

static void image_cli_usage(FILE *f)
{
        fprintf(f,
                "Usage: ocid [OPTION]... image import [--name NAME] PATH\n"
                "       ocid [OPTION]... image ls\n"
                "Image store commands; they work with or without a running daemon.\n"
                "\n"
                "  import PATH   load an OCI image layout (a directory or a tar of one) or a\n"
                "                docker-archive tar ('docker save'); '-' reads a tar from\n"
                "                standard input\n"
                "  ls            list the images in the store\n"
                "\n"
                "Options:\n"
                "  -n, --name NAME        name the image NAME (repository[:tag]) instead of the\n"
                "                         names in PATH; without a tag, each image keeps its\n"
                "                         own tags under repository NAME\n"
                "  -c, --config FILE      configuration file\n"
                "      --root DIR         persistent state directory\n"
                "      --runroot DIR      runtime state directory\n"
                "      --log-level LEVEL  error, warning, info, debug or trace\n"
                "  -h, --help             show this help\n");
}

static void image_cli_warn(void *userdata, const char *message)
{
        fprintf(stderr, "ocid: warning: %s\n", message);
}

static void image_cli_progress(void *userdata, size_t index, size_t n_layers, const struct image_layer_info *layer,
                               bool present)
{
        _cleanup_free_ char *short_digest = image_list_short(layer->digest);

        fprintf(stderr, "layer %zu/%zu %s: %s\n", index + 1, n_layers, short_digest,
                present ? "already present" : "unpacked");
}

static int image_cli_fail(const char *what, struct ocid_error **err, int code)
{
        fprintf(stderr, "ocid: %s%s%s\n", what ? what : "", what ? ": " : "", ocid_error_message(err));
        return code;
}

static int image_cli_config(const struct daemon_options *o, struct ocid_config **ret, struct ocid_error **err)
{
        int r, level;

        r = daemon_load_config(o, ret, err);
        if (r < 0)
                return r;
        level = ocid_log_level_from_string((*ret)->log_level);
        if (level >= 0)
                ocid_log_set_level(level);
        return 0;
}

static int image_cli_import(const struct daemon_options *o, const char *path, const char *name)
{
        _cleanup_error_ struct ocid_error *error = NULL;
        _cleanup_config_ struct ocid_config *c = NULL;
        _cleanup_(modules_freep) struct ocid_modules *mods = NULL;
        _cleanup_image_store_ struct image_store *store = NULL;
        _cleanup_image_imported_list_ struct image_imported **imported = NULL;
        _cleanup_free_ char *tmp = NULL, *what = xasprintf("import '%s'", path);
        struct image_import_options io = {
                .name = name,
                .warn = image_cli_warn,
                .progress = image_cli_progress,
        };

        if (image_cli_config(o, &c, &error) < 0)
                return image_cli_fail(NULL, &error, EXIT_USAGE);
        /* As the daemon creates them. */
        if (ocid_mkdir_p(c->root, 0711, &error) < 0 || ocid_mkdir_p(c->runroot, 0700, &error) < 0)
                return image_cli_fail(what, &error, EXIT_FAILURE);
        if (modules_load(c, &mods, &error) < 0)
                return image_cli_fail(what, &error, EXIT_FAILURE);
        if (image_store_open(c->root, mods->storage, &store, &error) < 0)
                return image_cli_fail(what, &error, EXIT_FAILURE);
        tmp = ocid_path_join(c->root, "tmp");
        io.tmp_dir = tmp;
        if (image_import(store, path, &io, &imported, &error) < 0)
                return image_cli_fail(what, &error, EXIT_FAILURE);

        for (size_t i = 0; imported[i]; i++) {
                char **names = imported[i]->names;

                printf("Imported image %s", imported[i]->record->id);
                if (!names[0])
                        printf(" (no name)");
                for (size_t t = 0; names[t]; t++)
                        printf("%s%s", t ? ", " : " as ", names[t]);
                printf("\n");
        }
        if (fflush(stdout) != 0)
                return EXIT_FAILURE;
        return EXIT_SUCCESS;
}

static int image_cli_ls(const struct daemon_options *o)
{
        _cleanup_error_ struct ocid_error *error = NULL;
        _cleanup_config_ struct ocid_config *c = NULL;
        _cleanup_image_store_ struct image_store *store = NULL;
        _cleanup_image_record_list_ struct image_record **records = NULL;
        _cleanup_free_ char *dir = NULL;
        struct stat st;

        if (image_cli_config(o, &c, &error) < 0)
                return image_cli_fail(NULL, &error, EXIT_USAGE);
        /* Listing creates nothing: no store yet is an empty list. */
        dir = ocid_path_join(c->root, IMAGE_STORE_DIR);
        if (stat(dir, &st) < 0) {
                if (errno != ENOENT) {
                        ocid_error_set(&error, errno, "'%s'", dir);
                        return image_cli_fail("list images", &error, EXIT_FAILURE);
                }
        } else {
                if (image_store_open(c->root, NULL, &store, &error) < 0 ||
                    image_store_list(store, &records, &error) < 0)
                        return image_cli_fail("list images", &error, EXIT_FAILURE);
        }
        if (image_list_print(records, stdout, &error) < 0)
                return image_cli_fail(NULL, &error, EXIT_FAILURE);
        return EXIT_SUCCESS;
}

int image_cli_main(struct daemon_options *o, int argc, char *argv[])
{
        enum { OPT_ROOT = 0x100, OPT_RUNROOT, OPT_LOG_LEVEL };
        static const struct option options[] = {
                { "name", required_argument, NULL, 'n' },
                { "config", required_argument, NULL, 'c' },
                { "root", required_argument, NULL, OPT_ROOT },
                { "runroot", required_argument, NULL, OPT_RUNROOT },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *name = NULL, *sub;
        int c;

        /* argv[0] is "image": a fresh getopt scan of this vector. */
        optind = 0;
        while ((c = getopt_long(argc, argv, "n:c:h", options, NULL)) >= 0) {
                switch (c) {
                case 'n':
                        name = optarg;
                        break;
                case 'c':
                        o->config_path = optarg;
                        break;
                case OPT_ROOT:
                        o->root = optarg;
                        break;
                case OPT_RUNROOT:
                        o->runroot = optarg;
                        break;
                case OPT_LOG_LEVEL:
                        o->log_level = optarg;
                        break;
                case 'h':
                        image_cli_usage(stdout);
                        return EXIT_SUCCESS;
                default:
                        fprintf(stderr, "Try 'ocid image --help' for more information.\n");
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                image_cli_usage(stderr);
                return EXIT_USAGE;
        }
        sub = argv[optind++];
        if (streq(sub, "import")) {
                if (optind >= argc) {
                        fprintf(stderr, "ocid: image import: missing PATH\n");
                        return EXIT_USAGE;
                }
                if (optind + 1 < argc) {
                        fprintf(stderr, "ocid: image import: unexpected argument '%s'\n", argv[optind + 1]);
                        return EXIT_USAGE;
                }
                return image_cli_import(o, argv[optind], name);
        }
        if (streq(sub, "ls") || streq(sub, "list")) {
                if (name) {
                        fprintf(stderr, "ocid: image %s: --name is for import\n", sub);
                        return EXIT_USAGE;
                }
                if (optind < argc) {
                        fprintf(stderr, "ocid: image %s: unexpected argument '%s'\n", sub, argv[optind]);
                        return EXIT_USAGE;
                }
                return image_cli_ls(o);
        }
        if (streq(sub, "help")) {
                image_cli_usage(stdout);
                return EXIT_SUCCESS;
        }
        fprintf(stderr, "ocid: image: unknown command '%s'\nTry 'ocid image --help' for more information.\n", sub);
        return EXIT_USAGE;
}
