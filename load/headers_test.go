package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// HTTPOptions.Headers go with every request, on both HTTP paths, unless the request sets the
// header itself.
func TestDefaultHeaders(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("X-Api-Key"))
		mu.Unlock()
	}))
	defer srv.Close()
	for _, m := range httpModes {
		opts := m.opts
		opts.Headers = http.Header{"X-Api-Key": {"staging-token"}}
		seen = nil
		runVU(t, opts, func(ctx context.Context, vu *VU) {
			if _, err := vu.HTTP().Get(ctx, "plain", srv.URL); err != nil {
				t.Errorf("%s: %v", m.name, err)
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Api-Key", "own")
			if _, err := vu.HTTP().Do(ctx, "own", req); err != nil {
				t.Errorf("%s: %v", m.name, err)
			}
		})
		mu.Lock()
		if len(seen) != 2 || seen[0] != "staging-token" || seen[1] != "own" {
			t.Errorf("%s: server saw X-Api-Key %q, want [staging-token own]", m.name, seen)
		}
		mu.Unlock()
	}
}
