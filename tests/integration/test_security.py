# SPDX-License-Identifier: Apache-2.0
"""The security modules on real containers, with runc and with crun:
seccomp's RuntimeDefault blocks unshare and mount (EPERM) even with
CAP_SYS_ADMIN added, Unconfined lets them through, a Localhost profile in
Docker's format applies, a Localhost path with '..' is refused; and the
attacks of issue 6 that test_containers.py and test_pods.py do not already
cover: a sysctl value smuggling kernel.core_pattern, a log path leaving the
pod's log directory (absolute, or through a symlink), an image whose /etc
is a symlink to the host's, and an ExecSync flooding its output. The daemon
runs in namespaces of its own (pods.PodDaemon)."""

import hashlib
import json
import time
from pathlib import Path

import grpc
import pytest

from images import builder
from ocid_it import SRCDIR, run_ocid
from pods import (remove_all_pods, CNI_BIN_DIR, TEST_IMAGE, PodDaemon, import_test_image,
                  pod_config, write_bridge_conflist)

HANDLERS = ("runc", "crun")
PROFILE = SRCDIR / "etc" / "seccomp.json"

pytestmark = pytest.mark.skipif(
    not Path(CNI_BIN_DIR, "bridge").exists() or not Path("/usr/bin/conmon").exists(),
    reason="containernetworking-plugins or conmon are not installed")


@pytest.fixture(params=HANDLERS)
def handler(request):
    return request.param


@pytest.fixture
def sec_daemon(tmp_path, handler):
    d = PodDaemon(tmp_path / "d")
    d.hide_unified = handler == "crun"
    d.cni_state = tmp_path / "cni-state"
    write_bridge_conflist(d.cni_dir, d.cni_state)
    # The build tree's default profile (an installed ocid reads
    # <sysconfdir>/ocid/seccomp.json).
    dropins = d.dir / "crio.conf.d"
    dropins.mkdir(exist_ok=True)
    (dropins / "60-seccomp.conf").write_text(
        f'modules = {{ sec-seccomp = {{ default_profile = "{PROFILE}"; }}; }};\n')
    import_test_image(d, tmp_path)
    d.start()
    yield d
    if d.alive():
        remove_all_pods(d)
        rc = d.stop()
        assert rc == 0, f"ocid exited with {rc}; log:\n{d.log_tail()}"


@pytest.fixture
def rt(sec_daemon, pb):
    return pb.cri_grpc.RuntimeServiceStub(sec_daemon.channel(large=True))


class Pod:
    def __init__(self, rt, pb, handler, tmp, name="p", privileged=False, **kw):
        self.rt, self.pb = rt, pb
        self.logdir = Path(tmp) / "logs" / name
        self.cfg = pod_config(pb, name, log_directory=str(self.logdir), **kw)
        self.cfg.linux.security_context.privileged = privileged
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

    def run(self, name, command=("sleep", "1000"), **kw):
        cid = self.create(name, list(command), **kw)
        self.rt.StartContainer(self.pb.cri.StartContainerRequest(container_id=cid), timeout=60)
        return cid

    def exec(self, cid, cmd, timeout=20):
        return self.rt.ExecSync(self.pb.cri.ExecSyncRequest(
            container_id=cid, cmd=cmd, timeout=timeout), timeout=timeout + 30)

    def remove(self):
        self.rt.StopPodSandbox(self.pb.cri.StopPodSandboxRequest(pod_sandbox_id=self.id), timeout=60)
        self.rt.RemovePodSandbox(self.pb.cri.RemovePodSandboxRequest(pod_sandbox_id=self.id), timeout=60)


def linux_sc(pb, seccomp=None, add_caps=(), privileged=False):
    cri = pb.cri
    sc = cri.LinuxContainerSecurityContext(
        capabilities=cri.Capability(add_capabilities=list(add_caps)),
        privileged=privileged)
    if seccomp is not None:
        sc.seccomp.CopyFrom(seccomp)
    return cri.LinuxContainerConfig(security_context=sc)


def profile(pb, kind, ref=""):
    cri = pb.cri
    types = {"runtime": cri.SecurityProfile.RuntimeDefault,
             "unconfined": cri.SecurityProfile.Unconfined,
             "localhost": cri.SecurityProfile.Localhost}
    return cri.SecurityProfile(profile_type=types[kind], localhost_ref=ref)


