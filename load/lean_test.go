package load

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/internal/testenv"
)

// The lean HTTP/1.1 path is checked against net/http itself: every behaviour test runs in both
// modes (lean, the default for http://, and HTTPOptions.NetHTTP) and compares what the server
// saw and what the VU got.

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

// countingServer is an httptest server that counts the connections it accepted.
type countingServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newCountingServer(t *testing.T, h http.Handler) *countingServer {
	s := &countingServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// rawServer serves each accepted connection with handle on its own goroutine and closes the
// connection when handle returns. It counts connections.
type rawServer struct {
	addr  string
	conns atomic.Int64
}

func newRawServer(t *testing.T, handle func(c net.Conn, br *bufio.Reader)) *rawServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			mu.Lock()
			open[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					mu.Lock()
					delete(open, c)
					mu.Unlock()
					_ = c.Close()
				}()
				handle(c, bufio.NewReader(c))
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range open {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// readRawRequest reads one request's head and body (Content-Length framed) as text.
func readRawRequest(br *bufio.Reader) (head []string, body string, err error) {
	n := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		head = append(head, line)
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			n, _ = strconv.Atoi(v)
		}
	}
	b := make([]byte, n)
	_, err = io.ReadFull(br, b)
	return head, string(b), err
}

func TestLeanIsDefaultForHTTP(t *testing.T) {
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	for _, m := range httpModes {
		runVU(t, m.opts, func(ctx context.Context, vu *VU) {
			c := vu.HTTP()
			if _, err := c.Get(ctx, "", srv.URL); err != nil {
				t.Errorf("%s: %v", m.name, err)
			}
			lt, lean := c.hc.Transport.(*leanTransport)
			if lean != (m.name == "lean") {
				t.Errorf("%s: transport %T", m.name, c.hc.Transport)
			}
			if lean && len(lt.idle) != 1 {
				t.Errorf("lean: %d idle connections after a keep-alive request, want 1", len(lt.idle))
			}
		})
	}
}

