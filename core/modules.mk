# The module loader, the module set and the dispatch wrappers (the only
# callers of module ops), with their unit tests and the test-only modules
# the loader tests load for real.
core_sources += \
	core/module-loader.c core/module-loader.h \
	core/modules.c core/modules.h \
	core/storage.c core/storage.h \
	core/network.c core/network.h \
	core/security.c core/security.h \
	core/runtime.c core/runtime.h

EXTRA_DIST += tests/unit/modules/fake/fake-bad.h tests/unit/modules/module-test.h

if HAVE_CMOCKA
# Test modules: real shared objects, all in tests/unit/modules/fake/.libs
# (OCID_TEST_MODULE_DIR). Good ones of each kind come from one source.
FAKE_MODULE_CF = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS)
FAKE_MODULE_LDF = -module -avoid-version -shared -rpath /nowhere
FAKE_MODULE_LIBS = lib/libocid.la $(LIBCONFIG_LIBS)

fake_modules = \
	tests/unit/modules/fake/fake-storage.la \
	tests/unit/modules/fake/fake-network.la \
	tests/unit/modules/fake/fake-security.la \
	tests/unit/modules/fake/fake-runtime.la \
	tests/unit/modules/fake/fake-plain-symbol.la \
	tests/unit/modules/fake/fake-newer-minor.la \
	tests/unit/modules/fake/fake-other-major.la \
	tests/unit/modules/fake/fake-short-info.la \
	tests/unit/modules/fake/fake-no-ops.la \
	tests/unit/modules/fake/fake-short-ops.la \
	tests/unit/modules/fake/fake-short-runtime-ops.la \
	tests/unit/modules/fake/fake-reserved.la \
	tests/unit/modules/fake/fake-unknown-kind.la \
	tests/unit/modules/fake/fake-misnamed.la \
	tests/unit/modules/fake/fake-null-init.la \
	tests/unit/modules/fake/fake-no-symbol.la \
	tests/unit/modules/fake/fake-init-fails.la
check_LTLIBRARIES += $(fake_modules)

tests_unit_modules_fake_fake_storage_la_SOURCES = tests/unit/modules/fake/fake-good.c
tests_unit_modules_fake_fake_storage_la_CPPFLAGS = $(AM_CPPFLAGS) -DFAKE_SYM=fake_storage \
	-DFAKE_NAME='"fake-storage"' -DFAKE_KIND=OCID_MODULE_KIND_STORAGE
tests_unit_modules_fake_fake_storage_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_storage_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_storage_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_network_la_SOURCES = tests/unit/modules/fake/fake-good.c
tests_unit_modules_fake_fake_network_la_CPPFLAGS = $(AM_CPPFLAGS) -DFAKE_SYM=fake_network \
	-DFAKE_NAME='"fake-network"' -DFAKE_KIND=OCID_MODULE_KIND_NETWORK
tests_unit_modules_fake_fake_network_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_network_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_network_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_security_la_SOURCES = tests/unit/modules/fake/fake-good.c
tests_unit_modules_fake_fake_security_la_CPPFLAGS = $(AM_CPPFLAGS) -DFAKE_SYM=fake_security \
	-DFAKE_NAME='"fake-security"' -DFAKE_KIND=OCID_MODULE_KIND_SECURITY -DFAKE_MINIMAL
tests_unit_modules_fake_fake_security_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_security_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_security_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_runtime_la_SOURCES = tests/unit/modules/fake/fake-good.c
tests_unit_modules_fake_fake_runtime_la_CPPFLAGS = $(AM_CPPFLAGS) -DFAKE_SYM=fake_runtime \
	-DFAKE_NAME='"fake-runtime"' -DFAKE_KIND=OCID_MODULE_KIND_RUNTIME
tests_unit_modules_fake_fake_runtime_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_runtime_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_runtime_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_plain_symbol_la_SOURCES = tests/unit/modules/fake/fake-plain-symbol.c
tests_unit_modules_fake_fake_plain_symbol_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_plain_symbol_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_plain_symbol_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_newer_minor_la_SOURCES = tests/unit/modules/fake/fake-newer-minor.c
tests_unit_modules_fake_fake_newer_minor_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_newer_minor_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_newer_minor_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_other_major_la_SOURCES = tests/unit/modules/fake/fake-other-major.c
tests_unit_modules_fake_fake_other_major_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_other_major_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_other_major_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_short_info_la_SOURCES = tests/unit/modules/fake/fake-short-info.c
tests_unit_modules_fake_fake_short_info_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_short_info_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_short_info_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_no_ops_la_SOURCES = tests/unit/modules/fake/fake-no-ops.c
tests_unit_modules_fake_fake_no_ops_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_no_ops_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_no_ops_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_short_ops_la_SOURCES = tests/unit/modules/fake/fake-short-ops.c
tests_unit_modules_fake_fake_short_ops_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_short_ops_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_short_ops_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_short_runtime_ops_la_SOURCES = tests/unit/modules/fake/fake-short-runtime-ops.c
tests_unit_modules_fake_fake_short_runtime_ops_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_short_runtime_ops_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_short_runtime_ops_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_reserved_la_SOURCES = tests/unit/modules/fake/fake-reserved.c
tests_unit_modules_fake_fake_reserved_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_reserved_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_reserved_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_unknown_kind_la_SOURCES = tests/unit/modules/fake/fake-unknown-kind.c
tests_unit_modules_fake_fake_unknown_kind_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_unknown_kind_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_unknown_kind_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_misnamed_la_SOURCES = tests/unit/modules/fake/fake-misnamed.c
tests_unit_modules_fake_fake_misnamed_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_misnamed_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_misnamed_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_null_init_la_SOURCES = tests/unit/modules/fake/fake-null-init.c
tests_unit_modules_fake_fake_null_init_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_null_init_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_null_init_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_no_symbol_la_SOURCES = tests/unit/modules/fake/fake-no-symbol.c
tests_unit_modules_fake_fake_no_symbol_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_no_symbol_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_no_symbol_la_LIBADD = $(FAKE_MODULE_LIBS)

