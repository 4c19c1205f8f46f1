package load

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/http1"
	"github.com/dailydoco/ddp-verify/http1/http1test"
)

// These tests run the engine's HTTP through the lean path (the VU's own http1.Transport, the
// default for http://) and, where the behaviour is shared, through HTTPOptions.NetHTTP too,
// comparing what the VU got: keep-alive and wire bytes, error classes, timeouts,
// interruptions, phase timings, local addresses. The two transports themselves are compared
// byte by byte in package http1's tests.

var httpModes = []struct {
	name string
	opts HTTPOptions
}{{"lean", HTTPOptions{}}, {"nethttp", HTTPOptions{NetHTTP: true}}}

// runVU runs fn once on a single VU of a fresh engine and returns the run's result.
func runVU(t *testing.T, opts HTTPOptions, fn func(ctx context.Context, vu *VU)) *Result {
	t.Helper()
	e, err := NewEngine([]ScenarioConfig{{Name: "t", Executor: PerVUIterations{}, Exec: ScenarioFunc(func(ctx context.Context, vu *VU) error {
		fn(ctx, vu)
		return nil
	})}}, WithHTTP(opts))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestLeanIsDefaultForHTTP: a VU sends plain http:// through its own http1.Transport,
// keeping its connection alive, and the engine counts the same wire bytes either way.
func TestLeanIsDefaultForHTTP(t *testing.T) {
	srv := http1test.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	var sent, recv []uint64
	for _, m := range httpModes {
		before := srv.Conns()
		res := runVU(t, m.opts, func(ctx context.Context, vu *VU) {
			c := vu.HTTP()
			if _, lean := c.hc.Transport.(*http1.Transport); lean != (m.name == "lean") {
				t.Errorf("%s: transport %T", m.name, c.hc.Transport)
			}
			if _, err := c.Get(ctx, "", srv.URL); err != nil {
				t.Errorf("%s: %v", m.name, err)
			}
			if _, err := c.Post(ctx, "", srv.URL, "application/json", []byte(`{"a":1}`)); err != nil {
				t.Errorf("%s: %v", m.name, err)
			}
		})
		if n := srv.Conns() - before; n != 1 {
			t.Errorf("%s: %d connections for 2 requests, want 1", m.name, n)
		}
		sent = append(sent, res.Snapshot.DataSent)
		recv = append(recv, res.Snapshot.DataReceived)
	}
	if sent[0] != sent[1] || recv[0] != recv[1] || sent[0] == 0 {
		t.Errorf("wire bytes lean sent/received %d/%d, net/http %d/%d", sent[0], recv[0], sent[1], recv[1])
	}
}

// seen is what a VU got for one request, compared between modes.
type seen struct {
	Status int
	Proto  string
	Header http.Header
	Body   string
	Err    string
}

func see(r *Response, err error) seen {
	if err != nil {
		var re *RequestError
		if errors.As(err, &re) {
			return seen{Err: string(re.Class)}
		}
		return seen{Err: "not a RequestError: " + err.Error()}
	}
	h := r.Header.Clone()
	delete(h, "Date")
	return seen{Status: r.Status, Proto: r.Proto, Header: h, Body: string(r.Body)}
}

// blockingServer answers /slow-head after release (or the client going away), and /slow-body
// with a header and half its body first.
func blockingServer(t *testing.T) *http1test.Server {
	release := make(chan struct{})
	srv := http1test.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow-head":
		case "/slow-body":
			w.Header().Set("Content-Length", "10")
			_, _ = w.Write([]byte("12345"))
			w.(http.Flusher).Flush()
		default:
			_, _ = w.Write([]byte("ok"))
			return
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	return srv
}

func TestLeanTimeouts(t *testing.T) {
	srv := blockingServer(t)
	for _, m := range httpModes {
		opts := m.opts
		opts.Timeout = 100 * time.Millisecond
		runVU(t, opts, func(ctx context.Context, vu *VU) {
			c := vu.HTTP()
			for _, path := range []string{"/slow-head", "/slow-body"} {
				for _, discard := range []bool{false, true} {
					c.DiscardBody = discard
					c.timeout = opts.Timeout
					_, err := c.Get(ctx, "", srv.URL+path)
					var re *RequestError
					if !errors.As(err, &re) || re.Class != ClassTimeout {
						t.Errorf("%s %s discard=%v: %v, want a timeout", m.name, path, discard, err)
					}
					// The client recovers: the next request gets a fresh connection. It has
					// the default timeout, so that a busy machine cannot time it out: only
					// the blocked requests, which never end otherwise, meet the 100 ms.
					c.timeout = time.Minute
					if r, err := c.Get(ctx, "", srv.URL+"/ok"); err != nil || r.Status != 200 {
						t.Errorf("%s after a timeout: %v", m.name, err)
					}
				}
			}
		})
	}
}

// TestLeanInterruptedRequest: gracefulStop interrupts an iteration blocked in a request; the
// request ends at once with the same class in both modes and the run ends.
func TestLeanInterruptedRequest(t *testing.T) {
	srv := blockingServer(t)
	var reasons []map[string]uint64
	for _, m := range httpModes {
		e, err := NewEngine([]ScenarioConfig{{Name: "t", Executor: ConstantVUs{VUs: 2, Duration: 200 * time.Millisecond}, GracefulStop: NoGrace,
			Exec: ScenarioFunc(func(ctx context.Context, vu *VU) error {
				_, err := vu.HTTP().Get(ctx, "", srv.URL+"/slow-head")
				return err
			})}}, WithHTTP(m.opts))
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if sc := res.Snapshot.Scenarios[0]; sc.Interrupted != 2 {
			t.Errorf("%s: %d iterations interrupted, want 2", m.name, sc.Interrupted)
		}
		for _, se := range res.Snapshot.Series {
			if se.Metric == MetricReqDuration {
				reasons = append(reasons, se.Reasons)
			}
		}
	}
	if len(reasons) != 2 || !maps.Equal(reasons[0], reasons[1]) {
		t.Errorf("error reasons lean vs net/http: %v", reasons)
	}
}

// TestLeanErrorClasses compares failures between modes, one case per way to fail: a refused
// connection, a reset in the body, a malformed head, a malformed body, a request body shorter
// than its Content-Length; and a body framed by close that succeeds. (http1's tests compare
// the transports on many more responses.)
func TestLeanErrorClasses(t *testing.T) {
	answer := func(response string, closeAfter bool) string {
		return http1test.NewAnswering(t, response, closeAfter).URL + "/"
	}
	cases := []struct {
		name, url string
		want      string // class, or body when it succeeds
		short     bool   // send a body shorter than its Content-Length
	}{
		{"refused", http1test.RefusedURL(t), string(ClassConnect), false},
		{"reset in body", answer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", true), string(ClassReset), false},
		{"malformed", answer("garbage\r\n\r\n", false), string(ClassOther), false},
		{"bad chunk", answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false), string(ClassOther), false},
		{"short request body", answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false), string(ClassOther), true},
		{"until close", answer("HTTP/1.1 200 OK\r\n\r\nread until close", true), "read until close", false},
	}
	for _, cs := range cases {
		var got []string
		var full []string
		for _, m := range httpModes {
			runVU(t, m.opts, func(ctx context.Context, vu *VU) {
				for range 2 { // twice: the second request must not be hurt by the first
					var r *Response
					var err error
					if cs.short {
						req, _ := http.NewRequestWithContext(ctx, "POST", cs.url, strings.NewReader("12345"))
						req.ContentLength = 10
						r, err = vu.HTTP().Do(ctx, "", req)
					} else {
						r, err = vu.HTTP().Get(ctx, "", cs.url)
					}
					s := see(r, err)
					got = append(got, s.Err+s.Body)
					full = append(full, fmt.Sprintf("%+v", s))
				}
			})
		}
		if got[0] != cs.want || !slices.Equal(full[:2], full[2:]) {
			t.Errorf("%s: lean %q, net/http %q, want %q", cs.name, full[:2], full[2:], cs.want)
		}
	}
}

