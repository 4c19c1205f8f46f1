package k6script

import (
	"fmt"

	"github.com/dop251/goja"

	"github.com/dailydoco/ddp-verify/load"
)

// metricsModule is "k6/metrics": Counter, Gauge, Rate and Trend, declared in the init code
// and recorded by the engine as custom metrics (load.VU.AddMetric).
func (r *runtime) metricsModule() goja.Value {
	return r.newModule("k6/metrics", map[string]any{
		"Counter": r.metricConstructor("Counter", load.CustomCounter),
		"Gauge":   r.metricConstructor("Gauge", load.CustomGauge),
		"Rate":    r.metricConstructor("Rate", load.CustomRate),
		"Trend":   r.metricConstructor("Trend", load.CustomTrend),
	})
}

// metricConstructor is new Counter(name, isTime) and its kin: only in the init code (as in
// k6), with k6's name rule; the same name declared again must be the same kind.
func (r *runtime) metricConstructor(class string, kind load.CustomKind) func(goja.ConstructorCall) *goja.Object {
	fn := "k6/metrics." + class
	return func(call goja.ConstructorCall) *goja.Object {
		if !r.inInit {
			r.throwf("%s: metrics must be declared in the init context (the script's top level)", fn)
		}
		m, err := load.NewCustomMetric(call.Argument(0).String(), kind, call.Argument(1).ToBoolean())
		if err != nil {
			r.throwf("%s: %v", fn, err)
		}
		if err := r.s.declare(m); err != nil {
			r.throwf("%s: %v", fn, err)
		}
		o := call.This
		_ = o.Set("name", m.Name)
		_ = o.Set("add", func(c goja.FunctionCall) goja.Value {
			r.addMetric(fn+".add", m, c.Argument(0), c.Argument(1))
			return goja.Undefined()
		})
		return nil
	}
}

// addMetric records one value: during the load in the engine; in setup and teardown it is
// logged, not counted (as their checks).
func (r *runtime) addMetric(fn string, m load.CustomMetric, value, tags goja.Value) {
	h := r.needHost(fn)
	v := r.metricValue(fn, m, value)
	t := r.metricTags(r.readTags(fn, tags))
	vu := h.engineVU()
	if vu == nil {
		r.log.Debug("metric outside the load (not counted)", "metric", m.Name, "value", v)
		return
	}
	if err := vu.AddMetric(m, v, t); err != nil {
		r.throwf("%s: %v", fn, err)
	}
}

// metricValue reads the value k6 takes: a number or a boolean (1 or 0); a Rate takes any
// value, counting the truthy ones.
func (r *runtime) metricValue(fn string, m load.CustomMetric, v goja.Value) float64 {
	if m.Kind == load.CustomRate {
		if v.ToBoolean() {
			return 1
		}
		return 0
	}
	switch x := v.Export().(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	case bool:
		if x {
			return 1
		}
		return 0
	}
	r.throwf("%s: want a number, got %s", fn, v)
	return 0
}

// declare records a custom metric the init code declared; the same name declared again (by
// another VU's init code, or twice) must be the same metric.
func (s *Script) declare(m load.CustomMetric) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metrics == nil {
		s.metrics = map[string]load.CustomMetric{}
	}
	if old, ok := s.metrics[m.Name]; ok && old != m {
		return fmt.Errorf("metric %q is already declared as a %s (time: %v)", m.Name, old.Kind, old.IsTime)
	}
	s.metrics[m.Name] = m
	return nil
}

// customMetric returns the declared custom metric name.
func (s *Script) customMetric(name string) (load.CustomMetric, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.metrics[name]
	return m, ok
}
