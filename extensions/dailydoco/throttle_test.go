package dailydoco_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
)

// The throttling test runs the real reference platform (gateway with per-IP limits) as
// separate processes re-executed from this test binary.
func TestMain(m *testing.M) { platformtest.Main(m) }

func login(ctx context.Context, c *dailydoco.Client, vu *load.VU) error {
	email := fmt.Sprintf("throttle-%d@loadtest.dailydoco.test", vu.ID())
	if _, err := c.Register(ctx, email, "password-1", "t"); err != nil {
		return err
	}
	_, err := c.Login(ctx, email, "password-1")
	return err
}

// One abusive client starts captures as fast as it can and is throttled (429) once it has used
// the gateway's per-IP video budget (100/min); five ordinary users, each with its own
// X-Forwarded-For address, keep starting captures after that and are never throttled. The
// abuser does not retry (Retries -1): a client that honours Retry-After would wait for the
// next token and carry on, which TestClientHonoursRetryAfter covers.
func TestAbusiveClientIsThrottledOthersAreNot(t *testing.T) {
	c := platformtest.Start(t, nil)
	cfg := &dailydoco.Config{BaseURL: c.GatewayURL()}
	abuserCfg := &dailydoco.Config{BaseURL: c.GatewayURL(), Retries: -1}
	throttled := make(chan struct{})
	var accepted atomic.Int64
	var once sync.Once
	spec := dailydoco.CaptureSpec{Title: "t", Resolution: dailydoco.R1080p, MediaSeconds: 30}

	abuser := load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
		cl := dailydoco.New(vu, abuserCfg, "abuse")
		if err := login(ctx, cl, vu); err != nil {
			return err
		}
		for range 300 {
			_, err := cl.StartCapture(ctx, spec)
			if errors.Is(err, dailydoco.ErrRateLimited) {
				once.Do(func() { close(throttled) })
				return nil
			}
			if err != nil {
				return err
			}
			accepted.Add(1)
		}
		return errors.New("300 captures and never throttled")
	})
	user := load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
		cl := dailydoco.New(vu, cfg, "user")
		if err := login(ctx, cl, vu); err != nil {
			return err
		}
		select { // act while the abuser is being throttled
		case <-throttled:
		case <-ctx.Done():
			return ctx.Err()
		}
		for range 3 {
			if _, err := cl.StartCapture(ctx, spec); err != nil {
				return err
			}
		}
		return nil
	})
	eng, err := load.NewEngine([]load.ScenarioConfig{
		{Name: "abuser", Exec: abuser, Executor: load.PerVUIterations{VUs: 1, Iterations: 1, MaxDuration: 30 * time.Second}},
		{Name: "users", Exec: user, Executor: load.PerVUIterations{VUs: 5, Iterations: 1, MaxDuration: 30 * time.Second}},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := res.Snapshot
	if f := s.Counter(load.MetricIterFailed, nil); f != 0 {
		t.Fatalf("%v iterations failed", f)
	}
	// The burst allowance is the per-minute budget; a few tokens refill while the burst runs.
	if n := accepted.Load(); n < 95 || n > 110 {
		t.Errorf("abuser had %d captures accepted before its first 429, want about 100", n)
	}
	var abuser429, user429, userOK uint64
	for _, se := range s.Series {
		if se.Metric != load.MetricReqDuration {
			continue
		}
		switch {
		case se.Tags["scenario"] == "abuser" && se.Tags["status"] == "429":
			abuser429 += se.Count
		case se.Tags["scenario"] == "users" && se.Tags["status"] == "429":
			user429 += se.Count
		case se.Tags["scenario"] == "users" && se.Tags["step"] == "user.capture_start" && se.Tags["status"] == "201":
			userOK += se.Count
		}
	}
	if abuser429 != 1 || user429 != 0 || userOK != 15 {
		t.Errorf("abuser 429s %d (want 1), users' 429s %d (want 0), users' accepted captures %d (want 15)", abuser429, user429, userOK)
	}
}
