# SPDX-License-Identifier: Apache-2.0
"""The ImageService end to end: PullImage, ListImages, ImageStatus,
RemoveImage and ImageFsInfo through grpcio against a real daemon, with
images built from busybox-static (images/builder.py) and served by Debian's
docker-registry or by the fake registry (token auth, injected faults,
hostile layers); `ocid image import` and `ocid image ls` beside a running
daemon. Every test runs once per storage module (storage-overlay and
storage-vfs: the `storage_module` fixture)."""

import base64
import hashlib
import json
import os
import secrets
import stat
import subprocess
import threading
import time
from pathlib import Path

import grpc
import pytest

from ocid_it import daemon_env, run_ocid
from images import builder
from images.fakeregistry import (CORRUPT, ERROR500, STALL, TRUNCATE,
                                 WRONG_DIGEST_HEADER)
from images.registry import free_port
from images.storage import (blob_path, find_named, is_overlay_whiteout,
                            layer_dirs, layer_tree, overlay_opaque,
                            partial_layers)

PULL_TIMEOUT = 120


# --- a client ------------------------------------------------------------------

class Images:
    """ImageService calls on one daemon."""

    def __init__(self, daemon, pb):
        self.daemon = daemon
        self.pb = pb
        self.stub = pb.cri_grpc.ImageServiceStub(daemon.channel())

    def spec(self, ref):
        return self.pb.cri.ImageSpec(image=ref)

    def pull(self, ref, auth=None, timeout=PULL_TIMEOUT):
        req = self.pb.cri.PullImageRequest(image=self.spec(ref))
        if auth:
            req.auth.CopyFrom(self.pb.cri.AuthConfig(**auth))
        r = self.stub.PullImage(req, timeout=timeout)
        assert r.image_ref, f"PullImage({ref!r}) returned an empty image_ref"
        return r.image_ref

    def pull_error(self, ref, auth=None, timeout=PULL_TIMEOUT):
        """Pulls `ref`, which must fail; returns the grpc.RpcError."""
        with pytest.raises(grpc.RpcError) as ei:
            self.pull(ref, auth, timeout)
        e = ei.value
        assert e.details(), f"pull of {ref!r} failed with no message ({e.code()})"
        return e

    def status(self, ref, verbose=False):
        return self.stub.ImageStatus(self.pb.cri.ImageStatusRequest(
            image=self.spec(ref), verbose=verbose), timeout=10)

    def image(self, ref):
        """The Image `ref` names, or None."""
        r = self.status(ref)
        return r.image if r.HasField("image") else None

    def list(self, ref=None):
        req = self.pb.cri.ListImagesRequest()
        if ref is not None:
            req.filter.image.image = ref
        return list(self.stub.ListImages(req, timeout=10).images)

    def remove(self, ref):
        self.stub.RemoveImage(self.pb.cri.RemoveImageRequest(
            image=self.spec(ref)), timeout=30)

    def fs_info(self):
        return self.stub.ImageFsInfo(self.pb.cri.ImageFsInfoRequest(),
                                     timeout=10)


@pytest.fixture
def images(image_daemon, pb):
    """An ImageService client on a fresh daemon (image_daemon)."""
    return Images(image_daemon, pb)


def same_id(image_id, obj):
    """Whether a CRI image ID names `obj` (an ID is the config digest,
    with or without "sha256:")."""
    return image_id.split(":")[-1] == obj.id_hex


def json_values(info):
    """Every value of a verbose info map parsed as JSON (skipping values
    that are not JSON)."""
    out = []
    for v in info.values():
        try:
            out.append(json.loads(v))
        except ValueError:
            pass
    return out


def contains(obj, needle):
    """Whether the JSON value `obj` holds the string `needle` anywhere."""
    if isinstance(obj, str):
        return obj == needle
    if isinstance(obj, dict):
        return any(contains(v, needle) for v in obj.values())
    if isinstance(obj, list):
        return any(contains(v, needle) for v in obj)
    return False


def wait_stable(fn, settle=0.3, timeout=5.0):
    """fn() once its result stopped changing for `settle` seconds (the
    registry writes its access log just after the response)."""
    deadline = time.monotonic() + timeout
    last = fn()
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        cur = fn()
        if cur != last:
            last, since = cur, time.monotonic()
        elif time.monotonic() - since >= settle:
            break
    return last


