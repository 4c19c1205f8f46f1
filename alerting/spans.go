package alerting

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Span is one alert firing without interruption: its name, its labels (the rule's and the
// series', __name__, alertname and alertstate left out) and the first and last evaluations that saw it
// firing.
type Span struct {
	Alert      string
	Labels     map[string]string
	Start, End time.Time
}

// Severity is the span's severity label ("critical", "warning", ...).
func (s Span) Severity() string { return s.Labels["severity"] }

// Has reports whether the span carries every one of labels with the same value.
func (s Span) Has(labels map[string]string) bool {
	for k, v := range labels {
		if s.Labels[k] != v {
			return false
		}
	}
	return true
}

// String is `NodeNotReady{node="gpu-1a-1",severity="critical"}`.
func (s Span) String() string { return s.Alert + labelText(s.Labels) }

// labelText writes labels as PromQL does, sorted: `{a="1",b="2"}`; "" for none.
func labelText(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, labels[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Querier is what the alert readers need of a Prometheus: range queries and its rules
// (client_golang's v1.API has both).
type Querier interface {
	QueryRange(ctx context.Context, query string, r v1.Range, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
	Rules(ctx context.Context, matches []string) (v1.RulesResult, error)
}

// firingQuery selects every firing alert; Prometheus's rule manager writes ALERTS at each
// evaluation and a stale marker when an alert stops firing.
const firingQuery = `ALERTS{alertstate="firing"}`

// ReadSpans reads the firing spans between from and to from the ALERTS series, at step (the
// rule evaluation interval or finer). A span ends where its series has a gap of more than two
// steps. They are sorted by start.
func ReadSpans(ctx context.Context, q Querier, from, to time.Time, step time.Duration) ([]Span, error) {
	val, _, _, err := q.QueryRange(ctx, firingQuery, v1.Range{Start: from, End: to, Step: step})
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", firingQuery, err)
	}
	m, ok := val.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("query %s: Prometheus answered a %s, not a range of samples", firingQuery, val.Type())
	}
	var out []Span
	for _, s := range m {
		out = append(out, seriesSpans(s, step)...)
	}
	slices.SortStableFunc(out, func(a, b Span) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// seriesSpans cuts one ALERTS series into its spans.
func seriesSpans(s *model.SampleStream, step time.Duration) []Span {
	labels := map[string]string{}
	for k, v := range s.Metric {
		if k != model.AlertNameLabel && k != model.MetricNameLabel && k != "alertstate" {
			labels[string(k)] = string(v)
		}
	}
	name := string(s.Metric[model.AlertNameLabel])
	var out []Span
	for i := 0; i < len(s.Values); {
		j := i + 1
		for j < len(s.Values) && s.Values[j].Timestamp.Time().Sub(s.Values[j-1].Timestamp.Time()) <= 2*step {
			j++
		}
		out = append(out, Span{Alert: name, Labels: labels,
			Start: s.Values[i].Timestamp.Time().UTC(), End: s.Values[j-1].Timestamp.Time().UTC()})
		i = j
	}
	return out
}
