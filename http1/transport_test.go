package http1

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/http1/http1test"
)

// The Transport is checked against net/http itself: every behaviour test runs both ways, an
// http.Client over a Transport and over net/http's own transport, and compares what the
// server saw and what the client got.

// ways names the two transports a behaviour test compares.
var ways = []string{"http1", "net/http"}

// newClient returns an http.Client (with a cookie jar) over a fresh transport of the named
// way, closed at the test's end. The Transport's fallback fails the request, so that a test
// cannot pass by way of net/http.
func newClient(tb testing.TB, way string) *http.Client {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if way == "http1" {
		c.Transport = &Transport{Fallback: fellBack{}}
	} else {
		c.Transport = &http.Transport{}
	}
	tb.Cleanup(c.CloseIdleConnections)
	return c
}

// fellBack is a Fallback that refuses every request.
type fellBack struct{}

func (fellBack) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("fell back to net/http")
}

// newRequest builds a request or fails the test.
func newRequest(tb testing.TB, ctx context.Context, method, url string, body io.Reader) *http.Request {
	tb.Helper()
	r, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// kind sorts an error as a caller telling failures apart would: a timeout, one of the
// sentinel errors it wraps, or other.
func kind(err error) string {
	if err == nil {
		return ""
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	for _, s := range []error{context.Canceled, io.ErrUnexpectedEOF, io.EOF, syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.EPIPE} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "other"
}

// A reader reads a whole body.
type reader func(io.Reader) ([]byte, error)

// bodyReaders are the two ways a body is read: its Read method (io.ReadAll) and its WriteTo
// method (io.Copy).
var bodyReaders = map[string]reader{
	"Read": io.ReadAll,
	"WriteTo": func(r io.Reader) ([]byte, error) {
		var b bytes.Buffer
		_, err := io.Copy(&b, r)
		return b.Bytes(), err
	},
}

// outcome is what a client got for one request, as text to compare between the two ways:
// the response's fields but Date, its body and how reading it ended, or the request's error.
func (read reader) outcome(resp *http.Response, err error) string {
	if err != nil {
		return "error: " + kind(err)
	}
	body, err := read(resp.Body)
	_ = resp.Body.Close()
	h := resp.Header.Clone()
	delete(h, "Date")
	return fmt.Sprintf("%d %s length=%d te=%q close=%v uncompressed=%v header=%v body=%q read error: %s",
		resp.StatusCode, resp.Proto, resp.ContentLength, resp.TransferEncoding, resp.Close, resp.Uncompressed, h, body, kind(err))
}

// TestRequestBytesMatchNetHTTP checks that the Transport puts the same request on the wire as
// net/http: request line, header lines (in any order) and body, for a range of requests.
func TestRequestBytesMatchNetHTTP(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := http1test.NewRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			head, body, err := http1test.ReadRequest(br)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, fmt.Sprintf("%s %q %q", head[0], slices.Sorted(slices.Values(head[1:])), body))
			mu.Unlock()
			resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
			if !strings.HasPrefix(head[0], "HEAD ") {
				resp += "ok"
			}
			if _, err := io.WriteString(c, resp); err != nil || slices.Contains(head, "Connection: close") {
				return
			}
		}
	})
	base := srv.URL
	requests := func() []*http.Request {
		ctx := context.Background()
		mk := func(method, url string, body io.Reader) *http.Request { return newRequest(t, ctx, method, url, body) }
		custom := mk("GET", base+"/h", nil)
		custom.Header.Set("X-One", " padded ")
		custom.Header["X-Many"] = []string{"a", "b"}
		custom.Header.Set("Accept-Encoding", "identity")
		custom.Header.Set("User-Agent", "custom/1")
		custom.Host = "example.test"
		noUA := mk("GET", base+"/no-ua", nil)
		noUA.Header["User-Agent"] = []string{""}
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
			noUA,
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
	var byWay [][]string
	for _, way := range ways {
		mu.Lock()
		got = nil
		mu.Unlock()
		c := newClient(t, way)
		for _, r := range requests() {
			resp, err := c.Do(r)
			if err != nil {
				t.Fatalf("%s %s %s: %v", way, r.Method, r.URL, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		mu.Lock()
		byWay = append(byWay, got)
		mu.Unlock()
	}
	ours, std := byWay[0], byWay[1]
	if len(ours) != len(std) {
		t.Fatalf("server saw %d requests from http1, %d from net/http", len(ours), len(std))
	}
	for i := range ours {
		if ours[i] != std[i] {
			t.Errorf("request %d differs:\n http1:    %s\n net/http: %s", i, ours[i], std[i])
		}
	}
}

// TestResponsesMatchNetHTTP runs the same requests against handlers covering the framing
// cases (length, chunked, large, 1xx, 204, 304, HEAD, gzip, redirects, cookies, trailers,
// Connection: close), reads each body both ways (Read and WriteTo) and compares what the
// client got.
func TestResponsesMatchNetHTTP(t *testing.T) {
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
	srv := http1test.NewServer(t, mux)

	steps := []struct {
		method, path string
		body         []byte
	}{
		{"GET", "/plain", nil}, {"GET", "/chunked", nil}, {"GET", "/big", nil}, {"GET", "/bigchunked", nil},
		{"GET", "/early", nil}, {"GET", "/204", nil}, {"GET", "/304", nil}, {"HEAD", "/big", nil},
		{"HEAD", "/chunked", nil}, {"GET", "/404", nil}, {"GET", "/503", nil}, {"GET", "/gzip", nil},
		{"GET", "/redirect", nil}, {"GET", "/getcookie", nil}, {"GET", "/setcookie", nil},
		{"GET", "/getcookie", nil}, {"GET", "/trailer", nil}, {"POST", "/echo", []byte("payload")},
		{"PUT", "/echo", nil}, {"GET", "/close", nil}, {"GET", "/plain", nil},
	}
	for name, read := range bodyReaders {
		var byWay [][]string
		for _, way := range ways {
			before := srv.Conns()
			c := newClient(t, way)
			var out []string
			for _, s := range steps {
				var body io.Reader
				if s.body != nil {
					body = bytes.NewReader(s.body)
				}
				out = append(out, read.outcome(c.Do(newRequest(t, context.Background(), s.method, srv.URL+s.path, body))))
			}
			byWay = append(byWay, out)
			// Keep-alive: one connection until /close, one after it.
			if n := srv.Conns() - before; way == "http1" && n != 2 {
				t.Errorf("%s: %d connections, want 2", name, n)
			}
		}
		for i, s := range steps {
			if ours, std := byWay[0][i], byWay[1][i]; ours != std {
				t.Errorf("%s %s (%s) differs:\n http1:    %.300s\n net/http: %.300s", s.method, s.path, name, ours, std)
			}
		}
		// Spot checks that the comparison compares something.
		for i, want := range map[int]string{0: `body="ok"`, 1: `body="one,two,three"`, 4: `body="after hints"`, 5: "204 ",
			6: "304 ", 10: "503 ", 11: "uncompressed=true", 12: `body="ok"`, 13: `body="no cookie"`, 15: `body="cookie abc"`,
			16: `body="body"`, 17: `body="POST 7 [] payload"`, 18: `body="PUT 0 [] "`, 19: "close=true"} {
			if !strings.Contains(byWay[0][i], want) {
				t.Errorf("%s (%s): got %.200s, want it to hold %s", steps[i].path, name, byWay[0][i], want)
			}
		}
	}
}

// TestEdgeResponsesMatchNetHTTP compares the two ways on responses no net/http server sends:
// malformed heads and bodies, framing by close, HTTP/1.0, odd but valid header lines, an
// interim 100, unsolicited bytes; and on a refused connection and a request body shorter
// than its ContentLength. Each request is sent twice: the second must not be hurt by the
// first.
func TestEdgeResponsesMatchNetHTTP(t *testing.T) {
	answer := func(response string, closeAfter bool) string {
		return http1test.NewAnswering(t, response, closeAfter).URL + "/"
	}
	cases := []struct {
		name, url string
		want      string // what the outcome holds
		short     bool   // send a body shorter than its ContentLength
	}{
		{"refused", http1test.RefusedURL(t), "error: " + syscall.ECONNREFUSED.Error(), false},
		{"reset in body", answer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", true), "read error: unexpected EOF", false},
		{"malformed", answer("garbage\r\n\r\n", false), "error: other", false},
		{"bad status", answer("HTTP/1.1 2x0 OK\r\n\r\n", false), "error: other", false},
		{"bad content-length", answer("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false), "error: other", false},
		{"bad chunk", answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false), "read error: other", false},
		{"until close", answer("HTTP/1.1 200 OK\r\n\r\nread until close", true), `body="read until close"`, false},
		{"HTTP/1.0", answer("HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nold!", true), `body="old!"`, false},
		{"HTTP/1.0 keep-alive", answer("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nka", false), `body="ka"`, false},
		{"short request body", answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false), "error: other", true},
		{"big header", answer("HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("b", 9000)+"\r\nContent-Length: 3\r\n\r\nbig", false), `body="big"`, false},
		{"folded header", answer("HTTP/1.1 200 OK\r\nX-Fold: a\r\n  b\r\nContent-Length: 4\r\n\r\nfold", false), `body="fold"`, false},
		{"equal content-lengths", answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nCL", false), `body="CL"`, false},
		{"differing content-lengths", answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nCL", false), "error: other", false},
		{"interim 100", answer("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nfin", false), `body="fin"`, false},
		{"extra bytes", answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno", false), `body="ok"`, false},
		{"bare LF", answer("HTTP/1.1 200 OK\nContent-Length: 2\n\nlf", false), `body="lf"`, false},
		{"lower-case keys", answer("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-lower:  v \r\n\r\nlc", false), `body="lc"`, false},
	}
	// After "extra bytes", net/http may send the second request on the same connection before
	// its background read has seen the bytes after the first response, and then take them for
	// the second response; whether it does is a race. The Transport always closes such a
	// connection. So there only the first requests are compared, and the Transport's second.
	firstOnly := map[string]bool{"extra bytes": true}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			var got [][]string
			for _, way := range ways {
				c := newClient(t, way)
				var out []string
				for range 2 {
					var body io.Reader
					if cs.short {
						body = strings.NewReader("12345")
					}
					req := newRequest(t, context.Background(), http.MethodGet, cs.url, body)
					if cs.short {
						req.Method, req.ContentLength = http.MethodPost, 10
					}
					out = append(out, reader(io.ReadAll).outcome(c.Do(req)))
				}
				got = append(got, out)
			}
			if firstOnly[cs.name] {
				if got[0][1] != got[0][0] {
					t.Errorf("http1's second request got %q, the first %q", got[0][1], got[0][0])
				}
				got[0], got[1] = got[0][:1], got[1][:1]
			}
			if !slices.Equal(got[0], got[1]) || !strings.Contains(got[0][0], cs.want) {
				t.Errorf("http1 %q\nnet/http %q\nwant them equal, holding %q", got[0], got[1], cs.want)
			}
		})
	}
}

// TestServerClosesIdleConnections closes the server's connections between requests: GETs
// must all succeed (a broken reused connection is replaced transparently), both ways.
func TestServerClosesIdleConnections(t *testing.T) {
	srv := http1test.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	for _, way := range ways {
		before := srv.Conns()
		c := newClient(t, way)
		for i := range 30 {
			if i%5 == 4 {
				srv.CloseClientConnections()
			}
			if got := reader(io.ReadAll).outcome(c.Get(srv.URL)); !strings.HasPrefix(got, "200 ") {
				t.Errorf("%s request %d: %s", way, i, got)
			}
		}
		if n := srv.Conns() - before; n < 2 {
			t.Errorf("%s: %d connections, want a new one after each close", way, n)
		}
	}
}

// closeAfterOne answers one request per connection, without announcing the close.
func closeAfterOne(served *atomic.Int64, closed chan<- struct{}) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, br *bufio.Reader) {
		if _, _, err := http1test.ReadRequest(br); err != nil {
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

// setProbeAfter sets the idle time after which a connection is checked, for one test.
func setProbeAfter(t *testing.T, d time.Duration) {
	old := probeAfter
	probeAfter = d
	t.Cleanup(func() { probeAfter = old })
}

// TestRetryOnBrokenReusedConnection: a server that silently closes each connection after one
// response. With the idle check off, the Transport finds out only when the next request
// fails on the reused connection: a GET is then retried on a fresh connection (net/http's
// rule), a POST is not (it may have reached the server) and fails with the connection's
// error (EOF or a reset).
func TestRetryOnBrokenReusedConnection(t *testing.T) {
	setProbeAfter(t, time.Hour)
	var served atomic.Int64
	srv := http1test.NewRawServer(t, closeAfterOne(&served, nil))
	url := srv.URL + "/"
	c := newClient(t, "http1")
	for i := range 5 {
		if got := reader(io.ReadAll).outcome(c.Get(url)); !strings.HasPrefix(got, "200 ") {
			t.Errorf("GET %d: %s", i, got)
		}
	}
	if served.Load() != 5 || srv.Conns() != 5 {
		t.Errorf("GETs: server served %d on %d connections, want 5 on 5", served.Load(), srv.Conns())
	}

	served.Store(0)
	c = newClient(t, "http1")
	if got := reader(io.ReadAll).outcome(c.Post(url, "text/plain", strings.NewReader("first"))); !strings.HasPrefix(got, "200 ") {
		t.Errorf("first POST: %s", got)
	}
	got := reader(io.ReadAll).outcome(c.Post(url, "text/plain", strings.NewReader("second")))
	if got != "error: EOF" && got != "error: "+syscall.ECONNRESET.Error() {
		t.Errorf("second POST on the broken connection: %s, want EOF or a reset", got)
	}
	if served.Load() != 1 {
		t.Errorf("server served %d POSTs, want 1 (no retry of a non-idempotent request)", served.Load())
	}
}

// wrappedConn wraps a connection as the load engine's byte counter does, and unwraps it.
type wrappedConn struct{ net.Conn }

func (w wrappedConn) NetConn() net.Conn { return w.Conn }

// TestIdleCheck: with the idle check on, a connection the server closed while idle is
// noticed before the request is sent, so even a POST goes out on a fresh connection; also
// when DialContext wraps the connection (the check unwraps it with NetConn).
func TestIdleCheck(t *testing.T) {
	setProbeAfter(t, 0)
	wrap := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := defaultDial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return wrappedConn{c}, nil
	}
	for name, dial := range map[string]func(context.Context, string, string) (net.Conn, error){"plain": nil, "wrapped": wrap} {
		var served atomic.Int64
		closed := make(chan struct{}, 10)
		srv := http1test.NewRawServer(t, closeAfterOne(&served, closed))
		tr := &Transport{DialContext: dial}
		t.Cleanup(tr.CloseIdleConnections)
		c := &http.Client{Transport: tr}
		for i := range 4 {
			if got := reader(io.ReadAll).outcome(c.Post(srv.URL, "text/plain", strings.NewReader("x"))); !strings.HasPrefix(got, "200 ") {
				t.Errorf("%s: POST %d: %s", name, i, got)
				continue
			}
			<-closed // the server closed the connection the next POST would reuse
		}
		if served.Load() != 4 || srv.Conns() != 4 {
			t.Errorf("%s: served %d on %d connections, want 4 on 4", name, served.Load(), srv.Conns())
		}
	}
}

// TestIdleSetIsBounded: a Transport keeps at most maxIdle idle connections, dropping the
// least recently used.
func TestIdleSetIsBounded(t *testing.T) {
	var urls []string
	for range maxIdle + 2 {
		urls = append(urls, http1test.NewServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).URL)
	}
	tr := &Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	for _, u := range append(urls, urls[len(urls)-1]) {
		if got := reader(io.ReadAll).outcome(c.Get(u)); !strings.HasPrefix(got, "200 ") {
			t.Errorf("%s: %s", u, got)
		}
	}
	if last := tr.idle[len(tr.idle)-1].addr; len(tr.idle) != maxIdle || "http://"+last != urls[len(urls)-1] {
		t.Errorf("%d idle connections, last %s; want %d, last %s", len(tr.idle), last, maxIdle, urls[len(urls)-1])
	}
}

// closeCounter is a request body that counts its Close calls.
type closeCounter struct {
	io.Reader
	closes *atomic.Int64
}

func (c closeCounter) Close() error { c.closes.Add(1); return nil }

// TestClosesRequestBodies: a RoundTripper closes the request body, sent or not.
func TestClosesRequestBodies(t *testing.T) {
	srv := http1test.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	for _, way := range ways {
		var closes atomic.Int64
		c := newClient(t, way)
		for _, u := range []string{srv.URL, http1test.RefusedURL(t)} {
			req := newRequest(t, context.Background(), http.MethodPost, u, closeCounter{strings.NewReader("abc"), &closes})
			req.ContentLength = 3
			_ = reader(io.ReadAll).outcome(c.Do(req))
		}
		if closes.Load() < 2 {
			t.Errorf("%s: request bodies closed %d times for 2 requests", way, closes.Load())
		}
	}
}

// recordingFallback answers every request with 200 and remembers that it did.
type recordingFallback struct{ got []string }

func (f *recordingFallback) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	f.got = append(f.got, req.Method+" "+req.URL.String())
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
}

// TestFallback: the requests the Transport cannot send exactly as net/http would go to
// Fallback, and only those.
func TestFallback(t *testing.T) {
	srv := http1test.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(tls.Close)
	ctx := context.Background()
	header := func(k, v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }
	cases := []struct {
		name     string
		method   string
		url      string
		body     io.Reader
		edit     func(*http.Request)
		fallback bool
	}{
		{"plain GET", "GET", srv.URL, nil, nil, false},
		{"known-length POST", "POST", srv.URL, strings.NewReader("abc"), nil, false},
		{"https", "GET", tls.URL, nil, nil, true},
		{"unknown-length body", "POST", srv.URL, io.MultiReader(strings.NewReader("abc")), nil, true},
		{"chunked request", "POST", srv.URL, strings.NewReader("abc"), func(r *http.Request) { r.TransferEncoding = []string{"chunked"} }, true},
		{"request trailer", "POST", srv.URL, strings.NewReader("abc"), func(r *http.Request) { r.Trailer = http.Header{"X-Sum": nil} }, true},
		{"Upgrade", "GET", srv.URL, nil, header("Upgrade", "websocket"), true},
		{"control character", "GET", srv.URL, nil, header("X-Bad", "a\x01b"), true},
		{"bad header name", "GET", srv.URL, nil, func(r *http.Request) { r.Header["X Bad"] = []string{"v"} }, true},
		{"non-ASCII host", "GET", srv.URL, nil, func(r *http.Request) { r.Host = "bücher.example" }, true},
		{"CONNECT", "CONNECT", srv.URL, nil, nil, true},
	}
	for _, cs := range cases {
		fb := &recordingFallback{}
		tr := &Transport{Fallback: fb}
		req := newRequest(t, ctx, cs.method, cs.url, cs.body)
		if cs.edit != nil {
			cs.edit(req)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Errorf("%s: %v", cs.name, err)
			continue
		}
		_ = reader(io.ReadAll).outcome(resp, nil)
		tr.CloseIdleConnections()
		if fell := len(fb.got) == 1; fell != cs.fallback {
			t.Errorf("%s: fell back %v, want %v", cs.name, fell, cs.fallback)
		}
	}
}

// TestTrace: the Transport calls the phase hooks of its Trace in net/http's order; the first
// request dials, the second reuses the idle connection, and with DisableKeepAlives each
// request dials.
func TestTrace(t *testing.T) {
	srv := http1test.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	for _, keepAlive := range []bool{true, false} {
		var phases []string
		tr := &Transport{DisableKeepAlives: !keepAlive, Trace: &httptrace.ClientTrace{
			GetConn:      func(string) { phases = append(phases, "get") },
			ConnectStart: func(string, string) { phases = append(phases, "connect") },
			ConnectDone: func(_, _ string, err error) {
				phases = append(phases, "connected")
				if err != nil {
					t.Error(err)
				}
			},
			GotConn: func(i httptrace.GotConnInfo) {
				phases = append(phases, fmt.Sprintf("got(reused=%v,idle=%v)", i.Reused, i.WasIdle && i.IdleTime > 0))
			},
			WroteRequest:         func(httptrace.WroteRequestInfo) { phases = append(phases, "wrote") },
			GotFirstResponseByte: func() { phases = append(phases, "first byte") },
		}}
		t.Cleanup(tr.CloseIdleConnections)
		c := &http.Client{Transport: tr}
		for range 2 {
			_ = reader(io.ReadAll).outcome(c.Get(srv.URL))
		}
		fresh := "get connect connected got(reused=false,idle=false) wrote first byte"
		want := fresh + " get got(reused=true,idle=true) wrote first byte"
		if !keepAlive {
			want = fresh + " " + fresh
		}
		if got := strings.Join(phases, " "); got != want {
			t.Errorf("keep-alive %v: phases\n %s\nwant\n %s", keepAlive, got, want)
		}
	}
}

// TestContextBoundsExchange: the request's deadline ends an exchange waiting for the head or
// in the body with a timeout, and a cancellation ends it at once with the context's error,
// both ways; RequestContext, when set, takes the place of the request's context.
func TestContextBoundsExchange(t *testing.T) {
	srv := http1test.NewRawServer(t, func(c net.Conn, br *bufio.Reader) {
		head, _, err := http1test.ReadRequest(br)
		if err != nil {
			return
		}
		if strings.Contains(head[0], "/slow-body") {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345")
		}
		_, _ = io.Copy(io.Discard, br) // until the client goes away
	})
	for _, path := range []string{"/slow-head", "/slow-body"} {
		for _, way := range ways {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			if got := reader(io.ReadAll).outcome(newClient(t, way).Do(newRequest(t, ctx, "GET", srv.URL+path, nil))); !strings.HasSuffix(got, "timeout") {
				t.Errorf("%s %s with a deadline: %s, want a timeout", way, path, got)
			}
			cancel()

			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			if got := reader(io.ReadAll).outcome(newClient(t, way).Do(newRequest(t, ctx, "GET", srv.URL+path, nil))); !strings.HasSuffix(got, "context canceled") {
				t.Errorf("%s %s cancelled: %s, want the context's error", way, path, got)
			}
		}
		tr := &Transport{RequestContext: func(*http.Request) (context.Context, time.Time) {
			return context.Background(), time.Now().Add(50 * time.Millisecond)
		}}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // ignored: RequestContext's context counts
		if got := reader(io.ReadAll).outcome(tr.RoundTrip(newRequest(t, ctx, "GET", srv.URL+path, nil))); !strings.HasSuffix(got, "timeout") {
			t.Errorf("%s with RequestContext's deadline: %s, want a timeout", path, got)
		}
		tr.CloseIdleConnections()
	}
}
