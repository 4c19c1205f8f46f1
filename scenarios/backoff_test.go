package scenarios_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/scenarios"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// signalingClock is a fake clock that says when a timer is created: a VU going to sleep.
type signalingClock struct {
	*clocktesting.FakeClock
	timers chan struct{}
}

func (c signalingClock) NewTimer(d time.Duration) clock.Timer {
	t := c.FakeClock.NewTimer(d)
	select {
	case c.timers <- struct{}{}:
	default:
	}
	return t
}

// refusing is a target that refuses every request with status (and Retry-After when set),
// recording when each VU (by its client address) sent each request, on the fake clock. Past
// limit requests it reports a flood: the VUs are not waiting between requests.
type refusing struct {
	clk        *clocktesting.FakeClock
	status     int
	retryAfter string
	limit      int

	mu    sync.Mutex
	total int
	at    map[string][]time.Duration
	once  sync.Once
	flood chan struct{}
}

func (s *refusing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.total++
	s.at[r.Header.Get("X-Forwarded-For")] = append(s.at[r.Header.Get("X-Forwarded-For")], s.clk.Since(epoch))
	if s.total > s.limit {
		s.once.Do(func() { close(s.flood) })
	}
	s.mu.Unlock()
	if s.retryAfter != "" {
		w.Header().Set("Retry-After", s.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(s.status)
	w.Write([]byte(`{"error":{"code":"refused","message":"go away"}}`))
}

const floodProfile = `
name: flood
scenarios:
  - name: users
    executor: constant-vus
    vus: 2
    duration: 60s
    gracefulStop: 0s
    journeys: {browse: 1}
    thinkTime: {distribution: constant, mean: 0s}
slo: default
`

// runAgainst runs the flood profile (two users, no think time, the default failure backoff)
// against srv on a fake clock: the clock moves 1 s at a time, and only while both VUs wait
// on it, so a VU that never waits keeps it at 0 until the target reports a flood.
func runAgainst(t *testing.T, srv *refusing) *load.Result {
	t.Helper()
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p, err := profile.Parse("flood.yaml", []byte(floodProfile))
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := p.Plan()
	scs, err := scenarios.FromPlan(plan, scenarios.Target{BaseURL: ts.URL, RunID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	clk := signalingClock{FakeClock: srv.clk, timers: make(chan struct{}, 1)}
	eng, err := load.NewEngine(scs, load.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	var res *load.Result
	go func() {
		defer close(done)
		res, _ = eng.Run(ctx)
	}()
	// Waiters while both VUs sleep: theirs, the engine's ticker and the executor's timer.
	const asleep = 2 + 2
	guard := time.NewTimer(2 * time.Minute) // real time: only a hung engine gets here
	defer guard.Stop()
	for {
		if clk.Waiters() >= asleep {
			clk.Step(time.Second)
			continue
		}
		select {
		case <-done:
			return res
		case <-srv.flood:
			cancel()
			<-done
			srv.mu.Lock()
			defer srv.mu.Unlock()
			t.Fatalf("flood: %d requests while the fake clock stood at %v (the VUs do not wait): %v", srv.total, clk.Since(epoch), srv.at)
		case <-guard.C:
			t.Fatalf("the run did not end; fake clock at %v", clk.Since(epoch))
		case <-clk.timers:
		}
	}
}

func newRefusing(status int, retryAfter string, limit int) *refusing {
	return &refusing{clk: clocktesting.NewFakeClock(epoch), status: status, retryAfter: retryAfter, limit: limit,
		at: map[string][]time.Duration{}, flood: make(chan struct{})}
}

// Two users with no think time against a target that answers 429 with Retry-After: 5 send one
// request every 5 s each (the client waits what the target asks, retries, and waits again
// before giving up), not a flood: 12 requests each in 60 s. Before the client honoured
// Retry-After they sent thousands while no time passed.
func TestNoThinkTimeAgainstA429ingTargetIsNoFlood(t *testing.T) {
	t.Parallel()
	srv := newRefusing(http.StatusTooManyRequests, "5", 2*(60/5+1))
	runAgainst(t, srv)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.at) != 2 {
		t.Fatalf("requests from %d users, want 2: %v", len(srv.at), srv.at)
	}
	for user, at := range srv.at {
		// One request every 5 s from 0; one more may leave at 60 s, where its wait and the
		// scenario's end fall due together.
		ok := at[0] == 0 && (len(at) == 12 || len(at) == 13)
		for i := 1; i < len(at); i++ {
			ok = ok && at[i]-at[i-1] == 5*time.Second
		}
		if !ok {
			t.Errorf("user %s sent at %v, want every 5 s from 0 to 55 s (or 60 s)", user, at)
		}
	}
}

// Two users with no think time against a target that fails every request at once, with no
// Retry-After to honour: each user backs off 1, 2, 4, 8, 16 s between its failed journeys
// (the profile's default failureBackoff), and the waits are counted. Before, they started
// their next journey at once.
func TestNoThinkTimeAgainstAFailingTargetBacksOff(t *testing.T) {
	t.Parallel()
	srv := newRefusing(http.StatusInternalServerError, "", 2*7)
	res := runAgainst(t, srv)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	s := time.Second
	for user, at := range srv.at {
		if want := []time.Duration{0, s, 3 * s, 7 * s, 15 * s, 31 * s}; !slices.Equal(at, want) {
			t.Errorf("user %s sent at %v, want %v", user, at, want)
		}
	}
	// Six waits each: 1+2+4+8+16 s, and the last, from 31 s, cut short by the end at 60 s.
	sc := res.Snapshot.Scenarios[0]
	if sc.Backoffs != 12 || sc.BackoffSeconds != 2*(1+2+4+8+16+29) {
		t.Errorf("%d backoffs, %v s; want 12, 120 s", sc.Backoffs, sc.BackoffSeconds)
	}
}
