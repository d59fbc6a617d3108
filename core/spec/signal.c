/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/util.h>

#include "spec/signal.h"

/* The classic signals, with the Linux aliases Docker accepts. */
static const struct {
        const char *name;
        int number;
} signals[] = {
        { "HUP", SIGHUP },       { "INT", SIGINT },       { "QUIT", SIGQUIT },   { "ILL", SIGILL },
        { "TRAP", SIGTRAP },     { "ABRT", SIGABRT },     { "IOT", SIGIOT },     { "BUS", SIGBUS },
        { "FPE", SIGFPE },       { "KILL", SIGKILL },     { "USR1", SIGUSR1 },   { "SEGV", SIGSEGV },
        { "USR2", SIGUSR2 },     { "PIPE", SIGPIPE },     { "ALRM", SIGALRM },   { "TERM", SIGTERM },
        { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD },     { "CLD", SIGCHLD },    { "CONT", SIGCONT },
        { "STOP", SIGSTOP },     { "TSTP", SIGTSTP },     { "TTIN", SIGTTIN },   { "TTOU", SIGTTOU },
        { "URG", SIGURG },       { "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ },   { "VTALRM", SIGVTALRM },
        { "PROF", SIGPROF },     { "WINCH", SIGWINCH },   { "IO", SIGIO },       { "POLL", SIGPOLL },
        { "PWR", SIGPWR },       { "SYS", SIGSYS },
};

/* SIGRTMIN is glibc's (34: the C library keeps 32 and 33 for itself), as
 * Docker and the Go runtimes number it; 32 and 33 are reachable by number. */
#define RT_MIN 34
#define RT_MAX 64

static int parse_small(const char *s, int *ret)
{
        uint64_t v;

        if (ocid_parse_uint64(s, &v) < 0 || v > 64)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

int signal_parse(const char *text, int *ret, struct ocid_error **err)
{
        _cleanup_free_ char *upper = NULL;
        const char *s, *rest;
        int n;

        if (!text || !*text)
                return ocid_error_msg(err, EINVAL, "empty stop signal");
        if (strlen(text) > 32)
                return ocid_error_msg(err, EINVAL, "unknown stop signal (longer than 32 bytes)");
        if (parse_small(text, &n) == 0) {
                if (n < 1 || n > RT_MAX)
                        return ocid_error_msg(err, EINVAL, "stop signal '%s' is out of range", text);
                *ret = n;
                return 0;
        }
        /* Names are matched in upper case, as Docker does. */
        upper = xstrdup(text);
        for (char *p = upper; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                        *p = (char) (*p - 'a' + 'A');
        s = ocid_startswith(upper, "SIG") ? upper + 3 : upper;
        for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                if (streq(s, signals[i].name)) {
                        *ret = signals[i].number;
                        return 0;
                }
        if (streq(s, "RTMIN")) {
                *ret = RT_MIN;
                return 0;
        }
        if (streq(s, "RTMAX")) {
                *ret = RT_MAX;
                return 0;
        }
        if ((rest = ocid_startswith(s, "RTMIN+")) && parse_small(rest, &n) == 0 && n <= RT_MAX - RT_MIN) {
                *ret = RT_MIN + n;
                return 0;
        }
        if ((rest = ocid_startswith(s, "RTMAX-")) && parse_small(rest, &n) == 0 && n <= RT_MAX - RT_MIN) {
                *ret = RT_MAX - n;
                return 0;
        }
        return ocid_error_msg(err, EINVAL, "unknown stop signal '%s'", text);
}

int signal_from_cri(int value, int *ret, struct ocid_error **err)
{
        /* runtime.v1.Signal: 0 runtime default, 1..34 the classic names in
         * alphabetical order, 35 SIGRTMIN, 36..50 SIGRTMIN+1..15,
         * 51..64 SIGRTMAX-14..-1, 65 SIGRTMAX. */
        static const int classic[] = {
                SIGABRT, SIGALRM, SIGBUS,  SIGCHLD, SIGCHLD, SIGCONT,   SIGFPE,  SIGHUP,    SIGILL,
                SIGINT,  SIGIO,   SIGIOT,  SIGKILL, SIGPIPE, SIGPOLL,   SIGPROF, SIGPWR,    SIGQUIT,
                SIGSEGV, SIGSTKFLT, SIGSTOP, SIGSYS, SIGTERM, SIGTRAP,  SIGTSTP, SIGTTIN,   SIGTTOU,
                SIGURG,  SIGUSR1, SIGUSR2, SIGVTALRM, SIGWINCH, SIGXCPU, SIGXFSZ,
        };

        if (value == 0)
                *ret = 0;
        else if (value >= 1 && value <= (int) ELEMENTSOF(classic))
                *ret = classic[value - 1];
        else if (value >= 35 && value <= 50)
                *ret = RT_MIN + (value - 35);
        else if (value >= 51 && value <= 65)
                *ret = RT_MAX - (65 - value);
        else
                return ocid_error_msg(err, EINVAL, "stop_signal: unknown value %d", value);
        return 0;
}

const char *signal_name(int sig, char buf[static 16])
{
        for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                if (signals[i].number == sig) {
                        (void) snprintf(buf, 16, "SIG%s", signals[i].name);
                        return buf;
                }
        if (sig == RT_MIN)
                return "SIGRTMIN";
        if (sig == RT_MAX)
                return "SIGRTMAX";
        if (sig > RT_MIN && sig <= RT_MIN + 15) {
                (void) snprintf(buf, 16, "SIGRTMIN+%d", sig - RT_MIN);
                return buf;
        }
        if (sig > RT_MIN + 15 && sig < RT_MAX) {
                (void) snprintf(buf, 16, "SIGRTMAX-%d", RT_MAX - sig);
                return buf;
        }
        return NULL;
}
