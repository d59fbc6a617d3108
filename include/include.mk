ocidincludedir = $(includedir)/ocid
ocidinclude_HEADERS = \
	include/ocid/cleanup.h include/ocid/error.h include/ocid/exec.h \
	include/ocid/fs.h include/ocid/host.h include/ocid/json.h include/ocid/log.h \
	include/ocid/module.h include/ocid/network.h include/ocid/runtime.h \
	include/ocid/security.h include/ocid/setting.h include/ocid/storage.h \
	include/ocid/util.h
