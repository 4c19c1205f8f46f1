// Package httpservertest has the hostile clients that tests of servers' timeouts need: one that
// sends its request body one byte a second, one that idles on a keep-alive connection, one
// that sends its headers one byte a second. Each reports when the server closed the
// connection; the test decides how long it may wait for that.
package httpservertest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Interval is how often the slow clients send their next byte.
const Interval = time.Second

// SlowBody connects to addr and sends a request for method path (with header, which may be
// nil) whose Content-Length promises a body of [BodySize] bytes, then sends the body one
// byte every Interval: spaces, which a JSON decoder reads on as whitespace. The returned
// channel is closed once the server has closed the connection (the client reads and drops
// whatever the server answers before). The client stops at the end of the test.
//
// The body is small on purpose: net/http closes the connection at once after answering a
// request whose unread body is larger than 256 KiB, but reads a smaller one to the end to
// keep the connection alive, so only a body read deadline ends that read.
func SlowBody(t testing.TB, addr, method, path string, header http.Header) <-chan struct{} {
	t.Helper()
	conn := dial(t, addr)
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, path, addr, BodySize)
	for k, vs := range header {
		for _, v := range vs {
			head += k + ": " + v + "\r\n"
		}
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatalf("send headers to %s: %v", addr, err)
	}
	closed := watch(conn)
	go trickle(conn, closed, []byte(" "), BodySize)
	return closed
}

// BodySize is the length of the body [SlowBody] promises.
const BodySize = 4096

// SlowHeaders connects to addr and sends a request line and headers that never end, one byte
// every Interval. The returned channel is closed once the server has closed the connection.
func SlowHeaders(t testing.TB, addr string) <-chan struct{} {
	t.Helper()
	conn := dial(t, addr)
	if _, err := io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: "+addr+"\r\n"); err != nil {
		t.Fatalf("send request line to %s: %v", addr, err)
	}
	closed := watch(conn)
	go trickle(conn, closed, []byte("X"), 1<<16)
	return closed
}

// Idle connects to addr, sends one complete GET of path, reads the answer and then sends
// nothing more. The returned channel is closed once the server has closed the connection.
func Idle(t testing.TB, addr, path string) <-chan struct{} {
	t.Helper()
	conn := dial(t, addr)
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatalf("send request to %s: %v", addr, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read answer from %s: %v", addr, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		t.Fatalf("%s closed the connection after one request; nothing to idle on", addr)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_, _ = io.Copy(io.Discard, br) // until the server closes
	}()
	return closed
}

// WaitClosed fails the test unless closed is closed by deadline. Give a deadline well past
// the timeout under test, so that a busy machine still passes: the test proves that the
// server closes the connection at all, and no lower bound is asserted. Clients started
// together share one deadline, so that a server that never closes costs one bound, not one
// per client.
func WaitClosed(t testing.TB, what string, closed <-chan struct{}, deadline time.Time) {
	t.Helper()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-closed:
		return
	case <-timer.C:
	}
	select {
	case <-closed: // closed just in time: select picks at random among ready cases
	default:
		t.Errorf("%s: connection still open at the deadline", what)
	}
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// watch reads conn until the server closes it (or it fails), then closes the channel.
func watch(conn net.Conn) chan struct{} {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_, _ = io.Copy(io.Discard, conn)
	}()
	return closed
}

// trickle writes b to conn once every Interval, n times, until the connection is closed.
func trickle(conn net.Conn, closed <-chan struct{}, b []byte, n int) {
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for range n {
		select {
		case <-closed:
			return
		case <-tick.C:
		}
		if _, err := conn.Write(b); err != nil {
			return
		}
	}
}
