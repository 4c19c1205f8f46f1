package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dailydoco/ddp-verify/internal/testenv"
	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/slo/slotest"
)

func runEvaluate(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	root.SetArgs(append([]string{"evaluate"}, args...))
	err := root.ExecuteContext(context.Background())
	code := 0
	if err != nil {
		var ec *exitError
		require.True(t, errors.As(err, &ec), "want an exit code, got %v", err)
		code = ec.code
		if ec.err != nil {
			errOut.WriteString(ec.err.Error())
		}
	}
	return out.String(), errOut.String(), code
}

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
	stdout, stderr, code := runEvaluate(t, "--tsdb", dir, "--from", unix(from), "--to", to.Format(time.RFC3339Nano),
		"--slo", good, "--out", outDir, "--window", "plateau="+unix(from)+","+unix(to))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "realtime")
	require.Contains(t, stdout, "gate: PASS")
	rep, err := slo.ReadReport(filepath.Join(outDir, "slo.json"))
	require.NoError(t, err)
	require.Len(t, rep.Results, 2)
	require.InDelta(t, slotest.RealtimeWithin2/slotest.RealtimeVideos, *rep.Results[0].Value, 1e-9)

	// The default set on the same data fails (availability is 99.0 %): exit 1.
	stdout, stderr, code = runEvaluate(t, "--tsdb", dir, "--from", unix(from), "--to", unix(to), "--out", outDir)
	require.Equal(t, exitNoGo, code, stderr)
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
		{"no source", []string{"--from", from, "--to", to}, exitBadInput, "exactly one of"},
		{"both sources", []string{"--prometheus-url", closed, "--tsdb", "x", "--from", from, "--to", to}, exitBadInput, "exactly one of"},
		{"bad time", []string{"--prometheus-url", closed, "--from", "yesterday", "--to", to}, exitBadInput, "--from"},
		{"to before from", []string{"--prometheus-url", closed, "--from", to, "--to", from}, exitBadInput, "is not after"},
		{"bad window", []string{"--prometheus-url", closed, "--from", from, "--to", to, "--window", "plateau"}, exitBadInput, "NAME=FROM,TO"},
		{"bad SLO file", []string{"--prometheus-url", closed, "--from", from, "--to", to, "--slo", "../../slo/testdata/bad-op.bad.yaml"}, exitBadInput, "bad-op.bad.yaml:4: objectives[0] (a).op"},
		{"missing tsdb", []string{"--tsdb", filepath.Join(t.TempDir(), "nope"), "--from", from, "--to", to}, exitBadInput, "--tsdb"},
		{"unreachable", []string{"--prometheus-url", closed, "--from", from, "--to", to}, exitInfra, "unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runEvaluate(t, tc.args...)
			require.Equal(t, tc.code, code, stderr)
			require.Contains(t, stderr, tc.msg)
		})
	}
}