// TestLeanRequestBytesMatchNetHTTP checks that the lean path puts the same request on the wire
// as net/http: request line, header lines (in any order) and body, for a range of requests.
func TestLeanRequestBytesMatchNetHTTP(t *testing.T) {
	type capture struct {
		line    string
		headers []string
		body    string
	}
	var mu sync.Mutex
	var got []capture
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			head, body, err := readRawRequest(br)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, capture{head[0], slices.Sorted(slices.Values(head[1:])), body})
			mu.Unlock()
			resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
			if !strings.HasPrefix(head[0], "HEAD ") {
				resp += "ok"
			}
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
			if slices.Contains(head, "Connection: close") {
				return
			}
		}
	})
	base := "http://" + srv.addr
	requests := func(ctx context.Context) []*http.Request {
		mk := func(method, url string, body io.Reader) *http.Request {
			r, err := http.NewRequestWithContext(ctx, method, url, body)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		custom := mk("GET", base+"/h", nil)
		custom.Header.Set("X-One", " padded ")
		custom.Header["X-Many"] = []string{"a", "b"}
		custom.Header.Set("Accept-Encoding", "identity")
		custom.Header.Set("User-Agent", "custom/1")
		custom.Host = "example.test"
		closing := mk("GET", base+"/close", nil)
		closing.Close = true
		idem := mk("POST", base+"/idem", strings.NewReader("x"))
		idem.Header.Set("Idempotency-Key", "k1")
		rng := mk("GET", base+"/range", nil)
		rng.Header.Set("Range", "bytes=0-1")
		return []*http.Request{
			mk("GET", base+"/a/b%20c?x=1&y=%20z", nil),
			mk("GET", base, nil),
			mk("GET", base+"/force?", nil),
			custom,
			mk("POST", base+"/post", bytes.NewReader([]byte(`{"a":1}`))),
			mk("PUT", base+"/put", nil),
			mk("PATCH", base+"/patch", http.NoBody),
			mk("DELETE", base+"/del", nil),
			mk("OPTIONS", base+"/opt", nil),
			mk("HEAD", base+"/head", nil),
			idem,
			rng,
			closing,
			mk("GET", base+"/after-close", nil),
		}
	}
	var byMode [][]capture
	var sent, recv []uint64
	for _, m := range httpModes {
		mu.Lock()
		got = nil
		mu.Unlock()
		res := runVU(t, m.opts, func(ctx context.Context, vu *VU) {
			for _, r := range requests(ctx) {
				if _, err := vu.HTTP().Do(ctx, "", r); err != nil {
					t.Errorf("%s %s %s: %v", m.name, r.Method, r.URL, err)
				}
			}
		})
		mu.Lock()
		byMode = append(byMode, got)
		mu.Unlock()
		sent = append(sent, res.Snapshot.DataSent)
		recv = append(recv, res.Snapshot.DataReceived)
	}
	lean, std := byMode[0], byMode[1]
	if len(lean) != len(std) {
		t.Fatalf("server saw %d requests from lean, %d from net/http", len(lean), len(std))
	}
	for i := range lean {
		if fmt.Sprint(lean[i]) != fmt.Sprint(std[i]) {
			t.Errorf("request %d differs:\n lean:     %q\n net/http: %q", i, lean[i], std[i])
		}
	}
	if sent[0] != sent[1] || recv[0] != recv[1] {
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

func equalSeen(a, b seen) bool {
	return a.Status == b.Status && a.Proto == b.Proto && a.Body == b.Body && a.Err == b.Err &&
		maps.EqualFunc(a.Header, b.Header, slices.Equal)
}

// TestLeanResponsesMatchNetHTTP runs the same requests against handlers covering the framing
// cases (length, chunked, large, 1xx, 204, 304, HEAD, gzip, redirects, cookies, trailers,
// Connection: close) and compares what the VU got in both modes.
func TestLeanResponsesMatchNetHTTP(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	mux := http.NewServeMux()
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for _, p := range []string{"one,", "two,", "three"} {
			_, _ = w.Write([]byte(p))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		_, _ = w.Write(big)
	})
	mux.HandleFunc("/bigchunked", func(w http.ResponseWriter, r *http.Request) {
		for p := big; len(p) > 0; p = p[min(len(p), 70000):] {
			_, _ = w.Write(p[:min(len(p), 70000)])
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/early", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		_, _ = w.Write([]byte("after hints"))
	})
	mux.HandleFunc("/204", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Kind", "none")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/304", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Etag", `"v1"`)
		w.WriteHeader(http.StatusNotModified)
	})
	mux.HandleFunc("/404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) })
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			_, _ = w.Write([]byte("plain: client did not ask for gzip"))
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = zw.Write(bytes.Repeat([]byte("zipped "), 1000))
		_ = zw.Close()
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/plain", http.StatusFound) })
	mux.HandleFunc("/setcookie", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "abc", Path: "/"})
	})
	mux.HandleFunc("/getcookie", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("session")
		if err != nil {
			_, _ = w.Write([]byte("no cookie"))
			return
		}
		_, _ = w.Write([]byte("cookie " + c.Value))
	})
	mux.HandleFunc("/trailer", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		_, _ = w.Write([]byte("body"))
		w.(http.Flusher).Flush()
		w.Header().Set("X-Sum", "42")
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = w.Write([]byte("closing"))
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d %q %s", r.Method, r.ContentLength, r.TransferEncoding, b)
	})
	srv := newCountingServer(t, mux)

	type step struct {
		method, path string
		body         []byte
	}
	steps := []step{
		{"GET", "/plain", nil}, {"GET", "/chunked", nil}, {"GET", "/big", nil}, {"GET", "/bigchunked", nil},
		{"GET", "/early", nil}, {"GET", "/204", nil}, {"GET", "/304", nil}, {"HEAD", "/big", nil},
		{"HEAD", "/chunked", nil}, {"GET", "/404", nil}, {"GET", "/503", nil}, {"GET", "/gzip", nil},
		{"GET", "/redirect", nil}, {"GET", "/getcookie", nil}, {"GET", "/setcookie", nil},
		{"GET", "/getcookie", nil}, {"GET", "/trailer", nil}, {"POST", "/echo", []byte("payload")},
		{"PUT", "/echo", nil}, {"GET", "/close", nil}, {"GET", "/plain", nil},
	}
	results := map[string][]seen{}
	conns := map[string]int64{}
	for _, m := range httpModes {
		for _, discard := range []bool{false, true} {
			before := srv.conns.Load()
			var out []seen
			runVU(t, m.opts, func(ctx context.Context, vu *VU) {
				c := vu.HTTP()
				c.DiscardBody = discard
				for _, s := range steps {
					var body io.Reader
					if s.body != nil {
						body = bytes.NewReader(s.body)
					}
					req, err := http.NewRequestWithContext(ctx, s.method, srv.URL+s.path, body)
					if err != nil {
						t.Error(err)
						return
					}
					out = append(out, see(c.Do(ctx, s.path, req)))
				}
			})
			name := fmt.Sprintf("%s discard=%v", m.name, discard)
			results[name] = out
			conns[name] = srv.conns.Load() - before
		}
	}
	for _, discard := range []bool{false, true} {
		lean, std := results[fmt.Sprintf("lean discard=%v", discard)], results[fmt.Sprintf("nethttp discard=%v", discard)]
		for i, s := range steps {
			if !equalSeen(lean[i], std[i]) {
				t.Errorf("%s %s (discard=%v) differs:\n lean:     %+v\n net/http: %+v", s.method, s.path, discard, lean[i], std[i])
			}
		}
	}
	// Spot checks that the comparison compares something.
	lean := results["lean discard=false"]
	for i, want := range map[int]string{0: "ok", 1: "one,two,three", 2: string(big), 3: string(big), 4: "after hints",
		11: strings.Repeat("zipped ", 1000), 12: "ok", 13: "no cookie", 15: "cookie abc", 16: "body",
		17: `POST 7 [] payload`, 18: `PUT 0 [] `, 19: "closing", 20: "ok"} {
		if lean[i].Body != want {
			t.Errorf("%s: body %.60q, want %.60q", steps[i].path, lean[i].Body, want)
		}
	}
	if lean[5].Status != 204 || lean[6].Status != 304 || lean[9].Err != "" || lean[10].Status != 503 {
		t.Errorf("statuses: %+v %+v %+v %+v", lean[5], lean[6], lean[9], lean[10])
	}
	// Keep-alive: one connection until /close, one after it.
	if n := conns["lean discard=false"]; n != 2 {
		t.Errorf("lean used %d connections, want 2", n)
	}
}

