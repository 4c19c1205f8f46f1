package cluster_test

import (
	"log/slog"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/dailydoco/ddp-verify/platform/alerts"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
)

// Every series an alert rule selects exists on a running reference platform, with the labels
// its matchers and its grouping ask for: a rule over a metric nobody exports can never fire,
// and would pass every "no alert in steady state" check by omission. (One video is processed
// first: the realtime histogram has no series before its first observation. A selector the
// rule itself falls back from, `(... or vector(0))`, such as the 5xx answers a healthy
// platform never gave, needs only its metric.)
func TestAlertRulesSelectExportedSeries(t *testing.T) {
	t.Parallel()
	c := platformtest.Start(t, nil)
	idleVideo(t, c, "198.51.100.43")
	scraped := scrapeRole(t, c, "", "") // every process
	groups, errs := rulefmt.Parse(alerts.Rules, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			missing, err := scraped.Unselected(r.Expr)
			if err != nil {
				t.Fatalf("%s: %v", r.Alert, err)
			}
			for _, sel := range missing {
				t.Errorf("%s: no exported series matches %s with the labels it groups by", r.Alert, sel)
			}
		}
	}
}