def assert_no_image(images, ref):
    """After a failed pull: no image, no half-made layer."""
    assert images.list() == [], (
        f"a failed pull of {ref} left images: {images.list()}")
    assert images.image(ref) is None
    d = images.daemon
    assert partial_layers(d, d.storage) == [], (
        f"a failed pull of {ref} left partial layers: "
        f"{partial_layers(d, d.storage)}")


# --- pulling from a real registry ----------------------------------------------

def test_pull_by_tag(images, registry, image_set):
    ref = f"{registry.host}/busybox-test:latest"
    image_ref = images.pull(ref)
    im = images.image(ref)
    assert im is not None, f"ImageStatus({ref!r}) found nothing after the pull"
    assert same_id(im.id, image_set.busybox), (im.id, image_set.busybox.id_hex)
    assert ref in im.repo_tags
    by_ref = images.image(image_ref)
    assert by_ref is not None and by_ref.id == im.id, (
        f"ImageStatus(image_ref={image_ref!r}) does not find the pulled image")
    assert [i.id for i in images.list()] == [im.id]


def test_pull_by_digest(images, registry, image_set):
    digest_ref = f"{registry.host}/busybox-test@{image_set.busybox.digest}"
    images.pull(digest_ref)
    im = images.image(digest_ref)
    assert im is not None
    assert same_id(im.id, image_set.busybox)
    assert digest_ref in im.repo_digests, im.repo_digests
    assert f"{registry.host}/busybox-test:latest" not in im.repo_tags, (
        "a pull by digest must not invent a tag")


def test_pull_docker_schema2_named_user(images, registry, image_set):
    ref = f"{registry.host}/busybox-named:latest"
    images.pull(ref)
    im = images.image(ref)
    assert same_id(im.id, image_set.named)
    assert im.username == "app"
    assert not im.HasField("uid"), f"uid set for user 'app': {im.uid}"


def test_image_status_fields(images, registry, image_set):
    ref = f"{registry.host}/busybox-test:latest"
    images.pull(ref)
    r = images.status(ref, verbose=True)
    im = r.image
    assert im.id.split(":")[-1] == image_set.busybox.id_hex
    assert list(im.repo_tags) == [ref]
    assert f"{registry.host}/busybox-test@{image_set.busybox.digest}" in im.repo_digests
    assert im.size > 0
    assert im.HasField("uid") and im.uid.value == 1000, im
    assert im.username == ""
    # The verbose info carries the image config as JSON.
    docs = json_values(r.info)
    assert docs, f"verbose ImageStatus info has no JSON value: {dict(r.info)}"
    assert any(contains(d, "OCID_TEST=busybox-test") for d in docs), dict(r.info)
    assert any(contains(d, "echo hello") for d in docs), dict(r.info)
    assert not images.status(ref).info, "info must be empty unless verbose"


def test_image_status_missing_image(images, registry):
    for ref in (f"{registry.host}/busybox-test:latest", "no-such-image",
                "sha256:" + "0" * 64):
        r = images.status(ref, verbose=True)
        assert not r.HasField("image"), f"ImageStatus({ref!r}) found {r.image}"


@pytest.mark.parametrize("repo", ["multiarch", "dockerlist"])
def test_pull_index_selects_host_platform(images, registry, image_set, repo):
    index = getattr(image_set, repo)
    want = index.for_platform(builder.host_arch())
    other = index.for_platform(builder.other_arch())
    ref = f"{registry.host}/{repo}:latest"
    images.pull(ref)
    r = images.status(ref, verbose=True)
    assert same_id(r.image.id, want), (
        f"{repo}: pulled {r.image.id}, want the {want.arch} image "
        f"{want.id_hex} (not {other.arch}: {other.id_hex})")
    docs = json_values(r.info)
    assert any(contains(d, f"OCID_PLATFORM={want.arch}") for d in docs)
    assert not any(contains(d, f"OCID_PLATFORM={other.arch}") for d in docs)


def test_pull_zstd_and_plain_layers(images, registry, image_set, storage_module):
    if not image_set.zstd:
        pytest.skip("no zstd program (Debian package zstd): busybox-test's "
                    "second layer is gzip instead")
    im = image_set.busybox
    assert [l.compression for l in im.layers] == ["gzip", "zstd", "none"]
    images.pull(f"{registry.host}/busybox-test:latest")
    for layer, chain in zip(im.layers, im.chain_ids):
        assert layer_tree(images.daemon, storage_module, chain) is not None, (
            f"no layer directory for the {layer.compression} layer {chain}")


