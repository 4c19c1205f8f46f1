// Package outdir checks an output directory (`run --out`, `evaluate --out`, `load --out`)
// before any work starts, so that a run never ends, after an hour of load, unable to write its
// results, and never writes over an earlier run's files.
//
// It imports only the standard library.
package outdir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Check reports whether dir can take a command's output: it is a directory that does not
// exist yet and can be created (its nearest existing ancestor is a directory we may write in),
// or an existing, empty directory we may write in. An existing non-empty directory, a file,
// and a place we may not write are refused, each with the reason. Check creates nothing that
// it leaves behind: writability is proven by making and removing a probe directory.
func Check(dir string) error {
	if dir == "" {
		return errors.New("is empty: give a directory")
	}
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("%s is a %s, not a directory", dir, kind(fi))
	case err == nil:
		if err := empty(dir); err != nil {
			return err
		}
		if err := probe(dir); err != nil {
			return fmt.Errorf("%s: cannot write in it: %w", dir, unwrapPath(err))
		}
		return nil
	case !missing(err):
		return fmt.Errorf("%s: %w", dir, unwrapPath(err))
	}
	// dir does not exist: its nearest existing ancestor must be a directory we may write in.
	parent := dir
	for {
		next := filepath.Dir(parent)
		if next == parent {
			return fmt.Errorf("%s: cannot create it: no part of the path exists", dir)
		}
		parent = next
		fi, err := os.Stat(parent)
		if missing(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: cannot create it: %w", dir, unwrapPath(err))
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s: cannot create it: %s is a %s, not a directory", dir, parent, kind(fi))
		}
		if err := probe(parent); err != nil {
			return fmt.Errorf("%s: cannot create it in %s: %w", dir, parent, unwrapPath(err))
		}
		return nil
	}
}

// empty refuses a directory that holds anything: its files would be mixed with (or
// overwritten by) the new output.
func empty(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, unwrapPath(err))
	}
	defer f.Close()
	names, err := f.Readdirnames(3)
	if errors.Is(err, io.EOF) || (err == nil && len(names) == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", dir, unwrapPath(err))
	}
	more := ""
	if len(names) == 3 {
		names, more = names[:2], ", ..."
	}
	return fmt.Errorf("%s is not empty (it holds %q%s): give a new directory or an empty one, so that no earlier output is overwritten or mixed in", dir, names, more)
}

// probe proves that dir takes new entries by making and removing a directory in it.
func probe(dir string) error {
	p, err := os.MkdirTemp(dir, ".ddp-verify-probe-*")
	if err != nil {
		return err
	}
	return os.Remove(p)
}

// missing reports whether a Stat error means that the path does not exist, including a path
// that runs through a file (ENOTDIR): the walk up finds that file.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// kind names what a non-directory is, for messages.
func kind(fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case m.IsRegular():
		return "file"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "non-directory"
}

// unwrapPath drops the *fs.PathError's operation and path, which the message already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
