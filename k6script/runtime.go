package k6script

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/dop251/goja"
)

// runtime is one goja runtime with the script's init code run in it: a VU's, the options
// probe's, or setup's and teardown's. It is used by one goroutine at a time.
type runtime struct {
	s       *Script
	rt      *goja.Runtime
	exports *goja.Object
	inInit  bool // open() is only allowed while the init code runs

	// What the running call works for; h is nil in the init context.
	ctx context.Context
	h   host
	log *slog.Logger

	data      goja.Value // the setup data, parsed once per runtime
	dataReady bool

	// Tags of what the VU records besides the script's (see metricTags).
	scenarioTags map[string]string
	vuTags       map[string]string // exec.vu.tags
	groupPath    string            // "::outer::inner" inside groups
}

// newRuntime creates a runtime, sets the globals (__VU = vuID, __ENV the script's env with
// extraEnv over it) and runs the init code. log is where console output of the init code goes
// (nil: the script's logger).
func (s *Script) newRuntime(vuID int64, log *slog.Logger, extraEnv map[string]string) (*runtime, error) {
	if log == nil {
		log = s.log
	}
	r := &runtime{s: s, rt: goja.New(), inInit: true, ctx: context.Background(), log: log}
	if err := r.setGlobals(vuID, extraEnv); err != nil {
		return nil, fmt.Errorf("k6 script %s: %w", s.path, err)
	}
	if err := r.runInit(); err != nil {
		return nil, err
	}
	r.inInit = false
	return r, nil
}

func (r *runtime) setGlobals(vuID int64, extraEnv map[string]string) error {
	env := r.rt.NewObject()
	for _, m := range []map[string]string{r.s.env, extraEnv} {
		for k, v := range m {
			if err := env.Set(k, v); err != nil {
				return err
			}
		}
	}
	g := r.rt.GlobalObject()
	for name, v := range map[string]any{
		"__VU": vuID, "__ITER": 0, "__ENV": env,
		"console": r.console(), "open": r.open,
	} {
		if err := g.Set(name, v); err != nil {
			return err
		}
	}
	return nil
}

// runInit runs the compiled wrapper and calls it with fresh module variables.
func (r *runtime) runInit() error {
	fnv, err := r.rt.RunProgram(r.s.program)
	if err != nil {
		return r.scriptError("init", err)
	}
	fn, _ := goja.AssertFunction(fnv)
	module := r.rt.NewObject()
	r.exports = r.rt.NewObject()
	if err := module.Set("exports", r.exports); err != nil {
		return err
	}
	abs, _ := filepath.Abs(r.s.path)
	if _, err := fn(goja.Undefined(), r.exports, r.rt.ToValue(r.require), module,
		r.rt.ToValue(abs), r.rt.ToValue(filepath.Dir(abs))); err != nil {
		return r.scriptError("init", err)
	}
	// esbuild's CommonJS assigns module.exports.
	if o, ok := module.Get("exports").(*goja.Object); ok {
		r.exports = o
	}
	return nil
}

// scriptError names the file and the phase; JS exceptions keep their stack (original lines,
// through the source map).
func (r *runtime) scriptError(phase string, err error) error {
	if ex, ok := err.(*goja.Exception); ok {
		return fmt.Errorf("k6 script %s: %s: %s", r.s.path, phase, strings.TrimSpace(ex.String()))
	}
	return fmt.Errorf("k6 script %s: %s: %w", r.s.path, phase, err)
}

// require returns a supported module; anything else throws.
func (r *runtime) require(name string) goja.Value {
	switch name {
	case "k6":
		return r.k6Module()
	case "k6/http":
		return r.httpModule()
	case "k6/encoding":
		return r.encodingModule()
	case "k6/execution":
		return r.executionModule()
	case "k6/metrics":
		return r.metricsModule()
	}
	if ext, ok := r.s.extension(name); ok {
		return r.extensionModule(ext)
	}
	r.throwf("%v", unsupportedModule(name))
	return nil
}

// throwf throws a JavaScript Error with the formatted message.
func (r *runtime) throwf(format string, args ...any) {
	e, err := r.rt.New(r.rt.Get("Error"), r.rt.ToValue(fmt.Sprintf(format, args...)))
	if err != nil {
		panic(err)
	}
	panic(e)
}

