# The configuration: core/config.c and its unit test.
core_sources += core/config.c core/config.h

check_PROGRAMS += tests/unit/core/test-config
tests_unit_core_test_config_SOURCES = tests/unit/core/test-config.c
tests_unit_core_test_config_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_test_config_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_test_config_LDADD = $(CORE_TEST_LIBS)
EXTRA_DIST += tests/unit/core/config-data
