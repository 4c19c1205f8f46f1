package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// DefaultRecoveryTimeout bounds the wait for one fault's recovery.
const DefaultRecoveryTimeout = 5 * time.Minute

// Option configures a [Scheduler].
type Option func(*Scheduler)

// WithClock sets the run's clock; the default is the real clock. Offsets, holds and the
// recovery bound all run on it.
func WithClock(c clock.Clock) Option { return func(s *Scheduler) { s.clock = c } }

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(s *Scheduler) { s.log = l } }

// WithGuardrails sets the guardrails every fault is checked against before injection.
func WithGuardrails(g Guardrails) Option { return func(s *Scheduler) { s.guard = g } }

// WithRecoveryTimeout bounds how long the scheduler waits for one fault's recovery
// (Recover plus WaitRecovered) before it reports the fault as left behind.
func WithRecoveryTimeout(d time.Duration) Option { return func(s *Scheduler) { s.recoveryTimeout = d } }

// Scheduler runs a fixed list of faults once. Build it with [NewScheduler]; call Run once.
type Scheduler struct {
	backend         Backend
	faults          []Fault
	clock           clock.Clock
	log             *slog.Logger
	guard           Guardrails
	recoveryTimeout time.Duration

	mu      sync.Mutex
	results []Result
	started time.Time
}

// NewScheduler returns a scheduler for faults on backend. The faults are copied.
func NewScheduler(b Backend, faults []Fault, opts ...Option) *Scheduler {
	s := &Scheduler{
		backend:         b,
		faults:          slices.Clone(faults),
		clock:           clock.RealClock{},
		log:             slog.New(slog.DiscardHandler),
		recoveryTimeout: DefaultRecoveryTimeout,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Phase is where a fault stands.
type Phase string

// Fault phases, in order. A fault ends in Recovered, Skipped, Refused, Failed or Left.
const (
	Pending    Phase = "pending"   // waiting for its offset
	Submitted  Phase = "submitted" // being resolved and applied
	Injected   Phase = "injected"  // confirmed in force
	Recovering Phase = "recovering"
	Recovered  Phase = "recovered"
	Skipped    Phase = "skipped" // the run ended before its offset
	Refused    Phase = "refused" // the guardrails refused it; nothing was changed
	Failed     Phase = "failed"  // it failed but everything it changed was recovered
	Left       Phase = "left"    // it could not be confirmed recovered: see Error
)

// Stamp is one moment seen twice: by ddp-verify (Tool, on the run's clock) and by the
// backend (Backend, zero when the backend gives no time).
type Stamp struct {
	Tool    time.Time `json:"tool,omitzero"`
	Backend time.Time `json:"backend,omitzero"`
}

// Result is the record of one fault.
type Result struct {
	Fault   Fault    `json:"fault"`
	Phase   Phase    `json:"phase"`
	Targets []string `json:"targets,omitempty"`
	// Objects the backend created or changed.
	Objects           []string     `json:"objects,omitempty"`
	Submitted         Stamp        `json:"submitted,omitzero"`
	TargetsSelected   Stamp        `json:"targets_selected,omitzero"`
	Injected          Stamp        `json:"injected,omitzero"`
	RecoveryRequested Stamp        `json:"recovery_requested,omitzero"`
	Recovered         Stamp        `json:"recovered,omitzero"`
	TargetTimes       []TargetTime `json:"target_times,omitempty"`
	// Error says what went wrong, if anything.
	Error string `json:"error,omitempty"`
}

// InForce reports how long the fault was in force by the tool's clock (injected to
// recovered), or 0 when it never was or was not confirmed recovered.
func (r Result) InForce() time.Duration {
	if r.Injected.Tool.IsZero() || r.Recovered.Tool.IsZero() {
		return 0
	}
	return r.Recovered.Tool.Sub(r.Injected.Tool)
}

// LeftoverError lists faults that could not be confirmed recovered.
type LeftoverError struct {
	Faults []Result
}

func (e *LeftoverError) Error() string {
	parts := make([]string, len(e.Faults))
	for i, r := range e.Faults {
		parts[i] = fmt.Sprintf("%s (targets %s; objects %s): %s", r.Fault, strings.Join(r.Targets, ","), strings.Join(r.Objects, ","), r.Error)
	}
	return "chaos: faults may still be in force; run `ddp-verify chaos cleanup`: " + strings.Join(parts, "; ")
}

// Results returns a snapshot of every fault's record so far (none before Run starts). It is
// safe to call from any goroutine while Run runs.
func (s *Scheduler) Results() []Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.results)
}

