# Images: references, digests, the content-addressed blob store, the OCI
# distribution client (libcurl) and manifest/config parsing (json-c).
core_sources += \
	core/image/reference.c core/image/reference.h \
	core/image/digest.c core/image/digest.h \
	core/image/blobstore.c core/image/blobstore.h \
	core/image/registry-client.c core/image/registry-client.h \
	core/image/manifest.c core/image/manifest.h \
	core/image/layer.c core/image/layer.h \
	core/image/store.c core/image/store.h \
	core/image/pull.c core/image/pull.h \
	core/server/cri-image.c core/server/cri-image.h

core_libocid_core_la_CFLAGS += $(LIBCURL_CFLAGS) $(OPENSSL_CFLAGS) $(LIBARCHIVE_CFLAGS)
core_libocid_core_la_LIBADD += $(LIBCURL_LIBS) $(OPENSSL_LIBS) $(LIBARCHIVE_LIBS)

IMAGE_TEST_CF = $(CORE_TEST_CF) $(LIBCURL_CFLAGS) $(OPENSSL_CFLAGS) $(LIBARCHIVE_CFLAGS)

if HAVE_CMOCKA
check_PROGRAMS += \
	tests/unit/core/image/test-reference \
	tests/unit/core/image/test-digest \
	tests/unit/core/image/test-blobstore \
	tests/unit/core/image/test-registry-client \
	tests/unit/core/image/test-manifest \
	tests/unit/core/image/test-store \
	tests/unit/core/image/test-pull
endif

EXTRA_DIST += \
	tests/unit/core/image/fixtures \
	tests/unit/core/image/http-server.h \
	tests/unit/core/image/image-test.h

tests_unit_core_image_test_reference_SOURCES = tests/unit/core/image/test-reference.c
tests_unit_core_image_test_reference_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_image_test_reference_CFLAGS = $(IMAGE_TEST_CF)
tests_unit_core_image_test_reference_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_image_test_digest_SOURCES = tests/unit/core/image/test-digest.c
tests_unit_core_image_test_digest_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_image_test_digest_CFLAGS = $(IMAGE_TEST_CF)
tests_unit_core_image_test_digest_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_image_test_blobstore_SOURCES = tests/unit/core/image/test-blobstore.c
tests_unit_core_image_test_blobstore_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_image_test_blobstore_CFLAGS = $(IMAGE_TEST_CF)
tests_unit_core_image_test_blobstore_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_image_test_registry_client_SOURCES = \
	tests/unit/core/image/test-registry-client.c tests/unit/core/image/http-server.c \
	tests/unit/core/image/http-server.h
tests_unit_core_image_test_registry_client_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_image_test_registry_client_CFLAGS = $(IMAGE_TEST_CF)
tests_unit_core_image_test_registry_client_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_image_test_manifest_SOURCES = tests/unit/core/image/test-manifest.c
tests_unit_core_image_test_manifest_CPPFLAGS = $(CORE_TEST_CPPF) \
	-DFIXTURES_DIR='"$(abs_top_srcdir)/tests/unit/core/image/fixtures"'
tests_unit_core_image_test_manifest_CFLAGS = $(IMAGE_TEST_CF)
tests_unit_core_image_test_manifest_LDADD = $(CORE_TEST_LIBS)

tests_unit_core_image_test_store_SOURCES = tests/unit/core/image/test-store.c
tests_unit_core_image_test_store_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_image_test_store_CFLAGS = $(IMAGE_TEST_CF)
tests_unit_core_image_test_store_LDADD = $(CORE_TEST_LIBS) $(LIBARCHIVE_LIBS)

tests_unit_core_image_test_pull_SOURCES = \
	tests/unit/core/image/test-pull.c tests/unit/core/image/http-server.c \
	tests/unit/core/image/http-server.h
tests_unit_core_image_test_pull_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_image_test_pull_CFLAGS = $(IMAGE_TEST_CF)
tests_unit_core_image_test_pull_LDADD = $(CORE_TEST_LIBS) $(LIBARCHIVE_LIBS)

# Air-gapped nodes: ocid image import / ocid image ls (core/image/import.c).
core_sources += core/image/import.c core/image/import.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/core/image/test-import
endif
tests_unit_core_image_test_import_SOURCES = tests/unit/core/image/test-import.c
tests_unit_core_image_test_import_CPPFLAGS = $(CORE_TEST_CPPF)
tests_unit_core_image_test_import_CFLAGS = $(IMAGE_TEST_CF) $(LIBARCHIVE_CFLAGS)
tests_unit_core_image_test_import_LDADD = $(CORE_TEST_LIBS) $(LIBARCHIVE_LIBS)
