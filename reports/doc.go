// Package reports holds the run.json model of a verification run and renders it for the
// people and systems that read it: a self-contained report.html for the launch review, a
// junit.xml for CI test views, a summary.md for job summaries and pull-request comments, and
// a comparison of two runs.
//
// The package depends on plain model types only. The run orchestrator converts load, chaos
// and SLO results into a [Run]; nothing here imports those packages, so the reports can be
// re-rendered from a run.json long after the run (see [ReadRun] and [RenderRunDir]).
//
// Every string in a run may come from a profile, an SLO file or a server response, so the
// HTML is produced with html/template and the Markdown escapes what it prints.
package reports
