package run

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/httpserver/httpservertest"
)

// The generator's metrics server cuts off a client that sends its body one byte a second
// (its read timeout, 10 s, bounds the whole request) and one that idles with its headers
// half sent; the bound is generous so that a busy machine still passes.
func TestGeneratorServerCutsSlowClients(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := generatorServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	body := httpservertest.SlowBody(t, ln.Addr().String(), http.MethodPost, "/metrics", nil)
	headers := httpservertest.SlowHeaders(t, ln.Addr().String())
	deadline := time.Now().Add(6 * generatorTimeouts.Read)
	httpservertest.WaitClosed(t, "slow body", body, deadline)
	httpservertest.WaitClosed(t, "slow headers", headers, deadline)
	if srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 || srv.ReadHeaderTimeout <= 0 {
		t.Errorf("timeouts %v %v %v %v: every one must be set", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
}
