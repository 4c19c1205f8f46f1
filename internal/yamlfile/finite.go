package yamlfile

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
)

// nonFinite returns a *FieldError for every NaN or infinite number decoded into v (YAML's
// .nan, .inf and -.inf). No setting of ours means anything at NaN or infinity, and NaN
// compares false with everything, so a check such as "x <= 0 is an error" lets it through
// and every later comparison with it quietly passes or fails: refused at decoding, it is
// refused for every file this package reads.
func (d *Document) nonFinite(v any) []error {
	var errs []error
	walkFloats(reflect.ValueOf(v), "", func(path string, x float64) {
		errs = append(errs, &FieldError{Source: d.Source(), Line: d.Line(path), Field: path,
			Msg: fmt.Sprintf("want a finite number, got %s", yamlFloat(x))})
	})
	return errs
}

// walkFloats calls found for every NaN or infinite float in v, with its field path: struct
// fields by their YAML names (inline structs add none), sequence items by index, map entries
// by key.
func walkFloats(v reflect.Value, path string, found func(string, float64)) {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if x := v.Float(); math.IsNaN(x) || math.IsInf(x, 0) {
			found(path, x)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkFloats(v.Elem(), path, found)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			switch {
			case name == "-":
				continue
			case strings.Contains(","+opts+",", ",inline,"):
				walkFloats(v.Field(i), path, found)
				continue
			case name == "":
				name = strings.ToLower(f.Name)
			}
			walkFloats(v.Field(i), Join(path, name), found)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walkFloats(v.Index(i), Index(path, i), found)
		}
	case reflect.Map:
		// In key order, so that the problems are reported in the same order every time.
		keys := v.MapKeys()
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = fmt.Sprint(k.Interface())
		}
		order := make([]int, len(keys))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return names[order[a]] < names[order[b]] })
		for _, i := range order {
			walkFloats(v.MapIndex(keys[i]), Join(path, names[i]), found)
		}
	}
}

// yamlFloat writes a non-finite number as YAML does.
func yamlFloat(x float64) string {
	switch {
	case math.IsNaN(x):
		return ".nan"
	case x > 0:
		return ".inf"
	}
	return "-.inf"
}
