// Package run is one whole verification: resolve the profile, preflight the target, start the
// local reference platform and the embedded Prometheus when the target is local, drive load and
// chaos on one clock, drain the video pipeline, evaluate the SLOs per window, write the run
// directory and decide GO, NO-GO or ABORTED.
//
// run is the only package that uses every other one; the command line (cmd/ddp-verify) only
// parses flags into [Options] and maps the outcome to an exit code.
package run
