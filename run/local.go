package run

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/dailydoco/ddp-verify/chaos/local"
	"github.com/dailydoco/ddp-verify/platform/cluster"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/prom"
)

// PlatformJob is the scrape job of every reference platform process (from the supervisor's
// file_sd list, so replacement processes are picked up).
const PlatformJob = "platform"

// startLocal starts the reference platform for a local run, with its data under dir/platform.
func startLocal(ctx context.Context, o Options, dir string, log *slog.Logger) (*platformHandle, error) {
	topo, err := resolveTopology(o)
	if err != nil {
		return nil, err
	}
	exec := o.Exec
	if exec == nil {
		if exec, err = cluster.SelfExec(); err != nil {
			return nil, infra("locate the ddp-verify binary to start the platform: %w", err)
		}
	}
	c, err := cluster.Start(ctx, cluster.Options{Topology: topo, Exec: exec, Dir: filepath.Join(dir, "platform"), Logger: log})
	if err != nil {
		return nil, infra("start the local reference platform: %w", err)
	}
	var backend *local.Backend
	if !o.NoChaos && len(o.Profile.Chaos) > 0 {
		if backend, err = local.New(c.ControlURL(), c.ControlToken(), local.Options{Logger: log}); err != nil {
			c.Stop()
			return nil, infra("connect the chaos backend to the platform supervisor: %w", err)
		}
	}
	return &platformHandle{
		name:     "local",
		url:      c.GatewayURL(),
		jobs:     []prom.Job{{Name: PlatformJob, FileSD: []string{c.FileSDPath()}}},
		backend:  backend,
		stop:     c.Stop,
		versions: map[string]string{"platform": "reference (" + topo.Name + ")"},
	}, nil
}

// resolveTopology picks the topology: the option, else the profile's ("default" is built in).
func resolveTopology(o Options) (*topology.Topology, error) {
	if o.TopologyOverride != nil {
		return o.TopologyOverride, nil
	}
	name := o.Topology
	if name == "" {
		name = o.Profile.Topology
	}
	if name == "" || name == "default" {
		return topology.Default(), nil
	}
	t, err := topology.Load(name)
	if err != nil {
		return nil, badInput("topology: %w", err)
	}
	return t, nil
}
