package run

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/prom"
)

// GeneratorJob is the job label of the load generator's own metrics.
const GeneratorJob = "ddp-verify"

// external describes a platform that is already running at o.TargetURL, with the chaos
// backend o.Chaos makes for runID when the profile's faults are to run.
func external(o Options, runID string) (*platformHandle, v1.API, []prom.Job, error) {
	if err := checkURL("target", o.TargetURL); err != nil {
		return nil, nil, nil, err
	}
	if o.PrometheusURL == "" {
		return nil, nil, nil, badInput("a URL target needs --prometheus-url: the Prometheus that scrapes the platform")
	}
	if err := checkURL("prometheus-url", o.PrometheusURL); err != nil {
		return nil, nil, nil, err
	}
	var backend chaos.Backend
	if !o.NoChaos && len(o.Profile.Chaos) > 0 {
		if o.Chaos == nil {
			return nil, nil, nil, badInput("profile %s has faults, and a URL target injects them through Chaos Mesh: add --chaos-backend mesh with --namespace NS (the platform's namespaces; --kubeconfig and --context pick the cluster), or --no-chaos to skip them", o.Profile.Name)
		}
		var err error
		if backend, err = o.Chaos(runID); err != nil {
			return nil, nil, nil, badInput("%w", err)
		}
	}
	api, err := prometheusAPI(o.PrometheusURL)
	if err != nil {
		return nil, nil, nil, err
	}
	var jobs []prom.Job
	for _, j := range o.ExpectJobs {
		jobs = append(jobs, prom.Job{Name: j})
	}
	return &platformHandle{name: o.TargetURL, url: strings.TrimSuffix(o.TargetURL, "/"), backend: backend, guard: o.Guardrails,
		stop: func() error { return nil }}, api, jobs, nil
}

// chaosPreflight checks, changing nothing, that the backend can act (its own Preflight, when
// it has one: cluster reachable, Chaos Mesh installed) and that every fault, resolved against
// the cluster as it is now, passes the guardrails, so that a fault that would be refused
// mid-run fails the run before any load is sent.
func chaosPreflight(ctx context.Context, b chaos.Backend, faults []chaos.Fault, g chaos.Guardrails, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultPreflightTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if p, ok := b.(interface{ Preflight(context.Context) error }); ok {
		if err := p.Preflight(ctx); err != nil {
			return infra("preflight: chaos backend: %v (cluster from --kubeconfig and --context)", err)
		}
	}
	var why []string
	for _, f := range faults {
		im, err := b.Select(ctx, f)
		if err != nil {
			why = append(why, fmt.Sprintf("fault %s: select its targets: %v", f.ID, err))
			continue
		}
		if err := g.Check(f, im); err != nil {
			why = append(why, err.Error())
		}
	}
	if len(why) > 0 {
		return infra("preflight: the profile's faults cannot run on this cluster as it is now: %s; fix the fault's target, allow its namespaces (--namespace) or raise --max-node-share, or skip the faults with --no-chaos", strings.Join(why, "; "))
	}
	return nil
}

func checkURL(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return badInput("--%s %q: want an http or https URL", flag, raw)
	}
	return nil
}

func prometheusAPI(addr string) (v1.API, error) {
	client, err := promapi.NewClient(promapi.Config{Address: addr})
	if err != nil {
		return nil, infra("prometheus client for %s: %w", addr, err)
	}
	return v1.NewAPI(client), nil
}

// startPusher sends the generator's metrics to the remote-write receiver every second, and
// once more when stopped, so the last samples arrive before evaluation. The first push is made
// at once so that a receiver that refuses them fails the preflight, not the evaluation.
func startPusher(ctx context.Context, o Options, reg *prometheus.Registry, runID string, log *slog.Logger) (stop func(), err error) {
	rw := o.RemoteWriteURL
	if rw == "" {
		rw = strings.TrimSuffix(o.PrometheusURL, "/") + "/api/v1/write"
	}
	host, _ := os.Hostname()
	p := &prom.Pusher{URL: rw, Gatherer: reg, Logger: log,
		ExtraLabels: map[string]string{"job": GeneratorJob, "instance": host, "run_id": runID}}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = p.Push(pctx)
	cancel()
	if err != nil {
		return nil, infra("preflight: cannot push the load generator's metrics to %s (%v); enable the remote-write receiver (prometheus --web.enable-remote-write-receiver) or give --remote-write-url", rw, err)
	}
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(runCtx, time.Second)
	}()
	return func() {
		stopRun()
		<-done
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := p.Push(fctx); err != nil {
			log.Warn("final push of the generator's metrics", "err", fmt.Sprint(err))
		}
	}, nil
}