def seccomp_mode(pod, cid):
    """The Seccomp: line of the container's init process (0 none, 2 filter)."""
    r = pod.exec(cid, ["cat", "/proc/1/status"])
    for line in r.stdout.decode().splitlines():
        if line.startswith("Seccomp:"):
            return int(line.split()[1])
    raise AssertionError(r.stdout)


def bundle_spec(d, cid):
    return json.loads((Path(d.runroot) / "containers" / cid / "config.json").read_text())


def test_runtime_default_blocks_unshare_and_mount(sec_daemon, rt, pb, handler, tmp_path):
    """CAP_SYS_ADMIN is added, so that it is seccomp, not the capability
    set, that says no."""
    d = sec_daemon
    pod = Pod(rt, pb, handler, tmp_path)
    confined = pod.run("confined", linux=linux_sc(pb, profile(pb, "runtime"), ["CAP_SYS_ADMIN"]))
    free = pod.run("free", linux=linux_sc(pb, profile(pb, "unconfined"), ["CAP_SYS_ADMIN"]))

    spec = bundle_spec(d, confined)
    assert spec["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert "seccomp" not in bundle_spec(d, free)["linux"]
    assert seccomp_mode(pod, confined) == 2
    assert seccomp_mode(pod, free) == 0

    for cmd in (["busybox", "unshare", "-n", "true"],
                ["busybox", "mount", "-t", "tmpfs", "x", "/tmp"]):
        r = pod.exec(confined, cmd)
        assert r.exit_code != 0, (cmd, r)
        # EPERM, as unshare reports it and as busybox mount words it
        assert (b"Operation not permitted" in r.stderr or
                b"permission denied (are you root?)" in r.stderr), (cmd, r.stderr)
        r = pod.exec(free, cmd)
        assert r.exit_code == 0, (cmd, r.stderr)
    # Ordinary work still runs under the default profile.
    r = pod.exec(confined, ["sh", "-c", "mkdir /tmp/a && echo hi > /tmp/a/f && cat /tmp/a/f && id -u"])
    assert (r.exit_code, r.stdout) == (0, b"hi\n0\n"), r.stderr
    pod.remove()


def test_unset_and_privileged(sec_daemon, rt, pb, handler, tmp_path):
    """Unset means unconfined (as the kubelet's own default without
    SeccompDefault); a privileged container gets no profile unless it asks
    for one."""
    pod = Pod(rt, pb, handler, tmp_path, privileged=True)
    unset = pod.run("unset")
    assert seccomp_mode(pod, unset) == 0
    asked = pod.run("asked", linux=linux_sc(pb, profile(pb, "runtime"), privileged=True))
    assert seccomp_mode(pod, asked) == 2
    privileged = pod.run("privileged", linux=linux_sc(pb, privileged=True))
    assert seccomp_mode(pod, privileged) == 0
    pod.remove()


def test_localhost_profile(sec_daemon, rt, pb, handler, tmp_path):
    """A Localhost profile in Docker's format: mkdir is EACCES for a
    container holding CAP_SYS_ADMIN only (includes by capability)."""
    prof = tmp_path / "profiles" / "no-mkdir.json"
    prof.parent.mkdir()
    prof.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
             "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"name": "no_such_syscall", "action": "SCMP_ACT_ERRNO"},
        ]}))
    pod = Pod(rt, pb, handler, tmp_path)
    sc = profile(pb, "localhost", str(prof))
    a = pod.run("admin", linux=linux_sc(pb, sc, ["CAP_SYS_ADMIN"]))
    b = pod.run("plain", linux=linux_sc(pb, sc))
    r = pod.exec(a, ["mkdir", "/tmp/x"])
    assert r.exit_code != 0 and b"Permission denied" in r.stderr, r
    r = pod.exec(b, ["mkdir", "/tmp/x"])
    assert r.exit_code == 0, r.stderr
    assert "no_such_syscall" in sec_daemon.log()
    pod.remove()


