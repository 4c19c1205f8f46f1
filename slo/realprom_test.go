package slo_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dailydoco/ddp-verify/internal/testenv"
	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/slo/slotest"
)

const realPrometheus = "/usr/bin/prometheus"

// startRealPrometheus runs the Debian prometheus server on a free loopback port, scraping
// target+path every 100 ms, with its TSDB in a temporary directory.
func startRealPrometheus(t *testing.T, target, path string) string {
	t.Helper()
	if _, err := os.Stat(realPrometheus); err != nil {
		testenv.Missing(t, testenv.Prometheus, fmt.Sprintf("the real Prometheus server %s to compare the embedded one with", realPrometheus))
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 100ms
  scrape_timeout: 100ms
scrape_configs:
  - job_name: exporter
    metrics_path: %s
    static_configs:
      - targets: [%q]
`, path, target)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(cfg), 0o644))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	cmd := exec.Command(realPrometheus, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	})
	u := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(u + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return u
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready at %s: %v\n%s", u, err, logs.String())
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

// TestRealPrometheusMatchesEmbedded scrapes the same exporter into the embedded Prometheus and
// into the real Debian server, evaluates the status and default SLO sets on both, and checks
// that every status and value agrees, and agrees with the hand-computed expectations.
func TestRealPrometheusMatchesEmbedded(t *testing.T) {
	base := testBase()
	exp := slotest.NewExporter(slotest.Frames(base, nFrames, time.Second, 1))
	hs := httptest.NewServer(exp)
	defer hs.Close()
	host := strings.TrimPrefix(hs.URL, "http://")

	realURL := startRealPrometheus(t, host, "/metrics/real")
	emb, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir(), ScrapeInterval: 100 * time.Millisecond,
		Jobs: []prom.Job{{Name: "exporter", Targets: []string{host}, MetricsPath: "/metrics/embedded"}}})
	require.NoError(t, err)
	defer emb.Close()

	deadline := time.Now().Add(60 * time.Second)
	require.NoError(t, exp.WaitDone("embedded", deadline))
	require.NoError(t, exp.WaitDone("real", deadline))

	statusSpec, err := slo.Load("testdata/status.yaml")
	require.NoError(t, err)
	defSpec, err := slo.Default()
	require.NoError(t, err)
	ctx := context.Background()
	for _, tc := range []struct {
		spec *slo.Spec
		want map[string]want
	}{{statusSpec, expectedStatus()}, {defSpec, expectedDefault()}} {
		t.Run(filepath.Base(tc.spec.File), func(t *testing.T) {
			e := slo.Evaluate(ctx, client(t, emb.URL()), tc.spec, windows(base), slo.Options{})
			r := slo.Evaluate(ctx, client(t, realURL), tc.spec, windows(base), slo.Options{})
			checkResults(t, e, tc.want, "run")
			require.Len(t, r.Results, len(e.Results))
			for i := range e.Results {
				er, rr := e.Results[i], r.Results[i]
				require.Equal(t, er.ID, rr.ID)
				require.Equal(t, er.Window, rr.Window)
				if er.ID == "quantile_warning" {
					// Prometheus 2.42 has no query warnings; only the status must agree.
					require.Equal(t, er.Status, rr.Status)
					continue
				}
				require.Equal(t, er.Status, rr.Status, "%s/%s: embedded %q, real %q", er.ID, er.Window, er.Error, rr.Error)
				if er.Value == nil {
					require.Nil(t, rr.Value, er.ID)
					continue
				}
				require.NotNil(t, rr.Value, er.ID)
				// Prometheus 3 sums with Kahan compensation, 2.42 does not: allow the last bits.
				require.InDelta(t, *er.Value, *rr.Value, 1e-9*math.Max(1, math.Abs(*er.Value)), "%s/%s", er.ID, er.Window)
			}
			require.Equal(t, e.Gate, r.Gate)
			require.Equal(t, e.Score, r.Score)
			for i := range e.Results {
				require.Equal(t, slo.Points(e.Results[i]), slo.Points(r.Results[i]), e.Results[i].ID)
			}
		})
	}
}
