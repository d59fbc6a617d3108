# The daemon: core/main.c plus the convenience library libocid-core.la,
# which the unit tests link too (built with default visibility so that the
# tests reach internal functions). Each fragment adds its sources to
# core_sources.
noinst_LTLIBRARIES += core/libocid-core.la
core_libocid_core_la_SOURCES = $(core_sources)
nodist_core_libocid_core_la_SOURCES = $(nodist_core_sources)
core_libocid_core_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core -I$(top_builddir)/core
core_libocid_core_la_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(JSONC_CFLAGS) $(LIBUV_CFLAGS) \
	$(NGHTTP2_CFLAGS) $(PROTOBUFC_CFLAGS) -fvisibility=default
core_libocid_core_la_LIBADD = lib/libocid.la $(LIBCONFIG_LIBS) $(JSONC_LIBS) $(LIBUV_LIBS) \
	$(NGHTTP2_LIBS) $(PROTOBUFC_LIBS) $(LTDL_LIBS) $(PTHREAD_LIBS)

bin_PROGRAMS += ocid
ocid_SOURCES = core/main.c
ocid_CPPFLAGS = $(core_libocid_core_la_CPPFLAGS)
ocid_CFLAGS = $(core_libocid_core_la_CFLAGS)
ocid_LDADD = core/libocid-core.la lib/libocid.la

# CFLAGS and libraries for a unit test of the core.
CORE_TEST_CPPF = $(core_libocid_core_la_CPPFLAGS)
CORE_TEST_CF = $(core_libocid_core_la_CFLAGS) $(CMOCKA_CFLAGS)
CORE_TEST_LIBS = core/libocid-core.la lib/libocid.la $(CMOCKA_LIBS)
