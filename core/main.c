/* SPDX-License-Identifier: Apache-2.0 */
/* ocid: the command line. Exit codes: 0 success, 1 runtime failure, 2
 * configuration or usage error, 3 (`check` only) records that a restart
 * would skip. */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <ocid/error.h>
#include <ocid/log.h>
#include <ocid/util.h>

#include "config.h"
#include "daemon.h"
#include "image/import.h"
#include "lifecycle/restore.h"
#include "modules.h"

#define EXIT_CONFIG      2
#define EXIT_BAD_RECORDS 3

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: ocid [OPTION]... [COMMAND]\n"
                "A Kubernetes container runtime serving the CRI (runtime.v1) on a unix socket.\n"
                "\n"
                "Commands:\n"
                "  run        run the daemon in the foreground (the default)\n"
                "  config     print the effective configuration as crio.conf\n"
                "  check      validate the configuration and the modules it selects, and\n"
                "             report pod and container records a restart would skip\n"
                "  version    print the version\n"
                "  image      import images (OCI layouts, docker-archives) and list them:\n"
                "             'ocid image --help' says more\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE      configuration file (default %s/ocid/crio.conf,\n"
                "                         then crio.conf.d/*.conf next to it)\n"
                "      --root DIR         persistent state directory\n"
                "      --runroot DIR      runtime state directory\n"
                "      --listen PATH      CRI socket (default RUNROOT/ocid.sock)\n"
                "      --log-level LEVEL  error, warning, info, debug or trace\n"
                "  -h, --help             show this help\n"
                "\n"
                "Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the configuration.\n",
                OCID_SYSCONFDIR);
}

static int config_failed(struct ocid_error **err)
{
        fprintf(stderr, "ocid: %s\n", ocid_error_message(err));
        return EXIT_CONFIG;
}

static int cmd_config(const struct daemon_options *o)
{
        _cleanup_(config_freep) struct ocid_config *c = NULL;
        _cleanup_error_ struct ocid_error *error = NULL;

        if (daemon_load_config(o, &c, &error) < 0)
                return config_failed(&error);
        if (config_print(c, stdout, &error) < 0 || fflush(stdout) != 0) {
                if (!error)
                        ocid_error_set(&error, errno, "write the configuration");
                fprintf(stderr, "ocid: %s\n", ocid_error_message(&error));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

static void print_bad_record(void *userdata, const char *kind, const char *id, const char *path,
                             const char *reason)
{
        (void) userdata;
        printf("bad %s record %s (%s): %s\n", kind, id, path, reason);
}

/* The records under root as a restart would load them, without the
 * daemon: handlers come from the configuration, no module is started and
 * nothing is changed. */
static int check_records(const struct ocid_config *c)
{
        _cleanup_error_ struct ocid_error *error = NULL;
        _cleanup_free_ struct modules_handler *handlers = xcalloc(c->n_runtimes + 1, sizeof(*handlers));
        struct ocid_modules m = { .handlers = handlers, .n_handlers = c->n_runtimes };
        struct restore_stats st = { 0 };

        for (size_t i = 0; i < c->n_runtimes; i++) {
                handlers[i].h.size = sizeof(handlers[i].h);
                handlers[i].h.name = c->runtimes[i].name;
        }
        m.default_handler = c->default_runtime;
        if (restore_check(c, &m, print_bad_record, NULL, &st, &error) < 0) {
                fprintf(stderr, "ocid: %s\n", ocid_error_message(&error));
                return EXIT_FAILURE;
        }
        printf("records: %zu pod(s) and %zu container(s) restorable, %zu pod and %zu container record(s) "
               "would be skipped\n",
               st.pods, st.containers, st.bad_pods, st.bad_containers);
        fflush(stdout);
        return st.bad_pods + st.bad_containers > 0 ? EXIT_BAD_RECORDS : EXIT_SUCCESS;
}

static int cmd_check(const struct daemon_options *o)
{
        _cleanup_(config_freep) struct ocid_config *c = NULL;
        _cleanup_error_ struct ocid_error *error = NULL;

        if (daemon_load_config(o, &c, &error) < 0)
                return config_failed(&error);
        if (modules_check(c, &error) < 0)
                return config_failed(&error);
        printf("configuration OK\n");
        return check_records(c);
}

static int cmd_run(const struct daemon_options *o)
{
        _cleanup_error_ struct ocid_error *error = NULL;
        struct ocid_config *c = NULL;
        int level;

        if (daemon_load_config(o, &c, &error) < 0)
                return config_failed(&error);
        level = ocid_log_level_from_string(c->log_level);
        if (level >= 0)
                ocid_log_set_level(level);
        if (daemon_run(c, o, &error) < 0) {
                fprintf(stderr, "ocid: %s\n", ocid_error_message(&error));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

/* Parses global options until the first operand (the command), from
 * argv[optind]. Returns 0, 1 after --help, or -1 on a usage error. */
static int parse_options(int argc, char *argv[], struct daemon_options *o)
{
        enum { OPT_ROOT = 0x100, OPT_RUNROOT, OPT_LISTEN, OPT_LOG_LEVEL };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "root", required_argument, NULL, OPT_ROOT },
                { "runroot", required_argument, NULL, OPT_RUNROOT },
                { "listen", required_argument, NULL, OPT_LISTEN },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        /* '+': stop at the command, whose own options (image) follow it. */
        while ((c = getopt_long(argc, argv, "+c:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        o->config_path = optarg;
                        break;
                case OPT_ROOT:
                        o->root = optarg;
                        break;
                case OPT_RUNROOT:
                        o->runroot = optarg;
                        break;
                case OPT_LISTEN:
                        o->listen = optarg;
                        break;
                case OPT_LOG_LEVEL:
                        o->log_level = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 1;
                default:
                        fprintf(stderr, "Try 'ocid --help' for more information.\n");
                        return -1;
                }
        }
        return 0;
}

int main(int argc, char *argv[])
{
        struct daemon_options o = { 0 };
        const char *command = "run";
        int r;

        r = parse_options(argc, argv, &o);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : EXIT_CONFIG;
        if (optind < argc) {
                int at = optind;

                command = argv[at];
                if (streq(command, "image"))
                        return image_cli_main(&o, argc - at, argv + at);
                /* The global options may follow the other commands too: a
                 * fresh scan (optind = 0) of the arguments after it. */
                optind = 0;
                r = parse_options(argc - at, argv + at, &o);
                if (r != 0)
                        return r > 0 ? EXIT_SUCCESS : EXIT_CONFIG;
                if (optind < argc - at) {
                        fprintf(stderr, "ocid: unexpected argument '%s'\n", argv[at + optind]);
                        return EXIT_CONFIG;
                }
        }

        if (streq(command, "run"))
                return cmd_run(&o);
        if (streq(command, "config"))
                return cmd_config(&o);
        if (streq(command, "check"))
                return cmd_check(&o);
        if (streq(command, "version")) {
                printf("ocid version %s\n", PACKAGE_VERSION);
                return EXIT_SUCCESS;
        }
        if (streq(command, "help")) {
                usage(stdout);
                return EXIT_SUCCESS;
        }
        fprintf(stderr, "ocid: unknown command '%s'\nTry 'ocid --help' for more information.\n", command);
        return EXIT_CONFIG;
}
