package yamlfile

import (
	"errors"
	"fmt"
)

// ErrEmpty is returned (wrapped, with the file's name) by [Decode] for a document with no
// content: an empty file, only comments, or a lone null. Callers for whom an empty file is
// valid test for it with errors.Is.
var ErrEmpty = errors.New("empty document")

// FieldError is one problem in a YAML file, at a field path.
type FieldError struct {
	Source string // the file's name, or another name such as builtin:NAME
	Line   int    // from 1; 0 when unknown
	Field  string // a field path such as scenarios[0].stages[2].duration; empty when unknown
	Msg    string
}

// Error reads "file:line: field: message", leaving out the line or the field when unknown.
func (e *FieldError) Error() string {
	s := e.Source
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Msg
}

// Validator collects the problems found in a decoded document, each with its field path and
// the line of that path, so that a file is reported whole rather than one problem at a time.
// The zero value works, with no file name and no lines; set Doc to the [Document] that
// [Decode] returned.
type Validator struct {
	Doc  *Document
	errs []error
}

// Fail records a problem with the field at path; the message is fmt.Sprintf(format, args...).
// The line is that of path, or of its nearest parent when the field is absent from the file.
func (v *Validator) Fail(path, format string, args ...any) {
	v.FailAs(path, path, format, args...)
}

// FailAs is [Validator.Fail] with the field shown as field instead of path, for messages
// that name a field by more than its path (objectives[1] (api_latency).op); the line is still
// that of path.
func (v *Validator) FailAs(path, field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Source: v.Doc.Source(), Line: v.Doc.Line(path), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Len is how many problems have been recorded.
func (v *Validator) Len() int { return len(v.errs) }

// Err returns every recorded problem, in order, joined with errors.Join; nil when there is
// none. Each is a *[FieldError].
func (v *Validator) Err() error { return errors.Join(v.errs...) }
