# The shipped modules: one shared object each, all in modules/.libs (what
# OCID_MODULE_DIR points at for tests), installed in $(moduledir).
# `configure --disable-module-NAME` leaves one out. Each links libocid only
# (never the daemon) and exports only its descriptor ($(OCID_MODULE_LINK)).
MODULE_CF = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(JSONC_CFLAGS) -fvisibility=hidden
MODULE_LIBS = lib/libocid.la $(LIBCONFIG_LIBS) $(JSONC_LIBS)
# The OCI runtime modules share the command-line driver, compiled into each.
OCI_COMMON_SOURCES = modules/oci-common/oci-cli.c modules/oci-common/oci-cli.h \
	modules/oci-common/oci-conmon.c modules/oci-common/oci-ops.c

# Module unit tests load the built modules through the core loader; a test
# that mocks a library call with -Wl,--wrap links the module's source
# directly instead, since a wrap applies only to objects linked into the
# program.
MODULE_TEST_CPPF = $(CORE_TEST_CPPF)
MODULE_TEST_CF = $(CORE_TEST_CF)
MODULE_TEST_LIBS = $(CORE_TEST_LIBS) $(LIBCONFIG_LIBS) $(JSONC_LIBS)
EXTRA_DIST += tests/unit/modules/oci-test.h

# The storage modules share their store (layout, metadata, crash-safe
# creation and removal, usage), compiled into each.
STORAGE_COMMON_SOURCES = modules/storage-common/sc-store.c modules/storage-common/sc-store.h \
	modules/storage-common/sc-usage.c modules/storage-common/sc-tree.c modules/storage-common/sc-tree.h
# Their tests build layer tars with libarchive and share helpers.
STORAGE_TEST_CF = $(MODULE_TEST_CF) $(LIBARCHIVE_CFLAGS)
STORAGE_TEST_LIBS = $(MODULE_TEST_LIBS) $(LIBARCHIVE_LIBS)
EXTRA_DIST += tests/unit/modules/storage-test.h