def test_localhost_refused(sec_daemon, rt, pb, handler, tmp_path):
    d = sec_daemon
    cri = pb.cri
    pod = Pod(rt, pb, handler, tmp_path)
    good = tmp_path / "good.json"
    good.write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    bad = tmp_path / "bad.json"
    bad.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], '
                   '"action": "SCMP_ACT_BOGUS"}]}')
    cases = [
        (f"{tmp_path}/sub/../good.json", grpc.StatusCode.INVALID_ARGUMENT, "'..' are not allowed"),
        ("good.json", grpc.StatusCode.INVALID_ARGUMENT, "absolute path"),
        (str(tmp_path), grpc.StatusCode.INVALID_ARGUMENT, "not a regular file"),
        (str(bad), grpc.StatusCode.INVALID_ARGUMENT, "syscalls[0]: action: unknown action 'SCMP_ACT_BOGUS'"),
        (str(tmp_path / "missing.json"), grpc.StatusCode.NOT_FOUND, "missing.json"),
    ]
    for ref, code, what in cases:
        with pytest.raises(grpc.RpcError) as e:
            pod.create("x", ["true"], linux=linux_sc(pb, profile(pb, "localhost", ref)))
        assert e.value.code() == code, (ref, e.value.code(), e.value.details())
        assert what in e.value.details(), e.value.details()
        assert "sec-seccomp" in e.value.details()
    assert len(rt.ListContainers(cri.ListContainersRequest()).containers) == 0
    assert list((Path(d.runroot) / "containers").glob("*")) == []
    pod.remove()


def test_sysctl_core_pattern_smuggled(sec_daemon, rt, pb, handler, tmp_path):
    core_pattern = Path("/proc/sys/kernel/core_pattern").read_text()
    for sysctls in ({"net.ipv4.ip_forward": "1\nkernel.core_pattern=|/tmp/evil"},
                    {"net.core.somaxconn": "128\rkernel.core_pattern=|/tmp/evil"},
                    {"kernel.core_pattern": "|/tmp/evil"},
                    {"kernel.core_pattern\nnet.ipv4.ip_forward": "1"},
                    {"net.ipv4.ip_forward\nkernel.core_pattern": "1"}):
        with pytest.raises(grpc.RpcError) as e:
            Pod(rt, pb, handler, tmp_path, name="evil", sysctls=sysctls)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, sysctls
        assert "sysctls" in e.value.details()
    assert len(rt.ListPodSandbox(pb.cri.ListPodSandboxRequest()).items) == 0
    # A NUL in the value: what follows it never reaches the kernel (the
    # value ends there, or the pod is refused).
    try:
        pod = Pod(rt, pb, handler, tmp_path, name="nul",
                  sysctls={"net.ipv4.ping_group_range": "0 0\x00\nkernel.core_pattern=|/tmp/evil"})
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e.details()
    else:
        info = json.loads(rt.PodSandboxStatus(pb.cri.PodSandboxStatusRequest(
            pod_sandbox_id=pod.id, verbose=True), timeout=30).info["info"])
        assert "core_pattern" not in json.dumps(info["sysctls"]), info["sysctls"]
        pod.remove()
    assert Path("/proc/sys/kernel/core_pattern").read_text() == core_pattern


def test_log_path_escapes(sec_daemon, rt, pb, handler, tmp_path):
    pod = Pod(rt, pb, handler, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    for log_path in (str(outside / "abs.log"), "../outside/up.log", "sub/../../up.log"):
        with pytest.raises(grpc.RpcError) as e:
            pod.create("x", ["true"], log_path=log_path)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (log_path, e.value.details())
        assert "log_path" in e.value.details()
    assert list(outside.iterdir()) == []
    pod.remove()


def test_log_path_symlink_in_log_directory(sec_daemon, rt, pb, handler, tmp_path):
    """A symlink planted in the pod's log directory (e.g. by a container
    that has the directory as a hostPath volume) must not carry the log
    file out of it: refused, or written inside."""
    cri = pb.cri
    pod = Pod(rt, pb, handler, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    pod.logdir.mkdir(parents=True, exist_ok=True)
    (pod.logdir / "link").symlink_to(outside)
    try:
        cid = pod.create("y", ["sh", "-c", "echo escaped"], log_path="link/y.log")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e.details()
    else:
        rt.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=60)
        time.sleep(1)
    try:
        assert list(outside.iterdir()) == []
    finally:
        pod.remove()


def _host_files():
    out = {}
    for p in ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/etc/passwd", "/etc/group"):
        try:
            out[p] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
        except FileNotFoundError:
            out[p] = None
    return out


def test_image_etc_symlink_to_host(sec_daemon, rt, pb, handler, tmp_path):
    """An image whose /etc is a symlink to /etc: the pod's hosts,
    hostname and resolv.conf must land in the container, never on the
    host's files."""
    d = sec_daemon
    cri = pb.cri
    entries = [e for e in builder.busybox_base_entries()
               if e.name != "etc" and not e.name.startswith("etc/")]
    entries.append(builder.symlink("etc", "/etc"))
    img = builder.Image([builder.Layer(entries, "gzip")], env=["PATH=/bin"], cmd=["sleep", "1000"])
    layout = tmp_path / "etc-layout"
    builder.write_oci_layout(layout, img)
    name = "localhost/ocid-test/etc-symlink:latest"
    r = run_ocid("--config", d.conf, "image", "import", layout, "--name", name, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr

    before = _host_files()
    pod = Pod(rt, pb, handler, tmp_path)
    try:
        cid = pod.create("etc", ["sleep", "1000"], image=name)
    except grpc.RpcError as e:
        # refused: the pod's files are opened beneath the rootfs, and a
        # link out of it is a loop there (ELOOP)
        assert e.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNKNOWN,
                            grpc.StatusCode.FAILED_PRECONDITION), e.details()
        assert "/etc/" in e.details(), e.details()
        assert list((Path(d.runroot) / "containers").glob("*")) == []
    else:
        try:
            rt.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=60)
        except grpc.RpcError as e:
            assert e.details()
        else:
            r = pod.exec(cid, ["cat", "/etc/hostname"])
            assert r.stdout == b"p\n", r
    assert _host_files() == before
    pod.remove()
    assert _host_files() == before


