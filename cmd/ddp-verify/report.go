package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/reports"
)

func newReportCmd(out, _ io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "report RUN_DIR",
		Short: "Re-render report.html, junit.xml and summary.md from a run directory's run.json",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			dir := args[0]
			// Accept the run.json itself too: shells complete file names.
			if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
				dir = filepath.Dir(dir)
			}
			r, err := reports.ReadRun(filepath.Join(dir, reports.RunFile))
			if err != nil {
				return exitcode.New(exitcode.BadInput, err)
			}
			if err := reports.RenderRunDir(dir, r); err != nil {
				return exitcode.New(exitcode.Infra, err)
			}
			_, err = fmt.Fprintf(out, "%s: %s, %s, %s re-rendered (%s)\n", dir, reports.HTMLFile, reports.JUnitFile, reports.MarkdownFile, r.Verdict)
			return err
		},
	}
}
