package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A batch sends its requests in parallel (each request to /barrier only completes once all
// of them are in flight together: no timing is asserted), at most BatchPerHost to one host,
// shares the VU's cookie jar, keeps the order of its requests and counts every request.
func TestBatchSendsInParallelWithinTheHostLimit(t *testing.T) {
	var mu sync.Mutex
	arrived := map[string]int{}
	opened := map[string]chan struct{}{}
	inFlight, maxInFlight := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/barrier":
			key, n := r.URL.Query().Get("key"), r.URL.Query().Get("n")
			mu.Lock()
			if opened[key] == nil {
				opened[key] = make(chan struct{})
			}
			open := opened[key]
			arrived[key]++
			if strconv.Itoa(arrived[key]) == n {
				close(open)
			}
			mu.Unlock()
			select {
			case <-open:
			case <-time.After(10 * time.Second):
				w.WriteHeader(http.StatusGatewayTimeout)
			}
		case "/count":
			mu.Lock()
			inFlight++
			maxInFlight = max(maxInFlight, inFlight)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			inFlight--
			mu.Unlock()
		case "/cookie":
			if c, err := r.Cookie("vu"); err != nil || c.Value != "7" {
				w.WriteHeader(http.StatusForbidden)
			}
		}
		_, _ = w.Write([]byte(r.URL.RawQuery))
	}))
	defer srv.Close()
	// The same server under two host names: the per-host limit counts each apart.
	hosts := []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)}
	for _, m := range httpModes {
		res := runVU(t, m.opts, func(ctx context.Context, vu *VU) {
			var reqs []BatchRequest
			for i := range 2 * BatchPerHost {
				reqs = append(reqs, get(t, ctx, "barrier", hosts[i%2]+"/barrier?n="+strconv.Itoa(BatchPerHost)+"&key="+m.name+strconv.Itoa(i%2)))
			}
			for i := range 3 * BatchPerHost {
				reqs = append(reqs, get(t, ctx, "count", srv.URL+"/count?i="+strconv.Itoa(i)))
			}
			vu.HTTP().Jar().SetCookies(reqs[0].Request.URL, []*http.Cookie{{Name: "vu", Value: "7"}})
			reqs = append(reqs, get(t, ctx, "cookie", srv.URL+"/cookie"))
			for i, r := range vu.HTTP().Batch(ctx, reqs) {
				if r.Err != nil || r.Response.Status != http.StatusOK {
					t.Errorf("%s: request %d (%s): %+v", m.name, i, reqs[i].Request.URL, r)
					continue
				}
				if string(r.Response.Body) != reqs[i].Request.URL.RawQuery {
					t.Errorf("%s: response %d is %q, want the one for %q", m.name, i, r.Response.Body, reqs[i].Request.URL.RawQuery)
				}
			}
		})
		if maxInFlight > BatchPerHost {
			t.Errorf("%s: %d requests to one host in flight at once, want at most %d", m.name, maxInFlight, BatchPerHost)
		}
		for step, want := range map[string]uint64{"barrier": 2 * BatchPerHost, "count": 3 * BatchPerHost, "cookie": 1} {
			if n, failed := res.Snapshot.Rate(MetricReqDuration, Filter{"step": step}); n != want || failed != 0 {
				t.Errorf("%s: %d requests of step %s (%d failed), want %d", m.name, n, step, failed, want)
			}
		}
	}
}

func get(t *testing.T, ctx context.Context, step, url string) BatchRequest {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return BatchRequest{Step: step, Request: req, Options: defaultRequest}
}

// RequestOptions: a redirect limit returns the redirect itself, a request's own cookie
// replaces the jar's of that name, and a request's timeout replaces the engine's.
func TestRequestOptions(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hop":
			http.Redirect(w, r, "/hop2", http.StatusFound)
		case "/hop2":
			http.Redirect(w, r, "/end", http.StatusFound)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		}
		_, _ = w.Write([]byte(r.Header.Get("Cookie")))
	}))
	defer srv.Close()
	for _, m := range httpModes {
		opts := m.opts
		opts.Timeout = 100 * time.Millisecond
		runVU(t, opts, func(ctx context.Context, vu *VU) {
			do := func(path string, o RequestOptions) (*Response, error) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if path == "/own" {
					req.AddCookie(&http.Cookie{Name: "a", Value: "mine"})
				}
				return vu.HTTP().DoWith(ctx, path, req, o)
			}
			if r, err := do("/hop", defaultRequest); err != nil || r.Status != 200 || r.URL() != srv.URL+"/end" {
				t.Errorf("%s: /hop followed: %+v, %v; want 200 from /end", m.name, r, err)
			}
			if r, err := do("/hop", RequestOptions{Redirects: 1}); err != nil || r.Status != http.StatusFound || r.URL() != srv.URL+"/hop2" {
				t.Errorf("%s: /hop with one redirect: %+v, %v; want the 302 of /hop2", m.name, r, err)
			}
			u := vu.HTTP().hc.Jar
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			u.SetCookies(req.URL, []*http.Cookie{{Name: "a", Value: "jar"}, {Name: "b", Value: "jar"}})
			if r, err := do("/own", RequestOptions{Redirects: -1}); err != nil || string(r.Body) != "a=mine; a=jar; b=jar" {
				t.Errorf("%s: own cookie beside the jar's: %q, %v", m.name, r.Body, err)
			}
			if r, err := do("/own", RequestOptions{Redirects: -1, OwnCookies: []string{"a"}}); err != nil || string(r.Body) != "a=mine; b=jar" {
				t.Errorf("%s: own cookie replacing the jar's: %q, %v", m.name, r.Body, err)
			}
			if _, err := do("/slow", defaultRequest); err == nil {
				t.Errorf("%s: /slow (300 ms) answered within the engine's 100 ms timeout", m.name)
			}
			if _, err := do("/slow", RequestOptions{Redirects: -1, Timeout: 5 * time.Second}); err != nil {
				t.Errorf("%s: /slow with a 5 s timeout: %v", m.name, err)
			}
		})
	}
}
