# SPDX-License-Identifier: Apache-2.0
"""The CRI methods that work now (Version, Status, RuntimeConfig) and the
UNIMPLEMENTED answer of every other one."""

import json
import os
import time

import grpc
import pytest

from ocid_it import package_version

# The methods the daemon implements; every other CRI method must answer
# UNIMPLEMENTED. Grows as the work goes on.
IMPLEMENTED = {
    "RuntimeService": {"Version", "Status", "RuntimeConfig", "RunPodSandbox", "StopPodSandbox",
                       "RemovePodSandbox", "PodSandboxStatus", "ListPodSandbox",
                       "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer",
                       "ContainerStatus", "ListContainers", "ExecSync", "UpdateContainerResources",
                       "ReopenContainerLog", "GetContainerEvents"},
    "ImageService": {"PullImage", "ListImages", "ImageStatus", "RemoveImage", "ImageFsInfo"},
}

RUNC = "/usr/sbin/runc"
CNI_BIN = "/usr/lib/cni"


def conditions(status_response):
    return {c.type: c for c in status_response.status.conditions}


def test_version(runtime, pb):
    r = runtime.Version(pb.cri.VersionRequest(version="v1"), timeout=5)
    assert r.runtime_name == "ocid"
    assert r.runtime_api_version == "v1"
    assert r.runtime_version == package_version()
    assert r.version, "VersionResponse.version (the kubelet API version) is empty"


def test_status_runtime_ready(runtime, pb):
    assert os.access(RUNC, os.X_OK), f"{RUNC} is missing: run scripts/deps"
    r = runtime.Status(pb.cri.StatusRequest(), timeout=5)
    conds = conditions(r)
    assert set(conds) >= {"RuntimeReady", "NetworkReady"}, conds
    ready = conds["RuntimeReady"]
    assert ready.status is True, f"RuntimeReady is false: {ready.reason}: {ready.message}"
    assert not r.info, "info must be empty unless verbose is asked"


def test_status_network_not_ready(runtime, pb, daemon):
    assert not any(daemon.cni_dir.iterdir())
    net = conditions(runtime.Status(pb.cri.StatusRequest(), timeout=5))["NetworkReady"]
    assert net.status is False
    assert net.reason == "NetworkPluginNotReady"
    assert str(daemon.cni_dir) in net.message, net.message


def test_status_verbose_lists_modules(runtime, pb):
    r = runtime.Status(pb.cri.StatusRequest(verbose=True), timeout=5)
    assert "modules" in r.info, dict(r.info)
    modules = json.loads(r.info["modules"])
    assert isinstance(modules, list) and modules, modules
    for m in modules:
        assert {"name", "kind", "ready"} <= set(m), m
        assert isinstance(m["ready"], bool), m
    by_name = {m["name"]: m for m in modules}
    assert "net-cni" in by_name, modules
    assert by_name["net-cni"]["kind"] == "network", by_name["net-cni"]
    assert by_name["net-cni"]["ready"] is False, by_name["net-cni"]
    kinds = {m["kind"] for m in modules}
    assert "runtime" in kinds, modules


def test_runtime_config(runtime, pb):
    r = runtime.RuntimeConfig(pb.cri.RuntimeConfigRequest(), timeout=5)
    assert r.HasField("linux")
    assert r.linux.cgroup_driver == pb.cri.CGROUPFS


def test_every_other_method_is_unimplemented(daemon, pb):
    ch = daemon.channel()
    identity = lambda b: b  # noqa: E731
    wrong = []
    total = 0
    for service_name, implemented in IMPLEMENTED.items():
        service = pb.cri.DESCRIPTOR.services_by_name[service_name]
        for method in service.methods:
            total += 1
            if method.name in implemented:
                continue
            path = f"/{service.full_name}/{method.name}"
            request = getattr(pb.cri, method.input_type.name)()
            body = request.SerializeToString()
            try:
                if method.server_streaming:
                    call = ch.unary_stream(path, request_serializer=identity,
                                           response_deserializer=identity)
                    got = list(call(body, timeout=5))
                else:
                    call = ch.unary_unary(path, request_serializer=identity,
                                          response_deserializer=identity)
                    got = call(body, timeout=5)
                wrong.append(f"{path}: answered {got!r}")
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                    wrong.append(f"{path}: {e.code()} {e.details()!r}")
                elif method.name not in (e.details() or ""):
                    wrong.append(f"{path}: message does not name the "
                                 f"method: {e.details()!r}")
    assert total >= 40, f"only {total} methods found in cri.proto"
    assert not wrong, "\n".join(wrong)


def test_network_becomes_ready_without_restart(make_daemon, pb):
    for plugin in ("bridge", "host-local", "loopback"):
        assert os.access(f"{CNI_BIN}/{plugin}", os.X_OK), \
            f"{CNI_BIN}/{plugin} is missing: run scripts/deps"
    d = make_daemon()
    stub = pb.cri_grpc.RuntimeServiceStub(d.channel())
    net = conditions(stub.Status(pb.cri.StatusRequest(), timeout=5))["NetworkReady"]
    assert net.status is False

    conflist = {
        "cniVersion": "1.0.0",
        "name": "ocid-it",
        "plugins": [{
            "type": "bridge",
            "bridge": "ocid-it0",
            "isGateway": True,
            "ipMasq": False,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": "10.253.0.0/24"}]],
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        }],
    }
    tmp = d.cni_dir / ".10-ocid-it.conflist.tmp"
    tmp.write_text(json.dumps(conflist, indent=2))
    tmp.rename(d.cni_dir / "10-ocid-it.conflist")

    deadline = time.monotonic() + 15
    while True:
        net = conditions(stub.Status(pb.cri.StatusRequest(), timeout=5))["NetworkReady"]
        if net.status:
            break
        assert time.monotonic() < deadline, \
            f"NetworkReady still false 15 s after writing a conflist: " \
            f"{net.reason}: {net.message}"
        time.sleep(0.2)
    assert d.alive()
