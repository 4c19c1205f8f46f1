package load_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dailydoco/ddp-verify/load"
)

func TestParseThresholdAcceptsK6Grammar(t *testing.T) {
	cases := []struct {
		metric, expr string
		want         load.Threshold
	}{
		{"http_req_duration", "p(95)<100", load.Threshold{Metric: "http_req_duration", Agg: "p", P: 95, Op: "<", Value: 100}},
		{"http_req_duration", "p(99.9) <= 250.5", load.Threshold{Metric: "http_req_duration", Agg: "p", P: 99.9, Op: "<=", Value: 250.5}},
		{"http_req_duration", "avg<200", load.Threshold{Metric: "http_req_duration", Agg: "avg", Op: "<", Value: 200}},
		{"http_req_duration", "med < 150", load.Threshold{Metric: "http_req_duration", Agg: "med", Op: "<", Value: 150}},
		{"http_req_duration", "max<1e3", load.Threshold{Metric: "http_req_duration", Agg: "max", Op: "<", Value: 1000}},
		{"http_req_duration", "min>=0", load.Threshold{Metric: "http_req_duration", Agg: "min", Op: ">=", Value: 0}},
		{"http_req_failed", "rate<0.01", load.Threshold{Metric: "http_req_failed", Agg: "rate", Op: "<", Value: 0.01}},
		{"checks", "rate>0.99", load.Threshold{Metric: "checks", Agg: "rate", Op: ">", Value: 0.99}},
		{"http_reqs", "count>10", load.Threshold{Metric: "http_reqs", Agg: "count", Op: ">", Value: 10}},
		{"dropped_iterations", "count==0", load.Threshold{Metric: "dropped_iterations", Agg: "count", Op: "==", Value: 0}},
		{"my_gauge", "value!=3", load.Threshold{Metric: "my_gauge", Agg: "value", Op: "!=", Value: 3}},
		{"x", "count===1", load.Threshold{Metric: "x", Agg: "count", Op: "===", Value: 1}},
		{"http_req_duration{step:login}", "p(95)<100", load.Threshold{Metric: "http_req_duration", Filter: load.Filter{"step": "login"}, Agg: "p", P: 95, Op: "<", Value: 100}},
		{"http_req_duration{ scenario:web , method:POST }", "p(90)<300", load.Threshold{Metric: "http_req_duration", Filter: load.Filter{"scenario": "web", "method": "POST"}, Agg: "p", P: 90, Op: "<", Value: 300}},
		{"http_req_duration", "p(95)<100 over 1m", load.Threshold{Metric: "http_req_duration", Agg: "p", P: 95, Op: "<", Value: 100, Window: time.Minute}},
	}
	for _, tc := range cases {
		t.Run(tc.metric+" "+tc.expr, func(t *testing.T) {
			got, err := load.ParseThreshold(tc.metric, tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			got.Source, tc.want.Source = "", ""
			if got.Metric != tc.want.Metric || got.Agg != tc.want.Agg || got.P != tc.want.P || got.Op != tc.want.Op ||
				got.Value != tc.want.Value || got.Window != tc.want.Window || len(got.Filter) != len(tc.want.Filter) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for k, v := range tc.want.Filter {
				if got.Filter[k] != v {
					t.Fatalf("filter %v, want %v", got.Filter, tc.want.Filter)
				}
			}
		})
	}
}

func TestParseThresholdRejectsNamingTheToken(t *testing.T) {
	cases := []struct{ metric, expr, token string }{
		{"http_req_duration", "p95<100", "p95<100"},
		{"http_req_duration", "p(95)<1x0", "1x0"},
		{"http_req_duration", "p(101)<100", "101"},
		{"http_req_duration", "p(95)=>100", "=>100"},
		{"http_req_duration", "average<100", "average<100"},
		{"http_req_duration", "p(95)<", "p(95)<"},
		{"http_req_duration", "p(95)<100 over", "p(95)<100 over"},
		{"http_req_duration", "p(95)<100 over 1x", "1x"},
		{"http_req_duration", "p(95)<100 during 1m", "during"},
		{"http_req_duration", "p(95)<100 over 1m extra", "extra"},
		// One slot per second of the window: a million hours ran the generator out of memory.
		{"http_req_duration", "p(95)<100 over 1000000h", "1000000h"},
		{"http_req_duration", "p(95)<100 over 3601s", "3601s"},
		{"http-req", "p(95)<100", "http-req"},
		{"http_req_duration{step}", "p(95)<100", "step"},
		{"http_req_duration{step:login", "p(95)<100", "{step:login"},
	}
	for _, tc := range cases {
		t.Run(tc.metric+" "+tc.expr, func(t *testing.T) {
			_, err := load.ParseThreshold(tc.metric, tc.expr)
			var pe *load.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a ParseError", err)
			}
			if pe.Token != tc.token || !strings.Contains(err.Error(), `"`+tc.token+`"`) {
				t.Fatalf("error %q names %q, want %q", err, pe.Token, tc.token)
			}
		})
	}
}

