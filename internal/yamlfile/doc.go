// Package yamlfile reads one YAML file strictly and reports every problem in it as
// "file:line: field: message". It is the loader shared by the profile, the SLO file, the
// topology and the run configuration.
//
// # Decoding
//
// [Decode] decodes a file into a Go value with yaml.v3's KnownFields, rejects a second
// document and reports an empty file as [ErrEmpty]. yaml.v3 names the line of a problem but
// not the field ("line 7: cannot unmarshal !!seq into string"); Decode finds the node the
// message is about in the file's tree and names its field path and both types instead:
//
//	profile.yaml:7: scenarios[0].executor: want a string, got a sequence
//	profile.yaml:9: scenarios[0].thinktime: unknown field (did you mean thinkTime?)
//
// An UnmarshalYAML method that rejects a value returns [ValueError], so that its problem is
// collected with the others and reported at its field.
//
// # Validation
//
// After decoding, a [Validator] collects the problems the caller's own checks find, each at a
// field path whose line it looks up in the [Document]:
//
//	var p Profile
//	doc, err := yamlfile.Decode(file, data, &p)
//	if err != nil {
//		return nil, err
//	}
//	v := yamlfile.Validator{Doc: doc}
//	if p.Name == "" {
//		v.Fail("name", "is required")
//	}
//	for i, s := range p.Scenarios {
//		if s.VUs < 1 {
//			v.Fail(yamlfile.Index("scenarios", i)+".vus", "must be at least 1")
//		}
//	}
//	if err := v.Err(); err != nil {
//		return nil, err
//	}
//	return &p, nil
//
// Every error is a *[FieldError], joined with errors.Join.
//
// # Field paths
//
// Paths are strings: keys joined by dots, indexes in brackets, and a key that holds a dot or
// a bracket quoted in brackets (prices.instances["m5.xlarge"], built by [Join]).
//
// # Dependencies
//
// This is a leaf: it imports the standard library and yaml.v3 only, so platform/topology,
// part of the system under test that imports nothing of the harness, may import it too.
package yamlfile
