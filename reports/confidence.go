package reports

import (
	"fmt"
	"time"

	"github.com/dailydoco/ddp-verify/verdict"
)

// intervalText is an objective's 95 % interval as reports show it beside the value:
// "95 % CI 90.6 %–98.3 %", "single observation", "exact" (counted, not sampled), or "" when
// the objective declares none.
func intervalText(s verdict.Objective) string {
	iv := s.Interval
	switch {
	case iv == nil:
		return ""
	case iv.Method == "single":
		return "single observation"
	case iv.Method == "exact":
		return "exact count"
	case iv.Low == nil || iv.High == nil:
		return ""
	}
	return "95 % CI " + formatValue(*iv.Low, s.Unit) + "–" + formatValue(*iv.High, s.Unit)
}

// lowConfidenceText says why an objective's status rests on thin evidence, and how long its
// window would need to be to decide; "" when it does not.
func lowConfidenceText(s verdict.Objective) string {
	if !s.LowConfidence {
		return ""
	}
	msg := "low confidence: the 95 % interval holds values on both sides of the threshold"
	if s.ExtendToSeconds != nil {
		msg += fmt.Sprintf("; %s would need about %s to decide", s.Window, (time.Duration(*s.ExtendToSeconds) * time.Second).Round(time.Second))
	}
	return msg
}

// lowConfidence lists the objectives whose status rests on thin evidence.
func lowConfidence(slos []verdict.Objective) []verdict.Objective {
	var out []verdict.Objective
	for _, s := range slos {
		if s.LowConfidence {
			out = append(out, s)
		}
	}
	return out
}
