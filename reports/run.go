package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/verdict"
)

// Schema identifies the run.json format this package writes. It also reads [SchemaV1] files
// (docs/run-json.md has the migration note).
const Schema = "ddp-verify/run/v2"

// SchemaV1 is the previous format: chaos[].recovery_seconds is v2's undo_seconds, and the
// video accounting has no unfinished count.
const SchemaV1 = "ddp-verify/run/v1"

// Run is the complete record of one verification run: everything the reports show, and
// enough (Config) to reproduce it. The run orchestrator fills it from the load, chaos and SLO
// packages; this package only depends on these plain types.
type Run struct {
	Schema    string            `json:"schema"`
	RunID     string            `json:"run_id"`
	Profile   string            `json:"profile"`
	Target    string            `json:"target"`
	Versions  map[string]string `json:"versions"`
	StartedAt time.Time         `json:"started_at"`
	EndedAt   time.Time         `json:"ended_at"`
	Verdict   verdict.Verdict   `json:"verdict"`
	// Score is the Keptn-style weighted score, 0 to 100.
	Score   float64  `json:"score"`
	Reasons []string `json:"reasons"`
	// Config is the resolved profile, kept verbatim so that a run can be reproduced.
	Config   json.RawMessage     `json:"config"`
	Timeline []Event             `json:"timeline"`
	Load     Load                `json:"load"`
	Series   Series              `json:"series"`
	SLOs     []verdict.Objective `json:"slos"`
	Chaos    []ChaosResult       `json:"chaos"`
	Videos   Videos              `json:"videos"`
	Cost     Cost                `json:"cost"`
	// TimeScale is the factor the profile's schedule was scaled by (--time-scale); 0 (an
	// older run.json) and 1 mean full length.
	TimeScale float64 `json:"time_scale,omitempty"`
	// Seed is the seed of the users' random draws (`run --seed`): the same seed offers the
	// same load. 0 in an older run.json, whose seed was 1.
	Seed uint64 `json:"seed,omitempty"`
	// verdict.NotEvaluated lists the objectives of the SLO set that this run did not evaluate, each
	// with the reason (a time-scaled run, or no window of the run matches theirs). A GO
	// verdict says nothing about them.
	NotEvaluated []verdict.NotEvaluated `json:"not_evaluated,omitempty"`
	// FaultsSkipped names the profile's faults a --no-chaos run did not inject: its verdict
	// says nothing about resilience.
	FaultsSkipped []string `json:"faults_skipped,omitempty"`
	// Agents are the load agents' parts when the load was spread over several (run
	// --agents): Load is their merged result.
	Agents []Agent `json:"agents,omitempty"`
}

// Agent is one load agent's part of a run: its execution segment, how it ended and what it
// measured (from its last report).
type Agent struct {
	Index   int    `json:"index"`
	Segment string `json:"segment"`
	Host    string `json:"host,omitempty"`
	PID     int    `json:"pid,omitempty"`
	// State is "done", or "lost" with Reason.
	State      string `json:"state"`
	Reason     string `json:"reason,omitempty"`
	Requests   uint64 `json:"requests"`
	Failed     uint64 `json:"failed"`
	Iterations uint64 `json:"iterations"`
	Dropped    uint64 `json:"dropped"`
	VUsMax     int64  `json:"vus_max"`
}

// AgentsSummary is one line on the load agents ("" for a run without): how many, and each
// agent's segment, state and requests.
func (r *Run) AgentsSummary() string {
	if len(r.Agents) == 0 {
		return ""
	}
	parts := make([]string, len(r.Agents))
	for i, a := range r.Agents {
		parts[i] = fmt.Sprintf("#%d %s %s, %d requests, %d iterations", a.Index, a.Segment, a.State, a.Requests, a.Iterations)
	}
	return fmt.Sprintf("%d: %s", len(r.Agents), strings.Join(parts, "; "))
}

// ResilienceNote is what every report says of a run whose faults were skipped; "" when none was.
func (r *Run) ResilienceNote() string {
	if len(r.FaultsSkipped) == 0 {
		return ""
	}
	return fmt.Sprintf("resilience NOT verified: --no-chaos skipped %d fault(s) (%s)", len(r.FaultsSkipped), strings.Join(r.FaultsSkipped, ", "))
}