def test_pull_unqualified_name(images, registry, image_set):
    # image_daemon searches the test registry for unqualified names.
    images.pull("busybox-test")
    im = images.image("busybox-test")
    assert im is not None, "ImageStatus('busybox-test') found nothing"
    assert same_id(im.id, image_set.busybox)
    assert f"{registry.host}/busybox-test:latest" in im.repo_tags, im.repo_tags


def test_pull_through_mirror(make_image_daemon, pb, registry, image_set):
    # The registry name does not resolve; its first mirror refuses
    # connections; the second is the test registry.
    name = "registry.ocid-test.invalid"
    dead = f"127.0.0.1:{free_port()}"
    d = make_image_daemon(image={"mirrors": [
        {"registry": name, "locations": [dead, registry.host]}]})
    images = Images(d, pb)
    ref = f"{name}/busybox-test:latest"
    images.pull(ref)
    im = images.image(ref)
    assert im is not None and same_id(im.id, image_set.busybox)
    assert ref in im.repo_tags


def test_list_images_filter(images, registry, image_set):
    a = f"{registry.host}/busybox-test:latest"
    b = f"{registry.host}/busybox-named:latest"
    images.pull(a)
    images.pull(b)
    all_ids = sorted(i.id.split(":")[-1] for i in images.list())
    assert all_ids == sorted([image_set.busybox.id_hex, image_set.named.id_hex])
    only_a = images.list(a)
    assert len(only_a) == 1 and same_id(only_a[0].id, image_set.busybox), only_a
    by_id = images.list(only_a[0].id)
    assert len(by_id) == 1 and by_id[0].id == only_a[0].id, by_id
    assert images.list(f"{registry.host}/no-such-image:latest") == []
    # An empty filter is no filter.
    assert len(images.list("")) == 2


def test_remove_tag_then_id(images, registry, image_set):
    latest = f"{registry.host}/busybox-test:latest"
    v1 = f"{registry.host}/busybox-test:v1"
    images.pull(latest)
    images.pull(v1)
    im = images.image(latest)
    assert sorted(im.repo_tags) == sorted([latest, v1])
    assert images.image(v1).id == im.id

    images.remove(latest)                   # untags only
    assert images.image(latest) is None
    left = images.image(v1)
    assert left is not None, "removing one tag of two removed the image"
    assert list(left.repo_tags) == [v1]
    assert [i.id for i in images.list()] == [im.id]

    images.remove(im.id)                    # removes the image
    assert images.image(v1) is None
    assert images.image(im.id) is None
    assert images.list() == []

    images.remove(im.id)                    # idempotent
    images.remove(latest)


def test_remove_by_digest(images, registry, image_set):
    digest_ref = f"{registry.host}/busybox-test@{image_set.busybox.digest}"
    images.pull(digest_ref)
    assert images.image(digest_ref) is not None
    images.remove(digest_ref)
    assert images.image(digest_ref) is None
    assert images.list() == []


def test_remove_frees_unshared_layers(images, registry, image_set, storage_module):
    images.pull(f"{registry.host}/shared/a:latest")
    images.pull(f"{registry.host}/shared/b:latest")
    a, b = image_set.shared_a, image_set.shared_b
    images.remove(f"{registry.host}/shared/a:latest")
    held = set(layer_dirs(images.daemon, storage_module))
    want = {c.split(":")[1] for c in b.chain_ids}
    assert held == want, (
        f"after removing shared/a the storage holds {sorted(held)}, "
        f"want the layers of shared/b only {sorted(want)}")
    assert not blob_path(images.daemon, a.layers[1].digest).exists()
    assert blob_path(images.daemon, b.layers[0].digest).exists()


