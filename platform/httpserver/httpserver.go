// Package httpserver builds the reference platform's HTTP servers. Every server of the
// platform (gateway, data tier, node agents and replicas, the supervisor's cost exporter and
// control API) is made by [New] with the topology's [Timeouts], so that no client can hold a
// connection open by sending its headers or its body slowly, by reading the answer slowly, or
// by idling between requests.
//
//	srv := httpserver.New(mux, topo.HTTP.Timeouts())
//	go srv.Serve(ln)
package httpserver

import (
	"net/http"
	"time"
)

// Timeouts bound how long one client may hold a connection. Zero fields take [Default]'s;
// no server of the platform runs without all four.
type Timeouts struct {
	// ReadHeader bounds reading a request's line and headers.
	ReadHeader time.Duration `json:"read_header"`
	// Read bounds reading the whole request, body included, from its first byte: it is the
	// body read deadline. A client that sends its body one byte a second is cut off when it
	// passes (the server answers if it can and closes the connection). It does not bound the
	// handler: once the body has been read, the handler may take as long as Write allows.
	Read time.Duration `json:"read"`
	// Write bounds the time from the end of the request's headers to the end of the answer:
	// reading the body, handling the request and writing the answer to a client that reads
	// it slowly. It must exceed Read plus the slowest handler of the server.
	Write time.Duration `json:"write"`
	// Idle bounds how long a keep-alive connection waits for its next request.
	Idle time.Duration `json:"idle"`
}

// Default are the timeouts of the topology's defaults (docs/platform.md): headers within 10
// s, the whole request within 30 s, the answer within 90 s of the headers (the gateway's
// three attempts of 10 s each after a 30 s body, with room to spare), 60 s idle.
var Default = Timeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: 90 * time.Second, Idle: 60 * time.Second}

// WithDefaults returns t with every zero (or negative) field set to Default's.
func (t Timeouts) WithDefaults() Timeouts {
	for _, f := range []struct{ v, def *time.Duration }{
		{&t.ReadHeader, &Default.ReadHeader}, {&t.Read, &Default.Read}, {&t.Write, &Default.Write}, {&t.Idle, &Default.Idle},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return t
}

// New returns a server of h with the timeouts t (zero fields take Default's). Start it with
// Serve on a listener; stop it with Shutdown.
func New(h http.Handler, t Timeouts) *http.Server {
	t = t.WithDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
	}
}
