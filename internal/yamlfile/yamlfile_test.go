package yamlfile_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dailydoco/ddp-verify/internal/yamlfile"
)

// testFile has a field of every kind the loaders use.
type testFile struct {
	Name     string             `yaml:"name"`
	Count    int                `yaml:"count"`
	Ratio    float64            `yaml:"ratio"`
	Enabled  bool               `yaml:"enabled"`
	Wait     time.Duration      `yaml:"wait"`
	Tags     []string           `yaml:"tags"`
	Weights  map[string]float64 `yaml:"weights"`
	Items    []item             `yaml:"items"`
	Inner    *inner             `yaml:"inner"`
	Machines map[string]price   `yaml:"machines"`
	Level    level              `yaml:"level"`
}

type item struct {
	ID        string  `yaml:"id"`
	Stages    []stage `yaml:"stages"`
	ThinkTime span    `yaml:"thinkTime"`
}

type stage struct {
	Duration span `yaml:"duration"`
	Target   int  `yaml:"target"`
}

type inner struct {
	Note string `yaml:"note"`
}

type price struct {
	Hourly float64 `yaml:"hourly"`
}

// span is a duration that must have a unit and must not be negative, decoded by its own
// UnmarshalYAML as the loaders' duration types are.
type span struct{ time.Duration }

func (s *span) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		// yaml.v3's own error, "line N: cannot unmarshal !!seq into time.Duration".
		var d time.Duration
		return n.Decode(&d)
	}
	d, err := time.ParseDuration(n.Value)
	switch {
	case err != nil:
		return yamlfile.ValueError(n, "invalid duration %q (use a unit: 30s, 5m)", n.Value)
	case d < 0:
		return yamlfile.ValueError(n, "must not be negative (got %s)", d)
	}
	s.Duration = d
	return nil
}

// level rejects a value with a plain error that names only the line, as unmarshalers
// written without [yamlfile.ValueError] do; yaml.v3 stops decoding at such an error.
type level string

func (l *level) UnmarshalYAML(n *yaml.Node) error {
	if n.Value != "low" && n.Value != "high" {
		return fmt.Errorf("line %d: want low or high (got %q)", n.Line, n.Value)
	}
	*l = level(n.Value)
	return nil
}

// TestDecodeFiles decodes every file in testdata; testdata/README.md describes the format.
func TestDecodeFiles(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					want = append(want, w)
				}
			}
			var v testFile
			_, err = yamlfile.Decode(filepath.Base(file), data, &v)
			if strings.HasSuffix(file, ".good.yaml") {
				if err != nil {
					t.Fatalf("good file rejected:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("bad file accepted: %+v", v)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
				t.Errorf("errors\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestEmptyIsErrEmpty(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", "# nothing\n", "~\n", "---\n"} {
		v := testFile{Name: "kept"}
		doc, err := yamlfile.Decode("f.yaml", []byte(text), &v)
		if !errors.Is(err, yamlfile.ErrEmpty) || err.Error() != "f.yaml: empty document" || doc != nil || v.Name != "kept" {
			t.Errorf("%q: doc %v, err %v, value %+v; want ErrEmpty and the value untouched", text, doc, err, v)
		}
	}
}

// Every problem is a *FieldError, and the document comes back for validation even when some
// fields did not decode.
func TestDecodeErrorsAreFieldErrors(t *testing.T) {
	t.Parallel()
	var v testFile
	doc, err := yamlfile.Decode("f.yaml", []byte("name: x\ncount: [1]\ncolor: red\n"), &v)
	if doc == nil || doc.Line("name") != 1 {
		t.Fatalf("document %v", doc)
	}
	var got []yamlfile.FieldError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *yamlfile.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a *FieldError", e)
		}
		got = append(got, *fe)
	}
	want := []yamlfile.FieldError{
		{Source: "f.yaml", Line: 2, Field: "count", Msg: "want an integer, got a sequence"},
		{Source: "f.yaml", Line: 3, Field: "color", Msg: "unknown field"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors\n got %+v\nwant %+v", got, want)
	}
}

// Every type error names its field: an alias (reported by yaml.v3 on its anchor's line) at
// the field that holds it, a key that is itself a collection at the mapping that holds it.
// Both used to come out as "cannot unmarshal !!seq into string" with no field.
func TestTypeErrorsNameTheirField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"alias", "name: &a [1]\ntags: [x]\ninner: {note: *a}\n", []string{
			"f.yaml:1: name: want a string, got a sequence",
			"f.yaml:3: inner.note: want a string, got a sequence",
		}},
		{"collection as a key", "weights: {[a]: 1}\n", []string{"f.yaml:1: weights: a key must be a name, got a sequence"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v testFile
			_, err := yamlfile.Decode("f.yaml", []byte(tc.yaml), &v)
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// NaN and infinities are refused at their field wherever a number goes, with every other
// problem: "x <= 0 is an error" lets NaN through, so each loader's own checks would not.
func TestDecodeRefusesNonFiniteNumbers(t *testing.T) {
	t.Parallel()
	var v testFile
	_, err := yamlfile.Decode("f.yaml", []byte("name: .nan\nratio: .nan\ncount: [1]\nweights: {b: -.inf, a: 1, c: .Inf}\nmachines:\n  \"m5.xlarge\": {hourly: .NaN}\n"), &v)
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		got = append(got, e.Error())
	}
	want := []string{
		"f.yaml:3: count: want an integer, got a sequence",
		"f.yaml:2: ratio: want a finite number, got .nan",
		"f.yaml:4: weights.b: want a finite number, got -.inf",
		"f.yaml:4: weights.c: want a finite number, got .inf",
		`f.yaml:6: machines["m5.xlarge"].hourly: want a finite number, got .nan`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors\n got %q\nwant %q", got, want)
	}
	if v.Name != ".nan" {
		t.Errorf("a string field holding .nan decoded as %q", v.Name)
	}
}

const linesYAML = `name: lines
tags: [a, b]
items:
  - id: first
    stages:
      - {duration: 10s, target: 5}
      - duration: 20s
        target: 0
  - id: second
machines:
  "m5.xlarge":
    hourly: 0.19
inner:
  note: x
`

func TestLine(t *testing.T) {
	t.Parallel()
	var v testFile
	doc, err := yamlfile.Decode("lines.yaml", []byte(linesYAML), &v)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		line int
		ok   bool
	}{
		{"", 1, true},
		{"name", 1, true},
		{"tags[1]", 2, true},
		{"items", 3, true},
		{"items[0]", 4, true},
		{"items[0].stages", 5, true},
		{"items[0].stages[0].target", 6, true},
		{"items[0].stages[1]", 7, true},
		{"items[0].stages[1].target", 8, true},
		{"items[1].id", 9, true},
		{`machines["m5.xlarge"].hourly`, 12, true},
		{"inner", 13, true},
		// Absent fields: the line of the nearest parent that is there.
		{"count", 1, false},
		{"items[1].stages", 9, false},
		{"items[7].id", 3, false},
		{"items[0].stages[1].target.deeper", 8, false},
		{"name[0]", 1, false},
		{"inner.note.x", 14, false},
		// Malformed: as far as it parses.
		{"items[x].id", 3, false},
		{`machines["m5.xlarge`, 10, false},
	}
	for _, tc := range tests {
		line, ok := doc.Lookup(tc.path)
		if line != tc.line || ok != tc.ok || doc.Line(tc.path) != tc.line {
			t.Errorf("Lookup(%q) = %d, %v; want %d, %v", tc.path, line, ok, tc.line, tc.ok)
		}
	}
	var none *yamlfile.Document
	if line, ok := none.Lookup("name"); line != 0 || ok || none.Source() != "" {
		t.Errorf("nil document: line %d, ok %v", line, ok)
	}
}

