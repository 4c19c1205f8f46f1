package slo_test

import (
	"context"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/verdict"
)

func TestBadFilesRejectedWithFileLineField(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string // each must appear in the error
	}{
		{"unknown-field.bad.yaml", []string{"testdata/unknown-field.bad.yaml:6: objectives[0].treshold: unknown field"}},
		{"wrong-types.bad.yaml", []string{
			`testdata/wrong-types.bad.yaml:5: objectives[0].value: want a number, got the string "high"`,
			`testdata/wrong-types.bad.yaml:6: objectives[0].windows: want a sequence, got the string "run"`,
			"testdata/wrong-types.bad.yaml:7: objectives[0].key: want true or false, got a sequence",
		}},
		{"not-a-number.bad.yaml", []string{
			"not-a-number.bad.yaml:7: objectives[0].value: want a finite number, got .nan",
			"not-a-number.bad.yaml:8: objectives[0].warning: want a finite number, got .inf",
			"not-a-number.bad.yaml:9: objectives[0].weight: want a finite number, got .nan",
		}},
		{"huge-relative.bad.yaml", []string{`huge-relative.bad.yaml:6: objectives[0] (b).relative: "<=+1000`, "the percentage is out of range"}},
		{"bad-op.bad.yaml", []string{`testdata/bad-op.bad.yaml:4: objectives[0] (a).op: "=<" is not one of <, <=, >, >=, ==`}},
		{"bad-promql.bad.yaml", []string{"testdata/bad-promql.bad.yaml:7: objectives[1] (b).query: invalid PromQL"}},
		{"range-vector.bad.yaml", []string{"testdata/range-vector.bad.yaml:3: objectives[0] (a).query: PromQL evaluates to a range vector"}},
		{"empty.bad.yaml", []string{"testdata/empty.bad.yaml:1: objectives: the file has no objectives"}},
		{"no-objectives.bad.yaml", []string{"testdata/no-objectives.bad.yaml:2: objectives: no objectives"}},
		{"many.bad.yaml", []string{
			"many.bad.yaml:1: total_score: need 0 <= warning <= pass <= 100",
			"many.bad.yaml:7: objectives[0] (a).warning: 0.5 is stricter than value 1",
			"many.bad.yaml:8: objectives[0] (a).weight: must be a positive number",
			`many.bad.yaml:9: objectives[0] (a).empty_means: "nothing" is not no_data or zero`,
			`many.bad.yaml:10: objectives[0] (a).relative: "10%": want an operator`,
			`many.bad.yaml:11: objectives[0] (a).windows[0]: "[run" is not a window name or pattern`,
			`many.bad.yaml:12: objectives[1] (a).id: duplicate id "a" (first at line 3)`,
			"many.bad.yaml:12: objectives[1] (a).op: an objective needs op and value, or relative",
			"many.bad.yaml:15: objectives[1] (a).min_samples.query: required",
			"many.bad.yaml:16: objectives[1] (a).min_samples.value: must be positive",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := slo.Load("testdata/" + tc.file)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// panicQuerier fails the test if anything is queried.
type panicQuerier struct{ t *testing.T }

func (p panicQuerier) Query(context.Context, string, time.Time, ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	p.t.Fatal("a query was made")
	return nil, nil, nil, nil
}

func TestNothingQueriedWhenFileIsBad(t *testing.T) {
	spec, err := slo.Load("testdata/bad-promql.bad.yaml")
	require.Error(t, err)
	require.Nil(t, spec, "a bad file yields no spec, so there is nothing to evaluate")
	rep := slo.Evaluate(context.Background(), panicQuerier{t}, spec, windows(testBase()), slo.Options{})
	require.Equal(t, verdict.Error, rep.Gate)
}

func TestDefaultSetParsesAndCoversTheIssue(t *testing.T) {
	spec, err := slo.Default()
	require.NoError(t, err)
	ids := map[string]slo.Objective{}
	for _, o := range spec.Objectives {
		ids[o.ID] = o
	}
	for _, id := range []string{"api_latency_p95", "api_latency_p95_client", "error_rate", "availability",
		"video_processing_p95_realtime", "throughput_videos_per_hour", "cost_per_video", "monthly_cost_projection",
		"dashboard_load_p95", "videos_lost", "recovery_time", "request_count_crosscheck"} {
		require.Contains(t, ids, id)
	}
	require.Contains(t, ids["video_processing_p95_realtime"].Query, `le=~"2(\\.0)?"`)
	require.Equal(t, []string{"plateau"}, ids["throughput_videos_per_hour"].Windows)
	require.Equal(t, []string{"recovery-*"}, ids["recovery_time"].Windows)
}

func TestSubstitute(t *testing.T) {
	w := slo.Window{Start: time.UnixMilli(1_700_000_000_000), End: time.UnixMilli(1_700_000_090_500)}
	require.Equal(t, "x[90500ms] 1700000000.000 1700000090.500", slo.Substitute("x[$WINDOW] $START $END", w))
	w.End = w.Start.Add(time.Hour)
	require.Equal(t, "x[3600s]", slo.Substitute("x[$WINDOW]", w))
}
