/* SPDX-License-Identifier: Apache-2.0 */

/* ocid-pause: the only process of an infra container. It holds the pod's
 * namespaces open, reaps every child the kernel hands it (as PID 1 of the
 * pod's PID namespace it inherits all orphans) and exits 0 on SIGINT or
 * SIGTERM. It uses no stdio and no allocation, so that a static build stays
 * small. */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ocid/util.h>  /* streq (inline only: nothing is linked) */

static void say(int fd, const char *s)
{
        size_t len = strlen(s);

        while (len > 0) {
                ssize_t n = write(fd, s, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                s += n;
                len -= (size_t) n;
        }
}

static void reap_all(void)
{
        for (;;) {
                pid_t pid = waitpid(-1, NULL, WNOHANG);
                if (pid > 0)
                        continue;
                if (pid < 0 && errno == EINTR)
                        continue;
                return;  /* 0: children left, none exited; -1 ECHILD: none */
        }
}

int main(int argc, char **argv)
{
        sigset_t set;

        if (argc > 1) {
                if (streq(argv[1], "--version")) {
                        say(STDOUT_FILENO, "ocid-pause " PACKAGE_VERSION "\n");
                        return 0;
                }
                say(STDERR_FILENO, "usage: ocid-pause [--version]\n");
                return 2;
        }

        /* Signals are taken synchronously: blocked here, collected with
         * sigwaitinfo(). PID 1 of a namespace gets no default actions, so
         * blocking and waiting is also what makes SIGTERM reach us there. */
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
                say(STDERR_FILENO, "ocid-pause: sigprocmask failed\n");
                return 1;
        }
        /* An ignored SIGCHLD inherited through exec would make the kernel
         * reap by itself and drop the signal: start from the defaults (after
         * blocking, so that no signal finds a default action meanwhile). */
        (void) signal(SIGINT, SIG_DFL);
        (void) signal(SIGTERM, SIG_DFL);
        (void) signal(SIGCHLD, SIG_DFL);

        /* Children that ended before the mask was set sent their SIGCHLD
         * already. */
        reap_all();

        for (;;) {
                int sig = sigwaitinfo(&set, NULL);

                if (sig < 0) {
                        if (errno == EINTR)
                                continue;
                        say(STDERR_FILENO, "ocid-pause: sigwaitinfo failed\n");
                        return 1;
                }
                if (sig == SIGCHLD)
                        reap_all();
                else
                        return 0;
        }
}
