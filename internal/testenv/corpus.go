package testenv

import (
	"bytes"
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

// RoundTrip checks the loaders' fuzz property for an accepted value v: written back (write)
// it is accepted again (parse), into a value that writes the same bytes. what names v's kind
// in the failure.
func RoundTrip[T any](t *testing.T, what string, v T, parse func([]byte) (T, error), write func(T) ([]byte, error)) {
	t.Helper()
	once, err := write(v)
	if err != nil {
		t.Fatalf("accepted but cannot be written back: %v", err)
	}
	again, err := parse(once)
	if err != nil {
		t.Fatalf("accepted, written back, refused: %v\n%s", err, once)
	}
	twice, err := write(again)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(once, twice) {
		t.Fatalf("the round trip changed the %s:\n%s\nthen\n%s", what, once, twice)
	}
}