def test_image_fs_info_grows(images, registry):
    before = images.fs_info()
    assert before.image_filesystems, "ImageFsInfo has no image filesystem"
    fs0 = before.image_filesystems[0]
    assert fs0.fs_id.mountpoint, "image filesystem without a mountpoint"
    assert before.container_filesystems, "ImageFsInfo has no container filesystem"
    assert before.container_filesystems[0].fs_id.mountpoint
    images.pull(f"{registry.host}/busybox-test:latest")
    fs1 = images.fs_info().image_filesystems[0]
    # At least the compressed blobs (1 MB) and their files (5).
    assert fs1.used_bytes.value >= fs0.used_bytes.value + 1000 * 1000, (
        f"used bytes {fs0.used_bytes.value} -> {fs1.used_bytes.value} "
        "after pulling a 1 MB (compressed) image")
    assert fs1.inodes_used.value >= fs0.inodes_used.value + 5, (
        f"inodes {fs0.inodes_used.value} -> {fs1.inodes_used.value}")
    assert fs1.timestamp > 0


def test_repull_fetches_no_blobs(images, registry, image_set):
    ref = f"{registry.host}/shared/a:latest"
    im = image_set.shared_a
    mark = registry.log_offset()
    images.pull(ref)
    want = {d: 1 for d in im.blobs()}
    got = wait_stable(lambda: registry.blob_gets(mark))
    assert got == want, f"first pull fetched {got}, want each blob once: {want}"
    mark = registry.log_offset()
    images.pull(ref)
    got = wait_stable(lambda: registry.blob_gets(mark))
    assert got == {}, f"a second pull of a present image fetched blobs: {got}"


def test_layers_shared_between_images(images, registry, image_set, storage_module):
    a, b = image_set.shared_a, image_set.shared_b
    assert a.layers[0] is b.layers[0]
    mark = registry.log_offset()
    images.pull(f"{registry.host}/shared/a:latest")
    images.pull(f"{registry.host}/shared/b:latest")
    chains = {c.split(":")[1] for c in a.chain_ids + b.chain_ids}
    assert len(chains) == 3
    held = set(layer_dirs(images.daemon, storage_module))
    assert held == chains, (
        f"storage holds layers {sorted(held)}, want {sorted(chains)} "
        "(the shared base once)")
    gets = wait_stable(lambda: registry.blob_gets(mark))
    assert gets.get(a.layers[0].digest) == 1, (
        f"the shared base layer was fetched {gets.get(a.layers[0].digest)} times")


def test_layer_contents_on_disk(images, registry, image_set, storage_module):
    im = image_set.busybox
    images.pull(f"{registry.host}/busybox-test:latest")
    d = images.daemon
    trees = [layer_tree(d, storage_module, c) for c in im.chain_ids]
    assert all(trees), f"missing layer directories: {dict(zip(im.chain_ids, trees))}"
    base, files, top = trees

    busybox = Path(builder.BUSYBOX)
    assert (base / "bin/busybox").stat().st_size == busybox.stat().st_size
    assert os.readlink(base / "bin/sh") == "busybox"
    assert (base / "etc/passwd").read_bytes() == builder.PASSWD
    assert stat.S_IMODE((base / "tmp").stat().st_mode) == 0o1777

    assert (files / "data/hello.txt").read_text() == "hello from the files layer\n"
    assert (files / "data/hello-link.txt").stat().st_ino == \
        (files / "data/hello.txt").stat().st_ino, "hardlink not kept"
    assert os.readlink(files / "data/hello-symlink") == "hello.txt"
    owned = (files / "data/sub/owned.txt").stat()
    assert (owned.st_uid, owned.st_gid) == (1000, 1000)
    assert stat.S_IMODE(owned.st_mode) == 0o640

    assert not (top / "data/.wh.todelete.txt").exists()
    assert not (top / "opt/opaque/.wh..wh..opq").exists()
    assert (top / "data/added.txt").read_text() == "added by the whiteout layer\n"
    assert (top / "opt/opaque/new").exists()
    if storage_module == "storage-overlay":
        # Each layer holds its own changes; whiteouts become overlay ones.
        assert is_overlay_whiteout(top / "data/todelete.txt"), (
            "the whiteout of data/todelete.txt is not a 0/0 char device")
        assert overlay_opaque(top / "opt/opaque") == b"y", (
            "opt/opaque is not marked opaque")
        assert not (top / "bin").exists()
    else:
        # storage-vfs: each layer is a full copy with the whiteouts applied.
        assert (top / "bin/busybox").stat().st_size == busybox.stat().st_size
        assert (top / "data/hello.txt").exists()
        assert not os.path.lexists(top / "data/todelete.txt")
        assert sorted(os.listdir(top / "opt/opaque")) == ["new"]
        assert (top / "etc/passwd").read_bytes() == builder.PASSWD