// Scaled reports whether the run's schedule was compressed or stretched (time scale not 1).
func (r *Run) Scaled() bool { return r.TimeScale != 0 && r.TimeScale != 1 }

// Duration is the wall-clock length of the run.
func (r *Run) Duration() time.Duration { return r.EndedAt.Sub(r.StartedAt) }

// Event kinds on the timeline.
const (
	EventStage  = "stage"
	EventFault  = "fault"
	EventWindow = "window"
	// EventAlert is an alert firing (from the ALERTS series): its name, and in Detail its
	// severity and what it is about.
	EventAlert = "alert"
)

// Event is one span on the run's timeline: a load stage, a fault (planned or injected) or an
// evaluation window. Charts shade stages and faults from these.
type Event struct {
	Kind   string    `json:"kind"`
	Name   string    `json:"name"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Detail string    `json:"detail,omitempty"`
	// Receivers are where an alert event was routed (Alertmanager's routing of the run's
	// configuration), in routing order.
	Receivers []string `json:"receivers,omitempty"`
}

// Load holds the load generator's results.
type Load struct {
	Total  Stats        `json:"total"`
	Steps  []StepStats  `json:"steps"`
	Stages []StageStats `json:"stages"`
	// Backoffs are the users' waits after failed iterations (the failure backoff,
	// docs/journeys.md), one entry per scenario, zeros included; absent in a run.json written
	// before they were counted.
	Backoffs []Backoff `json:"backoffs,omitempty"`
}

// Backoff is how often the users of one scenario waited after failed iterations, and how many
// seconds those waits lasted in all: load the users held back because the target failed.
type Backoff struct {
	Scenario string  `json:"scenario"`
	Count    int64   `json:"count"`
	Seconds  float64 `json:"seconds"`
}

// BackoffTotal adds up the scenarios' backoffs; ok is false when the record has none (a
// run.json written before they were counted).
func (l Load) BackoffTotal() (total Backoff, ok bool) {
	for _, b := range l.Backoffs {
		total.Count += b.Count
		total.Seconds += b.Seconds
	}
	return total, l.Backoffs != nil
}

// Stats summarises requests of one step, stage or the whole run.
type Stats struct {
	Count     int64   `json:"count"`
	RPS       float64 `json:"rps"`
	Failures  int64   `json:"failures"`
	ErrorRate float64 `json:"error_rate"`
	// Response is measured from the request's intended start, so queueing in an overloaded
	// generator counts (coordinated omission corrected); Service from the moment it was sent.
	Response Latency `json:"response_ms"`
	Service  Latency `json:"service_ms"`
}

// Latency holds HDR histogram figures in milliseconds.
type Latency struct {
	Avg float64 `json:"avg"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// StepStats is one journey step (for example "upload capture" of the capture journey).
type StepStats struct {
	Scenario string `json:"scenario"`
	Step     string `json:"step"`
	Stats
}

// StageStats is one load stage.
type StageStats struct {
	Stage     string    `json:"stage"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	TargetVUs int       `json:"target_vus"`
	Stats
}

// Series holds per-interval points for the charts, column by column. Every non-empty column
// has the same length; point i is at Start + i*Interval. Missing points are NaN in Go and
// null in JSON.
type Series struct {
	Start           time.Time `json:"start"`
	IntervalSeconds float64   `json:"interval_seconds"`
	LatencyP50MS    Values    `json:"latency_p50_ms"`
	LatencyP95MS    Values    `json:"latency_p95_ms"`
	LatencyP99MS    Values    `json:"latency_p99_ms"`
	RPS             Values    `json:"rps"`
	ErrorsPerSecond Values    `json:"errors_per_second"`
	ActiveUsers     Values    `json:"active_users"`
	RealtimeRatio   Values    `json:"realtime_ratio"`
	QueueDepth      Values    `json:"queue_depth"`
	GPUSlotsInUse   Values    `json:"gpu_slots_in_use"`
	GPUSlotsTotal   Values    `json:"gpu_slots_total"`
	CostPerHour     Values    `json:"cost_per_hour"`
}

// columns lists the series columns with their JSON names, for validation and charts.
func (s *Series) columns() []namedValues {
	return []namedValues{
		{"latency_p50_ms", s.LatencyP50MS}, {"latency_p95_ms", s.LatencyP95MS}, {"latency_p99_ms", s.LatencyP99MS},
		{"rps", s.RPS}, {"errors_per_second", s.ErrorsPerSecond}, {"active_users", s.ActiveUsers},
		{"realtime_ratio", s.RealtimeRatio}, {"queue_depth", s.QueueDepth},
		{"gpu_slots_in_use", s.GPUSlotsInUse}, {"gpu_slots_total", s.GPUSlotsTotal}, {"cost_per_hour", s.CostPerHour},
	}
}

type namedValues struct {
	name string
	v    Values
}

// Values is a column of a series. NaN means "no point" and is written as JSON null, because
// JSON has no NaN and a gap must not be drawn as zero.
type Values []float64

// MarshalJSON writes NaN and infinities as null.
func (v Values) MarshalJSON() ([]byte, error) {
	if v == nil {
		return []byte("[]"), nil
	}
	b := make([]byte, 0, 8*len(v)+2)
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, x, 'f', -1, 64)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads null as NaN.
func (v *Values) UnmarshalJSON(b []byte) error {
	var raw []*float64
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(Values, len(raw))
	for i, p := range raw {
		if p == nil {
			out[i] = math.NaN()
			continue
		}
		out[i] = *p
	}
	*v = out
	return nil
}

// ChaosResult records one fault: when it was injected, when the backend undid it, and when
// the service was back within its steady-state objectives. The two recoveries are different
// figures and are named apart everywhere: undoing a fault (a node restarted) takes the
// backend's time; the service may recover long before (it routed around the fault) or after.
type ChaosResult struct {
	Fault      string     `json:"fault"`
	Kind       string     `json:"kind"`
	Mode       string     `json:"mode,omitempty"`
	Targets    []string   `json:"targets"`
	PlannedAt  *time.Time `json:"planned_at,omitempty"`
	InjectedAt *time.Time `json:"injected_at,omitempty"`
	// RecoveredAt is when the backend confirmed the fault undone.
	RecoveredAt *time.Time `json:"recovered_at,omitempty"`
	// BackendInjectedAt and BackendRecoveredAt are the backend's own times for the injection
	// and the recovery: the Chaos Mesh controller's record events (the last target's; one
	// second resolution), the local platform's supervisor's change times. Absent when the
	// backend reported none.
	BackendInjectedAt  *time.Time `json:"backend_injected_at,omitempty"`
	BackendRecoveredAt *time.Time `json:"backend_recovered_at,omitempty"`
	// UndoSeconds is how long the backend took to undo the fault, from the recovery request
	// to its confirmation.
	UndoSeconds *float64 `json:"undo_seconds,omitempty"`
	// ServiceRecoverySeconds is how long after the injection the service was back within its
	// steady-state objectives (errors, API latency, video backlog) and stayed there; null
	// when it never was during the run.
	ServiceRecoverySeconds *float64 `json:"service_recovery_seconds,omitempty"`
	Error                  string   `json:"error,omitempty"`
	// V1RecoverySeconds is a v1 file's recovery_seconds, read as UndoSeconds (never written).
	V1RecoverySeconds *float64 `json:"recovery_seconds,omitempty"`
}

// Confirmed reports whether the fault was injected and undone as its backend confirmed.
func (c ChaosResult) Confirmed() bool {
	return c.Error == "" && c.InjectedAt != nil && c.RecoveredAt != nil
}

// Videos is the video accounting of the run: every accepted video is processed, failed,
// unfinished (still queued or processing when the run ended) or lost (none of these: it
// vanished).
type Videos struct {
	Accepted   int64 `json:"accepted"`
	Processed  int64 `json:"processed"`
	Failed     int64 `json:"failed"`
	Unfinished int64 `json:"unfinished"`
	Lost       int64 `json:"lost"`
	// OldestUnfinishedSeconds is how long the oldest unfinished video had waited when the
	// run ended; null when none was unfinished or the platform does not say.
	OldestUnfinishedSeconds *float64 `json:"oldest_unfinished_seconds,omitempty"`
	// Drain says how the wait for accepted videos after the load ended: "empty" (every
	// video finished), "timed out", "skipped" (an interrupted run does not wait) or
	// "unobserved" (the platform exports no queue depth).
	Drain string `json:"drain,omitempty"`
}

// Summary is the accounting in one line: "24 accepted: 22 processed, 1 failed, 1 unfinished
// (oldest waited 3m10s), 0 lost; drain timed out".
func (v Videos) Summary() string {
	s := fmt.Sprintf("%d accepted: %d processed, %d failed, %d unfinished", v.Accepted, v.Processed, v.Failed, v.Unfinished)
	if v.OldestUnfinishedSeconds != nil {
		s += fmt.Sprintf(" (oldest waited %s)", (time.Duration(*v.OldestUnfinishedSeconds) * time.Second).String())
	}
	s += fmt.Sprintf(", %d lost", v.Lost)
	if v.Drain != "" {
		s += "; drain " + v.Drain
	}
	return s
}

// Drain outcomes.
const (
	DrainEmpty      = "empty"
	DrainTimedOut   = "timed out"
	DrainSkipped    = "skipped"
	DrainUnobserved = "unobserved"
)

// Cost is the infrastructure cost of the run and its projection.
type Cost struct {
	Currency string  `json:"currency"`
	Total    float64 `json:"total"`
	// PerVideo is null when no video was processed: zero videos is no data, not infinity.
	PerVideo         *float64 `json:"per_video"`
	ProjectedMonthly float64  `json:"projected_monthly"`
	MonthlyBudget    float64  `json:"monthly_budget"`
	// Unknown says why the cost could not be computed (a cost source is missing); the
	// figures are then zero and must not be read as a cost.
	Unknown string `json:"unknown,omitempty"`
}

// ReadRun reads and validates a run.json file ([DecodeRun]). Errors name the file and the
// field at fault. Only a regular file of at most [MaxRunFileSize] bytes is read: a FIFO, a
// device or a directory is refused at once, never waited on.
func ReadRun(path string) (*Run, error) {
	b, err := readRegular(path, MaxRunFileSize)
	if err != nil {
		return nil, fmt.Errorf("read run: %w", err)
	}
	r, err := DecodeRun(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// DecodeRun decodes and validates run.json from rd (at most [MaxRunFileSize] bytes). Unknown
// fields are errors, because a misspelt field would otherwise be silently ignored and shown as
// zero; so is a key given twice in one object, since only one of its values would be seen.
// A GO verdict that its own record contradicts (a failing key objective, an objective
// without data, an unconfirmed fault, unfinished videos) is an error too: such a file is
// never shown as GO.
func DecodeRun(rd io.Reader) (*Run, error) {
	b, err := io.ReadAll(io.LimitReader(rd, MaxRunFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxRunFileSize {
		return nil, fmt.Errorf("more than a run record's %d bytes", MaxRunFileSize)
	}
	if err := checkDuplicateKeys(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Run
	if err := dec.Decode(&r); err != nil {
		return nil, decodeError(err)
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the run object")
	}
	if err := r.migrate(); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if c := r.contradictions(); len(c) > 0 {
		return nil, fmt.Errorf("field verdict: GO, but %s: the record contradicts its verdict, so it is not shown as GO", strings.Join(c, "; "))
	}
	return &r, nil
}

// migrate brings a v1 record to v2: its chaos[].recovery_seconds was the undo time. A v2
// record must not carry that field.
func (r *Run) migrate() error {
	var errs []error
	for i := range r.Chaos {
		c := &r.Chaos[i]
		if c.V1RecoverySeconds == nil {
			continue
		}
		if r.Schema != SchemaV1 {
			errs = append(errs, fmt.Errorf("field chaos[%d].recovery_seconds: is a %s field; %s has undo_seconds and service_recovery_seconds", i, SchemaV1, Schema))
			continue
		}
		c.UndoSeconds, c.V1RecoverySeconds = c.V1RecoverySeconds, nil
	}
	if r.Schema == SchemaV1 && len(errs) == 0 {
		r.Schema = Schema
	}
	return errors.Join(errs...)
}

// decodeError rewrites encoding/json errors so that they name the field.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("field %s: cannot use JSON %s as %s: %w", field, te.Value, te.Type, err)
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	case errors.Is(err, io.EOF):
		return errors.New("empty file: expected a run object")
	}
	return err
}

// Validate checks what the JSON decoder cannot: the schema, required fields and the allowed
// values of enumerations. It reports every problem, not only the first.
func (r *Run) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("field %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if r.Schema != Schema {
		bad("schema", "is %q, want %q", r.Schema, Schema)
	}
	if r.RunID == "" {
		bad("run_id", "is empty")
	}
	if r.Profile == "" {
		bad("profile", "is empty")
	}
	if r.StartedAt.IsZero() {
		bad("started_at", "is missing")
	}
	if r.EndedAt.Before(r.StartedAt) {
		bad("ended_at", "%s is before started_at %s", r.EndedAt.Format(time.RFC3339), r.StartedAt.Format(time.RFC3339))
	}
	switch r.Verdict {
	case verdict.Go, verdict.NoGo, verdict.Aborted:
	default:
		bad("verdict", "is %q, want GO, NO-GO or ABORTED", r.Verdict)
	}
	if r.Score < 0 || r.Score > 100 || math.IsNaN(r.Score) {
		bad("score", "is %v, want 0 to 100", r.Score)
	}
	if len(r.Config) > 0 && !json.Valid(r.Config) {
		bad("config", "is not valid JSON")
	}
	if r.TimeScale < 0 || math.IsNaN(r.TimeScale) || math.IsInf(r.TimeScale, 0) {
		bad("time_scale", "is %v, want a positive factor (or absent)", r.TimeScale)
	}
	for i, n := range r.NotEvaluated {
		if n.ID == "" {
			bad(fmt.Sprintf("not_evaluated[%d].id", i), "is empty")
		}
		if n.Reason == "" {
			bad(fmt.Sprintf("not_evaluated[%d].reason", i), "is empty: say why the objective was not evaluated")
		}
	}
	for i, e := range r.Timeline {
		switch e.Kind {
		case EventStage, EventFault, EventWindow, EventAlert:
		default:
			bad(fmt.Sprintf("timeline[%d].kind", i), "is %q, want stage, fault, window or alert", e.Kind)
		}
		if e.End.Before(e.Start) {
			bad(fmt.Sprintf("timeline[%d].end", i), "is before its start")
		}
	}
	n := -1
	for _, c := range r.Series.columns() {
		if len(c.v) == 0 {
			continue
		}
		if n < 0 {
			n = len(c.v)
		} else if len(c.v) != n {
			bad("series."+c.name, "has %d points, other columns have %d", len(c.v), n)
		}
	}
	if n > 0 && !(r.Series.IntervalSeconds > 0) {
		bad("series.interval_seconds", "is %v, want > 0", r.Series.IntervalSeconds)
	}
	for i, s := range r.SLOs {
		f := func(name string) string { return fmt.Sprintf("slos[%d].%s", i, name) }
		if s.ID == "" {
			bad(f("id"), "is empty")
		}
		if !s.Status.Valid() {
			bad(f("status"), "is %q, want one of %v", s.Status, verdict.Statuses)
		}
		if iv := s.Interval; iv != nil && iv.Low != nil && iv.High != nil && *iv.Low > *iv.High {
			bad(f("interval"), "low %v is above high %v", *iv.Low, *iv.High)
		}
		switch s.Op {
		case "<", "<=", ">", ">=":
		default:
			bad(f("op"), "is %q, want <, <=, > or >=", s.Op)
		}
		if s.Status == verdict.Pass && s.Value == nil {
			// The one invariant reports must never show: a pass without a value.
			bad(f("value"), "is null but status is PASS; missing data never passes")
		}
	}
	for i, b := range r.Load.Backoffs {
		if b.Scenario == "" {
			bad(fmt.Sprintf("load.backoffs[%d].scenario", i), "is empty")
		}
		if b.Count < 0 || !(b.Seconds >= 0) || math.IsInf(b.Seconds, 0) {
			bad(fmt.Sprintf("load.backoffs[%d]", i), "count %d and seconds %v must be finite and >= 0", b.Count, b.Seconds)
		}
	}
	for i, c := range r.Chaos {
		if c.Fault == "" {
			bad(fmt.Sprintf("chaos[%d].fault", i), "is empty")
		}
		if c.InjectedAt != nil && c.RecoveredAt != nil && c.RecoveredAt.Before(*c.InjectedAt) {
			bad(fmt.Sprintf("chaos[%d].recovered_at", i), "is before injected_at")
		}
	}
	return errors.Join(errs...)
}
