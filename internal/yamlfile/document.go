package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// Document is one decoded YAML file: its name and its node tree, kept to find the line of a
// field path. It is built by [Decode] and then only read. A nil *Document has no name and no
// lines.
type Document struct {
	source string
	root   *yaml.Node // the document's content
}

// Decode decodes data, the YAML file named source, strictly into v, a non-nil pointer:
//
//   - a key that matches no field of the struct it is decoded into is an error;
//   - a value of the wrong type is an error naming the field and both types;
//   - a file with a second, non-empty document is an error;
//   - a file with no content (empty, only comments, or a lone null) is an error that wraps
//     [ErrEmpty]; v is left as it was;
//   - a number that is not finite (.nan, .inf, -.inf) is an error at its field: no setting
//     means anything there, and NaN slips through every range check.
//
// Decoding goes on after a problem, so every problem is reported, each as a *[FieldError]
// ("file:line: field: message"), joined with errors.Join. The returned [Document] locates
// fields for validation; it is non-nil whenever data is well-formed YAML, even when the
// error reports fields that did not decode.
//
// An UnmarshalYAML method that rejects a value should return [ValueError], so that the
// problem is reported with the others and at the right field.
func Decode(source string, data []byte, v any) (*Document, error) {
	docs := yaml.NewDecoder(bytes.NewReader(data))
	var first yaml.Node
	if err := docs.Decode(&first); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w", source, ErrEmpty)
		}
		d := &Document{source: source}
		return nil, errors.Join(d.explain(err, nil)...)
	}
	d := &Document{source: source, root: content(&first)}
	if isNull(d.root) {
		return nil, fmt.Errorf("%s: %w", source, ErrEmpty)
	}
	// The node tree above cannot be decoded into v with KnownFields (yaml.Node.Decode has no
	// such setting), so the text is decoded a second time, strictly.
	var errs []error
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(v); err != nil {
		errs = append(errs, d.explain(err, reflect.TypeOf(v))...)
	}
	errs = append(errs, d.nonFinite(v)...)
	// A trailing "---" with nothing after it opens an empty document, which is harmless.
	for {
		var next yaml.Node
		err := docs.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, d.explain(err, nil)...)
			break
		}
		if !isNull(content(&next)) {
			errs = append(errs, &FieldError{Source: source, Line: next.Line, Msg: "a second YAML document starts here; the file must hold one"})
			break
		}
	}
	return d, errors.Join(errs...)
}

// ValueError is what an UnmarshalYAML method returns for a value it rejects: a
// *yaml.TypeError, which the decoder collects and goes on, carrying n's line and column so
// that [Decode] reports it at n's field. The message is fmt.Sprintf(format, args...).
func ValueError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d column %d: %s", n.Line, n.Column, fmt.Sprintf(format, args...))}}
}

// Source is the name the document was decoded under.
func (d *Document) Source() string {
	if d == nil {
		return ""
	}
	return d.source
}

// Line returns the line of the field at path: of its key, or of the item for a sequence
// index. For a field absent from the file it returns the line of the nearest parent that is
// present, so that "is required" points into the right mapping; for the empty path, the
// line the document's content starts on. It returns 0 only for a nil Document.
func (d *Document) Line(path string) int {
	line, _ := d.Lookup(path)
	return line
}

// Lookup is [Document.Line] that also reports whether the whole path is present.
func (d *Document) Lookup(path string) (line int, ok bool) {
	if d == nil || d.root == nil {
		return 0, false
	}
	steps, ok := parsePath(path)
	n := d.root
	line = n.Line
	for _, s := range steps {
		var key, val *yaml.Node
		switch {
		case s.index >= 0 && n.Kind == yaml.SequenceNode && s.index < len(n.Content):
			key, val = n.Content[s.index], n.Content[s.index]
		case s.index < 0 && n.Kind == yaml.MappingNode:
			key, val = mapEntry(n, s.key)
		}
		if val == nil {
			return line, false
		}
		line = key.Line
		n = unalias(val)
	}
	return line, ok
}

func mapEntry(n *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

func content(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		return doc.Content[0]
	}
	return doc
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func unalias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}
