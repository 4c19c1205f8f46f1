package reports_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/verdict"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/reports/reportstest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.* files")

// golden compares got with testdata/<name>, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendered output; review with -update and git diff.\n--- got (first 2000 bytes):\n%.2000s", path, got)
	}
}

// smallRun is the launch fixture with one point per minute, small enough for golden files.
func smallRun() *reports.Run { return reportstest.Launch(time.Minute) }

// goRun is a GO record whose objectives all passed (ReadRun refuses a GO its record
// contradicts).
func goRun() *reports.Run {
	r := smallRun()
	r.Verdict, r.Reasons = verdict.Go, nil
	for i := range r.SLOs {
		s := &r.SLOs[i]
		if s.Value == nil {
			v := s.Objective
			s.Value = &v
		}
		s.Status, s.Error = verdict.Pass, ""
	}
	return r
}

func render(t *testing.T, f func(w *bytes.Buffer) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRunJSONGolden(t *testing.T) {
	got := render(t, func(w *bytes.Buffer) error { return reports.WriteJSON(w, smallRun()) })
	golden(t, "TestRunJSONGolden.golden.json", got)
}

// TestRunJSONStructure pins the field names of run.json, the contract other tools read:
// renaming or dropping a field changes the list and fails here.
func TestRunJSONStructure(t *testing.T) {
	got := render(t, func(w *bytes.Buffer) error { return reports.WriteJSON(w, smallRun()) })
	var doc any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if prefix == ".config" || prefix == ".versions" {
				paths[prefix+"{}"] = true // free-form: keys are data, not schema
				return
			}
			for k, e := range x {
				paths[prefix+"."+k] = true
				walk(prefix+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(prefix+"[]", e)
			}
		}
	}
	walk("", doc)
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	golden(t, "TestRunJSONStructure.golden.txt", []byte(strings.Join(keys, "\n")+"\n"))
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join("..", "docs", "run.schema.json"))
	if err != nil {
		t.Fatalf("compile docs/run.schema.json: %v", err)
	}
	return sch
}

func TestRunJSONMatchesSchema(t *testing.T) {
	sch := compileSchema(t)
	for name, r := range map[string]*reports.Run{"launch": reportstest.Launch(time.Second), "minimal": mustRead(t, "testdata/minimal.good.json")} {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(render(t, func(w *bytes.Buffer) error { return reports.WriteJSON(w, r) })))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s run.json does not match docs/run.schema.json: %v", name, err)
		}
	}
	// The schema must reject what ReadRun rejects, or it documents nothing.
	bad, _ := filepath.Glob("testdata/bad/*.bad.json")
	for _, path := range bad {
		if strings.Contains(path, "truncated") || strings.Contains(path, "series-length") ||
			strings.Contains(path, "duplicate-key") || strings.Contains(path, "go-with-failing") {
			continue // not valid JSON / cross-field rules / duplicate keys JSON Schema cannot state
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err == nil {
			t.Errorf("%s: schema accepted it, ReadRun rejects it", path)
		}
	}
}

