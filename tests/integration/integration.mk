# The integration suite: pytest + grpcio against a real daemon. It needs
# root and is not part of `make check`; run `make integration` (as root).
# It reads the tests from the source tree and writes nothing there (no
# bytecode, no pytest cache), so it also runs from a read-only tree.
# Arguments for pytest go in INTEGRATION_FLAGS, e.g.
#   make integration INTEGRATION_FLAGS='-k transport -x'

integration_files = \
	tests/integration/conftest.py \
	tests/integration/ocid_it.py \
	tests/integration/test_cli.py \
	tests/integration/test_containers.py \
	tests/integration/test_cri.py \
	tests/integration/test_daemon.py \
	tests/integration/test_images.py \
	tests/integration/test_pods.py \
	tests/integration/test_security.py \
	tests/integration/test_restart.py \
	tests/integration/test_transport.py \
	tests/integration/images/__init__.py \
	tests/integration/images/builder.py \
	tests/integration/images/fakeregistry.py \
	tests/integration/images/registry.py \
	tests/integration/images/storage.py \
	tests/integration/pods/__init__.py
integration_files += tests/integration/test_rootfs_view.py
integration_files += tests/integration/test_crash.py
integration_files += tests/integration/test_timeouts.py
EXTRA_DIST += $(integration_files)

# The pull benchmark (bench/README.md): run by hand, never by CI. It uses
# the image builder and registry helpers above.
EXTRA_DIST += bench/README.md bench/pull.py
# The lifecycle benchmark, by hand too; it uses the pod helpers.
EXTRA_DIST += bench/lifecycle.py
# The restart benchmark, by hand too; it uses the restart test's held daemon.
EXTRA_DIST += bench/restart.py

INTEGRATION_FLAGS =
# Debian's interpreter, which has python3-pytest and python3-grpcio; a
# `python3` earlier on PATH may be another build without them.
INTEGRATION_PY = /usr/bin/python3
# An upper bound for the whole run, so that a hung daemon cannot hang CI.
INTEGRATION_TIMEOUT = 900

.PHONY: integration
integration: all
	cd '$(abs_top_srcdir)/tests/integration' && \
	OCID_BIN='$(abs_top_builddir)/ocid' \
	OCID_MODULE_DIR='$(abs_top_builddir)/modules/.libs' \
	OCID_PROTO_DIR='$(abs_top_srcdir)/core/server' \
	PYTHONDONTWRITEBYTECODE=1 \
	timeout -k 30 $(INTEGRATION_TIMEOUT) \
	$(INTEGRATION_PY) -m pytest -v -ra -p no:cacheprovider \
		--rootdir=. $(INTEGRATION_FLAGS) .
