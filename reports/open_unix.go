//go:build unix

package reports

import "syscall"

// openNonBlocking makes opening a FIFO return at once instead of waiting for a writer.
const openNonBlocking = syscall.O_NONBLOCK
