package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/internal/testenv"
	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo/slotest"
	"github.com/dailydoco/ddp-verify/verdict"
)

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }

// savedTSDB writes the slotest frames into an embedded Prometheus and closes it, as a run does.
func savedTSDB(t *testing.T) (dir string, from, to time.Time) {
	t.Helper()
	base := time.Now().Add(-3 * time.Minute).Truncate(time.Second)
	dir = filepath.Join(t.TempDir(), "tsdb")
	srv, err := prom.New(context.Background(), prom.Options{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, slotest.Append(srv.Appender(context.Background()), slotest.Frames(base, 100, time.Second, 1), "job", "x"))
	require.NoError(t, srv.Close())
	return dir, base.Add(30500 * time.Millisecond), base.Add(90500 * time.Millisecond)
}

func TestEvaluateSavedTSDB(t *testing.T) {
	dir, from, to := savedTSDB(t)
	good := filepath.Join(t.TempDir(), "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte(`objectives:
  - id: realtime
    query: sum(increase(dailydoco_video_processing_realtime_ratio_bucket{le=~"2(\\.0)?"}[$WINDOW])) / sum(increase(dailydoco_video_processing_realtime_ratio_count[$WINDOW]))
    op: ">="
    value: 0.95
    windows: [run, plateau]
`), 0o644))
	outDir := filepath.Join(t.TempDir(), "out")
	stdout, stderr, code := execute(t, "evaluate", "--tsdb", dir, "--from", unix(from), "--to", to.Format(time.RFC3339Nano),
		"--slo", good, "--out", outDir, "--window", "plateau="+unix(from)+","+unix(to))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "realtime")
	require.Contains(t, stdout, "gate: PASS")
	// The evaluation is a run directory that report and compare read like a run's.
	rec, err := reports.ReadRun(filepath.Join(outDir, reports.RunFile))
	require.NoError(t, err)
	require.Equal(t, verdict.Go, rec.Verdict)
	require.Len(t, rec.SLOs, 2)
	require.InDelta(t, slotest.RealtimeWithin2/slotest.RealtimeVideos, *rec.SLOs[0].Value, 1e-9)
	for _, f := range []string{reports.HTMLFile, reports.JUnitFile, reports.MarkdownFile} {
		require.FileExists(t, filepath.Join(outDir, f))
	}
	_, stderr, code = execute(t, "report", outDir)
	require.Equal(t, 0, code, stderr)
	// An earlier evaluation's run.json is a baseline for relative criteria.
	_, stderr, code = execute(t, "evaluate", "--tsdb", dir, "--from", unix(from), "--to", unix(to), "--slo", good,
		"--baseline", filepath.Join(outDir, reports.RunFile))
	require.Equal(t, 0, code, stderr)

	// The default set on the same data fails (availability is 99.0 %): exit 1. (A new --out:
	// the first evaluation's directory is not empty, and is refused.)
	stdout, stderr, code = execute(t, "evaluate", "--tsdb", dir, "--from", unix(from), "--to", unix(to), "--out", filepath.Join(t.TempDir(), "default"))
	require.Equal(t, exitcode.NoGo, code, stderr)
	require.Contains(t, stdout, "availability")
	require.Contains(t, stdout, "gate: FAIL")

	// The saved directory is untouched by read-only evaluation: no lock, no sandbox left behind.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.NotContains(t, e.Name(), "tmp_dbro_sandbox")
	}
}

func TestEvaluateBadInputAndUnreachable(t *testing.T) {
	closed := "http://" + testenv.RefusedAddr(t)
	now := time.Now()
	from, to := unix(now.Add(-time.Hour)), unix(now)

	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no source", []string{"--from", from, "--to", to}, exitcode.BadInput, "exactly one of"},
		{"both sources", []string{"--prometheus-url", closed, "--tsdb", "x", "--from", from, "--to", to}, exitcode.BadInput, "exactly one of"},
		{"bad time", []string{"--prometheus-url", closed, "--from", "yesterday", "--to", to}, exitcode.BadInput, "--from"},
		{"NaN time", []string{"--prometheus-url", closed, "--from", "NaN", "--to", to}, exitcode.BadInput, `--from "NaN"`},
		{"time out of range", []string{"--prometheus-url", closed, "--from", from, "--to", "1e300"}, exitcode.BadInput, `--to "1e300"`},
		{"to before from", []string{"--prometheus-url", closed, "--from", to, "--to", from}, exitcode.BadInput, "is not after"},
		{"bad window", []string{"--prometheus-url", closed, "--from", from, "--to", to, "--window", "plateau"}, exitcode.BadInput, "NAME=FROM,TO"},
		{"bad SLO file", []string{"--prometheus-url", closed, "--from", from, "--to", to, "--slo", "../../slo/testdata/bad-op.bad.yaml"}, exitcode.BadInput, "bad-op.bad.yaml:4: objectives[0] (a).op"},
		{"missing tsdb", []string{"--tsdb", filepath.Join(t.TempDir(), "nope"), "--from", from, "--to", to}, exitcode.BadInput, "--tsdb"},
		{"file URL", []string{"--prometheus-url", "file:///tmp/prometheus", "--from", from, "--to", to}, exitcode.BadInput, "want an http or https URL"},
		{"--out a device", []string{"--prometheus-url", closed, "--from", from, "--to", to, "--out", os.DevNull}, exitcode.BadInput, "--out: /dev/null is a device, not a directory"},
		{"--out not empty", []string{"--prometheus-url", closed, "--from", from, "--to", to, "--out", "testdata"}, exitcode.BadInput, "--out: testdata is not empty"},
		{"unreachable", []string{"--prometheus-url", closed, "--from", from, "--to", to}, exitcode.Infra, "unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := execute(t, append([]string{"evaluate"}, tc.args...)...)
			require.Equal(t, tc.code, code, stderr)
			require.Contains(t, stderr, tc.msg)
		})
	}
}
