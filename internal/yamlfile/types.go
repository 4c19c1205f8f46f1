package yamlfile

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// typeAt returns the Go type that the value at path is decoded into, following yaml.v3's
// rules for struct fields; nil when t is nil or path leads nowhere in it.
func typeAt(t reflect.Type, path string) reflect.Type {
	steps, _ := parsePath(path)
	for _, s := range steps {
		t = deref(t)
		if t == nil {
			return nil
		}
		switch t.Kind() {
		case reflect.Struct:
			if s.index >= 0 {
				return nil
			}
			t = structFields(t)[s.key]
		case reflect.Map:
			t = t.Elem()
		case reflect.Slice, reflect.Array:
			if s.index < 0 {
				return nil
			}
			t = t.Elem()
		default:
			return nil
		}
	}
	return deref(t)
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// structFields maps the YAML keys of struct type t to their field types: the yaml tag's name,
// else the lower-cased field name; ",inline" structs contribute their fields; "-" is skipped.
func structFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			if ft := deref(f.Type); ft.Kind() == reflect.Struct {
				for k, v := range structFields(ft) {
					fields[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

// fieldNames lists the YAML keys of t when it is a struct.
func fieldNames(t reflect.Type) []string {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for k := range structFields(t) {
		names = append(names, k)
	}
	return names
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

// describeType says in words what a value of type t looks like in YAML. When t is unknown or
// decodes itself, it goes by goType, the name of the type yaml.v3 decoded into.
func describeType(t reflect.Type, goType string) string {
	if t == nil || reflect.PointerTo(t).Implements(unmarshalerType) {
		return describeTypeName(goType)
	}
	if t == durationType {
		return "a duration such as 30s"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a sequence"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return goType
}

// describeTypeName is describeType for the name of a type as yaml.v3 writes it.
func describeTypeName(goType string) string {
	name := strings.TrimLeft(goType, "*")
	switch {
	case name == "time.Duration":
		return "a duration such as 30s"
	case name == "string":
		return "a string"
	case name == "bool":
		return "true or false"
	case strings.HasPrefix(name, "int"):
		return "an integer"
	case strings.HasPrefix(name, "uint"):
		return "a non-negative integer"
	case strings.HasPrefix(name, "float"):
		return "a number"
	case strings.HasPrefix(name, "[]"):
		return "a sequence"
	case strings.HasPrefix(name, "map["):
		return "a mapping"
	}
	return goType
}

// describeNode says in words what n is.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.MappingNode:
		return "a mapping"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:37] + "..."
	}
	switch tag := n.ShortTag(); tag {
	case "!!str":
		return fmt.Sprintf("the string %q", v)
	case "!!int":
		return "the integer " + v
	case "!!float":
		return "the number " + v
	case "!!bool":
		return v
	case "!!null":
		return "null"
	case "!!timestamp":
		return "the time " + v
	default:
		return tag + " " + v
	}
}
