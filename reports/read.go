package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/dailydoco/ddp-verify/verdict"
)

// MaxRunFileSize bounds the run.json [ReadRun] reads: a four-hour soak's record is a few
// MiB; anything near this is not a run record.
const MaxRunFileSize = 256 << 20

// readRegular reads path, which must be a regular file of at most limit bytes. Anything else
// is refused before a byte is read: a FIFO or a device would block the reader (or never end),
// and a directory is not a record.
func readRegular(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is a %s, not a regular file", path, fileKind(fi))
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than a run record's %d", path, fi.Size(), limit)
	}
	// Opened without blocking: were path swapped for a FIFO since the Stat, opening it
	// must not wait for a writer. The opened file is checked again.
	f, err := os.OpenFile(path, os.O_RDONLY|openNonBlocking, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if ofi, err := f.Stat(); err != nil || !ofi.Mode().IsRegular() || !os.SameFile(fi, ofi) {
		return nil, fmt.Errorf("%s changed while it was opened", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is more than a run record's %d bytes", path, limit)
	}
	return b, nil
}

// fileKind names what a file that is not regular is, for messages.
func fileKind(fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// checkDuplicateKeys refuses an object that holds a key twice: encoding/json keeps the last
// value silently, so a second "verdict" would overrule the first unseen. Keys that differ
// only in case are duplicates too (encoding/json matches a struct's fields case-insensitively),
// except under "config" and "versions", which are kept or read as maps. The walk keeps its own
// stack, so however deep the nesting it does not recurse; encoding/json bounds the depth.
func checkDuplicateKeys(b []byte) error {
	type frame struct {
		object  bool
		path    string
		fold    bool
		seen    map[string]string // folded (or exact) key to the key as written
		index   int
		key     string
		wantKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil // a syntax error: the decoder reports it with its offset
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			key, _ := tok.(string)
			k := key
			if top.fold {
				k = strings.ToLower(key)
			}
			if first, dup := top.seen[k]; dup {
				what := fmt.Sprintf("duplicate key %q", key)
				if first != key {
					what = fmt.Sprintf("duplicate key %q (as %q: JSON field names match in any case)", key, first)
				}
				return fmt.Errorf("field %s: %s; encoding/json would keep only the last one, so the file says two things", joinField(top.path, key), what)
			}
			top.seen[k] = key
			top.key, top.wantKey = key, false
			continue
		}
		// A value: its path, then a new frame when it opens an object or an array.
		path, fold := "", true
		if top != nil {
			fold = top.fold
			if top.object {
				path, top.wantKey = joinField(top.path, top.key), true
				if top.path == "" && (top.key == "config" || top.key == "versions") {
					fold = false
				}
			} else {
				path = top.path + "[" + strconv.Itoa(top.index) + "]"
				top.index++
			}
		}
		if d, ok := tok.(json.Delim); ok {
			f := &frame{object: d == '{', path: path, fold: fold, wantKey: d == '{'}
			if f.object {
				f.seen = map[string]string{}
			}
			stack = append(stack, f)
		}
	}
}

func joinField(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// contradictions lists what in the record contradicts a GO verdict: the rules the run itself
// decides by (docs/run-json.md), so that a record edited or damaged into GO is never shown as
// one. A GO needs at least one objective, every key objective PASS or WARN, no objective
// without data or in error (missing data never passes), every fault confirmed injected and
// undone without error, every accepted video finished, and every load agent done.
func (r *Run) contradictions() []string {
	if r.Verdict != verdict.Go {
		return nil
	}
	var out []string
	if len(r.SLOs) == 0 {
		out = append(out, "no objective was evaluated")
	}
	for _, s := range r.SLOs {
		switch {
		case s.Status == verdict.Error || s.Status == verdict.NoData:
			out = append(out, fmt.Sprintf("objective %s in %s is %s", s.ID, s.Window, s.Status))
		case s.Key && !s.Status.Met():
			out = append(out, fmt.Sprintf("key objective %s in %s is %s", s.ID, s.Window, s.Status))
		}
	}
	for _, c := range r.Chaos {
		switch {
		case c.Error != "":
			out = append(out, fmt.Sprintf("fault %s has an error", c.Fault))
		case !c.Confirmed():
			out = append(out, fmt.Sprintf("fault %s was not confirmed injected and undone", c.Fault))
		}
	}
	if r.Videos.Unfinished > 0 || r.Videos.Lost > 0 {
		out = append(out, fmt.Sprintf("%d accepted videos unfinished and %d lost", r.Videos.Unfinished, r.Videos.Lost))
	}
	for _, a := range r.Agents {
		if a.State != "done" {
			out = append(out, fmt.Sprintf("load agent %d (segment %s) is %s", a.Index, a.Segment, a.State))
		}
	}
	return out
}
