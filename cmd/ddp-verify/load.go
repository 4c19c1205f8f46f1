package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/internal/atomicfile"
	"github.com/dailydoco/ddp-verify/internal/outdir"
	"github.com/dailydoco/ddp-verify/k6script"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/progress"
)

// loadOptions are the flags of `ddp-verify load` (kubectl's Complete/Validate/Run pattern:
// flags depend on each other).
type loadOptions struct {
	url           string
	method        string
	stages        string
	rate          int64
	duration      time.Duration
	vus           int64
	maxVUs        int64
	thresholds    []string
	out           string
	timeout       time.Duration
	insecure      bool
	force         bool
	progressEvery time.Duration
	segment       string
	sequence      string
	// With a script (the command's argument): k6's flags.
	iterations int64
	stageFlags []string
	env        []string

	target     *url.URL
	scenario   load.ScenarioConfig
	script     *k6script.Script
	scenarios  []load.ScenarioConfig // the script's, after the flags; else the one scenario
	parsedTh   []load.Threshold
	seg        load.Segment
	stageList  []load.Stage
	out1, err1 io.Writer
}

func newLoadCmd(out, errOut io.Writer) *cobra.Command {
	o := &loadOptions{out1: out, err1: errOut}
	cmd := &cobra.Command{
		Use:   "load (--url URL (--stages 30s:50,1m:50,10s:0 | --rate N --duration D) | SCRIPT.js [--vus N] [--duration D | --iterations N | --stage D:N ...] [--env K=V ...])",
		Short: "Ad-hoc load against one URL, or a k6 script, with a k6-style summary",
		Long: `Drives load against one URL, or runs a k6 script, and prints a k6-style summary.

--stages runs a ramping-vus executor (closed model: each VU loops requests);
--rate with --duration runs a constant-arrival-rate executor (open model: N requests per second
whatever the latency, with response time measured from the intended start).

With a k6 script (the part of k6's API that docs/scripts.md lists; anything else fails with
"not supported" before the load), the script's options decide the load, and k6's flags override
them as in k6: --vus, --duration, --iterations, --stage D:N (repeatable; or --stages), --env K=V
(repeatable; __ENV holds this process's environment and these). Its setup() runs before the load,
teardown(data) after it.

Thresholds use k6 syntax, METRIC[{tag:value}]:EXPR[ over D][,abortOnFail][,delayAbortEval=D], e.g.
  --threshold 'http_req_duration:p(95)<100' --threshold 'http_req_failed:rate<0.01 over 30s'

Exit status: 0 when requests succeeded and every threshold passed; 1 when a threshold
failed, or when requests got answers but none succeeded, or none was sent; 2 for bad input
(checked before the first request: the URL, --method, --out, the stages); 3 when the target
could not be reached (nothing listening, or no request got any response); 130 when
interrupted.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if err := o.validateScript(args[0]); err != nil {
					return exitcode.New(exitcode.BadInput, err)
				}
				return o.run(cmd.Context())
			}
			if err := o.validate(); err != nil {
				return exitcode.New(exitcode.BadInput, err)
			}
			if err := o.probe(cmd.Context()); err != nil {
				return err
			}
			return o.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "", "target URL (required)")
	f.StringVar(&o.method, "method", "GET", "HTTP method")
	f.StringVar(&o.stages, "stages", "", "ramping-vus stages DURATION:VUS,... e.g. 30s:50,1m:50,10s:0")
	f.Int64Var(&o.rate, "rate", 0, "constant arrival rate in requests per second (with --duration)")
	f.DurationVar(&o.duration, "duration", 0, "duration of the --rate run; with a script, k6's --duration")
	f.Int64Var(&o.vus, "vus", 0, "pre-allocated VUs for --rate (default: rate/10, at least 10); with a script, k6's --vus")
	f.Int64Var(&o.iterations, "iterations", 0, "with a script: k6's --iterations (shared by the VUs)")
	f.StringArrayVar(&o.stageFlags, "stage", nil, "with a script: k6's --stage DURATION:VUS (repeatable)")
	f.StringArrayVar(&o.env, "env", nil, "with a script: k6's --env NAME=VALUE, in __ENV (repeatable)")
	f.Int64Var(&o.maxVUs, "max-vus", 0, "maximum VUs for --rate (default: 10×pre-allocated)")
	f.StringArrayVar(&o.thresholds, "threshold", nil, "threshold METRIC:EXPR (repeatable)")
	f.StringVar(&o.out, "out", "", "directory to write summary.json into")
	f.DurationVar(&o.timeout, "timeout", 60*time.Second, "per-request timeout")
	f.BoolVar(&o.insecure, "insecure", false, "skip TLS certificate verification")
	f.BoolVar(&o.force, "force", false, "accept more VUs or a higher rate than this machine's estimated capacity (the error states the estimate)")
	f.StringVar(&o.segment, "execution-segment", "", "run only this part of the load, as k6 does: FROM:TO, e.g. 1/4:1/2 (generators that run every part of one sequence run the whole load once)")
	f.StringVar(&o.sequence, "execution-segment-sequence", "", "the parts the load is split into, as k6's: e.g. 0,1/4,1/2,1 (default: 0, FROM, TO, 1)")
	f.DurationVar(&o.progressEvery, "progress-interval", 5*time.Second, "interval of progress lines when stderr is not a terminal")
	return cmd
}

// validate checks every flag before the first request (all problems at once) and builds the
// one scenario the load runs.
func (o *loadOptions) validate() error {
	if err := errors.Join(o.checkTarget(), o.checkOut(), o.buildExecutor(), o.checkCapacity(), o.parseThresholds(), o.parseSegment()); err != nil {
		return err
	}
	o.scenario.Name = "default"
	o.scenario.Exec = requestEach(strings.ToUpper(o.method), o.url)
	o.scenarios = []load.ScenarioConfig{o.scenario}
	if len(o.stageFlags) > 0 || o.iterations != 0 || len(o.env) > 0 {
		return errors.New("--stage, --iterations and --env are for a script (ddp-verify load SCRIPT.js)")
	}
	return o.scenario.Validate()
}

// parseSegment reads --execution-segment and --execution-segment-sequence.
func (o *loadOptions) parseSegment() error {
	if o.segment == "" {
		if o.sequence != "" {
			return errors.New("--execution-segment-sequence needs --execution-segment")
		}
		return nil
	}
	seg, err := load.ParseSegment(o.segment, o.sequence)
	if err != nil {
		return fmt.Errorf("--execution-segment: %w", err)
	}
	o.seg = seg
	return nil
}

// checkTarget checks --url and --method.
func (o *loadOptions) checkTarget() error {
	u, err := url.Parse(o.url)
	switch {
	case o.url == "":
		return errors.New("--url is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
		return fmt.Errorf("--url %q: want an absolute http(s) URL", o.url)
	}
	o.target = u
	// net/http's own rule for the method (an HTTP token), so that a method it would refuse on
	// every request is refused here, once, before the load.
	if _, err := http.NewRequest(strings.ToUpper(o.method), o.url, nil); err != nil {
		return fmt.Errorf("--method %q: not a valid HTTP method (a token: letters, digits and !#$%%&'*+-.^_`|~)", o.method)
	}
	return nil
}

