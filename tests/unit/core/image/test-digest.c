/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../test-common.h"

#include <ocid/error.h>
#include <ocid/util.h>

#include "image/digest.h"

/* sha256("") and sha256("abc"), from FIPS 180-2 */
#define EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC   "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/* sha256 of one million 'a' */
#define MILLION_A "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static void test_known_vectors(void **state)
{
        char d[DIGEST_STRING_SIZE];

        assert_int_equal(digest_buffer("", 0, d, NULL), 0);
        assert_string_equal(d, EMPTY);
        assert_int_equal(digest_buffer("abc", 3, d, NULL), 0);
        assert_string_equal(d, ABC);
        assert_int_equal(strlen(d), DIGEST_STRING_SIZE - 1);
}

static void test_streaming(void **state)
{
        _cleanup_digester_ struct digester *dg = NULL;
        char chunk[1000], d[DIGEST_STRING_SIZE], peek[DIGEST_STRING_SIZE];

        memset(chunk, 'a', sizeof(chunk));
        assert_int_equal(digester_new(&dg, NULL), 0);
        for (int i = 0; i < 1000; i++) {
                assert_int_equal(digester_update(dg, chunk, sizeof(chunk), NULL), 0);
                if (i == 499) {
                        /* peeking does not disturb the stream */
                        assert_int_equal(digester_peek(dg, peek, NULL), 0);
                        assert_string_not_equal(peek, MILLION_A);
                }
        }
        assert_int_equal(digester_count(dg), 1000000);
        assert_int_equal(digester_peek(dg, peek, NULL), 0);
        assert_string_equal(peek, MILLION_A);
        assert_int_equal(digester_final(dg, d, NULL), 0);
        assert_string_equal(d, MILLION_A);

        assert_int_equal(digester_reset(dg, NULL), 0);
        assert_int_equal(digester_count(dg), 0);
        assert_int_equal(digester_update(dg, "a", 1, NULL), 0);
        assert_int_equal(digester_update(dg, "bc", 2, NULL), 0);
        assert_int_equal(digester_update(dg, NULL, 0, NULL), 0);
        assert_int_equal(digester_final(dg, d, NULL), 0);
        assert_string_equal(d, ABC);
}

static void test_fd(void **state)
{
        char path[] = "/tmp/ocid-test-digest-XXXXXX", d[DIGEST_STRING_SIZE];
        uint64_t size = 0;
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        (void) unlink(path);
        assert_int_equal(write(fd, "abc", 3), 3);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(digest_fd(fd, d, &size, NULL), 0);
        assert_string_equal(d, ABC);
        assert_int_equal(size, 3);
        close(fd);

        {
                _cleanup_error_ struct ocid_error *err = NULL;
                assert_int_equal(digest_fd(-1, d, NULL, &err), -EBADF);
        }
}

static void test_validate(void **state)
{
        static const struct {
                const char *s;
                const char *why; /* NULL: valid */
        } cases[] = {
                { ABC, NULL },
                { EMPTY, NULL },
                { "", "empty" },
                { "sha256", "missing ':'" },
                { "sha256:", "empty hex" },
                { ":abc", "malformed algorithm" },
                { "SHA256:" "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "malformed algorithm" },
                { "sha256+:abc", "malformed algorithm" },
                { "sha512:abc", "unsupported digest algorithm 'sha512'" },
                { "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", "unsupported digest algorithm" },
                { "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a", "64 lowercase hex" },
                { "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0", "64 lowercase hex" },
                { "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", "64 lowercase hex" },
                { "sha256:ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "64 lowercase hex" },
                { "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a/", "64 lowercase hex" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_error_ struct ocid_error *err = NULL;
                int r = digest_validate(cases[i].s, &err);

                if (!cases[i].why) {
                        assert_int_equal(r, 0);
                        assert_true(digest_is_valid(cases[i].s));
                        continue;
                }
                assert_int_equal(r, -EINVAL);
                assert_false(digest_is_valid(cases[i].s));
                if (!strstr(ocid_error_message(&err), cases[i].why))
                        fail_msg("'%s': '%s' lacks '%s'", cases[i].s, ocid_error_message(&err), cases[i].why);
                assert_non_null(strstr(ocid_error_message(&err), cases[i].s));
        }
        assert_false(digest_is_valid(NULL));
}

static void test_hex_equal(void **state)
{
        assert_string_equal(digest_hex(ABC), ABC + 7);
        assert_true(digest_equal(ABC, ABC));
        assert_false(digest_equal(ABC, EMPTY));
        assert_false(digest_equal(ABC, NULL));
        assert_false(digest_equal("sha256:x", "sha256:x"));
}

OCID_TEST_MAIN(cmocka_unit_test(test_known_vectors), cmocka_unit_test(test_streaming), cmocka_unit_test(test_fd),
               cmocka_unit_test(test_validate), cmocka_unit_test(test_hex_equal))
