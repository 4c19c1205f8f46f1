// Package slo loads SLO files and evaluates them against Prometheus data.
//
// An SLO file (YAML, strict) lists objectives: a PromQL query with $WINDOW, $START and $END
// placeholders, a criterion (op and value, a looser warning value, or a criterion relative to a
// baseline run such as "<=+10%"), a weight, whether it is key, what an empty result means and
// the minimum sample count. [Parse] rejects bad files with "file:line: field: message" before
// anything is queried.
//
// [Evaluate] runs one instant query per objective and window, at the window's end, over the
// whole window, through [Querier] (satisfied by client_golang's v1.API). Statuses follow the
// rule that missing data never passes: an empty result is NO_DATA (unless the objective says
// empty means zero), several series are ERROR, NaN and ±Inf are NO_DATA, too few samples are
// NO_DATA, a relative criterion without a baseline is NO_BASELINE, and a report with no result
// is ERROR. The score is Keptn's (PASS counts the weight, WARN half); the gate fails on any
// NO_DATA or ERROR and on any key objective that is neither PASS nor WARN.
//
// [Default] is the SLO set for DailyDoco Pro, embedded from default.yaml; docs/slo.md lists the
// metric names it expects.
package slo