// TestLeanServerClosesIdleConnections closes the server's connections between requests: GETs
// must all succeed (a broken reused connection is replaced transparently), in both modes.
func TestLeanServerClosesIdleConnections(t *testing.T) {
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	for _, m := range httpModes {
		before := srv.conns.Load()
		res := runVU(t, m.opts, func(ctx context.Context, vu *VU) {
			for i := range 30 {
				if i%5 == 4 {
					srv.CloseClientConnections()
				}
				if r, err := vu.HTTP().Get(ctx, "", srv.URL); err != nil || r.Status != 200 {
					t.Errorf("%s request %d: %v", m.name, i, err)
				}
			}
		})
		if reqs, failed := res.Snapshot.Requests(); reqs != 30 || failed != 0 {
			t.Errorf("%s: %d requests, %d failed", m.name, reqs, failed)
		}
		if n := srv.conns.Load() - before; n < 2 {
			t.Errorf("%s: %d connections, want a new one after each close", m.name, n)
		}
	}
}

// closeAfterOne answers one request per connection, without announcing the close.
func closeAfterOne(served *atomic.Int64, closed chan<- struct{}) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, br *bufio.Reader) {
		if _, _, err := readRawRequest(br); err != nil {
			return
		}
		served.Add(1)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		_ = c.Close()
		if closed != nil {
			closed <- struct{}{}
		}
	}
}

