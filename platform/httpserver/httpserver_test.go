package httpserver_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/httpserver"
	"github.com/dailydoco/ddp-verify/platform/httpserver/httpservertest"
)

// bound is how long a test waits for a close that the short timeouts below make in well
// under a second: generous, so that a busy machine still passes.
const bound = 30 * time.Second

var short = httpserver.Timeouts{ReadHeader: 300 * time.Millisecond, Read: 500 * time.Millisecond, Write: time.Second, Idle: 300 * time.Millisecond}

func serve(t *testing.T, h http.Handler, to httpserver.Timeouts) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpserver.New(h, to)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestNewFillsEveryTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   httpserver.Timeouts
		want httpserver.Timeouts
	}{
		{"zero is the default", httpserver.Timeouts{}, httpserver.Default},
		{"given", short, short},
		{"partly given", httpserver.Timeouts{Read: time.Second, Idle: -1}, httpserver.Timeouts{ReadHeader: 10 * time.Second, Read: time.Second, Write: 90 * time.Second, Idle: 60 * time.Second}},
	} {
		s := httpserver.New(http.NotFoundHandler(), tc.in)
		got := httpserver.Timeouts{ReadHeader: s.ReadHeaderTimeout, Read: s.ReadTimeout, Write: s.WriteTimeout, Idle: s.IdleTimeout}
		if got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// A client that sends its body one byte a second is cut off by the body read deadline, both
// where the handler reads the body and where it answers without reading it.
func TestSlowBodyIsCutOff(t *testing.T) {
	t.Parallel()
	reads := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}), short)
	ignores := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }), short)
	a := httpservertest.SlowBody(t, reads, http.MethodPost, "/", nil)
	b := httpservertest.SlowBody(t, ignores, http.MethodPost, "/", nil)
	httpservertest.WaitClosed(t, "slow body, handler reads it", a, time.Now().Add(bound))
	httpservertest.WaitClosed(t, "slow body, handler ignores it", b, time.Now().Add(bound))
}

func TestSlowHeadersAndIdleConnectionsAreClosed(t *testing.T) {
	t.Parallel()
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }), short)
	headers := httpservertest.SlowHeaders(t, addr)
	idle := httpservertest.Idle(t, addr, "/")
	deadline := time.Now().Add(bound)
	httpservertest.WaitClosed(t, "slow headers", headers, deadline)
	httpservertest.WaitClosed(t, "idle keep-alive", idle, deadline)
}

// A client that never reads its answer is cut off by the write timeout: the handler's writes
// fail once the socket buffers are full and the deadline has passed.
func TestSlowReaderIsCutOff(t *testing.T) {
	t.Parallel()
	failed := make(chan error, 1)
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				failed <- err
				return
			}
		}
	}), short)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case <-failed:
	case <-timer.C:
		t.Fatalf("the handler still writes to a client that reads nothing after %v", bound)
	}
}
