package k6script

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/dailydoco/ddp-verify/load"
	"github.com/dop251/goja"
	"github.com/evanw/esbuild/pkg/api"
)

// Script is a loaded k6 script: its compiled program, its options and, once [Script.Setup]
// ran, the setup data. A Script may run once; its methods are safe for concurrent use.
type Script struct {
	path    string // as given to Load
	dir     string // for open()
	env     map[string]string
	program *goja.Program
	options map[string]any
	exports map[string]bool // exported names whose values are functions
	log     *slog.Logger

	extensions []Extension
	settings   settings
	metrics    map[string]load.CustomMetric // declared by the init code (k6/metrics)
	tags       map[string]string            // options.tags

	mu        sync.Mutex
	runtimes  map[int64]*runtime // the VUs' runtimes, by VU id
	files     map[string]string  // open() cache: absolute path -> text
	setupRan  bool
	setupJSON string // setup()'s return value as JSON; "" for undefined
}

// Load reads, transforms and compiles the script at path and runs its init code once to read
// and check its options. env is the script's __ENV. Whether it exports what its own scenarios
// run is checked by [Script.Scenarios] (a profile runs the function it names: [Script.Exec]).
// Errors name the file: "FILE:LINE:COL: message" for syntax errors.
func Load(path string, env map[string]string, opts ...LoadOption) (*Script, error) {
	s := &Script{path: path, dir: filepath.Dir(path), env: env, log: slog.Default(),
		runtimes: map[int64]*runtime{}, files: map[string]string{}}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("k6 script: %w", err)
	}
	local, err := s.checkImports(path, string(src), map[string]bool{})
	if err != nil {
		return nil, err
	}
	var code string
	if local {
		code, err = bundle(path)
	} else {
		code, err = transform(path, string(src))
	}
	if err != nil {
		return nil, err
	}
	prg, err := compileProgram(path, code)
	if err != nil {
		return nil, err
	}
	s.program = prg
	if err := s.probe(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the script's path as given to [Load].
func (s *Script) Path() string { return s.path }

// transform turns the script's ES module syntax into CommonJS with an inline source map, so
// that goja reports the original lines.
func transform(path, src string) (string, error) {
	res := api.Transform(src, api.TransformOptions{
		Loader:     api.LoaderJS,
		Format:     api.FormatCommonJS,
		Target:     api.ES2017,
		Sourcemap:  api.SourceMapInline,
		Sourcefile: filepath.Base(path), // the source map's sources resolve against path
	})
	if len(res.Errors) > 0 {
		return "", esbuildError(path, res.Errors)
	}
	return string(res.Code), nil
}

// bundle is transform for a script that imports local modules: esbuild bundles them into
// one CommonJS program (the k6 modules and extensions stay require calls), with an inline
// source map whose sources are relative to the script's directory, so that errors name each
// module's own file and line.
func bundle(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("k6 script: %w", err)
	}
	dir := filepath.Dir(abs)
	res := api.Build(api.BuildOptions{
		EntryPoints:   []string{abs},
		Bundle:        true,
		Write:         false,
		AbsWorkingDir: dir,
		Outfile:       filepath.Join(dir, filepath.Base(path)+".bundle.js"),
		Format:        api.FormatCommonJS,
		Target:        api.ES2017,
		Platform:      api.PlatformNeutral,
		Sourcemap:     api.SourceMapInline,
		External:      []string{"k6", "k6/*"},
		LogLevel:      api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		return "", esbuildError(path, res.Errors)
	}
	if len(res.OutputFiles) != 1 {
		return "", fmt.Errorf("k6 script %s: bundle: %d outputs", path, len(res.OutputFiles))
	}
	return string(res.OutputFiles[0].Contents), nil
}

func esbuildError(path string, msgs []api.Message) error {
	errs := make([]error, 0, len(msgs))
	for _, m := range msgs {
		if m.Location == nil {
			errs = append(errs, fmt.Errorf("%s: %s", path, m.Text))
			continue
		}
		errs = append(errs, fmt.Errorf("%s:%d:%d: %s", path, m.Location.Line, m.Location.Column+1, m.Text))
	}
	return errors.Join(errs...)
}

// wrapperHead makes the CommonJS code a function of its module variables. It adds no line, so
// the source map still applies.
const wrapperHead = "(function (exports, require, module, __filename, __dirname) {"

func compileProgram(path, code string) (*goja.Program, error) {
	prg, err := goja.Compile(path, wrapperHead+code+"\n})", false)
	if err != nil {
		return nil, fmt.Errorf("k6 script %s: compile: %w", path, err)
	}
	return prg, nil
}

// probe runs the init code in a runtime of its own (__VU 0, as k6's) to read the exported
// options and the names of the exported functions, and checks the options.
func (s *Script) probe() error {
	r, err := s.newRuntime(0, nil, nil)
	if err != nil {
		return err
	}
	s.exports = map[string]bool{}
	for _, k := range r.exports.Keys() {
		if _, ok := goja.AssertFunction(r.exports.Get(k)); ok {
			s.exports[k] = true
		}
	}
	if err := s.readOptions(r); err != nil {
		return err
	}
	if err := s.checkOptions(); err != nil {
		return err
	}
	return s.readSettings()
}

// checkOptions reports unsupported or invalid options at load time rather than at run time.
func (s *Script) checkOptions() error {
	if err := s.checkTopLevel(); err != nil {
		return err
	}
	if _, err := s.deriveScenarios(Overrides{}); err != nil {
		return fmt.Errorf("k6 script %s: %w", s.path, err)
	}
	_, err := s.Thresholds()
	return err
}

func (s *Script) readOptions(r *runtime) error {
	v := r.exports.Get("options")
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		s.options = map[string]any{}
		return nil
	}
	m, ok := v.Export().(map[string]any)
	if !ok {
		return fmt.Errorf("k6 script %s: options: want an object, got %s", s.path, v.String())
	}
	s.options = m
	return nil
}

