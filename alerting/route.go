package alerting

import (
	"fmt"
	"slices"

	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/common/model"
)

// Routes is an Alertmanager configuration's routing tree, matched by Alertmanager's own code
// (package dispatch): which receivers an alert with given labels reaches.
type Routes struct {
	// Source names the configuration: a file, or builtin:NAME.
	Source string
	root   *dispatch.Route
}

// LoadRoutes reads an Alertmanager configuration as Alertmanager does (strict YAML, its own
// validation: every receiver a route names exists, matchers parse).
func LoadRoutes(source string, data []byte) (*Routes, error) {
	cfg, err := config.Load(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return &Routes{Source: source, root: dispatch.NewRoute(cfg.Route, nil)}, nil
}

// Receivers are the receivers an alert with these labels is sent to, in routing order, each
// once.
func (r *Routes) Receivers(alert string, labels map[string]string) []string {
	ls := model.LabelSet{model.AlertNameLabel: model.LabelValue(alert)}
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	var out []string
	for _, m := range r.root.Match(ls) {
		if !slices.Contains(out, m.RouteOpts.Receiver) {
			out = append(out, m.RouteOpts.Receiver)
		}
	}
	return out
}

// Routed are the receivers the configuration's routes send to, in tree order.
func (r *Routes) Routed() []string {
	var out []string
	r.root.Walk(func(rt *dispatch.Route) {
		if !slices.Contains(out, rt.RouteOpts.Receiver) {
			out = append(out, rt.RouteOpts.Receiver)
		}
	})
	return out
}
