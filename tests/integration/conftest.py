# SPDX-License-Identifier: Apache-2.0
"""Fixtures for ocid's integration suite: gRPC stubs generated from the
project's .proto files, and real daemons on temporary directories."""

import importlib
import os
import sys
import types
from pathlib import Path

import pytest

from ocid_it import OCID_BIN, MODULE_DIR, PROTO_DIR, Daemon
from images import builder as image_builder
from images.fakeregistry import FakeRegistry
from images.registry import REGISTRY_BIN, DockerRegistry
from images.storage import STORAGE_MODULES, write_dropin


def pytest_report_header(config):
    return [f"ocid: {OCID_BIN}", f"modules: {MODULE_DIR}",
            f"protos: {PROTO_DIR}"]


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(
            reason="the integration suite needs root: it runs a real ocid "
                   "with its own root, runroot and socket")
        for item in items:
            item.add_marker(skip)


def pytest_sessionstart(session):
    if os.geteuid() == 0 and not os.access(OCID_BIN, os.X_OK):
        pytest.exit(f"no ocid binary at {OCID_BIN}: build first, or set "
                    "OCID_BIN (make integration sets it)", returncode=2)


# --- logs of the daemons a failed test used ----------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    item.ocid_first_daemon = len(Daemon.instances)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    first = getattr(item, "ocid_first_daemon", len(Daemon.instances))
    for i, d in enumerate(Daemon.instances):
        if i >= first or d.alive():
            rep.sections.append((f"ocid log ({d.log_path}, last lines)",
                                 d.log_tail()))


# --- generated stubs ----------------------------------------------------------

@pytest.fixture(scope="session")
def pb(tmp_path_factory):
    """Python modules generated with grpc_tools.protoc from cri.proto and
    test.proto: pb.cri, pb.cri_grpc, pb.test, pb.test_grpc."""
    from grpc_tools import protoc
    out = tmp_path_factory.mktemp("stubs")
    wellknown = Path(protoc.__file__).parent / "_proto"
    for name in ("cri.proto", "test.proto"):
        if not (Path(PROTO_DIR) / name).exists():
            pytest.fail(f"{name} not found in {PROTO_DIR}")
    rc = protoc.main(["grpc_tools.protoc", f"-I{PROTO_DIR}", f"-I{wellknown}",
                      f"--python_out={out}", f"--grpc_python_out={out}",
                      "cri.proto", "test.proto"])
    assert rc == 0, f"grpc_tools.protoc failed on {PROTO_DIR} (exit {rc})"
    sys.path.insert(0, str(out))
    try:
        return types.SimpleNamespace(
            cri=importlib.import_module("cri_pb2"),
            cri_grpc=importlib.import_module("cri_pb2_grpc"),
            test=importlib.import_module("test_pb2"),
            test_grpc=importlib.import_module("test_pb2_grpc"))
    finally:
        sys.path.remove(str(out))


# --- daemons ------------------------------------------------------------------

@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """One daemon for a whole test module, with the test service on. Its
    teardown stops it with SIGTERM and requires exit code 0."""
    d = Daemon(tmp_path_factory.mktemp("daemon")).start()
    yield d
    assert d.alive(), f"ocid died during the tests; its log:\n{d.log_tail()}"
    rc = d.stop()
    assert rc == 0, f"ocid exited with {rc} on SIGTERM; log:\n{d.log_tail()}"


@pytest.fixture
def make_daemon(tmp_path):
    """A factory for daemons a test starts, signals or kills itself:
    make_daemon(test_service=True, listen=None, start=True). At teardown
    each one still running is stopped and must exit with 0."""
    made = []

    def make(test_service=True, listen=None, start=True):
        d = Daemon(tmp_path / f"daemon{len(made)}", test_service=test_service,
                   listen=listen)
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    errors = []
    for d in made:
        if d.alive():
            rc = d.stop()
            if rc != 0:
                errors.append(f"{d.dir}: exit code {rc} on SIGTERM")
    assert not errors, "; ".join(errors)


@pytest.fixture
def runtime(daemon, pb):
    """A RuntimeService stub on the module's daemon."""
    return pb.cri_grpc.RuntimeServiceStub(daemon.channel())


@pytest.fixture
def tester(daemon, pb):
    """A Test service stub on the module's daemon."""
    return pb.test_grpc.TestStub(daemon.channel())


# --- images: test images, registries, daemons per storage module --------------

@pytest.fixture(scope="session")
def image_set():
    """The suite's test images (images/builder.py), built once."""
    return image_builder.ImageSet()


@pytest.fixture(scope="session")
def registry(tmp_path_factory, image_set):
    """Debian's docker-registry on 127.0.0.1:<free port> for the session,
    holding every image of image_set.registry_set()."""
    if not os.access(REGISTRY_BIN, os.X_OK):
        pytest.fail(f"{REGISTRY_BIN} is missing: run scripts/deps "
                    "(Debian package docker-registry)")
    reg = DockerRegistry(tmp_path_factory.mktemp("registry")).start()
    try:
        for repo, obj, tags in image_set.registry_set():
            image_builder.push(reg.host, repo, obj, tags)
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def fake_registry():
    """A fresh token-auth fake registry (images/fakeregistry.py) for one
    test: empty, no faults, zero counts."""
    with FakeRegistry() as fake:
        yield fake


@pytest.fixture(params=STORAGE_MODULES)
def storage_module(request):
    """Each test that uses it runs once per storage module."""
    return request.param


@pytest.fixture
def make_image_daemon(tmp_path, storage_module):
    """A factory for daemons on `storage_module`:
    make_image_daemon(image={...settings of the image group...}, start=True).
    The settings go in a crio.conf.d drop-in. At teardown each daemon still
    running is stopped and must exit with 0."""
    made = []

    def make(image=None, start=True):
        d = Daemon(tmp_path / f"daemon{len(made)}", test_service=False)
        d.storage = storage_module
        write_dropin(d, storage_module, image)
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    errors = []
    for d in made:
        if d.alive():
            rc = d.stop()
            if rc != 0:
                errors.append(f"{d.dir}: exit code {rc} on SIGTERM")
    assert not errors, "; ".join(errors)


@pytest.fixture
def image_daemon(make_image_daemon, registry):
    """A fresh daemon on `storage_module` that searches the test registry
    for unqualified names."""
    return make_image_daemon(
        image={"unqualified_search_registries": [registry.host]})
