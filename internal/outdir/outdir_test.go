package outdir

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// unwritable returns a directory path that cannot be created: under a read-only directory,
// or, for root (who may write anywhere permissions allow), under /sys.
func unwritable(t *testing.T) string {
	t.Helper()
	if os.Geteuid() == 0 {
		if runtime.GOOS != "linux" {
			t.Skip("as root, an unwritable place is only known on Linux (/sys)")
		}
		return "/sys/ddp-verify-out"
	}
	ro := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(ro, "out")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	nonEmpty := filepath.Join(tmp, "full")
	file := filepath.Join(tmp, "file")
	for _, p := range []string{filepath.Join(nonEmpty, "run.json"), file} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	emptyDir := filepath.Join(tmp, "empty")
	if err := os.Mkdir(emptyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, want string // want "" accepts
	}{
		{"new", filepath.Join(tmp, "new"), ""},
		{"new, nested", filepath.Join(tmp, "a", "b", "c"), ""},
		{"existing empty", emptyDir, ""},
		{"existing non-empty", nonEmpty, `is not empty (it holds ["run.json"])`},
		{"a file", file, "is a file, not a directory"},
		{"under a file", filepath.Join(file, "out"), file + " is a file, not a directory"},
		{"a device", os.DevNull, "is a device, not a directory"},
		{"unwritable", unwritable(t), "cannot create it in"},
		{"empty name", "", "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.dir)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Check(%q) = %v, want accepted", tc.dir, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Check(%q) = %v, want an error saying %q", tc.dir, err, tc.want)
			}
		})
	}
	// The probes leave nothing behind: the checked directories stay as they were.
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "empty file full" {
		t.Errorf("after the checks %s holds %q, want only the fixtures", tmp, got)
	}
	if left, _ := os.ReadDir(emptyDir); len(left) != 0 {
		t.Errorf("the empty directory now holds %d entries", len(left))
	}
}
