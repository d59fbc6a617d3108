#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Lifecycle benchmark: ocid's pod and container calls against the floor
under them (the OCI runtime's own commands, the CNI plugins run directly),
in one run. See bench/README.md.

Run as root from the source tree after a build:
    /usr/bin/python3 bench/lifecycle.py [--iterations 30] [--runtime runc]
"""

import argparse
import ctypes
import json
import math
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

SRCDIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SRCDIR / "tests" / "integration"))

from images import builder  # noqa: E402
from images.storage import write_dropin  # noqa: E402

CNI_BIN_DIR = "/usr/lib/cni"
CONMON = "/usr/bin/conmon"
RUNTIMES = {"runc": "/usr/sbin/runc", "crun": "/usr/bin/crun"}
# Set in the environment of the copy of this script that runs in its own
# network and mount namespaces (see enter_namespaces()).
INNER_ENV = "OCID_BENCH_LIFECYCLE_INNER"
MNT_DETACH = 2
NS_SUBNET_OCID = "10.250.1.0/24"
NS_SUBNET_FLOOR = "10.250.2.0/24"

libc = ctypes.CDLL(None, use_errno=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--iterations", type=int, default=30,
                   help="timed iterations of each sequence (default 30)")
    p.add_argument("--warmup", type=int, default=2,
                   help="untimed iterations first (default 2)")
    p.add_argument("--runtime", default="runc", choices=sorted(RUNTIMES),
                   help="the runtime handler and the floor's OCI runtime "
                        "(default runc)")
    p.add_argument("--storage", default="storage-overlay",
                   choices=["storage-overlay", "storage-vfs"],
                   help="ocid's storage module (default storage-overlay)")
    p.add_argument("--log-level", default="info",
                   help="ocid's log_level (default info; debug costs time)")
    p.add_argument("--ocid", default=os.environ.get(
        "OCID_BIN", str(SRCDIR / "_build" / "ocid")), help="the ocid binary")
    p.add_argument("--module-dir", default=os.environ.get("OCID_MODULE_DIR"),
                   help="ocid's modules (default: next to --ocid)")
    p.add_argument("--workdir", default=None,
                   help="where the daemon's root, the bundle and the CNI "
                        "state go (default: a new directory under /var/tmp)")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory")
    a = p.parse_args()
    if a.iterations < 1 or a.warmup < 0:
        p.error("--iterations must be at least 1 and --warmup at least 0")
    return a


def die(msg):
    sys.exit(f"bench: {msg}")


# --- namespaces ---------------------------------------------------------------

def enter_namespaces(a):
    """Re-executes this script in a network namespace of its own (so that
    the floor's CNI bridge never touches the host's network) and a private
    mount namespace (for the floor's pinned network namespaces, and for
    crun with /sys/fs/cgroup/unified unmounted, as the suite runs it).
    Both end with the process."""
    if os.environ.get(INNER_ENV):
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        if a.runtime == "crun" and os.path.ismount("/sys/fs/cgroup/unified"):
            # A hybrid host: crun would take cgroup v2 for the host's.
            if libc.umount2(b"/sys/fs/cgroup/unified", MNT_DETACH) != 0:
                die("cannot unmount /sys/fs/cgroup/unified: "
                    f"{os.strerror(ctypes.get_errno())}")
        return
    env = dict(os.environ, **{INNER_ENV: "1"})
    os.execvpe("unshare", ["unshare", "-n", "-m", "--propagation", "private",
                           sys.executable, str(Path(__file__).resolve()),
                           *sys.argv[1:]], env)


class Netns:
    """A network namespace pinned by a bind mount on a file (what a CRI
    runtime's pinning does), for one floor iteration."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.touch()
        subprocess.run(["unshare", f"--net={self.path}", "true"], check=True)

    def close(self):
        if libc.umount2(str(self.path).encode(), MNT_DETACH) != 0:
            err = ctypes.get_errno()
            if err != 22:   # EINVAL: not mounted (already closed)
                print(f"bench: unmounting {self.path}: {os.strerror(err)}",
                      file=sys.stderr)
        self.path.unlink(missing_ok=True)


# --- the CNI floor: the plugin chains run as libcni runs them -------------------

def cni_lists(conflist):
    """What a pod gets: "lo" up through the loopback plugin, then eth0 on
    the network of the conflist (net-cni does the same two chains)."""
    lo = {"cniVersion": conflist["cniVersion"], "name": "cni-loopback",
          "plugins": [{"type": "loopback"}]}
    return [(lo, "lo"), (conflist, "eth0")]


class CniRunner:
    def __init__(self, lists, bin_dir):
        self.lists = lists
        self.bin_dir = bin_dir

    def _exec(self, cmd, plugin, lst, ifname, cid, netns, args, prev):
        conf = dict(plugin)
        conf["name"] = lst["name"]
        conf["cniVersion"] = lst["cniVersion"]
        if prev is not None:
            conf["prevResult"] = prev
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
               "CNI_COMMAND": cmd, "CNI_CONTAINERID": cid,
               "CNI_NETNS": str(netns), "CNI_IFNAME": ifname,
               "CNI_ARGS": args, "CNI_PATH": self.bin_dir}
        r = subprocess.run([os.path.join(self.bin_dir, plugin["type"])],
                           input=json.dumps(conf).encode(), env=env,
                           capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"CNI {cmd} of {plugin['type']} failed "
                               f"({r.returncode}): {r.stdout!r} {r.stderr!r}")
        return json.loads(r.stdout) if cmd == "ADD" else None

    def add(self, cid, netns, args):
        """Every list in order, every plugin of a list in order with the
        previous one's result; returns the results for del()."""
        results = []
        for lst, ifname in self.lists:
            prev = None
            for plugin in lst["plugins"]:
                prev = self._exec("ADD", plugin, lst, ifname, cid, netns,
                                  args, prev)
            results.append(prev)
        return results

    def delete(self, cid, netns, args, results):
        """The lists in reverse order, each list's plugins in reverse order,
        given the ADD result (CNI 0.4.0 and later)."""
        for (lst, ifname), res in reversed(list(zip(self.lists, results))):
            for plugin in reversed(lst["plugins"]):
                self._exec("DEL", plugin, lst, ifname, cid, netns, args, res)


def bridge_conflist(bridge, subnet, state_dir):
    """The conflist the daemon and the floor both use (each its own bridge
    name, subnet and host-local state)."""
    return {"cniVersion": "1.0.0", "name": "ocid-bench", "plugins": [{
        "type": "bridge", "bridge": bridge, "isGateway": True,
        "ipMasq": False,
        "ipam": {"type": "host-local",
                 "dataDir": str(Path(state_dir) / "ipam"),
                 "ranges": [[{"subnet": subnet}]]}}]}


def pod_cni_args(name, namespace, uid, pod_id):
    return (f"IgnoreUnknown=1;K8S_POD_NAMESPACE={namespace};"
            f"K8S_POD_NAME={name};K8S_POD_INFRA_CONTAINER_ID={pod_id};"
            f"K8S_POD_UID={uid}")


# --- the OCI runtime floor ------------------------------------------------------

class Runtime:
    """The OCI runtime binary on a state root of its own."""

    def __init__(self, name, state_root):
        self.bin = RUNTIMES[name]
        self.root = str(state_root)

    def run(self, *args, **kw):
        kw.setdefault("capture_output", True)
        r = subprocess.run([self.bin, "--root", self.root, *args], **kw)
        if r.returncode != 0:
            raise RuntimeError(f"{Path(self.bin).name} {' '.join(args)} "
                               f"failed ({r.returncode}): {r.stderr!r}")
        return r

    def ids(self):
        r = subprocess.run([self.bin, "--root", self.root, "list", "-q"],
                           capture_output=True, text=True)
        return r.stdout.split() if r.returncode == 0 else []


def make_bundle(bundle, runtime_name):
    """A bundle made by `<runtime> spec` on the busybox root file system of
    the image ocid runs (the builder's busybox base layer, unpacked)."""
    rootfs = bundle / "rootfs"
    rootfs.mkdir(parents=True)
    tar = builder.make_tar(builder.busybox_base_entries())
    tar_path = bundle / "rootfs.tar"
    tar_path.write_bytes(tar)
    with tarfile.open(tar_path) as t:
        t.extractall(rootfs, numeric_owner=True)
    tar_path.unlink()
    subprocess.run([RUNTIMES[runtime_name], "spec", "--bundle", str(bundle)],
                   check=True, capture_output=True)
    return json.loads((bundle / "config.json").read_text())


def write_spec(bundle, spec, netns, cgroup):
    """The spec of one floor container: `sleep` as PID 1, no terminal, a
    writable root, the pod's pinned network namespace joined (as ocid's
    containers join their pod's), a cgroup under the benchmark's parent."""
    s = json.loads(json.dumps(spec))
    s["process"]["terminal"] = False
    s["process"]["args"] = ["sleep", "100000"]
    s["process"]["env"] = ["PATH=/bin"]
    s["root"]["readonly"] = False
    s["linux"]["cgroupsPath"] = cgroup
    for ns in s["linux"]["namespaces"]:
        if ns["type"] == "network":
            ns["path"] = str(netns)
    (bundle / "config.json").write_text(json.dumps(s))


def wait_exit(pid, timeout=30):
    """Waits for a process that is not our child to exit (a pidfd turns
    readable at its exit)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if not select.select([fd], [], [], timeout)[0]:
            raise RuntimeError(f"process {pid} still runs {timeout} s after "
                               "SIGKILL")
    finally:
        os.close(fd)


# --- ocid ------------------------------------------------------------------------

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
        die(f"protoc failed on {proto_dir}/cri.proto")
    sys.path.insert(0, str(out))
    import cri_pb2
    import cri_pb2_grpc
    return cri_pb2, cri_pb2_grpc


def bench_daemon_class():
    """pods.PodDaemon (the suite's daemon in network and mount namespaces
    of its own), started in a session of its own so that a Ctrl-C meant
    for the benchmark does not stop it before the clean-up."""
    from ocid_it import OCID_BIN, daemon_env
    from pods import PAUSE_BIN, PodDaemon

    class BenchDaemon(PodDaemon):
        def spawn(self, *extra_args):
            assert not self.alive(), "daemon already running"
            script = 'ip link set lo up && exec "$@"'
            if self.hide_unified:
                script = "umount /sys/fs/cgroup/unified 2>/dev/null; " + script
            env = daemon_env(False)
            env.setdefault("OCID_PAUSE_BINARY", PAUSE_BIN)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    ["unshare", "-n", "-m", "--propagation", "private",
                     "sh", "-c", script, "sh",
                     OCID_BIN, "--config", str(self.conf), *extra_args],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                    start_new_session=True)
            return self

    return BenchDaemon


def pod_config(cri, i, cgroup_parent, logdir):
    name, namespace, uid = f"bench-{i}", "bench", f"bench-uid-{i}"
    ns = cri.NamespaceOption(network=cri.POD, pid=cri.CONTAINER, ipc=cri.POD)
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, namespace=namespace,
                                        uid=uid, attempt=0),
        hostname=name, log_directory=str(logdir),
        linux=cri.LinuxPodSandboxConfig(
            cgroup_parent=cgroup_parent,
            security_context=cri.LinuxSandboxSecurityContext(
                namespace_options=ns)))


# --- the two sequences -------------------------------------------------------------

OPS = [
    # (ocid's calls, the floor's commands)
    ("RunPodSandbox", "CNI ADD (lo + eth0)"),
    ("CreateContainer+StartContainer", "{rt} create+start"),
    ("ExecSync true", "{rt} exec true"),
    ("StopContainer+RemoveContainer", "{rt} kill+delete"),
    ("StopPodSandbox+RemovePodSandbox", "CNI DEL (eth0 + lo)"),
]


class Bench:
    def __init__(self, a, work):
        self.a = a
        self.work = work
        self.cgroup_parent = f"/ocid-bench-{os.getpid()}"
        self.ocid = {op: [] for op, _ in OPS}
        self.floor = {op: [] for op, _ in OPS}
        self.rpc = []
        self.daemon = None
        self.rt = None
        self.pins = []
        self.runtime = Runtime(a.runtime, work / "floor-state")
        self.seq = 0

    # --- set-up ------------------------------------------------------------
    def setup(self):
        a, work = self.a, self.work
        self.cri, cri_grpc = stubs(work)
        Daemon = bench_daemon_class()
        from pods import TEST_IMAGE, import_test_image
        self.image = TEST_IMAGE
        d = Daemon(work / "ocid", test_service=False)
        d.hide_unified = a.runtime == "crun"
        d.write_config(log_level=a.log_level)
        write_dropin(d, a.storage)
        cni = bridge_conflist("ocidbench0", NS_SUBNET_OCID, work / "ocid-cni")
        (d.cni_dir / "10-ocid-bench.conflist").write_text(json.dumps(cni))
        t0 = time.monotonic()
        import_test_image(d, work / "image")
        print(f"image: {TEST_IMAGE} imported in "
              f"{time.monotonic() - t0:.2f} s (busybox, one layer)")
        self.daemon = d
        d.start()
        self.rt = cri_grpc.RuntimeServiceStub(d.channel())

        floor_cni = bridge_conflist("floorbench0", NS_SUBNET_FLOOR,
                                    work / "floor-cni")
        self.cni = CniRunner(cni_lists(floor_cni), CNI_BIN_DIR)
        (work / "floor-state").mkdir()
        (work / "netns").mkdir()
        self.bundle = work / "bundle"
        self.spec = make_bundle(self.bundle, a.runtime)

    # --- one iteration of each -----------------------------------------------
    def ocid_once(self, i, record):
        cri, rt = self.cri, self.rt
        cfg = pod_config(cri, i, self.cgroup_parent, self.work / "logs" / str(i))
        t = {}
        t0 = time.perf_counter()
        rt.Version(cri.VersionRequest(), timeout=30)
        rpc = time.perf_counter() - t0

        t0 = time.perf_counter()
        pod = rt.RunPodSandbox(cri.RunPodSandboxRequest(
            config=cfg, runtime_handler=self.a.runtime),
            timeout=120).pod_sandbox_id
        t["RunPodSandbox"] = time.perf_counter() - t0

        ccfg = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name="c"),
            image=cri.ImageSpec(image=self.image),
            command=["sleep", "100000"], log_path="c.log")
        t0 = time.perf_counter()
        cid = rt.CreateContainer(cri.CreateContainerRequest(
            pod_sandbox_id=pod, config=ccfg, sandbox_config=cfg),
            timeout=120).container_id
        rt.StartContainer(cri.StartContainerRequest(container_id=cid),
                          timeout=120)
        t["CreateContainer+StartContainer"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        r = rt.ExecSync(cri.ExecSyncRequest(container_id=cid, cmd=["true"],
                                            timeout=30), timeout=60)
        t["ExecSync true"] = time.perf_counter() - t0
        if r.exit_code != 0:
            raise RuntimeError(f"ExecSync true exited with {r.exit_code}: "
                               f"{r.stderr!r}")

        # sleep as PID 1 ignores SIGTERM: timeout 0 kills at once, as the
        # floor does.
        t0 = time.perf_counter()
        rt.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=0),
                         timeout=120)
        rt.RemoveContainer(cri.RemoveContainerRequest(container_id=cid),
                           timeout=120)
        t["StopContainer+RemoveContainer"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod),
                          timeout=120)
        rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod),
                            timeout=120)
        t["StopPodSandbox+RemovePodSandbox"] = time.perf_counter() - t0
        if record:
            self.rpc.append(rpc)
            for k, v in t.items():
                self.ocid[k].append(v)

    def floor_once(self, i, record):
        self.seq += 1
        cid = f"ocid-bench-floor-{os.getpid()}-{self.seq}"
        ns = Netns(self.work / "netns" / cid)
        self.pins.append(ns)
        args = pod_cni_args(f"bench-{i}", "bench", f"bench-uid-{i}", cid)
        t = {}
        try:
            t0 = time.perf_counter()
            results = self.cni.add(cid, ns.path, args)
            t["RunPodSandbox"] = time.perf_counter() - t0

            write_spec(self.bundle, self.spec, ns.path,
                       f"{self.cgroup_parent}/{cid}")
            pidfile = self.work / "floor-state" / f"{cid}.pid"
            t0 = time.perf_counter()
            self.runtime.run("create", "--bundle", str(self.bundle),
                             "--pid-file", str(pidfile), cid,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, capture_output=False)
            self.runtime.run("start", cid)
            t["CreateContainer+StartContainer"] = time.perf_counter() - t0
            pid = int(pidfile.read_text())
            pidfile.unlink()

            t0 = time.perf_counter()
            self.runtime.run("exec", cid, "true")
            t["ExecSync true"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            self.runtime.run("kill", cid, "KILL")
            wait_exit(pid)
            self.runtime.run("delete", cid)
            t["StopContainer+RemoveContainer"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            self.cni.delete(cid, ns.path, args, results)
            t["StopPodSandbox+RemovePodSandbox"] = time.perf_counter() - t0
        finally:
            ns.close()
            self.pins.remove(ns)
        if record:
            for k, v in t.items():
                self.floor[k].append(v)

    def run(self):
        a = self.a
        print(f"runtime: {a.runtime} ({RUNTIMES[a.runtime]}); storage: "
              f"{a.storage}; {a.warmup} warm-up + {a.iterations} timed "
              "iterations, ocid and floor alternating", flush=True)
        for i in range(a.warmup + a.iterations):
            record = i >= a.warmup
            # Alternate which goes first, so that neither always finds the
            # other's leftovers (page cache, dying network namespaces).
            if i % 2 == 0:
                self.ocid_once(i, record)
                self.floor_once(i, record)
            else:
                self.floor_once(i, record)
                self.ocid_once(i, record)
            if record and (i - a.warmup + 1) % 10 == 0:
                print(f"  {i - a.warmup + 1} iterations", flush=True)

    # --- clean-up ------------------------------------------------------------
    def cleanup(self):
        if self.daemon is not None and self.daemon.alive():
            from pods import remove_all_pods
            remove_all_pods(self.daemon)
            rc = self.daemon.stop()
            if rc != 0:
                print(f"bench: ocid exited with {rc}; log in "
                      f"{self.daemon.log_path}", file=sys.stderr)
        if (self.work / "floor-state").exists():
            for cid in self.runtime.ids():
                subprocess.run([self.runtime.bin, "--root", self.runtime.root,
                                "delete", "--force", cid],
                               capture_output=True)
        for ns in list(self.pins):
            ns.close()
        remove_cgroups(self.cgroup_parent)


def remove_cgroups(parent):
    """rmdir of what is left of the benchmark's cgroup parent in every
    hierarchy (empty directories only, deepest first)."""
    top = Path("/sys/fs/cgroup")
    for h in [top] + [p for p in top.iterdir() if p.is_dir()]:
        d = h / parent.lstrip("/")
        if not d.is_dir() or d.is_symlink():
            continue
        for dirpath, _, _ in sorted(os.walk(d), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


# --- report ------------------------------------------------------------------

def p90(xs):
    """Nearest-rank 90th percentile."""
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def report(b, rt_name):
    ms = 1000.0
    w = 33
    print()
    print(f"{'ocid call':<{w}} {'median':>8} {'p90':>8}   "
          f"{'floor':<{22}} {'median':>8} {'p90':>8}   {'ratio':>6} "
          f"{'overhead':>9}")
    for op, floor_name in OPS:
        o, f = b.ocid[op], b.floor[op]
        om, fm = statistics.median(o), statistics.median(f)
        print(f"{op:<{w}} {om * ms:7.1f}ms {p90(o) * ms:6.1f}ms   "
              f"{floor_name.format(rt=rt_name):<{22}} {fm * ms:6.1f}ms "
              f"{p90(f) * ms:6.1f}ms   {om / fm:6.2f} {(om - fm) * ms:7.1f}ms")
    print(f"{'(Version, a gRPC round trip)':<{w}} "
          f"{statistics.median(b.rpc) * ms:7.1f}ms {p90(b.rpc) * ms:6.1f}ms")
    print("ratio = ocid median / floor median; overhead = the difference of "
          "the medians")


def main():
    a = parse_args()
    if os.geteuid() != 0:
        die("run as root (it runs a daemon, containers and CNI plugins)")
    if not os.access(a.ocid, os.X_OK):
        die(f"no ocid binary at {a.ocid} (build first, or --ocid)")
    for need in (RUNTIMES[a.runtime], CONMON, f"{CNI_BIN_DIR}/bridge",
                 f"{CNI_BIN_DIR}/host-local", f"{CNI_BIN_DIR}/loopback"):
        if not os.access(need, os.X_OK):
            die(f"{need} is missing (scripts/deps installs it)")
    os.environ["OCID_BIN"] = str(Path(a.ocid).resolve())
    os.environ["OCID_MODULE_DIR"] = a.module_dir or str(
        Path(a.ocid).resolve().parent / "modules" / ".libs")
    enter_namespaces(a)

    work = Path(a.workdir or tempfile.mkdtemp(prefix="ocid-bench-lifecycle-",
                                              dir="/var/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    b = Bench(a, work)

    def on_term(signum, frame):
        raise KeyboardInterrupt
    # Ctrl-C and SIGTERM end the run with the clean-up, even when started
    # from a shell that made SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_term)
    failed = None
    try:
        b.setup()
        b.run()
    except KeyboardInterrupt:
        failed = "interrupted"
    except Exception as e:  # noqa: BLE001 (reported, then cleaned up)
        failed = f"{type(e).__name__}: {e}"
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if failed:
            print(f"bench: {failed}; cleaning up", file=sys.stderr)
            if b.daemon is not None and failed != "interrupted":
                print(f"bench: the last lines of ocid's log "
                      f"({b.daemon.log_path}):\n{b.daemon.log_tail(40)}",
                      file=sys.stderr)
        b.cleanup()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}")
    if failed:
        sys.exit(1)
    report(b, a.runtime)


if __name__ == "__main__":
    main()
