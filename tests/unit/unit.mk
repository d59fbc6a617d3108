# Unit tests (cmocka, TAP). Each fragment owner adds its tests here with
#   check_PROGRAMS += tests/unit/<dir>/test-<unit>
# and the matching _SOURCES/_CFLAGS/_LDADD; TESTS lists them all.
TESTS += $(check_PROGRAMS)
EXTRA_DIST += tests/unit/test-common.h
LOG_COMPILER = $(top_srcdir)/tests/unit/run-test
EXTRA_DIST += tests/unit/run-test
