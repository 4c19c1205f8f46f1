package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The k6-named collector: requests, failures, checks, trends (seconds) and custom metrics
// under k6's remote-write names, with k6's tag names and a request's own tags as labels,
// beside the engine's own collector (whose series sum the tagged ones in) on one registry (a
// real Gather, which checks label consistency and refuses a series collected twice).
func TestK6CollectorNamesAndValues(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	items := must(NewCustomMetric("items", CustomCounter, false))
	wait := must(NewCustomMetric("wait", CustomTrend, true))
	eng, err := NewEngine([]ScenarioConfig{{Name: "users", Executor: PerVUIterations{VUs: 1, Iterations: 1}, Exec: ScenarioFunc(func(ctx context.Context, vu *VU) error {
		for range 3 {
			if _, err := vu.HTTP().Get(ctx, "home", srv.URL+"/"); err != nil {
				return err
			}
		}
		if _, err := vu.HTTP().Get(ctx, "missing", srv.URL+"/missing"); err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/", nil)
		if err != nil {
			return err
		}
		if _, err := vu.HTTP().DoWith(ctx, "home", req, RequestOptions{Redirects: -1, Tags: map[string]string{"kind": "api"}}); err != nil {
			return err
		}
		vu.Check("home ok", true)
		vu.Check("home ok", false)
		for _, err := range []error{vu.AddMetric(items, 2, map[string]string{"kind-of": "a"}), vu.AddMetric(items, 5, nil),
			vu.AddMetric(wait, 250, nil)} {
			if err != nil {
				return err
			}
		}
		return nil
	})}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(eng.Collector(), eng.K6Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				if matches(m, labels) {
					if c := m.GetCounter(); c != nil {
						return c.GetValue(), true
					}
					return m.GetGauge().GetValue(), true
				}
			}
		}
		return 0, false
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"k6_http_reqs_total", map[string]string{"scenario": "users", "name": "home", "method": "GET", "status": "200", "kind": ""}, 3},
		{"k6_http_reqs_total", map[string]string{"name": "home", "kind": "api"}, 1},
		// The engine's own series have its labels only: a request's own tags are summed in.
		{PromRequests, map[string]string{"scenario": "users", "step": "home", "method": "GET", "status": "200"}, 4},
		{"k6_http_req_failed_rate", map[string]string{"name": "missing", "status": "404"}, 1},
		{"k6_http_req_failed_rate", map[string]string{"name": "home"}, 0},
		{"k6_checks_rate", map[string]string{"check": "home ok"}, 0.5},
		{"k6_iterations_total", map[string]string{"scenario": "users"}, 1},
		{"k6_vus_max", nil, 1},
		{"k6_items_total", map[string]string{"kind_of": "a"}, 2},
		{"k6_items_total", map[string]string{"kind_of": ""}, 5},
		{"k6_wait_p95", map[string]string{"scenario": "users"}, 0.25},
	} {
		got, ok := value(c.name, c.labels)
		if !ok || got < c.want*0.999 || got > c.want*1.001 {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if d, ok := value("k6_http_req_duration_p99", map[string]string{"name": "home"}); !ok || d <= 0 || d > 10 {
		t.Errorf("k6_http_req_duration_p99{name=home} = %v (found %v), want seconds", d, ok)
	}
}

func matches(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}
