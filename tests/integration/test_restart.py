# SPDX-License-Identifier: Apache-2.0
"""Restart without losing anything (docs/restart.md): ocid stopped with
SIGTERM or killed with SIGKILL and started again finds its pods and
containers as they were; running containers keep running (conmon holds
them) and can be exec'd, stopped and removed; a container that exited
while ocid was down shows its real exit code; a corrupted record is
skipped, logged, kept, and reported by `ocid check`; exits are recorded
as they happen (inotify), and GetContainerEvents streams the container
events to every client, a client that does not read losing events
without slowing the daemon.

The daemon runs in network and mount namespaces held by a process of
their own, so that a restarted daemon finds the pinned namespaces, the
mounts and the bridge its predecessor made."""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import grpc
import pytest

from ocid_it import OCID_BIN, RawH2, daemon_env, run_ocid
from pods import (CNI_BIN_DIR, TEST_IMAGE, PodDaemon, import_test_image, ipam_allocations,
                  pod_config, remove_all_pods, write_bridge_conflist)

pytestmark = pytest.mark.skipif(
    not Path(CNI_BIN_DIR, "bridge").exists() or not Path("/usr/bin/conmon").exists(),
    reason="containernetworking-plugins or conmon are not installed")

EVENTS = "/runtime.v1.RuntimeService/GetContainerEvents"