// checkExecs checks that the default function or each scenario's exec function is exported.
func (s *Script) checkExecs() error {
	scs, _ := s.options["scenarios"].(map[string]any)
	if len(scs) == 0 {
		if !s.exports["default"] {
			return fmt.Errorf("k6 script %s: no default function is exported (export default function () {...})", s.path)
		}
		return nil
	}
	for name, v := range scs {
		sc, _ := v.(map[string]any)
		fn := "default"
		if e, ok := sc["exec"].(string); ok && e != "" {
			fn = e
		}
		if !s.exports[fn] {
			return fmt.Errorf("k6 script %s: scenario %q: exec function %q is not exported", s.path, name, fn)
		}
	}
	return nil
}

// importRE matches the static ES import declarations of a script: the clause and the module.
var importRE = regexp.MustCompile(`(?m)^\s*import\s+([^'";]*?)\s*from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]`)

// checkImports reads the static imports of the file at path (src) before it is transformed,
// so that an unsupported module or an unsupported named import fails at load time with its
// file and line; it reads the local modules it imports ("./lib.js", "../common/auth.js") the
// same way, once each (seen), and reports whether there were any.
func (s *Script) checkImports(path, src string, seen map[string]bool) (local bool, err error) {
	var errs []error
	for _, m := range importRE.FindAllStringSubmatchIndex(src, -1) {
		line := 1 + strings.Count(src[:m[0]], "\n")
		clause, mod := "", ""
		if m[4] >= 0 {
			clause, mod = src[m[2]:m[3]], src[m[4]:m[5]]
		} else {
			mod = src[m[6]:m[7]]
		}
		if strings.HasPrefix(mod, "./") || strings.HasPrefix(mod, "../") {
			local = true
			if err := s.checkLocalModule(filepath.Join(filepath.Dir(path), mod), fmt.Sprintf("%s:%d", path, line), seen); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		names, ok := s.moduleNames(mod)
		if !ok {
			errs = append(errs, fmt.Errorf("%s:%d: %w", path, line, unsupportedModule(mod)))
			continue
		}
		for _, n := range namedImports(clause) {
			if !names[n] {
				errs = append(errs, fmt.Errorf("%s:%d: %s.%s is not supported (docs/scripts.md lists what is)", path, line, mod, n))
			}
		}
	}
	return local, errors.Join(errs...)
}

// checkLocalModule checks the imports of the local module at path, imported at where.
func (s *Script) checkLocalModule(path, where string, seen map[string]bool) error {
	if seen[path] {
		return nil
	}
	seen[path] = true
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: module %q: %w", where, path, err)
	}
	_, err = s.checkImports(path, string(src), seen)
	return err
}

// namedImports returns the imported names of an import clause such as "http, {get, post as p}".
func namedImports(clause string) []string {
	open, end := strings.IndexByte(clause, '{'), strings.IndexByte(clause, '}')
	if open < 0 || end < open {
		return nil
	}
	var names []string
	for part := range strings.SplitSeq(clause[open+1:end], ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(part), " ")
		if name != "" {
			names = append(names, name)
		}
	}
	return names
}

// ProcessEnv is this process's environment as a map: what k6 puts in __ENV by default, for
// callers to add their own names to before [Load].
func ProcessEnv() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}
