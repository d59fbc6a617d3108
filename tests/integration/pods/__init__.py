# SPDX-License-Identifier: Apache-2.0
"""Pod helpers for the integration suite: a daemon in network and mount
namespaces of its own (so that CNI bridges, addresses and pinned namespaces
never touch the host), CNI configurations on a private bridge, and pod
configs shaped as the kubelet sends them."""

import json
import os
import subprocess
from pathlib import Path

from images import builder
from ocid_it import Daemon, daemon_env, run_ocid, OCID_BIN

TEST_IMAGE = "localhost/ocid-test/busybox:latest"
PAUSE_BIN = os.environ.get("OCID_PAUSE_BINARY",
                           str(Path(OCID_BIN).parent / "core" / "pause" / "ocid-pause"))

CNI_BIN_DIR = "/usr/lib/cni"


class PodDaemon(Daemon):
    # For crun on a hybrid cgroup host: unmount /sys/fs/cgroup/unified in
    # the daemon's private mount namespace (crun would otherwise take the
    # host for cgroup v2).
    hide_unified = False

    """A Daemon started under `unshare -n -m`: its own network namespace
    (loopback up) and a private mount namespace. Every mount it makes
    (pinned namespaces, /dev/shm tmpfs) dies with it; the test reads them in
    /proc/<pid>/mountinfo. The CRI socket is a unix socket on the shared
    file system, reachable from the test's namespace."""

    def spawn(self, *extra_args):
        assert not self.alive(), "daemon already running"
        log = open(self.log_path, "ab")
        script = 'ip link set lo up && exec "$@"'
        if self.hide_unified:
            script = "umount /sys/fs/cgroup/unified 2>/dev/null; " + script
        env = daemon_env(self.test_service)
        # The infra containers' ocid-pause, from the build tree.
        env.setdefault("OCID_PAUSE_BINARY", PAUSE_BIN)
        try:
            self.proc = subprocess.Popen(
                ["unshare", "-n", "-m", "--propagation", "private",
                 "sh", "-c", script, "sh",
                 OCID_BIN, "--config", str(self.conf), *extra_args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        finally:
            log.close()
        return self

    def mounts(self):
        """Mount points of the daemon's mount namespace."""
        out = []
        with open(f"/proc/{self.proc.pid}/mountinfo") as f:
            for line in f:
                out.append(line.split()[4])
        return out

    def mounts_under(self, path):
        p = str(path).rstrip("/") + "/"
        return [m for m in self.mounts() if m.startswith(p)]

    def nsenter(self, *cmd, **kw):
        """Runs cmd in the daemon's network namespace."""
        return subprocess.run(["nsenter", "-t", str(self.proc.pid), "-n", *cmd],
                              capture_output=True, text=True, timeout=30, **kw)


    def pod_exec(self, pod_id, *cmd):
        """Runs cmd in a pod's pinned network namespace (the pins are
        mounts of the daemon's mount namespace, entered first)."""
        netns = Path(self.runroot) / "pods" / pod_id / "ns" / "net"
        return subprocess.run(["nsenter", "-t", str(self.proc.pid), "-m", "--",
                               "nsenter", f"--net={netns}", *cmd],
                              capture_output=True, text=True, timeout=30)


def write_bridge_conflist(cni_dir, state_dir, subnet="10.244.7.0/24",
                          bridge="ocidtest0", fail=False, name="ocid-test"):
    """A CNI conflist for a private bridge with host-local IPAM whose
    allocations live under state_dir. fail=True appends a plugin that does
    not exist, so ADD fails after the bridge plugin succeeded (the module
    must undo it)."""
    plugins = [{
        "type": "bridge",
        "bridge": bridge,
        "isGateway": True,
        "ipMasq": False,
        "ipam": {
            "type": "host-local",
            "dataDir": str(Path(state_dir) / "ipam"),
            "ranges": [[{"subnet": subnet}]],
        },
    }]
    if fail:
        plugins.append({"type": "ocid-no-such-plugin"})
    conf = {"cniVersion": "1.0.0", "name": name, "plugins": plugins}
    path = Path(cni_dir) / "10-ocid-test.conflist"
    path.write_text(json.dumps(conf))
    return path


def pod_config(pb, name, namespace="default", uid=None, attempt=0,
               host_network=False, labels=None, annotations=None,
               sysctls=None, hostname=None, log_directory=None, shared_pid=False):
    cri = pb.cri
    uid = uid or f"uid-{name}"
    ns = cri.NamespaceOption(
        network=cri.NODE if host_network else cri.POD,
        pid=cri.POD if shared_pid else cri.CONTAINER, ipc=cri.POD)
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, namespace=namespace,
                                        uid=uid, attempt=attempt),
        hostname=hostname if hostname is not None else name,
        log_directory=log_directory or "",
        labels=labels or {},
        annotations=annotations or {},
        linux=cri.LinuxPodSandboxConfig(
            cgroup_parent="/ocid-test",
            sysctls=sysctls or {},
            security_context=cri.LinuxSandboxSecurityContext(namespace_options=ns)),
    )


