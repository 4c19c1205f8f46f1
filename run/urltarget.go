package run

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/prom"
)

// URLTarget is a platform already running at a URL (a staging deployment, or `ddp-verify
// platform up`). Its SLIs come from its Prometheus, the generator's own metrics are pushed
// there by remote write, and its faults run through the backend Chaos makes.
type URLTarget struct {
	URL           string
	PrometheusURL string
	// RemoteWriteURL receives the generator's metrics; default PrometheusURL + /api/v1/write.
	RemoteWriteURL string
	// ExpectJobs are scrape jobs Prometheus must report healthy in preflight.
	ExpectJobs []string
	// Chaos returns the backend that injects the plan's faults (cmd builds a Chaos Mesh one).
	// It is called once, with the run's id, which must label everything the backend creates,
	// so that `ddp-verify chaos cleanup --run-id` finds what a dead run left. A backend with a
	// Preflight(ctx) error method is checked in preflight.
	Chaos func(runID string) (chaos.Backend, error)
	// Guardrails bound what the faults may hit (namespace allow-list, node and pod shares).
	Guardrails chaos.Guardrails
	// FixedCosts declares the managed services' costs when the platform does not export
	// dailydoco_fixed_hourly_cost itself.
	FixedCosts *FixedCosts
	// AlertRules, when set, is a rule file the harness evaluates itself against the target's
	// data, for a platform whose Prometheus runs no alert rules: Prometheus's rule manager in
	// an embedded server under the run directory (alerts-tsdb/) queries PrometheusURL, with the
	// profile's alerts.for_scale applied, and the alerts are read there. Nil reads the target
	// Prometheus's own ALERTS and rules.
	AlertRules []byte
}

var _ Target = (*URLTarget)(nil)

// Check validates the URLs and that faults have a backend.
func (t *URLTarget) Check(plan *profile.Plan, faults bool) error {
	if err := checkURL("target", t.URL); err != nil {
		return err
	}
	if t.PrometheusURL == "" {
		return badInput("a URL target needs --prometheus-url: the Prometheus that scrapes the platform")
	}
	if err := checkURL("prometheus-url", t.PrometheusURL); err != nil {
		return err
	}
	if t.RemoteWriteURL != "" {
		if err := checkURL("remote-write-url", t.RemoteWriteURL); err != nil {
			return err
		}
	}
	if faults && t.Chaos == nil {
		return badInput("profile %s has faults, and a URL target injects them through Chaos Mesh: add --chaos-backend mesh with --namespace NS (the platform's namespaces; --kubeconfig and --context pick the cluster), or --no-chaos to skip them", plan.Name())
	}
	if t.AlertRules != nil {
		return checkAlertRules(plan.Profile, t.AlertRules, faults)
	}
	return nil
}

// Open connects to the platform's Prometheus and makes the chaos backend. Once preflight has
// passed, the platform's Start pushes the generator's metrics for the first time, so that a
// receiver that refuses them fails the run then, not at the evaluation.
func (t *URLTarget) Open(ctx context.Context, env Env) (*Platform, error) {
	api, err := prometheusAPI(t.PrometheusURL)
	if err != nil {
		return nil, err
	}
	p := &Platform{
		Name: t.URL, BaseURL: strings.TrimSuffix(t.URL, "/"), Prometheus: api, RemoteWriteURL: t.remoteWriteURL(),
		ExpectJobs: t.ExpectJobs, Guardrails: t.Guardrails,
		Versions: map[string]string{"prometheus": "external " + t.PrometheusURL},
	}
	if env.Faults {
		if p.Chaos, err = t.Chaos(env.RunID); err != nil {
			return nil, badInput("%w", err)
		}
	}
	if t.FixedCosts != nil {
		if err := env.Generator.Registerer.Register(t.FixedCosts.collector()); err != nil {
			return nil, infra("export the declared fixed costs: %w", err)
		}
	}
	closeRules := func() error { return nil }
	if t.AlertRules != nil {
		if closeRules, err = t.evaluateRules(ctx, env, p); err != nil {
			return nil, err
		}
	}
	var stop func(context.Context)
	p.Start = func(ctx context.Context) (err error) {
		stop, err = t.startPusher(ctx, env)
		return err
	}
	p.Flush = func(ctx context.Context) {
		if stop != nil {
			stop(ctx)
		}
	}
	p.Close = func() error { p.Flush(context.WithoutCancel(ctx)); return closeRules() }
	return p, nil
}

// evaluateRules starts the harness's own rule evaluator over the target's Prometheus and points
// the platform's alerts at it; the returned func stops it (compacting its TSDB).
func (t *URLTarget) evaluateRules(ctx context.Context, env Env, p *Platform) (func() error, error) {
	path, err := writeAlertRules(env.Dir, t.AlertRules, env.Plan.Profile.AlertForScale())
	if err != nil {
		return nil, err
	}
	srv, err := prom.New(ctx, prom.Options{Dir: filepath.Join(env.Dir, alertsTSDB), RuleFiles: []string{path},
		RuleSourceURL: t.PrometheusURL, Logger: env.Logger})
	if err != nil {
		return nil, badInput("alert rules: %w", err)
	}
	if p.Alerts, err = prometheusAPI(srv.URL()); err != nil {
		srv.Close()
		return nil, err
	}
	p.HarnessRules = true
	p.Versions["alert rules"] = "evaluated by ddp-verify (embedded " + prom.Version + ") over " + t.PrometheusURL
	return srv.Close, nil
}

// alertsTSDB is the directory of the harness's rule evaluator in a URL target's run directory.
const alertsTSDB = "alerts-tsdb"

// remoteWriteURL is where the generator's (and its agents') metrics go.
func (t *URLTarget) remoteWriteURL() string {
	if t.RemoteWriteURL != "" {
		return t.RemoteWriteURL
	}
	return strings.TrimSuffix(t.PrometheusURL, "/") + "/api/v1/write"
}

// startPusher sends the generator's metrics to the remote-write receiver every second, and
// once more when stopped, so the last samples arrive before evaluation. Stopping twice is
// harmless.
func (t *URLTarget) startPusher(ctx context.Context, env Env) (stop func(context.Context), err error) {
	rw := t.remoteWriteURL()
	host, _ := os.Hostname()
	p := &prom.Pusher{URL: rw, Gatherer: env.Generator.Gatherer, Logger: env.Logger,
		ExtraLabels: map[string]string{"job": GeneratorJob, "instance": host, "run_id": env.RunID}}
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
	var once sync.Once
	return func(ctx context.Context) {
		once.Do(func() {
			stopRun()
			<-done
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := p.Push(fctx); err != nil {
				env.logger().Warn("final push of the generator's metrics", "err", fmt.Sprint(err))
			}
		})
	}, nil
}

func (e Env) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
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
