# SPDX-License-Identifier: Apache-2.0
"""Containers through the CRI, with runc and with crun, conmon and the CNI
bridge: the kubelet-shaped sequence, exit codes and reasons, stop timeouts,
ExecSync, logs, resources and hostile input. The daemon runs in namespaces
of its own (pods.PodDaemon); the test image is imported with
`ocid image import` (the daemon's network namespace cannot reach a
registry on the host's loopback)."""

import os
import time
from pathlib import Path

import grpc
import pytest

from pods import (remove_all_pods, CNI_BIN_DIR, TEST_IMAGE, NetnsForwarder, PodDaemon,
                  import_test_image, pod_config, write_bridge_conflist)

HANDLERS = ("runc", "crun")

pytestmark = pytest.mark.skipif(
    not Path(CNI_BIN_DIR, "bridge").exists() or not Path("/usr/bin/conmon").exists(),
    reason="containernetworking-plugins or conmon are not installed")


@pytest.fixture(params=HANDLERS)
def handler(request):
    return request.param


@pytest.fixture
def ctr_daemon(tmp_path, handler, registry):
    """A daemon in its own namespaces with the imported test image; the
    session's registry is reachable from its namespace at the same
    127.0.0.1:<port> through a forwarder."""
    d = PodDaemon(tmp_path / "d")
    d.hide_unified = handler == "crun"
    d.cni_state = tmp_path / "cni-state"
    write_bridge_conflist(d.cni_dir, d.cni_state)
    import_test_image(d, tmp_path)
    d.start()
    d.registry = registry
    fwd = NetnsForwarder(d.proc.pid, registry.port)
    yield d
    fwd.close()
    if d.alive():
        remove_all_pods(d)
        rc = d.stop()
        assert rc == 0, f"ocid exited with {rc}; log:\n{d.log_tail()}"


@pytest.fixture
def rt(ctr_daemon, pb):
    return pb.cri_grpc.RuntimeServiceStub(ctr_daemon.channel())


