#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Restart benchmark: how long ocid takes from its start to ready with pods
and running containers on disk, and its memory (RSS) after a start, with 0,
10 and --pods pods. See bench/README.md.

Run as root from the source tree after a build:
    /usr/bin/python3 bench/restart.py [--pods 100] [--restarts 5]
"""

import argparse
import os
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SRCDIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SRCDIR / "tests" / "integration"))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pods", type=int, default=100,
                   help="pods (one running container each) of the largest "
                        "point (default 100)")
    p.add_argument("--restarts", type=int, default=5,
                   help="timed restarts at each point (default 5)")
    p.add_argument("--ocid", default=os.environ.get(
        "OCID_BIN", str(SRCDIR / "_build" / "ocid")), help="the ocid binary")
    p.add_argument("--module-dir", default=os.environ.get("OCID_MODULE_DIR"),
                   help="ocid's modules (default: next to --ocid)")
    p.add_argument("--workdir", default=None,
                   help="the daemon's directories (default: a new directory "
                        "under /var/tmp)")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory (the pods are removed anyway)")
    return p.parse_args()


def stubs(workdir):
    """cri_pb2 and cri_pb2_grpc, generated from the project's cri.proto."""
    from grpc_tools import protoc
    out = Path(workdir) / "stubs"
    out.mkdir()
    wellknown = Path(protoc.__file__).parent / "_proto"
    proto_dir = SRCDIR / "core" / "server"
    rc = protoc.main(["grpc_tools.protoc", f"-I{proto_dir}", f"-I{wellknown}",
                      f"--python_out={out}", f"--grpc_python_out={out}",
                      "cri.proto"])
    if rc != 0:
        sys.exit(f"bench: protoc failed on {proto_dir}/cri.proto")
    sys.path.insert(0, str(out))
    import cri_pb2
    import cri_pb2_grpc
    return cri_pb2, cri_pb2_grpc


