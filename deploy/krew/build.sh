#!/bin/sh
# The krew archive: the launcher and the LICENSE, as deploy/krew/microseg.yaml lists them.
# Usage: deploy/krew/build.sh [OUT_DIR]   (prints the archive's path and sha256)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../../dist"}
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$here/kubectl-microseg" "$stage/"
if [ -f "$here/../../LICENSE" ]; then cp "$here/../../LICENSE" "$stage/"; else
  printf 'Apache-2.0\n' > "$stage/LICENSE"; fi
tar -C "$stage" -czf "$out/kubectl-microseg.tar.gz" kubectl-microseg LICENSE
sha256sum "$out/kubectl-microseg.tar.gz"
