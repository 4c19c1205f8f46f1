package load_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/internal/testenv"
	"github.com/dailydoco/ddp-verify/load"
)

func TestSummaryUnsuccessful(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		sum      load.Summary
		reason   string
		answered bool
	}{
		{"one succeeded", load.Summary{Requests: 10, Failed: 9, Errors: map[string]uint64{"5xx": 9}}, "", true},
		{"none sent", load.Summary{}, "no request was sent", false},
		{"none reached", load.Summary{Requests: 12, Failed: 12, Errors: map[string]uint64{"reset": 2, "connect": 10}}, "none of the 12 requests reached the target (10 connect, 2 reset)", false},
		{"none succeeded", load.Summary{Requests: 5, Failed: 5, Errors: map[string]uint64{"timeout": 1, "5xx": 3, "4xx": 1}}, "none of the 5 requests succeeded (3 5xx, 1 4xx, 1 timeout)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reason, answered := tc.sum.Unsuccessful()
			if reason != tc.reason || answered != tc.answered {
				t.Errorf("Unsuccessful() = %q, %v; want %q, %v", reason, answered, tc.reason, tc.answered)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	if err := load.Probe(context.Background(), u, 5*time.Second); err != nil {
		t.Errorf("a listening target: %v", err)
	}
	addr := testenv.RefusedAddr(t)
	err := load.Probe(context.Background(), &url.URL{Scheme: "http", Host: addr}, 5*time.Second)
	if !errors.Is(err, load.ErrNothingListening) || !strings.Contains(err.Error(), "nothing is listening on "+addr) {
		t.Errorf("a refused address: %v", err)
	}
}