class Pod:
    def __init__(self, rt, pb, handler, tmp, name="p", shared_pid=False):
        self.rt, self.pb = rt, pb
        self.logdir = Path(tmp) / "logs" / name
        self.cfg = pod_config(pb, name, log_directory=str(self.logdir), shared_pid=shared_pid)
        self.id = rt.RunPodSandbox(pb.cri.RunPodSandboxRequest(
            config=self.cfg, runtime_handler=handler), timeout=60).pod_sandbox_id

    def create(self, name, command, log_path=None, **kw):
        cri = self.pb.cri
        cfg = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name=name),
            image=cri.ImageSpec(image=kw.pop("image", TEST_IMAGE)),
            command=command, log_path=log_path or f"{name}.log", **kw)
        return self.rt.CreateContainer(cri.CreateContainerRequest(
            pod_sandbox_id=self.id, config=cfg, sandbox_config=self.cfg),
            timeout=120).container_id

    def status(self, cid):
        return self.rt.ContainerStatus(
            self.pb.cri.ContainerStatusRequest(container_id=cid), timeout=30).status

    def wait_exited(self, cid, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.status(cid)
            if s.state == self.pb.cri.CONTAINER_EXITED:
                return s
            time.sleep(0.1)
        raise AssertionError(f"container {cid} did not exit")

    def exec(self, cid, cmd, timeout=10):
        return self.rt.ExecSync(self.pb.cri.ExecSyncRequest(
            container_id=cid, cmd=cmd, timeout=timeout), timeout=timeout + 30)

    def remove(self):
        self.rt.StopPodSandbox(self.pb.cri.StopPodSandboxRequest(pod_sandbox_id=self.id), timeout=60)
        self.rt.RemovePodSandbox(self.pb.cri.RemovePodSandboxRequest(pod_sandbox_id=self.id), timeout=60)


def test_kubelet_sequence(ctr_daemon, rt, pb, handler, tmp_path):
    cri = pb.cri
    d = ctr_daemon
    pod = Pod(rt, pb, handler, tmp_path)
    # The image comes from the registry (busybox-test runs as uid 1000).
    image = f"{d.registry.host}/busybox-test:latest"
    images = pb.cri_grpc.ImageServiceStub(d.channel())
    ref = images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=image),
                                                sandbox_config=pod.cfg), timeout=120).image_ref
    cid = pod.create("app", ["sh", "-c", "echo out; echo err >&2; exec sleep 1000"],
                     labels={"role": "app"}, image=image)
    s = pod.status(cid)
    assert s.state == cri.CONTAINER_CREATED
    assert s.image.image == image and s.image_id == ref
    # The image is in use: RemoveImage refuses, naming the container.
    with pytest.raises(grpc.RpcError) as e:
        images.RemoveImage(cri.RemoveImageRequest(image=cri.ImageSpec(image=image)), timeout=30)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert cid in e.value.details()
    assert s.log_path == str(pod.logdir / "app.log")
    rt.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=60)
    s = pod.status(cid)
    assert s.state == cri.CONTAINER_RUNNING
    assert s.started_at >= s.created_at > 0
    assert dict(s.labels) == {"role": "app"}
    assert pod.exec(cid, ["id", "-u"]).stdout == b"1000\n"

    # ExecSync: output, exit codes, the pod's hostname.
    r = pod.exec(cid, ["cat", "/etc/hostname"])
    assert r.exit_code == 0 and r.stdout == b"p\n"
    r = pod.exec(cid, ["sh", "-c", "echo o; echo e >&2; exit 3"])
    assert (r.exit_code, r.stdout, r.stderr) == (3, b"o\n", b"e\n")
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        pod.exec(cid, ["sleep", "30"], timeout=1)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - t0 < 15

    # The log file, in the CRI format, and reopened.
    log = pod.logdir / "app.log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "stderr F err" not in log.read_text():
        time.sleep(0.1)
    text = log.read_text()
    assert " stdout F out\n" in text and " stderr F err\n" in text
    os.rename(log, str(log) + ".1")
    rt.ReopenContainerLog(cri.ReopenContainerLogRequest(container_id=cid), timeout=30)
    assert log.exists()

    # Resources: a memory limit lands in the container's cgroup.
    rt.UpdateContainerResources(cri.UpdateContainerResourcesRequest(
        container_id=cid, linux=cri.LinuxContainerResources(memory_limit_in_bytes=64 << 20)), timeout=30)
    limit = Path(f"/sys/fs/cgroup/memory/ocid-test/ocid-{cid}/memory.limit_in_bytes")
    assert int(limit.read_text()) == 64 << 20
    assert pod.status(cid).resources.linux.memory_limit_in_bytes == 64 << 20

    # Listed, filtered.
    lst = rt.ListContainers(cri.ListContainersRequest(), timeout=30).containers
    assert [c.id for c in lst] == [cid]
    f = cri.ContainerFilter(pod_sandbox_id=pod.id[:10], label_selector={"role": "app"})
    assert len(rt.ListContainers(cri.ListContainersRequest(filter=f)).containers) == 1
    f = cri.ContainerFilter(state=cri.ContainerStateValue(state=cri.CONTAINER_EXITED))
    assert len(rt.ListContainers(cri.ListContainersRequest(filter=f)).containers) == 0

    # Stop: sh as PID 1 ignores SIGTERM, so the timeout passes, then SIGKILL.
    t0 = time.monotonic()
    rt.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=2), timeout=60)
    took = time.monotonic() - t0
    assert took >= 1.9
    s = pod.status(cid)
    assert s.state == cri.CONTAINER_EXITED
    assert s.exit_code == 137 and s.reason == "Error"
    assert s.finished_at >= s.started_at
    rt.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=2), timeout=60)
    rt.RemoveContainer(cri.RemoveContainerRequest(container_id=cid), timeout=60)
    rt.RemoveContainer(cri.RemoveContainerRequest(container_id=cid), timeout=60)
    with pytest.raises(grpc.RpcError) as e:
        pod.status(cid)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert not (Path(d.runroot) / "containers" / cid).exists()
    pod.remove()
    assert d.mounts_under(Path(d.runroot) / "pods") == []
    assert d.mounts_under(d.root) == []


def test_exit_codes(ctr_daemon, rt, pb, handler, tmp_path):
    cri = pb.cri
    pod = Pod(rt, pb, handler, tmp_path)
    ok = pod.create("ok", ["true"])
    bad = pod.create("bad", ["sh", "-c", "exit 7"])
    for c in (ok, bad):
        rt.StartContainer(cri.StartContainerRequest(container_id=c), timeout=60)
    s = pod.wait_exited(ok)
    assert (s.exit_code, s.reason) == (0, "Completed")
    s = pod.wait_exited(bad)
    assert (s.exit_code, s.reason) == (7, "Error")
    # Stop of an exited container is success; a running one with timeout 0
    # is killed at once.
    rt.StopContainer(cri.StopContainerRequest(container_id=ok, timeout=10), timeout=60)
    run = pod.create("run", ["sleep", "1000"])
    rt.StartContainer(cri.StartContainerRequest(container_id=run), timeout=60)
    t0 = time.monotonic()
    rt.StopContainer(cri.StopContainerRequest(container_id=run, timeout=0), timeout=60)
    assert time.monotonic() - t0 < 5
    assert pod.status(run).exit_code == 137
    # RemovePodSandbox removes the pod's containers, running or not.
    live = pod.create("live", ["sleep", "1000"])
    rt.StartContainer(cri.StartContainerRequest(container_id=live), timeout=60)
    rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod.id), timeout=60)
    assert len(rt.ListContainers(cri.ListContainersRequest()).containers) == 0


