package profile

import (
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dailydoco/ddp-verify/internal/yamlfile"
	"github.com/dailydoco/ddp-verify/load"
)

// FailureBackoff is a scenario's failureBackoff: how its users back off when their iterations
// fail, as [load.FailureBackoff] describes (after the k-th failed iteration in a row, the next
// starts no sooner than min·2^(k−1), at most max, after the failed one started). It is written
//
//	failureBackoff: {min: 1s, max: 30s}   # the default when the field is absent
//	failureBackoff: 0                     # off: users start their next iteration at once
//
// A missing min is 1s, a missing max 30s (or min, if that is longer). Both are client
// behaviour, so --time-scale leaves them unchanged, as it leaves think times.
type FailureBackoff struct {
	Min Duration `yaml:"min,omitempty"`
	Max Duration `yaml:"max,omitempty"`
	// Off is set by `failureBackoff: 0`.
	Off bool `yaml:"-"`
}

// maxFailureBackoff bounds max: a user parked longer than this is no longer backing off, it
// has left, and a load test should say so with its executor.
const maxFailureBackoff = time.Hour

// UnmarshalYAML reads 0 (off) or a {min, max} mapping, refusing unknown keys as the rest of
// the profile does.
func (b *FailureBackoff) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if v := strings.TrimSpace(n.Value); v == "0" || v == "0s" {
			*b = FailureBackoff{Off: true}
			return nil
		}
	case yaml.MappingNode:
		var errs []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Value != "min" && k.Value != "max" {
				errs = append(errs, yamlfile.ValueError(k, "unknown field %q (failureBackoff has min and max)", k.Value).(*yaml.TypeError).Errors...)
			}
		}
		type plain FailureBackoff
		var p plain
		if err := n.Decode(&p); err != nil {
			te, ok := err.(*yaml.TypeError)
			if !ok {
				return err
			}
			errs = append(errs, te.Errors...)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			// An explicit 0 would read as "absent" (the default); say how to turn it off.
			if k, val := n.Content[i].Value, n.Content[i+1]; (k == "min" && p.Min.Duration == 0 || k == "max" && p.Max.Duration == 0) && val.Kind == yaml.ScalarNode {
				if d, err := time.ParseDuration(strings.TrimSpace(val.Value)); err == nil && d == 0 {
					errs = append(errs, yamlfile.ValueError(val, "must be positive; failureBackoff: 0 turns the backoff off").(*yaml.TypeError).Errors...)
				}
			}
		}
		if len(errs) > 0 {
			return &yaml.TypeError{Errors: errs}
		}
		*b = FailureBackoff(p)
		return nil
	}
	return yamlfile.ValueError(n, "want a mapping such as {min: 1s, max: 30s}, or 0 to turn the backoff off")
}

// MarshalYAML writes b back as it is read: 0 when off, else the mapping.
func (b FailureBackoff) MarshalYAML() (any, error) {
	if b.Off {
		return 0, nil
	}
	type plain FailureBackoff
	return plain(b), nil
}

// engine returns the engine's backoff for a scenario whose failureBackoff is b (nil: absent).
func (b *FailureBackoff) engine() load.FailureBackoff {
	switch {
	case b == nil:
		return load.DefaultFailureBackoff
	case b.Off:
		return load.FailureBackoff{}
	}
	lb := load.FailureBackoff{Min: b.Min.Duration, Max: b.Max.Duration}
	if lb.Min == 0 {
		lb.Min = load.DefaultFailureBackoff.Min
	}
	if lb.Max == 0 {
		lb.Max = max(load.DefaultFailureBackoff.Max, lb.Min)
	}
	return lb
}

// failureBackoff checks scenario at's failureBackoff.
func (v *validator) failureBackoff(at string, b *FailureBackoff) {
	if b == nil || b.Off {
		return
	}
	at += ".failureBackoff"
	if b.Min.Duration < 0 {
		v.Fail(at+".min", "must be positive (got %s); failureBackoff: 0 turns the backoff off", b.Min)
	}
	if b.Max.Duration < 0 {
		v.Fail(at+".max", "must be positive (got %s); failureBackoff: 0 turns the backoff off", b.Max)
	}
	e := b.engine()
	if b.Min.Duration >= 0 && b.Max.Duration >= 0 && e.Max < e.Min {
		v.Fail(at+".max", "%s is shorter than min %s", e.Max, e.Min)
	}
	if e.Max > maxFailureBackoff {
		v.Fail(at+".max", "%s is longer than %s: a user that waits that long has left; end the scenario instead", e.Max, maxFailureBackoff)
	}
}