def ipam_allocations(state_dir):
    """Addresses host-local holds: one file per address."""
    d = Path(state_dir) / "ipam"
    if not d.exists():
        return []
    return sorted(p.name for p in d.rglob("*")
                  if p.is_file() and p.name[0].isdigit())


def import_test_image(daemon, tmp, name=TEST_IMAGE):
    """Imports a one-layer busybox image (Debian's static busybox) into the
    daemon's store with `ocid image import`; returns the Image."""
    img = builder.Image([builder.Layer(builder.busybox_base_entries(), "gzip")],
                        env=["PATH=/bin"], cmd=["sh", "-c", "echo hello"])
    layout = Path(tmp) / "layout"
    builder.write_oci_layout(layout, img)
    r = run_ocid("--config", daemon.conf, "image", "import", layout,
                 "--name", name, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return img


def remove_all_pods(daemon):
    """Removes every pod (and so every container) the daemon still has, so
    that a failed test leaves no container running after the daemon."""
    import grpc
    import cri_pb2
    import cri_pb2_grpc
    try:
        rt = cri_pb2_grpc.RuntimeServiceStub(daemon.channel())
        for p in rt.ListPodSandbox(cri_pb2.ListPodSandboxRequest(), timeout=30).items:
            rt.RemovePodSandbox(cri_pb2.RemovePodSandboxRequest(pod_sandbox_id=p.id), timeout=120)
    except grpc.RpcError:
        pass


class NetnsForwarder:
    """Forwards TCP connections made to 127.0.0.1:<port> inside a process's
    network namespace to 127.0.0.1:<port> of the test's own namespace (a
    registry on the host's loopback), so that a daemon in a network
    namespace of its own can pull. A thread enters the namespace with
    setns(2) (per thread) only to create the listening socket."""

    def __init__(self, pid, port):
        import ctypes
        import socket
        import threading
        libc = ctypes.CDLL(None, use_errno=True)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        theirs = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        self.port = port
        self.closed = False
        result = {}

        def make_listener():
            try:
                if libc.setns(theirs, 0x40000000) != 0:  # CLONE_NEWNET
                    raise OSError(ctypes.get_errno(), "setns")
                try:
                    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    ls.bind(("127.0.0.1", port))
                    ls.listen(64)
                    result["sock"] = ls
                finally:
                    if libc.setns(own, 0x40000000) != 0:
                        raise OSError(ctypes.get_errno(), "setns back")
            except OSError as e:
                result["error"] = e

        t = threading.Thread(target=make_listener)
        t.start()
        t.join()
        os.close(own)
        os.close(theirs)
        if "error" in result:
            raise result["error"]
        self.sock = result["sock"]
        threading.Thread(target=self._serve, daemon=True).start()

    def _pump(self, a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(2)
                except OSError:
                    pass

    def _serve(self):
        import socket
        import threading
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            threading.Thread(target=self._pump, args=(c, u), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c), daemon=True).start()

    def close(self):
        self.closed = True
        self.sock.close()
