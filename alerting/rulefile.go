package alerting

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// ScaleFor returns the rule file with every rule's `for` and `keep_firing_for` multiplied by
// f, the rest (comments included) as it was. f = 1 returns rules unchanged. A `for` that
// scales below a millisecond becomes 1ms rather than 0, which would fire at once.
func ScaleFor(rules []byte, f float64) ([]byte, error) {
	if f == 1 {
		return rules, nil
	}
	if !(f > 0) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("scale the alert rules' for clauses: factor %v must be a positive number", f)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(rules, &doc); err != nil {
		return nil, fmt.Errorf("scale the alert rules' for clauses: %w", err)
	}
	groups := mapValue(root(&doc), "groups")
	if groups == nil || groups.Kind != yaml.SequenceNode {
		return nil, errors.New("scale the alert rules' for clauses: the rule file has no groups list")
	}
	for _, g := range groups.Content {
		rs := mapValue(g, "rules")
		if rs == nil {
			continue
		}
		for _, r := range rs.Content {
			for _, key := range []string{"for", "keep_firing_for"} {
				if err := scaleDuration(mapValue(r, key), f); err != nil {
					return nil, fmt.Errorf("scale the alert rules' for clauses: line %d: %s: %w", r.Line, key, err)
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("scale the alert rules' for clauses: %w", err)
	}
	return buf.Bytes(), enc.Close()
}

// scaleDuration rewrites a Prometheus duration scalar in place; nil is left alone.
func scaleDuration(n *yaml.Node, f float64) error {
	if n == nil {
		return nil
	}
	d, err := model.ParseDuration(n.Value)
	if err != nil {
		return err
	}
	if d == 0 {
		return nil
	}
	x := math.Round(float64(d) * f)
	if x > math.MaxInt64/2 {
		return fmt.Errorf("%s scaled by %v overflows", n.Value, f)
	}
	scaled := time.Duration(x).Round(time.Millisecond)
	n.Value = model.Duration(max(scaled, time.Millisecond)).String()
	return nil
}

// root is the document's top node.
func root(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return doc
}

// mapValue is the value of key in a mapping node, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// AlertNames lists the alerting rules a rule file defines, in file order.
func AlertNames(rules []byte) ([]string, error) {
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(rules, &f); err != nil {
		return nil, fmt.Errorf("read the alert rules: %w", err)
	}
	var out []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r.Alert)
			}
		}
	}
	return out, nil
}
