//go:build unix

package hostmetrics

import (
	"syscall"
	"time"
)

// Self is this process's usage: its CPU time (getrusage) and resident memory.
func Self() (Usage, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}, err
	}
	rss, err := residentBytes("self")
	if err != nil {
		return Usage{}, err
	}
	return Usage{User: time.Duration(ru.Utime.Nano()), System: time.Duration(ru.Stime.Nano()), Resident: rss}, nil
}

// filesystemBytes is the size of the filesystem holding dir and the bytes available on it.
func filesystemBytes(dir string) (size, avail float64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return float64(st.Blocks) * float64(st.Bsize), float64(st.Bavail) * float64(st.Bsize), nil
}
