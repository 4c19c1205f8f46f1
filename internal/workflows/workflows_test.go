package workflows

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

func lint(t *testing.T, path string, content []byte) []*actionlint.Error {
	t.Helper()
	var out bytes.Buffer
	l, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint(path, content, nil)
	if err != nil {
		t.Fatal(err)
	}
	return errs
}

func TestShippedWorkflowsLintClean(t *testing.T) {
	files, err := filepath.Glob("../../.github/workflows/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no workflow found under .github/workflows")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range lint(t, f, data) {
			t.Errorf("%s:%d:%d: %s [%s]", f, e.Line, e.Column, e.Message, e.Kind)
		}
	}
}

// The linter must catch a broken workflow, or the test above proves nothing.
func TestLinterCatchesABrokenWorkflow(t *testing.T) {
	broken := []byte("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets.X }\n      - uses: actions/checkout@v4\n        with: {fetch-deph: 1}\n")
	errs := lint(t, "broken.yml", broken)
	if len(errs) == 0 {
		t.Fatal("actionlint accepted a broken workflow")
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Message)
	}
	if !strings.Contains(strings.Join(msgs, "\n"), "fetch-deph") {
		t.Errorf("expected a complaint about the misspelt input, got:\n%s", strings.Join(msgs, "\n"))
	}
}
