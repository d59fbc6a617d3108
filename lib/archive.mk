# libocid: safe extraction of image layers (libarchive). Included right after
# lib/lib.mk, which defines the lib_libocid_la_* variables appended to here.
lib_libocid_la_SOURCES += lib/archive.c
lib_libocid_la_CFLAGS += $(LIBARCHIVE_CFLAGS)
lib_libocid_la_LIBADD += $(LIBARCHIVE_LIBS)
ocidinclude_HEADERS += include/ocid/archive.h

# The test compiles lib/archive.c itself, against the default-visibility
# libocid-testing.la for the other helpers, so that -Wl,--wrap=syscall can
# make openat2 fail with ENOSYS and run every case through the fallback path
# walk as well.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/lib/test-archive
tests_unit_lib_test_archive_SOURCES = tests/unit/lib/test-archive.c lib/archive.c
tests_unit_lib_test_archive_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBARCHIVE_CFLAGS)
tests_unit_lib_test_archive_LDADD = lib/libocid-testing.la $(LIBARCHIVE_LIBS) $(CMOCKA_LIBS) \
	$(LIBCONFIG_LIBS) $(JSONC_LIBS) $(PTHREAD_LIBS)
tests_unit_lib_test_archive_LDFLAGS = -Wl,--wrap=syscall
endif
