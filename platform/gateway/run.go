package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/dailydoco/ddp-verify/platform/httpserver"
	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/metrics"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// Spec is the gateway process's configuration.
type Spec struct {
	Addr      string `json:"addr"`       // public listener
	AdminAddr string `json:"admin_addr"` // /metrics, /health, /ready, /backends
	// AdminToken guards PUT /backends, which the supervisor calls when replicas move.
	AdminToken string           `json:"admin_token"`
	Backends   []Backend        `json:"backends"`
	Gateway    topology.Gateway `json:"gateway"`
	// HTTP are both listeners' timeouts (zero fields: httpserver.Default's).
	HTTP httpserver.Timeouts `json:"http"`
}

// Run serves the gateway until ctx is done, calling ready once both listeners accept
// connections and every replica has been probed once.
func Run(ctx context.Context, spec Spec, log *slog.Logger, ready func()) error {
	reg, wrapped := metrics.NewRegistry(nil)
	g, err := New(Config{
		RateLimits: spec.Gateway.RateLimits, TrustedProxies: spec.Gateway.TrustedProxies,
		HealthInterval: spec.Gateway.HealthInterval.D(), Retries: spec.Gateway.Retries,
		UpstreamTimeout: spec.Gateway.UpstreamTimeout.D(), Logger: log,
	}, spec.Backends, wrapped)
	if err != nil {
		return err
	}
	admin := http.NewServeMux()
	admin.Handle("GET /metrics", metrics.Handler(reg))
	admin.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	admin.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	admin.HandleFunc("GET /backends", func(w http.ResponseWriter, r *http.Request) { jsonhttp.Write(w, http.StatusOK, g.Backends()) })
	admin.HandleFunc("PUT /backends", func(w http.ResponseWriter, r *http.Request) {
		if !jsonhttp.Bearer(r, spec.AdminToken) {
			jsonhttp.WriteError(w, jsonhttp.Errorf(http.StatusUnauthorized, "unauthorized", "bad admin token"))
			return
		}
		var bs []Backend
		if err := jsonhttp.Decode(r, 1<<20, &bs); err != nil {
			jsonhttp.WriteError(w, err)
			return
		}
		g.SetBackends(bs)
		g.CheckNow(r.Context())
		jsonhttp.Write(w, http.StatusOK, g.Backends())
	})

	g.CheckNow(ctx)
	servers := []*http.Server{httpserver.New(g, spec.HTTP), httpserver.New(admin, spec.HTTP)}
	errc := make(chan error, 2)
	for i, addr := range []string{spec.Addr, spec.AdminAddr} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("gateway listen: %w", err)
		}
		go func() {
			if err := servers[i].Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	hctx, stopHealth := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Run(hctx)
	}()
	log.Info("gateway ready", "addr", spec.Addr, "backends", len(spec.Backends))
	ready()
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	stopHealth()
	<-done
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	return err
}
