// Package http1test provides loopback servers for testing HTTP/1.1 clients (package http1's
// Transport and the load engine's VU client on top of it): a raw TCP server whose handler
// reads and writes exact bytes, for the malformed, interim and unsolicited responses no
// net/http server sends, and an httptest server that counts the connections it accepted, to
// see keep-alive at work. Every server is shut down by the test's cleanup.
package http1test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dailydoco/ddp-verify/internal/testenv"
)

// Server is an httptest server that counts the connections it accepted.
type Server struct {
	*httptest.Server
	conns atomic.Int64
}

// NewServer starts a Server with handler h.
func NewServer(tb testing.TB, h http.Handler) *Server {
	tb.Helper()
	s := &Server{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	tb.Cleanup(s.Close)
	return s
}

// Conns is the number of connections accepted so far.
func (s *Server) Conns() int64 { return s.conns.Load() }

// RawServer serves each accepted connection with its handler on a goroutine of its own, and
// closes the connection when the handler returns.
type RawServer struct {
	// URL is "http://" and the listening address, without a trailing slash.
	URL   string
	conns atomic.Int64
}

// NewRawServer starts a RawServer on 127.0.0.1. handle gets the connection and a reader on
// it; the cleanup closes the listener and every open connection (which unblocks handlers
// reading from them) and waits for the handlers to return.
func NewRawServer(tb testing.TB, handle func(c net.Conn, br *bufio.Reader)) *RawServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &RawServer{URL: "http://" + ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			mu.Lock()
			open[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					mu.Lock()
					delete(open, c)
					mu.Unlock()
					_ = c.Close()
				}()
				handle(c, bufio.NewReader(c))
			})
		}
	})
	tb.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range open {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// Conns is the number of connections accepted so far.
func (s *RawServer) Conns() int64 { return s.conns.Load() }

// NewAnswering starts a RawServer that answers every request with the bytes of response,
// keeping the connection for the next request unless closeAfter is set.
func NewAnswering(tb testing.TB, response string, closeAfter bool) *RawServer {
	tb.Helper()
	return NewRawServer(tb, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := ReadRequest(br); err != nil {
				return
			}
			if _, err := io.WriteString(c, response); err != nil || closeAfter {
				return
			}
		}
	})
}

// ReadRequest reads one request from br: the lines of its head (request line first, without
// line ends) and its body, framed by Content-Length (none without one).
func ReadRequest(br *bufio.Reader) (head []string, body string, err error) {
	n := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		head = append(head, line)
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			n, _ = strconv.Atoi(v)
		}
	}
	b := make([]byte, n)
	_, err = io.ReadFull(br, b)
	return head, string(b), err
}

// RefusedURL returns an http:// URL on loopback where connections are refused for as long as
// tb runs ([testenv.RefusedAddr]: no other test's server can take the port meanwhile).
func RefusedURL(tb testing.TB) string {
	tb.Helper()
	return "http://" + testenv.RefusedAddr(tb) + "/"
}
