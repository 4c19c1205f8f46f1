package dailydoco_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
	"github.com/dailydoco/ddp-verify/load"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	date := func(t time.Time) string { return t.Format(http.TimeFormat) }
	for _, tc := range []struct {
		name, value, date string
		want              time.Duration
		ok                bool
	}{
		{"absent", "", "", 0, false},
		{"seconds", "5", "", 5 * time.Second, true},
		{"zero", "0", "", 0, true},
		{"spaces", " 7 ", "", 7 * time.Second, true},
		{"capped", "3600", "", dailydoco.MaxRetryAfter, true},
		{"huge", "99999999999999999999999", "", dailydoco.MaxRetryAfter, true},
		{"negative is malformed", "-1", "", 0, false},
		{"fraction is malformed", "1.5", "", 0, false},
		{"garbage", "soon", "", 0, false},
		{"HTTP-date from now", date(now.Add(12 * time.Second)), "", 12 * time.Second, true},
		{"HTTP-date from the answer's Date", date(now.Add(time.Hour + 9*time.Second)), date(now.Add(time.Hour)), 9 * time.Second, true},
		{"HTTP-date with a bad Date uses now", date(now.Add(3 * time.Second)), "yesterday", 3 * time.Second, true},
		{"HTTP-date in the past", date(now.Add(-time.Minute)), "", 0, true},
		{"HTTP-date far ahead is capped", date(now.Add(24 * time.Hour)), "", dailydoco.MaxRetryAfter, true},
		{"RFC 850 date", now.Add(4 * time.Second).Format(time.RFC850), "", 4 * time.Second, true},
	} {
		h := http.Header{}
		if tc.value != "" {
			h.Set("Retry-After", tc.value)
		}
		if tc.date != "" {
			h.Set("Date", tc.date)
		}
		got, ok := dailydoco.RetryAfter(h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: RetryAfter(%q, Date %q) = %v, %v; want %v, %v", tc.name, tc.value, tc.date, got, ok, tc.want, tc.ok)
		}
	}
}

// throttler answers 429 with Retry-After for its first n requests, then 200 with a user.
type throttler struct {
	n          int64
	retryAfter func(now time.Time) string
	status     int
	seen       atomic.Int64
}

func (s *throttler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.seen.Add(1) <= s.n {
		now := time.Now().UTC()
		w.Header().Set("Date", now.Format(http.TimeFormat))
		if ra := s.retryAfter(now); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		status := s.status
		if status == 0 {
			status = http.StatusTooManyRequests
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"error":{"code":"rate_limited","message":"slow down"}}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"id":"u1","email":"a@example.com","name":"A","created_at":"2026-01-01T00:00:00Z"}`))
}

// runOne runs fn once as a VU's only iteration, on the engine's (here virtual) clock.
func runOne(t *testing.T, fn func(ctx context.Context, vu *load.VU) error) {
	t.Helper()
	eng, err := load.NewEngine([]load.ScenarioConfig{{Name: "s", Exec: load.ScenarioFunc(fn), Executor: load.PerVUIterations{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The client waits what Retry-After says, in seconds or as an HTTP-date, before it sends the
// request again, and gives up after Config.Retries more attempts, still waiting the last delay
// before it returns. The server is real (outside the synctest bubble); the VU's waits are on
// the bubble's virtual clock, which moves only while the VU sleeps, so the elapsed time is
// exactly the waits.
func TestClientHonoursRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		srv        *throttler
		retries    int
		wantErr    error
		wantSent   int
		wantWaited time.Duration
	}{
		{"seconds, then served", &throttler{n: 2, retryAfter: func(time.Time) string { return "5" }}, 0, nil, 3, 10 * time.Second},
		{"HTTP-date, then served", &throttler{n: 1, retryAfter: func(now time.Time) string {
			return now.Add(7 * time.Second).Format(http.TimeFormat) // the same clock as Date
		}}, 0, nil, 2, 7 * time.Second},
		{"503 too", &throttler{n: 1, status: http.StatusServiceUnavailable, retryAfter: func(time.Time) string { return "3" }}, 0, nil, 2, 3 * time.Second},
		{"gives up after the retries, having waited", &throttler{n: 100, retryAfter: func(time.Time) string { return "4" }}, 2, dailydoco.ErrRateLimited, 3, 12 * time.Second},
		{"no retries, still waits", &throttler{n: 100, retryAfter: func(time.Time) string { return "4" }}, -1, dailydoco.ErrRateLimited, 1, 4 * time.Second},
		{"capped at MaxRetryAfter", &throttler{n: 1, retryAfter: func(time.Time) string { return "86400" }}, 0, nil, 2, dailydoco.MaxRetryAfter},
		{"no Retry-After: no wait, no retry", &throttler{n: 1, retryAfter: func(time.Time) string { return "" }}, 0, dailydoco.ErrRateLimited, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.srv)
			t.Cleanup(srv.Close)
			synctest.Test(t, func(t *testing.T) {
				cfg := &dailydoco.Config{BaseURL: srv.URL, Retries: tc.retries}
				runOne(t, func(ctx context.Context, vu *load.VU) error {
					c := dailydoco.New(vu, cfg, "j")
					c.SetToken("tok")
					start := vu.Now()
					_, err := c.Me(ctx)
					if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
						t.Errorf("error %v, want %v", err, tc.wantErr)
					}
					if waited := vu.Now().Sub(start); waited != tc.wantWaited {
						t.Errorf("waited %v, want %v", waited, tc.wantWaited)
					}
					if c.Requests() != tc.wantSent {
						t.Errorf("sent %d requests, want %d", c.Requests(), tc.wantSent)
					}
					return nil
				})
			})
			if got := tc.srv.seen.Load(); got != int64(tc.wantSent) {
				t.Errorf("server saw %d requests, want %d", got, tc.wantSent)
			}
		})
	}
}
