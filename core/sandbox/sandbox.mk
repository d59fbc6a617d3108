# Pod sandboxes: pinned namespaces (core/sandbox/ns.c), the pod's files
# (core/sandbox/podfiles.c) and ocid-pause, the infra container's process.
core_sources += \
	core/sandbox/ns.c core/sandbox/ns.h \
	core/sandbox/podfiles.c core/sandbox/podfiles.h

# ocid-pause is linked statically when the C library has a static archive
# (Debian's libc6-dev ships libc.a), so that an infra rootfs needs nothing
# but this one file; otherwise it is linked dynamically (docs/pods.md).
pkglibexec_PROGRAMS = core/pause/ocid-pause
core_pause_ocid_pause_SOURCES = core/pause/ocid-pause.c
core_pause_ocid_pause_CFLAGS = $(WARN_CFLAGS)
core_pause_ocid_pause_LINK = \
	static=; case `$(CC) -print-file-name=libc.a` in /*) static=-all-static;; esac; \
	$(LIBTOOL) $(AM_V_lt) --tag=CC $(AM_LIBTOOLFLAGS) $(LIBTOOLFLAGS) --mode=link $(CCLD) \
	$(core_pause_ocid_pause_CFLAGS) $(CFLAGS) $$static $(LDFLAGS) -o $@

if HAVE_CMOCKA
check_PROGRAMS += \
	tests/unit/core/sandbox/test-ns \
	tests/unit/core/sandbox/test-podfiles \
	tests/unit/core/sandbox/test-ocid-pause
endif

sandbox_test_pause = -DOCID_TEST_PAUSE_BINARY='"$(abs_top_builddir)/core/pause/ocid-pause$(EXEEXT)"'

tests_unit_core_sandbox_test_ns_SOURCES = tests/unit/core/sandbox/test-ns.c tests/unit/core/sandbox/sandbox-test.h
tests_unit_core_sandbox_test_ns_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_sandbox_test_ns_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_sandbox_test_ns_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_sandbox_test_podfiles_SOURCES = tests/unit/core/sandbox/test-podfiles.c tests/unit/core/sandbox/sandbox-test.h
tests_unit_core_sandbox_test_podfiles_CPPFLAGS = $(CORE_TEST_CPPF) $(sandbox_test_pause)
tests_unit_core_sandbox_test_podfiles_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_sandbox_test_podfiles_LDADD = $(CORE_TEST_LIBS)
EXTRA_tests_unit_core_sandbox_test_podfiles_DEPENDENCIES = core/pause/ocid-pause$(EXEEXT)

tests_unit_core_sandbox_test_ocid_pause_SOURCES = tests/unit/core/sandbox/test-ocid-pause.c tests/unit/core/sandbox/sandbox-test.h
tests_unit_core_sandbox_test_ocid_pause_CPPFLAGS = $(CORE_TEST_CPPF) $(sandbox_test_pause)
tests_unit_core_sandbox_test_ocid_pause_CFLAGS = $(CORE_TEST_CF)
tests_unit_core_sandbox_test_ocid_pause_LDADD = $(CORE_TEST_LIBS)
EXTRA_tests_unit_core_sandbox_test_ocid_pause_DEPENDENCIES = core/pause/ocid-pause$(EXEEXT)
