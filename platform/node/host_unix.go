//go:build unix

package node

import (
	"syscall"
	"time"
)

// processCPU is this process's user and system CPU time.
func processCPU() (user, system time.Duration, err error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, err
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), nil
}

// filesystemBytes is the size of the filesystem holding dir and the bytes available on it.
func filesystemBytes(dir string) (size, avail float64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return float64(st.Blocks) * float64(st.Bsize), float64(st.Bavail) * float64(st.Bsize), nil
}