def rss_kib(pid):
    """VmRSS of pid in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def accepting(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Bench:
    def __init__(self, work, cri, cri_grpc):
        from pods import import_test_image, write_bridge_conflist
        from test_restart import HeldDaemon
        self.cri, self.cri_grpc = cri, cri_grpc
        self.work = work
        self.d = HeldDaemon(work / "d", test_service=False)
        self.d.write_config(log_level="info")
        self.d.cni_state = work / "cni-state"
        write_bridge_conflist(self.d.cni_dir, self.d.cni_state,
                              subnet="10.245.0.0/16", bridge="ocidbench0",
                              name="ocid-bench")
        import_test_image(self.d, work)
        self.cgroup_parent = f"/ocid-bench-{secrets.token_hex(4)}"
        self.pods = []
        self.d.hold()

    def stub(self):
        return self.cri_grpc.RuntimeServiceStub(self.d.channel())

    def start(self):
        """Starts the daemon; returns seconds from the spawn until it accepts
        on its socket and ListPodSandbox answers with every pod (restore
        runs before the socket listens)."""
        import grpc
        cri, d = self.cri, self.d
        d.close_channels()
        t0 = time.monotonic()
        d.spawn()
        while True:
            if d.proc.poll() is not None:
                sys.exit(f"bench: ocid exited with {d.proc.returncode}; log in {d.log_path}")
            if accepting(d.sock):
                try:
                    items = self.stub().ListPodSandbox(cri.ListPodSandboxRequest(),
                                                       timeout=30).items
                    if len(items) == len(self.pods):
                        break
                    sys.exit(f"bench: {len(items)} pods listed after the start, "
                             f"{len(self.pods)} expected; log in {d.log_path}")
                except grpc.RpcError:
                    d.close_channels()
            if time.monotonic() - t0 > 120:
                sys.exit(f"bench: ocid not ready after 120 s; log in {d.log_path}")
            time.sleep(0.002)
        took = time.monotonic() - t0
        ctrs = self.stub().ListContainers(cri.ListContainersRequest(), timeout=30).containers
        running = sum(1 for c in ctrs if c.state == cri.CONTAINER_RUNNING)
        if running != len(self.pods):
            sys.exit(f"bench: {running} containers running after the start, "
                     f"{len(self.pods)} expected; log in {d.log_path}")
        return took

    def stop(self):
        rc = self.d.stop()
        if rc != 0:
            sys.exit(f"bench: ocid exited with {rc} on SIGTERM; log in {self.d.log_path}")

    def add_pods(self, n):
        """Adds pods of one running `sleep` container each until there are n."""
        from pods import TEST_IMAGE, pod_config
        cri = self.cri

        def one(i):
            rt = self.stub()
            # pod_config wants the generated modules as `.cri`: self has it.
            cfg = pod_config(self, f"bench-{i}", uid=f"uid-bench-{i}")
            cfg.linux.cgroup_parent = self.cgroup_parent
            pid = rt.RunPodSandbox(cri.RunPodSandboxRequest(config=cfg),
                                   timeout=120).pod_sandbox_id
            c = cri.ContainerConfig(metadata=cri.ContainerMetadata(name="sleeper"),
                                    image=cri.ImageSpec(image=TEST_IMAGE),
                                    command=["sleep", "3600"], log_path="sleeper.log")
            cid = rt.CreateContainer(cri.CreateContainerRequest(
                pod_sandbox_id=pid, config=c, sandbox_config=cfg), timeout=120).container_id
            rt.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=120)
            return pid

        with ThreadPoolExecutor(4) as pool:
            self.pods += pool.map(one, range(len(self.pods), n))

    def remove_all(self):
        rt = self.stub()
        cri = self.cri
        for p in rt.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=30).items:
            rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=p.id), timeout=120)
            rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=p.id), timeout=120)
        self.pods = []

    def release(self):
        self.d.release()
        top = Path("/sys/fs/cgroup")
        for c in top.iterdir():
            g = c / self.cgroup_parent.lstrip("/")
            if g.is_dir():
                for sub in sorted(g.glob("**/"), key=lambda p: -len(p.parts)):
                    try:
                        sub.rmdir()
                    except OSError:
                        pass


def main():
    a = parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (pods need namespaces, mounts and a bridge)")
    if not os.access(a.ocid, os.X_OK):
        sys.exit(f"bench: no ocid binary at {a.ocid} (build first, or --ocid)")
    for tool in ("/usr/bin/conmon", "/usr/lib/cni/bridge"):
        if not os.path.exists(tool):
            sys.exit(f"bench: {tool} is missing (scripts/deps installs it)")
    os.environ["OCID_BIN"] = a.ocid
    os.environ["OCID_MODULE_DIR"] = a.module_dir or str(
        Path(a.ocid).parent / "modules" / ".libs")
    points = sorted({0, min(10, a.pods), a.pods})

    work = Path(a.workdir or tempfile.mkdtemp(prefix="ocid-bench-restart-", dir="/var/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    b = None
    rows = []
    try:
        cri, cri_grpc = stubs(work)
        b = Bench(work, cri, cri_grpc)
        print(f"ocid: {a.ocid}; work directory {work}; {a.restarts} restarts per point "
              f"(SIGTERM, then timed start)", flush=True)
        b.start()
        for n in points:
            t0 = time.monotonic()
            b.add_pods(n)
            if n:
                print(f"{n} pods with a running container each "
                      f"(made in {time.monotonic() - t0:.1f} s)", flush=True)
            times, rss = [], []
            for _ in range(a.restarts):
                b.stop()
                times.append(b.start())
                rss.append(rss_kib(b.d.proc.pid))
            rows.append((n, times, rss))
            print(f"  start to ready: {' '.join(f'{t * 1000:.0f}' for t in times)} ms; "
                  f"RSS {' '.join(str(r) for r in rss)} KiB", flush=True)
        b.remove_all()
        b.stop()
    finally:
        if b is not None:
            if b.d.alive():
                try:
                    b.remove_all()
                except Exception as e:   # the table matters less than the cleanup
                    print(f"bench: removing the pods failed: {e}", file=sys.stderr)
                b.d.stop()
            b.release()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"{'pods':>5} {'containers':>10} {'start to ready, median':>23} "
          f"{'min':>8} {'max':>8} {'RSS after start':>16}")
    for n, times, rss in rows:
        print(f"{n:>5} {n:>10} {statistics.median(times) * 1000:>20.0f} ms "
              f"{min(times) * 1000:>5.0f} ms {max(times) * 1000:>5.0f} ms "
              f"{statistics.median(rss) / 1024:>12.1f} MiB")


if __name__ == "__main__":
    main()
