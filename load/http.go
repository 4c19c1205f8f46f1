package load

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dailydoco/ddp-verify/http1"
)

// HTTPOptions configure the engine's HTTP clients.
type HTTPOptions struct {
	// Timeout bounds each request, body included. Zero means 60s (k6's default).
	Timeout time.Duration
	// LocalAddrs, when set, is a pool of local source addresses (like k6's --local-ips): VU n
	// dials from LocalAddrs[n mod len], so the load spreads over many client addresses.
	LocalAddrs []net.IP
	// InsecureSkipVerify disables TLS certificate checks (test targets).
	InsecureSkipVerify bool
	// DisableKeepAlives opens a new connection per request.
	DisableKeepAlives bool
	// UserAgent is sent when the request has none. Empty means "ddp-verify".
	UserAgent string
	// Headers are sent with every request that does not set them itself, e.g. the token an
	// API gateway in front of a staging platform requires. Keys must be canonical
	// (http.CanonicalHeaderKey); the values are shared by all VUs and never modified.
	Headers http.Header
	// NetHTTP sends every request through net/http's transport. By default plain http://
	// requests that the lean HTTP/1.1 client ([http1.Transport]) can send exactly as net/http
	// would go through it (a persistent connection per VU, no per-request goroutines or
	// contexts), and everything else (https, unknown-length bodies, ...) through net/http.
	NetHTTP bool
}

// ErrorClass is why a request failed; it is the reason label of
// ddp_client_request_errors_total.
type ErrorClass string

// Error classes.
const (
	ClassTimeout ErrorClass = "timeout"
	ClassConnect ErrorClass = "connect"
	ClassReset   ErrorClass = "reset"
	ClassTLS     ErrorClass = "tls"
	Class4xx     ErrorClass = "4xx"
	Class5xx     ErrorClass = "5xx"
	ClassOther   ErrorClass = "other"
)

// RequestError is returned by [Client.Do] when no response arrived.
type RequestError struct {
	Class ErrorClass
	Err   error
}

func (e *RequestError) Error() string { return fmt.Sprintf("request failed (%s): %v", e.Class, e.Err) }
func (e *RequestError) Unwrap() error { return e.Err }

// Timings are the phases of one request, as k6 defines them. Duration is
// Sending+Waiting+Receiving (k6's http_req_duration).
type Timings struct {
	Blocked, Connecting, TLSHandshaking, Sending, Waiting, Receiving, Duration time.Duration
}

// Response is a received response. Body holds the whole body unless the client discards
// bodies; it stays valid after later requests.
type Response struct {
	Status  int
	Proto   string
	Header  http.Header
	Body    []byte
	Timings Timings
	// Location is the URL of the response: the request's, or the last redirect's (kept as
	// parsed: [Response.URL] makes the string when someone asks).
	Location *url.URL
}

// URL is the response's URL as a string.
func (r *Response) URL() string {
	if r.Location == nil {
		return ""
	}
	return r.Location.String()
}

// OK reports whether the status is in 200..399 (k6's expected_response).
func (r *Response) OK() bool { return r.Status >= 200 && r.Status < 400 }

// Client is a VU's instrumented HTTP client. It is owned by one VU and not safe for
// concurrent use.
type Client struct {
	// DiscardBody makes the client read and count response bodies without keeping them.
	DiscardBody bool

	vu      *VU
	rec     *recorder // the VU's, or a batch client's own
	jar     *jarView
	opts    RequestOptions // of the request in flight
	batch   []*Client      // the clients a batch sends from, made on the first batch
	hc      http.Client
	tr      reqTrace
	trace   *httptrace.ClientTrace // records into tr, for both round trippers
	ids     map[reqKey]*[7]int32
	timeout time.Duration
	ua      string
	uaVal   []string // []string{ua}, shared by the requests Get builds (never modified)
	buf     bytes.Buffer

	lastURL    string
	lastParsed *url.URL

	// The request in flight: Do's context and deadline, read by the round trippers (a
	// redirect's hops share them, so Timeout bounds the whole request).
	ctx      context.Context
	deadline time.Time
}

type reqKey struct {
	step, method string
	status       int
	tags         string // encodeTags of the request's own tags
}

// reqTrace holds the phase instants of the request in flight, in ns of the engine clock.
// Fields are atomic because net/http may call trace hooks from its dialing goroutine after a
// cancelled request has returned.
type reqTrace struct {
	clk                 func() time.Duration
	getConn, gotConn    atomic.Int64
	connStart, connDone atomic.Int64
	tlsStart, tlsDone   atomic.Int64
	wrote, firstByte    atomic.Int64
	reused              atomic.Bool
}

