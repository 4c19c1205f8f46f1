// Package k6script runs k6-compatible JavaScript test scripts on the load engine of package
// load: a script's exported options become [load.ScenarioConfig] values and [load.Threshold]
// values, and its default function (or the functions its scenarios name in exec) becomes each
// scenario's [load.Scenario].
//
// Scripts are written in k6's style (ES modules importing "k6" and "k6/http"). esbuild turns
// the module syntax into CommonJS, which goja, a pure-Go ECMAScript engine, runs: the code is
// compiled once and every VU gets its own runtime. Only part of k6's API is implemented;
// everything else fails loudly with an error that says "not supported". docs/scripts.md lists
// what is and is not supported.
//
// A script runs as in k6: the init code once per VU (and once more to read the options),
// setup() once before the load, the exec functions per iteration, teardown(data) once after.
// [Script.Run] does all of that; [Script.Setup], [Script.Scenarios], [Script.Thresholds] and
// [Script.Teardown] are the steps, for callers that drive the engine themselves.
package k6script
