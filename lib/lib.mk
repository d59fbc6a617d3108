# libocid: the helpers core and every module link (errors, logging, paths,
# atomic files, commands, JSON, libconfig settings, host paths). Built with
# hidden visibility; the public API is marked OCID_EXPORT and the export list
# is limited to ocid_* and the x* allocators.
libocid_sources = \
	lib/internal.h lib/error.c lib/log.c lib/util.c lib/fs.c lib/exec.c \
	lib/json.c lib/setting.c lib/host.c

lib_LTLIBRARIES += lib/libocid.la
lib_libocid_la_SOURCES = $(libocid_sources)
lib_libocid_la_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(JSONC_CFLAGS) -fvisibility=hidden
lib_libocid_la_LDFLAGS = -version-info 0:0:0 -no-undefined \
	-export-symbols-regex '^(ocid_|x[a-z]+$$)'
lib_libocid_la_LIBADD = $(LIBCONFIG_LIBS) $(JSONC_LIBS) $(PTHREAD_LIBS)
