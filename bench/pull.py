#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Pull benchmark: ocid's PullImage against `skopeo copy` of the same image
from the same local registry. See bench/README.md.

Run as root from the source tree after a build:
    /usr/bin/python3 bench/pull.py [--runs 5] [--layers 30] [--layer-mib 4]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRCDIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SRCDIR / "tests" / "integration"))

from images import builder  # noqa: E402
from images.registry import DockerRegistry  # noqa: E402
from images.storage import write_dropin  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5,
                   help="timed runs of each tool (default 5)")
    p.add_argument("--layers", type=int, default=30,
                   help="layers in the image (default 30)")
    p.add_argument("--layer-mib", type=float, default=4.0,
                   help="MiB of content per layer after the base (default 4)")
    p.add_argument("--storage", default="storage-overlay",
                   choices=["storage-overlay", "storage-vfs"],
                   help="ocid's storage module (default storage-overlay)")
    p.add_argument("--ocid", default=os.environ.get(
        "OCID_BIN", str(SRCDIR / "_build" / "ocid")), help="the ocid binary")
    p.add_argument("--module-dir", default=os.environ.get("OCID_MODULE_DIR"),
                   help="ocid's modules (default: next to --ocid)")
    p.add_argument("--workdir", default=None,
                   help="where to put the registry and the pulled copies "
                        "(default: a new directory under /var/tmp)")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory")
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


def time_skopeo(ref, dest):
    t0 = time.monotonic()
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                    f"docker://{ref}", f"dir:{dest}"], check=True,
                   stdin=subprocess.DEVNULL)
    took = time.monotonic() - t0
    shutil.rmtree(dest)
    return took


def time_ocid(ref, base, storage, cri, cri_grpc):
    """One PullImage on a daemon with a fresh root; only the call is timed."""
    import grpc
    from ocid_it import Daemon
    d = Daemon(base, test_service=False)
    write_dropin(d, storage)
    d.start()
    try:
        stub = cri_grpc.ImageServiceStub(d.channel())
        t0 = time.monotonic()
        try:
            stub.PullImage(cri.PullImageRequest(
                image=cri.ImageSpec(image=ref)), timeout=600)
        except grpc.RpcError as e:
            sys.exit(f"bench: ocid's PullImage failed: {e.code().name}: "
                     f"{e.details()}; log in {d.log_path}")
        took = time.monotonic() - t0
    finally:
        rc = d.stop()
    if rc != 0:
        sys.exit(f"bench: ocid exited with {rc}; log in {d.log_path}")
    shutil.rmtree(base)
    return took


def summary(name, times):
    return (f"{name:<8} median {statistics.median(times):7.2f} s   "
            f"min {min(times):7.2f} s   max {max(times):7.2f} s   "
            f"runs {' '.join(f'{t:.2f}' for t in times)}")


def main():
    a = parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (ocid unpacks layers with their owners)")
    if not os.access(a.ocid, os.X_OK):
        sys.exit(f"bench: no ocid binary at {a.ocid} (build first, or --ocid)")
    os.environ["OCID_BIN"] = a.ocid
    os.environ["OCID_MODULE_DIR"] = a.module_dir or str(
        Path(a.ocid).parent / "modules" / ".libs")
    for tool in ("skopeo", "/usr/bin/docker-registry"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing (scripts/deps installs it)")

    work = Path(a.workdir or tempfile.mkdtemp(prefix="ocid-bench-",
                                              dir="/var/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    reg = None
    try:
        cri, cri_grpc = stubs(work)
        t0 = time.monotonic()
        image = builder.bench_image(a.layers, int(a.layer_mib * 1024 * 1024))
        print(f"image: {len(image.layers)} layers, "
              f"{image.size / 1e6:.1f} MB compressed, "
              f"{sum(len(l.tar) for l in image.layers) / 1e6:.1f} MB "
              f"uncompressed (built in {time.monotonic() - t0:.1f} s)")
        reg = DockerRegistry(work / "registry").start()
        builder.push(reg.host, "bench", image, ("latest",))
        ref = f"{reg.host}/bench:latest"
        print(f"registry: docker-registry on {reg.host}; ocid storage: "
              f"{a.storage}; {a.runs} runs each, alternating")

        sk, oc = [], []
        for i in range(a.runs):
            sk.append(time_skopeo(ref, work / f"skopeo{i}"))
            oc.append(time_ocid(ref, work / f"ocid{i}", a.storage, cri,
                                cri_grpc))
            print(f"  run {i + 1}: skopeo {sk[-1]:.2f} s, ocid {oc[-1]:.2f} s",
                  flush=True)
        print(summary("skopeo", sk))
        print(summary("ocid", oc))
        print(f"ratio ocid/skopeo (medians): "
              f"{statistics.median(oc) / statistics.median(sk):.2f}")
    finally:
        if reg:
            reg.stop()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}")


if __name__ == "__main__":
    main()
