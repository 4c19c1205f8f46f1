package yamlfile

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yaml.v3 reports decoding problems as text, "line N: ...", naming the line but not the
// field. explain finds the node each message is about in the document's tree (by line, and by
// key name, tag and value or column), and rewrites the message as a FieldError at that node's
// field path.

var (
	lineRE         = regexp.MustCompile(`(?s)^line (\d+)(?: column (\d+))?: (.*)$`)
	unknownFieldRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	setTwiceRE     = regexp.MustCompile(`^field (\S+) already set in type \S+$`)
	duplicateKeyRE = regexp.MustCompile(`^mapping key ("(?:[^"\\]|\\.)*") already defined at line (\d+)$`)
	cannotRE       = regexp.MustCompile("(?s)^cannot unmarshal (\\S+)(?: `(.*)`)? into (.+)$")
)

// explain turns an error of yaml.v3 into one *FieldError per problem. typ is the type decoded
// into, to name the type a field wants; nil when unknown.
func (d *Document) explain(err error, typ reflect.Type) []error {
	var msgs []string
	if te := (*yaml.TypeError)(nil); errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	r := resolver{doc: d, typ: typ, used: map[*yaml.Node]bool{}}
	errs := make([]error, 0, len(msgs))
	for _, m := range msgs {
		errs = append(errs, r.resolve(m))
	}
	return errs
}

// entry is a node of the tree with the field path it stands at.
type entry struct {
	node   *yaml.Node
	path   string // for a key, the path of its value
	parent string // the path of the enclosing collection
	key    bool   // node is a mapping key
	line   int    // the line of path: of the key naming it, or of the sequence item
}

type resolver struct {
	doc     *Document
	typ     reflect.Type
	entries []entry             // in document order, built on first use
	used    map[*yaml.Node]bool // nodes already blamed: two problems on one line go to two nodes
}

func (r *resolver) resolve(msg string) error {
	fe := &FieldError{Source: r.doc.Source(), Msg: msg}
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return fe
	}
	fe.Line, _ = strconv.Atoi(m[1])
	column, _ := strconv.Atoi(m[2])
	fe.Msg = m[3]
	onLine := func(e entry) bool { return e.node.Line == fe.Line }
	value := func(e entry) bool { return onLine(e) && !e.key }
	var at *entry
	// A message that names its key is blamed on that key or on nothing; any other falls back
	// to the first value on its line.
	fallback := true
	switch {
	case unknownFieldRE.MatchString(fe.Msg):
		name := unknownFieldRE.FindStringSubmatch(fe.Msg)[1]
		at = r.take(func(e entry) bool { return onLine(e) && e.key && e.node.Value == name })
		if at != nil {
			fe.Msg = "unknown field" + r.suggest(at.parent, name)
		} else {
			fe.Msg = "unknown field " + name
		}
		fallback = false
	case setTwiceRE.MatchString(fe.Msg):
		name := setTwiceRE.FindStringSubmatch(fe.Msg)[1]
		at = r.take(func(e entry) bool { return onLine(e) && e.key && e.node.Value == name })
		fe.Msg = "set more than once"
		fallback = false
	case duplicateKeyRE.MatchString(fe.Msg):
		sm := duplicateKeyRE.FindStringSubmatch(fe.Msg)
		name, _ := strconv.Unquote(sm[1])
		at = r.take(func(e entry) bool { return onLine(e) && e.key && e.node.Value == name })
		fe.Msg = "defined twice (first at line " + sm[2] + ")"
		fallback = false
	case cannotRE.MatchString(fe.Msg):
		sm := cannotRE.FindStringSubmatch(fe.Msg)
		tag, shown, goType := sm[1], sm[2], sm[3]
		same := func(e entry) bool {
			n := unalias(e.node)
			return n.ShortTag() == tag && strings.HasPrefix(n.Value, strings.TrimSuffix(shown, "..."))
		}
		// A flow mapping and its first value can share line, tag and value ({id: {x: 1}}):
		// prefer the node whose field has the Go type the message names.
		into := func(e entry) bool {
			t := typeAt(r.typ, e.path)
			return t != nil && t.String() == strings.TrimLeft(goType, "*")
		}
		// A key that is itself a collection ({a: 1}: x) cannot name a field.
		if k := r.take(func(e entry) bool { return onLine(e) && e.key && e.node.Kind != yaml.ScalarNode && same(e) }); k != nil {
			fe.Field, fe.Line = k.parent, k.line
			fe.Msg = fmt.Sprintf("a key must be a name, got %s", describeNode(unalias(k.node)))
			return fe
		}
		at = r.take(func(e entry) bool { return value(e) && same(e) && into(e) })
		if at == nil {
			at = r.take(func(e entry) bool { return value(e) && same(e) })
		}
		if at == nil {
			at = r.take(func(e entry) bool { return onLine(e) && same(e) })
		}
		if at == nil {
			// An alias (*a) is reported on the line of its anchor (&a), and that value may
			// already be blamed: blame the field that holds the alias.
			at = r.take(func(e entry) bool {
				return !e.key && e.node.Kind == yaml.AliasNode && e.node.Alias != nil && unalias(e.node).Line == fe.Line && same(e)
			})
		}
		if at != nil {
			fe.Msg = fmt.Sprintf("want %s, got %s", describeType(typeAt(r.typ, at.path), goType), describeNode(unalias(at.node)))
		}
	case column > 0:
		at = r.take(func(e entry) bool { return value(e) && e.node.Column == column })
	}
	if at == nil && fallback {
		// For example an unmarshaler's own message, without a column.
		at = r.take(value)
	}
	if at != nil {
		// yaml.v3 gives the value's line; a block value starts below its key, and the line of
		// the key is the one that names the field.
		fe.Field, fe.Line = at.path, at.line
	}
	return fe
}

// take returns the first entry, in document order, that is not yet blamed and matches.
func (r *resolver) take(match func(entry) bool) *entry {
	if r.entries == nil && r.doc.root != nil {
		r.entries = []entry{{node: r.doc.root, line: r.doc.root.Line}}
		r.walk(r.doc.root, "")
	}
	for i := range r.entries {
		if e := &r.entries[i]; !r.used[e.node] && match(*e) {
			r.used[e.node] = true
			return e
		}
	}
	return nil
}

// walk lists n's descendants; it does not follow aliases, whose nodes are listed where the
// anchor is.
func (r *resolver) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := Join(path, k.Value)
			r.entries = append(r.entries, entry{node: k, path: p, parent: path, key: true, line: k.Line}, entry{node: v, path: p, parent: path, line: k.Line})
			r.walk(v, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := Index(path, i)
			r.entries = append(r.entries, entry{node: c, path: p, parent: path, line: c.Line})
			r.walk(c, p)
		}
	}
}

// suggest returns " (did you mean NAME?)" when the type at parent has a field whose name is
// close to name (a different case, or a typo or two), and "" otherwise.
func (r *resolver) suggest(parent, name string) string {
	best, bestDist := "", 3
	for _, f := range fieldNames(typeAt(r.typ, parent)) {
		dist := editDistance(strings.ToLower(f), strings.ToLower(name))
		if dist == 0 {
			dist = 1 // differs only in case: as good a guess as one typo
		}
		if dist < bestDist && dist < len(name)/2+1 {
			best, bestDist = f, dist
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