// TestLeanFallbackForHTTPS: https goes through net/http even with the lean path on, with TLS
// timings.
func TestLeanFallbackForHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("secure")) }))
	t.Cleanup(srv.Close)
	runVU(t, HTTPOptions{InsecureSkipVerify: true}, func(ctx context.Context, vu *VU) {
		r, err := vu.HTTP().Get(ctx, "", srv.URL)
		if err != nil || string(r.Body) != "secure" {
			t.Fatalf("https: %v", err)
		}
		if r.Timings.TLSHandshaking <= 0 || r.Timings.Connecting <= 0 {
			t.Errorf("https timings %+v: want connect and TLS phases", r.Timings)
		}
	})
	srv.Client().Transport.(*http.Transport).CloseIdleConnections()
}

// TestLeanTimings: the first request on a connection has a connect phase, later ones do not;
// sending and waiting cover the server's latency; duration is sending+waiting+receiving.
func TestLeanTimings(t *testing.T) {
	const latency = 20 * time.Millisecond
	srv := http1test.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency) // the server's latency: the load under test, not a wait
		_, _ = w.Write([]byte("ok"))
	}))
	for _, m := range httpModes {
		runVU(t, m.opts, func(ctx context.Context, vu *VU) {
			for i := range 3 {
				r, err := vu.HTTP().Get(ctx, "", srv.URL)
				if err != nil {
					t.Errorf("%s: %v", m.name, err)
					return
				}
				tm := r.Timings
				if (tm.Connecting > 0) != (i == 0) {
					t.Errorf("%s request %d: connecting %v", m.name, i, tm.Connecting)
				}
				// The server sleeps after the request has begun to arrive, so sending and
				// waiting together cover its latency. Waiting alone need not: on a busy
				// machine the client may note the end of its write late, after the server
				// has begun to sleep.
				if tm.Sending+tm.Waiting < latency {
					t.Errorf("%s request %d: sending %v + waiting %v < server latency %v", m.name, i, tm.Sending, tm.Waiting, latency)
				}
				if tm.Duration != tm.Sending+tm.Waiting+tm.Receiving {
					t.Errorf("%s request %d: duration %v != %v+%v+%v", m.name, i, tm.Duration, tm.Sending, tm.Waiting, tm.Receiving)
				}
			}
		})
	}
}

