package main

import (
	"context"
	"net"
	"os"
	"runtime"
	"testing"

	sysunix "golang.org/x/sys/unix"
)

// dialerIn returns a dialer whose connections are made in the network namespace at nsPath
// (/proc/PID/ns/net), as `nsenter --net` would: a socket belongs to the namespace of the
// thread that creates it, so each dial runs on a locked thread switched into the namespace
// and back.
func dialerIn(t *testing.T, nsPath string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	t.Helper()
	target, err := os.Open(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			conn net.Conn
			err  error
		}
		done := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // not unlocked: a thread whose namespace could not be restored ends with the goroutine
			home, err := os.Open("/proc/thread-self/ns/net")
			if err != nil {
				done <- result{err: err}
				return
			}
			defer home.Close()
			if err := sysunix.Setns(int(target.Fd()), sysunix.CLONE_NEWNET); err != nil {
				done <- result{err: err}
				return
			}
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if sysunix.Setns(int(home.Fd()), sysunix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
			done <- result{conn, err}
		}()
		r := <-done
		return r.conn, r.err
	}
}
