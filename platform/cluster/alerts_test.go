package cluster_test

import (
	"log/slog"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
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
	idleVideo(t, c, "198.51.100.40")
	var addrs []string
	for _, tg := range c.Targets() {
		addrs = append(addrs, tg.Addr)
	}
	scraped, err := platformtest.ScrapeAll(addrs...)
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(alerts.Rules, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
			if err != nil {
				t.Fatalf("%s: %v", r.Alert, err)
			}
			grouping, optional := groupingLabels(expr), fallenBackFrom(expr)
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					matchers := vs.LabelMatchers
					if optional[vs] {
						matchers = nameOnly(matchers)
					}
					if !selects(scraped, matchers, grouping) {
						t.Errorf("%s: no exported series matches %s with the labels %v", r.Alert, vs, grouping)
					}
				}
				return nil
			})
		}
	}
}

// groupingLabels are the labels the expression's aggregations group by (le aside: a
// histogram's buckets carry it in the exposition's own form).
func groupingLabels(expr parser.Expr) []string {
	var out []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if a, ok := n.(*parser.AggregateExpr); ok && !a.Without {
			for _, l := range a.Grouping {
				if l != "le" {
					out = append(out, l)
				}
			}
		}
		return nil
	})
	return out
}

// fallenBackFrom are the selectors on the left of an `or vector(...)`: the rule reads their
// absence as the fallback's value.
func fallenBackFrom(expr parser.Expr) map[*parser.VectorSelector]bool {
	out := map[*parser.VectorSelector]bool{}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		b, ok := n.(*parser.BinaryExpr)
		if !ok || b.Op != parser.LOR {
			return nil
		}
		if call, ok := unwrap(b.RHS).(*parser.Call); ok && call.Func.Name == "vector" {
			parser.Inspect(b.LHS, func(m parser.Node, _ []parser.Node) error {
				if vs, ok := m.(*parser.VectorSelector); ok {
					out[vs] = true
				}
				return nil
			})
		}
		return nil
	})
	return out
}

func unwrap(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// nameOnly keeps the metric name matcher.
func nameOnly(ms []*labels.Matcher) []*labels.Matcher {
	for _, m := range ms {
		if m.Name == model.MetricNameLabel {
			return []*labels.Matcher{m}
		}
	}
	return nil
}

// selects reports whether some scraped series matches every matcher and carries every label
// of grouping. A histogram's _bucket, _count and _sum series are its family's.
func selects(m platformtest.Metrics, matchers []*labels.Matcher, grouping []string) bool {
	var name string
	for _, mt := range matchers {
		if mt.Name == model.MetricNameLabel {
			name = mt.Value
		}
	}
	mf := m[name]
	if mf == nil {
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && m[base] != nil && m[base].GetType() == dto.MetricType_HISTOGRAM {
				mf = m[base]
			}
		}
	}
	if mf == nil {
		return false
	}
series:
	for _, s := range mf.GetMetric() {
		ls := map[string]string{model.MetricNameLabel: name}
		for _, l := range s.GetLabel() {
			ls[l.GetName()] = l.GetValue()
		}
		for _, mt := range matchers {
			if !mt.Matches(ls[mt.Name]) {
				continue series
			}
		}
		for _, g := range grouping {
			if _, ok := ls[g]; !ok {
				continue series
			}
		}
		return true
	}
	return false
}
