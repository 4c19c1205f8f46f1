package run

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/dailydoco/ddp-verify/alerting"
	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/chaos/local"
	"github.com/dailydoco/ddp-verify/internal/atomicfile"
	"github.com/dailydoco/ddp-verify/platform/alerts"
	"github.com/dailydoco/ddp-verify/platform/cluster"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/prom"
)

// PlatformJob is the scrape job of every reference platform process (from the supervisor's
// file_sd list, so replacement processes are picked up).
const PlatformJob = "platform"

// LocalTarget starts the reference platform on this machine for the run (each node its own
// process, under the run directory's platform/), an embedded Prometheus that scrapes it and
// the generator into the run directory's tsdb/, and injects faults through the platform
// supervisor's control API.
type LocalTarget struct {
	// Topology is the reference platform's shape; nil is the built-in default.
	Topology *topology.Topology
	// Exec starts the platform's processes; nil runs this binary's `platform` commands.
	Exec cluster.ExecFunc
	// AlertRules is the Prometheus rule file the embedded Prometheus evaluates during the
	// run; nil is the deployment plan's (platform/alerts). The alerts that fire are in the
	// run's timeline.
	AlertRules []byte
}

var _ Target = (*LocalTarget)(nil)

// localFaults are the fault kinds the reference platform's supervisor can inject.
var localFaults = []chaos.Kind{chaos.ZoneOutage, chaos.NodeFailure}

// Check refuses faults the local platform cannot inject and expected alerts its rules do
// not define, before anything starts.
func (t *LocalTarget) Check(plan *profile.Plan, faults bool) error {
	if !faults {
		return checkAlertRules(plan.Profile, t.rules(), false)
	}
	for i, f := range plan.Faults {
		if !slices.Contains(localFaults, f.Kind) {
			return badInput("%s: chaos[%d].fault: the local reference platform injects %s, not %s; run it against a cluster (--target URL --chaos-backend mesh) or skip the faults with --no-chaos", plan.Profile.Source(), i, "zone-outage and node-failure", f.Kind)
		}
	}
	return checkAlertRules(plan.Profile, t.rules(), true)
}

// checkAlertRules refuses a rule file the harness runs that does not read, and with faults a
// fault that expects an alert the rules do not define: it could never fire, and a misspelt
// name would only show after the whole run.
func checkAlertRules(p *profile.Profile, rules []byte, faults bool) error {
	names, err := alerting.AlertNames(rules)
	if err != nil {
		return badInput("alert rules: %w", err)
	}
	if _, err := alerting.ScaleFor(rules, p.AlertForScale()); err != nil {
		return badInput("alert rules: %w", err)
	}
	if !faults {
		return nil
	}
	for i, f := range p.Chaos {
		for j, e := range f.Alerts {
			if !slices.Contains(names, e.Alert) {
				return badInput("%w", p.FieldError(fmt.Sprintf("chaos[%d].alerts[%d].alert", i, j),
					"the alert rules the run evaluates define no alert %q (they define %s)", e.Alert, strings.Join(names, ", ")))
			}
		}
	}
	return nil
}

// rules is the rule file the embedded Prometheus runs, before scaling.
func (t *LocalTarget) rules() []byte {
	if t.AlertRules == nil {
		return alerts.Rules
	}
	return t.AlertRules
}

// alertRulesFile is the rule file's name in the run directory.
const alertRulesFile = "alert-rules.yaml"

// writeAlertRules writes a rule file, its `for` clauses scaled as the profile says, into the
// run directory, where it stays beside the TSDB whose ALERTS series it produced.
func writeAlertRules(dir string, rules []byte, forScale float64) (string, error) {
	rules, err := alerting.ScaleFor(rules, forScale)
	if err != nil {
		return "", badInput("alert rules: %w", err)
	}
	path := filepath.Join(dir, alertRulesFile)
	if err := atomicfile.WriteBytes(path, rules); err != nil {
		return "", infra("write the alert rules: %w", err)
	}
	return path, nil
}

// Open starts the platform and the embedded Prometheus.
func (t *LocalTarget) Open(ctx context.Context, env Env) (*Platform, error) {
	topo := t.Topology
	if topo == nil {
		topo = topology.Default()
	}
	exec := t.Exec
	if exec == nil {
		var err error
		if exec, err = cluster.SelfExec(); err != nil {
			return nil, infra("locate the ddp-verify binary to start the platform: %w", err)
		}
	}
	c, err := cluster.Start(ctx, cluster.Options{Topology: topo, Exec: exec, Dir: filepath.Join(env.Dir, "platform"), Logger: env.Logger})
	if err != nil {
		return nil, infra("start the local reference platform: %w", err)
	}
	jobs := []prom.Job{{Name: GeneratorJob, Targets: []string{env.Generator.Addr}}, {Name: PlatformJob, FileSD: []string{c.FileSDPath()}}}
	rules, err := writeAlertRules(env.Dir, t.rules(), env.Plan.Profile.AlertForScale())
	if err != nil {
		c.Stop()
		return nil, err
	}
	srv, err := prom.New(ctx, prom.Options{Dir: filepath.Join(env.Dir, "tsdb"), Jobs: jobs, RuleFiles: []string{rules}, Logger: env.Logger,
		RemoteWriteReceiver: true}) // on loopback: the load agents' metrics
	if err != nil {
		c.Stop()
		return nil, infra("start the embedded Prometheus: %w", err)
	}
	stop := sync.OnceValue(func() error {
		// Prometheus first, so that it compacts what it has while the platform is still there
		// to be scraped no more.
		perr := srv.Close()
		cerr := c.Stop()
		if perr != nil {
			return fmt.Errorf("close the embedded Prometheus: %w", perr)
		}
		return cerr
	})
	api, err := prometheusAPI(srv.URL())
	if err != nil {
		stop()
		return nil, err
	}
	p := &Platform{
		Name: "local", BaseURL: c.GatewayURL(), Prometheus: api, RemoteWriteURL: srv.URL() + "/api/v1/write",
		ExpectJobs: []string{GeneratorJob, PlatformJob}, HarnessRules: true,
		Versions: map[string]string{"platform": platformVersion(topo), "prometheus": "embedded " + prom.Version},
		Close:    stop,
	}
	if env.Faults {
		if p.Chaos, err = local.New(c.ControlURL(), c.ControlToken(), local.Options{Logger: env.Logger}); err != nil {
			stop()
			return nil, infra("connect the chaos backend to the platform supervisor: %w", err)
		}
	}
	return p, nil
}

// platformVersion names the reference platform for run.json, and says so when it was broken
// on purpose (the gate-mutation suite's defects), so that no such run passes for a real one.
func platformVersion(topo *topology.Topology) string {
	v := "reference (" + topo.Name + ")"
	if topo.Defects.Any() {
		v += ", BROKEN ON PURPOSE: defects " + strings.Join(topo.Defects.List(), ", ")
	}
	return v
}

// ResolveTopology picks the local platform's topology: the file given, else the profile's
// ("default" or empty is the built-in one). A bad file is bad input.
func ResolveTopology(file string, p *profile.Plan) (*topology.Topology, error) {
	if file == "" {
		file = p.Profile.Topology
	}
	if file == "" || file == "default" {
		return topology.Default(), nil
	}
	t, err := topology.Load(file)
	if err != nil {
		return nil, badInput("topology: %w", err)
	}
	return t, nil
}
