# SPDX-License-Identifier: Apache-2.0
"""Kubelet timeouts (docs/pods.md, "Slow creations and kubelet retries"):
a RunPodSandbox or CreateContainer that outlives the client's deadline
still finishes, and its pod or container is handed to the kubelet's retry
of the same request instead of failing with "name is reserved"; a retry
with another config gets ALREADY_EXISTS naming the holder.

The pod's CNI plugin is a script that sleeps before it runs the real
bridge plugin, so that RunPodSandbox takes longer than the first call's
deadline."""

import json
import os
import time
from pathlib import Path

import grpc
import pytest

from ocid_it import config_text
from pods import (CNI_BIN_DIR, TEST_IMAGE, PodDaemon, import_test_image, pod_config,
                  remove_all_pods, write_bridge_conflist)

pytestmark = pytest.mark.skipif(
    not Path(CNI_BIN_DIR, "bridge").exists() or not Path("/usr/bin/conmon").exists(),
    reason="containernetworking-plugins or conmon are not installed")

SLOW_S = 2


class SlowCniDaemon(PodDaemon):
    """A PodDaemon whose net-cni module also searches bin_dir, where the
    test puts its slow plugin."""

    bin_dir = None

    def write_config(self, log_level="debug"):
        text = config_text(self.root, self.runroot, self.sock, self.cni_dir, log_level)
        if self.bin_dir:
            text = text.replace(
                f'conf_dir = "{self.cni_dir}";',
                f'conf_dir = "{self.cni_dir}"; bin_dirs = ["{self.bin_dir}", "{CNI_BIN_DIR}"];')
        self.conf.write_text(text)


@pytest.fixture
def slow_daemon(tmp_path):
    bin_dir = tmp_path / "cni-bin"
    bin_dir.mkdir()
    plugin = bin_dir / "ocid-slow-bridge"
    plugin.write_text("#!/bin/sh\n"
                      f'[ "$CNI_COMMAND" = ADD ] && sleep {SLOW_S}\n'
                      f'exec {CNI_BIN_DIR}/bridge "$@"\n')
    plugin.chmod(0o755)
    d = SlowCniDaemon(tmp_path / "d")
    d.bin_dir = bin_dir
    d.write_config()
    d.cni_state = tmp_path / "cni-state"
    conflist = write_bridge_conflist(d.cni_dir, d.cni_state, bridge="ocidslow0")
    conf = json.loads(conflist.read_text())
    conf["plugins"][0]["type"] = "ocid-slow-bridge"
    conflist.write_text(json.dumps(conf))
    import_test_image(d, tmp_path)
    d.start()
    yield d
    if d.alive():
        remove_all_pods(d)
        rc = d.stop()
        assert rc == 0, f"ocid exited with {rc}; log:\n{d.log_tail()}"


def run_pod(rt, pb, cfg, timeout):
    return rt.RunPodSandbox(pb.cri.RunPodSandboxRequest(config=cfg, runtime_handler=""),
                            timeout=timeout).pod_sandbox_id


def pods_named(rt, pb, name):
    return [p.id for p in rt.ListPodSandbox(pb.cri.ListPodSandboxRequest(), timeout=30).items
            if p.metadata.name == name]


def test_run_pod_sandbox_retry(slow_daemon, pb):
    d = slow_daemon
    rt = pb.cri_grpc.RuntimeServiceStub(d.channel())
    cfg = pod_config(pb, "slow", labels={"a": "1", "b": "2", "c": "3"})

    # The first call's deadline passes while the CNI plugin sleeps.
    start = len(d.log())
    with pytest.raises(grpc.RpcError) as e:
        run_pod(rt, pb, cfg, 0.5)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # Let the pod finish: it is kept, unclaimed.
    d.wait_log(r"was created after its caller went away", timeout=SLOW_S + 20, start=start)
    assert len(pods_named(rt, pb, "slow")) == 1

    # Another config under the same name: the reservation's error, naming
    # the holder.
    other = pod_config(pb, "slow", labels={"a": "1", "b": "2", "c": "4"})
    with pytest.raises(grpc.RpcError) as e:
        run_pod(rt, pb, other, 30)
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    holder = pods_named(rt, pb, "slow")[0]
    assert holder in e.value.details()

    # The kubelet's retry of the same request gets that pod, at once (its
    # maps may come in another order).
    t0 = time.monotonic()
    pid = run_pod(rt, pb, pod_config(pb, "slow", labels={"c": "3", "b": "2", "a": "1"}), 30)
    assert time.monotonic() - t0 < SLOW_S
    assert pid == holder
    assert f"({pid}): handed to a retry" in d.log()[start:]
    assert pods_named(rt, pb, "slow") == [pid]
    st = rt.PodSandboxStatus(pb.cri.PodSandboxStatusRequest(pod_sandbox_id=pid), timeout=30).status
    assert st.state == pb.cri.SANDBOX_READY and st.network.ip

    # Claimed once: a further call is an ordinary conflict.
    with pytest.raises(grpc.RpcError) as e:
        run_pod(rt, pb, cfg, 30)
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_run_pod_sandbox_retry_waits(slow_daemon, pb):
    """A retry that comes while the first call still runs waits for it."""
    d = slow_daemon
    rt = pb.cri_grpc.RuntimeServiceStub(d.channel())
    cfg = pod_config(pb, "waited")
    start = len(d.log())
    with pytest.raises(grpc.RpcError) as e:
        run_pod(rt, pb, cfg, 0.3)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The first call is still in the CNI plugin: the retry waits for it
    # and gets its pod.
    assert "was created after its caller went away" not in d.log()[start:]
    pid = run_pod(rt, pb, cfg, 60)
    assert pods_named(rt, pb, "waited") == [pid]
    assert f"({pid}): handed to a retry" in d.log()[start:]


def test_create_container_retry(slow_daemon, pb):
    d = slow_daemon
    cri = pb.cri
    rt = pb.cri_grpc.RuntimeServiceStub(d.channel())
    pcfg = pod_config(pb, "ctrs")
    pod_id = run_pod(rt, pb, pcfg, 60)

    def create(command, timeout):
        cfg = cri.ContainerConfig(metadata=cri.ContainerMetadata(name="app"),
                                  image=cri.ImageSpec(image=TEST_IMAGE),
                                  command=command, log_path="app.log")
        return rt.CreateContainer(cri.CreateContainerRequest(
            pod_sandbox_id=pod_id, config=cfg, sandbox_config=pcfg), timeout=timeout).container_id

    def containers():
        return [c.id for c in rt.ListContainers(cri.ListContainersRequest(), timeout=30).containers]

    start = len(d.log())
    with pytest.raises(grpc.RpcError) as e:
        create(["sleep", "1000"], 0.05)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    d.wait_log(r"was created after its caller went away", timeout=60, start=start)
    [cid] = containers()

    with pytest.raises(grpc.RpcError) as e:
        create(["sleep", "999"], 30)
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert cid in e.value.details()

    t0 = time.monotonic()
    assert create(["sleep", "1000"], 30) == cid
    assert time.monotonic() - t0 < 1
    assert f"({cid}): handed to a retry" in d.log()[start:]
    assert containers() == [cid]
    rt.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=60)
    st = rt.ContainerStatus(cri.ContainerStatusRequest(container_id=cid), timeout=30).status
    assert st.state == cri.CONTAINER_RUNNING
