# SPDX-License-Identifier: Apache-2.0
"""Test images for ocid, built from Debian's static busybox with the Python
standard library: layer tars (gzip, zstd or uncompressed), image configs,
OCI and Docker schema2 manifests, OCI indexes and Docker manifest lists;
pushed to a registry through the distribution API, or written as OCI image
layouts (directory or tar) and docker-archive tars.

Everything is deterministic: the same entries give the same bytes, so the
same layer built twice has one digest."""

import gzip
import hashlib
import http.client
import io
import json
import os
import platform
import shutil
import subprocess
import tarfile
import urllib.parse
from pathlib import Path

BUSYBOX = "/bin/busybox"
MTIME = 1700000000          # every tar entry's modification time
CREATED = "2023-11-14T22:13:20Z"

MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

# The busybox applets the base layer links to /bin/busybox.
APPLETS = ("sh", "ls", "cat", "echo", "id", "true", "false", "sleep", "env",
           "mkdir", "rm", "touch", "test", "wc", "head", "ps", "stat", "find",
           "grep", "hostname", "whoami", "mount", "umount", "chmod", "chown")

PASSWD = (b"root:x:0:0:root:/root:/bin/sh\n"
          b"app:x:1000:1000:app:/home/app:/bin/sh\n"
          b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP = b"root:x:0:\napp:x:1000:\nnogroup:x:65534:\n"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def hexof(digest):
    """The hex part of "sha256:<hex>"."""
    return digest.split(":", 1)[1]


def have_zstd():
    return shutil.which("zstd") is not None


def host_arch():
    """This host's architecture in OCI (GOARCH) spelling."""
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "i686": "386",
            "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x",
            "riscv64": "riscv64"}.get(m, m)


def other_arch():
    """An architecture that is not this host's."""
    return "arm64" if host_arch() != "arm64" else "amd64"


# --- tar entries --------------------------------------------------------------

class Entry:
    """One tar entry. Build them with file(), dir(), symlink(), hardlink()."""

    def __init__(self, name, kind, data=b"", target="", mode=0o644, uid=0,
                 gid=0, xattrs=None):
        self.name, self.kind, self.data, self.target = name, kind, data, target
        self.mode, self.uid, self.gid = mode, uid, gid
        self.xattrs = xattrs or {}

    def tarinfo(self):
        # The name goes in as given: hostile names ("../x", "/abs") must
        # reach the archive unchanged.
        ti = tarfile.TarInfo(self.name)
        ti.type = self.kind
        ti.mode = self.mode
        ti.uid, ti.gid = self.uid, self.gid
        ti.uname = ti.gname = ""
        ti.mtime = MTIME
        if self.kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
            ti.linkname = self.target
        if self.kind == tarfile.REGTYPE:
            ti.size = len(self.data)
        if self.xattrs:
            ti.pax_headers = {f"SCHILY.xattr.{k}": v
                              for k, v in self.xattrs.items()}
        return ti


def file(name, data, mode=0o644, uid=0, gid=0, xattrs=None):
    if isinstance(data, str):
        data = data.encode()
    return Entry(name, tarfile.REGTYPE, data=data, mode=mode, uid=uid,
                 gid=gid, xattrs=xattrs)


def dir(name, mode=0o755, uid=0, gid=0):  # noqa: A001 (tar vocabulary)
    return Entry(name, tarfile.DIRTYPE, mode=mode, uid=uid, gid=gid)


def symlink(name, target):
    return Entry(name, tarfile.SYMTYPE, target=target, mode=0o777)


def hardlink(name, target):
    return Entry(name, tarfile.LNKTYPE, target=target)


