/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <ocid/error.h>
#include <ocid/fs.h>
#include <ocid/util.h>

#include "../test-common.h"
#include "config.h"
#include "daemon.h"

static struct ocid_config *config_with(const char *runroot, const char *listen)
{
        struct ocid_config *c = config_new_default();

        free(c->runroot);
        c->runroot = xstrdup(runroot);
        free(c->listen);
        c->listen = xstrdup(listen);
        return c;
}

static void test_overrides(void **state)
{
        struct ocid_config *c = config_with("/run/ocid", "/run/ocid/ocid.sock");
        struct daemon_options o = {
                .root = "/var/lib/x", .runroot = "/run/x", .log_level = "debug",
        };

        assert_int_equal(daemon_apply_overrides(c, &o, NULL), 0);
        assert_string_equal(c->root, "/var/lib/x");
        assert_string_equal(c->runroot, "/run/x");
        /* The socket was derived from the runroot: it follows it. */
        assert_string_equal(c->listen, "/run/x/ocid.sock");
        assert_string_equal(c->log_level, "debug");
        config_free(c);

        /* A socket chosen elsewhere stays where it is. */
        c = config_with("/run/ocid", "/srv/cri.sock");
        assert_int_equal(daemon_apply_overrides(c, &o, NULL), 0);
        assert_string_equal(c->listen, "/srv/cri.sock");
        config_free(c);

        /* --listen wins over the derivation. */
        c = config_with("/run/ocid", "/run/ocid/ocid.sock");
        o.listen = "/tmp/elsewhere.sock";
        assert_int_equal(daemon_apply_overrides(c, &o, NULL), 0);
        assert_string_equal(c->listen, "/tmp/elsewhere.sock");
        assert_string_equal(c->runroot, "/run/x");
        config_free(c);

        /* No overrides: nothing changes. */
        c = config_with("/run/ocid", "/run/ocid/ocid.sock");
        assert_int_equal(daemon_apply_overrides(c, &(struct daemon_options) { 0 }, NULL), 0);
        assert_string_equal(c->listen, "/run/ocid/ocid.sock");
        assert_string_equal(c->runroot, "/run/ocid");
        config_free(c);
}

static void test_override_errors(void **state)
{
        static const struct {
                struct daemon_options o;
                const char *message;
        } table[] = {
                { { .root = "relative" }, "--root: 'relative' is not an absolute path" },
                { { .runroot = "run" }, "--runroot: 'run' is not an absolute path" },
                { { .listen = "x.sock" }, "--listen: 'x.sock' is not an absolute path" },
                { { .log_level = "loud" }, "--log-level: unknown level 'loud' (error, warning, info, debug, trace)" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_error_ struct ocid_error *error = NULL;
                struct ocid_config *c = config_new_default();

                assert_int_equal(daemon_apply_overrides(c, &table[i].o, &error), -EINVAL);
                assert_string_equal(ocid_error_message(&error), table[i].message);
                config_free(c);
        }
}

static void test_socket_is_live(void **state)
{
        char dir[] = "/tmp/ocid-test-daemon-XXXXXX";
        _cleanup_free_ char *path = NULL, *file = NULL;
        _cleanup_error_ struct ocid_error *error = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        FILE *f;

        assert_non_null(mkdtemp(dir));
        path = xasprintf("%s/ocid.sock", dir);
        strcpy(sa.sun_path, path);

        /* Nothing there. */
        assert_int_equal(daemon_socket_is_live(path, NULL), 0);

        /* A listener: live. */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 4), 0);
        assert_int_equal(daemon_socket_is_live(path, NULL), 1);

        /* The listener is gone, the file stays: stale. */
        close(TAKE_FD(fd));
        assert_int_equal(daemon_socket_is_live(path, NULL), 0);

        /* Not a socket: an error, never replaced. */
        file = xasprintf("%s/file", dir);
        f = fopen(file, "we");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(daemon_socket_is_live(file, &error), -EEXIST);
        assert_non_null(strstr(ocid_error_message(&error), "is not a socket"));

        (void) ocid_rm_rf(dir, NULL);
}

OCID_TEST_MAIN(cmocka_unit_test(test_overrides),
               cmocka_unit_test(test_override_errors),
               cmocka_unit_test(test_socket_is_live))