def test_exec_sync_flood(sec_daemon, rt, pb, handler, tmp_path):
    """20 MiB on stdout and 4 MiB on stderr: the reply is truncated to fit
    one 16 MiB message, stderr kept; the daemon carries on."""
    pod = Pod(rt, pb, handler, tmp_path)
    cid = pod.run("flood")
    cap = 16 << 20
    r = pod.exec(cid, ["sh", "-c", "busybox yes 0123456789abcdef | busybox head -c 20971520; "
                       "busybox yes err | busybox head -c 4194304 >&2"], timeout=60)
    assert len(r.stdout) + len(r.stderr) <= cap, (len(r.stdout), len(r.stderr))
    assert len(r.stdout) > 8 << 20, len(r.stdout)
    assert len(r.stderr) == 4 << 20, len(r.stderr)
    assert r.stdout.startswith(b"0123456789abcdef\n")
    r = pod.exec(cid, ["echo", "still here"])
    assert (r.exit_code, r.stdout) == (0, b"still here\n")
    pod.remove()


def _status_field(text, name):
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} in {text}")


# CAP_CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP,
# NET_BIND_SERVICE (docs/container-spec.md)
DEFAULT_CAPS = sum(1 << b for b in (0, 1, 3, 4, 5, 6, 7, 8, 10))


def test_hardened_defaults(sec_daemon, rt, pb, handler, tmp_path):
    """What every non-privileged container gets (docs/container-spec.md):
    the default capability set, no_new_privs, masked and read-only /proc
    paths, the default device nodes only; and UID values beyond 32 bits
    refused."""
    cri = pb.cri
    pod = Pod(rt, pb, handler, tmp_path, privileged=True)
    cid = pod.run("plain")
    st = pod.exec(cid, ["cat", "/proc/self/status"]).stdout.decode()
    assert _status_field(st, "NoNewPrivs") == "1"
    for field in ("CapBnd", "CapEff", "CapPrm"):
        assert int(_status_field(st, field), 16) == DEFAULT_CAPS, (field, st)
    assert int(_status_field(st, "CapInh"), 16) == 0
    # masked: empty; read-only: refused
    for path in ("/proc/kcore", "/proc/keys", "/proc/timer_list"):
        r = pod.exec(cid, ["sh", "-c", f"cat {path} 2>/dev/null | wc -c"])
        assert r.stdout.strip() == b"0", (path, r)
    r = pod.exec(cid, ["sh", "-c", "echo 1 > /proc/sys/kernel/panic"])
    assert r.exit_code != 0 and b"Read-only file system" in r.stderr, r
    r = pod.exec(cid, ["sh", "-c", "echo b > /proc/sysrq-trigger"])
    assert r.exit_code != 0, r
    r = pod.exec(cid, ["sh", "-c", "for n in /dev/*; do if [ ! -L $n ] && { [ -b $n ] || [ -c $n ]; }; then echo ${n#/dev/}; fi; done"])
    nodes = set(r.stdout.decode().split())
    assert nodes <= {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "console"}, nodes
    assert {"null", "zero", "urandom"} <= nodes
    # A privileged container: no no_new_privs, more capabilities.
    priv = pod.run("priv", linux=linux_sc(pb, privileged=True))
    st = pod.exec(priv, ["cat", "/proc/self/status"]).stdout.decode()
    assert _status_field(st, "NoNewPrivs") == "0"
    assert int(_status_field(st, "CapBnd"), 16) & (1 << 21)   # CAP_SYS_ADMIN
    # UID/GID overflow
    for field in ("run_as_user", "run_as_group"):
        sc = cri.LinuxContainerSecurityContext()
        getattr(sc, field).value = 1 << 32
        if field == "run_as_group":
            sc.run_as_user.value = 0
        with pytest.raises(grpc.RpcError) as e:
            pod.create("big", ["true"], linux=cri.LinuxContainerConfig(security_context=sc))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, e.value.details())
    pod.remove()


