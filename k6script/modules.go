package k6script

import (
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/dailydoco/ddp-verify/load"
	"github.com/dop251/goja"
)

// modules are the importable modules and the names each exports.
var modules = map[string]map[string]bool{
	"k6":           set("check", "group", "sleep", "fail"),
	"k6/http":      set("get", "post", "put", "patch", "del", "head", "options", "request", "batch", "cookieJar"),
	"k6/encoding":  set("b64encode", "b64decode"),
	"k6/execution": set("vu", "scenario", "instance", "test"),
	"k6/metrics":   set("Counter", "Gauge", "Rate", "Trend"),
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func unsupportedModule(name string) error {
	return fmt.Errorf("module %q is not supported (docs/scripts.md lists what is)", name)
}

// passthrough are names that esbuild's interop helpers and JavaScript itself look up on any
// object; on a module they read as undefined.
var passthrough = set("__esModule", "default", "then", "toJSON")

// newModule returns a module: an object with funcs (which must be exactly the names listed in
// modules) whose prototype throws "MODULE.NAME is not supported" for any other name. esbuild's
// namespace objects (import * as k6) inherit from the module's prototype, so they throw too.
func (r *runtime) newModule(name string, funcs map[string]any) goja.Value {
	m := r.guarded(name)
	for k, f := range funcs {
		if !modules[name][k] {
			panic(fmt.Sprintf("k6script: %s.%s is not listed in modules", name, k))
		}
		_ = m.Set(k, f)
	}
	return m
}

// guarded returns an empty object whose prototype is a proxy that throws "WHAT.NAME is not
// supported" when a name the object does not have is read (Object.prototype's members and
// passthrough names excepted).
func (r *runtime) guarded(what string) *goja.Object {
	guard := r.rt.NewProxy(r.rt.NewObject(), &goja.ProxyTrapConfig{
		Get: func(target *goja.Object, key string, _ goja.Value) goja.Value {
			if v := target.Get(key); v != nil || passthrough[key] {
				return v
			}
			r.throwf("%s.%s is not supported (docs/scripts.md lists what is)", what, key)
			return nil
		},
	})
	o := r.rt.NewObject()
	if err := o.SetPrototype(r.rt.ToValue(guard).ToObject(r.rt)); err != nil {
		panic(err)
	}
	return o
}

// needHost returns the host of the running call, throwing in the init context (as k6 does).
func (r *runtime) needHost(fn string) host {
	if r.h == nil {
		r.throwf("%s is not supported in the init context (call it from a function)", fn)
	}
	return r.h
}

// k6Module is the "k6" module: check, group, sleep, fail.
func (r *runtime) k6Module() goja.Value {
	return r.newModule("k6", map[string]any{
		"check": r.check,
		"group": r.group,
		"sleep": r.sleep,
		"fail":  r.fail,
	})
}

// check runs each named check of sets against val, records it, and returns whether all passed.
func (r *runtime) check(val goja.Value, sets *goja.Object, tags goja.Value) bool {
	h := r.needHost("k6.check")
	own := r.readTags("k6.check", tags)
	if sets == nil {
		r.throwf("k6.check: want an object of named checks")
	}
	all := true
	for _, name := range sets.Keys() {
		c := sets.Get(name)
		ok := c.ToBoolean()
		if fn, isFn := goja.AssertFunction(c); isFn {
			res, err := fn(goja.Undefined(), val)
			if err != nil {
				panic(err)
			}
			ok = res.ToBoolean()
		}
		h.check(name, ok, r.metricTags(own))
		all = all && ok
	}
	return all
}

// group runs fn, records its duration as group_duration{step: name} and returns its value.
func (r *runtime) group(name string, fn goja.Callable) goja.Value {
	h := r.needHost("k6.group")
	if fn == nil {
		r.throwf("k6.group(%q): want a function", name)
	}
	start := h.now()
	outer := r.groupPath
	r.groupPath = outer + "::" + name // k6's group tag of what runs inside: "::outer::inner"
	v, err := fn(goja.Undefined())
	r.groupPath = outer
	h.trend("group_duration", name, h.now().Sub(start))
	if err != nil {
		panic(err)
	}
	return v
}

// sleep waits seconds (think time) and throws when the iteration is interrupted.
func (r *runtime) sleep(seconds float64) {
	h := r.needHost("k6.sleep")
	if err := h.sleep(r.ctx, time.Duration(seconds*float64(time.Second))); err != nil {
		r.throwf("k6.sleep: %v", err)
	}
}

// fail throws msg, failing the iteration.
func (r *runtime) fail(msg goja.Value) {
	text := "test aborted"
	if msg != nil && !goja.IsUndefined(msg) {
		text = msg.String()
	}
	r.throwf("%s", text)
}

// encodingModule is "k6/encoding": base64 in k6's four alphabets.
func (r *runtime) encodingModule() goja.Value {
	return r.newModule("k6/encoding", map[string]any{
		"b64encode": r.b64encode,
		"b64decode": r.b64decode,
	})
}

// base64Encoding is k6's encoding argument: "std" (the default), "rawstd", "url", "rawurl".
func (r *runtime) base64Encoding(fn string, v goja.Value) *base64.Encoding {
	name := "std"
	if v != nil && !goja.IsUndefined(v) {
		name = v.String()
	}
	enc, ok := map[string]*base64.Encoding{"std": base64.StdEncoding, "rawstd": base64.RawStdEncoding,
		"url": base64.URLEncoding, "rawurl": base64.RawURLEncoding}[name]
	if !ok {
		r.throwf("k6/encoding.%s: encoding %q is not supported (std, rawstd, url or rawurl)", fn, name)
	}
	return enc
}

// bytesOf is a string's UTF-8 bytes or an ArrayBuffer's.
func (r *runtime) bytesOf(fn string, v goja.Value) []byte {
	switch x := v.Export().(type) {
	case string:
		return []byte(x)
	case goja.ArrayBuffer:
		return x.Bytes()
	}
	r.throwf("k6/encoding.%s: want a string or an ArrayBuffer, got %s", fn, v.String())
	return nil
}

// b64encode(input, encoding) is the base64 text of a string's UTF-8 bytes or an ArrayBuffer.
func (r *runtime) b64encode(input, encoding goja.Value) string {
	return r.base64Encoding("b64encode", encoding).EncodeToString(r.bytesOf("b64encode", input))
}

// b64decode(input, encoding, format) is an ArrayBuffer, or a string with format "s".
func (r *runtime) b64decode(input, encoding, format goja.Value) goja.Value {
	b, err := r.base64Encoding("b64decode", encoding).DecodeString(input.String())
	if err != nil {
		r.throwf("k6/encoding.b64decode: %v", err)
	}
	switch {
	case format == nil || goja.IsUndefined(format):
		return r.rt.ToValue(r.rt.NewArrayBuffer(b))
	case format.String() == "s":
		return r.rt.ToValue(string(b))
	}
	r.throwf("k6/encoding.b64decode: format %q is not supported (absent: an ArrayBuffer; \"s\": a string)", format.String())
	return nil
}

// executionModule is "k6/execution": the running VU's, scenario's and instance's state, read
// when the script reads it, and test.abort().
func (r *runtime) executionModule() goja.Value {
	test := r.guarded("k6/execution.test")
	_ = test.Set("abort", r.abortTest)
	return r.newModule("k6/execution", map[string]any{
		"vu":       r.rt.NewDynamicObject(&execInfo{r: r, what: "vu"}),
		"scenario": r.rt.NewDynamicObject(&execInfo{r: r, what: "scenario"}),
		"instance": r.rt.NewDynamicObject(&execInfo{r: r, what: "instance"}),
		"test":     test,
	})
}

// abortTest is test.abort([reason]): the run stops, the running iterations are interrupted,
// and this call ends its iteration.
func (r *runtime) abortTest(reason goja.Value) {
	const fn = "k6/execution.test.abort"
	vu := r.needHost(fn).engineVU()
	msg := "test aborted"
	if reason != nil && !goja.IsUndefined(reason) {
		msg = "test aborted: " + reason.String()
	}
	if vu == nil {
		r.throwf("%s in setup() or teardown(): %s", fn, msg) // k6 aborts the run there too: the call fails
	}
	vu.AbortTest(msg)
	// The engine interrupts the running iterations, this one included: wait for it, so that
	// this iteration counts as interrupted as theirs do.
	select {
	case <-r.ctx.Done():
	case <-time.After(time.Second):
	}
	r.throwf("%s", msg)
}

// execInfo is exec.vu or exec.scenario: each field is read from the VU running the call.
type execInfo struct {
	r    *runtime
	what string // "vu" or "scenario"
}

// execFields are the supported fields of exec.vu and exec.scenario.
var execFields = map[string][]string{
	"vu":       {"idInTest", "idInInstance", "iterationInScenario", "iterationInInstance", "tags"},
	"scenario": {"name", "executor", "startTime", "iterationInInstance", "iterationInTest"},
	"instance": {"vusActive", "vusInitialized", "iterationsCompleted", "iterationsInterrupted", "currentTestRunDuration"},
}

func (e *execInfo) Get(key string) goja.Value {
	if passthrough[key] {
		return nil
	}
	name := "k6/execution." + e.what + "." + key
	if !slices.Contains(execFields[e.what], key) {
		e.r.throwf("%s is not supported (docs/scripts.md lists what is)", name)
	}
	vu := e.r.needHost(name).engineVU()
	if vu == nil {
		e.r.throwf("%s is not supported in setup() and teardown()", name)
	}
	if e.what == "vu" && key == "tags" {
		return e.r.rt.NewDynamicObject(&vuTags{r: e.r, scenario: vu.Scenario()})
	}
	return e.r.rt.ToValue(execValue(vu, e.what+"."+key))
}

// execValue is one k6/execution field of vu. This engine is k6's one instance: the "InTest"
// and "InInstance" numbers are the same.
func execValue(vu *load.VU, field string) any {
	switch field {
	case "vu.idInTest", "vu.idInInstance":
		return vu.ID()
	case "vu.iterationInScenario", "vu.iterationInInstance":
		return vu.Iteration()
	case "scenario.name":
		return vu.Scenario()
	case "scenario.executor":
		return vu.Executor()
	case "scenario.startTime":
		return vu.ScenarioStart().UnixMilli()
	case "scenario.iterationInInstance", "scenario.iterationInTest":
		return vu.ScenarioIteration()
	}
	in := vu.Instance()
	switch field {
	case "instance.vusActive":
		return in.VUsActive
	case "instance.vusInitialized":
		return in.VUsInitialized
	case "instance.iterationsCompleted":
		return in.IterationsCompleted
	case "instance.iterationsInterrupted":
		return in.IterationsInterrupted
	}
	return float64(in.Elapsed) / float64(time.Millisecond) // instance.currentTestRunDuration
}

func (e *execInfo) Set(string, goja.Value) bool { return false }
func (e *execInfo) Has(key string) bool         { return slices.Contains(execFields[e.what], key) }
func (e *execInfo) Delete(string) bool          { return false }
func (e *execInfo) Keys() []string              { return slices.Clone(execFields[e.what]) }