if BUILD_MODULE_storage_overlay
module_LTLIBRARIES += modules/storage-overlay.la
modules_storage_overlay_la_SOURCES = modules/storage-overlay/storage-overlay.c $(STORAGE_COMMON_SOURCES)
modules_storage_overlay_la_CFLAGS = $(MODULE_CF)
modules_storage_overlay_la_LDFLAGS = $(OCID_MODULE_LINK)
modules_storage_overlay_la_LIBADD = $(MODULE_LIBS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/modules/test-storage-overlay
tests_unit_modules_test_storage_overlay_SOURCES = tests/unit/modules/test-storage-overlay.c \
	modules/storage-overlay/storage-overlay.c $(STORAGE_COMMON_SOURCES)
tests_unit_modules_test_storage_overlay_CPPFLAGS = $(MODULE_TEST_CPPF)
tests_unit_modules_test_storage_overlay_CFLAGS = $(STORAGE_TEST_CF)
tests_unit_modules_test_storage_overlay_LDADD = $(STORAGE_TEST_LIBS)
tests_unit_modules_test_storage_overlay_LDFLAGS = -Wl,--wrap=ocid_read_file
EXTRA_tests_unit_modules_test_storage_overlay_DEPENDENCIES = modules/storage-overlay.la
endif
endif

if BUILD_MODULE_storage_vfs
module_LTLIBRARIES += modules/storage-vfs.la
modules_storage_vfs_la_SOURCES = modules/storage-vfs/storage-vfs.c modules/storage-vfs/vfs-copy.c \
	modules/storage-vfs/vfs-copy.h $(STORAGE_COMMON_SOURCES)
modules_storage_vfs_la_CFLAGS = $(MODULE_CF)
modules_storage_vfs_la_LDFLAGS = $(OCID_MODULE_LINK)
modules_storage_vfs_la_LIBADD = $(MODULE_LIBS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/modules/test-storage-vfs
tests_unit_modules_test_storage_vfs_SOURCES = tests/unit/modules/test-storage-vfs.c
tests_unit_modules_test_storage_vfs_CPPFLAGS = $(MODULE_TEST_CPPF)
tests_unit_modules_test_storage_vfs_CFLAGS = $(STORAGE_TEST_CF)
tests_unit_modules_test_storage_vfs_LDADD = $(STORAGE_TEST_LIBS)
EXTRA_tests_unit_modules_test_storage_vfs_DEPENDENCIES = modules/storage-vfs.la
endif
endif

if BUILD_MODULE_net_cni
module_LTLIBRARIES += modules/net-cni.la
modules_net_cni_la_SOURCES = modules/net-cni/net-cni.c
modules_net_cni_la_CFLAGS = $(MODULE_CF)
modules_net_cni_la_LDFLAGS = $(OCID_MODULE_LINK)
modules_net_cni_la_LIBADD = $(MODULE_LIBS) $(PTHREAD_LIBS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/modules/test-net-cni
tests_unit_modules_test_net_cni_SOURCES = tests/unit/modules/test-net-cni.c
tests_unit_modules_test_net_cni_CPPFLAGS = $(MODULE_TEST_CPPF)
tests_unit_modules_test_net_cni_CFLAGS = $(MODULE_TEST_CF)
tests_unit_modules_test_net_cni_LDADD = $(MODULE_TEST_LIBS)
EXTRA_tests_unit_modules_test_net_cni_DEPENDENCIES = modules/net-cni.la
endif
endif

if BUILD_MODULE_sec_seccomp
module_LTLIBRARIES += modules/sec-seccomp.la
modules_sec_seccomp_la_SOURCES = modules/sec-seccomp/sec-seccomp.c
modules_sec_seccomp_la_CFLAGS = $(MODULE_CF) $(SECCOMP_CFLAGS)
modules_sec_seccomp_la_LDFLAGS = $(OCID_MODULE_LINK)
modules_sec_seccomp_la_LIBADD = $(MODULE_LIBS) $(SECCOMP_LIBS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/modules/test-sec-seccomp
tests_unit_modules_test_sec_seccomp_SOURCES = tests/unit/modules/test-sec-seccomp.c modules/sec-seccomp/sec-seccomp.c
tests_unit_modules_test_sec_seccomp_CPPFLAGS = $(MODULE_TEST_CPPF)
tests_unit_modules_test_sec_seccomp_CFLAGS = $(MODULE_TEST_CF) $(SECCOMP_CFLAGS)
tests_unit_modules_test_sec_seccomp_LDADD = $(MODULE_TEST_LIBS) $(SECCOMP_LIBS)
tests_unit_modules_test_sec_seccomp_LDFLAGS = -Wl,--wrap=prctl
EXTRA_tests_unit_modules_test_sec_seccomp_DEPENDENCIES = modules/sec-seccomp.la
endif
endif

if BUILD_MODULE_sec_apparmor
module_LTLIBRARIES += modules/sec-apparmor.la
modules_sec_apparmor_la_SOURCES = modules/sec-apparmor/sec-apparmor.c
modules_sec_apparmor_la_CFLAGS = $(MODULE_CF) $(APPARMOR_CFLAGS)
modules_sec_apparmor_la_LDFLAGS = $(OCID_MODULE_LINK)
modules_sec_apparmor_la_LIBADD = $(MODULE_LIBS) $(APPARMOR_LIBS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/modules/test-sec-apparmor
tests_unit_modules_test_sec_apparmor_SOURCES = tests/unit/modules/test-sec-apparmor.c modules/sec-apparmor/sec-apparmor.c
tests_unit_modules_test_sec_apparmor_CPPFLAGS = $(MODULE_TEST_CPPF)
tests_unit_modules_test_sec_apparmor_CFLAGS = $(MODULE_TEST_CF) $(APPARMOR_CFLAGS)
tests_unit_modules_test_sec_apparmor_LDADD = $(MODULE_TEST_LIBS) $(APPARMOR_LIBS)
tests_unit_modules_test_sec_apparmor_LDFLAGS = -Wl,--wrap=aa_is_enabled -Wl,--wrap=aa_find_mountpoint
EXTRA_tests_unit_modules_test_sec_apparmor_DEPENDENCIES = modules/sec-apparmor.la
endif
endif

if BUILD_MODULE_sec_selinux
module_LTLIBRARIES += modules/sec-selinux.la
modules_sec_selinux_la_SOURCES = modules/sec-selinux/sec-selinux.c
modules_sec_selinux_la_CFLAGS = $(MODULE_CF) $(SELINUX_CFLAGS)
modules_sec_selinux_la_LDFLAGS = $(OCID_MODULE_LINK)
modules_sec_selinux_la_LIBADD = $(MODULE_LIBS) $(SELINUX_LIBS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/modules/test-sec-selinux
tests_unit_modules_test_sec_selinux_SOURCES = tests/unit/modules/test-sec-selinux.c modules/sec-selinux/sec-selinux.c
tests_unit_modules_test_sec_selinux_CPPFLAGS = $(MODULE_TEST_CPPF)
tests_unit_modules_test_sec_selinux_CFLAGS = $(MODULE_TEST_CF) $(SELINUX_CFLAGS)
tests_unit_modules_test_sec_selinux_LDADD = $(MODULE_TEST_LIBS) $(SELINUX_LIBS)
tests_unit_modules_test_sec_selinux_LDFLAGS = -Wl,--wrap=is_selinux_enabled -Wl,--wrap=security_getenforce \
	-Wl,--wrap=selinux_lxc_contexts_path -Wl,--wrap=security_check_context -Wl,--wrap=lsetfilecon
EXTRA_tests_unit_modules_test_sec_selinux_DEPENDENCIES = modules/sec-selinux.la
endif
endif

if BUILD_MODULE_oci_runc
module_LTLIBRARIES += modules/oci-runc.la
modules_oci_runc_la_SOURCES = modules/oci-runc/oci-runc.c $(OCI_COMMON_SOURCES)
modules_oci_runc_la_CFLAGS = $(MODULE_CF)
modules_oci_runc_la_LDFLAGS = $(OCID_MODULE_LINK)
modules_oci_runc_la_LIBADD = $(MODULE_LIBS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/modules/test-oci-runc
tests_unit_modules_test_oci_runc_SOURCES = tests/unit/modules/test-oci-runc.c
tests_unit_modules_test_oci_runc_CPPFLAGS = $(MODULE_TEST_CPPF)
tests_unit_modules_test_oci_runc_CFLAGS = $(MODULE_TEST_CF)
tests_unit_modules_test_oci_runc_LDADD = $(MODULE_TEST_LIBS)
EXTRA_tests_unit_modules_test_oci_runc_DEPENDENCIES = modules/oci-runc.la
endif
endif

if BUILD_MODULE_oci_crun
module_LTLIBRARIES += modules/oci-crun.la
modules_oci_crun_la_SOURCES = modules/oci-crun/oci-crun.c $(OCI_COMMON_SOURCES)
modules_oci_crun_la_CFLAGS = $(MODULE_CF)
modules_oci_crun_la_LDFLAGS = $(OCID_MODULE_LINK)
modules_oci_crun_la_LIBADD = $(MODULE_LIBS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/modules/test-oci-crun
tests_unit_modules_test_oci_crun_SOURCES = tests/unit/modules/test-oci-crun.c
tests_unit_modules_test_oci_crun_CPPFLAGS = $(MODULE_TEST_CPPF)
tests_unit_modules_test_oci_crun_CFLAGS = $(MODULE_TEST_CF)
tests_unit_modules_test_oci_crun_LDADD = $(MODULE_TEST_LIBS)
EXTRA_tests_unit_modules_test_oci_crun_DEPENDENCIES = modules/oci-crun.la
endif
endif
