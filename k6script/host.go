package k6script

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/dailydoco/ddp-verify/load"
)

// host is what the modules record into and send through: a VU of the engine during the load,
// or a plain client for setup and teardown.
type host interface {
	do(ctx context.Context, step string, req *http.Request) (*load.Response, error)
	check(name string, ok bool)
	trend(name, step string, d time.Duration)
	sleep(ctx context.Context, d time.Duration) error
	now() time.Time
	// engineVU is the engine's VU (for k6/execution), nil outside the load.
	engineVU() *load.VU
}

// vuHost is an engine VU: requests, checks and group durations are counted in the run's
// metrics.
type vuHost struct{ vu *load.VU }

func (h vuHost) do(ctx context.Context, step string, req *http.Request) (*load.Response, error) {
	return h.vu.HTTP().Do(ctx, step, req)
}
func (h vuHost) check(name string, ok bool)                       { h.vu.Check(name, ok) }
func (h vuHost) trend(name, step string, d time.Duration)         { h.vu.Trend(name, step, d) }
func (h vuHost) sleep(ctx context.Context, d time.Duration) error { return h.vu.Sleep(ctx, d) }
func (h vuHost) now() time.Time                                   { return h.vu.Now() }
func (h vuHost) engineVU() *load.VU                               { return h.vu }

// plainHost serves setup() and teardown(): a plain net/http client whose requests, checks and
// groups are not part of the engine's metrics (checks and groups are logged at debug level).
type plainHost struct {
	client *http.Client
	log    *slog.Logger
}

func (h plainHost) do(ctx context.Context, _ string, req *http.Request) (*load.Response, error) {
	start := time.Now()
	resp, err := h.client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, &load.RequestError{Class: classify(err), Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &load.RequestError{Class: classify(err), Err: err}
	}
	d := time.Since(start)
	return &load.Response{Status: resp.StatusCode, Proto: resp.Proto, Header: resp.Header, Body: body,
		Timings: load.Timings{Duration: d}}, nil
}

func (h plainHost) check(name string, ok bool) {
	h.log.Debug("check outside the load (not counted)", "check", name, "ok", ok)
}

func (h plainHost) trend(name, step string, d time.Duration) {
	h.log.Debug("trend outside the load (not counted)", "metric", name, "step", step, "duration", d)
}

func (h plainHost) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h plainHost) now() time.Time { return time.Now() }

func (h plainHost) engineVU() *load.VU { return nil }