func mustRead(t *testing.T, path string) *reports.Run {
	t.Helper()
	r, err := reports.ReadRun(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReadRunRejectsBadInput(t *testing.T) {
	tests := []struct {
		file string
		want []string // every one must appear in the error
	}{
		{"unknown-field", []string{`unknown field "treshold"`}},
		{"wrong-type", []string{"field videos.lost", "string"}},
		{"bad-verdict", []string{"field verdict", "MAYBE"}},
		{"bad-status", []string{"field slos[0].status", `"OK"`}},
		{"pass-without-value", []string{"field slos[0].value", "missing data never passes"}},
		{"wrong-schema", []string{"field schema", "ddp-verify/run/v0"}},
		{"series-length", []string{"field series.rps", "3 points"}},
		{"truncated", []string{"unexpected EOF"}},
		{"not-evaluated-without-reason", []string{"field not_evaluated[0].reason", "is empty"}},
		// encoding/json keeps the last of two equal keys (in any case) silently.
		{"duplicate-key", []string{`field verdict: duplicate key "verdict"`}},
		{"duplicate-key-case", []string{`field Verdict: duplicate key "Verdict" (as "verdict": JSON field names match in any case)`}},
		// A GO its own objectives contradict is never shown as GO.
		{"go-with-failing-key-objective", []string{"field verdict: GO, but key objective api-latency-p95 in steady is FAIL", "not shown as GO"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", "bad", tt.file+".bad.json")
			_, err := reports.ReadRun(path)
			if err == nil {
				t.Fatal("ReadRun accepted it")
			}
			for _, w := range append([]string{path}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestWriteRunDirRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	want := reportstest.Launch(10 * time.Second)
	if err := reports.WriteRunDir(dir, want); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if wantNames := []string{"junit.xml", "report.html", "run.json", "summary.md"}; !slices.Equal(names, wantNames) {
		t.Errorf("run dir holds %v, want %v (no temp files left behind)", names, wantNames)
	}
	got := mustRead(t, filepath.Join(dir, "run.json"))
	// Compare through JSON: NaN gaps in the series are never == in Go.
	a := render(t, func(w *bytes.Buffer) error { return reports.WriteJSON(w, want) })
	b := render(t, func(w *bytes.Buffer) error { return reports.WriteJSON(w, got) })
	if !bytes.Equal(a, b) {
		t.Error("run.json read back differs from what was written")
	}
	if !math.IsNaN(got.Series.RealtimeRatio[0]) {
		t.Errorf("a null point read back as %v, want NaN (a gap, not zero)", got.Series.RealtimeRatio[0])
	}
}

func TestWriteRunDirRefusesInvalidRun(t *testing.T) {
	r := smallRun()
	r.Verdict = "PROBABLY"
	dir := t.TempDir()
	if err := reports.WriteRunDir(dir, r); err == nil || !strings.Contains(err.Error(), "field verdict") {
		t.Fatalf("WriteRunDir = %v, want an error naming field verdict", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("an invalid run left files behind: %v", entries)
	}
}

func parseJUnit(t *testing.T, r *reports.Run) reports.JUnitSuites {
	t.Helper()
	b := render(t, func(w *bytes.Buffer) error { return reports.WriteJUnit(w, r) })
	var s reports.JUnitSuites
	if err := xml.Unmarshal(b, &s); err != nil {
		t.Fatalf("junit.xml does not parse: %v\n%s", err, b)
	}
	return s
}

func TestJUnitCountsMatchSLOs(t *testing.T) {
	r := smallRun()
	r.SLOs[5].Status, r.SLOs[5].Value, r.SLOs[5].Error = verdict.Error, nil, "query timed out"
	s := parseJUnit(t, r)
	if len(s.Suites) != 2 || s.Suites[0].Name != reports.JUnitSLOSuite {
		t.Fatalf("suites %+v, want the SLO suite and the verdict suite", s.Suites)
	}
	slo := s.Suites[0]
	var wantFail, wantErr int
	for _, o := range r.SLOs {
		switch o.Status {
		case verdict.Fail, verdict.NoData:
			wantFail++
		case verdict.Error:
			wantErr++
		}
	}
	if slo.Tests != len(r.SLOs) || len(slo.Cases) != len(r.SLOs) {
		t.Errorf("SLO suite has tests=%d cases=%d, want %d", slo.Tests, len(slo.Cases), len(r.SLOs))
	}
	var gotFail, gotErr int
	for i, c := range slo.Cases {
		if c.Failure != nil {
			gotFail++
		}
		if c.Error != nil {
			gotErr++
		}
		o := r.SLOs[i]
		if want := o.ID + " [" + o.Window + "]"; c.Name != want {
			t.Errorf("case %d is %q, want %q", i, c.Name, want)
		}
		if o.Status == verdict.Fail && !strings.Contains(c.Failure.Message, "objective "+o.Op) {
			t.Errorf("failure message %q does not give the threshold", c.Failure.Message)
		}
	}
	if gotFail != wantFail || slo.Failures != wantFail || gotErr != wantErr || slo.Errors != wantErr {
		t.Errorf("failures %d (attr %d), errors %d (attr %d); want %d failures (FAIL+NO_DATA), %d errors",
			gotFail, slo.Failures, gotErr, slo.Errors, wantFail, wantErr)
	}
	if v := s.Suites[1]; v.Failures != 1 || v.Cases[0].Failure == nil || !strings.Contains(v.Cases[0].Failure.Message, "NO-GO") {
		t.Errorf("verdict suite %+v, want one failing NO-GO case", v)
	}
	if s.Tests != len(r.SLOs)+1 || s.Failures != wantFail+1 || s.Errors != wantErr {
		t.Errorf("root counts tests=%d failures=%d errors=%d are not the sum of the suites", s.Tests, s.Failures, s.Errors)
	}
}

// A run that evaluated nothing must never produce an empty, passing JUnit report.
func TestJUnitZeroSLOsFails(t *testing.T) {
	r := smallRun()
	r.SLOs = nil
	r.Verdict = verdict.Go // even a (wrong) GO must not turn an empty report green
	s := parseJUnit(t, r)
	if s.Suites[0].Tests != 1 || s.Suites[0].Failures != 1 || s.Suites[0].Cases[0].Failure == nil {
		t.Fatalf("zero-SLO suite %+v, want one failing case", s.Suites[0])
	}
	if !strings.Contains(s.Suites[0].Cases[0].Failure.Message, "no objective was evaluated") {
		t.Errorf("message %q", s.Suites[0].Cases[0].Failure.Message)
	}
}

// A time-scaled run's objectives that were not evaluated show in every report: named, with
// the reason, and never counted as passed.
func TestNotEvaluatedShownInEveryReport(t *testing.T) {
	r := goRun()
	r.TimeScale = 0.05
	r.NotEvaluated = []verdict.NotEvaluated{{ID: "throughput_videos_per_hour", DisplayName: "Throughput >= 500 videos/hour", Key: true,
		Reason: "the run is time-scaled (x0.05) and this objective needs its windows [plateau] at full length"}}
	for name, f := range map[string]func(*bytes.Buffer) error{
		"summary.md":  func(w *bytes.Buffer) error { return reports.WriteMarkdown(w, r) },
		"report.html": func(w *bytes.Buffer) error { return reports.WriteHTML(w, r) },
	} {
		out := string(render(t, f))
		for _, want := range []string{"Not evaluated", "throughput_videos_per_hour", "plateau", "at full length", "time scale ×0.05"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s does not show %q", name, want)
			}
		}
	}
	s := parseJUnit(t, r)
	slo := s.Suites[0]
	if slo.Tests != len(r.SLOs)+1 || slo.Skipped != 1 || s.Skipped != 1 {
		t.Fatalf("SLO suite tests=%d skipped=%d (root %d), want %d tests and 1 skipped", slo.Tests, slo.Skipped, s.Skipped, len(r.SLOs)+1)
	}
	last := slo.Cases[len(slo.Cases)-1]
	if last.Name != "throughput_videos_per_hour [not evaluated]" || last.Skipped == nil || last.Failure != nil || !strings.Contains(last.Skipped.Message, "time-scaled") {
		t.Errorf("not-evaluated case %+v", last)
	}

	dir := filepath.Join(t.TempDir(), "run")
	if err := reports.WriteRunDir(dir, r); err != nil {
		t.Fatal(err)
	}
	back, err := reports.ReadRun(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if back.TimeScale != 0.05 || !slices.Equal(back.NotEvaluated, r.NotEvaluated) {
		t.Errorf("read back time scale %g, not evaluated %+v", back.TimeScale, back.NotEvaluated)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(render(t, func(w *bytes.Buffer) error { return reports.WriteJSON(w, r) })))
	if err != nil {
		t.Fatal(err)
	}
	if err := compileSchema(t).Validate(doc); err != nil {
		t.Errorf("run.json with not_evaluated does not match docs/run.schema.json: %v", err)
	}
}

func TestMarkdownGolden(t *testing.T) {
	got := render(t, func(w *bytes.Buffer) error { return reports.WriteMarkdown(w, smallRun()) })
	golden(t, "TestMarkdownGolden.golden.md", got)
}

func TestHTMLShowsEvidence(t *testing.T) {
	r := smallRun()
	html := string(render(t, func(w *bytes.Buffer) error { return reports.WriteHTML(w, r) }))
	for _, want := range []string{
		`class="verdict verdict-nogo"`, ">NO-GO<",
		`<span class="badge st-nodata">NO DATA</span>`, `<span class="badge st-fail">FAIL</span>`,
		"default-src 'none'",
		"142 ms", "gpu-1b-2", "GET /v1/dashboard", "hold 1000",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// Every value comes with the PromQL behind it.
	if got := strings.Count(html, `<details class="promql">`); got != len(r.SLOs) {
		t.Errorf("%d PromQL details, want %d", got, len(r.SLOs))
	}
	if got := strings.Count(html, `<figure class="chart"`); got != 8 {
		t.Errorf("%d charts, want 8", got)
	}
	for _, hint := range []string{"http://", "https://", "src=\"//", "@import", "url("} {
		if strings.Contains(html, hint) {
			t.Errorf("report.html contains %q: it must not reference anything external", hint)
		}
	}
	// The worst objective is the first row: the reviewer reads why before the passes.
	first := strings.Index(html, `<tr class="row-`)
	if !strings.HasPrefix(html[first:], `<tr class="row-st-fail"`) {
		t.Errorf("first objective row is %.40s, want a FAIL", html[first:])
	}
}

const payload = `<script>alert("x")</script>`

// TestHTMLEscapesUntrustedStrings feeds a script payload through every string that comes
// from profiles, SLO files and server responses.
func TestHTMLEscapesUntrustedStrings(t *testing.T) {
	r := smallRun()
	r.Profile, r.Target, r.RunID = payload, payload, payload
	r.Versions["platform"] = payload
	r.Reasons = append(r.Reasons, payload)
	r.Timeline[0].Name = payload
	r.Timeline = append(r.Timeline, reports.Event{Kind: reports.EventFault, Name: payload, Start: r.StartedAt.Add(time.Minute), End: r.StartedAt.Add(30 * time.Minute)})
	s := &r.SLOs[0]
	s.ID, s.DisplayName, s.Window, s.Query, s.Unit, s.Error = payload, payload, payload, payload, payload, payload
	s.Warnings = []string{payload}
	s.Evidence = append(s.Evidence, verdict.Evidence{Label: payload, Value: 1, Unit: payload})
	r.Chaos[0].Fault, r.Chaos[0].Targets, r.Chaos[0].Error = payload, []string{payload}, payload
	r.Load.Steps[0].Step, r.Load.Steps[0].Scenario = payload, payload
	r.Load.Stages[0].Stage = payload
	r.Config = json.RawMessage(`{"name":` + jsonString(payload) + `}`)

	html := string(render(t, func(w *bytes.Buffer) error { return reports.WriteHTML(w, r) }))
	if n := strings.Count(html, "<script"); n != 1 {
		t.Errorf("report.html has %d <script elements, want only its own", n)
	}
	if strings.Contains(html, `alert("x")</script>`) {
		t.Error("the payload reached the page unescaped")
	}
	if n := strings.Count(html, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"); n < 15 {
		t.Errorf("payload shown as text %d times, want it in every field (>= 15)", n)
	}

	md := string(render(t, func(w *bytes.Buffer) error { return reports.WriteMarkdown(w, r) }))
	if strings.Contains(md, "<script>") && !strings.Contains(md, "`"+payload+"`") {
		t.Errorf("summary.md carries raw HTML outside code spans:\n%s", md)
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.Contains(line, "<script>") && !strings.Contains(line, "`<script>") {
			t.Errorf("raw payload outside a code span: %s", line)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestJUnitGolden(t *testing.T) {
	golden(t, "TestJUnitGolden.golden.xml", render(t, func(w *bytes.Buffer) error { return reports.WriteJUnit(w, smallRun()) }))
}

func TestHTMLGolden(t *testing.T) {
	golden(t, "TestHTMLGolden.golden.html", render(t, func(w *bytes.Buffer) error { return reports.WriteHTML(w, smallRun()) }))
}

// A v1 run.json is read as v2: its chaos[].recovery_seconds was the time the backend took to
// undo the fault, now undo_seconds; the service recovery it never measured stays absent. A v2
// file may not use the old name.
func TestReadsV1RunJSON(t *testing.T) {
	r := mustRead(t, "testdata/v1-chaos.good.json")
	if r.Schema != reports.Schema || len(r.Chaos) != 1 {
		t.Fatalf("schema %q, %d faults", r.Schema, len(r.Chaos))
	}
	c := r.Chaos[0]
	if c.UndoSeconds == nil || *c.UndoSeconds != 2.5 || c.ServiceRecoverySeconds != nil || c.V1RecoverySeconds != nil {
		t.Errorf("migrated fault %+v, want undo 2.5 s and no service recovery", c)
	}
	var out bytes.Buffer
	if err := reports.WriteJSON(&out, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), `"recovery_seconds"`) {
		t.Errorf("re-rendered run.json still carries the v1 field:\n%s", out.String())
	}
	if _, err := reports.ReadRun("testdata/bad/v1-field-in-v2.bad.json"); err == nil || !strings.Contains(err.Error(), "chaos[0].recovery_seconds: is a ddp-verify/run/v1 field") {
		t.Errorf("v1 field in a v2 file: %v", err)
	}
}

// A --no-chaos run says in every report that its verdict says nothing about resilience; a run
// whose cost could not be computed says why instead of showing $0; the video accounting names
// unfinished videos and how the drain ended.
func TestCaveatsShownInEveryReport(t *testing.T) {
	r := smallRun()
	r.Verdict, r.Reasons = verdict.Go, nil
	r.FaultsSkipped = []string{"gpu-node", "zone-a"}
	r.Cost = reports.Cost{Currency: "USD", Unknown: "no dailydoco_fixed_hourly_cost series"}
	oldest := 190.0
	r.Videos = reports.Videos{Accepted: 23, Processed: 7, Unfinished: 16, OldestUnfinishedSeconds: &oldest, Drain: reports.DrainTimedOut}
	want := []string{"resilience NOT verified: --no-chaos skipped 2 fault(s) (gpu-node, zone-a)", "no dailydoco_fixed_hourly_cost series", "16 unfinished"}
	for name, f := range map[string]func(*bytes.Buffer) error{
		"summary.md":  func(w *bytes.Buffer) error { return reports.WriteMarkdown(w, r) },
		"report.html": func(w *bytes.Buffer) error { return reports.WriteHTML(w, r) },
		"terminal":    func(w *bytes.Buffer) error { return reports.WriteVerdict(w, r, "reports/x") },
	} {
		out := strings.ReplaceAll(string(render(t, f)), `\`, "") // Markdown escapes _
		for _, w := range want {
			if name == "terminal" && strings.HasPrefix(w, "no dailydoco") {
				continue // the terminal shows the verdict and the videos, not the cost
			}
			if !strings.Contains(out, w) {
				t.Errorf("%s does not show %q", name, w)
			}
		}
	}
	if out := string(render(t, func(w *bytes.Buffer) error { return reports.WriteMarkdown(w, r) })); !strings.Contains(out, "oldest waited 3m10s") || !strings.Contains(out, "drain timed out") {
		t.Errorf("summary.md video accounting lacks the oldest age or the drain:\n%s", out)
	}
	s := parseJUnit(t, r)
	var found bool
	for _, c := range s.Suites[0].Cases {
		if c.Name == "resilience [not verified]" && c.Skipped != nil && strings.Contains(c.Skipped.Message, "gpu-node, zone-a") {
			found = true
		}
	}
	if !found {
		t.Errorf("junit.xml has no skipped resilience case: %+v", s.Suites[0].Cases)
	}
}

// A run spread over load agents shows each agent's segment, state and share in every report,
// a lost agent with its reason; run.json keeps them (and matches its schema); a GO record
// with a lost agent is refused.
func TestAgentsShownInEveryReport(t *testing.T) {
	r := smallRun()
	r.Agents = []reports.Agent{
		{Index: 0, Segment: "0:1/2", Host: "h", PID: 11, State: "done", Requests: 859, Iterations: 99, VUsMax: 35},
		{Index: 1, Segment: "1/2:1", Host: "h", PID: 12, State: "lost", Reason: "its process (pid 12) exited (signal: killed)", Requests: 301, Iterations: 40, VUsMax: 35},
	}
	for name, f := range map[string]func(*bytes.Buffer) error{
		"summary.md":  func(w *bytes.Buffer) error { return reports.WriteMarkdown(w, r) },
		"report.html": func(w *bytes.Buffer) error { return reports.WriteHTML(w, r) },
		"terminal":    func(w *bytes.Buffer) error { return reports.WriteVerdict(w, r, "dir") },
	} {
		out := string(render(t, f))
		for _, want := range []string{"0:1/2", "1/2:1", "lost", "859", "301"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s does not show %q", name, want)
			}
		}
	}
	if out := string(render(t, func(w *bytes.Buffer) error { return reports.WriteHTML(w, r) })); !strings.Contains(out, "signal: killed") {
		t.Error("report.html does not give the lost agent's reason")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(render(t, func(w *bytes.Buffer) error { return reports.WriteJSON(w, r) })))
	if err != nil {
		t.Fatal(err)
	}
	if err := compileSchema(t).Validate(doc); err != nil {
		t.Errorf("run.json with agents does not match docs/run.schema.json: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if err := reports.WriteRunDir(dir, r); err != nil {
		t.Fatal(err)
	}
	back, err := reports.ReadRun(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Agents, r.Agents) {
		t.Errorf("agents read back %+v", back.Agents)
	}

	// A GO whose load lost an agent contradicts itself.
	g := goRun()
	g.Agents = r.Agents
	raw := render(t, func(w *bytes.Buffer) error { return reports.WriteJSON(w, g) })
	path := filepath.Join(t.TempDir(), "run.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := reports.ReadRun(path); err == nil || !strings.Contains(err.Error(), "load agent 1 (segment 1/2:1) is lost") {
		t.Errorf("ReadRun of a GO with a lost agent: %v", err)
	}
}
