package platformtest

import (
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Unselected parses the PromQL expression and returns its selectors that select no series of
// m, so that a query over a metric nobody exports (or with a label nobody sets) is caught
// before it ships in a rule or a dashboard. A selector must match some series with every one
// of its matchers and carry every label the expression groups by (le aside). A selector the
// expression itself falls back from, `(... or vector(0))`, needs only its metric: its series
// may rightly be absent (the 5xx answers of a healthy platform).
func (m Metrics) Unselected(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	grouping, optional := groupingLabels(e), fallenBackFrom(e)
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			matchers := vs.LabelMatchers
			if optional[vs] {
				matchers = nameOnly(matchers)
			}
			if !selects(m, matchers, grouping) {
				out = append(out, vs.String())
			}
		}
		return nil
	})
	return out, nil
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
func selects(m Metrics, matchers []*labels.Matcher, grouping []string) bool {
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