def make_tar(entries):
    """An uncompressed POSIX (pax) tar of `entries`, in order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = e.tarinfo()
            t.addfile(ti, io.BytesIO(e.data) if e.kind == tarfile.REGTYPE
                      else None)
    return buf.getvalue()


def compress(data, compression):
    if compression == "none":
        return data
    if compression == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if compression == "zstd":
        if not have_zstd():
            raise RuntimeError("zstd layers need the zstd program (Debian "
                               "package zstd)")
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=data,
                              stdout=subprocess.PIPE, check=True).stdout
    raise ValueError(f"unknown compression {compression!r}")


# --- layers, images, indexes --------------------------------------------------

class Layer:
    """A layer: its tar (diff ID) and its blob in one compression."""

    def __init__(self, entries_or_tar, compression="gzip"):
        tar = (entries_or_tar if isinstance(entries_or_tar, bytes)
               else make_tar(entries_or_tar))
        self.tar = tar
        self.diff_id = sha256(tar)
        self.compression = compression
        self.blob = compress(tar, compression)
        self.digest = sha256(self.blob)
        self.size = len(self.blob)

    def recompressed(self, compression):
        return Layer(self.tar, compression)

    def media_type(self, docker=False):
        suffix = {"none": "", "gzip": "+gzip", "zstd": "+zstd"}
        if docker:
            suffix = {"none": "", "gzip": ".gzip", "zstd": ".zstd"}
            return MT_DOCKER_LAYER + suffix[self.compression]
        return MT_OCI_LAYER + suffix[self.compression]

    def descriptor(self, docker=False):
        return {"mediaType": self.media_type(docker), "digest": self.digest,
                "size": self.size}


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def chain_ids(diff_ids):
    """OCI chain IDs: ChainID(L0) = DiffID(L0), ChainID(L0..n) =
    sha256(ChainID(L0..n-1) + " " + DiffID(Ln))."""
    out = []
    for d in diff_ids:
        out.append(d if not out else sha256(f"{out[-1]} {d}".encode()))
    return out


class Image:
    """An image: layers, a config and a manifest (OCI unless docker=True)."""

    def __init__(self, layers, user="", env=None, cmd=None, entrypoint=None,
                 workdir="", labels=None, arch=None, os_name="linux",
                 variant=None, docker=False):
        self.layers = list(layers)
        self.docker = docker
        self.arch = arch or host_arch()
        self.os = os_name
        self.variant = variant
        cfg = {"Env": list(env or ["PATH=/bin:/usr/bin"])}
        if user:
            cfg["User"] = user
        if cmd is not None:
            cfg["Cmd"] = list(cmd)
        if entrypoint is not None:
            cfg["Entrypoint"] = list(entrypoint)
        if workdir:
            cfg["WorkingDir"] = workdir
        if labels:
            cfg["Labels"] = dict(labels)
        self.config = {
            "created": CREATED,
            "architecture": self.arch,
            "os": os_name,
            "config": cfg,
            "rootfs": {"type": "layers",
                       "diff_ids": [l.diff_id for l in self.layers]},
            "history": [{"created": CREATED,
                         "created_by": f"ocid test builder: layer {i}"}
                        for i in range(len(self.layers))],
        }
        if variant:
            self.config["variant"] = variant
        self.config_bytes = canonical_json(self.config)
        self.config_digest = sha256(self.config_bytes)
        self.config_media_type = MT_DOCKER_CONFIG if docker else MT_OCI_CONFIG
        self.media_type = MT_DOCKER_MANIFEST if docker else MT_OCI_MANIFEST
        self.manifest = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": {"mediaType": self.config_media_type,
                       "digest": self.config_digest,
                       "size": len(self.config_bytes)},
            "layers": [l.descriptor(docker) for l in self.layers],
        }
        self.manifest_bytes = canonical_json(self.manifest)
        self.digest = sha256(self.manifest_bytes)

    @property
    def id_hex(self):
        """The hex of the config digest: the image ID as CRI runtimes
        report it (with or without "sha256:")."""
        return hexof(self.config_digest)

    @property
    def diff_ids(self):
        return [l.diff_id for l in self.layers]

    @property
    def chain_ids(self):
        return chain_ids(self.diff_ids)

    @property
    def size(self):
        return sum(l.size for l in self.layers) + len(self.config_bytes)

    def platform(self):
        p = {"architecture": self.arch, "os": self.os}
        if self.variant:
            p["variant"] = self.variant
        return p

    def blobs(self):
        """{digest: bytes} of the config and the layers."""
        out = {self.config_digest: self.config_bytes}
        for l in self.layers:
            out[l.digest] = l.blob
        return out

    def manifests(self):
        """{digest: (bytes, media type)} of every manifest this object
        needs, children first; the last one is its own."""
        return {self.digest: (self.manifest_bytes, self.media_type)}

    def images(self):
        return [self]


class Index:
    """An OCI image index (or, docker=True, a Docker manifest list) of
    images, each entry carrying its image's platform."""

    def __init__(self, images, docker=False, extra_entries=()):
        self.children = list(images)
        self.docker = docker
        self.media_type = MT_DOCKER_LIST if docker else MT_OCI_INDEX
        entries = [{"mediaType": im.media_type, "digest": im.digest,
                    "size": len(im.manifest_bytes), "platform": im.platform()}
                   for im in self.children]
        entries += list(extra_entries)
        self.manifest = {"schemaVersion": 2, "mediaType": self.media_type,
                         "manifests": entries}
        self.manifest_bytes = canonical_json(self.manifest)
        self.digest = sha256(self.manifest_bytes)

    def for_platform(self, arch):
        return next(im for im in self.children if im.arch == arch)

    def blobs(self):
        out = {}
        for im in self.children:
            out.update(im.blobs())
        return out

    def manifests(self):
        out = {}
        for im in self.children:
            out.update(im.manifests())
        out[self.digest] = (self.manifest_bytes, self.media_type)
        return out

    def images(self):
        return list(self.children)


