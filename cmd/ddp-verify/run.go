package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/dailydoco/ddp-verify/verdict"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/chaos/mesh"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/run"
)

func newRunCmd(out, errOut io.Writer) *cobra.Command {
	var (
		o          run.Options
		name       string
		sloFile    string
		target     string
		timeScale  float64
		baseline   string
		verbose    bool
		mo         meshFlags
		authHeader string
		authEnv    string
		configFile string
	)
	cmd := &cobra.Command{
		Use:   "run --profile NAME|FILE",
		Short: "Run a whole verification: load, chaos, SLOs, verdict and reports",
		Long: `Run a whole verification. With --target local (the default) it starts the reference platform
and an embedded Prometheus; with --target URL it verifies a platform already running there,
reading SLIs from --prometheus-url; its faults run as Chaos Mesh objects with --chaos-backend mesh
(--namespace, --kubeconfig, --context), or are skipped with --no-chaos. It drives
the profile's load and faults on one clock, drains the video pipeline, evaluates the SLOs per
window and writes run.json, report.html, junit.xml and summary.md. Exit 0 GO, 1 NO-GO, 2 bad input, 3 infrastructure or preflight error,
130 interrupted (the first Ctrl-C stops the load, recovers every fault and writes an ABORTED
report; a second one exits after recovering faults).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configFile != "" {
				if err := applyConfig(cmd, configFile); err != nil {
					return err
				}
			}
			if name == "" {
				return withExitCode(exitBadInput, errors.New("--profile is required (or profile: in --config)"))
			}
			if o.Seed == 0 {
				return withExitCode(exitBadInput, errors.New("--seed: must be at least 1"))
			}
			switch {
			case target == "local":
				if o.PrometheusURL != "" {
					return withExitCode(exitBadInput, fmt.Errorf("--prometheus-url is for a URL target; the local target uses an embedded Prometheus"))
				}
			case strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://"):
				o.TargetURL = target
			default:
				return withExitCode(exitBadInput, fmt.Errorf("--target %q: want local or the URL of a running platform (http://... or https://...)", target))
			}
			if err := mo.validate(cmd, target == "local"); err != nil {
				return withExitCode(exitBadInput, err)
			}
			p, err := loadProfile(name, timeScale)
			if err != nil {
				return err
			}
			if sloFile == "" && p.SLO != "default" {
				sloFile = p.SLO
			}
			spec, err := loadSLO(sloFile)
			if err != nil {
				return err
			}
			o.Profile, o.SLO = p, spec
			if authHeader != "" || authEnv != "" {
				h, err := authHeaders(authHeader, authEnv)
				if err != nil {
					return withExitCode(exitBadInput, err)
				}
				o.Headers = h
			}
			if baseline != "" {
				if o.Baseline, err = reports.ReadRun(baseline); err != nil {
					return withExitCode(exitBadInput, fmt.Errorf("--baseline: %w", err))
				}
			}
			o.Progress = errOut
			if f, ok := errOut.(*os.File); ok {
				o.Terminal = term.IsTerminal(int(f.Fd()))
			}
			o.Version = version
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			o.Logger = slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: level}))
			if mo.backend == "mesh" && !o.NoChaos {
				if o.Chaos, err = mo.chaos(o.Logger); err != nil {
					return err
				}
				o.Guardrails = chaos.Guardrails{Namespaces: mo.namespaces, MaxNodeShare: mo.maxNodeShare}
			}

			// The first interrupt stops the load and writes an ABORTED report; the second cancels
			// the run's context (faults are still recovered, nothing more is evaluated).
			interrupt := make(chan struct{})
			hard := make(chan struct{})
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			// main cancels cmd.Context() on the first signal too; run handles both signals itself.
			ctx, cancel := contextWithDone(context.WithoutCancel(cmd.Context()), hard)
			defer cancel()
			go func() {
				select {
				case <-sigs:
				case <-ctx.Done():
					return
				}
				fmt.Fprintln(errOut, "ddp-verify: interrupted: stopping the load, recovering faults, writing an ABORTED report (Ctrl-C again to exit at once)")
				close(interrupt)
				select {
				case <-sigs:
					close(hard)
				case <-ctx.Done():
				}
			}()
			o.Interrupt = interrupt

			outcome, err := run.Run(ctx, o)
			if err != nil {
				var re *run.Error
				if errors.As(err, &re) {
					return withExitCode(re.Code, re.Err)
				}
				return withExitCode(exitInfra, err)
			}
			printVerdict(out, outcome)
			if outcome.Code != exitGo {
				return withExitCode(outcome.Code, nil)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "profile", "", "built-in profile name (ddp-verify profiles) or path to a profile YAML file")
	f.StringVar(&target, "target", "local", "local (start the reference platform) or the URL of a running platform")
	f.StringVar(&o.PrometheusURL, "prometheus-url", "", "with a URL target: the Prometheus that scrapes the platform")
	f.StringVar(&o.RemoteWriteURL, "remote-write-url", "", "with a URL target: where the load generator's metrics are pushed (default PROMETHEUS_URL/api/v1/write)")
	f.StringSliceVar(&o.ExpectJobs, "expect-job", nil, "with a URL target: scrape jobs Prometheus must report healthy before the run starts")
	f.DurationVar(&o.PreflightTimeout, "preflight-timeout", 0, "how long each preflight check may take (default 10s)")
	f.StringVar(&o.OutDir, "out", "", "run directory (default reports/<UTC time>-<profile>)")
	f.Float64Var(&timeScale, "time-scale", 1, "multiply stage, fault and window durations by this factor")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the users' random draws (journeys, think times, media lengths); the same seed offers the same load")
	f.BoolVar(&o.NoChaos, "no-chaos", false, "skip the profile's faults")
	f.StringVar(&baseline, "baseline", "", "an earlier run.json for the SLO file's relative criteria")
	f.StringVar(&sloFile, "slo", "", "SLO file (default: the profile's, or the built-in DailyDoco Pro set)")
	f.StringVar(&o.Topology, "topology", "", "reference platform topology file (default: the profile's)")
	f.DurationVar(&o.DrainTimeout, "drain-timeout", 0, "how long to wait for accepted videos to finish after the load (default 3m)")
	f.BoolVar(&verbose, "verbose", false, "log what the run does")
	f.StringVar(&mo.backend, "chaos-backend", "", "with a URL target: mesh runs the profile's faults as Chaos Mesh objects in the cluster of --kubeconfig/--context")
	f.StringVar(&mo.kubeconfig, "kubeconfig", "", "with --chaos-backend mesh: kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&mo.context, "context", "", "with --chaos-backend mesh: kubeconfig context (default: the current one)")
	f.StringSliceVar(&mo.namespaces, "namespace", nil, "with --chaos-backend mesh: a namespace of the platform whose pods faults may hit (repeatable; the first holds the chaos objects)")
	f.Float64Var(&mo.maxNodeShare, "max-node-share", 0, "with --chaos-backend mesh: largest share (0-1] of the cluster's nodes one fault may hit (default 0.5)")
	f.StringVar(&mo.poolLabel, "pool-label", "", "with --chaos-backend mesh: node label naming a node's pool (default "+run.PoolLabel+")")
	f.StringVar(&authHeader, "auth-header", "", "with --auth-token-env: the header that carries the token on every request (e.g. X-Api-Key)")
	f.StringVar(&authEnv, "auth-token-env", "", "environment variable holding a token the target requires on every request (its value is never printed)")
	f.StringVar(&configFile, "config", "", "run configuration file (YAML): the same settings as these flags; flags given here win")
	return cmd
}

// meshFlags are the flags of run's Chaos Mesh backend.
type meshFlags struct {
	backend, kubeconfig, context, poolLabel string
	namespaces                              []string
	maxNodeShare                            float64
}

// validate rejects flag combinations before anything is touched.
func (m *meshFlags) validate(cmd *cobra.Command, local bool) error {
	switch {
	case m.backend != "" && m.backend != "mesh":
		return fmt.Errorf("--chaos-backend %q: the only backend for a URL target is mesh (Chaos Mesh)", m.backend)
	case m.backend != "" && local:
		return fmt.Errorf("--chaos-backend is for a URL target; the local target injects faults through its own supervisor")
	case m.backend == "":
		for _, name := range []string{"kubeconfig", "context", "namespace", "max-node-share", "pool-label"} {
			if cmd.Flags().Changed(name) {
				return fmt.Errorf("--%s configures the Chaos Mesh backend: add --chaos-backend mesh (with a URL target)", name)
			}
		}
		return nil
	case len(m.namespaces) == 0:
		return fmt.Errorf("--chaos-backend mesh needs --namespace NS: the namespaces of the platform whose pods faults may hit")
	case cmd.Flags().Changed("max-node-share") && (m.maxNodeShare <= 0 || m.maxNodeShare > 1):
		return fmt.Errorf("--max-node-share %g: want a share in (0, 1]", m.maxNodeShare)
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
	return func(runID string) (chaos.Backend, error) {
		return mesh.New(c, mesh.Options{RunID: runID, Namespaces: m.namespaces, PoolLabel: m.poolLabel, Logger: log})
	}, nil
}

// printVerdict prints the verdict, the top reasons and where the reports are.
func printVerdict(out io.Writer, o *run.Outcome) {
	r := o.Run
	fmt.Fprintf(out, "\nverdict: %s (score %.1f)\n", r.Verdict, r.Score)
	for i, reason := range r.Reasons {
		if i == 5 {
			fmt.Fprintf(out, "  ... and %d more (see summary.md)\n", len(r.Reasons)-5)
			break
		}
		fmt.Fprintf(out, "  - %s\n", reason)
	}
	counts := map[verdict.Status]int{}
	for _, s := range r.SLOs {
		counts[s.Status]++
	}
	var parts []string
	for _, st := range []verdict.Status{verdict.Pass, verdict.Warn, verdict.Fail, verdict.NoData, verdict.NoBaseline, verdict.Error} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
		}
	}
	if len(r.NotEvaluated) > 0 {
		parts = append(parts, fmt.Sprintf("%d not evaluated", len(r.NotEvaluated)))
	}
	fmt.Fprintf(out, "objectives: %s\n", strings.Join(parts, ", "))
	for _, n := range r.NotEvaluated {
		fmt.Fprintf(out, "  not evaluated: %s: %s\n", n.ID, n.Reason)
	}
	fmt.Fprintf(out, "videos: %d accepted, %d processed, %d failed, %d lost\n", r.Videos.Accepted, r.Videos.Processed, r.Videos.Failed, r.Videos.Lost)
	fmt.Fprintf(out, "reports: %s/{run.json,report.html,junit.xml,summary.md}\n", o.Dir)
}

// applyConfig sets every flag the configuration file gives and the command line does not.
func applyConfig(cmd *cobra.Command, file string) error {
	c, err := run.LoadConfig(file)
	if err != nil {
		var re *run.Error
		if errors.As(err, &re) {
			return withExitCode(re.Code, re.Err)
		}
		return withExitCode(exitBadInput, err)
	}
	for _, kv := range c.Flags() {
		if cmd.Flags().Changed(kv[0]) {
			continue
		}
		if err := cmd.Flags().Set(kv[0], kv[1]); err != nil {
			return withExitCode(exitBadInput, c.FieldError(kv[0], err))
		}
	}
	return nil
}

// authHeaders builds the header every load request carries from the token in the environment
// variable env. The token itself never appears in an error or a report.
func authHeaders(header, env string) (http.Header, error) {
	switch {
	case header == "" || env == "":
		return nil, errors.New("--auth-header and --auth-token-env go together")
	case os.Getenv(env) == "":
		return nil, fmt.Errorf("--auth-token-env %s: the environment variable is empty or unset", env)
	}
	return http.Header{http.CanonicalHeaderKey(header): {os.Getenv(env)}}, nil
}
