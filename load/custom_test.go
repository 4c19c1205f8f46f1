package load

import (
	"context"
	"encoding/json"
	"math"
	"testing"
)

// Custom metrics: each kind's aggregates, tags as filters, thresholds on them, and snapshots
// that merge exactly (two generators' halves give the whole run's values) across JSON.
func TestCustomMetricsAggregateAndMerge(t *testing.T) {
	counter := must(NewCustomMetric("items", CustomCounter, false))
	gauge := must(NewCustomMetric("queue", CustomGauge, false))
	rate := must(NewCustomMetric("hits", CustomRate, false))
	trend := must(NewCustomMetric("size", CustomTrend, false))
	record := func(from, to int) *Snapshot {
		res := runVU(t, HTTPOptions{}, func(_ context.Context, vu *VU) {
			for i := from; i <= to; i++ {
				tags := map[string]string{"parity": "odd"}
				if i%2 == 0 {
					tags["parity"] = "even"
				}
				for _, add := range []struct {
					m CustomMetric
					v float64
				}{{counter, 2}, {gauge, float64(i)}, {rate, float64(i % 2)}, {trend, float64(i) / 4}} {
					if err := vu.AddMetric(add.m, add.v, tags); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
		return res.Snapshot
	}
	whole := record(1, 100)
	half := record(1, 50)
	b, err := json.Marshal(record(51, 100))
	if err != nil {
		t.Fatal(err)
	}
	var other Snapshot
	if err := json.Unmarshal(b, &other); err != nil {
		t.Fatal(err)
	}
	half.Merge(&other)
	for name, snap := range map[string]*Snapshot{"one generator": whole, "two merged": half} {
		for _, c := range []struct {
			th   string
			want float64
		}{
			{"items: count==200", 200}, {"items{parity:even}: count==100", 100},
			{"queue: value==100", 100}, {"hits: rate==0.5", 0.5}, {"hits{parity:odd}: rate==1", 1},
			{"size: avg<13", 12.625}, {"size: min==0.25", 0.25}, {"size: max==25", 25},
			{"size{parity:even}: min==0.5", 0.5}, {"size: p(50)<12.7", 12.5},
		} {
			th, err := ParseThresholdSpec(c.th)
			if err != nil {
				t.Fatal(err)
			}
			r := th.Evaluate(snap)
			if !r.Pass || math.Abs(r.Value-c.want) > 0.02 {
				t.Errorf("%s: %s = %v (pass %v), want %v", name, c.th, r.Value, r.Pass, c.want)
			}
		}
	}
	none := must(ParseThresholdSpec("size{parity:none}: avg<1"))
	if r := none.Evaluate(whole); !r.NoData || r.Pass {
		t.Errorf("a filter that matches no series: %+v, want no data and a failure", r)
	}
	if err := (&VU{}).AddMetric(trend, math.NaN(), nil); err == nil {
		t.Error("NaN accepted")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
