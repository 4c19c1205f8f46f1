package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
	"time"
)

// ErrNothingListening is the error of [Probe] when the target's address refuses connections.
var ErrNothingListening = errors.New("nothing is listening")

// Probe opens one TCP connection to the host and port of target (an http or https URL) and
// closes it, sending nothing: before a load starts, it tells a target that cannot be reached
// from one that answers badly, in at most timeout. A refused connection is
// [ErrNothingListening], wrapped with the address.
func Probe(ctx context.Context, target *url.URL, timeout time.Duration) error {
	port := target.Port()
	if port == "" {
		port = "80"
		if target.Scheme == "https" {
			port = "443"
		}
	}
	addr := net.JoinHostPort(target.Hostname(), port)
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w on %s (connection refused)", ErrNothingListening, addr)
	case err != nil:
		return fmt.Errorf("cannot connect to %s: %w", addr, err)
	}
	return conn.Close()
}
