package run

import (
	"context"
	"slices"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/reports"
)

// alertLabels are the labels of an ALERTS series an alert event names, in this order.
var alertLabels = []model.LabelName{"severity", "zone", "node", "service"}

// alertEvents are the alerts that fired during the run, from the ALERTS series of the target's
// Prometheus (the embedded one evaluates the deployment plan's rules; a URL target's
// Prometheus its own): one timeline event per firing span of each alert, with its severity and
// what it is about as the detail. A span ends where the series has a gap of more than two
// steps. Nothing fired, or no ALERTS series at all, is an empty list.
func (r *runner) alertEvents(ctx context.Context, api v1.API, t0, end time.Time) []reports.Event {
	step := prom.DefaultScrapeInterval
	val, _, _, err := api.QueryRange(ctx, `ALERTS{alertstate="firing"}`, v1.Range{Start: t0, End: end, Step: step})
	m, ok := val.(model.Matrix)
	if err != nil || !ok {
		r.log.Warn("the alerts that fired could not be read; the timeline lists none", "err", err)
		return nil
	}
	var out []reports.Event
	for _, s := range m {
		name, detail := string(s.Metric["alertname"]), alertDetail(s.Metric)
		for i := 0; i < len(s.Values); {
			j := i + 1
			for j < len(s.Values) && s.Values[j].Timestamp.Time().Sub(s.Values[j-1].Timestamp.Time()) <= 2*step {
				j++
			}
			out = append(out, reports.Event{Kind: reports.EventAlert, Name: name, Detail: detail,
				Start: s.Values[i].Timestamp.Time().UTC(), End: s.Values[j-1].Timestamp.Time().UTC()})
			i = j
		}
	}
	slices.SortStableFunc(out, func(a, b reports.Event) int { return a.Start.Compare(b.Start) })
	return out
}

// alertDetail is "severity=critical node=gpu-1a-1" for the labels an alert carries.
func alertDetail(m model.Metric) string {
	var parts []string
	for _, l := range alertLabels {
		if v, ok := m[l]; ok {
			parts = append(parts, string(l)+"="+string(v))
		}
	}
	return strings.Join(parts, " ")
}
