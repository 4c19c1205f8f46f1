// Package testenv names what the test suite needs from the machine beyond Go, and how to get
// it: the envtest binaries (kube-apiserver, etcd, controller-gen, kube-controller-manager,
// kube-scheduler), the Chaos Mesh controller manager, headless chromium, the
// Debian prometheus server, Debian's Alertmanager (amtool) and, for `make bench`, wrk.
//
// A test that finds one missing calls [Missing], which fails it with the one command that
// provides it: a missing dependency never turns into a silent skip, so a green `make test`
// means the whole suite ran. `make test` builds the envtest binaries itself; the Debian
// packages need root, so the tests ask for them.
//
// # Opting out
//
// A developer who cannot install a package may set DDP_TEST_SKIP to a comma-separated list of
// dependency names (envtest, chaos-mesh, chromium, prometheus, alertmanager, wrk): the tests that need a listed one skip
// when it is missing, with a SKIPPED line that says so, and `make test` warns before it starts
// that the run is not the whole suite. DDP_TEST_SKIP has no effect under CI=true.
//
// # A refused address
//
// Tests of unreachable servers take [RefusedAddr], a port that refuses connections for the
// whole test, rather than closing a listener and hoping nobody takes its port.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// SkipVar is the environment variable that lists the dependencies a developer opted out of.
const SkipVar = "DDP_TEST_SKIP"

// Dep is one thing the tests need from the machine.
type Dep struct {
	Name    string // as SkipVar lists it
	Install string // the one command that provides it, run from the repository root
}

// The suite's dependencies.
var (
	Envtest = Dep{Name: "envtest", Install: "export KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh)   (make test does this; 10-20 minutes the first time, cached afterwards)"}
	// ChaosMesh is the real Chaos Mesh controller manager built from the source snapshot.
	ChaosMesh = Dep{Name: "chaos-mesh", Install: "export CHAOS_MESH_ASSETS=$(hack/chaos-mesh.sh)   (make test does this; about 7 minutes the first time, cached afterwards)"}
	// MetricsServer is the real metrics-server built from the module proxy's source.
	MetricsServer = Dep{Name: "metrics-server", Install: "export METRICS_SERVER_ASSETS=$(hack/metrics-server.sh)   (make test does this; about 5 minutes the first time, cached afterwards)"}
	Chromium      = Dep{Name: "chromium", Install: "apt-get install -y chromium"}
	Prometheus    = Dep{Name: "prometheus", Install: "apt-get install -y prometheus"}
	Wrk           = Dep{Name: "wrk", Install: "apt-get install -y wrk"}
	// Alertmanager is Debian's prometheus-alertmanager, for amtool.
	Alertmanager = Dep{Name: "alertmanager", Install: "apt-get install -y prometheus-alertmanager"}
)

// OptedOut reports whether SkipVar lists d, outside CI.
func OptedOut(d Dep) bool {
	if os.Getenv("CI") == "true" {
		return false
	}
	return slices.Contains(strings.Split(os.Getenv(SkipVar), ","), d.Name)
}

// Message is the failure text for d missing; what says what was looked for. TestMain, which
// has no testing.TB, prints it.
func (d Dep) Message(what string) string {
	return fmt.Sprintf("%s: %s is missing. Get it with:\n\t%s\n(or set %s=%s to skip the tests that need it, which is then not the whole suite)",
		what, d.Name, d.Install, SkipVar, d.Name)
}

// SkipMessage is the skip text for d missing when the developer opted out of it.
func (d Dep) SkipMessage(what string) string {
	return fmt.Sprintf("SKIPPED because %s=%s: %s (%s is missing; install: %s)", SkipVar, os.Getenv(SkipVar), what, d.Name, d.Install)
}

// Missing ends tb because d is missing: it fails with the command that installs d, or skips
// when the developer opted out of d ([OptedOut]). what says what was looked for.
func Missing(tb testing.TB, d Dep, what string) {
	tb.Helper()
	if OptedOut(d) {
		tb.Skip(d.SkipMessage(what))
	}
	tb.Fatal(d.Message(what))
}

// LookPath returns the path of the first of names found in PATH, and calls [Missing] for d
// when none is.
func LookPath(tb testing.TB, d Dep, names ...string) string {
	tb.Helper()
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Missing(tb, d, fmt.Sprintf("none of %s in PATH", strings.Join(names, ", ")))
	return ""
}
