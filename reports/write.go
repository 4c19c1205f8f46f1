package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// writeFileAtomic renders into a temporary file in the same directory and renames it over
// path, so a reader (a CI uploader, a browser) never sees a half-written report, and a
// failed render leaves the previous file intact.
func writeFileAtomic(path string, r *Run, render func(io.Writer, *Run) error) (err error) {
	// Render to memory first: a template error must not cost a temp file.
	var buf bytes.Buffer
	if err := render(&buf, r); err != nil {
		return fmt.Errorf("render %s: %w", filepath.Base(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
