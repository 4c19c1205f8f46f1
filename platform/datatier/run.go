package datatier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/dailydoco/ddp-verify/platform/httpserver"
	"github.com/dailydoco/ddp-verify/platform/metrics"
	"github.com/dailydoco/ddp-verify/platform/model"
)

// Spec is the data tier process's configuration.
type Spec struct {
	Addr        string        `json:"addr"` // host:port of its API, /metrics, /health and /ready
	DBPath      string        `json:"db_path"`
	Lease       time.Duration `json:"lease"`
	MaxAttempts int           `json:"max_attempts"`
	Model       model.Model   `json:"model"`
	// Token is the secret every API request must carry (Config.Token); required.
	Token string `json:"token"`
	// HTTP are the server's timeouts (zero fields: httpserver.Default's).
	HTTP httpserver.Timeouts `json:"http"`
	// LostHandoffShare is the lost_handoff_share defect of the gate-mutation suite
	// (topology.Defects.LostHandoffShare); 0 on a healthy platform.
	LostHandoffShare float64 `json:"lost_handoff_share,omitempty"`
}

// Run serves the data tier until ctx is done, calling ready once it accepts connections.
func Run(ctx context.Context, spec Spec, log *slog.Logger, ready func()) error {
	if spec.Token == "" {
		return errors.New("data tier spec has no token: the data tier never serves without one")
	}
	store, err := Open(ctx, spec.DBPath, spec.MaxAttempts, spec.Model)
	if err != nil {
		return err
	}
	defer store.Close()
	if spec.LostHandoffShare > 0 {
		log.Warn("the data tier loses videos between the GPU and the AI step (defect lost_handoff_share)", "share", spec.LostHandoffShare)
		store.LoseHandoffs(spec.LostHandoffShare)
	}
	reg, wrapped := metrics.NewRegistry(nil)
	srv := NewServer(store, Config{Lease: spec.Lease, MaxAttempts: spec.MaxAttempts, Model: spec.Model, Token: spec.Token}, wrapped)

	mux := http.NewServeMux()
	mux.Handle("/v1/", srv.Handler())
	mux.Handle("GET /metrics", metrics.Handler(reg))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if err := store.Ping(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	ln, err := net.Listen("tcp", spec.Addr)
	if err != nil {
		return fmt.Errorf("data tier listen: %w", err)
	}
	hs := httpserver.New(mux, spec.HTTP)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("data tier ready", "addr", spec.Addr, "db", spec.DBPath)
	ready()
	select {
	case err := <-errc:
		return fmt.Errorf("data tier serve: %w", err)
	case <-ctx.Done():
	}
	srv.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