func TestParseThresholdSpec(t *testing.T) {
	th, err := load.ParseThresholdSpec("http_req_duration{step:login}:p(95)<100 over 30s,abortOnFail,delayAbortEval=10s")
	if err != nil {
		t.Fatal(err)
	}
	if th.Metric != "http_req_duration" || th.Filter["step"] != "login" || th.Window != 30*time.Second || !th.AbortOnFail || th.DelayAbortEval != 10*time.Second {
		t.Fatalf("got %+v", th)
	}
	for _, bad := range []string{"p(95)<100", "http_req_duration:p(95)<100,abortOnFial", "http_req_duration:p(95)<100,delayAbortEval=soon"} {
		if _, err := load.ParseThresholdSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// slowAfter makes iterations take fast before `from` and slow from then on, recording the
// duration as trend "op" (ms thresholds) on the fake clock.
func slowAfter(from time.Duration, fast, slow time.Duration) load.Scenario {
	return load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
		d := fast
		if vu.Now().Sub(epoch) >= from {
			d = slow
		}
		vu.Trend("op", "", d)
		return vu.Sleep(ctx, 100*time.Millisecond)
	})
}

func TestThresholdsWholeRunWindowedAndAbort(t *testing.T) {
	mustT := func(spec string) load.Threshold {
		th, err := load.ParseThresholdSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		return th
	}
	cases := []struct {
		name      string
		th        load.Threshold
		wantPass  bool
		wantAbort bool
		wantEnd   time.Duration
	}{
		// 20 s of 10 ms, then 10 s of 500 ms: one third slow.
		{"whole-run p95 sees the slow third", mustT("op:p(95)<100"), false, false, 30 * time.Second},
		{"whole-run median passes", mustT("op:med<100"), true, false, 30 * time.Second},
		{"windowed p95 over 10s fails", mustT("op:p(50)<100 over 10s"), false, false, 30 * time.Second},
		{"windowed over 40s (longer than the run) judges the whole run", mustT("op:p(50)<100 over 40s"), true, false, 30 * time.Second},
		{"abortOnFail after delay", mustT("op:max<100,abortOnFail,delayAbortEval=25s"), false, true, 25 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := startFake(t, []load.ScenarioConfig{{Name: "s", GracefulStop: load.NoGrace,
					Executor: load.ConstantVUs{VUs: 1, Duration: 30 * time.Second},
					Exec:     slowAfter(20*time.Second, 10*time.Millisecond, 500*time.Millisecond)}},
					load.WithThresholds(tc.th))
				for !f.finished() && f.cur < time.Minute {
					f.at(f.cur + 100*time.Millisecond)
				}
				if f.res.Thresholds[0].Pass != tc.wantPass {
					t.Fatalf("result %+v, want pass=%v", f.res.Thresholds[0], tc.wantPass)
				}
				if (f.res.Aborted != nil) != tc.wantAbort || (tc.wantAbort && !errors.Is(f.err, load.ErrThresholdAbort)) {
					t.Fatalf("aborted %v err %v, want abort=%v", f.res.Aborted, f.err, tc.wantAbort)
				}
				if got := f.res.Snapshot.Elapsed; got != tc.wantEnd {
					t.Fatalf("ended at %v, want %v", got, tc.wantEnd)
				}
			})
		})
	}
}
