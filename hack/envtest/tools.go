//go:build tools

// Package envtest pins the commands hack/envtest-assets.sh builds, so that go.mod records
// exactly the versions the cache directory is keyed by.
package envtest

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
