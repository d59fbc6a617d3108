# The CRI server: gRPC over HTTP/2 (nghttp2) on a libuv loop, messages from
# protoc-c. The .proto files are compiled at build time into the build tree;
# the generated code goes into its own convenience library, built with
# -Ulinux because GNU C predefines `linux`, a CRI field name.

server_proto_files = core/server/cri.proto core/server/test.proto
server_proto_generated = \
	core/server/cri.pb-c.c core/server/cri.pb-c.h \
	core/server/test.pb-c.c core/server/test.pb-c.h
server_proto_headers = core/server/cri.pb-c.h core/server/test.pb-c.h

EXTRA_DIST += $(server_proto_files)
BUILT_SOURCES += $(server_proto_generated)
CLEANFILES += $(server_proto_generated)

core/server/cri.pb-c.c: $(srcdir)/core/server/cri.proto
	$(AM_V_GEN)$(MKDIR_P) core/server && \
	$(PROTOC_C) --c_out=core/server -I$(srcdir)/core/server $(srcdir)/core/server/cri.proto
core/server/cri.pb-c.h: core/server/cri.pb-c.c
	@test -f $@ || { rm -f core/server/cri.pb-c.c; $(MAKE) $(AM_MAKEFLAGS) core/server/cri.pb-c.c; }
core/server/test.pb-c.c: $(srcdir)/core/server/test.proto
	$(AM_V_GEN)$(MKDIR_P) core/server && \
	$(PROTOC_C) --c_out=core/server -I$(srcdir)/core/server $(srcdir)/core/server/test.proto
core/server/test.pb-c.h: core/server/test.pb-c.c
	@test -f $@ || { rm -f core/server/test.pb-c.c; $(MAKE) $(AM_MAKEFLAGS) core/server/test.pb-c.c; }

noinst_LTLIBRARIES += core/server/libcri-proto.la
nodist_core_server_libcri_proto_la_SOURCES = $(server_proto_generated)
core_server_libcri_proto_la_CPPFLAGS = -I$(top_builddir)/core/server -Ulinux
core_server_libcri_proto_la_CFLAGS = $(PROTOBUFC_CFLAGS)
core_server_libcri_proto_la_LIBADD = $(PROTOBUFC_LIBS)
core_libocid_core_la_LIBADD += core/server/libcri-proto.la

core_sources += \
	core/server/grpc.c core/server/grpc.h \
	core/server/frame.c core/server/frame.h \
	core/server/methods.c core/server/methods.h \
	core/server/call.c core/server/call.h \
	core/server/server.c core/server/server.h \
	core/server/cri.c core/server/cri.h core/server/cri-proto.h \
	core/server/selftest.c core/server/selftest.h \
	core/daemon.c core/daemon.h

# Sources that include the generated headers need them first, also when a
# single target is built (BUILT_SOURCES only covers all/check/install).
$(core_libocid_core_la_OBJECTS): $(server_proto_headers)
if HAVE_CMOCKA
server_test_cppflags = $(CORE_TEST_CPPF)
server_test_cflags = $(CORE_TEST_CF)
server_test_libs = $(CORE_TEST_LIBS)

check_PROGRAMS += \
	tests/unit/core/server/test-grpc \
	tests/unit/core/server/test-frame \
	tests/unit/core/server/test-methods \
	tests/unit/core/server/test-call \
	tests/unit/core/server/test-server \
	tests/unit/core/test-daemon

tests_unit_core_server_test_grpc_SOURCES = tests/unit/core/server/test-grpc.c
tests_unit_core_server_test_grpc_CPPFLAGS = $(server_test_cppflags)
tests_unit_core_server_test_grpc_CFLAGS = $(server_test_cflags)
tests_unit_core_server_test_grpc_LDADD = $(server_test_libs)

tests_unit_core_server_test_frame_SOURCES = tests/unit/core/server/test-frame.c
tests_unit_core_server_test_frame_CPPFLAGS = $(server_test_cppflags)
tests_unit_core_server_test_frame_CFLAGS = $(server_test_cflags)
tests_unit_core_server_test_frame_LDADD = $(server_test_libs)

tests_unit_core_server_test_methods_SOURCES = tests/unit/core/server/test-methods.c
tests_unit_core_server_test_methods_CPPFLAGS = $(server_test_cppflags) -DOCID_CRI_PROTO='"$(abs_top_srcdir)/core/server/cri.proto"'
tests_unit_core_server_test_methods_CFLAGS = $(server_test_cflags)
tests_unit_core_server_test_methods_LDADD = $(server_test_libs)

tests_unit_core_server_test_call_SOURCES = tests/unit/core/server/test-call.c
tests_unit_core_server_test_call_CPPFLAGS = $(server_test_cppflags)
tests_unit_core_server_test_call_CFLAGS = $(server_test_cflags)
tests_unit_core_server_test_call_LDADD = $(server_test_libs)

tests_unit_core_server_test_server_SOURCES = tests/unit/core/server/test-server.c \
	tests/unit/core/server/h2-client.c tests/unit/core/server/h2-client.h
tests_unit_core_server_test_server_CPPFLAGS = $(server_test_cppflags)
tests_unit_core_server_test_server_CFLAGS = $(server_test_cflags)
tests_unit_core_server_test_server_LDADD = $(server_test_libs)

tests_unit_core_test_daemon_SOURCES = tests/unit/core/test-daemon.c
tests_unit_core_test_daemon_CPPFLAGS = $(server_test_cppflags)
tests_unit_core_test_daemon_CFLAGS = $(server_test_cflags)
tests_unit_core_test_daemon_LDADD = $(server_test_libs)

$(tests_unit_core_server_test_methods_OBJECTS) $(tests_unit_core_server_test_call_OBJECTS) \
$(tests_unit_core_server_test_server_OBJECTS): $(server_proto_headers)
endif
