# libocid: the helpers core and every module link (errors, logging, paths,
# atomic files, commands, JSON, libconfig settings, host paths). Built with
# hidden visibility; the public API is marked OCID_EXPORT and the export list
# is limited to ocid_* and the x* allocators.
libocid_sources = \
	lib/internal.h lib/error.c lib/log.c lib/util.c lib/fs.c lib/exec.c \
	lib/json.c lib/setting.c lib/host.c

lib_LTLIBRARIES += lib/libocid.la
lib_libocid_la_SOURCES = $(libocid_sources)
lib_libocid_la_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(JSONC_CFLAGS) -fvisibility=hidden
lib_libocid_la_LDFLAGS = -version-info 0:0:0 -no-undefined \
	-export-symbols-regex '^(ocid_|x[a-z]+$$)'
lib_libocid_la_LIBADD = $(LIBCONFIG_LIBS) $(JSONC_LIBS) $(PTHREAD_LIBS)

# Unit tests: one program per source. They link the installed-to-be shared
# library, which also proves the exports; test-fs links the same sources as a
# static convenience library, so that -Wl,--wrap can fail fsync and renameat
# inside libocid itself.
if HAVE_CMOCKA
check_LTLIBRARIES += lib/libocid-testing.la
lib_libocid_testing_la_SOURCES = $(libocid_sources)
lib_libocid_testing_la_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(JSONC_CFLAGS) -fvisibility=default
lib_libocid_testing_la_LIBADD = $(LIBCONFIG_LIBS) $(JSONC_LIBS) $(PTHREAD_LIBS)

LIB_TEST_CF = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBCONFIG_CFLAGS) $(JSONC_CFLAGS)
LIB_TEST_LIBS = lib/libocid.la $(CMOCKA_LIBS) $(LIBCONFIG_LIBS) $(JSONC_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += tests/unit/lib/test-error tests/unit/lib/test-log tests/unit/lib/test-util \
	tests/unit/lib/test-fs tests/unit/lib/test-exec tests/unit/lib/test-json \
	tests/unit/lib/test-setting tests/unit/lib/test-host

tests_unit_lib_test_error_SOURCES = tests/unit/lib/test-error.c
tests_unit_lib_test_error_CFLAGS = $(LIB_TEST_CF)
tests_unit_lib_test_error_LDADD = $(LIB_TEST_LIBS)

tests_unit_lib_test_log_SOURCES = tests/unit/lib/test-log.c
tests_unit_lib_test_log_CFLAGS = $(LIB_TEST_CF)
tests_unit_lib_test_log_LDADD = $(LIB_TEST_LIBS)

tests_unit_lib_test_util_SOURCES = tests/unit/lib/test-util.c
tests_unit_lib_test_util_CFLAGS = $(LIB_TEST_CF)
tests_unit_lib_test_util_LDADD = $(LIB_TEST_LIBS)

tests_unit_lib_test_fs_SOURCES = tests/unit/lib/test-fs.c
tests_unit_lib_test_fs_CFLAGS = $(LIB_TEST_CF)
tests_unit_lib_test_fs_LDADD = lib/libocid-testing.la $(CMOCKA_LIBS) $(LIBCONFIG_LIBS) $(JSONC_LIBS) \
	$(PTHREAD_LIBS)
tests_unit_lib_test_fs_LDFLAGS = -Wl,--wrap=fsync -Wl,--wrap=renameat -Wl,--wrap=write

tests_unit_lib_test_exec_SOURCES = tests/unit/lib/test-exec.c
tests_unit_lib_test_exec_CFLAGS = $(LIB_TEST_CF)
tests_unit_lib_test_exec_LDADD = $(LIB_TEST_LIBS)

tests_unit_lib_test_json_SOURCES = tests/unit/lib/test-json.c
tests_unit_lib_test_json_CFLAGS = $(LIB_TEST_CF)
tests_unit_lib_test_json_LDADD = $(LIB_TEST_LIBS)

tests_unit_lib_test_setting_SOURCES = tests/unit/lib/test-setting.c
tests_unit_lib_test_setting_CFLAGS = $(LIB_TEST_CF)
tests_unit_lib_test_setting_LDADD = $(LIB_TEST_LIBS)

tests_unit_lib_test_host_SOURCES = tests/unit/lib/test-host.c
tests_unit_lib_test_host_CFLAGS = $(LIB_TEST_CF)
tests_unit_lib_test_host_LDADD = $(LIB_TEST_LIBS)
endif
EXTRA_DIST += tests/unit/lib/lib-test.h
