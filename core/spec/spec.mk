# The OCI runtime spec builder: CRI ContainerConfig + PodSandboxConfig +
# image config -> config.json (json-c), with every input validated.
core_sources += \
	core/spec/spec.c core/spec/spec.h \
	core/spec/caps.c core/spec/caps.h \
	core/spec/devices.c core/spec/devices.h \
	core/spec/mounts.c core/spec/mounts.h \
	core/spec/resources.c core/spec/resources.h \
	core/spec/rootfs.c core/spec/rootfs.h \
	core/spec/signal.c core/spec/signal.h \
	core/spec/sysctl.c core/spec/sysctl.h \
	core/spec/user.c core/spec/user.h

EXTRA_DIST += tests/unit/core/spec/spec-test.h

if HAVE_CMOCKA
check_PROGRAMS += \
	tests/unit/core/spec/test-spec \
	tests/unit/core/spec/test-caps \
	tests/unit/core/spec/test-devices \
	tests/unit/core/spec/test-mounts \
	tests/unit/core/spec/test-resources \
	tests/unit/core/spec/test-rootfs \
	tests/unit/core/spec/test-signal \
	tests/unit/core/spec/test-sysctl \
	tests/unit/core/spec/test-user

spec_test_sources_common = tests/unit/core/spec/spec-test.h

tests_unit_core_spec_test_spec_SOURCES = tests/unit/core/spec/test-spec.c $(spec_test_sources_common)
tests_unit_core_spec_test_spec_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_spec_test_spec_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_spec_test_spec_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_spec_test_caps_SOURCES = tests/unit/core/spec/test-caps.c
tests_unit_core_spec_test_caps_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_spec_test_caps_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_spec_test_caps_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_spec_test_devices_SOURCES = tests/unit/core/spec/test-devices.c
tests_unit_core_spec_test_devices_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_spec_test_devices_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_spec_test_devices_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_spec_test_mounts_SOURCES = tests/unit/core/spec/test-mounts.c $(spec_test_sources_common)
tests_unit_core_spec_test_mounts_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_spec_test_mounts_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_spec_test_mounts_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_spec_test_resources_SOURCES = tests/unit/core/spec/test-resources.c $(spec_test_sources_common)
tests_unit_core_spec_test_resources_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_spec_test_resources_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_spec_test_resources_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_spec_test_rootfs_SOURCES = tests/unit/core/spec/test-rootfs.c $(spec_test_sources_common)
tests_unit_core_spec_test_rootfs_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_spec_test_rootfs_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_spec_test_rootfs_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_spec_test_signal_SOURCES = tests/unit/core/spec/test-signal.c
tests_unit_core_spec_test_signal_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_spec_test_signal_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_spec_test_signal_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_spec_test_sysctl_SOURCES = tests/unit/core/spec/test-sysctl.c
tests_unit_core_spec_test_sysctl_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_spec_test_sysctl_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_spec_test_sysctl_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_spec_test_user_SOURCES = tests/unit/core/spec/test-user.c $(spec_test_sources_common)
tests_unit_core_spec_test_user_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_spec_test_user_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_spec_test_user_LDADD = $(CORE_TEST_LIBS)

# The tests build CRI messages from the generated headers.
$(tests_unit_core_spec_test_spec_OBJECTS) $(tests_unit_core_spec_test_devices_OBJECTS) \
$(tests_unit_core_spec_test_mounts_OBJECTS) $(tests_unit_core_spec_test_resources_OBJECTS): \
	core/server/cri.pb-c.h core/server/test.pb-c.h
endif
