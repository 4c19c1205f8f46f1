//go:build unix

package load

import (
	"net"
	"syscall"
)

// connAlive reports whether an idle connection is still open: one non-blocking peek (Go's
// sockets are non-blocking) that finds nothing to read. EOF, a reset, or unsolicited bytes all
// make the connection unusable for a new request.
func connAlive(nc net.Conn) bool {
	if cc, ok := nc.(*countingConn); ok {
		nc = cc.Conn
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		alive = err == syscall.EAGAIN
		return true
	})
	return err == nil && alive
}
