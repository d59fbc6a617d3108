# SPDX-License-Identifier: Apache-2.0
"""Helpers for the images part of ocid's integration suite (and bench/):

- builder: OCI and Docker test images built from Debian's busybox-static,
  pushed to a registry over the distribution API, written as OCI layouts
  and docker-archive tars;
- registry: Debian's docker-registry on 127.0.0.1, one per session;
- fakeregistry: a small token-auth registry in a thread, with injected
  faults (wrong digests, truncated and stalled blobs, HTTP errors) and
  request counts;
- storage: what a storage module left on disk (layer directories by chain
  ID) and the daemon's image settings as a crio.conf drop-in.

Python standard library only; zstd layers need the `zstd` program."""