def test_layers_make_the_union_view(images, registry, image_set,
                                    storage_module, tmp_path):
    """What a container of busybox-test sees: for storage-overlay a
    read-only overlay mount of the layer directories (what the module's
    rootfs mount stacks), for storage-vfs the top layer itself."""
    im = image_set.busybox
    images.pull(f"{registry.host}/busybox-test:latest")
    trees = [layer_tree(images.daemon, storage_module, c) for c in im.chain_ids]
    assert all(trees), trees
    view, mounted = trees[-1], False
    if storage_module == "storage-overlay":
        view = tmp_path / "merged"
        view.mkdir()
        lower = ":".join(str(t) for t in reversed(trees))
        r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                            f"ro,lowerdir={lower}", str(view)],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"overlay mount of the layers: {r.stderr}"
        mounted = True
    try:
        assert (view / "bin/busybox").is_file()
        assert os.readlink(view / "bin/sh") == "busybox"
        assert (view / "etc/passwd").read_bytes() == builder.PASSWD
        assert (view / "data/hello.txt").read_text() == "hello from the files layer\n"
        assert (view / "data/added.txt").exists()
        assert not os.path.lexists(view / "data/todelete.txt"), (
            "the whiteout does not hide data/todelete.txt")
        assert sorted(os.listdir(view / "data")) == [
            "added.txt", "hello-link.txt", "hello-symlink", "hello.txt",
            "keep.txt", "sub"]
        assert sorted(os.listdir(view / "opt/opaque")) == ["new"], (
            "the opaque directory shows files of the layers below")
    finally:
        if mounted:
            subprocess.run(["umount", str(view)], check=True)


def test_unknown_tag_is_not_found(images, registry):
    ref = f"{registry.host}/busybox-test:no-such-tag"
    e = images.pull_error(ref)
    assert e.code() == grpc.StatusCode.NOT_FOUND, (e.code(), e.details())
    assert "busybox-test" in e.details() and "no-such-tag" in e.details(), e.details()
    e = images.pull_error(f"{registry.host}/no-such-repo:latest")
    assert e.code() == grpc.StatusCode.NOT_FOUND, (e.code(), e.details())
    assert "no-such-repo" in e.details(), e.details()
    assert images.list() == []


# --- the fake registry: auth, concurrency, faults ------------------------------

@pytest.fixture
def fake_images(make_image_daemon, pb):
    """An ImageService client on a fresh daemon, for fake-registry tests."""
    return Images(make_image_daemon(), pb)


def test_token_auth_anonymous(fake_images, fake_registry, image_set):
    fake_registry.add("public/busybox", image_set.busybox)
    ref = f"{fake_registry.host}/public/busybox:latest"
    fake_images.pull(ref)
    assert same_id(fake_images.image(ref).id, image_set.busybox)
    tokens = sum(n for k, n in fake_registry.counts.items() if k[0] == "token")
    assert tokens >= 1, "the pull never asked the token endpoint"


def test_token_auth_credentials(fake_images, fake_registry, image_set):
    fake_registry.add("private/busybox", image_set.busybox, tags=("a", "b", "c"),
                      private=True)
    base = f"{fake_registry.host}/private/busybox"

    e = fake_images.pull_error(f"{base}:a")
    assert e.code() in (grpc.StatusCode.PERMISSION_DENIED,
                        grpc.StatusCode.UNAUTHENTICATED), (e.code(), e.details())
    assert "unauthorized" in e.details().lower(), e.details()
    e = fake_images.pull_error(f"{base}:a",
                               auth={"username": "ocid", "password": "wrong"})
    assert e.code() in (grpc.StatusCode.PERMISSION_DENIED,
                        grpc.StatusCode.UNAUTHENTICATED), (e.code(), e.details())
    assert "unauthorized" in e.details().lower(), e.details()
    assert fake_images.list() == []
    assert fake_registry.blob_gets() == {}, "blobs served without credentials"

    fake_images.pull(f"{base}:a", auth={"username": "ocid", "password": "s3cret"})
    auth = base64.b64encode(b"ocid:s3cret").decode()
    fake_images.pull(f"{base}:b", auth={"auth": auth})
    # A registry token is sent as the bearer token as it is.
    status, body = fake_registry.issue_token(
        ["repository:private/busybox:pull"], "Basic " + auth)
    assert status == 200
    fake_images.pull(f"{base}:c", auth={"registry_token": body["token"]})
    im = fake_images.image(f"{base}:a")
    assert sorted(im.repo_tags) == [f"{base}:a", f"{base}:b", f"{base}:c"]