func (t *reqTrace) reset() {
	for _, a := range []*atomic.Int64{&t.getConn, &t.gotConn, &t.connStart, &t.connDone, &t.tlsStart, &t.tlsDone, &t.wrote, &t.firstByte} {
		a.Store(0)
	}
	t.reused.Store(false)
}

func (t *reqTrace) now() int64 { return int64(t.clk()) }

// lazyJar is a VU's cookie jar, created on the first cookie so that VUs without cookies pay
// nothing per request. The VU's clients share it (a batch sends from several at once).
type lazyJar struct {
	mu  sync.Mutex
	jar *cookiejar.Jar
}

func (j *lazyJar) get(create bool) *cookiejar.Jar {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.jar == nil && create {
		j.jar, _ = cookiejar.New(nil)
	}
	return j.jar
}

func (j *lazyJar) SetCookies(u *url.URL, cookies []*http.Cookie) { j.get(true).SetCookies(u, cookies) }

func (j *lazyJar) Cookies(u *url.URL) []*http.Cookie {
	if jar := j.get(false); jar != nil {
		return jar.Cookies(u)
	}
	return nil
}

// jarView is one client's view of the VU's jar: the request in flight may set some cookies
// itself ([RequestOptions.OwnCookies]), and the jar's cookies of those names are then left out.
type jarView struct {
	*lazyJar
	own []string
}

func (v *jarView) Cookies(u *url.URL) []*http.Cookie {
	cookies := v.lazyJar.Cookies(u)
	if len(v.own) > 0 {
		cookies = slices.DeleteFunc(cookies, func(c *http.Cookie) bool { return slices.Contains(v.own, c.Name) })
	}
	return cookies
}

// RequestOptions change one request sent with [Client.DoWith].
type RequestOptions struct {
	// Redirects is how many redirects to follow; a response that would need one more is
	// returned as it is (k6's redirects param). Negative: net/http's policy (up to 10, then
	// an error), which is what [Client.Do] uses.
	Redirects int
	// OwnCookies are the names of cookies the request's Cookie header carries itself: the
	// jar's cookies of those names are not added (k6's params.cookies with replace).
	OwnCookies []string
	// Timeout bounds the request, body and redirects included, instead of
	// [HTTPOptions.Timeout] (k6's params.timeout); zero keeps that.
	Timeout time.Duration
	// DiscardBody reads and counts the response body without keeping it, as
	// [Client.DiscardBody] does for every request (k6's responseType "none").
	DiscardBody bool
	// Tags are the request's own tags beside scenario, step, method and status (k6's request
	// tags): its series are kept apart by them and thresholds filter on them.
	Tags map[string]string
}

// defaultRequest is what [Client.Do] sends with.
var defaultRequest = RequestOptions{Redirects: -1}

func newClient(vu *VU) *Client { return newClientWith(vu, &vu.rec, &lazyJar{}) }

// newClientWith returns a client of vu that records into rec and keeps cookies in jar.
func newClientWith(vu *VU, rec *recorder, jar *lazyJar) *Client {
	e := vu.eng
	c := &Client{vu: vu, rec: rec, jar: &jarView{lazyJar: jar}, ids: map[reqKey]*[7]int32{}, timeout: orDur(e.http.Timeout, 60*time.Second), ua: e.http.UserAgent}
	if c.ua == "" {
		c.ua = "ddp-verify"
	}
	c.uaVal = []string{c.ua}
	c.tr.clk = e.elapsed
	t := &c.tr
	c.trace = &httptrace.ClientTrace{
		GetConn: func(string) { t.getConn.Store(t.now()) },
		GotConn: func(i httptrace.GotConnInfo) {
			t.gotConn.Store(t.now())
			t.reused.Store(i.Reused)
		},
		ConnectStart: func(string, string) {
			if t.connStart.Load() == 0 {
				t.connStart.Store(t.now())
			}
		},
		ConnectDone:          func(string, string, error) { t.connDone.Store(t.now()) },
		TLSHandshakeStart:    func() { t.tlsStart.Store(t.now()) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { t.tlsDone.Store(t.now()) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { t.wrote.Store(t.now()) },
		GotFirstResponseByte: func() { t.firstByte.Store(t.now()) },
	}
	shared := e.transport(vu.id)
	nh := &netHTTPTransport{c: c, rt: shared}
	var rt http.RoundTripper = nh
	if !e.http.NetHTTP {
		// The VU's own HTTP/1.1 transport records into the same hooks, dials as the shared
		// transport does (local address, counted bytes), and hands it what it does not send.
		lt := &http1.Transport{DialContext: shared.DialContext, Fallback: nh, DisableKeepAlives: e.http.DisableKeepAlives,
			Trace: c.trace, RequestContext: c.requestContext}
		e.addLean(lt)
		rt = lt
	}
	c.hc = http.Client{Transport: rt, Jar: c.jar, CheckRedirect: c.checkRedirect}
	return c
}

// checkRedirect applies the request's redirect limit: past it, the last response is returned.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	switch {
	case c.opts.Redirects < 0 && len(via) >= 10:
		return errors.New("stopped after 10 redirects")
	case c.opts.Redirects >= 0 && len(via) > c.opts.Redirects:
		return http.ErrUseLastResponse
	}
	return nil
}