# --- pushing over the distribution API ----------------------------------------

class PushError(Exception):
    pass


def _request(host, method, path, body=None, headers=None, timeout=60):
    conn = http.client.HTTPConnection(host, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, dict(resp.getheaders()), data
    finally:
        conn.close()


def push_blob(host, repo, digest, data):
    """Uploads one blob (monolithic: POST an upload, PUT it with ?digest=),
    unless the registry has it already."""
    status, _, _ = _request(host, "HEAD", f"/v2/{repo}/blobs/{digest}")
    if status == 200:
        return False
    status, headers, body = _request(host, "POST", f"/v2/{repo}/blobs/uploads/",
                                     body=b"", headers={"Content-Length": "0"})
    if status != 202:
        raise PushError(f"POST upload for {repo}: HTTP {status} {body!r}")
    loc = headers.get("Location") or headers.get("location")
    u = urllib.parse.urlsplit(loc)
    path = u.path + ("?" + u.query if u.query else "")
    path += ("&" if u.query else "?") + "digest=" + urllib.parse.quote(digest)
    status, _, body = _request(host, "PUT", path, body=data, headers={
        "Content-Type": "application/octet-stream",
        "Content-Length": str(len(data))})
    if status != 201:
        raise PushError(f"PUT blob {digest} to {repo}: HTTP {status} {body!r}")
    return True


def push_manifest(host, repo, ref, data, media_type):
    status, headers, body = _request(
        host, "PUT", f"/v2/{repo}/manifests/{ref}", body=data,
        headers={"Content-Type": media_type, "Content-Length": str(len(data))})
    if status != 201:
        raise PushError(f"PUT manifest {repo}:{ref}: HTTP {status} {body!r}")
    got = headers.get("Docker-Content-Digest")
    if got and got != sha256(data):
        raise PushError(f"registry computed {got} for manifest {sha256(data)}")


def push(host, repo, obj, tags=("latest",)):
    """Pushes an Image or Index to the registry at `host` ("127.0.0.1:port")
    as `repo`, tagged with each of `tags`: blobs, then child manifests by
    digest, then the top manifest under each tag."""
    for digest, data in obj.blobs().items():
        push_blob(host, repo, digest, data)
    manifests = obj.manifests()
    for digest, (data, mt) in manifests.items():
        push_manifest(host, repo, digest, data, mt)
    for tag in tags:
        push_manifest(host, repo, tag, obj.manifest_bytes, obj.media_type)


# --- files for `ocid image import` --------------------------------------------

def write_oci_layout(dest, obj, ref_names=()):
    """An OCI image layout directory at `dest` holding `obj` (an Image or an
    Index); index.json has one entry per name in `ref_names` (annotated with
    org.opencontainers.image.ref.name), or one without a name."""
    dest = Path(dest)
    (dest / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (dest / "oci-layout").write_bytes(
        canonical_json({"imageLayoutVersion": "1.0.0"}))
    blobs = dict(obj.blobs())
    for digest, (data, _) in obj.manifests().items():
        blobs[digest] = data
    for digest, data in blobs.items():
        (dest / "blobs" / "sha256" / hexof(digest)).write_bytes(data)
    desc = {"mediaType": obj.media_type, "digest": obj.digest,
            "size": len(obj.manifest_bytes)}
    entries = []
    for name in ref_names or [None]:
        e = dict(desc)
        if name:
            e["annotations"] = {REF_NAME_ANNOTATION: name}
        entries.append(e)
    (dest / "index.json").write_bytes(canonical_json(
        {"schemaVersion": 2, "mediaType": MT_OCI_INDEX,
         "manifests": entries}))
    return dest


def _tar_dir(src, dest_tar):
    """A tar of the contents of directory `src` (paths relative to it)."""
    src = Path(src)
    with tarfile.open(dest_tar, "w", format=tarfile.PAX_FORMAT) as t:
        for p in sorted(src.rglob("*")):
            t.add(p, arcname=str(p.relative_to(src)), recursive=False)
    return Path(dest_tar)


def write_oci_tar(dest_tar, obj, ref_names=(), workdir=None):
    """The OCI layout of write_oci_layout() as a tar file."""
    work = Path(workdir or (str(dest_tar) + ".d"))
    write_oci_layout(work, obj, ref_names)
    try:
        return _tar_dir(work, dest_tar)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_docker_archive(dest_tar, image, repo_tags=()):
    """A docker-archive tar (the `docker save` format): manifest.json,
    the config as <hex>.json, each layer uncompressed as <dir>/layer.tar,
    and the legacy `repositories` file."""
    members = {}
    layer_paths = []
    for i, l in enumerate(image.layers):
        d = hexof(l.diff_id)
        layer_paths.append(f"{d}/layer.tar")
        members[f"{d}/VERSION"] = b"1.0"
        members[f"{d}/layer.tar"] = l.tar
    cfg_name = f"{image.id_hex}.json"
    members[cfg_name] = image.config_bytes
    members["manifest.json"] = canonical_json([
        {"Config": cfg_name, "RepoTags": list(repo_tags),
         "Layers": layer_paths}])
    repos = {}
    top = hexof(image.layers[-1].diff_id) if image.layers else ""
    for rt in repo_tags:
        name, _, tag = rt.rpartition(":")
        repos.setdefault(name, {})[tag] = top
    members["repositories"] = canonical_json(repos)
    with tarfile.open(dest_tar, "w", format=tarfile.PAX_FORMAT) as t:
        dirs = set()
        for name, data in members.items():
            parent = name.rpartition("/")[0]
            if parent and parent not in dirs:
                dirs.add(parent)
                t.addfile(dir(parent).tarinfo())
            t.addfile(file(name, data).tarinfo(), io.BytesIO(data))
    return Path(dest_tar)


# --- the busybox test images --------------------------------------------------

def busybox_base_entries():
    """The root file system of a tiny busybox system: /bin/busybox with
    its applets as symlinks, /etc/passwd with a user `app` (1000)."""
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    es = [dir("bin"), dir("etc"), dir("root", 0o700), dir("home"),
          dir("home/app", 0o755, 1000, 1000), dir("tmp", 0o1777),
          dir("proc"), dir("sys"), dir("dev"), dir("var"),
          file("bin/busybox", busybox, 0o755)]
    es += [symlink(f"bin/{a}", "busybox") for a in APPLETS]
    es += [file("etc/passwd", PASSWD), file("etc/group", GROUP),
           file("etc/hostname", "ocid-test\n")]
    return es


# What the files layer and the whiteout layer of busybox-test hold, and
# what a container sees once both are applied.
FILES_LAYER = [
    dir("data"), dir("data/sub"),
    file("data/hello.txt", "hello from the files layer\n"),
    file("data/keep.txt", "kept\n"),
    file("data/todelete.txt", "deleted by the next layer\n"),
    file("data/sub/owned.txt", "owned by app\n", mode=0o640, uid=1000,
         gid=1000),
    hardlink("data/hello-link.txt", "data/hello.txt"),
    symlink("data/hello-symlink", "hello.txt"),
    dir("opt"), dir("opt/opaque"),
    file("opt/opaque/old1", "replaced by an opaque dir\n"),
    file("opt/opaque/old2", "replaced by an opaque dir\n"),
]
WHITEOUT_LAYER = [
    dir("data"),
    file("data/.wh.todelete.txt", b""),
    file("data/added.txt", "added by the whiteout layer\n"),
    dir("opt"), dir("opt/opaque"),
    file("opt/opaque/.wh..wh..opq", b""),
    file("opt/opaque/new", "the only file left in the opaque dir\n"),
]


class ImageSet:
    """The images the suite pulls, built once per session."""

    def __init__(self):
        zstd = "zstd" if have_zstd() else "gzip"
        self.zstd = zstd == "zstd"
        arch, other = host_arch(), other_arch()
        base = Layer(busybox_base_entries(), "gzip")
        self.base = base
        self.files_layer = Layer(FILES_LAYER, zstd)
        self.whiteout_layer = Layer(WHITEOUT_LAYER, "none")

        # OCI manifest, gzip + zstd + plain layers, numeric user.
        self.busybox = Image(
            [base, self.files_layer, self.whiteout_layer], user="1000",
            env=["PATH=/bin", "OCID_TEST=busybox-test"],
            cmd=["/bin/sh", "-c", "echo hello"], workdir="/data",
            labels={"org.ocid.test": "busybox-test"})
        # Docker schema2, a named user from /etc/passwd.
        self.named = Image(
            [base, Layer([dir("home"), dir("home/app", 0o755, 1000, 1000),
                          file("home/app/.profile", "export PS1='$ '\n",
                               uid=1000, gid=1000)], "gzip")],
            user="app", env=["PATH=/bin", "OCID_TEST=busybox-named"],
            cmd=["/bin/sh"], docker=True)
        # Multi-platform: the host's platform is real, the other one has a
        # different config and a layer of its own.
        def platform_image(a, docker):
            marker = Layer([file("platform", a + "\n")], "gzip")
            return Image([base, marker], arch=a, docker=docker,
                         env=["PATH=/bin", f"OCID_PLATFORM={a}"],
                         cmd=["/bin/cat", "/platform"])
        self.multiarch = Index([platform_image(arch, False),
                                platform_image(other, False)])
        self.dockerlist = Index([platform_image(other, True),
                                 platform_image(arch, True)], docker=True)
        # Two images on one base: three layers between them.
        self.shared_a = Image([base, Layer([file("a.txt", "a\n")], "gzip")],
                              env=["PATH=/bin", "OCID_TEST=shared-a"])
        self.shared_b = Image([base, Layer([file("b.txt", "b\n")], "gzip")],
                              env=["PATH=/bin", "OCID_TEST=shared-b"])

    def registry_set(self):
        """(repo, object, tags) for everything the real registry serves."""
        return [
            ("busybox-test", self.busybox, ("latest", "v1")),
            ("busybox-named", self.named, ("latest",)),
            ("multiarch", self.multiarch, ("latest",)),
            ("dockerlist", self.dockerlist, ("latest",)),
            ("shared/a", self.shared_a, ("latest",)),
            ("shared/b", self.shared_b, ("latest",)),
        ]


def hostile_images(sentinel):
    """Images whose layers try to write outside their layer directory, by
    case name. `sentinel` is a unique prefix ("ocid-escape-<random>") that
    every escape target's file name starts with, so a test can look for it
    on the host afterwards."""
    s = sentinel
    up = "../" * 12
    cases = {
        # `..` components, relative and climbing to /tmp.
        "dotdot": [[file(f"../{s}-dotdot", "x"),
                    file(f"{up}tmp/{s}-dotdot2", "x")]],
        # An absolute name: must land inside the layer.
        "absolute": [[file(f"/tmp/{s}-abs", "x")]],
        # A symlink to / and a file written through it.
        "symlink-root": [[symlink("rootlink", "/"),
                          file(f"rootlink/tmp/{s}-symroot", "x")]],
        # A relative symlink climbing out, and a file through it (the
        # layer has a tmp/ for it to land in).
        "symlink-up": [[dir("tmp"), symlink("up", up + "tmp"),
                        file(f"up/{s}-symup", "x")]],
        # A symlink to a system dir, and a file through it.
        "symlink-etc": [[dir("etc"), symlink("sysconf", "/etc"),
                         file(f"sysconf/{s}-etc", "x")]],
        # A symlink that names itself once resolved inside the layer.
        "symlink-loop": [[symlink("etc", "/etc"),
                          file(f"etc/{s}-loop", "x")]],
        # A symlink to an outside file, then a regular file of that name.
        "symlink-then-file": [[symlink("evil", f"/tmp/{s}-stf"),
                               file("evil", "written over the link\n")]],
        # A hardlink to the host's /etc/passwd, then a file written over it.
        "hardlink-passwd": [[hardlink("pw", "/etc/passwd"),
                             file("pw", "root::0:0::/:/bin/sh\n")]],
        # The same with an /etc/passwd of the layer's own: the link is to
        # that one, and writing the name again replaces the link.
        "hardlink-own-passwd": [[dir("etc"),
                                 file("etc/passwd", "layer:x:0:0::/:/bin/sh\n"),
                                 hardlink("pw", "/etc/passwd"),
                                 file("pw", "root::0:0::/:/bin/sh\n")]],
        # A hardlink climbing to /etc/passwd.
        "hardlink-up": [[hardlink("pw", up + "etc/passwd")]],
        # A symlink in one layer, a file through it in the next.
        "cross-layer-symlink": [[dir("tmp"), symlink("d", "/tmp")],
                                [file(f"d/{s}-cross", "x")]],
    }
    out = {}
    for name, layer_entries in cases.items():
        out[name] = Image([Layer(es, "gzip") for es in layer_entries],
                          env=["PATH=/bin", f"OCID_TEST=hostile-{name}"])
    return out


def pseudo_random(seed, size):
    """`size` bytes that compress a little (like real binaries), from a
    seed: blocks of sha256 output interleaved with runs of zero bytes."""
    out = bytearray()
    h = hashlib.sha256(seed.encode()).digest()
    while len(out) < size:
        h = hashlib.sha256(h).digest()
        out += h * 2 + bytes(h[0] % 48)
    return bytes(out[:size])


def bench_image(layers=30, layer_bytes=4 * 1024 * 1024, seed="ocid-bench"):
    """A many-layer image for bench/: busybox base plus `layers` - 1 layers
    of `layer_bytes` pseudo-random bytes each."""
    ls = [Layer(busybox_base_entries(), "gzip")]
    for i in range(layers - 1):
        data = pseudo_random(f"{seed}-{i}", layer_bytes)
        ls.append(Layer([dir("bench"), file(f"bench/blob{i:03d}", data)],
                        "gzip"))
    return Image(ls, env=["PATH=/bin"], cmd=["/bin/sh"])


if __name__ == "__main__":
    # A quick look: build the test images and print their digests.
    ti = ImageSet()
    for repo, obj, tags in ti.registry_set():
        print(repo, tags, obj.digest, obj.media_type)
    print("zstd:", ti.zstd, "host arch:", host_arch(), os.uname().machine)