tests_unit_modules_fake_fake_init_fails_la_SOURCES = tests/unit/modules/fake/fake-init-fails.c
tests_unit_modules_fake_fake_init_fails_la_CFLAGS = $(FAKE_MODULE_CF)
tests_unit_modules_fake_fake_init_fails_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_init_fails_la_LIBADD = $(FAKE_MODULE_LIBS)

# Two security modules with every security op, for the chain tests.
fake_sec_chain = tests/unit/modules/fake/fake-sec-a.la tests/unit/modules/fake/fake-sec-b.la
check_LTLIBRARIES += $(fake_sec_chain)
tests_unit_modules_fake_fake_sec_a_la_SOURCES = tests/unit/modules/fake/fake-sec-chain.c
tests_unit_modules_fake_fake_sec_a_la_CPPFLAGS = $(AM_CPPFLAGS) -DFAKE_SYM=fake_sec_a -DFAKE_NAME='"fake-sec-a"'
tests_unit_modules_fake_fake_sec_a_la_CFLAGS = $(FAKE_MODULE_CF) $(JSONC_CFLAGS)
tests_unit_modules_fake_fake_sec_a_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_sec_a_la_LIBADD = $(FAKE_MODULE_LIBS) $(JSONC_LIBS)
tests_unit_modules_fake_fake_sec_b_la_SOURCES = tests/unit/modules/fake/fake-sec-chain.c
tests_unit_modules_fake_fake_sec_b_la_CPPFLAGS = $(AM_CPPFLAGS) -DFAKE_SYM=fake_sec_b -DFAKE_NAME='"fake-sec-b"'
tests_unit_modules_fake_fake_sec_b_la_CFLAGS = $(FAKE_MODULE_CF) $(JSONC_CFLAGS)
tests_unit_modules_fake_fake_sec_b_la_LDFLAGS = $(FAKE_MODULE_LDF)
tests_unit_modules_fake_fake_sec_b_la_LIBADD = $(FAKE_MODULE_LIBS) $(JSONC_LIBS)

# Unit tests of the loader, the set and the wrappers; they load the test
# modules above, so they depend on them.
check_PROGRAMS += \
	tests/unit/core/test-module-loader \
	tests/unit/core/test-modules \
	tests/unit/core/test-storage \
	tests/unit/core/test-network \
	tests/unit/core/test-security \
	tests/unit/core/test-runtime

tests_unit_core_test_module_loader_SOURCES = tests/unit/core/test-module-loader.c
tests_unit_core_test_module_loader_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_test_module_loader_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_test_module_loader_LDADD = $(CORE_TEST_LIBS)
EXTRA_tests_unit_core_test_module_loader_DEPENDENCIES = $(fake_modules)

tests_unit_core_test_modules_SOURCES = tests/unit/core/test-modules.c
tests_unit_core_test_modules_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_test_modules_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_test_modules_LDADD = $(CORE_TEST_LIBS)
EXTRA_tests_unit_core_test_modules_DEPENDENCIES = $(fake_modules)

tests_unit_core_test_storage_SOURCES = tests/unit/core/test-storage.c
tests_unit_core_test_storage_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_test_storage_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_test_storage_LDADD = $(CORE_TEST_LIBS)
EXTRA_tests_unit_core_test_storage_DEPENDENCIES = $(fake_modules)

tests_unit_core_test_network_SOURCES = tests/unit/core/test-network.c
tests_unit_core_test_network_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_test_network_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_test_network_LDADD = $(CORE_TEST_LIBS)
EXTRA_tests_unit_core_test_network_DEPENDENCIES = $(fake_modules)

tests_unit_core_test_security_SOURCES = tests/unit/core/test-security.c
tests_unit_core_test_security_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_test_security_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_test_security_LDADD = $(CORE_TEST_LIBS)
EXTRA_tests_unit_core_test_security_DEPENDENCIES = $(fake_modules) $(fake_sec_chain)

tests_unit_core_test_runtime_SOURCES = tests/unit/core/test-runtime.c
tests_unit_core_test_runtime_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_test_runtime_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_test_runtime_LDADD = $(CORE_TEST_LIBS)
EXTRA_tests_unit_core_test_runtime_DEPENDENCIES = $(fake_modules)
endif
