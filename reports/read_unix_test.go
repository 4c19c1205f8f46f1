//go:build unix

package reports_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/reports"
)

// Only a regular file is read as a run record: a FIFO used to block the reader for as long as
// nobody wrote to it (report hung, and SIGTERM with it), a directory or a device is not a
// record. Each is refused at once, naming what it is.
func TestReadRunRefusesNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "run.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{fifo, "is a named pipe (FIFO), not a regular file"},
		{dir, "is a directory, not a regular file"},
		{os.DevNull, "is a device, not a regular file"},
	} {
		done := make(chan error, 1)
		go func() {
			_, err := reports.ReadRun(tc.path)
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(time.Minute):
			// A hang, not a slow machine: free the reader (a writer opening the FIFO) and fail.
			if w, werr := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); werr == nil {
				w.Close()
			}
			t.Fatalf("ReadRun(%s) still blocked after a minute", tc.path)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadRun(%s) = %v, want an error saying %q", tc.path, err, tc.want)
		}
	}
}
