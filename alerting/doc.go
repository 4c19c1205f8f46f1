// Package alerting judges a run's alerts: whether each fault raised the alerts its profile
// expects, in time, and let them resolve after its recovery, and whether any critical alert
// fired that no fault explains (the on-call paged for nothing, in steady state or during a
// fault that should not page). It reads what Prometheus knows: the ALERTS series that its rule
// manager wrote ([ReadSpans]) and its rules with their health ([ReadRules]), so that an alert
// that could not fire (no such rule, a rule that fails to evaluate, no critical rule at all)
// is missing evidence, never a pass. [Judge] turns this into objectives in run.json's record
// ([verdict.Objective]) that the run's gate counts as key objectives.
//
// [Routes] sends an alert to its receivers with Alertmanager's own routing code (package
// dispatch), as the run's Alertmanager configuration says.
//
// [ScaleFor] rewrites a rule file's `for` clauses for a profile that compresses the launch's
// timeline (docs/profiles.md#alerts).
package alerting
