// Package alerts holds the deployment plan's alert rules as a Prometheus rule file
// (rules.yaml): node CPU, memory and disk, node and zone readiness, the API's error rate and
// the video processing time, with a severity that routes each alert (critical pages, warning
// goes to Slack, info to email). The rules query node_exporter's and kube-state-metrics'
// metric names, which the reference platform exports as well.
package alerts

import _ "embed"

// Rules is the rule file, as `promtool check rules` and Prometheus's rule manager read it.
//
//go:embed rules.yaml
var Rules []byte

// Routing is the plan's Alertmanager configuration: critical alerts page (PagerDuty, and the
// team's Slack channel), warnings go to Slack, info to email.
//
//go:embed alertmanager.yaml
var Routing []byte

// PageReceiver is the receiver that pages the on-call in Routing.
const PageReceiver = "pagerduty"

// Severities are the severity labels a rule may carry, most urgent first.
var Severities = []string{"critical", "warning", "info"}
