package load_test

import (
	"context"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/load/loadtest"
)

func TestSmokeHTTP(t *testing.T) {
	tg := loadtest.NewTarget(t)
	sc := load.ScenarioConfig{Name: "s", Executor: load.ConstantVUs{VUs: 5, Duration: 2 * time.Second},
		Exec: load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
			_, err := vu.HTTP().Get(ctx, "home", tg.URL)
			return err
		})}
	e, err := load.NewEngine([]load.ScenarioConfig{sc})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := load.Summarize(res)
	_ = s.WriteText(t.Output())
	if s.Requests == 0 || int64(s.Requests) != tg.Requests.Load() {
		t.Fatalf("requests %d, server saw %d", s.Requests, tg.Requests.Load())
	}
}
