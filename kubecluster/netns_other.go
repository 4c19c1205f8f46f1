//go:build !linux

package kubecluster

import (
	"context"
	"errors"
	"io"
)

var errNoNetns = errors.New("kubecluster: network namespaces (the pod network) need Linux")

// RunInNetworkNamespace needs Linux.
func RunInNetworkNamespace(context.Context, []string, []string, io.Writer, io.Writer) (int, error) {
	return 0, errNoNetns
}

// SetUpPodNetwork needs Linux.
func SetUpPodNetwork() error { return errNoNetns }
