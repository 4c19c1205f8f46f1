// Package http1 is a lean HTTP/1.1 client transport for load generation: an
// [http.RoundTripper] that sends plain http:// requests on its own persistent connections,
// one exchange at a time, on the caller's goroutine. It is named for the one protocol it
// speaks, as golang.org/x/net/http2 is; everything else goes to a fallback RoundTripper.
//
// net/http's transport spends a reader and a writer goroutine per connection, channel
// hand-offs, a context and a dozen allocations per request: several times the CPU of the
// exchange itself on loopback, which a load generator pays on every request. A [Transport]
// instead belongs to one goroutine (a load VU), keeps that goroutine's connections, writes the
// request and reads the response head itself with bufio buffers borrowed from a pool for the
// exchange only, bounds the exchange with connection deadlines instead of a context per
// request, and reports the phases through an [httptrace.ClientTrace] it holds rather than
// one on each request's context. It sits under [http.Client] as its Transport, so redirects,
// cookies and the Authorization-from-URL rule stay net/http's.
//
// # What it does
//
// It mirrors net/http's transport wherever the two could differ observably, and its tests
// check that against net/http on loopback (same request bytes, same responses, same errors):
//
//   - Requests: any token method, with no body or a body of known length (ContentLength > 0,
//     or http.NoBody); the request line, Host, a default "User-Agent: Go-http-client/1.1"
//     (none when the header is set empty), "Content-Length: 0" for a bodiless POST, PUT or
//     PATCH, and "Connection: close" for req.Close or [Transport.DisableKeepAlives], as
//     net/http writes them. A body shorter or longer than its ContentLength is an error.
//   - Compression: "Accept-Encoding: gzip" when the request sets neither Accept-Encoding nor
//     Range and is not HEAD, and then transparent decompression (Content-Encoding and
//     Content-Length removed, Uncompressed set).
//   - Responses: HTTP/1.x status lines; header lines folded, with a bare LF, in
//     any case, or longer than the 4 KiB buffer (the head may be up to 10 MiB); up to 5 1xx
//     interim responses (100 Continue and 103 Early Hints alike) skipped before the final
//     one; 101 Switching Protocols returned as final with no body and its connection closed.
//   - Bodies: Content-Length, chunked (extensions ignored; the trailer section read and
//     discarded, so resp.Trailer stays nil) and read-until-close; none for HEAD, 1xx, 204 and
//     304. Repeated equal Content-Length headers are merged, differing ones are an error;
//     Transfer-Encoding is removed from the header, as are Content-Length and Trailer when
//     chunked and Connection when an HTTP/1.1 response says close.
//   - Keep-alive: at most 4 idle connections per Transport (distinct host:ports; the least
//     recently used is closed first). A connection is closed rather than kept when either side
//     says "Connection: close", when an HTTP/1.0 response does not say keep-alive, when the
//     body is framed by the close, when the body is closed before its end, or when unsolicited
//     bytes follow the response. A connection idle for 1 ms or more is checked with one
//     non-blocking peek before reuse (Unix only; net/http learns of a server's close from its
//     background read). A reused connection that still breaks (closed or reset, not timed
//     out) before any response byte is replaced, and the request sent again once on a new
//     connection, when net/http would retry it: the method is GET, HEAD, OPTIONS or TRACE, or
//     the request carries an Idempotency-Key or X-Idempotency-Key header, or nothing of it was
//     written; and its body, if any, can be rewound (GetBody). Otherwise the request fails.
//   - Time: the deadline of [Transport.RequestContext] or of the request's context bounds
//     the dial, the exchange and the body (as [http.Client.Timeout] does); cancelling the
//     context aborts the exchange in flight and the error is the context's, as in net/http.
//   - Phases: GetConn, ConnectStart, ConnectDone, GotConn (Reused, WasIdle, IdleTime),
//     WroteRequest and GotFirstResponseByte of [Transport.Trace], so connecting, sending,
//     waiting and receiving can be timed as with net/http.
//
// # What it does not do
//
// Requests it does not send itself go to [Transport.Fallback]: https and any scheme but
// http; CONNECT; requests with an Upgrade header; request bodies of unknown length (net/http
// may send them chunked) and explicit Transfer-Encoding or request trailers; and methods,
// hosts or header fields net/http would reject or rewrite (non-token methods or names,
// control characters in values, IPv6 zones, non-ASCII hosts).
//
// It has no TLS, no HTTP/2, no proxies (environment variables are ignored), no
// protocol switch after 101, no waiting on "Expect: 100-continue" (the body goes with the
// head, as in net/http when ExpectContinueTimeout is zero), no response trailers, no
// idle-connection timeout (idle connections are checked on reuse and closed by
// [Transport.CloseIdleConnections]), no separate dial, TLS or response-header timeouts beyond
// the dialer's and the deadline, no compression but gzip, and no concurrent use: one request at
// a time per Transport. It calls no DNS, TLS, 1xx, Got100Continue, Wait100Continue,
// WroteHeaderField, WroteHeaders or PutIdleConn hook, and WroteRequest only after a successful
// write. Headers after Host, User-Agent and Content-Length go out in map order, where net/http
// sorts them (servers may not care; the bytes differ in order only).
//
// # Use in ddp-verify
//
// Package load gives each VU its own Transport under the VU's [http.Client]: DialContext
// counts wire bytes (and dials from the VU's local address), Trace feeds the k6 phase
// timings, RequestContext passes the VU's request context and the client timeout (shared by
// a request and its redirects), and Fallback is the engine's keep-alive net/http transport,
// shared by all VUs. load falls back to net/http for whatever the Transport hands to
// Fallback above, and for every request when load.HTTPOptions.NetHTTP is set. The run's end
// calls CloseIdleConnections on every VU's Transport.
package http1
