# The pod and container lifecycle (core/lifecycle) and their CRI methods
# (core/server/cri-pod.c, cri-container.c): records on disk, pods on
# pinned namespaces, containers through the runtime modules.
core_sources += \
	core/lifecycle/records.c core/lifecycle/records.h \
	core/lifecycle/pod.c core/lifecycle/pod.h \
	core/lifecycle/container.c core/lifecycle/container.h \
	core/lifecycle/lookup.c core/lifecycle/lookup.h \
	core/lifecycle/infra.c core/lifecycle/infra.h \
	core/lifecycle/events.c core/lifecycle/events.h \
	core/lifecycle/exitwatch.c core/lifecycle/exitwatch.h \
	core/lifecycle/restore.c core/lifecycle/restore.h \
	core/server/cri-pod.c core/server/cri-pod.h \
	core/server/cri-container.c core/server/cri-container.h \
	core/server/cri-common.c core/server/cri-common.h \
	core/server/cri-events.c core/server/cri-events.h

if HAVE_CMOCKA
check_PROGRAMS += \
	tests/unit/core/lifecycle/test-records \
	tests/unit/core/lifecycle/test-pod \
	tests/unit/core/lifecycle/test-container \
	tests/unit/core/lifecycle/test-events \
	tests/unit/core/lifecycle/test-exitwatch \
	tests/unit/core/lifecycle/test-restore
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

tests_unit_core_lifecycle_test_container_SOURCES = tests/unit/core/lifecycle/test-container.c
tests_unit_core_lifecycle_test_container_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_lifecycle_test_container_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_lifecycle_test_container_LDADD = $(CORE_TEST_LIBS)
$(tests_unit_core_lifecycle_test_container_OBJECTS): core/server/cri.pb-c.h

tests_unit_core_lifecycle_test_events_SOURCES = tests/unit/core/lifecycle/test-events.c
tests_unit_core_lifecycle_test_events_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_lifecycle_test_events_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_lifecycle_test_events_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_lifecycle_test_exitwatch_SOURCES = tests/unit/core/lifecycle/test-exitwatch.c
tests_unit_core_lifecycle_test_exitwatch_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_lifecycle_test_exitwatch_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_lifecycle_test_exitwatch_LDADD = $(CORE_TEST_LIBS)
$(tests_unit_core_lifecycle_test_exitwatch_OBJECTS): core/server/cri.pb-c.h

tests_unit_core_lifecycle_test_restore_SOURCES = tests/unit/core/lifecycle/test-restore.c
tests_unit_core_lifecycle_test_restore_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_lifecycle_test_restore_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_lifecycle_test_restore_LDADD = $(CORE_TEST_LIBS)
$(tests_unit_core_lifecycle_test_restore_OBJECTS): core/server/cri.pb-c.h
