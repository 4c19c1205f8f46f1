package prom

import (
	"context"
	"fmt"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
)

// remoteQueryFunc evaluates the rule manager's instant queries on the Prometheus at url, as
// rules.EngineQueryFunc does on the local engine: a vector as it is, a scalar as a one-sample
// vector without labels. A native histogram sample is an error (the rules this package runs
// read classic histograms).
func remoteQueryFunc(url string) (rules.QueryFunc, error) {
	c, err := promapi.NewClient(promapi.Config{Address: url})
	if err != nil {
		return nil, fmt.Errorf("prom: rule source %s: %w", url, err)
	}
	api := v1.NewAPI(c)
	return func(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
		val, _, _, err := api.Query(ctx, q, t)
		if err != nil {
			return nil, fmt.Errorf("rule source %s: %w", url, err)
		}
		switch v := val.(type) {
		case model.Vector:
			return vectorOf(v)
		case *model.Scalar:
			return promql.Vector{{T: t.UnixMilli(), F: float64(v.Value), Metric: labels.EmptyLabels()}}, nil
		}
		return nil, fmt.Errorf("rule source %s: %q returned a %s, not a vector or a scalar", url, q, val.Type())
	}, nil
}

// vectorOf converts an API vector into the engine's.
func vectorOf(v model.Vector) (promql.Vector, error) {
	out := make(promql.Vector, 0, len(v))
	for _, s := range v {
		if s.Histogram != nil {
			return nil, fmt.Errorf("rule source: %s is a native histogram sample, which remotely evaluated rules do not read", s.Metric)
		}
		m := make(map[string]string, len(s.Metric))
		for k, val := range s.Metric {
			m[string(k)] = string(val)
		}
		out = append(out, promql.Sample{T: int64(s.Timestamp), F: float64(s.Value), Metric: labels.FromMap(m)})
	}
	return out, nil
}
