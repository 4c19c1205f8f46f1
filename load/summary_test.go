package load_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/load/loadtest"
)

// The text summary has k6's end-of-test layout: thresholds under their metric with the value
// they were judged on, the checks' totals and each check (✗ with its share of passes), then the
// HTTP, execution, network and custom sections in that order, every name dotted out to one
// column.
func TestSummaryTextLayout(t *testing.T) {
	tg := loadtest.NewTarget(t)
	items := must(load.NewCustomMetric("items", load.CustomCounter, false))
	sc := load.ScenarioConfig{Name: "s", Executor: load.PerVUIterations{VUs: 1, Iterations: 4},
		Exec: load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
			if _, err := vu.HTTP().Get(ctx, "home", tg.URL); err != nil {
				return err
			}
			vu.Check("always", true)
			vu.Check("even", vu.Iteration()%2 == 0)
			return vu.AddMetric(items, 1, nil)
		})}
	th := must(load.ParseThresholdSpec("http_req_duration: p(95)<60000"))
	e, err := load.NewEngine([]load.ScenarioConfig{sc}, load.WithThresholds(th))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := load.Summarize(res).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, re := range []string{
		`(?s)█ THRESHOLDS\n\n    http_req_duration\n    ✓ 'p\(95\)<60000' p\(95\)=[0-9.e+-]+\n`,
		`checks_total\.+: 8 `, `checks_succeeded\.+: 75\.00%\s+6 out of 8`, `checks_failed\.+: 25\.00%\s+2 out of 8`,
		`    ✓ always\n    ✗ even\n      ↳  50\.00% — ✓ 2 / ✗ 2\n`,
		`(?s)HTTP\n.*http_reqs\.+: 4 .*EXECUTION\n.*iterations\.+: 4 .*NETWORK\n.*data_received\.+: .*CUSTOM\n    items\.+: 4 `,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("summary does not match %q:\n%s", re, text)
		}
	}
	// Every metric's value starts in one column.
	col := -1
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, ".: "); i > 0 && strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "    #") {
			if col >= 0 && i != col {
				t.Errorf("line %q: value at column %d, others at %d", line, i, col)
			}
			col = i
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
