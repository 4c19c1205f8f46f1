#!/usr/bin/env bash
# Builds the real Chaos Mesh controller manager (cmd/chaos-controller-manager) from the source
# snapshot in ../shared/third-party/chaos-mesh (or $CHAOS_MESH_SRC) into a cache directory keyed
# by the snapshot's commit, next to its CRDs (crd.yaml), and prints that directory on stdout. A
# second call returns at once. Usage:
#   export CHAOS_MESH_ASSETS=$(hack/chaos-mesh.sh)
# The first build takes about 7 minutes on 2 cores (module downloads included) and gives a 200 MB
# binary. The snapshot is read-only where CI runs, so it is copied to a scratch directory first;
# none of its code enters this repository. Concurrent callers build once. Progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="${CHAOS_MESH_SRC:-$here/../../shared/third-party/chaos-mesh}"
if [ ! -f "$src/go.mod" ] || [ ! -f "$src/README.md" ]; then
  echo "chaos-mesh: no Chaos Mesh source snapshot at $src (set CHAOS_MESH_SRC)" >&2
  exit 1
fi
commit="$(grep -oE 'at commit [0-9a-f]{40}' "$src/README.md" | head -1 | awk '{print $3}')"
if [ -z "$commit" ]; then
  echo "chaos-mesh: $src/README.md names no commit (expected 'at commit <40 hex digits>')" >&2
  exit 1
fi
dir="${CHAOS_MESH_ASSETS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ddp-verify/chaos-mesh-${commit:0:12}}"
mkdir -p "$dir"
exec 9>"$dir/.lock"
if command -v flock >/dev/null; then
  flock -n 9 || { echo "chaos-mesh: waiting for another build into $dir" >&2; flock 9; }
fi

if [ ! -x "$dir/chaos-controller-manager" ]; then
  work="$(mktemp -d)"
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  echo "chaos-mesh: building chaos-controller-manager at ${commit:0:12} (copy in $work)" >&2
  cp -R "$src/." "$work/"
  chmod -R u+w "$work"
  # Build to a temporary name and rename, so an interrupted build never leaves a binary that
  # looks complete.
  (cd "$work" && CGO_ENABLED=0 go build -trimpath -o "$dir/.chaos-controller-manager.tmp" ./cmd/chaos-controller-manager) >&2
  mv "$dir/.chaos-controller-manager.tmp" "$dir/chaos-controller-manager"
fi
if [ ! -f "$dir/crd.yaml" ]; then
  cp "$src/manifests/crd.yaml" "$dir/.crd.yaml.tmp"
  mv "$dir/.crd.yaml.tmp" "$dir/crd.yaml"
fi
echo "$dir"