// TestLeanRetryOnBrokenReusedConnection: a server that silently closes each connection after
// one response. With the idle check off, the lean path finds out only when the next request
// fails on the reused connection: a GET is then retried on a fresh connection (net/http's
// rule), a POST is not (it may have reached the server) and fails as a reset.
func TestLeanRetryOnBrokenReusedConnection(t *testing.T) {
	old := leanProbeAfter
	leanProbeAfter = time.Hour
	t.Cleanup(func() { leanProbeAfter = old })

	var served atomic.Int64
	srv := newRawServer(t, closeAfterOne(&served, nil))
	url := "http://" + srv.addr + "/"
	res := runVU(t, HTTPOptions{}, func(ctx context.Context, vu *VU) {
		for i := range 5 {
			if _, err := vu.HTTP().Get(ctx, "", url); err != nil {
				t.Errorf("GET %d: %v", i, err)
			}
		}
	})
	if reqs, failed := res.Snapshot.Requests(); reqs != 5 || failed != 0 || served.Load() != 5 || srv.conns.Load() != 5 {
		t.Errorf("GETs: %d requests, %d failed; server served %d on %d connections", reqs, failed, served.Load(), srv.conns.Load())
	}

	served.Store(0)
	runVU(t, HTTPOptions{}, func(ctx context.Context, vu *VU) {
		c := vu.HTTP()
		if _, err := c.Post(ctx, "", url, "text/plain", []byte("first")); err != nil {
			t.Errorf("first POST: %v", err)
		}
		_, err := c.Post(ctx, "", url, "text/plain", []byte("second"))
		var re *RequestError
		if !errors.As(err, &re) || re.Class != ClassReset {
			t.Errorf("second POST on the broken connection: %v, want a reset", err)
		}
	})
	if served.Load() != 1 {
		t.Errorf("server served %d POSTs, want 1 (no retry of a non-idempotent request)", served.Load())
	}
}

// TestLeanIdleCheck: with the idle check on, a connection the server closed while idle is
// noticed before the request is sent, so even a POST goes out on a fresh connection.
func TestLeanIdleCheck(t *testing.T) {
	old := leanProbeAfter
	leanProbeAfter = 0
	t.Cleanup(func() { leanProbeAfter = old })

	var served atomic.Int64
	closed := make(chan struct{}, 10)
	srv := newRawServer(t, closeAfterOne(&served, closed))
	url := "http://" + srv.addr + "/"
	runVU(t, HTTPOptions{}, func(ctx context.Context, vu *VU) {
		for i := range 4 {
			if _, err := vu.HTTP().Post(ctx, "", url, "text/plain", []byte("x")); err != nil {
				t.Errorf("POST %d: %v", i, err)
			}
			<-closed
		}
	})
	if served.Load() != 4 || srv.conns.Load() != 4 {
		t.Errorf("served %d on %d connections, want 4 on 4", served.Load(), srv.conns.Load())
	}
}

