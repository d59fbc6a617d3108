# SPDX-License-Identifier: Apache-2.0
"""Pod sandboxes through the CRI: RunPodSandbox, StopPodSandbox,
RemovePodSandbox, PodSandboxStatus, ListPodSandbox against a real daemon
with the net-cni module and Debian's CNI plugins on a private bridge. The
daemon runs in network and mount namespaces of its own (pods.PodDaemon)."""

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from pods import (remove_all_pods, CNI_BIN_DIR, PodDaemon, ipam_allocations, pod_config,
                  write_bridge_conflist)

pytestmark = pytest.mark.skipif(
    not Path(CNI_BIN_DIR, "bridge").exists(),
    reason="containernetworking-plugins are not installed")


@pytest.fixture
def pod_daemon(tmp_path):
    """A daemon in its own namespaces with a bridge conflist; stopped at
    teardown (exit code 0 required)."""
    d = PodDaemon(tmp_path / "d")
    d.cni_state = tmp_path / "cni-state"
    write_bridge_conflist(d.cni_dir, d.cni_state)
    d.start()
    yield d
    if d.alive():
        remove_all_pods(d)
        rc = d.stop()
        assert rc == 0, f"ocid exited with {rc}; log:\n{d.log_tail()}"


@pytest.fixture
def rt(pod_daemon, pb):
    return pb.cri_grpc.RuntimeServiceStub(pod_daemon.channel())


def run_pod(rt, pb, cfg, handler=""):
    return rt.RunPodSandbox(pb.cri.RunPodSandboxRequest(
        config=cfg, runtime_handler=handler), timeout=60).pod_sandbox_id


def status(rt, pb, pod_id, verbose=False):
    return rt.PodSandboxStatus(pb.cri.PodSandboxStatusRequest(
        pod_sandbox_id=pod_id, verbose=verbose), timeout=30)


def records(d):
    p = Path(d.root) / "pods"
    return sorted(x.name for x in p.glob("*.json")) if p.exists() else []