// checkOut checks that --out, when given, is a new or empty directory we can write in.
func (o *loadOptions) checkOut() error {
	if o.out == "" {
		return nil
	}
	if err := outdir.Check(o.out); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}

// buildExecutor turns --stages, or --rate with --duration, into the scenario's executor.
func (o *loadOptions) buildExecutor() error {
	switch {
	case o.stages != "" && (o.rate != 0 || o.duration != 0):
		return errors.New("--stages and --rate/--duration exclude each other")
	case o.stages != "":
		st, err := load.ParseStages(o.stages)
		o.stageList = st
		o.scenario.Executor = load.RampingVUs{Stages: st}
		if err != nil {
			return fmt.Errorf("--stages: %w", err)
		}
		if !slices.ContainsFunc(st, func(s load.Stage) bool { return s.Target > 0 }) {
			return fmt.Errorf("--stages %s: no stage has a VU target above 0, so nothing would be sent", o.stages)
		}
	case o.rate > 0 && o.duration > 0:
		pre := o.vus
		if pre <= 0 {
			pre = max(o.rate/10, 10)
		}
		mx := o.maxVUs
		if mx <= 0 {
			mx = 10 * pre
		}
		o.scenario.Executor = load.ConstantArrivalRate{Rate: o.rate, Duration: o.duration, PreAllocatedVUs: pre, MaxVUs: mx}
	default:
		return errors.New("want --stages, or --rate N with --duration D (both positive)")
	}
	return nil
}

