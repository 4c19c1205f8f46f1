package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dailydoco/ddp-verify/internal/atomicfile"
)

// File names inside a run directory (DESIGN 4.2).
const (
	RunFile      = "run.json"
	HTMLFile     = "report.html"
	JUnitFile    = "junit.xml"
	MarkdownFile = "summary.md"
)

// WriteJSON writes r as indented run.json.
func WriteJSON(w io.Writer, r *Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// The report is read by people too; "<" in a PromQL comparison must stay readable.
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteRunDir validates r and writes run.json and every rendered report into dir, which is
// created if needed.
func WriteRunDir(dir string, r *Run) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("write run %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write run: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, RunFile), r, WriteJSON); err != nil {
		return err
	}
	return RenderRunDir(dir, r)
}

// RenderRunDir writes report.html, junit.xml and summary.md for r into dir, leaving run.json
// alone. `ddp-verify report` uses it to re-render from a run.json.
func RenderRunDir(dir string, r *Run) error {
	for _, f := range []struct {
		name   string
		render func(io.Writer, *Run) error
	}{
		{HTMLFile, WriteHTML},
		{JUnitFile, WriteJUnit},
		{MarkdownFile, WriteMarkdown},
	} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), r, f.render); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic renders r into path so that a reader (a CI uploader, a browser) never sees
// a half-written report, and a failed render leaves the previous file intact.
func writeFileAtomic(path string, r *Run, render func(io.Writer, *Run) error) error {
	return atomicfile.Write(path, func(w io.Writer) error { return render(w, r) })
}
