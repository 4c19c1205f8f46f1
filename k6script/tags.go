package k6script

import (
	"maps"
	"slices"

	"github.com/dop251/goja"
)

// engineTags are the tags the engine sets itself; a script may not set them.
var engineTags = []string{"scenario", "step", "method", "status"}

// readTags reads a tags object (k6's request, check or metric tags): string values, none of
// the engine's own names.
func (r *runtime) readTags(fn string, v goja.Value) map[string]string {
	o, ok := v.(*goja.Object)
	if !ok {
		return nil
	}
	tags := map[string]string{}
	for _, k := range o.Keys() {
		if slices.Contains(engineTags, k) {
			r.throwf("%s: the tag %s is the engine's own", fn, k)
		}
		tags[k] = o.Get(k).String()
	}
	return tags
}

// metricTags are the tags of what the running call records, k6's order of precedence: the
// script's options.tags, the scenario's tags, the VU's (exec.vu.tags), the group the call is
// in, then the call's own.
func (r *runtime) metricTags(own map[string]string) map[string]string {
	if len(r.s.tags) == 0 && len(r.scenarioTags) == 0 && len(r.vuTags) == 0 && r.groupPath == "" && len(own) == 0 {
		return nil
	}
	tags := maps.Clone(r.s.tags)
	if tags == nil {
		tags = map[string]string{}
	}
	maps.Copy(tags, r.scenarioTags)
	maps.Copy(tags, r.vuTags)
	if r.groupPath != "" {
		tags["group"] = r.groupPath
	}
	maps.Copy(tags, own)
	return tags
}

// vuTags is exec.vu.tags: the VU's own tags, set by the script for what the VU records from
// then on (as in k6), with the scenario's name beside them (read only, as the engine's tags
// are).
type vuTags struct {
	r        *runtime
	scenario string
}

func (t *vuTags) Get(key string) goja.Value {
	if key == "scenario" {
		return t.r.rt.ToValue(t.scenario)
	}
	if v, ok := t.r.vuTags[key]; ok {
		return t.r.rt.ToValue(v)
	}
	return nil
}

func (t *vuTags) Set(key string, val goja.Value) bool {
	if slices.Contains(engineTags, key) {
		t.r.throwf("k6/execution.vu.tags: the tag %s is the engine's own", key)
	}
	if t.r.vuTags == nil {
		t.r.vuTags = map[string]string{}
	}
	t.r.vuTags[key] = val.String()
	return true
}

func (t *vuTags) Has(key string) bool {
	_, ok := t.r.vuTags[key]
	return ok || key == "scenario"
}

func (t *vuTags) Delete(key string) bool {
	delete(t.r.vuTags, key)
	return true
}

func (t *vuTags) Keys() []string {
	return append([]string{"scenario"}, slices.Sorted(maps.Keys(t.r.vuTags))...)
}
