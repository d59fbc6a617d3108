# The pod lifecycle (core/lifecycle) and its CRI methods
# (core/server/cri-pod.c): records on disk, pods on pinned namespaces.
core_sources += \
	core/lifecycle/records.c core/lifecycle/records.h \
	core/lifecycle/pod.c core/lifecycle/pod.h \
	core/server/cri-pod.c core/server/cri-pod.h

if HAVE_CMOCKA
check_PROGRAMS += \
	tests/unit/core/lifecycle/test-records \
	tests/unit/core/lifecycle/test-pod
endif

tests_unit_core_lifecycle_test_records_SOURCES = tests/unit/core/lifecycle/test-records.c
tests_unit_core_lifecycle_test_records_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_lifecycle_test_records_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_lifecycle_test_records_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_lifecycle_test_pod_SOURCES = tests/unit/core/lifecycle/test-pod.c
tests_unit_core_lifecycle_test_pod_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_lifecycle_test_pod_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_lifecycle_test_pod_LDADD = $(CORE_TEST_LIBS)
$(tests_unit_core_lifecycle_test_pod_OBJECTS): core/server/cri.pb-c.h
