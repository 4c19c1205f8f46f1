// Package profile loads, validates and resolves verification profiles: the load model (k6
// executor names and parameters), the journey mix, the chaos schedule, the named windows SLOs
// are evaluated over, and the reference topology.
//
// Profiles are YAML and decoded strictly: an unknown field, a negative duration, a fault that
// falls outside the run or a window that refers to nothing is an error naming the file, the
// line and the field. Built-in profiles (launch, nightly, smoke, stress, soak) are embedded in
// the binary; [Load] accepts either a built-in name or a path.
//
// A loaded [Profile] is read-only: [Profile.Scaled] returns a new profile whose stage, fault and
// window durations are multiplied by a factor (the run's --time-scale), leaving per-user
// behaviour (think time, graceful periods) unchanged.
package profile
