package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/dailydoco/ddp-verify/alerting"
	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/chaos/mesh"
	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/platform/alerts"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/run"
)

// runFlags are the run command's flags (kubectl's Options pattern: complete, validate, then
// the library's Run).
type runFlags struct {
	profile, sloFile, target, topology, baseline, out, config string
	alertmanagerConfig, alertRules                            string
	timeScale                                                 float64
	seed                                                      uint64
	agents                                                    int
	agentsOn                                                  string
	agentJob                                                  run.AgentJob
	noChaos, verbose, force                                   bool
	promURL, remoteWriteURL                                   string
	expectJobs                                                []string
	preflightTimeout, drainTimeout, recoveryTimeout           time.Duration
	mesh                                                      meshFlags
	kube                                                      kubeTargetFlags
	authHeader, authEnv                                       string
	// fixedCosts comes from --config's fixed_costs: block (it has no flag).
	fixedCosts *run.FixedCosts
}

func newRunCmd(out, errOut io.Writer) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run --profile NAME|FILE",
		Short: "Run a whole verification: load, chaos, SLOs, verdict and reports",
		Long: `Run a whole verification. With --target local (the default) it starts the reference platform
and an embedded Prometheus; with --target kubernetes it starts a local Kubernetes cluster (a
control plane built from source, a node per topology node, in a network namespace of its own),
installs the plan's Helm chart there, discovers its pods with kubernetes_sd and injects the
faults with the real Chaos Mesh controller (--assets, --chaos-mesh); with --target URL it verifies a platform already running there,
reading SLIs from --prometheus-url; its faults run as Chaos Mesh objects with --chaos-backend mesh
(--namespace, --kubeconfig, --context), or are skipped with --no-chaos. It drives
the profile's load and faults on one clock, drains the video pipeline, evaluates the SLOs per
window and writes run.json, report.html, junit.xml and summary.md. Exit 0 GO, 1 NO-GO, 2 bad input, 3 infrastructure or preflight error,
130 interrupted (the first Ctrl-C stops the load, recovers every fault and writes an ABORTED
report; a second one exits after recovering faults).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options(cmd, errOut)
			if err != nil {
				return err
			}
			if _, ok := o.Target.(*run.KubernetesTarget); ok && !kubecluster.InNetworkNamespace() {
				// Bad input is said here, before the cluster's network namespace is made.
				if err := o.Target.Check(o.Plan, !o.NoChaos && len(o.Plan.Faults) > 0); err != nil {
					return err
				}
				return rerunInNetworkNamespace(cmd.Context(), out, errOut)
			}
			ctx, interrupt, stop := run.Signals(cmd.Context(), errOut)
			defer stop()
			o.Interrupt = interrupt
			outcome, err := run.Run(ctx, o)
			if err != nil {
				return err
			}
			if err := reports.WriteVerdict(out, outcome.Run, outcome.Dir); err != nil {
				return err
			}
			if outcome.Code != exitcode.Go {
				return exitcode.New(outcome.Code, nil)
			}
			return nil
		},
	}
	f.bind(cmd.Flags())
	return cmd
}

func (f *runFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.profile, "profile", "", "built-in profile name (ddp-verify profiles) or path to a profile YAML file")
	fs.StringVar(&f.target, "target", "local", "local (start the reference platform), kubernetes (start a local cluster and install the chart) or the URL of a running platform")
	fs.StringVar(&f.kube.assets, "assets", kubecluster.DefaultAssets(), "with --target kubernetes: directory of etcd, kube-apiserver, kube-controller-manager and kube-scheduler (hack/envtest-assets.sh prints it)")
	fs.StringVar(&f.kube.chaosMesh, "chaos-mesh", os.Getenv("CHAOS_MESH_ASSETS"), "with --target kubernetes: directory of the Chaos Mesh controller manager and its CRDs (hack/chaos-mesh.sh prints it; default $CHAOS_MESH_ASSETS), which injects the faults")
	fs.StringVar(&f.kube.metricsServer, "metrics-server", kubecluster.DefaultMetricsServerAssets(), "with --target kubernetes: directory of metrics-server (hack/metrics-server.sh prints it), which serves the resource metrics API for the chart's CPU autoscalers; by default used when it is built there")
	fs.StringVar(&f.promURL, "prometheus-url", "", "with a URL target: the Prometheus that scrapes the platform")
	fs.StringVar(&f.remoteWriteURL, "remote-write-url", "", "with a URL target: where the load generator's metrics are pushed (default PROMETHEUS_URL/api/v1/write)")
	fs.StringSliceVar(&f.expectJobs, "expect-job", nil, "with a URL target: scrape jobs Prometheus must report healthy before the run starts")
	fs.DurationVar(&f.preflightTimeout, "preflight-timeout", 0, "how long each preflight check may take (default 10s)")
	fs.StringVar(&f.out, "out", "", "run directory (default reports/<run id>)")
	fs.Float64Var(&f.timeScale, "time-scale", 1, "multiply stage, fault and window durations by this factor")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the users' random draws (journeys, think times, media lengths); the same seed offers the same load")
	fs.IntVar(&f.agents, "agents", 0, "spread the load over this many agent processes on this machine, each running its execution segment; the run merges their results exactly (0: the load runs in this process)")
	fs.StringVar(&f.agentsOn, "agents-on", run.AgentsOnLocal, "where the --agents run: local (processes on this machine) or kubernetes (the pods of an Indexed Job in the cluster of --agents-kubeconfig; they reach the run at --agents-coordinator-url)")
	fs.StringVar(&f.agentJob.Kubeconfig, "agents-kubeconfig", "", "with --agents-on kubernetes: kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&f.agentJob.Namespace, "agents-namespace", "default", "with --agents-on kubernetes: namespace of the agents' Job")
	fs.StringVar(&f.agentJob.Image, "agents-image", "ddp-verify", "with --agents-on kubernetes: the image that runs `ddp-verify agent`")
	fs.StringVar(&f.agentJob.Listen, "agents-listen", "127.0.0.1:0", "where the run listens for its load agents (a cluster elsewhere needs an address its pods can reach, e.g. 0.0.0.0:7070)")
	fs.StringVar(&f.agentJob.CoordinatorURL, "agents-coordinator-url", "", "the URL the load agents are given to reach the run (default http://LISTEN ADDRESS)")
	fs.BoolVar(&f.noChaos, "no-chaos", false, "skip the profile's faults")
	fs.BoolVar(&f.force, "force", false, forceUsage)
	fs.StringVar(&f.baseline, "baseline", "", "an earlier run.json for the SLO file's relative criteria")
	fs.StringVar(&f.sloFile, "slo", "", "SLO file (default: the profile's, or the built-in DailyDoco Pro set)")
	fs.StringVar(&f.topology, "topology", "", "reference platform topology file (default: the profile's)")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", 0, "how long to wait for accepted videos to finish after the load (default 3m)")
	fs.DurationVar(&f.recoveryTimeout, "recovery-timeout", 0, "how long to wait for the backend to confirm a fault undone (default 5m); a fault still in force then is NO-GO")
	fs.BoolVar(&f.verbose, "verbose", false, "log what the run does")
	fs.StringVar(&f.mesh.backend, "chaos-backend", "", "with a URL target: mesh runs the profile's faults as Chaos Mesh objects in the cluster of --kubeconfig/--context")
	fs.StringVar(&f.mesh.kubeconfig, "kubeconfig", "", "with --chaos-backend mesh: kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&f.mesh.context, "context", "", "with --chaos-backend mesh: kubeconfig context (default: the current one)")
	fs.StringSliceVar(&f.mesh.namespaces, "namespace", nil, "with --chaos-backend mesh: a namespace of the platform whose pods faults may hit (repeatable; the first holds the chaos objects)")
	fs.Float64Var(&f.mesh.maxNodeShare, "max-node-share", 0, "with --chaos-backend mesh: largest share (0-1] of the cluster's nodes one fault may hit (default 0.5)")
	fs.StringVar(&f.mesh.poolLabel, "pool-label", "", "with --chaos-backend mesh: node label naming a node's pool (default "+run.PoolLabel+")")
	fs.StringVar(&f.mesh.aws.SecretName, "aws-secret", "", "with --chaos-backend mesh: node failures and zone power losses stop the nodes' EC2 instances (AWSChaos ec2-stop) with the AWS credentials of this Secret in the chaos objects' namespace")
	fs.StringVar(&f.mesh.aws.Endpoint, "aws-endpoint", "", "with --chaos-backend mesh: as --aws-secret, calling this EC2 endpoint instead of AWS's (the local cluster's cloud: `cluster up --chaos-mesh` prints it)")
	fs.StringVar(&f.mesh.aws.Region, "aws-region", "", "with --chaos-backend mesh: as --aws-secret, in this region (default: each node's topology.kubernetes.io/region label)")
	fs.StringVar(&f.authHeader, "auth-header", "", "with --auth-token-env: the header that carries the token on every request (e.g. X-Api-Key)")
	fs.StringVar(&f.authEnv, "auth-token-env", "", "environment variable holding a token the target requires on every request (its value is never printed)")
	fs.StringVar(&f.alertmanagerConfig, "alertmanager-config", "", "Alertmanager configuration whose routes the alerts that fired are routed by (default: the deployment plan's; critical to pagerduty and slack, warning to slack, info to email)")
	fs.StringVar(&f.alertRules, "alert-rules", "", "Prometheus rule file the run evaluates: on the local target instead of the deployment plan's; on a URL target the harness evaluates it itself over --prometheus-url's data (\"plan\": the deployment plan's rules), for a Prometheus that runs none")
	fs.StringVar(&f.config, "config", "", "run configuration file (YAML): the same settings as these flags; flags given here win")
}

// options completes and validates the flags into the run's options; every problem is bad input.
func (f *runFlags) options(cmd *cobra.Command, errOut io.Writer) (run.Options, error) {
	if f.config != "" {
		c, err := applyConfig(cmd, f.config)
		if err != nil {
			return run.Options{}, err
		}
		f.fixedCosts = c.FixedCosts
	}
	switch {
	case f.profile == "":
		return run.Options{}, exitcode.BadInputf("--profile is required (or profile: in --config)")
	case f.seed == 0:
		return run.Options{}, exitcode.BadInputf("--seed: must be at least 1")
	case f.agents < 0 || f.agents > maxAgents:
		return run.Options{}, exitcode.BadInputf("--agents %d: want 0 (no agents) to %d", f.agents, maxAgents)
	}
	f.kube.metricsServerSet = cmd.Flags().Changed("metrics-server")
	for _, name := range []string{"assets", "chaos-mesh", "metrics-server"} {
		if cmd.Flags().Changed(name) && f.target != "kubernetes" {
			return run.Options{}, exitcode.BadInputf("--%s is for --target kubernetes", name)
		}
	}
	if err := f.mesh.validate(cmd, f.target == "local" || f.target == "kubernetes"); err != nil {
		return run.Options{}, exitcode.New(exitcode.BadInput, err)
	}
	o := run.Options{
		OutDir: f.out, NoChaos: f.noChaos, Seed: f.seed, Agents: f.agents, AgentsOn: f.agentsOn, AgentJob: f.agentJob, PreflightTimeout: f.preflightTimeout,
		DrainTimeout: f.drainTimeout, RecoveryTimeout: f.recoveryTimeout, Progress: errOut, Version: version, Logger: f.logger(errOut),
	}
	if file, ok := errOut.(*os.File); ok {
		o.Terminal = term.IsTerminal(int(file.Fd()))
	}
	var err error
	if o.Plan, o.SLO, err = resolve(f.profile, f.timeScale, f.sloFile, f.force); err != nil {
		return run.Options{}, err
	}
	if o.Target, err = f.targetOf(o.Plan, o.Logger); err != nil {
		return run.Options{}, err
	}
	if f.authHeader != "" || f.authEnv != "" {
		if o.Headers, err = run.HeaderFromEnv(f.authHeader, f.authEnv); err != nil {
			return run.Options{}, err
		}
	}
	if f.baseline != "" {
		if o.Baseline, err = reports.ReadRun(f.baseline); err != nil {
			return run.Options{}, exitcode.New(exitcode.BadInput, fmt.Errorf("--baseline: %w", err))
		}
	}
	if f.alertmanagerConfig != "" {
		if o.AlertRouting, err = loadRouting(f.alertmanagerConfig); err != nil {
			return run.Options{}, err
		}
	}
	return o, nil
}

func (f *runFlags) logger(errOut io.Writer) *slog.Logger {
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: level}))
}

// targetOf is the run's target: the local reference platform, the plan's chart on a local
// Kubernetes cluster, or a platform at a URL with its Prometheus and, with --chaos-backend
// mesh, Chaos Mesh for its faults.
func (f *runFlags) targetOf(plan *profile.Plan, log *slog.Logger) (run.Target, error) {
	switch {
	case f.target == "local" || f.target == "kubernetes":
		topo, rules, err := f.ownPlatform(plan)
		if err != nil {
			return nil, err
		}
		if f.target == "kubernetes" {
			ms, err := metricsServerAssets(f.kube.metricsServer, f.kube.metricsServerSet)
			if err != nil {
				return nil, err
			}
			return &run.KubernetesTarget{Topology: topo, Assets: f.kube.assets, ChaosMesh: f.kube.chaosMesh, MetricsServer: ms, AlertRules: rules}, nil
		}
		return &run.LocalTarget{Topology: topo, AlertRules: rules}, nil
	case strings.HasPrefix(f.target, "http://") || strings.HasPrefix(f.target, "https://"):
		rules, err := f.rules()
		if err != nil {
			return nil, err
		}
		t := &run.URLTarget{URL: f.target, PrometheusURL: f.promURL, RemoteWriteURL: f.remoteWriteURL, ExpectJobs: f.expectJobs,
			FixedCosts: f.fixedCosts, AlertRules: rules}
		if f.mesh.backend == "mesh" && !f.noChaos {
			var err error
			if t.Chaos, err = f.mesh.chaos(log); err != nil {
				return nil, err
			}
			t.Guardrails = chaos.Guardrails{Namespaces: f.mesh.namespaces, MaxNodeShare: f.mesh.maxNodeShare}
		}
		return t, nil
	}
	return nil, exitcode.BadInputf("--target %q: want local, kubernetes or the URL of a running platform (http://... or https://...)", f.target)
}

// kubeTargetFlags are the flags of the Kubernetes target.
type kubeTargetFlags struct {
	assets, chaosMesh, metricsServer string
	metricsServerSet                 bool // --metrics-server given
}

// metricsServerAssets is the metrics-server directory to use: dir when it holds the program;
// when it does not, an error if the flag was given, else none (the default directory, where
// hack/metrics-server.sh has not built it).
func metricsServerAssets(dir string, given bool) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, kubecluster.MetricsServerBinary)); err == nil {
		return dir, nil
	}
	if given {
		return "", exitcode.BadInputf("--metrics-server %s: no %s there; hack/metrics-server.sh builds it and prints its directory", dir, kubecluster.MetricsServerBinary)
	}
	return "", nil
}

// ownPlatform checks the flags of a target that starts its own platform (local, kubernetes)
// and returns its topology and alert rules.
func (f *runFlags) ownPlatform(plan *profile.Plan) (*topology.Topology, []byte, error) {
	switch {
	case f.promURL != "":
		return nil, nil, exitcode.BadInputf("--prometheus-url is for a URL target; the %s target uses an embedded Prometheus", f.target)
	case f.fixedCosts != nil:
		return nil, nil, exitcode.BadInputf("%s: fixed_costs is for a URL target: the %s target's cost exporter declares its own, from its topology's dated price table", f.config, f.target)
	}
	topo, err := run.ResolveTopology(f.topology, plan)
	if err != nil {
		return nil, nil, err
	}
	rules, err := f.rules()
	return topo, rules, err
}

// meshFlags are the flags of run's Chaos Mesh backend.
type meshFlags struct {
	backend, kubeconfig, context, poolLabel string
	namespaces                              []string
	maxNodeShare                            float64
	aws                                     mesh.AWSOptions
	useAWS                                  bool // an AWS flag was given (validate sets it)
}

// awsFlags configure AWSChaos; any of them turns node failures and zone power losses into EC2
// instance stops.
var awsFlags = []string{"aws-secret", "aws-endpoint", "aws-region"}

// awsOn reports whether the AWS flags ask for EC2 instance stops.
func (m *meshFlags) awsOn(cmd *cobra.Command) bool {
	for _, name := range awsFlags {
		if cmd.Flags().Changed(name) {
			return true
		}
	}
	return false
}

// validate rejects flag combinations before anything is touched.
func (m *meshFlags) validate(cmd *cobra.Command, local bool) error {
	m.useAWS = m.awsOn(cmd)
	switch {
	case m.backend != "" && m.backend != "mesh":
		return fmt.Errorf("--chaos-backend %q: the only backend for a URL target is mesh (Chaos Mesh)", m.backend)
	case m.backend != "" && local:
		return errors.New("--chaos-backend is for a URL target; the local target injects faults through its own supervisor, the kubernetes target through the Chaos Mesh it runs")
	case m.backend == "":
		for _, name := range append([]string{"kubeconfig", "context", "namespace", "max-node-share", "pool-label"}, awsFlags...) {
			if cmd.Flags().Changed(name) {
				return fmt.Errorf("--%s configures the Chaos Mesh backend: add --chaos-backend mesh (with a URL target)", name)
			}
		}
		return nil
	case len(m.namespaces) == 0:
		return errors.New("--chaos-backend mesh needs --namespace NS: the namespaces of the platform whose pods faults may hit")
	case cmd.Flags().Changed("max-node-share") && !(m.maxNodeShare > 0 && m.maxNodeShare <= 1):
		return fmt.Errorf("--max-node-share %g: want a share in (0, 1]", m.maxNodeShare)
	case m.aws.Endpoint != "":
		if u, err := url.Parse(m.aws.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--aws-endpoint %q: want the http(s) URL of an EC2 API", m.aws.Endpoint)
		}
	}
	return nil
}

// chaos returns run's factory of Chaos Mesh backends, one per run id, on the cluster of
// the kubeconfig.
func (m *meshFlags) chaos(log *slog.Logger) (func(runID string) (chaos.Backend, error), error) {
	c, err := kubeClient(m.kubeconfig, m.context)
	if err != nil {
		return nil, err
	}
	var aws *mesh.AWSOptions
	if m.useAWS {
		aws = &m.aws
	}
	return func(runID string) (chaos.Backend, error) {
		return mesh.New(c, mesh.Options{RunID: runID, Namespaces: m.namespaces, PoolLabel: m.poolLabel, AWS: aws, Logger: log})
	}, nil
}

// applyConfig sets every flag the configuration file gives and the command line does not, and
// returns the file for what has no flag.
func applyConfig(cmd *cobra.Command, file string) (*run.Config, error) {
	c, err := run.LoadConfig(file)
	if err != nil {
		return nil, err
	}
	for _, kv := range c.Flags() {
		if cmd.Flags().Changed(kv[0]) {
			continue
		}
		if err := cmd.Flags().Set(kv[0], kv[1]); err != nil {
			return nil, exitcode.New(exitcode.BadInput, c.FieldError(kv[0], err))
		}
	}
	return c, nil
}

// rules reads --alert-rules: nil when not given, the deployment plan's for "plan". A file
// that does not load is found when the run checks it (exit 2, before anything starts).
func (f *runFlags) rules() ([]byte, error) {
	switch f.alertRules {
	case "":
		return nil, nil
	case "plan":
		return alerts.Rules, nil
	}
	b, err := os.ReadFile(f.alertRules)
	if err != nil {
		return nil, exitcode.BadInputf("--alert-rules: %v", err)
	}
	return b, nil
}

// loadRouting reads --alertmanager-config as Alertmanager would; a file it refuses is bad input.
func loadRouting(file string) (*alerting.Routes, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, exitcode.BadInputf("--alertmanager-config: %v", err)
	}
	r, err := alerting.LoadRoutes(file, data)
	if err != nil {
		return nil, exitcode.BadInputf("--alertmanager-config: %v", err)
	}
	return r, nil
}