class HeldDaemon(PodDaemon):
    """A PodDaemon whose namespaces belong to a holder process, so that
    the daemon can die and start again in the same ones."""

    event_queue = None

    def hold(self):
        script = "ip link set lo up && exec sleep infinity"
        if self.hide_unified:
            # crun on a hybrid cgroup host (see PodDaemon).
            script = "umount /sys/fs/cgroup/unified 2>/dev/null; " + script
        self.holder = subprocess.Popen(
            ["unshare", "-n", "-m", "--propagation", "private", "sh", "-c", script],
            stdin=subprocess.DEVNULL)
        own = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if (os.readlink(f"/proc/{self.holder.pid}/ns/net") != own and
                        "sleep" in Path(f"/proc/{self.holder.pid}/cmdline").read_text()):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("the namespace holder did not start")

    def spawn(self, *extra_args):
        assert not self.alive(), "daemon already running"
        env = daemon_env(self.test_service)
        if self.event_queue:
            env["OCID_TEST_EVENT_QUEUE"] = str(self.event_queue)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                ["nsenter", "-t", str(self.holder.pid), "-n", "-m", "--",
                 OCID_BIN, "--config", str(self.conf), *extra_args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        finally:
            log.close()
        return self

    def mounts(self):
        with open(f"/proc/{self.holder.pid}/mountinfo") as f:
            return [line.split()[4] for line in f]

    def nsenter(self, *cmd, **kw):
        return subprocess.run(["nsenter", "-t", str(self.holder.pid), "-n", *cmd],
                              capture_output=True, text=True, timeout=30, **kw)

    def release(self):
        self.holder.kill()
        self.holder.wait()


@pytest.fixture
def rd(tmp_path):
    d = HeldDaemon(tmp_path / "d")
    d.cni_state = tmp_path / "cni-state"
    write_bridge_conflist(d.cni_dir, d.cni_state)
    import_test_image(d, tmp_path)
    d.hold()
    yield d
    if not d.alive():
        try:
            d.start()
        except AssertionError:
            pass
    if d.alive():
        remove_all_pods(d)
        d.stop()
    d.release()


def processes_naming(text):
    """PIDs whose command line holds text (conmon names its container)."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit() and int(p.name) != os.getpid():
            try:
                if text in (p / "cmdline").read_bytes().decode(errors="replace"):
                    out.append(int(p.name))
            except OSError:
                pass
    return out


def rt_of(d, pb):
    return pb.cri_grpc.RuntimeServiceStub(d.channel())


def restart(d, sig, down=0.0):
    d.close_channels()
    if sig == signal.SIGTERM:
        assert d.stop() == 0, d.log_tail()
    else:
        d.kill()
    time.sleep(down)
    start = len(d.log())
    d.start()
    return start


def run_pod(rt, pb, tmp, name="p", handler="runc"):
    logdir = Path(tmp) / "logs" / name
    cfg = pod_config(pb, name, labels={"app": name}, annotations={"note": "kept"},
                     log_directory=str(logdir))
    pid = rt.RunPodSandbox(pb.cri.RunPodSandboxRequest(config=cfg, runtime_handler=handler),
                           timeout=60).pod_sandbox_id
    return pid, cfg


def create(rt, pb, pod_id, cfg, name, command, start=True):
    cri = pb.cri
    c = cri.ContainerConfig(metadata=cri.ContainerMetadata(name=name, attempt=1),
                            image=cri.ImageSpec(image=TEST_IMAGE), command=command,
                            log_path=f"{name}.log", labels={"c": name},
                            annotations={"a": name})
    cid = rt.CreateContainer(cri.CreateContainerRequest(pod_sandbox_id=pod_id, config=c,
                                                        sandbox_config=cfg),
                             timeout=120).container_id
    if start:
        rt.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=60)
    return cid


def ctr_status(rt, pb, cid):
    return rt.ContainerStatus(pb.cri.ContainerStatusRequest(container_id=cid), timeout=30).status


def pod_status(rt, pb, pid):
    return rt.PodSandboxStatus(pb.cri.PodSandboxStatusRequest(pod_sandbox_id=pid), timeout=30).status


def wait_state(rt, pb, cid, state, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = ctr_status(rt, pb, cid)
        if s.state == state:
            return s
        time.sleep(0.05)
    raise AssertionError(f"container {cid} never reached state {state}")


@pytest.mark.parametrize("handler", ["runc", "crun"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_restart_keeps_everything(tmp_path, pb, sig, handler):
    if handler == "crun" and not Path("/usr/bin/crun").exists():
        pytest.skip("crun is not installed")
    rd = HeldDaemon(tmp_path / "d")
    rd.hide_unified = handler == "crun"
    rd.cni_state = tmp_path / "cni-state"
    write_bridge_conflist(rd.cni_dir, rd.cni_state)
    import_test_image(rd, tmp_path)
    rd.hold()
    try:
        restart_keeps_everything(rd, pb, tmp_path, sig, handler)
    finally:
        if rd.alive():
            remove_all_pods(rd)
            rd.stop()
        rd.release()


def restart_keeps_everything(rd, pb, tmp_path, sig, handler):
    cri = pb.cri
    rd.start()
    rt = rt_of(rd, pb)
    pid, cfg = run_pod(rt, pb, tmp_path, handler=handler)
    run = create(rt, pb, pid, cfg, "run", ["sleep", "1000"])
    # Exits 3 s after its start: while the daemon is down.
    late = create(rt, pb, pid, cfg, "late", ["sh", "-c", "sleep 3; exit 3"])
    made = create(rt, pb, pid, cfg, "made", ["true"], start=False)
    wait_state(rt, pb, run, cri.CONTAINER_RUNNING)
    pods_before = rt.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=30).items
    pod_before = pod_status(rt, pb, pid)
    ctrs_before = {c: ctr_status(rt, pb, c) for c in (run, late, made)}
    assert pod_before.network.ip

    # Down long enough for "late" to exit meanwhile.
    late_started = ctrs_before[late].started_at / 1e9
    restart(rd, sig, down=max(0.0, late_started + 3.5 - time.time()))
    rt = rt_of(rd, pb)
    pods_after = rt.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=30).items
    assert [p.id for p in pods_after] == [p.id for p in pods_before]
    pod_after = pod_status(rt, pb, pid)
    for field in ("id", "metadata", "state", "created_at", "network", "linux", "labels",
                  "annotations", "runtime_handler"):
        assert getattr(pod_after, field) == getattr(pod_before, field), field
    assert pod_after.state == cri.SANDBOX_READY
    assert pod_after.runtime_handler == handler

    for cid, before in ctrs_before.items():
        after = ctr_status(rt, pb, cid)
        for field in ("id", "metadata", "image", "image_ref", "image_id", "created_at",
                      "started_at", "labels", "annotations", "log_path", "mounts"):
            assert getattr(after, field) == getattr(before, field), (cid, field)
    assert ctr_status(rt, pb, run).state == cri.CONTAINER_RUNNING
    assert ctr_status(rt, pb, made).state == cri.CONTAINER_CREATED
    # Exited while the daemon was down: exited at once, with its status.
    s = ctr_status(rt, pb, late)
    assert s.state == cri.CONTAINER_EXITED
    assert (s.exit_code, s.reason) == (3, "Error")
    assert s.finished_at > s.started_at

    # The restored running container: exec, stop, remove.
    r = rt.ExecSync(cri.ExecSyncRequest(container_id=run, cmd=["echo", "still here"], timeout=10),
                    timeout=40)
    assert (r.exit_code, r.stdout) == (0, b"still here\n")
    rt.StopContainer(cri.StopContainerRequest(container_id=run, timeout=0), timeout=60)
    s = ctr_status(rt, pb, run)
    assert s.state == cri.CONTAINER_EXITED and s.exit_code == 137
    rt.StartContainer(cri.StartContainerRequest(container_id=made), timeout=60)
    wait_state(rt, pb, made, cri.CONTAINER_EXITED)
    for cid in (run, late, made):
        rt.RemoveContainer(cri.RemoveContainerRequest(container_id=cid), timeout=60)
    assert len(rt.ListContainers(cri.ListContainersRequest(), timeout=30).containers) == 0
    rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pid), timeout=60)
    rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pid), timeout=60)
    assert ipam_allocations(rd.cni_state) == []
    assert rd.mounts_under(Path(rd.runroot) / "pods") == []
    assert not any(Path(rd.root, "containers").glob("*.json"))


def test_corrupt_record_is_skipped_kept_and_reported(rd, pb, tmp_path):
    cri = pb.cri
    rd.start()
    rt = rt_of(rd, pb)
    good, _ = run_pod(rt, pb, tmp_path, "good")
    bad, _ = run_pod(rt, pb, tmp_path, "bad")
    rd.close_channels()
    assert rd.stop() == 0
    record = Path(rd.root) / "pods" / f"{bad}.json"
    text = record.read_text()
    record.write_text(text[: len(text) // 2])

    r = run_ocid("--config", rd.conf, "check")
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert f"bad pod record {bad}" in r.stdout

    start = len(rd.log())
    rd.start()
    rd.wait_log(rf"pod record '{bad}' cannot be restored: .*stays on disk", start=start)
    rt = rt_of(rd, pb)
    ids = [p.id for p in rt.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=30).items]
    assert ids == [good]
    assert record.read_text() == text[: len(text) // 2]
    # The daemon is fully usable.
    rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=good), timeout=60)


def test_exit_is_recorded_at_once(rd, pb, tmp_path):
    """No status query: the record on disk says exited within a second of
    the exit (the exit watch, not a poll), and a STOPPED event comes."""
    cri = pb.cri
    rd.start()
    rt = rt_of(rd, pb)
    pid, cfg = run_pod(rt, pb, tmp_path)
    cid = create(rt, pb, pid, cfg, "w",
                 ["sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.02; done; exit 4"])
    events = EventClient(rd, pb)
    rt.ExecSync(cri.ExecSyncRequest(container_id=cid, cmd=["touch", "/tmp/go"], timeout=10),
                timeout=40)
    t0 = time.monotonic()
    record = Path(rd.root) / "containers" / f"{cid}.json"
    state = None
    while time.monotonic() - t0 < 1.0:
        state = json.loads(record.read_text())
        if state["state"] == "exited":
            break
        time.sleep(0.01)
    assert state["state"] == "exited", state
    assert state["exit_code"] == 4
    ev = events.wait_for(cid, cri.CONTAINER_STOPPED_EVENT, timeout=1.0)
    assert time.monotonic() - t0 < 1.0
    st = [s for s in ev.containers_statuses if s.id == cid]
    assert st and st[0].state == cri.CONTAINER_EXITED and st[0].exit_code == 4
    events.close()


class EventClient:
    """A GetContainerEvents stream read on a thread."""

    def __init__(self, d, pb):
        self.pb = pb
        self.events = []
        self.cond = threading.Condition()
        self.channel = d.channel()
        self.call = pb.cri_grpc.RuntimeServiceStub(self.channel).GetContainerEvents(
            pb.cri.GetEventsRequest())
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        time.sleep(0.3)   # subscribed before the test acts

    def _read(self):
        try:
            for ev in self.call:
                with self.cond:
                    self.events.append(ev)
                    self.cond.notify_all()
        except grpc.RpcError:
            pass

    def wait_for(self, cid, etype, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.events:
                    if ev.container_id == cid and ev.container_event_type == etype:
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no event {etype} for {cid}; got "
                                         f"{[(e.container_id[:8], e.container_event_type) for e in self.events]}")
                self.cond.wait(left)

    def types_for(self, cid):
        with self.cond:
            return [e.container_event_type for e in self.events if e.container_id == cid]

    def close(self):
        self.call.cancel()
        self.thread.join(5)


def test_events_to_two_clients(rd, pb, tmp_path):
    cri = pb.cri
    rd.start()
    rt = rt_of(rd, pb)
    pid, cfg = run_pod(rt, pb, tmp_path)
    a, b = EventClient(rd, pb), EventClient(rd, pb)
    cid = create(rt, pb, pid, cfg, "e", ["sh", "-c", "sleep 0.5; exit 2"])
    wanted = [cri.CONTAINER_CREATED_EVENT, cri.CONTAINER_STARTED_EVENT,
              cri.CONTAINER_STOPPED_EVENT]
    for client in (a, b):
        created = client.wait_for(cid, cri.CONTAINER_CREATED_EVENT)
        assert created.pod_sandbox_status.id == pid
        assert created.pod_sandbox_status.state == cri.SANDBOX_READY
        assert created.pod_sandbox_status.labels["app"] == "p"
        assert [s.id for s in created.containers_statuses] == [cid]
        assert created.created_at > 0
        client.wait_for(cid, cri.CONTAINER_STARTED_EVENT)
        stopped = client.wait_for(cid, cri.CONTAINER_STOPPED_EVENT)
        assert [s.exit_code for s in stopped.containers_statuses] == [2]
    rt.RemoveContainer(cri.RemoveContainerRequest(container_id=cid), timeout=60)
    for client in (a, b):
        deleted = client.wait_for(cid, cri.CONTAINER_DELETED_EVENT)
        assert len(deleted.containers_statuses) == 0
        assert client.types_for(cid) == wanted + [cri.CONTAINER_DELETED_EVENT]
        client.close()
    rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pid), timeout=60)


def test_slow_event_client_loses_events_not_the_daemon(rd, pb, tmp_path):
    """A client that never reads: its window fills, then its queue (8
    events with the test hook); the events it misses are counted and
    logged, other clients get everything and other calls stay fast."""
    cri = pb.cri
    rd.event_queue = 8
    rd.start()
    rt = rt_of(rd, pb)
    pid, cfg = run_pod(rt, pb, tmp_path)
    fast = EventClient(rd, pb)
    slow = RawH2(rd.sock, timeout=5)
    slow.start()
    slow.request(1, EVENTS, b"")
    time.sleep(0.3)
    ids = []
    # Each event carries every container of the pod: 40 containers make
    # far more bytes than the client's HTTP/2 window and the call's
    # buffer hold.
    for i in range(40):
        ids.append(create(rt, pb, pid, cfg, f"c{i}", ["true"], start=False))
        t0 = time.monotonic()
        rt.Version(cri.VersionRequest(), timeout=5)
        assert time.monotonic() - t0 < 1.0
    rd.wait_log(r"GetContainerEvents client \d+ is too slow: \d+ container event\(s\) lost", timeout=20)
    for cid in ids:
        fast.wait_for(cid, cri.CONTAINER_CREATED_EVENT)
    t0 = time.monotonic()
    rt.ListContainers(cri.ListContainersRequest(), timeout=10)
    assert time.monotonic() - t0 < 2.0
    slow.close()
    fast.close()
    rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pid), timeout=120)


def test_pod_without_its_namespaces_after_a_reboot(rd, pb, tmp_path):
    """A reboot in miniature: the daemon stops, the namespaces and mounts
    go (the holder dies) and the runroot is wiped. The pod comes back
    NOTREADY, and stop and remove still run CNI DEL: no address stays
    allocated."""
    cri = pb.cri
    rd.start()
    rt = rt_of(rd, pb)
    pid, _ = run_pod(rt, pb, tmp_path)
    assert ipam_allocations(rd.cni_state) != []
    rd.close_channels()
    assert rd.stop() == 0
    rd.release()
    subprocess.run(["rm", "-rf", str(rd.runroot)], check=True)
    rd.hold()
    start = len(rd.log())
    rd.start()
    rd.wait_log(rf"pod '{pid}': its namespaces are gone", start=start)
    rt = rt_of(rd, pb)
    s = pod_status(rt, pb, pid)
    assert s.state == cri.SANDBOX_NOTREADY
    assert s.network.ip   # what it had, for the kubelet to see
    rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pid), timeout=60)
    rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pid), timeout=60)
    assert ipam_allocations(rd.cni_state) == []
    assert len(rt.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=30).items) == 0
    assert not (Path(rd.root) / "pods" / f"{pid}.json").exists()


def test_remains_of_an_interrupted_create_are_removed(rd, pb, tmp_path):
    """The records are written last: a pod and a container whose records
    are missing (ocid died inside RunPodSandbox or CreateContainer after
    making them) are taken apart at the next start: no mount, no address,
    no runtime container, no bundle left."""
    cri = pb.cri
    rd.start()
    rt = rt_of(rd, pb)
    pid, cfg = run_pod(rt, pb, tmp_path)
    cid = create(rt, pb, pid, cfg, "c", ["sleep", "1000"], start=False)
    assert ipam_allocations(rd.cni_state) != []
    rd.kill()
    (Path(rd.root) / "containers" / f"{cid}.json").unlink()
    (Path(rd.root) / "pods" / f"{pid}.json").unlink()
    start = len(rd.log())
    rd.start()
    rd.wait_log(rf"container '{cid}' has no record .*removed what it left", start=start)
    rd.wait_log(rf"pod '{pid}' has no record .*removed what it left", start=start)
    assert ipam_allocations(rd.cni_state) == []
    assert rd.mounts_under(Path(rd.runroot) / "pods") == []
    assert rd.mounts_under(rd.root) == []
    assert not (Path(rd.runroot) / "containers" / cid).exists()
    assert not (Path(rd.runroot) / "pods" / pid).exists()
    assert processes_naming(cid) == []
    rt = rt_of(rd, pb)
    assert len(rt.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=30).items) == 0


def test_oom_kill_is_reported(rd, pb, tmp_path):
    """A container the kernel's OOM killer ends: the exit watch records
    reason OOMKilled (conmon's OOM marker), and the STOPPED event says so."""
    cri = pb.cri
    rd.start()
    rt = rt_of(rd, pb)
    pid, cfg = run_pod(rt, pb, tmp_path)
    events = EventClient(rd, pb)
    c = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="hog"), image=cri.ImageSpec(image=TEST_IMAGE),
        command=["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\000' a); echo ${#x}"],
        log_path="hog.log",
        linux=cri.LinuxContainerConfig(resources=cri.LinuxContainerResources(
            memory_limit_in_bytes=16 << 20, memory_swap_limit_in_bytes=16 << 20)))
    cid = rt.CreateContainer(cri.CreateContainerRequest(pod_sandbox_id=pid, config=c, sandbox_config=cfg),
                             timeout=120).container_id
    rt.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=60)
    ev = events.wait_for(cid, cri.CONTAINER_STOPPED_EVENT, timeout=60)
    st = [s for s in ev.containers_statuses if s.id == cid][0]
    assert st.reason == "OOMKilled", (st.reason, st.exit_code)
    assert st.exit_code == 137
    s = ctr_status(rt, pb, cid)
    assert (s.state, s.reason) == (cri.CONTAINER_EXITED, "OOMKilled")
    events.close()