def test_concurrent_pulls_fetch_once(fake_images, fake_registry, image_set):
    im = image_set.busybox
    fake_registry.add("slow/busybox", im)
    fake_registry.blob_delay = 0.5      # keeps both pulls in flight together
    ref = f"{fake_registry.host}/slow/busybox:latest"
    barrier = threading.Barrier(2)
    results = [None, None]

    def pull(i):
        barrier.wait()
        try:
            results[i] = fake_images.pull(ref)
        except grpc.RpcError as e:
            results[i] = e

    threads = [threading.Thread(target=pull, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(PULL_TIMEOUT)
    for r in results:
        assert isinstance(r, str), f"a concurrent pull failed: {r}"
    assert results[0] == results[1]
    gets = fake_registry.blob_gets()
    assert gets == {d: 1 for d in im.blobs()}, (
        f"two concurrent pulls fetched {gets}; each blob once expected")
    assert [i.id for i in fake_images.list()] == [fake_images.image(ref).id]


def test_wrong_layer_digest(fake_images, fake_registry, image_set):
    im = image_set.busybox
    fake_registry.add("bad/busybox", im)
    bad = im.layers[1].digest
    fake_registry.fault(bad, CORRUPT)
    ref = f"{fake_registry.host}/bad/busybox:latest"
    e = fake_images.pull_error(ref)
    assert "digest" in e.details().lower() and bad in e.details(), e.details()
    assert_no_image(fake_images, ref)
    assert not blob_path(fake_images.daemon, bad).exists(), (
        "a blob that failed verification was stored")
    # The next pull, with the right bytes, works.
    fake_registry.fault(bad, None)
    fake_images.pull(ref)
    assert same_id(fake_images.image(ref).id, im)


def test_wrong_config_digest(fake_images, fake_registry, image_set):
    im = image_set.shared_a
    fake_registry.add("bad/config", im)
    fake_registry.fault(im.config_digest, CORRUPT)
    ref = f"{fake_registry.host}/bad/config:latest"
    e = fake_images.pull_error(ref)
    assert "digest" in e.details().lower(), e.details()
    assert_no_image(fake_images, ref)
    assert not blob_path(fake_images.daemon, im.config_digest).exists()


def test_wrong_manifest_digest(fake_images, fake_registry, image_set):
    im = image_set.busybox
    fake_registry.add("bad/manifest", im)
    # Pulled by digest, the bytes served are not that digest's.
    fake_registry.fault(im.digest, CORRUPT)
    by_digest = f"{fake_registry.host}/bad/manifest@{im.digest}"
    e = fake_images.pull_error(by_digest)
    assert "digest" in e.details().lower(), e.details()
    fake_registry.fault(im.digest, None)
    # Pulled by tag, the registry's Docker-Content-Digest disagrees.
    fake_registry.fault("bad/manifest:latest", WRONG_DIGEST_HEADER)
    e = fake_images.pull_error(f"{fake_registry.host}/bad/manifest:latest")
    assert "digest" in e.details().lower(), e.details()
    assert fake_images.list() == []
    assert fake_registry.blob_gets() == {}, "blobs fetched for a bad manifest"


def test_truncated_blob(fake_images, fake_registry, image_set):
    im = image_set.busybox
    fake_registry.add("cut/busybox", im)
    fake_registry.fault(im.layers[0].digest, TRUNCATE)
    ref = f"{fake_registry.host}/cut/busybox:latest"
    fake_images.pull_error(ref)
    assert_no_image(fake_images, ref)
    assert not blob_path(fake_images.daemon, im.layers[0].digest).exists()
    fake_registry.fault(im.layers[0].digest, None)
    fake_images.pull(ref)
    assert fake_images.image(ref) is not None


def test_registry_500(fake_images, fake_registry, image_set):
    im = image_set.shared_a
    fake_registry.add("err/manifest", im)
    fake_registry.add("err/blob", im)
    fake_registry.fault("err/manifest:latest", ERROR500)
    e = fake_images.pull_error(f"{fake_registry.host}/err/manifest:latest")
    assert "500" in e.details(), e.details()
    fake_registry.fault(im.layers[1].digest, ERROR500)
    e = fake_images.pull_error(f"{fake_registry.host}/err/blob:latest")
    assert "500" in e.details(), e.details()
    assert fake_images.list() == []


def test_stalled_blob_is_aborted(make_image_daemon, pb, fake_registry, image_set):
    images = Images(make_image_daemon(image={"pull_progress_timeout": 2}), pb)
    im = image_set.shared_a
    fake_registry.add("stall/a", im)
    fake_registry.fault(im.layers[0].digest, STALL)
    ref = f"{fake_registry.host}/stall/a:latest"
    try:
        t0 = time.monotonic()
        e = images.pull_error(ref, timeout=60)
        took = time.monotonic() - t0
    finally:
        fake_registry.release.set()
    assert "progress" in e.details(), e.details()
    assert 1.5 <= took < 20, f"a 2 s stall limit ended the pull after {took:.1f} s"
    assert_no_image(images, ref)


def test_pull_deadline_honoured(fake_images, fake_registry, image_set):
    im = image_set.shared_a
    fake_registry.add("stall/deadline", im)
    fake_registry.fault(im.layers[0].digest, STALL)
    ref = f"{fake_registry.host}/stall/deadline:latest"
    try:
        t0 = time.monotonic()
        e = fake_images.pull_error(ref, timeout=3)
        took = time.monotonic() - t0
    finally:
        fake_registry.release.set()
    assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, (e.code(), e.details())
    assert took < 10
    # The daemon gave up on it as well: it answers, and lists nothing.
    assert_no_image(fake_images, ref)


def test_pull_killed_midway_then_retried(make_image_daemon, pb, fake_registry,
                                         image_set):
    d = make_image_daemon()
    images = Images(d, pb)
    im = image_set.busybox
    fake_registry.add("kill/busybox", im)
    stalled = im.layers[1].digest
    fake_registry.fault(stalled, STALL)
    ref = f"{fake_registry.host}/kill/busybox:latest"
    outcome = []

    def pull():
        try:
            outcome.append(images.pull(ref))
        except grpc.RpcError as e:
            outcome.append(e)

    t = threading.Thread(target=pull)
    t.start()
    try:
        fake_registry.wait_started("blob", stalled)
        d.kill()                        # SIGKILL, mid-blob
        t.join(30)
    finally:
        fake_registry.fault(stalled, None)
        fake_registry.release.set()
    assert outcome, "the pull did not end when its daemon was killed"
    assert isinstance(outcome[0], grpc.RpcError), (
        f"the pull succeeded although its daemon was killed: {outcome[0]}")
    d.close_channels()
    d.start()
    images = Images(d, pb)
    assert_no_image(images, ref)
    images.pull(ref)
    assert [i.id.split(":")[-1] for i in images.list()] == [im.id_hex]


# --- hostile layers -------------------------------------------------------------

def sha256_file(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_symlink_then_file(trees):
    evil = trees[0] / "evil"
    assert evil.is_file() and not evil.is_symlink(), "the link was kept"
    assert evil.read_text() == "written over the link\n"


def check_own_passwd(trees):
    pw, own = trees[0] / "pw", trees[0] / "etc/passwd"
    assert pw.read_text() == "root::0:0::/:/bin/sh\n"
    assert own.read_text() == "layer:x:0:0::/:/bin/sh\n", (
        "writing 'pw' wrote through its hardlink to the layer's etc/passwd")


# case: (sentinel suffixes that must be inside the layers when the pull
# succeeds, a further check of the layer trees then). Refusing the layer
# (the pull fails with a message) is always an acceptable outcome.
HOSTILE = {
    "dotdot": ([], None),
    "absolute": (["-abs"], None),
    "symlink-root": (["-symroot"], None),
    "symlink-up": (["-symup"], None),
    "symlink-etc": (["-etc"], None),
    "symlink-loop": ([], None),
    "symlink-then-file": ([], check_symlink_then_file),
    "hardlink-passwd": ([], None),
    "hardlink-own-passwd": ([], check_own_passwd),
    "hardlink-up": ([], None),
    "cross-layer-symlink": (["-cross"], None),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_layer(fake_images, fake_registry, storage_module, case):
    sentinel = f"ocid-escape-{secrets.token_hex(4)}"
    im = builder.hostile_images(sentinel)[case]
    fake_registry.add("hostile/x", im, tags=(case,))
    ref = f"{fake_registry.host}/hostile/x:{case}"
    passwd = Path("/etc/passwd")
    passwd_before = (sha256_file(passwd), passwd.stat().st_nlink)
    d = fake_images.daemon

    try:
        fake_images.pull(ref)
        pulled, why = True, ""
    except grpc.RpcError as e:
        pulled, why = False, e.details()

    # Nothing outside: no sentinel on the host, /etc/passwd untouched.
    for top in ("/tmp", "/etc", "/", str(d.dir.parent)):
        leaks = [str(p) for p in Path(top).glob("ocid-escape-*")]
        assert not leaks, f"{case}: files escaped the layer: {leaks}"
    assert (sha256_file(passwd), passwd.stat().st_nlink) == passwd_before, (
        f"{case}: /etc/passwd changed")
    host_pw = passwd.stat()
    trees = [t for t in (layer_tree(d, storage_module, c) for c in im.chain_ids) if t]
    for hit in find_named(d.dir, sentinel):
        assert any(t in hit.parents for t in trees), (
            f"{case}: {hit} is outside every layer directory {trees}")
    for dirpath, _, files in os.walk(d.root):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            assert (st.st_dev, st.st_ino) != (host_pw.st_dev, host_pw.st_ino), (
                f"{case}: {dirpath}/{f} is a hardlink to the host's /etc/passwd")

    if not pulled:
        assert_no_image(fake_images, ref)
        assert why, f"{case}: refused without a message"
        return
    assert len(trees) == len(im.chain_ids), f"{case}: pulled but layers missing"
    suffixes, check = HOSTILE[case]
    for suffix in suffixes:
        inside = [h for t in trees for h in find_named(t, sentinel + suffix)]
        assert inside, (f"{case}: pulled, but {sentinel}{suffix} is in no "
                        f"layer directory {trees}")
    if check:
        check(trees)


# --- ocid image import / ocid image ls ------------------------------------------

def ocid_image(daemon, *args):
    r = run_ocid("--config", daemon.conf, "image", *args, timeout=120,
                 env=daemon_env(False))
    assert r.returncode == 0, (
        f"ocid image {' '.join(map(str, args))}: exit {r.returncode}\n"
        f"stdout: {r.stdout}\nstderr: {r.stderr}")
    return r.stdout


def check_imported(images, daemon, name, obj):
    im = images.image(name)
    assert im is not None, (
        f"ImageStatus({name!r}) finds nothing after the import; images: "
        f"{images.list()}")
    assert same_id(im.id, obj)
    assert name in im.repo_tags, im.repo_tags
    assert im.id in [i.id for i in images.list()]
    ls = ocid_image(daemon, "ls")
    repo, _, tag = name.rpartition(":")
    lines = [l for l in ls.splitlines() if obj.id_hex[:12] in l]
    assert any(repo in l and tag in l for l in lines), (
        f"'ocid image ls' does not list {name} ({obj.id_hex[:12]}):\n{ls}")


def test_import_oci_layout_dir(images, image_set, tmp_path):
    d = images.daemon
    layout = builder.write_oci_layout(tmp_path / "layout", image_set.shared_a)
    ocid_image(d, "import", layout, "--name", "import.local/oci-dir:v1")
    check_imported(images, d, "import.local/oci-dir:v1", image_set.shared_a)


def test_import_oci_tar(images, image_set, tmp_path):
    d = images.daemon
    tar = builder.write_oci_tar(tmp_path / "layout.tar", image_set.busybox,
                                ref_names=["v2"])
    # --name without a tag names the repository of the input's tags.
    ocid_image(d, "import", tar, "--name", "import.local/oci-tar")
    check_imported(images, d, "import.local/oci-tar:v2", image_set.busybox)


def test_import_docker_archive(images, image_set, tmp_path):
    d = images.daemon
    tar = builder.write_docker_archive(
        tmp_path / "docker.tar", image_set.named,
        repo_tags=["import.local/docker-archive:v1"])
    ocid_image(d, "import", tar)
    check_imported(images, d, "import.local/docker-archive:v1", image_set.named)
    im = images.image("import.local/docker-archive:v1")
    assert im.username == "app"
