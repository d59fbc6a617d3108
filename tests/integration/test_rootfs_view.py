# SPDX-License-Identifier: Apache-2.0
"""A container's root file system, seen from inside through ExecSync, for
each storage module: the union of the image's layers with the whiteouts
and the opaque directory of busybox-test applied, and writes that stay in
the container (the image's layer directories do not change). Everything
goes through the CRI; the daemon runs in namespaces of its own
(pods.PodDaemon) with runc, and pulls from the session's registry through
a forwarder into its network namespace."""

import hashlib
import os
import stat
from pathlib import Path

import pytest

from images import builder
from images.storage import layer_tree, write_dropin
from pods import (remove_all_pods, CNI_BIN_DIR, NetnsForwarder, PodDaemon,
                  pod_config, write_bridge_conflist)

pytestmark = pytest.mark.skipif(
    not Path(CNI_BIN_DIR, "bridge").exists() or not Path("/usr/bin/conmon").exists(),
    reason="containernetworking-plugins or conmon are not installed")

HELLO = b"hello from the files layer\n"


@pytest.fixture
def view_daemon(tmp_path, storage_module, registry):
    d = PodDaemon(tmp_path / "d")
    d.cni_state = tmp_path / "cni-state"
    write_bridge_conflist(d.cni_dir, d.cni_state)
    write_dropin(d, storage_module)
    d.start()
    fwd = NetnsForwarder(d.proc.pid, registry.port)
    yield d
    fwd.close()
    if d.alive():
        remove_all_pods(d)
        rc = d.stop()
        assert rc == 0, f"ocid exited with {rc}; log:\n{d.log_tail()}"


