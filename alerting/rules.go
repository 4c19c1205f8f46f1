package alerting

import (
	"context"
	"fmt"
	"maps"
	"slices"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// Rule is one alerting rule as the Prometheus that evaluates it reports it.
type Rule struct {
	Name     string
	Severity string
	// Labels are the rule's own labels (severity among them), which route its alerts.
	Labels map[string]string
	// Health is "ok", "err" (LastError says why) or "unknown" (never evaluated).
	Health    v1.RuleHealth
	LastError string
}

// Rules are a Prometheus's alerting rules by name. A name defined in more than one group
// keeps the least healthy definition: one broken copy is enough to miss a page.
type Rules map[string]Rule

// ReadRules lists the alerting rules the Prometheus evaluates (its /api/v1/rules).
func ReadRules(ctx context.Context, q Querier) (Rules, error) {
	res, err := q.Rules(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("list the alerting rules: %w", err)
	}
	out := Rules{}
	for _, g := range res.Groups {
		for _, r := range g.Rules {
			a, ok := r.(v1.AlertingRule)
			if !ok {
				continue
			}
			rule := Rule{Name: a.Name, Severity: string(a.Labels["severity"]), Health: a.Health, LastError: a.LastError, Labels: map[string]string{}}
			for k, v := range a.Labels {
				rule.Labels[string(k)] = string(v)
			}
			if old, ok := out[a.Name]; !ok || healthRank(rule.Health) > healthRank(old.Health) {
				out[a.Name] = rule
			}
		}
	}
	return out, nil
}

// healthRank orders health from best to worst.
func healthRank(h v1.RuleHealth) int {
	switch h {
	case v1.RuleHealthGood:
		return 0
	case v1.RuleHealthUnknown:
		return 1
	}
	return 2
}

// problem says why the rule cannot be trusted to have fired when it should, or "".
func (r Rule) problem() string {
	switch r.Health {
	case v1.RuleHealthGood:
		return ""
	case v1.RuleHealthUnknown:
		return fmt.Sprintf("alerting rule %s was never evaluated", r.Name)
	}
	return fmt.Sprintf("alerting rule %s fails to evaluate: %s", r.Name, r.LastError)
}

// sortedNames are the rules' names in order, for deterministic messages.
func sortedNames(r Rules) []string { return slices.Sorted(maps.Keys(r)) }