// checkCapacity holds the load to this machine's capacity, as for profiles (docs/profiles.md,
// "Limits"): a load this machine cannot generate would measure the generator, not the target.
func (o *loadOptions) checkCapacity() error {
	if o.scenario.Executor == nil || o.force {
		return nil
	}
	c := load.MachineCapacity()
	var errs []error
	if err := c.CheckVUs(o.scenario.Executor.PeakVUs()); err != nil {
		errs = append(errs, fmt.Errorf("%w; --force runs it anyway", err))
	}
	if err := c.CheckRate(float64(o.rate)); err != nil {
		errs = append(errs, fmt.Errorf("--rate: %w; --force runs it anyway", err))
	}
	return errors.Join(errs...)
}

// parseThresholds parses every --threshold.
func (o *loadOptions) parseThresholds() error {
	var errs []error
	for _, spec := range o.thresholds {
		th, err := load.ParseThresholdSpec(spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("--threshold: %w", err))
			continue
		}
		o.parsedTh = append(o.parsedTh, th)
	}
	return errors.Join(errs...)
}

// requestEach is the load's iteration: one request to target, its body discarded.
func requestEach(method, target string) load.ScenarioFunc {
	return func(ctx context.Context, vu *load.VU) error {
		c := vu.HTTP()
		c.DiscardBody = true
		req, err := newRequest(ctx, method, target)
		if err != nil {
			return err
		}
		_, err = c.Do(ctx, "", req)
		return err
	}
}

// probe fails at once, before any load, when nothing is listening at the target's address
// (or it cannot be connected to at all): exit 3 saying so, rather than a whole load of
// failed requests.
func (o *loadOptions) probe(ctx context.Context) error {
	err := load.Probe(ctx, o.target, min(o.timeout, 10*time.Second))
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return exitcode.New(exitcode.Interrupted, nil)
	case errors.Is(err, load.ErrNothingListening):
		return exitcode.Infraf("--url %s: %w: is the target running, and on this port?", o.url, err)
	}
	return exitcode.Infraf("--url %s: %w", o.url, err)
}

func (o *loadOptions) run(ctx context.Context) error {
	httpOpts := load.HTTPOptions{Timeout: o.timeout, InsecureSkipVerify: o.insecure}
	if o.script != nil {
		httpOpts = o.script.HTTPOptions(httpOpts) // noConnectionReuse, userAgent, insecureSkipTLSVerify
	}
	eng, err := load.NewEngine(o.scenarios, load.WithThresholds(o.parsedTh...), load.WithSegment(o.seg), load.WithHTTP(httpOpts))
	if err != nil {
		return exitcode.New(exitcode.BadInput, err)
	}
	tty := false
	if f, ok := o.err1.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	every := o.progressEvery
	if tty {
		every = time.Second
	}
	if err := o.setup(ctx); err != nil {
		return err
	}
	stop := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		progress.Follow(progress.New(o.err1, tty), eng, totalDuration(o.scenarios), o.stageAt, every, stop)
	}()
	res, runErr := eng.Run(ctx)
	close(stop)
	<-progressDone
	if err := o.teardown(ctx); err != nil {
		return err
	}

	sum := load.Summarize(res)
	if err := sum.WriteText(o.out1); err != nil {
		return exitcode.New(exitcode.Infra, fmt.Errorf("write summary: %w", err))
	}
	if o.out != "" {
		if err := atomicfile.WriteJSON(filepath.Join(o.out, "summary.json"), sum); err != nil {
			return exitcode.New(exitcode.Infra, err)
		}
	}
	reason, answered := sum.Unsuccessful()
	switch {
	case ctx.Err() != nil:
		return exitcode.New(exitcode.Interrupted, nil)
	case errors.Is(runErr, load.ErrTestAborted):
		return exitcode.New(exitcode.NoGo, errors.New(res.AbortedByTest)) // the script's test.abort()
	case runErr != nil && !errors.Is(runErr, load.ErrThresholdAbort):
		return exitcode.New(exitcode.Infra, runErr)
	case reason != "" && !answered && sum.Requests > 0:
		// Every request failed before any response: the target was never reached.
		return exitcode.Infraf("%s", reason)
	case reason != "":
		return exitcode.New(exitcode.NoGo, errors.New(reason))
	case errors.Is(runErr, load.ErrThresholdAbort), !res.ThresholdsPassed():
		return exitcode.New(exitcode.NoGo, nil)
	}
	return nil
}

// stageAt names the --stages stage in progress at el, and the time left in it.
func (o *loadOptions) stageAt(el time.Duration) (string, time.Duration) {
	var end time.Duration
	for i, s := range o.stageList {
		end += s.Duration
		if el < end {
			return fmt.Sprintf("%d/%d", i+1, len(o.stageList)), end - el
		}
	}
	return "-", 0
}

func newRequest(ctx context.Context, method, target string) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, method, target, nil)
}
