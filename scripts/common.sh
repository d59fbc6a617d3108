# Sourced by the scripts in this directory: where the tree and the build are.
# shellcheck shell=bash

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# A tree configured by hand (./configure in the source directory) cannot also
# host an out-of-tree build, so use it as the build directory; otherwise build
# in _build/ (or in $OCID_BUILD_DIR).
if [ -n "${OCID_BUILD_DIR:-}" ]; then
	builddir=$OCID_BUILD_DIR
elif [ -f "$top/config.status" ]; then
	builddir=$top
else
	builddir=$top/_build
fi