def test_two_pods_reach_each_other(ctr_daemon, rt, pb, handler, tmp_path):
    cri = pb.cri
    a = Pod(rt, pb, handler, tmp_path, "a")
    b = Pod(rt, pb, handler, tmp_path, "b")
    ca = a.create("c", ["sleep", "1000"])
    cb = b.create("web", ["busybox", "httpd", "-f", "-p", "8080", "-h", "/etc"])
    for c in (ca, cb):
        rt.StartContainer(cri.StartContainerRequest(container_id=c), timeout=60)
    ip_b = rt.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=b.id)).status.network.ip
    # Pod a fetches pod b's /etc/hostname over the bridge.
    deadline = time.monotonic() + 10
    while True:
        r = a.exec(ca, ["busybox", "wget", "-q", "-O", "-", f"http://{ip_b}:8080/hostname"], timeout=20)
        if r.exit_code == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (r.exit_code, r.stdout) == (0, b"b\n"), r.stderr
    a.remove()
    b.remove()


def test_hostile_input(ctr_daemon, rt, pb, handler, tmp_path):
    cri = pb.cri
    pod = Pod(rt, pb, handler, tmp_path)

    def refused(code, what, **kw):
        with pytest.raises(grpc.RpcError) as e:
            pod.create("x", ["true"], **kw)
        assert e.value.code() == code, (e.value.code(), e.value.details())
        if what:
            assert what in e.value.details()

    refused(grpc.StatusCode.NOT_FOUND, "no-such-image", image="localhost/no-such-image:v1")
    refused(grpc.StatusCode.INVALID_ARGUMENT, "log_path", log_path="../../escape.log")
    refused(grpc.StatusCode.INVALID_ARGUMENT, "HOME",
            envs=[cri.KeyValue(key="HOME", value=b"/root\nevil")])
    refused(grpc.StatusCode.INVALID_ARGUMENT, "cpu_shares",
            linux=cri.LinuxContainerConfig(resources=cri.LinuxContainerResources(cpu_shares=1 << 40)))
    # A host path that is a symlink to the host's / (docs/container-spec.md).
    link = tmp_path / "link"
    link.symlink_to("/")
    refused(grpc.StatusCode.INVALID_ARGUMENT, None,
            mounts=[cri.Mount(container_path="/mnt", host_path=str(link))])
    assert len(rt.ListContainers(cri.ListContainersRequest()).containers) == 0
    assert list((Path(ctr_daemon.runroot) / "containers").glob("*")) == []
    pod.remove()


def test_concurrent_pods_and_containers(ctr_daemon, rt, pb, handler, tmp_path):
    """10 pods x 3 containers created, started, stopped and removed
    concurrently."""
    from concurrent.futures import ThreadPoolExecutor
    cri = pb.cri

    def one(i):
        pod = Pod(rt, pb, handler, tmp_path, f"c{i}")
        ids = []
        for j in range(3):
            cid = pod.create(f"k{j}", ["sleep", "1000"])
            rt.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=120)
            ids.append(cid)
        return pod, ids

    with ThreadPoolExecutor(10) as ex:
        made = list(ex.map(one, range(10)))
    lst = rt.ListContainers(cri.ListContainersRequest(filter=cri.ContainerFilter(
        state=cri.ContainerStateValue(state=cri.CONTAINER_RUNNING))), timeout=30).containers
    assert len(lst) == 30
    for pod, ids in made:
        f = cri.ContainerFilter(pod_sandbox_id=pod.id)
        assert sorted(c.id for c in rt.ListContainers(cri.ListContainersRequest(filter=f)).containers) == sorted(ids)

    def down(m):
        pod, ids = m
        for cid in ids:
            rt.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=0), timeout=60)
            rt.RemoveContainer(cri.RemoveContainerRequest(container_id=cid), timeout=60)
        pod.remove()

    with ThreadPoolExecutor(10) as ex:
        list(ex.map(down, made))
    assert len(rt.ListContainers(cri.ListContainersRequest()).containers) == 0
    assert len(rt.ListPodSandbox(cri.ListPodSandboxRequest()).items) == 0
    assert ctr_daemon.mounts_under(ctr_daemon.root) == []


def test_shared_pid_namespace(ctr_daemon, rt, pb, handler, tmp_path):
    """A pod sharing its PID namespace gets ocid-pause as PID 1; its
    containers see each other's processes."""
    cri = pb.cri
    d = ctr_daemon
    pod = Pod(rt, pb, handler, tmp_path, shared_pid=True)
    s = rt.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=pod.id), timeout=30).status
    assert s.linux.namespaces.options.pid == cri.POD
    shared = cri.LinuxContainerConfig(security_context=cri.LinuxContainerSecurityContext(
        namespace_options=cri.NamespaceOption(pid=cri.POD)))
    a = pod.create("a", ["sleep", "4242"], linux=shared)
    b = pod.create("b", ["sleep", "1000"], linux=shared)
    for c in (a, b):
        rt.StartContainer(cri.StartContainerRequest(container_id=c), timeout=60)
    r = pod.exec(b, ["cat", "/proc/1/cmdline"])
    assert r.stdout == b"/pause\x00", r
    r = pod.exec(b, ["ps"])
    assert b"sleep 4242" in r.stdout, r.stdout
    # Stop removes the infra container; remove leaves nothing behind.
    pod.remove()
    assert d.mounts_under(Path(d.runroot) / "pods") == []
    assert not (Path(d.runroot) / "pods" / pod.id).exists()
