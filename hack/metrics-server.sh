#!/usr/bin/env bash
# Builds the real metrics-server (sigs.k8s.io/metrics-server, Apache-2.0) from the Go module
# proxy's source at the version below into a cache directory keyed by that version, and prints
# that directory on stdout. A second call returns at once. Usage:
#   export METRICS_SERVER_ASSETS=$(hack/metrics-server.sh)
# The first build takes about 5 minutes on 2 cores alone (module downloads included; 13.5
# minutes beside three other builds) and gives a 70 MB binary. It is built in a scratch
# module of its own, with the dependencies its release pins, so none of them enter this
# repository's go.mod (built in hack/envtest against the control plane's Kubernetes v0.37.2
# libraries instead, it compiles in 30 s but panics at start: its generated OpenAPI models no
# longer match). Concurrent callers build once. Progress goes to stderr.
set -euo pipefail
version="${METRICS_SERVER_VERSION:-v0.8.0}"
dir="${METRICS_SERVER_ASSETS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ddp-verify/metrics-server-$version}"
mkdir -p "$dir"
exec 9>"$dir/.lock"
if command -v flock >/dev/null; then
  flock -n 9 || { echo "metrics-server: waiting for another build into $dir" >&2; flock 9; }
fi

if [ ! -x "$dir/metrics-server" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  echo "metrics-server: building sigs.k8s.io/metrics-server/cmd/metrics-server@$version" >&2
  # go install of a module@version builds it with its own go.mod, outside any module; the
  # binary goes to a temporary name first, so an interrupted build never leaves one that
  # looks complete.
  (cd "$work" && GOBIN="$work" CGO_ENABLED=0 GOFLAGS= go install -trimpath -ldflags='-s -w' "sigs.k8s.io/metrics-server/cmd/metrics-server@$version") >&2
  mv "$work/metrics-server" "$dir/.metrics-server.tmp"
  mv "$dir/.metrics-server.tmp" "$dir/metrics-server"
fi
echo "$dir"