def tree_state(top):
    """Everything a write could change in a layer directory, by path:
    type and mode, owner, size, modification and change times, device
    number, symlink target, file content digest and extended attributes."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for n in [""] + dirnames + filenames:
            p = os.path.join(dirpath, n) if n else dirpath
            st = os.lstat(p)
            what = [st.st_mode, st.st_uid, st.st_gid, st.st_nlink,
                    st.st_mtime_ns, st.st_ctime_ns, st.st_rdev]
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    what.append(hashlib.sha256(f.read()).hexdigest())
                what.append(st.st_size)
            elif stat.S_ISLNK(st.st_mode):
                what.append(os.readlink(p))
            try:
                names = os.listxattr(p, follow_symlinks=False)
            except OSError:
                names = []
            what.append(sorted((x, os.getxattr(p, x, follow_symlinks=False))
                               for x in names))
            out[os.path.relpath(p, top)] = what
    return out


def changes(before, after):
    """A short description of what differs between two tree_state()s."""
    gone = sorted(set(before) - set(after))
    new = sorted(set(after) - set(before))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return f"removed {gone[:10]}, added {new[:10]}, changed {changed[:10]}"


class Box:
    """One pod on runc and helpers for containers of one image in it."""

    def __init__(self, d, pb, tmp, image):
        self.cri = pb.cri
        self.rt = pb.cri_grpc.RuntimeServiceStub(d.channel())
        self.image = image
        self.cfg = pod_config(pb, "view", log_directory=str(Path(tmp) / "logs"))
        self.id = self.rt.RunPodSandbox(self.cri.RunPodSandboxRequest(
            config=self.cfg, runtime_handler="runc"), timeout=60).pod_sandbox_id

    def container(self, name):
        """A started container running as root (the image's user is 1000,
        who may not write in its root-owned directories)."""
        cri = self.cri
        cfg = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name=name),
            image=cri.ImageSpec(image=self.image),
            command=["sleep", "100000"], log_path=f"{name}.log",
            linux=cri.LinuxContainerConfig(
                security_context=cri.LinuxContainerSecurityContext(
                    run_as_user=cri.Int64Value(value=0))))
        cid = self.rt.CreateContainer(cri.CreateContainerRequest(
            pod_sandbox_id=self.id, config=cfg, sandbox_config=self.cfg),
            timeout=120).container_id
        self.rt.StartContainer(cri.StartContainerRequest(container_id=cid),
                               timeout=60)
        return cid

    def run(self, cid, *cmd):
        r = self.rt.ExecSync(self.cri.ExecSyncRequest(
            container_id=cid, cmd=list(cmd), timeout=30), timeout=60)
        return r.exit_code, r.stdout, r.stderr

    def out(self, cid, *cmd):
        """stdout of a command that must succeed."""
        rc, out, err = self.run(cid, *cmd)
        assert rc == 0, f"{cmd} exited with {rc}: {err!r}"
        return out

    def remove(self):
        self.rt.StopPodSandbox(self.cri.StopPodSandboxRequest(
            pod_sandbox_id=self.id), timeout=60)
        self.rt.RemovePodSandbox(self.cri.RemovePodSandboxRequest(
            pod_sandbox_id=self.id), timeout=60)


def lines(b):
    return b.decode().splitlines()


def test_container_root_is_the_union_of_the_layers(view_daemon, pb, registry,
                                                   image_set, storage_module,
                                                   tmp_path):
    d = view_daemon
    cri = pb.cri
    im = image_set.busybox
    name = f"{registry.host}/busybox-test:latest"
    images = pb.cri_grpc.ImageServiceStub(d.channel())
    images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=name)),
                     timeout=120)
    trees = [layer_tree(d, storage_module, c) for c in im.chain_ids]
    assert all(trees), f"missing layer directories: {trees}"
    before = [tree_state(t) for t in trees]

    box = Box(d, pb, tmp_path, name)
    cid = box.container("view")

    # Files of every layer: the busybox base, the files layer, the top
    # (whiteout) layer.
    assert box.out(cid, "cat", "/etc/passwd") == builder.PASSWD
    assert box.out(cid, "cat", "/data/hello.txt") == HELLO
    assert box.out(cid, "cat", "/data/added.txt") == b"added by the whiteout layer\n"
    assert box.out(cid, "cat", "/opt/opaque/new") == \
        b"the only file left in the opaque dir\n"
    # The hardlink and the symlink of the files layer, and its owner/mode.
    assert box.out(cid, "cat", "/data/hello-link.txt") == HELLO
    assert box.out(cid, "stat", "-c", "%i %h", "/data/hello-link.txt") == \
        box.out(cid, "stat", "-c", "%i %h", "/data/hello.txt"), (
        "data/hello-link.txt is no longer a hardlink of data/hello.txt")
    assert box.out(cid, "/bin/busybox", "readlink", "/data/hello-symlink") == b"hello.txt\n"
    assert box.out(cid, "cat", "/data/hello-symlink") == HELLO
    assert box.out(cid, "stat", "-c", "%u:%g %a", "/data/sub/owned.txt") == b"1000:1000 640\n"

    # The whiteout hides the lower file; the opaque directory shows only
    # the upper layer's entry; no whiteout marker is visible anywhere.
    assert lines(box.out(cid, "ls", "-1A", "/data")) == [
        "added.txt", "hello-link.txt", "hello-symlink", "hello.txt",
        "keep.txt", "sub"]
    rc, _, err = box.run(cid, "cat", "/data/todelete.txt")
    assert rc != 0 and b"No such file" in err, (rc, err)
    assert lines(box.out(cid, "ls", "-1A", "/opt/opaque")) == ["new"]
    rc, _, _ = box.run(cid, "test", "-e", "/opt/opaque/old1")
    assert rc == 1, "a file of the lower layer shows through the opaque dir"
    assert box.out(cid, "find", "/", "-xdev", "-name", ".wh.*") == b""
    # And the base layer's tree is all there.
    root = set(lines(box.out(cid, "ls", "-1A", "/")))
    assert {"bin", "etc", "root", "home", "tmp", "data", "opt"} <= root, root

    # Writes: change, remove and add files in every layer's part of the
    # tree, then check the container sees them.
    script = ("echo changed > /data/keep.txt && rm /data/hello.txt && "
              "rm /opt/opaque/new && echo n > /opt/opaque/new2 && "
              "chmod 600 /etc/passwd && chown 0:0 /data/sub/owned.txt && "
              "echo x > /bin/newfile && rm /bin/cat && mkdir /data/sub/d && "
              "echo y >> /data/hello-link.txt")
    assert box.out(cid, "sh", "-c", script) == b""
    assert box.out(cid, "/bin/busybox", "cat", "/data/keep.txt") == b"changed\n"
    assert box.out(cid, "/bin/busybox", "cat", "/data/hello-link.txt") == HELLO + b"y\n"
    assert lines(box.out(cid, "ls", "-1A", "/opt/opaque")) == ["new2"]
    assert box.out(cid, "stat", "-c", "%a", "/etc/passwd") == b"600\n"
    rc, _, _ = box.run(cid, "test", "-e", "/data/hello.txt")
    assert rc == 1

    # The image's layer directories did not change.
    for c, t, b in zip(im.chain_ids, trees, before):
        after = tree_state(t)
        assert after == b, f"layer {c} ({t}) changed: {changes(b, after)}"

    # A second container of the image sees the image, not the writes.
    other = box.container("fresh")
    assert box.out(other, "cat", "/data/keep.txt") == b"kept\n"
    assert box.out(other, "cat", "/data/hello.txt") == HELLO
    assert lines(box.out(other, "ls", "-1A", "/opt/opaque")) == ["new"]
    assert box.out(other, "stat", "-c", "%a", "/etc/passwd") == b"644\n"
    assert box.out(other, "stat", "-c", "%u:%g", "/data/sub/owned.txt") == b"1000:1000\n"
    rc, _, _ = box.run(other, "test", "-e", "/bin/newfile")
    assert rc == 1

    # Nor after the containers are gone.
    box.remove()
    for c, t, b in zip(im.chain_ids, trees, before):
        after = tree_state(t)
        assert after == b, f"layer {c} ({t}) changed: {changes(b, after)}"