// blockingServer answers /slow-head after release (or the client going away), and /slow-body
// with a header and half its body first.
func blockingServer(t *testing.T) *countingServer {
	release := make(chan struct{})
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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

// TestLeanErrorClasses compares failures between modes: refused connection, reset in the
// body, a malformed response, a body framed by close, an HTTP/1.0 response, a request body
// shorter than its Content-Length.
func TestLeanErrorClasses(t *testing.T) {
	refused := "http://" + testenv.RefusedAddr(t) + "/"
	raw := func(answer string) string {
		return "http://" + newRawServer(t, func(c net.Conn, br *bufio.Reader) {
			for {
				if _, _, err := readRawRequest(br); err != nil {
					return
				}
				if _, err := io.WriteString(c, answer); err != nil || strings.Contains(answer, "close-after") {
					return
				}
			}
		}).addr + "/"
	}
	cases := []struct {
		name, url string
		want      string // class, or body when it succeeds
		short     bool   // send a body shorter than its Content-Length
	}{
		{"refused", refused, string(ClassConnect), false},
		{"reset in body", raw("HTTP/1.1 200 OK\r\nX-Case: close-after\r\nContent-Length: 100\r\n\r\n0123456789"), string(ClassReset), false},
		{"malformed", raw("garbage\r\n\r\n"), string(ClassOther), false},
		{"bad status", raw("HTTP/1.1 2x0 OK\r\n\r\n"), string(ClassOther), false},
		{"bad content-length", raw("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), string(ClassOther), false},
		{"bad chunk", raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), string(ClassOther), false},
		{"until close", raw("HTTP/1.1 200 OK\r\nX-Case: close-after\r\n\r\nread until close"), "read until close", false},
		{"HTTP/1.0", raw("HTTP/1.0 200 OK\r\nX-Case: close-after\r\nContent-Length: 4\r\n\r\nold!"), "old!", false},
		{"HTTP/1.0 keep-alive", raw("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nka"), "ka", false},
		{"short request body", raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), string(ClassOther), true},
		{"big header", raw("HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("b", 9000) + "\r\nContent-Length: 3\r\n\r\nbig"), "big", false},
		{"folded header", raw("HTTP/1.1 200 OK\r\nX-Fold: a\r\n  b\r\nContent-Length: 4\r\n\r\nfold"), "fold", false},
		{"equal content-lengths", raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nCL"), "CL", false},
		{"differing content-lengths", raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nCL"), string(ClassOther), false},
		{"interim 100", raw("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nfin"), "fin", false},
		{"extra bytes", raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno"), "ok", false},
		{"bare LF", raw("HTTP/1.1 200 OK\nContent-Length: 2\n\nlf"), "lf", false},
		{"lower-case keys", raw("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-lower:  v \r\n\r\nlc"), "lc", false},
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
		if lt := vu.HTTP().hc.Transport.(*leanTransport); len(lt.idle) != 0 {
			t.Errorf("https went through the lean path")
		}
	})
	srv.Client().Transport.(*http.Transport).CloseIdleConnections()
}

// TestLeanTimings: the first request on a connection has a connect phase, later ones do not;
// sending and waiting cover the server's latency; duration is sending+waiting+receiving.
func TestLeanTimings(t *testing.T) {
	const latency = 20 * time.Millisecond
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	if n := srv.conns.Load(); n != 3 {
		t.Errorf("%d connections for 3 requests", n)
	}
}

// TestLeanIdleSetIsBounded: a VU keeps at most leanMaxIdle idle connections, dropping the
// least recently used.
func TestLeanIdleSetIsBounded(t *testing.T) {
	var urls []string
	for range leanMaxIdle + 2 {
		srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		urls = append(urls, srv.URL)
	}
	runVU(t, HTTPOptions{}, func(ctx context.Context, vu *VU) {
		c := vu.HTTP()
		for _, u := range append(urls, urls[len(urls)-1]) {
			if _, err := c.Get(ctx, "", u); err != nil {
				t.Error(err)
			}
		}
		lt := c.hc.Transport.(*leanTransport)
		if len(lt.idle) != leanMaxIdle || lt.idle[len(lt.idle)-1].addr != strings.TrimPrefix(urls[len(urls)-1], "http://") {
			t.Errorf("%d idle connections, last %s", len(lt.idle), lt.idle[len(lt.idle)-1].addr)
		}
	})
}

// closeCounter is a request body that counts its Close calls.
type closeCounter struct {
	io.Reader
	closes *atomic.Int64
}

func (c closeCounter) Close() error { c.closes.Add(1); return nil }

// TestLeanClosesRequestBodies: a RoundTripper closes the request body, sent or not.
func TestLeanClosesRequestBodies(t *testing.T) {
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	refused := "http://" + testenv.RefusedAddr(t)
	for _, m := range httpModes {
		var closes atomic.Int64
		runVU(t, m.opts, func(ctx context.Context, vu *VU) {
			for _, u := range []string{srv.URL, refused} {
				req, _ := http.NewRequestWithContext(ctx, "POST", u, closeCounter{strings.NewReader("abc"), &closes})
				req.ContentLength = 3
				_, _ = vu.HTTP().Do(ctx, "", req)
			}
		})
		if closes.Load() < 2 {
			t.Errorf("%s: request bodies closed %d times for 2 requests", m.name, closes.Load())
		}
	}
}
