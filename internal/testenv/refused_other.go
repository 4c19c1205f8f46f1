//go:build !unix

package testenv

import (
	"net"
	"testing"
)

// RefusedAddr returns a loopback host:port where nothing listens: one a listener had and
// closed. Unlike the Unix version it does not hold the port, so another server may take it.
func RefusedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