// Active returns a snapshot of the faults that are submitted, injected or recovering, for
// progress lines. It is safe to call from any goroutine while Run runs.
func (s *Scheduler) Active() []Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Result
	for _, r := range s.results {
		if r.Phase == Submitted || r.Phase == Injected || r.Phase == Recovering {
			out = append(out, r)
		}
	}
	return out
}

// Run validates the faults, then runs each at its offset from now on the scheduler's clock,
// holds it for its duration and recovers it. Faults run concurrently, so they may overlap.
//
// The first fault that fails (refused, not confirmed injected, backend error) stops the
// run: faults not yet due are skipped and every submitted fault is recovered. Cancelling
// ctx does the same without it being an error: Run returns nil once everything is
// recovered, with the unstarted faults marked Skipped. Run returns the results of every
// fault in the order given, and an error joining each fault's error and, last, a
// [*LeftoverError] naming every fault not confirmed recovered.
func (s *Scheduler) Run(ctx context.Context) ([]Result, error) {
	if err := ValidateAll(s.faults); err != nil {
		return nil, fmt.Errorf("chaos: invalid faults: %w", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()

	s.mu.Lock()
	s.started = s.clock.Now()
	s.results = make([]Result, len(s.faults))
	for i, f := range s.faults {
		s.results[i] = Result{Fault: f, Phase: Pending}
	}
	s.mu.Unlock()

	var wg sync.WaitGroup
	errs := make([]error, len(s.faults))
	for i := range s.faults {
		wg.Go(func() {
			errs[i] = s.runFault(ctx, runCtx, i)
			if errs[i] != nil {
				stop() // one failed fault ends the run; the others recover
			}
		})
	}
	wg.Wait()

	s.mu.Lock()
	results := slices.Clone(s.results)
	s.mu.Unlock()
	var left []Result
	for _, r := range results {
		if r.Phase == Left {
			left = append(left, r)
		}
	}
	if len(left) > 0 {
		errs = append(errs, &LeftoverError{Faults: left})
	}
	return results, errors.Join(errs...)
}

func (s *Scheduler) update(i int, fn func(r *Result)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.results[i])
}

// runFault runs fault i. parent is the caller's context (used only to keep its values for
// recovery); runCtx ends when the run ends.
func (s *Scheduler) runFault(parent, runCtx context.Context, i int) error {
	f := s.faults[i]
	log := s.log.With("fault", f.ID, "kind", f.Kind)
	if !s.sleepUntil(runCtx, s.started.Add(f.At)) {
		s.update(i, func(r *Result) { r.Phase = Skipped })
		return nil
	}
	s.update(i, func(r *Result) { r.Phase = Submitted; r.Submitted.Tool = s.clock.Now() })
	log.Info("chaos fault submitted", "target", f.String())

	im, err := s.backend.Select(runCtx, f)
	if err != nil {
		if runCtx.Err() != nil {
			s.update(i, func(r *Result) { r.Phase = Skipped })
			return nil
		}
		return s.fail(i, Failed, fmt.Errorf("fault %s: select targets: %w", f.ID, err))
	}
	s.update(i, func(r *Result) { r.Targets = im.Targets(); r.TargetsSelected.Tool = s.clock.Now() })
	if err := s.guard.Check(f, im); err != nil {
		return s.fail(i, Refused, err)
	}

	inj, injErr := s.backend.Inject(runCtx, f, im)
	if inj != nil {
		s.update(i, func(r *Result) { r.Objects = inj.Objects; r.Submitted.Backend = inj.SubmittedAt })
	}
	if injErr == nil {
		var at time.Time
		at, injErr = s.backend.WaitInjected(runCtx, inj)
		if injErr == nil {
			now := s.clock.Now()
			s.update(i, func(r *Result) { r.Phase = Injected; r.Injected = Stamp{Tool: now, Backend: at} })
			log.Info("chaos fault injected", "targets", im.Targets(), "backend_time", at)
			s.sleepUntil(runCtx, now.Add(f.Duration))
		} else {
			injErr = fmt.Errorf("fault %s: confirm injection: %w", f.ID, injErr)
		}
	} else {
		injErr = fmt.Errorf("fault %s: inject: %w", f.ID, injErr)
	}
	// A cancelled run is not the fault's error; the context error shows up only as a
	// wrapped cause of a backend call, which is then reported as such.
	if injErr != nil && runCtx.Err() != nil && errors.Is(injErr, context.Canceled) {
		injErr = nil
	}
	if inj == nil {
		if injErr != nil {
			return s.fail(i, Failed, injErr)
		}
		s.update(i, func(r *Result) { r.Phase = Skipped })
		return nil
	}

	recErr := s.recover(parent, i, inj, log)
	switch {
	case recErr != nil:
		s.update(i, func(r *Result) { r.Phase = Left; r.Error = joinMsg(injErr, recErr) })
		return injErr // the leftover is reported once, by Run
	case injErr != nil:
		return s.fail(i, Failed, injErr)
	}
	return nil
}

// recover undoes inj with a context that outlives the run (so Ctrl-C still recovers) but
// is bounded by the recovery timeout on the run's clock.
func (s *Scheduler) recover(parent context.Context, i int, inj *Injection, log *slog.Logger) error {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	defer cancel(nil)
	timer := s.clock.NewTimer(s.recoveryTimeout)
	defer timer.Stop()
	done := make(chan struct{})
	defer close(done)
	timedOut := fmt.Errorf("recovery not confirmed within %s", s.recoveryTimeout)
	go func() {
		select {
		case <-timer.C():
			cancel(timedOut)
		case <-done:
		}
	}()

	s.update(i, func(r *Result) { r.Phase = Recovering; r.RecoveryRequested.Tool = s.clock.Now() })
	log.Info("chaos fault recovering")
	reqAt, err := s.backend.Recover(ctx, inj)
	s.update(i, func(r *Result) { r.RecoveryRequested.Backend = reqAt })
	var at time.Time
	if err == nil {
		at, err = s.backend.WaitRecovered(ctx, inj)
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = fmt.Errorf("%w: %w", cause, err)
		}
		log.Error("chaos fault not recovered", "err", err)
		s.update(i, func(r *Result) { r.TargetTimes = inj.TargetTimes })
		return fmt.Errorf("fault %s: recover: %w", inj.Fault.ID, err)
	}
	now := s.clock.Now()
	s.update(i, func(r *Result) {
		r.Phase = Recovered
		r.Recovered = Stamp{Tool: now, Backend: at}
		r.TargetTimes = inj.TargetTimes
	})
	log.Info("chaos fault recovered", "backend_time", at)
	return nil
}

func (s *Scheduler) fail(i int, p Phase, err error) error {
	s.update(i, func(r *Result) { r.Phase = p; r.Error = err.Error() })
	s.log.Error("chaos fault failed", "fault", s.faults[i].ID, "err", err)
	return err
}

// sleepUntil waits on the run's clock until t, and reports false if ctx ended first.
func (s *Scheduler) sleepUntil(ctx context.Context, t time.Time) bool {
	d := t.Sub(s.clock.Now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := s.clock.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C():
		return true
	case <-ctx.Done():
		return false
	}
}

func joinMsg(errs ...error) string {
	var parts []string
	for _, e := range errs {
		if e != nil {
			parts = append(parts, e.Error())
		}
	}
	return strings.Join(parts, "; ")
}