// console maps console.log/info/debug/warn/error to the runtime's logger.
func (r *runtime) console() *goja.Object {
	c := r.rt.NewObject()
	levels := map[string]slog.Level{"log": slog.LevelInfo, "info": slog.LevelInfo, "debug": slog.LevelDebug,
		"warn": slog.LevelWarn, "error": slog.LevelError}
	for name, lvl := range levels {
		_ = c.Set(name, func(call goja.FunctionCall) goja.Value {
			r.log.Log(r.ctx, lvl, r.format(call.Arguments), "source", "console")
			return goja.Undefined()
		})
	}
	return c
}

// format joins console arguments with spaces, objects as JSON (as k6 prints them).
func (r *runtime) format(args []goja.Value) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.String()
		if o, ok := a.(*goja.Object); ok && o.ClassName() != "Error" {
			if _, isFn := goja.AssertFunction(a); !isFn {
				if b, err := json.Marshal(o.Export()); err == nil {
					parts[i] = string(b)
				}
			}
		}
	}
	return strings.Join(parts, " ")
}

// open returns a file's text, or with mode "b" its bytes as an ArrayBuffer (each VU its own
// copy), relative to the script's directory; init context only.
func (r *runtime) open(path string, mode goja.Value) goja.Value {
	if !r.inInit {
		r.throwf("open(%q): open() is only available in the init context", path)
	}
	binary := false
	if mode != nil && !goja.IsUndefined(mode) {
		switch m := mode.String(); m {
		case "":
		case "b":
			binary = true
		default:
			r.throwf("open(%q, %q): the mode is \"b\" (binary) or absent (text)", path, m)
		}
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(r.s.dir, path)
	}
	text, err := r.s.readFile(path)
	if err != nil {
		r.throwf("open: %v", err)
	}
	if binary {
		return r.rt.ToValue(r.rt.NewArrayBuffer([]byte(text)))
	}
	return r.rt.ToValue(text)
}

// readFile reads a file once per script: every VU's init code opens the same files.
func (s *Script) readFile(path string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.files[path]; ok {
		return t, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s.files[path] = string(b)
	return string(b), nil
}

// call calls the exported function name with args for h under ctx. When ctx ends during the
// call the runtime is interrupted and ctx's error returned.
func (r *runtime) call(ctx context.Context, h host, name string, args ...goja.Value) (goja.Value, error) {
	fn, ok := goja.AssertFunction(r.exports.Get(name))
	if !ok {
		return nil, fmt.Errorf("k6 script %s: %s is not an exported function", r.s.path, name)
	}
	r.ctx, r.h = ctx, h
	defer func() { r.ctx, r.h = context.Background(), nil }()
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		r.rt.Interrupt(ctx.Err())
		close(interrupted)
	})
	v, err := fn(goja.Undefined(), args...)
	if !stop() {
		// The interrupt fired: let it finish, then clear it for the next call.
		<-interrupted
		r.rt.ClearInterrupt()
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, r.scriptError(name, err)
	}
	return r.settle(name, v)
}

// settle resolves an async function's promise. Its jobs have run when the call returned (goja
// runs them as the outermost call ends); one still pending waits on something this package
// does not provide.
func (r *runtime) settle(name string, v goja.Value) (goja.Value, error) {
	p, ok := v.Export().(*goja.Promise)
	if !ok {
		return v, nil
	}
	switch p.State() {
	case goja.PromiseStateRejected:
		msg := p.Result().String()
		if o, ok := p.Result().(*goja.Object); ok {
			if st := o.Get("stack"); st != nil && !goja.IsUndefined(st) {
				msg = st.String()
			}
		}
		return nil, fmt.Errorf("k6 script %s: %s: %s", r.s.path, name, strings.TrimSpace(msg))
	case goja.PromiseStatePending:
		return nil, fmt.Errorf("k6 script %s: %s: its promise is still pending after the call; awaiting anything but already settled promises is not supported", r.s.path, name)
	}
	return p.Result(), nil
}

// jsonParse is JavaScript's JSON.parse in this runtime.
func (r *runtime) jsonParse(text goja.Value) (goja.Value, error) {
	parse, _ := goja.AssertFunction(r.rt.Get("JSON").ToObject(r.rt).Get("parse"))
	return parse(goja.Undefined(), text)
}

// jsonStringify is JavaScript's JSON.stringify in this runtime; "" for what has no JSON form
// (undefined).
func (r *runtime) jsonStringify(v goja.Value) (string, error) {
	if v == nil || goja.IsUndefined(v) {
		return "", nil
	}
	stringify, _ := goja.AssertFunction(r.rt.Get("JSON").ToObject(r.rt).Get("stringify"))
	out, err := stringify(goja.Undefined(), v)
	if err != nil || goja.IsUndefined(out) {
		return "", err
	}
	return out.String(), nil
}
