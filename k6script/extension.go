package k6script

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/dop251/goja"

	"github.com/dailydoco/ddp-verify/load"
)

// An Extension is a JavaScript module written in Go that a script can import under its name,
// "k6/x/NAME", as it would import an xk6 extension compiled into k6. [Load] takes extensions
// with [WithExtension]; a script importing one it was not given fails at load time as any
// unsupported module does.
type Extension struct {
	// Name is the import path, "k6/x/NAME".
	Name string
	// Exports are the names the module exports, checked against the script's named imports.
	Exports []string
	// New makes the module's exports for one runtime (a VU's, the options probe's, setup's or
	// teardown's), with exactly the names of Exports. Their functions run on the runtime's
	// goroutine; m says which VU and context the running call has.
	New func(m *ModuleContext) map[string]any
}

// ModuleContext is what an [Extension]'s functions see of the call they run in.
type ModuleContext struct{ r *runtime }

// VU is the engine's VU running the call, nil in the init code, setup and teardown.
func (m *ModuleContext) VU() *load.VU {
	if m.r.h == nil {
		return nil
	}
	return m.r.h.engineVU()
}

// Context is the running call's context: it ends when the iteration is interrupted.
func (m *ModuleContext) Context() context.Context { return m.r.ctx }

// Runtime is the goja runtime, for making JavaScript values.
func (m *ModuleContext) Runtime() *goja.Runtime { return m.r.rt }

// ToJS makes v a plain JavaScript value through JSON, so that its fields have their JSON
// names; a value with no JSON form throws.
func (m *ModuleContext) ToJS(v any) goja.Value {
	b, err := json.Marshal(v)
	if err != nil {
		m.Throw("%v", err)
	}
	out, err := m.r.jsonParse(m.r.rt.ToValue(string(b)))
	if err != nil {
		panic(err)
	}
	return out
}

// FromJS reads the JavaScript value v into out through JSON.
func (m *ModuleContext) FromJS(v goja.Value, out any) error {
	text, err := m.r.jsonStringify(v)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(text), out)
}

// Throw throws a JavaScript Error with the formatted message (it does not return).
func (m *ModuleContext) Throw(format string, args ...any) { m.r.throwf(format, args...) }

// LoadOption configures [Load].
type LoadOption func(*Script) error

// WithExtension lets the script import ext.
func WithExtension(ext Extension) LoadOption {
	return func(s *Script) error {
		if !strings.HasPrefix(ext.Name, "k6/x/") || len(ext.Name) == len("k6/x/") {
			return fmt.Errorf("k6script: extension %q: its name must be k6/x/NAME", ext.Name)
		}
		if _, builtIn := modules[ext.Name]; builtIn || slices.ContainsFunc(s.extensions, func(e Extension) bool { return e.Name == ext.Name }) {
			return fmt.Errorf("k6script: extension %q given twice", ext.Name)
		}
		s.extensions = append(s.extensions, ext)
		return nil
	}
}

// extension returns the extension named name.
func (s *Script) extension(name string) (Extension, bool) {
	i := slices.IndexFunc(s.extensions, func(e Extension) bool { return e.Name == name })
	if i < 0 {
		return Extension{}, false
	}
	return s.extensions[i], true
}

// moduleNames are the names module name exports: a built-in module's or an extension's.
func (s *Script) moduleNames(name string) (map[string]bool, bool) {
	if names, ok := modules[name]; ok {
		return names, true
	}
	if ext, ok := s.extension(name); ok {
		return set(ext.Exports...), true
	}
	return nil, false
}

// extensionModule makes ext's module for this runtime.
func (r *runtime) extensionModule(ext Extension) goja.Value {
	exports := ext.New(&ModuleContext{r: r})
	m := r.guarded(ext.Name)
	for _, k := range ext.Exports {
		v, ok := exports[k]
		if !ok {
			panic(fmt.Sprintf("k6script: extension %s does not make its export %s", ext.Name, k))
		}
		_ = m.Set(k, v)
	}
	if len(exports) != len(ext.Exports) {
		panic(fmt.Sprintf("k6script: extension %s makes exports it does not list", ext.Name))
	}
	return m
}
