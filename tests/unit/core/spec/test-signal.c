/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "../../test-common.h"

#include <ocid/error.h>
#include <ocid/util.h>

#include "spec/signal.h"

static int parse(const char *s)
{
        int sig = -1;

        assert_int_equal(signal_parse(s, &sig, NULL), 0);
        return sig;
}

static void test_names_and_numbers(void **state)
{
        assert_int_equal(parse("SIGTERM"), SIGTERM);
        assert_int_equal(parse("TERM"), SIGTERM);
        assert_int_equal(parse("15"), SIGTERM);
        assert_int_equal(parse("sigquit"), SIGQUIT);
        assert_int_equal(parse("SIGKILL"), SIGKILL);
        assert_int_equal(parse("SIGWINCH"), SIGWINCH);
        assert_int_equal(parse("SIGCLD"), SIGCHLD);
        assert_int_equal(parse("SIGPOLL"), SIGIO);
        assert_int_equal(parse("1"), 1);
        assert_int_equal(parse("64"), 64);
        assert_int_equal(parse("32"), 32);
}

static void test_realtime(void **state)
{
        assert_int_equal(parse("SIGRTMIN"), 34);
        assert_int_equal(parse("SIGRTMIN+3"), 37);
        assert_int_equal(parse("RTMIN+30"), 64);
        assert_int_equal(parse("SIGRTMAX"), 64);
        assert_int_equal(parse("SIGRTMAX-1"), 63);
        assert_int_equal(parse("RTMAX-30"), 34);
}

static void test_rejected(void **state)
{
        const char *bad[] = { "", "0", "65", "-1", "+15", " 15", "SIGFOO", "SIG", "SIGTERM\n", "TERM ",
                              "SIGRTMIN+31", "SIGRTMAX-31", "SIGRTMIN+", "SIGRTMIN-1", "99999999999999999999",
                              "SIGRTMIN+0x1" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_error_ struct ocid_error *err = NULL;
                int sig = -7;

                assert_int_equal(signal_parse(bad[i], &sig, &err), -EINVAL);
                assert_int_equal(sig, -7);
                assert_non_null(err);
        }
        {
                _cleanup_error_ struct ocid_error *err = NULL;
                int sig;
                assert_int_equal(signal_parse("SIGNOPE", &sig, &err), -EINVAL);
                assert_string_equal(ocid_error_message(&err), "unknown stop signal 'SIGNOPE'");
        }
}

static void test_cri_enum(void **state)
{
        _cleanup_error_ struct ocid_error *err = NULL;
        int sig = -1;

        assert_int_equal(signal_from_cri(0, &sig, NULL), 0);
        assert_int_equal(sig, 0);
        assert_int_equal(signal_from_cri(23, &sig, NULL), 0); /* SIGNAL_SIGTERM */
        assert_int_equal(sig, SIGTERM);
        assert_int_equal(signal_from_cri(1, &sig, NULL), 0);  /* SIGNAL_SIGABRT */
        assert_int_equal(sig, SIGABRT);
        assert_int_equal(signal_from_cri(13, &sig, NULL), 0); /* SIGNAL_SIGKILL */
        assert_int_equal(sig, SIGKILL);
        assert_int_equal(signal_from_cri(34, &sig, NULL), 0); /* SIGNAL_SIGXFSZ */
        assert_int_equal(sig, SIGXFSZ);
        assert_int_equal(signal_from_cri(35, &sig, NULL), 0); /* SIGNAL_SIGRTMIN */
        assert_int_equal(sig, 34);
        assert_int_equal(signal_from_cri(50, &sig, NULL), 0); /* SIGNAL_SIGRTMINPLUS15 */
        assert_int_equal(sig, 49);
        assert_int_equal(signal_from_cri(51, &sig, NULL), 0); /* SIGNAL_SIGRTMAXMINUS14 */
        assert_int_equal(sig, 50);
        assert_int_equal(signal_from_cri(65, &sig, NULL), 0); /* SIGNAL_SIGRTMAX */
        assert_int_equal(sig, 64);
        assert_int_equal(signal_from_cri(66, &sig, &err), -EINVAL);
        ocid_error_clear(&err);
        assert_int_equal(signal_from_cri(-1, &sig, &err), -EINVAL);
}

static void test_names_round_trip(void **state)
{
        char buf[16];

        assert_string_equal(signal_name(SIGTERM, buf), "SIGTERM");
        assert_string_equal(signal_name(SIGABRT, buf), "SIGABRT");
        assert_string_equal(signal_name(37, buf), "SIGRTMIN+3");
        assert_string_equal(signal_name(63, buf), "SIGRTMAX-1");
        assert_string_equal(signal_name(34, buf), "SIGRTMIN");
        assert_string_equal(signal_name(64, buf), "SIGRTMAX");
        assert_null(signal_name(0, buf));
        assert_null(signal_name(33, buf));
        assert_null(signal_name(65, buf));
        for (int s = 1; s <= 64; s++) {
                const char *n = signal_name(s, buf);
                if (n)
                        assert_int_equal(parse(n), s);
        }
}

OCID_TEST_MAIN(cmocka_unit_test(test_names_and_numbers),
               cmocka_unit_test(test_realtime),
               cmocka_unit_test(test_rejected),
               cmocka_unit_test(test_cri_enum),
               cmocka_unit_test(test_names_round_trip))
