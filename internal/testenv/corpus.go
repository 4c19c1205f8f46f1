package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// SeedCorpus adds every file matching the glob patterns to f's seed corpus. A pattern that
// matches nothing fails the fuzz test: a seed corpus that went missing would fuzz from nothing.
func SeedCorpus(f *testing.F, patterns ...string) {
	f.Helper()
	for _, pattern := range patterns {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			f.Fatalf("seed corpus %s: no file matches (%v)", pattern, err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}