def test_lifecycle(pod_daemon, rt, pb, tmp_path):
    d = pod_daemon
    logdir = tmp_path / "logs" / "default_web_u1"
    cfg = pod_config(pb, "web", labels={"app": "web", "tier": "front"},
                     annotations={"note": "hello"}, log_directory=str(logdir))
    pod_id = run_pod(rt, pb, cfg)
    assert len(pod_id) == 64
    assert logdir.is_dir()

    st = status(rt, pb, pod_id, verbose=True)
    s = st.status
    assert s.id == pod_id
    assert s.metadata.name == "web" and s.metadata.uid == "uid-web"
    assert s.state == pb.cri.SANDBOX_READY
    assert s.created_at > 0
    assert s.network.ip.startswith("10.244.7.")
    assert dict(s.labels) == {"app": "web", "tier": "front"}
    assert dict(s.annotations) == {"note": "hello"}
    assert s.linux.namespaces.options.network == pb.cri.POD
    assert s.runtime_handler == ""
    info = json.loads(st.info["info"])
    assert info["id"] == pod_id
    assert info["name"] == "k8s_web_default_uid-web_0"

    # The namespaces are pinned and the pod's files written.
    pod_dir = Path(d.runroot) / "pods" / pod_id
    pinned = d.mounts_under(pod_dir)
    for ns in ("net", "ipc", "uts"):
        assert str(pod_dir / "ns" / ns) in pinned
    assert str(pod_dir / "shm") in pinned
    assert (pod_dir / "hostname").read_text() == "web\n"
    assert s.network.ip in (pod_dir / "hosts").read_text()
    # The pod's address answers inside the pod's network namespace.
    r = d.nsenter("busybox", "ping", "-c", "1", "-W", "5", s.network.ip)
    assert r.returncode == 0, r.stdout + r.stderr
    assert records(d) == [f"{pod_id}.json"]

    # Found by a unique prefix; listed with filters.
    assert status(rt, pb, pod_id[:12]).status.id == pod_id
    lst = rt.ListPodSandbox(pb.cri.ListPodSandboxRequest(), timeout=30).items
    assert [p.id for p in lst] == [pod_id]
    f = pb.cri.PodSandboxFilter(label_selector={"app": "web"})
    assert len(rt.ListPodSandbox(pb.cri.ListPodSandboxRequest(filter=f)).items) == 1
    f = pb.cri.PodSandboxFilter(label_selector={"app": "db"})
    assert len(rt.ListPodSandbox(pb.cri.ListPodSandboxRequest(filter=f)).items) == 0
    f = pb.cri.PodSandboxFilter(id=pod_id[:6])
    assert len(rt.ListPodSandbox(pb.cri.ListPodSandboxRequest(filter=f)).items) == 1
    f = pb.cri.PodSandboxFilter(
        state=pb.cri.PodSandboxStateValue(state=pb.cri.SANDBOX_NOTREADY))
    assert len(rt.ListPodSandbox(pb.cri.ListPodSandboxRequest(filter=f)).items) == 0

    # Stop: NOTREADY, namespaces unpinned, address released; twice is fine.
    assert ipam_allocations(d.cni_state)
    for _ in range(2):
        rt.StopPodSandbox(pb.cri.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
    assert status(rt, pb, pod_id).status.state == pb.cri.SANDBOX_NOTREADY
    assert d.mounts_under(pod_dir) == []
    assert ipam_allocations(d.cni_state) == []
    f = pb.cri.PodSandboxFilter(
        state=pb.cri.PodSandboxStateValue(state=pb.cri.SANDBOX_NOTREADY))
    assert len(rt.ListPodSandbox(pb.cri.ListPodSandboxRequest(filter=f)).items) == 1

    # Remove: gone everywhere; removing again or an unknown pod is success.
    for _ in range(2):
        rt.RemovePodSandbox(pb.cri.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
    rt.StopPodSandbox(pb.cri.StopPodSandboxRequest(pod_sandbox_id="f" * 64), timeout=30)
    with pytest.raises(grpc.RpcError) as e:
        status(rt, pb, pod_id)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert pod_id in e.value.details()
    assert not pod_dir.exists()
    assert records(d) == []
    assert len(rt.ListPodSandbox(pb.cri.ListPodSandboxRequest()).items) == 0

    # The name is free again.
    pod2 = run_pod(rt, pb, cfg)
    assert pod2 != pod_id
    rt.RemovePodSandbox(pb.cri.RemovePodSandboxRequest(pod_sandbox_id=pod2), timeout=60)
    assert ipam_allocations(d.cni_state) == []


def test_remove_ready_pod(pod_daemon, rt, pb):
    """RemovePodSandbox of a pod never stopped tears everything down."""
    d = pod_daemon
    pod_id = run_pod(rt, pb, pod_config(pb, "quick"))
    rt.RemovePodSandbox(pb.cri.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
    assert d.mounts_under(Path(d.runroot) / "pods") == []
    assert ipam_allocations(d.cni_state) == []
    assert records(d) == []


def test_host_network(pod_daemon, rt, pb):
    d = pod_daemon
    pod_id = run_pod(rt, pb, pod_config(pb, "hostnet", host_network=True))
    s = status(rt, pb, pod_id).status
    assert s.state == pb.cri.SANDBOX_READY
    assert s.network.ip == ""
    assert s.linux.namespaces.options.network == pb.cri.NODE
    pod_dir = Path(d.runroot) / "pods" / pod_id
    pinned = d.mounts_under(pod_dir)
    assert str(pod_dir / "ns" / "net") not in pinned
    assert str(pod_dir / "ns" / "uts") not in pinned
    assert str(pod_dir / "ns" / "ipc") in pinned
    assert ipam_allocations(d.cni_state) == []
    assert (pod_dir / "hostname").read_text() == os.uname().nodename + "\n"
    rt.StopPodSandbox(pb.cri.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
    rt.RemovePodSandbox(pb.cri.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
    assert d.mounts_under(Path(d.runroot) / "pods") == []


def test_name_conflict(pod_daemon, rt, pb):
    cfg = pod_config(pb, "dup")
    first = run_pod(rt, pb, cfg)
    with pytest.raises(grpc.RpcError) as e:
        run_pod(rt, pb, cfg)
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "k8s_dup_default_uid-dup_0" in e.value.details()
    assert first in e.value.details()
    # Another attempt is another name.
    second = run_pod(rt, pb, pod_config(pb, "dup", attempt=1))
    assert len(rt.ListPodSandbox(pb.cri.ListPodSandboxRequest()).items) == 2
    for p in (first, second):
        rt.RemovePodSandbox(pb.cri.RemovePodSandboxRequest(pod_sandbox_id=p), timeout=60)


def test_invalid_config(pod_daemon, rt, pb):
    cri = pb.cri
    bad = [
        (cri.PodSandboxConfig(), "config.metadata"),
        (pod_config(pb, ""), "config.metadata.name"),
        (pod_config(pb, "x", hostname="bad_host!"), "config.hostname"),
        (pod_config(pb, "x", log_directory="relative"), "config.log_directory"),
    ]
    for cfg, field in bad:
        with pytest.raises(grpc.RpcError) as e:
            run_pod(rt, pb, cfg)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        run_pod(rt, pb, pod_config(pb, "x"), handler="no-such-handler")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no-such-handler" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        status(rt, pb, "")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        status(rt, pb, "abc")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert len(rt.ListPodSandbox(cri.ListPodSandboxRequest()).items) == 0
    assert records(pod_daemon) == []


def test_sysctls(pod_daemon, rt, pb):
    d = pod_daemon
    # A namespaced sysctl is set inside the pod's namespace only.
    host_before = d.nsenter("cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").stdout
    pod_id = run_pod(rt, pb, pod_config(
        pb, "sys", sysctls={"net.ipv4.ip_unprivileged_port_start": "100",
                            "kernel.shmmni": "4000"}))
    info = json.loads(status(rt, pb, pod_id, verbose=True).info["info"])
    assert info["sysctls"] == {"net.ipv4.ip_unprivileged_port_start": "100",
                               "kernel.shmmni": "4000"}
    assert d.nsenter("cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").stdout == host_before
    r = d.pod_exec(pod_id, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start")
    assert r.stdout.strip() == "100", r.stderr
    rt.RemovePodSandbox(pb.cri.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)

    # Host-level keys, smuggled second keys and net.* with host network.
    for sysctls, host_net in (({"kernel.panic": "1"}, False),
                              ({"net.ipv4.ip_forward": "1\nkernel.panic=1"}, False),
                              ({"net.ipv4.ip_forward": "1 kernel.panic=1"}, False),
                              ({"net/ipv4/../../kernel/panic": "1"}, False),
                              ({"net.ipv4.ip_forward": "1"}, True)):
        with pytest.raises(grpc.RpcError) as e:
            run_pod(rt, pb, pod_config(pb, "evil", sysctls=sysctls,
                                       host_network=host_net))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, sysctls
        assert "config.linux.sysctls" in e.value.details()
    assert len(rt.ListPodSandbox(pb.cri.ListPodSandboxRequest()).items) == 0
    assert d.mounts_under(Path(d.runroot) / "pods") == []
    assert records(d) == []


def test_rollback_after_cni_failure(pod_daemon, rt, pb):
    d = pod_daemon
    write_bridge_conflist(d.cni_dir, d.cni_state, fail=True)
    with pytest.raises(grpc.RpcError) as e:
        run_pod(rt, pb, pod_config(pb, "doomed"))
    assert "ocid-no-such-plugin" in e.value.details()
    # Nothing stays behind: no mounts, no pod dir, no record, no address,
    # and the name is free.
    assert d.mounts_under(Path(d.runroot) / "pods") == []
    pods_dir = Path(d.runroot) / "pods"
    assert not pods_dir.exists() or list(pods_dir.iterdir()) == []
    assert records(d) == []
    assert ipam_allocations(d.cni_state) == []
    assert len(rt.ListPodSandbox(pb.cri.ListPodSandboxRequest()).items) == 0
    write_bridge_conflist(d.cni_dir, d.cni_state)
    pod_id = run_pod(rt, pb, pod_config(pb, "doomed"))
    rt.RemovePodSandbox(pb.cri.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)


def test_concurrent_pods(pod_daemon, rt, pb):
    d = pod_daemon
    n = 10

    def one(i):
        return run_pod(rt, pb, pod_config(pb, f"c{i}", labels={"batch": "x"}))

    with ThreadPoolExecutor(n) as ex:
        ids = list(ex.map(one, range(n)))
    assert len(set(ids)) == n
    ips = {status(rt, pb, i).status.network.ip for i in ids}
    assert len(ips) == n
    f = pb.cri.PodSandboxFilter(label_selector={"batch": "x"})
    assert len(rt.ListPodSandbox(pb.cri.ListPodSandboxRequest(filter=f)).items) == n
    # Two pods reach each other over the bridge.
    a, b = ids[0], ids[1]
    ip_b = status(rt, pb, b).status.network.ip
    r = d.pod_exec(a, "busybox", "ping", "-c", "1", "-W", "5", ip_b)
    assert r.returncode == 0, r.stdout + r.stderr

    def rm(i):
        rt.StopPodSandbox(pb.cri.StopPodSandboxRequest(pod_sandbox_id=i), timeout=60)
        rt.RemovePodSandbox(pb.cri.RemovePodSandboxRequest(pod_sandbox_id=i), timeout=60)

    with ThreadPoolExecutor(n) as ex:
        list(ex.map(rm, ids))
    assert len(rt.ListPodSandbox(pb.cri.ListPodSandboxRequest()).items) == 0
    assert d.mounts_under(Path(d.runroot) / "pods") == []
    assert ipam_allocations(d.cni_state) == []
    assert records(d) == []