func TestJoinAndIndex(t *testing.T) {
	t.Parallel()
	tests := []struct{ got, want string }{
		{yamlfile.Join("", "name"), "name"},
		{yamlfile.Join("a", "b"), "a.b"},
		{yamlfile.Join("prices.instances", "m5.xlarge"), `prices.instances["m5.xlarge"]`},
		{yamlfile.Join("a", `say "hi"`), `a["say \"hi\""]`},
		{yamlfile.Join("a", ""), `a[""]`},
		{yamlfile.Index("scenarios", 2) + ".stages", "scenarios[2].stages"},
		{yamlfile.Index(yamlfile.Index("m", 0), 1), "m[0][1]"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

func TestFieldErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  yamlfile.FieldError
		want string
	}{
		{yamlfile.FieldError{Source: "f.yaml", Line: 3, Field: "a.b", Msg: "bad"}, "f.yaml:3: a.b: bad"},
		{yamlfile.FieldError{Source: "f.yaml", Field: "a.b", Msg: "bad"}, "f.yaml: a.b: bad"},
		{yamlfile.FieldError{Source: "f.yaml", Line: 3, Msg: "bad"}, "f.yaml:3: bad"},
		{yamlfile.FieldError{Source: "f.yaml", Msg: "bad"}, "f.yaml: bad"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestValidator(t *testing.T) {
	t.Parallel()
	var v testFile
	doc, err := yamlfile.Decode("lines.yaml", []byte(linesYAML), &v)
	if err != nil {
		t.Fatal(err)
	}
	val := yamlfile.Validator{Doc: doc}
	if val.Err() != nil || val.Len() != 0 {
		t.Fatal("a fresh validator has problems")
	}
	val.Fail("items[0].stages[1].target", "must be positive (got %d)", 0)
	val.Fail("count", "is required")
	val.FailAs("items[1].id", "items[1] (second).id", "is taken")
	want := "lines.yaml:8: items[0].stages[1].target: must be positive (got 0)\n" +
		"lines.yaml:1: count: is required\n" +
		"lines.yaml:9: items[1] (second).id: is taken"
	if val.Len() != 3 || val.Err() == nil || val.Err().Error() != want {
		t.Errorf("%d problems:\n%v\nwant\n%s", val.Len(), val.Err(), want)
	}
	var zero yamlfile.Validator
	zero.Fail("name", "is required")
	if got := zero.Err().Error(); got != ": name: is required" {
		t.Errorf("zero validator: %q", got)
	}
}

func TestGoodFileDecodes(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "full.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got testFile
	if _, err := yamlfile.Decode("full.good.yaml", data, &got); err != nil {
		t.Fatal(err)
	}
	want := testFile{
		Name: "full", Count: 3, Ratio: 0.5, Enabled: true, Wait: 90 * time.Second,
		Tags:    []string{"a", "b"},
		Weights: map[string]float64{"browse": 2, "capture.4k": 1},
		Items: []item{
			{ID: "first", Stages: []stage{{span{10 * time.Second}, 5}, {span{20 * time.Second}, 0}}, ThinkTime: span{3 * time.Second}},
			{ID: "second"},
		},
		Inner: &inner{Note: "hello"},
		Level: "high",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, want)
	}
}
