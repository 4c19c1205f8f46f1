package reports_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/internal/testenv"

	"github.com/dailydoco/ddp-verify/reports"
)

// FuzzDecodeRun feeds the run.json reader arbitrary bytes, seeded with the good and bad
// fixtures and the golden run.json. It must never panic or hang; an accepted record must
// survive a round trip (written back, it reads again, into the same JSON) and render into
// every report without an error.
func FuzzDecodeRun(f *testing.F) {
	testenv.SeedCorpus(f, "testdata/*.json", "testdata/bad/*.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 256<<10 {
			t.Skip("larger than the fuzzer needs")
		}
		r, err := reports.DecodeRun(bytes.NewReader(data))
		if err != nil {
			return
		}
		var once bytes.Buffer
		if err := reports.WriteJSON(&once, r); err != nil {
			t.Fatalf("accepted but cannot be written back: %v", err)
		}
		again, err := reports.DecodeRun(bytes.NewReader(once.Bytes()))
		if err != nil {
			t.Fatalf("accepted, written back, refused: %v\n%s", err, once.Bytes())
		}
		var twice bytes.Buffer
		if err := reports.WriteJSON(&twice, again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatalf("the round trip changed the record:\n%s\nthen\n%s", once.Bytes(), twice.Bytes())
		}
		for name, render := range map[string]func(*bytes.Buffer) error{
			"summary.md":  func(w *bytes.Buffer) error { return reports.WriteMarkdown(w, r) },
			"junit.xml":   func(w *bytes.Buffer) error { return reports.WriteJUnit(w, r) },
			"report.html": func(w *bytes.Buffer) error { return reports.WriteHTML(w, r) },
			"verdict":     func(w *bytes.Buffer) error { return reports.WriteVerdict(w, r, "dir") },
		} {
			var out bytes.Buffer
			if err := render(&out); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if name != "report.html" && strings.ContainsRune(out.String(), 0x1b) {
				t.Fatalf("%s holds a raw escape character", name)
			}
		}
	})
}
