# The registry: name registrar, truncated-ID index, reference-counted stores.
core_sources += \
	core/registry/hashmap.c core/registry/hashmap.h \
	core/registry/names.c core/registry/names.h \
	core/registry/truncindex.c core/registry/truncindex.h \
	core/registry/store.c core/registry/store.h \
	core/registry/registry.c core/registry/registry.h

if HAVE_CMOCKA
check_PROGRAMS += \
	tests/unit/core/registry/test-hashmap \
	tests/unit/core/registry/test-names \
	tests/unit/core/registry/test-truncindex \
	tests/unit/core/registry/test-store \
	tests/unit/core/registry/test-registry
endif

tests_unit_core_registry_test_hashmap_SOURCES = tests/unit/core/registry/test-hashmap.c
tests_unit_core_registry_test_hashmap_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_registry_test_hashmap_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_registry_test_hashmap_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_registry_test_names_SOURCES = tests/unit/core/registry/test-names.c
tests_unit_core_registry_test_names_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_registry_test_names_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_registry_test_names_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_registry_test_truncindex_SOURCES = tests/unit/core/registry/test-truncindex.c
tests_unit_core_registry_test_truncindex_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_registry_test_truncindex_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_registry_test_truncindex_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_registry_test_store_SOURCES = tests/unit/core/registry/test-store.c
tests_unit_core_registry_test_store_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_registry_test_store_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_registry_test_store_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_registry_test_registry_SOURCES = tests/unit/core/registry/test-registry.c
tests_unit_core_registry_test_registry_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_registry_test_registry_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_registry_test_registry_LDADD = $(CORE_TEST_LIBS)