// TestLeanLocalAddrs: VUs dial from their local address of the pool.
func TestLeanLocalAddrs(t *testing.T) {
	var mu sync.Mutex
	from := map[string]bool{}
	srv := http1test.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		from[host] = true
		mu.Unlock()
	}))
	if c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).Dial("tcp", srv.Listener.Addr().String()); err != nil {
		t.Skipf("cannot dial from 127.0.0.2 here: %v", err)
	} else {
		_ = c.Close()
	}
	e, err := NewEngine([]ScenarioConfig{{Name: "t", Executor: PerVUIterations{VUs: 2},
		Exec: ScenarioFunc(func(ctx context.Context, vu *VU) error {
			_, err := vu.HTTP().Get(ctx, "", srv.URL)
			return err
		})}}, WithHTTP(HTTPOptions{LocalAddrs: []net.IP{net.IPv4(127, 0, 0, 2), net.IPv4(127, 0, 0, 3)}}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !from["127.0.0.2"] || !from["127.0.0.3"] {
		t.Errorf("server saw clients %v, want 127.0.0.2 and 127.0.0.3", from)
	}
}

// TestLeanDisableKeepAlives: each request on its own connection, announced with Connection: close.
func TestLeanDisableKeepAlives(t *testing.T) {
	srv := http1test.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.Close {
			t.Errorf("request without Connection: close")
		}
	}))
	runVU(t, HTTPOptions{DisableKeepAlives: true}, func(ctx context.Context, vu *VU) {
		for range 3 {
			if _, err := vu.HTTP().Get(ctx, "", srv.URL); err != nil {
				t.Error(err)
			}
		}
	})
	if n := srv.Conns(); n != 3 {
		t.Errorf("%d connections for 3 requests", n)
	}
}
