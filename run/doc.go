// Package run is one whole verification, as a pipeline of named phases over a resolved
// [profile.Plan] and a [Target] (where the platform under test is):
//
//	check      every input, before anything is created (exit 2)
//	open       the run directory, the generator's metrics, the target (the local reference
//	           platform and its embedded Prometheus, or a platform at a URL)
//	preflight  the platform answers, Prometheus scrapes what it must, every fault can run (exit 3)
//	execute    load and chaos on one clock; progress and recovery tracking while they run
//	drain      wait (bounded) for accepted videos to finish
//	evaluate   the SLOs per window
//	assemble   the run.json record, and decide GO, NO-GO or ABORTED
//	write      run.json and the reports, atomically
//
// Each phase is a method of the unexported runner with its inputs and results explicit; [Run]
// is the list of phase calls. Time comes from an injected clock (Options.Clock). New kinds of
// target (a local Kubernetes cluster, load agents) are new [Target] implementations, and new
// kinds of workload (scripted scenarios) new [Workload] ones: neither edits the sequencer.
//
// run is the only package that uses every other one; the command line (cmd/ddp-verify) only
// parses flags into [Options] and maps the outcome to an exit code ([exitcode]).
package run
