// Package loadtest provides test targets for the load engine: an in-process HTTP server with
// configurable latency and status, and a minimal server run in a child process (re-executing
// the test binary) so that benchmarks measure the generator's CPU and memory apart from the
// server's.
package loadtest

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Target is an in-process test server.
type Target struct {
	*httptest.Server
	// Requests counts the requests served.
	Requests atomic.Int64
	// Latency delays each response; Status sets its code (default 200). Set them before load
	// starts.
	Latency time.Duration
	Status  int
}

// NewTarget starts a server answering "ok" and registers its shutdown with tb.Cleanup.
func NewTarget(tb testing.TB) *Target {
	tb.Helper()
	t := &Target{}
	t.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Requests.Add(1)
		if t.Latency > 0 {
			time.Sleep(t.Latency)
		}
		if t.Status != 0 {
			w.WriteHeader(t.Status)
		}
		_, _ = w.Write([]byte("ok"))
	}))
	tb.Cleanup(t.Close)
	return t
}

const childEnv = "DDP_LOADTEST_CHILD_SERVER"

// minimal is the smallest useful handler: a 2-byte body, no allocation of its own.
var minimal = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header()["Content-Length"] = []string{"2"}
	_, _ = w.Write([]byte("ok"))
})

// ServeIfChild must be called first in TestMain: in the child process started by
// [StartChildServer] it serves the minimal handler on 127.0.0.1, prints the address and never
// returns.
func ServeIfChild() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("ADDR %s\n", ln.Addr())
	srv := &http.Server{Handler: minimal, ReadHeaderTimeout: 10 * time.Second}
	_ = srv.Serve(ln)
	os.Exit(0)
}

// StartChildServer re-executes the test binary as a minimal HTTP server and returns its base
// URL ("http://127.0.0.1:PORT/"); the child is killed at cleanup. The calling package's
// TestMain must call [ServeIfChild].
func StartChildServer(tb testing.TB) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start child server: %v", err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			return "http://" + addr + "/"
		}
	}
	tb.Fatalf("child server printed no address: %v", sc.Err())
	return ""
}