def test_apparmor_and_selinux_where_the_host_has_neither(sec_daemon, rt, pb, handler, tmp_path):
    """The default chain loads all three security modules. On a host without
    AppArmor and SELinux (as here: docs/security.md) they report the feature
    unavailable, a pod and container asking for AppArmor's runtime/default
    and for SELinux options run unlabelled, and only a Localhost AppArmor
    profile, which cannot be honoured, is refused."""
    cri = pb.cri
    if Path("/sys/kernel/security/apparmor").exists() or Path("/sys/fs/selinux/enforce").exists():
        pytest.skip("this host has AppArmor or SELinux")
    st = rt.Status(cri.StatusRequest(verbose=True), timeout=10)
    mods = {m["name"]: m for m in json.loads(st.info["modules"])}
    assert [m["name"] for m in json.loads(st.info["modules"]) if m["kind"] == "security"] == \
        ["sec-seccomp", "sec-apparmor", "sec-selinux"]
    for name in ("sec-apparmor", "sec-selinux"):
        assert mods[name]["ready"] is True, mods[name]
        assert mods[name]["info"]["enabled"] is False, mods[name]

    selinux = cri.SELinuxOption(user="system_u", role="system_r", type="container_t", level="s0:c1,c2")
    logdir = tmp_path / "logs" / "lsm"
    pcfg = pod_config(pb, "lsm", log_directory=str(logdir))
    pcfg.linux.security_context.selinux_options.CopyFrom(selinux)
    pod_id = rt.RunPodSandbox(cri.RunPodSandboxRequest(config=pcfg, runtime_handler=handler),
                              timeout=60).pod_sandbox_id
    try:
        def create(name, apparmor):
            sc = cri.LinuxContainerSecurityContext(apparmor=apparmor, selinux_options=selinux)
            cfg = cri.ContainerConfig(metadata=cri.ContainerMetadata(name=name),
                                      image=cri.ImageSpec(image=TEST_IMAGE), command=["sleep", "1000"],
                                      log_path=f"{name}.log",
                                      linux=cri.LinuxContainerConfig(security_context=sc))
            return rt.CreateContainer(cri.CreateContainerRequest(
                pod_sandbox_id=pod_id, config=cfg, sandbox_config=pcfg), timeout=120).container_id

        cid = create("aa-default", profile(pb, "runtime"))
        rt.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=60)
        status = rt.ContainerStatus(cri.ContainerStatusRequest(container_id=cid), timeout=10).status
        assert status.state == cri.CONTAINER_RUNNING
        spec = bundle_spec(sec_daemon, cid)
        assert "apparmorProfile" not in spec["process"], spec["process"]
        assert "selinuxLabel" not in spec["process"], spec["process"]
        assert "mountLabel" not in spec["linux"], spec["linux"]

        with pytest.raises(grpc.RpcError) as e:
            create("aa-local", profile(pb, "localhost", "localhost/ocid-test-profile"))
        assert "AppArmor is not enabled on this host" in e.value.details(), e.value.details()
        names = [c.metadata.name for c in rt.ListContainers(
            cri.ListContainersRequest(filter=cri.ContainerFilter(pod_sandbox_id=pod_id)), timeout=10).containers]
        assert names == ["aa-default"], names
    finally:
        rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
        rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
