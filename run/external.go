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

	"github.com/dailydoco/ddp-verify/prom"
)

// GeneratorJob is the job label of the load generator's own metrics.
const GeneratorJob = "ddp-verify"

// external describes a platform that is already running at o.TargetURL.
func external(o Options) (*platformHandle, v1.API, []prom.Job, error) {
	if err := checkURL("target", o.TargetURL); err != nil {
		return nil, nil, nil, err
	}
	if o.PrometheusURL == "" {
		return nil, nil, nil, badInput("a URL target needs --prometheus-url: the Prometheus that scrapes the platform")
	}
	if err := checkURL("prometheus-url", o.PrometheusURL); err != nil {
		return nil, nil, nil, err
	}
	if !o.NoChaos && len(o.Profile.Chaos) > 0 {
		return nil, nil, nil, badInput("profile %s has faults, but a URL target has no chaos backend in this version: add --no-chaos, or run against the local reference platform", o.Profile.Name)
	}
	api, err := prometheusAPI(o.PrometheusURL)
	if err != nil {
		return nil, nil, nil, err
	}
	var jobs []prom.Job
	for _, j := range o.ExpectJobs {
		jobs = append(jobs, prom.Job{Name: j})
	}
	return &platformHandle{name: o.TargetURL, url: strings.TrimSuffix(o.TargetURL, "/"), stop: func() error { return nil }}, api, jobs, nil
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