// Jar returns the VU's cookie jar (k6's per-VU jar): the cookies responses set, sent with the
// VU's later requests.
func (c *Client) Jar() http.CookieJar { return c.jar.lazyJar }

// requestContext is the lean transport's view of the request in flight: Do's context and
// deadline, so that it needs no context per request.
func (c *Client) requestContext(*http.Request) (context.Context, time.Time) {
	return c.ctx, c.deadline
}

// Get sends a GET tagged with step.
func (c *Client) Get(ctx context.Context, step, url string) (*Response, error) {
	u, err := c.parse(url)
	if err != nil {
		return nil, fmt.Errorf("build GET %s: %w", url, err)
	}
	req := &http.Request{Method: http.MethodGet, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"User-Agent": c.uaVal}, Host: u.Host}
	return c.Do(ctx, step, req)
}

// parse parses rawURL, reusing the last result: VUs mostly hit the same URLs and the
// transport only reads req.URL.
func (c *Client) parse(rawURL string) (*url.URL, error) {
	if c.lastURL == rawURL && c.lastParsed != nil {
		return c.lastParsed, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("want an absolute URL, got %q", rawURL)
	}
	c.lastURL, c.lastParsed = rawURL, u
	return u, nil
}

// Post sends a POST with body tagged with step.
func (c *Client) Post(ctx context.Context, step, url, contentType string, body []byte) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build POST %s: %w", url, err)
	}
	req.Header.Set("Content-Type", contentType)
	return c.Do(ctx, step, req)
}

// Do sends req under ctx, reads the whole body, and records the request's timings under the
// series {scenario, step, method, status}. A response with any status is returned without
// error (statuses outside 200..399 are counted as failed requests, class 4xx or 5xx); when no
// response arrives the error is a *[RequestError] with its class. Redirects are followed as
// net/http does (up to 10) and the chain counts as one request.
func (c *Client) Do(ctx context.Context, step string, req *http.Request) (*Response, error) {
	return c.DoWith(ctx, step, req, defaultRequest)
}

// DoWith is [Client.Do] with the request's own options.
func (c *Client) DoWith(ctx context.Context, step string, req *http.Request, o RequestOptions) (*Response, error) {
	c.opts, c.jar.own = o, o.OwnCookies
	defer func() { c.jar.own = nil }()
	t := &c.tr
	t.reset()
	if req.Header == nil {
		req.Header = make(http.Header, 1)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.ua)
	}
	for k, vs := range c.vu.eng.http.Headers {
		if _, ok := req.Header[k]; !ok {
			req.Header[k] = vs
		}
	}
	start := t.now()
	timeout := c.timeout
	if o.Timeout > 0 {
		timeout = o.Timeout
	}
	c.ctx, c.deadline = ctx, time.Now().Add(timeout)
	defer func() { c.ctx = nil }()
	resp, err := c.hc.Do(req)
	var out *Response
	var class ErrorClass
	status := 0
	if err == nil {
		var n int64
		discard := c.DiscardBody || o.DiscardBody
		if discard {
			n, err = io.Copy(io.Discard, resp.Body)
		} else {
			c.buf.Reset()
			n, err = c.buf.ReadFrom(resp.Body)
		}
		_ = n
		resp.Body.Close()
		status = resp.StatusCode
		if err == nil {
			out = &Response{Status: status, Proto: resp.Proto, Header: resp.Header, Location: resp.Request.URL}
			if !discard {
				out.Body = bytes.Clone(c.buf.Bytes())
			}
		}
	}
	end := t.now()
	if err != nil {
		class = classify(err)
		status = 0
	} else if status >= 500 {
		class = Class5xx
	} else if status >= 400 || status < 200 {
		class = Class4xx
	}
	tm := c.timings(start, end)
	if out != nil {
		out.Timings = tm
	}
	c.record(step, req.Method, status, class, end, tm)
	if err != nil {
		return nil, &RequestError{Class: class, Err: err}
	}
	return out, nil
}

func span(a, b int64) time.Duration {
	if a == 0 || b == 0 || b < a {
		return 0
	}
	return time.Duration(b - a)
}

