# SPDX-License-Identifier: Apache-2.0
"""The daemon side of the images suite: its storage and image settings as
a crio.conf drop-in, and what the storage module and the image store left
on disk.

The storage ABI (include/ocid/storage.h) names layers by chain ID and keeps
everything below <root>/<module name>, layers in layers/<chain hex>/ with
their files in diff/ (storage-overlay) or root/ (storage-vfs); the image
store keeps its blobs in <root>/images/blobs/sha256/<hex>."""

import os
import re
import stat
from pathlib import Path

STORAGE_MODULES = ("storage-overlay", "storage-vfs")

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


# --- configuration -------------------------------------------------------------

def libconfig_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, dict) for x in v):
            return "( " + ", ".join(libconfig_value(x) for x in v) + " )"
        return "[ " + ", ".join(libconfig_value(x) for x in v) + " ]"
    if isinstance(v, dict):
        return "{ " + " ".join(f"{k} = {libconfig_value(x)};"
                               for k, x in v.items()) + " }"
    raise TypeError(f"no libconfig form for {v!r}")


def dropin_text(storage, image=None):
    text = f"storage = {libconfig_value(storage)};\n"
    if image:
        text += "image = {\n" + "".join(
            f"  {k} = {libconfig_value(v)};\n" for k, v in image.items()) + "};\n"
    return text


def write_dropin(daemon, storage, image=None, name="50-images.conf"):
    """Writes <daemon dir>/crio.conf.d/<name>: the storage module and the
    members of the `image` group given (a drop-in merges `image` member by
    member, so the others keep their defaults)."""
    d = daemon.dir / "crio.conf.d"
    d.mkdir(exist_ok=True)
    (d / name).write_text(dropin_text(storage, image))


# --- what is on disk -------------------------------------------------------------

def storage_dir(daemon, storage):
    return Path(daemon.root) / storage


def blob_path(daemon, digest):
    return Path(daemon.root) / "images" / "blobs" / "sha256" / digest.split(":")[1]


def layer_dirs(daemon, storage):
    """{chain hex: directory} of the complete layers the storage module
    holds: <root>/<module>/layers/<chain hex>/ (both modules' layout,
    modules/storage-common/sc-store.h)."""
    top = storage_dir(daemon, storage) / "layers"
    if not top.is_dir():
        return {}
    return {e.name: Path(e.path) for e in os.scandir(top)
            if _HEX64.match(e.name) and e.is_dir(follow_symlinks=False)}


def partial_layers(daemon, storage):
    """Names in the layers directory that are not complete layers (the
    temporary directories of a layer being built or removed)."""
    top = storage_dir(daemon, storage) / "layers"
    if not top.is_dir():
        return []
    return sorted(e.name for e in os.scandir(top) if not _HEX64.match(e.name))


# Where each module keeps a layer's files inside its layer directory: the
# layer's own changes (overlay lower dir) or its full tree (vfs).
LAYER_TREE = {"storage-overlay": "diff", "storage-vfs": "root"}


def layer_tree(daemon, storage, chain_id):
    """The directory holding layer `chain_id`'s files; None when the layer
    is absent."""
    d = layer_dirs(daemon, storage).get(chain_id.split(":")[-1])
    if d is None:
        return None
    return d / LAYER_TREE[storage]


def is_overlay_whiteout(path):
    """An overlayfs whiteout: a character device 0/0."""
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def overlay_opaque(path):
    """The opaque mark of an overlayfs directory (trusted.overlay.opaque,
    or user.overlay.opaque for userxattr mounts), or None."""
    for name in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            return os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            pass
    return None


def find_named(top, prefix):
    """Every path below `top` (not following symlinks) whose name starts
    with `prefix`."""
    hits = []
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for n in dirnames + filenames:
            if n.startswith(prefix):
                hits.append(Path(dirpath) / n)
    return hits
