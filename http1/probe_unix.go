//go:build unix

package http1

import (
	"net"
	"syscall"
)

// connAlive reports whether an idle connection is still open: one non-blocking peek (Go's
// sockets are non-blocking) that finds nothing to read. EOF, a reset, or unsolicited bytes all
// make the connection unusable for a new request. A wrapping connection is unwrapped through
// its NetConn method; one that cannot be reached is taken to be open.
func connAlive(nc net.Conn) bool {
	for {
		w, ok := nc.(interface{ NetConn() net.Conn })
		if !ok || w.NetConn() == nc {
			break
		}
		nc = w.NetConn()
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