func (c *Client) timings(start, end int64) Timings {
	t := &c.tr
	var tm Timings
	got := t.gotConn.Load()
	if !t.reused.Load() {
		tm.Connecting = span(t.connStart.Load(), t.connDone.Load())
		tm.TLSHandshaking = span(t.tlsStart.Load(), t.tlsDone.Load())
	}
	if got != 0 {
		tm.Blocked = max(span(start, got)-tm.Connecting-tm.TLSHandshaking, 0)
		wrote, fb := t.wrote.Load(), t.firstByte.Load()
		tm.Sending = span(got, wrote)
		tm.Waiting = span(wrote, fb)
		tm.Receiving = span(fb, end)
		tm.Duration = span(got, end)
	} else {
		tm.Duration = span(start, end)
	}
	return tm
}

var statusText = func() [600]string {
	var s [600]string
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusText) {
		return statusText[code]
	}
	return strconv.Itoa(code)
}

// phase metrics in the order of the ids array after http_req_duration.
var phaseMetrics = [6]string{MetricReqBlocked, MetricReqConnecting, MetricReqTLS, MetricReqSending, MetricReqWaiting, MetricReqReceiving}

func (c *Client) record(step, method string, status int, class ErrorClass, end int64, tm Timings) {
	vu := c.vu
	k := reqKey{step, method, status, encodeTags(c.opts.Tags)}
	ids, ok := c.ids[k]
	if !ok {
		ids = new([7]int32)
		st := vu.eng.store
		ids[0] = st.id(seriesKey{Metric: MetricReqDuration, Scenario: vu.scenario, Step: step, Method: method, Status: statusLabel(status), Tags: k.tags})
		for i, m := range phaseMetrics {
			ids[i+1] = st.id(seriesKey{Metric: m, Scenario: vu.scenario, Step: step, Tags: k.tags})
		}
		c.ids[k] = ids
	}
	t := time.Duration(end)
	c.rec.add(sample{t: t, v: int64(tm.Duration), id: ids[0], kind: sRequest, failed: class != "", reason: string(class)})
	for i, v := range [6]time.Duration{tm.Blocked, tm.Connecting, tm.TLSHandshaking, tm.Sending, tm.Waiting, tm.Receiving} {
		c.rec.add(sample{t: t, v: int64(v), id: ids[i+1], kind: sTrend})
	}
}

// netHTTPTransport sends a request through net/http's shared transport under the Client's
// context and deadline, with httptrace hooks for the phase timings.
type netHTTPTransport struct {
	c  *Client
	rt http.RoundTripper
}

func (n *netHTTPTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := n.c
	ctx, cancel := context.WithDeadline(httptrace.WithClientTrace(c.ctx, c.trace), c.deadline)
	resp, err := n.rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody releases the request's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// classify maps a transport error to its class.
func classify(err error) ErrorClass {
	var ne net.Error
	var oe *net.OpError
	var te *tls.RecordHeaderError
	var ce *tls.CertificateVerificationError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ClassTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return ClassTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &oe) && oe.Op == "dial":
		return ClassConnect
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ClassReset
	case errors.As(err, &te), errors.As(err, &ce):
		return ClassTLS
	}
	return ClassOther
}

// countingConn counts wire bytes into the engine's totals.
type countingConn struct {
	net.Conn
	sent, recv *atomic.Uint64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.recv.Add(uint64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.sent.Add(uint64(n))
	return n, err
}

// NetConn returns the counted connection, so that the lean transport's idle check can peek at
// its socket.
func (c *countingConn) NetConn() net.Conn { return c.Conn }

// newTransports builds one shared keep-alive transport per local address (one in all when no
// pool is set). Its DialContext (local address, counted bytes) also dials the VUs' lean
// connections.
func (e *Engine) newTransports() {
	addrs := e.http.LocalAddrs
	if len(addrs) == 0 {
		addrs = []net.IP{nil}
	}
	e.transports = make([]*http.Transport, len(addrs))
	for i, ip := range addrs {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		if ip != nil {
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
		e.transports[i] = &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &countingConn{Conn: c, sent: &e.sent, recv: &e.recv}, nil
			},
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: 1 << 16,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
			DisableKeepAlives:   e.http.DisableKeepAlives,
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: e.http.InsecureSkipVerify}, //nolint:gosec // opt-in for test targets
		}
	}
}

// transport returns VU vuID's shared net/http transport.
func (e *Engine) transport(vuID int64) *http.Transport {
	e.trOnce.Do(e.newTransports)
	return e.transports[int(vuID-1)%len(e.transports)]
}

// addLean registers a VU's lean transport so the run's end closes its connections.
func (e *Engine) addLean(t *http1.Transport) {
	e.leanMu.Lock()
	e.leans = append(e.leans, t)
	e.leanMu.Unlock()
}

// closeLean closes the VUs' idle lean connections (the run is over).
func (e *Engine) closeLean() {
	e.leanMu.Lock()
	defer e.leanMu.Unlock()
	for _, t := range e.leans {
		t.CloseIdleConnections()
	}
}
