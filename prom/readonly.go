package prom

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/tsdb"
)

var errNoScrapePools = errors.New("no scrape pools: this TSDB was reopened read-only")

// ReadOnly serves the Prometheus HTTP API over a saved TSDB directory.
type ReadOnly struct {
	db     *tsdb.DB
	tmp    string
	http   *http.Server
	url    string
	done   chan struct{}
	once   sync.Once
	closeE error
}

// OpenReadOnly serves the API over the TSDB saved in dir (by [Server.Close], or by a
// Prometheus server) without writing to dir.
//
// Prometheus's own read-only mode (tsdb.DBReadOnly) replays the WAL on every query and is not
// safe for concurrent queries, which the HTTP API makes. So OpenReadOnly copies dir to a
// temporary directory and opens the copy as a normal TSDB; Close removes the copy. The copy
// costs time and disk in proportion to the TSDB's size (a one-hour run is tens of MB).
// o.Dir is ignored; o.ListenAddress, o.LookbackDelta and o.Logger apply.
func OpenReadOnly(dir string, o Options) (*ReadOnly, error) {
	o.setDefaults() // its retention is not used: the copy is opened without one
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("prom: open TSDB %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("prom: open TSDB %s: not a directory", dir)
	}
	tmp, err := os.MkdirTemp("", "ddp-verify-tsdb-*")
	if err != nil {
		return nil, fmt.Errorf("prom: temporary TSDB copy: %w", err)
	}
	if err := copyTree(dir, tmp); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("prom: copy TSDB %s: %w", dir, err)
	}
	topts := tsdb.DefaultOptions()
	// Never delete saved data for age: a run evaluated months later must still see all of it.
	topts.RetentionDuration = 0
	reg := prometheus.NewRegistry()
	db, err := tsdb.Open(tmp, o.Logger.With("component", "tsdb"), reg, topts, nil)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("prom: open TSDB %s: %w", dir, err)
	}
	ln, err := listenLoopback(o.ListenAddress)
	if err != nil {
		db.Close()
		os.RemoveAll(tmp)
		return nil, err
	}
	cfg := config.DefaultConfig
	h := newAPIHandler(apiParams{
		engine:    newEngine(o, reg),
		queryable: db,
		targets:   noTargets{},
		pools:     noTargets{},
		admin:     adminStats{db},
		dir:       dir,
		config:    &cfg,
		logger:    o.Logger,
		reg:       reg,
		listen:    ln.Addr().String(),
	})
	r := &ReadOnly{db: db, tmp: tmp, url: "http://" + ln.Addr().String(), done: make(chan struct{})}
	r.http = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(r.done)
		_ = r.http.Serve(ln)
	}()
	return r, nil
}

// URL is the base URL of the HTTP API.
func (r *ReadOnly) URL() string { return r.url }

// Close stops the API and removes the temporary copy. The original directory is untouched.
func (r *ReadOnly) Close() error {
	r.once.Do(func() {
		herr := r.http.Close()
		<-r.done
		derr := r.db.Close()
		rerr := os.RemoveAll(r.tmp)
		r.closeE = errors.Join(herr, derr, rerr)
	})
	return r.closeE
}

// copyTree copies regular files and directories; the TSDB lock file is skipped, since a
// Prometheus still running on dir would otherwise lend its lock to the copy.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() || rel == "lock" {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
