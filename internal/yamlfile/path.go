package yamlfile

import (
	"strconv"
	"strings"
)

// A field path names a place in a document the way error messages show it: mapping keys
// joined by dots, sequence indexes in brackets, as in scenarios[0].stages[2].duration. A key
// that contains a dot, a bracket, a quote or a space is written quoted in brackets, as in
// prices.instances["m5.xlarge"]; [Join] does that. The empty path is the document's root.

// Join returns the path of key inside the mapping at path, quoting key when it needs it.
func Join(path, key string) string {
	if key == "" || strings.ContainsAny(key, ".[]\" \t") {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index returns the path of item i of the sequence at path.
func Index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// step is one element of a parsed path: a mapping key, or a sequence index when index >= 0.
type step struct {
	key   string
	index int
}

// parsePath splits a path into steps. A malformed bracket ends the path there and ok is
// false, so a typo in a caller's path yields the line of the part that parsed, never a panic.
func parsePath(path string) (steps []step, ok bool) {
	for i := 0; i < len(path); {
		switch path[i] {
		case '.':
			i++
		case '[':
			rest := path[i+1:]
			if strings.HasPrefix(rest, `"`) {
				q, err := strconv.QuotedPrefix(rest)
				if err != nil || !strings.HasPrefix(rest[len(q):], "]") {
					return steps, false
				}
				key, _ := strconv.Unquote(q)
				steps = append(steps, step{key: key, index: -1})
				i += 1 + len(q) + 1
				continue
			}
			end := strings.IndexByte(rest, ']')
			n, err := strconv.Atoi(rest[:max(end, 0)])
			if end < 0 || err != nil || n < 0 {
				return steps, false
			}
			steps = append(steps, step{index: n})
			i += 1 + end + 1
		default:
			end := strings.IndexAny(path[i:], ".[")
			if end < 0 {
				end = len(path) - i
			}
			steps = append(steps, step{key: path[i : i+end], index: -1})
			i += end
		}
	}
	return steps, true
}
