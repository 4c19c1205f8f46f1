package run

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/dailydoco/ddp-verify/chaos"
)

// preflight checks, changing nothing, that the run can start: the platform answers /ready,
// Prometheus answers and scrapes every expected job, and every fault can run (infrastructure
// error, exit 3, each message saying what to fix).
func (r *runner) preflight(ctx context.Context) error {
	timeout := orDefault(r.o.PreflightTimeout, DefaultPreflightTimeout)
	p := r.platform
	if err := r.waitReady(ctx, p.BaseURL, timeout); err != nil {
		return err
	}
	if err := r.waitJobs(ctx, p.Prometheus, p.ExpectJobs, timeout); err != nil {
		return err
	}
	if p.Chaos != nil {
		if err := chaosPreflight(ctx, p.Chaos, r.plan.Faults, p.Guardrails, timeout); err != nil {
			return err
		}
	}
	if p.Start != nil {
		return p.Start(ctx)
	}
	return nil
}

// waitReady waits until the platform answers GET /ready with 200.
func (r *runner) waitReady(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var cause error // the last failure seen before the deadline, which says more than the deadline
	for {
		err := ready(ctx, url)
		if err == nil {
			return nil
		}
		if ctx.Err() == nil || cause == nil {
			cause = err
		}
		if ctx.Err() != nil {
			return infra("preflight: the target at %s is not ready after %s: %v; is the platform running and the URL right?", url, timeout, cause)
		}
		r.sleep(ctx, 200*time.Millisecond)
	}
}

// waitJobs waits until Prometheus answers and reports every job in want healthy.
func (r *runner) waitJobs(ctx context.Context, api v1.API, want []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var cause error
	for {
		missing, err := jobsDown(ctx, api, want)
		if err == nil && len(missing) == 0 {
			return nil
		}
		if err != nil && (ctx.Err() == nil || cause == nil) {
			cause = err
		}
		if ctx.Err() != nil {
			if err != nil {
				return infra("preflight: Prometheus is not reachable after %s: %v; check --prometheus-url", timeout, cause)
			}
			return infra("preflight: Prometheus has no healthy target for job(s) %s; check that they expose /metrics", strings.Join(missing, ", "))
		}
		r.sleep(ctx, 200*time.Millisecond)
	}
}

func ready(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/ready", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /ready answered %s", resp.Status)
	}
	return nil
}

// jobsDown lists the wanted jobs without a single healthy target.
func jobsDown(ctx context.Context, api v1.API, want []string) ([]string, error) {
	res, err := api.Targets(ctx)
	if err != nil {
		return nil, err
	}
	up := map[string]bool{}
	for _, t := range res.Active {
		if t.Health == v1.HealthGood {
			up[string(t.Labels["job"])] = true
		}
	}
	var missing []string
	for _, j := range want {
		if !up[j] {
			missing = append(missing, j)
		}
	}
	return missing, nil
}

// chaosPreflight checks that the backend can act (its own Preflight, when it has one: cluster
// reachable, Chaos Mesh installed) and that every fault, resolved against the platform as it
// is now, passes the guardrails, so that a fault that would be refused mid-run fails the run
// before any load is sent.
func chaosPreflight(ctx context.Context, b chaos.Backend, faults []chaos.Fault, g chaos.Guardrails, timeout time.Duration) error {
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
		return infra("preflight: the profile's faults cannot run on this platform as it is now: %s; fix the fault's target, allow its namespaces (--namespace) or raise --max-node-share, or skip the faults with --no-chaos", strings.Join(why, "; "))
	}
	return nil
}

// sleep waits d on the run's clock, or until ctx ends.
func (r *runner) sleep(ctx context.Context, d time.Duration) {
	t := r.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C():
	}
}
