package main

import (
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/dailydoco/ddp-verify/chaos/mesh"
	"github.com/dailydoco/ddp-verify/exitcode"
)

// kubeClient connects to the cluster a kubeconfig file and context name ("" for
// $KUBECONFIG or ~/.kube/config, and its current context), with the core and Chaos Mesh
// kinds. It contacts nothing: a bad file is bad input (exit 2), and an unreachable cluster
// shows up on the first request. The client can watch, which the Chaos Mesh backend uses
// to see a chaos object's last status.
func kubeClient(kubeconfig, context string) (client.WithWatch, error) {
	setKubeLogger.Do(func() {
		ctrllog.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	})
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, exitcode.New(exitcode.BadInput, fmt.Errorf("kubeconfig: %w", err))
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: mesh.NewScheme()})
	if err != nil {
		return nil, exitcode.New(exitcode.Infra, fmt.Errorf("kubernetes client: %w", err))
	}
	return c, nil
}

// setKubeLogger gives controller-runtime its logger once: its warnings and errors go to
// stderr, and it never prints its "log.SetLogger(...) was never called" stack dump.
var setKubeLogger sync.Once
