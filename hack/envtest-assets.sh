#!/usr/bin/env bash
# Builds the envtest binaries (kube-apiserver, etcd, controller-gen) and the rest of a control
# plane (kube-controller-manager, kube-scheduler) from source with the
# versions pinned in hack/envtest/go.mod, into a cache directory keyed by those versions, and
# prints that directory on stdout. Binaries already there are not rebuilt, so a second call
# returns at once. Usage:
#   export KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh)
# The first build takes 10-20 minutes on 2 cores (16 measured, module downloads included).
# Concurrent callers build once. Progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mod="$here/envtest"

k8s=v1.37.2
etcd=v3.7.3
cg=v0.23.0
# Keep in step with hack/envtest/go.mod and with the default in chaos/mesh/envtest_test.go.
key="envtest-k8s${k8s#v}-etcd${etcd#v}-cg${cg#v}"
dir="${ENVTEST_ASSETS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ddp-verify/$key}"
mkdir -p "$dir"
# One build at a time per cache directory: a second caller (say another worktree's `make test`)
# waits for the first and then finds the binaries there instead of building them again.
exec 9>"$dir/.lock"
if command -v flock >/dev/null; then
  flock -n 9 || { echo "envtest-assets: waiting for another build into $dir" >&2; flock 9; }
fi

build() { # build NAME PACKAGE
  local name=$1 pkg=$2
  if [ -x "$dir/$name" ]; then return; fi
  echo "envtest-assets: building $name ($pkg)" >&2
  # Build to a temporary name and rename, so an interrupted build never leaves a binary that
  # looks complete.
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath -o "$dir/.$name.tmp" "$pkg") >&2
  mv "$dir/.$name.tmp" "$dir/$name"
}

build etcd ./etcd
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
# The rest of a control plane, for the local Kubernetes target (`ddp-verify cluster up`).
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
build controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen
echo "$dir"
