package node

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
)

// Fence is a node's network partition switch. While it is up the node can neither be reached
// nor reach anything: connections it accepts are reset at once, its dials fail, and every
// connection open when it goes up is closed. A real partition drops packets, so peers see
// timeouts; here they see resets and refusals sooner, which only shortens detection.
// The zero value is down (traffic flows).
type Fence struct {
	up    atomic.Bool
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// ErrPartitioned is what dials fail with while the fence is up.
var ErrPartitioned = errors.New("node is partitioned: network unreachable")

// Set raises (true) or lowers (false) the fence.
func (f *Fence) Set(up bool) {
	f.up.Store(up)
	if !up {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		reset(c)
		delete(f.conns, c)
	}
}

// Up reports whether the fence is up.
func (f *Fence) Up() bool { return f.up.Load() }

func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST, as a dropped route would eventually produce
	}
	_ = c.Close()
}

func (f *Fence) track(c net.Conn) net.Conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		f.conns = map[net.Conn]struct{}{}
	}
	f.conns[c] = struct{}{}
	return &fencedConn{Conn: c, f: f}
}

func (f *Fence) untrack(c net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.conns, c)
}

type fencedConn struct {
	net.Conn
	f    *Fence
	once sync.Once
}

func (c *fencedConn) Close() error {
	c.once.Do(func() { c.f.untrack(c.Conn) })
	return c.Conn.Close()
}

// Listener wraps l so that connections accepted while the fence is up are reset.
func (f *Fence) Listener(l net.Listener) net.Listener { return &fencedListener{Listener: l, f: f} }

type fencedListener struct {
	net.Listener
	f *Fence
}

func (l *fencedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.f.Up() {
			reset(c)
			continue
		}
		return l.f.track(c), nil
	}
}

// DialContext dials like net.Dialer unless the fence is up.
func (f *Fence) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if f.Up() {
		return nil, &net.OpError{Op: "dial", Net: network, Err: ErrPartitioned}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return f.track(c), nil
}
