//go:build !unix

package http1

import "net"

// connAlive cannot peek at a socket here; a dead idle connection shows up as a failed exchange,
// which is retried on a fresh connection when the request is replayable.
func connAlive(net.Conn) bool { return true }
