package http1

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	maxIdle        = 4        // idle connections a Transport keeps (distinct host:ports)
	maxHeaderBytes = 10 << 20 // as net/http's transport
	max1xx         = 5        // interim responses tolerated before the final one
	maxLine        = 4096     // chunk-size and trailer line limit
)

// probeAfter is how long a connection may sit idle before it is checked (one peek) before
// reuse; a variable for tests.
var probeAfter = time.Millisecond

var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
	// aLongTimeAgo is a deadline in the past: setting it unblocks I/O at once.
	aLongTimeAgo = time.Unix(1, 0)

	errBodyClosed = errors.New("http: read on closed response body")

	// defaultDial dials when Transport.DialContext is nil, with net/http's default timeouts.
	defaultDial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
)

// conn is one persistent connection of a Transport.
type conn struct {
	addr    string
	nc      net.Conn // as DialContext returned it
	br      *bufio.Reader
	written int64     // bytes handed to the socket in the exchange in flight
	served  int       // exchanges completed
	idleAt  time.Time // when it went back to the idle set
}

// Write counts what reaches the socket so a failed exchange knows whether anything was sent.
func (lc *conn) Write(p []byte) (int, error) {
	n, err := lc.nc.Write(p)
	lc.written += int64(n)
	return n, err
}

func (lc *conn) close() {
	_ = lc.nc.Close()
	if lc.br != nil {
		lc.br.Reset(nil)
		readers.Put(lc.br)
		lc.br = nil
	}
}

// Transport is an [http.RoundTripper] that sends plain http:// requests over HTTP/1.1 on its
// own persistent connections, and hands every other request to Fallback (see the package
// doc for which). Its zero value is ready to use.
//
// A Transport serves one goroutine, one exchange at a time: a request may be sent only after
// the previous response's body was closed ([http.Client] does so before it follows a
// redirect), and that body must not be used afterwards, because the Transport reuses one body
// value for all its responses. Give each goroutine that sends requests a Transport of its
// own; it is not safe for concurrent use, except [Transport.CloseIdleConnections], which may
// be called from any goroutine once no request is in flight.
type Transport struct {
	// DialContext dials new connections ("tcp", host:port). Nil means a [net.Dialer] with
	// net/http's default timeouts. The deadline of the request is on ctx. A connection that
	// wraps another should have a NetConn() net.Conn method returning it (as
	// [crypto/tls.Conn] has), so that the idle check can reach the socket; without one the
	// check is skipped.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Fallback sends the requests the Transport does not send itself. Nil means
	// [http.DefaultTransport].
	Fallback http.RoundTripper

	// DisableKeepAlives sends every request with "Connection: close" on a new connection.
	DisableKeepAlives bool

	// Trace, when set, is called at the phases of each exchange the Transport sends itself:
	// GetConn, ConnectStart and ConnectDone (when it dials), GotConn (Reused, WasIdle and
	// IdleTime set), WroteRequest (once the request is written in full; never with an error)
	// and GotFirstResponseByte, all on the goroutine that called RoundTrip. No other hook is
	// called. A trace on the request's context is not read; requests sent to Fallback are
	// traced only there.
	Trace *httptrace.ClientTrace

	// RequestContext, when set, returns the context and deadline that bound req in place of
	// req.Context() and its deadline (a zero deadline is none; the earlier of the deadline and
	// the context's own applies). A caller that sends many requests under one context uses it
	// to avoid a context per request: req.WithContext allocates, and so does a deadline.
	RequestContext func(req *http.Request) (ctx context.Context, deadline time.Time)

	idle []*conn // idle connections, most recently used last

	mu        sync.Mutex // guards cur's deadline and the watch against abort
	cur       *conn      // connection of the exchange in flight
	watchCtx  context.Context
	watchStop func() bool

	body respBody // the response body in flight (one exchange at a time)
}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip implements [http.RoundTripper]. It sends req itself when it can send it exactly
// as net/http's transport would, and otherwise through Fallback. It always closes req.Body.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !handles(req) {
		return t.fallback().RoundTrip(req)
	}
	ctx, deadline := t.bounds(req)
	body := req.Body
	if body == http.NoBody {
		body = nil
	}
	if err := ctx.Err(); err != nil {
		closeReqBody(body)
		return nil, err
	}
	t.watch(ctx)
	addr := dialAddr(req.URL)
	for {
		resp, retry, err := t.exchange(ctx, deadline, req, body, addr)
		if err == nil {
			closeReqBody(body) // sent in full; RoundTrip always closes the body
			return resp, nil
		}
		if retry && body != nil {
			closeReqBody(body)
			if body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		if !retry {
			closeReqBody(body)
			return nil, err
		}
	}
}

func (t *Transport) fallback() http.RoundTripper {
	if t.Fallback == nil {
		return http.DefaultTransport
	}
	return t.Fallback
}

// bounds returns the context and deadline of req: RequestContext's, or req's own.
func (t *Transport) bounds(req *http.Request) (context.Context, time.Time) {
	if t.RequestContext != nil {
		return t.RequestContext(req)
	}
	ctx := req.Context()
	dl, _ := ctx.Deadline()
	return ctx, dl
}

func closeReqBody(b io.ReadCloser) {
	if b != nil {
		_ = b.Close()
	}
}

// handles reports whether the Transport can send req exactly as net/http would.
func handles(req *http.Request) bool {
	u := req.URL
	if u == nil || u.Scheme != "http" || u.Host == "" || req.Method == http.MethodConnect ||
		len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength <= 0 {
		return false // unknown length: net/http probes the body and may send it chunked
	}
	if !validMethod(req.Method) || !validHost(u.Host) || (req.Host != "" && !validHost(req.Host)) {
		return false
	}
	for k, vv := range req.Header {
		if !validHeaderName(k) || k == "Upgrade" {
			return false
		}
		for _, v := range vv {
			if !validHeaderValue(v) {
				return false
			}
		}
	}
	return true
}

func isTokenByte(b byte) bool {
	if b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

func validMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		if !isTokenByte(m[i]) {
			return false
		}
	}
	return true
}

func validHeaderName(k string) bool { return k != "" && validMethod(k) }

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// validHost accepts the hosts net/http sends unchanged: RFC 3986 host characters (its
// ValidHostHeader set), without '%' (net/http strips IPv6 zones) or non-ASCII (it punycodes).
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		b := h[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9') &&
			strings.IndexByte("!$&'()*+,-.:;=[]_~", b) < 0 {
			return false
		}
	}
	return true
}

// dialAddr is the dial address of u: its host with port 80 by default.
func dialAddr(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// replayable is net/http's rule for retrying a request whose connection broke.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

// watch makes a cancellation of ctx abort the exchange in flight. The registration is kept
// while the caller keeps passing the same context (a load VU's iteration context), so it
// costs nothing per request.
func (t *Transport) watch(ctx context.Context) {
	if ctx == t.watchCtx {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.watchStop != nil {
		t.watchStop()
		t.watchStop = nil
	}
	t.watchCtx = ctx
	if ctx.Done() != nil {
		t.watchStop = context.AfterFunc(ctx, func() { t.abort(ctx) })
	}
}

func (t *Transport) abort(ctx context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.watchCtx == ctx && t.cur != nil {
		_ = t.cur.nc.SetDeadline(aLongTimeAgo)
	}
}

// setCur makes lc the connection in flight with deadline dl (nil: none in flight).
func (t *Transport) setCur(lc *conn, dl time.Time) {
	t.mu.Lock()
	t.cur = lc
	if lc != nil {
		_ = lc.nc.SetDeadline(dl)
	}
	t.mu.Unlock()
}

// CloseIdleConnections closes the idle connections and stops watching the last request's
// context. The Transport stays usable: a later request dials again.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, lc := range t.idle {
		lc.close()
	}
	t.idle = nil
	if t.watchStop != nil {
		t.watchStop()
		t.watchStop, t.watchCtx = nil, nil
	}
}

// getConn returns an idle connection to addr that is still open, or dials one under the
// deadline dl (zero: none). idle is how long the returned connection had been idle.
func (t *Transport) getConn(ctx context.Context, addr string, dl time.Time) (lc *conn, idle time.Duration, err error) {
	for i := len(t.idle) - 1; i >= 0; i-- {
		lc := t.idle[i]
		if lc.addr != addr {
			continue
		}
		t.idle = append(t.idle[:i], t.idle[i+1:]...)
		// A connection idle for a while may have been closed by the server; net/http learns
		// that from its background read, the Transport asks the socket (one non-blocking peek).
		idle := time.Since(lc.idleAt)
		if idle >= probeAfter && !connAlive(lc.nc) {
			lc.close()
			break
		}
		return lc, idle, nil
	}
	tr := t.Trace
	if tr != nil && tr.ConnectStart != nil {
		tr.ConnectStart("tcp", addr)
	}
	dctx := ctx
	if d, ok := ctx.Deadline(); !dl.IsZero() && (!ok || dl.Before(d)) {
		var cancel context.CancelFunc
		dctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	dial := t.DialContext
	if dial == nil {
		dial = defaultDial
	}
	nc, err := dial(dctx, "tcp", addr)
	if tr != nil && tr.ConnectDone != nil {
		tr.ConnectDone("tcp", addr, err)
	}
	if err != nil {
		return nil, 0, err
	}
	return &conn{addr: addr, nc: nc}, 0, nil
}

// putIdle keeps lc for the next request to its address.
func (t *Transport) putIdle(lc *conn) {
	lc.idleAt = time.Now()
	if len(t.idle) >= maxIdle {
		t.idle[0].close()
		t.idle = append(t.idle[:0], t.idle[1:]...)
	}
	t.idle = append(t.idle, lc)
}

// ioErr turns an I/O error of the exchange into what net/http would report: the context's
// error when the context ended.
func ioErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// exchange sends req on a connection to addr and reads the response head. retry reports that
// the request failed on a reused connection in a way net/http would retry on a fresh one.
func (t *Transport) exchange(ctx context.Context, deadline time.Time, req *http.Request, body io.ReadCloser, addr string) (resp *http.Response, retry bool, err error) {
	tr := t.Trace
	if tr != nil && tr.GetConn != nil {
		tr.GetConn(addr)
	}
	dl := deadline
	if d, ok := ctx.Deadline(); ok && (dl.IsZero() || d.Before(dl)) {
		dl = d
	}
	lc, idle, err := t.getConn(ctx, addr, dl)
	if err != nil {
		return nil, false, ioErr(ctx, err)
	}
	reused := lc.served > 0
	if tr != nil && tr.GotConn != nil {
		tr.GotConn(httptrace.GotConnInfo{Conn: lc.nc, Reused: reused, WasIdle: reused, IdleTime: idle})
	}
	t.setCur(lc, dl)
	fail := func(err error, retryable bool) (*http.Response, bool, error) {
		t.setCur(nil, time.Time{})
		lc.close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, false, cerr
		}
		return nil, retryable && reused, err
	}
	if ctx.Err() != nil {
		return fail(nil, false)
	}

	lc.written = 0
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(lc)
	closeConn := t.writeHead(bw, req)
	var werr error
	if body != nil {
		werr = writeBody(bw, body, req.ContentLength)
	}
	if werr == nil {
		werr = bw.Flush()
	}
	bw.Reset(nil)
	writers.Put(bw)
	if werr != nil {
		// Nothing sent: safe to resend when the body can be rewound (net/http's rule).
		nothing := lc.written == 0 && (body == nil || req.GetBody != nil)
		return fail(werr, nothing || replayable(req))
	}
	if tr != nil && tr.WroteRequest != nil {
		tr.WroteRequest(httptrace.WroteRequestInfo{})
	}

	if lc.br == nil {
		lc.br = readers.Get().(*bufio.Reader)
		lc.br.Reset(lc.nc)
	}
	br := lc.br
	if _, err := br.Peek(1); err != nil {
		// No response byte: the server closed or reset a reused connection, or timed out.
		return fail(err, replayable(req) && !isTimeout(err))
	}
	if tr != nil && tr.GotFirstResponseByte != nil {
		tr.GotFirstResponseByte()
	}
	for n1xx := 0; ; n1xx++ {
		resp, err = readHead(br, req)
		if err != nil {
			return fail(err, false)
		}
		code := resp.StatusCode
		if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			break
		}
		if n1xx >= max1xx {
			return fail(errors.New("net/http: too many 1xx informational responses"), false)
		}
	}
	resp.Request = req
	if err := t.body.start(ctx, t, lc, resp, req, !closeConn && !t.DisableKeepAlives); err != nil {
		return fail(err, false)
	}
	return resp, false, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeHead writes the request line and headers as net/http's transport would, and reports
// whether the request asks to close the connection.
func (t *Transport) writeHead(bw *bufio.Writer, req *http.Request) (closeConn bool) {
	u := req.URL
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	if u.Opaque != "" {
		bw.WriteString(u.RequestURI())
	} else {
		p := u.EscapedPath()
		if p == "" {
			p = "/"
		}
		bw.WriteString(p)
		if u.ForceQuery || u.RawQuery != "" {
			bw.WriteByte('?')
			bw.WriteString(u.RawQuery)
		}
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	host := req.Host
	if host == "" {
		host = u.Host
	}
	bw.WriteString(host)
	ua := "Go-http-client/1.1"
	if v, ok := req.Header["User-Agent"]; ok {
		ua = ""
		if len(v) > 0 {
			ua = v[0]
		}
	}
	if ua != "" {
		bw.WriteString("\r\nUser-Agent: ")
		bw.WriteString(ua)
	}
	switch {
	case req.Body != nil && req.Body != http.NoBody:
		bw.WriteString("\r\nContent-Length: ")
		var num [20]byte
		bw.Write(strconv.AppendInt(num[:0], req.ContentLength, 10))
	case method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch:
		bw.WriteString("\r\nContent-Length: 0")
	}
	for k, vv := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		case "Connection":
			for _, v := range vv {
				closeConn = closeConn || hasToken(v, "close")
			}
		}
		for _, v := range vv {
			bw.WriteString("\r\n")
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(textproto.TrimString(v))
		}
	}
	if (req.Close || t.DisableKeepAlives) && !closeConn {
		bw.WriteString("\r\nConnection: close")
		closeConn = true
	}
	if wantsGzip(req) {
		bw.WriteString("\r\nAccept-Encoding: gzip")
	}
	bw.WriteString("\r\n\r\n")
	return closeConn
}

// wantsGzip reports whether the Transport asks for gzip (net/http's transport does when the
// request sets no Accept-Encoding or Range and is not HEAD) and then decompresses transparently.
func wantsGzip(req *http.Request) bool {
	return req.Header.Get("Accept-Encoding") == "" && req.Header.Get("Range") == "" && req.Method != http.MethodHead
}

// writeBody copies exactly n bytes of body; a body of another length is an error, as in net/http.
func writeBody(bw *bufio.Writer, body io.ReadCloser, n int64) error {
	got, err := io.Copy(bw, io.LimitReader(body, n))
	if err != nil {
		return err
	}
	extra, err := io.Copy(io.Discard, body)
	if err != nil {
		return err
	}
	if got+extra != n {
		return fmt.Errorf("http: ContentLength=%d with Body length %d", n, got+extra)
	}
	return nil
}

// hasToken reports whether the comma-separated header value v holds token (any case).
func hasToken(v, token string) bool {
	for v != "" {
		var f string
		f, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(strings.TrimSpace(f), token) {
			return true
		}
	}
	return false
}

// readHead reads one response head from br.
func readHead(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	head, err := readHeadBytes(br)
	if err != nil {
		return nil, err
	}
	s := string(head) // the one allocation holding status, keys and values
	line, rest, _ := strings.Cut(s, "\n")
	line = strings.TrimSuffix(line, "\r")
	proto, status, ok := strings.Cut(line, " ")
	if !ok {
		return nil, fmt.Errorf("malformed HTTP response %q", line)
	}
	status = strings.TrimLeft(status, " ")
	codeStr, _, _ := strings.Cut(status, " ")
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok || major != 1 {
		return nil, fmt.Errorf("malformed HTTP version %q", proto)
	}
	code, err := strconv.Atoi(codeStr)
	if len(codeStr) != 3 || err != nil || code < 0 {
		return nil, fmt.Errorf("malformed HTTP status code %q", codeStr)
	}
	n := strings.Count(rest, "\n")
	h := make(http.Header, n)
	vals := make([]string, n)
	lastKey := ""
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' { // obsolete line folding: continues the last value
			if lastKey == "" {
				return nil, fmt.Errorf("malformed MIME header initial line: %q", line)
			}
			vv := h[lastKey]
			vv[len(vv)-1] += " " + strings.Trim(line, " \t")
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || !validHeaderName(k) {
			return nil, fmt.Errorf("malformed MIME header line: %q", line)
		}
		k = textproto.CanonicalMIMEHeaderKey(k)
		v = strings.Trim(v, " \t")
		if vv, ok := h[k]; ok {
			h[k] = append(vv, v)
		} else {
			vals[0] = v
			h[k] = vals[:1:1]
			vals = vals[1:]
		}
		lastKey = k
	}
	return &http.Response{Status: status, StatusCode: code, Proto: proto, ProtoMajor: major, ProtoMinor: minor,
		Header: h, ContentLength: -1}, nil
}

// readHeadBytes returns the bytes of one head (through its empty line), consumed from br.
// The slice is valid until br is used again.
func readHeadBytes(br *bufio.Reader) ([]byte, error) {
	for {
		buf, _ := br.Peek(br.Buffered())
		if i := headEnd(buf); i >= 0 {
			_, _ = br.Discard(i)
			return buf[:i], nil
		}
		if br.Buffered() == br.Size() {
			return readHeadLines(br)
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			if err == io.EOF && br.Buffered() > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// headEnd returns the length of the head at the start of buf, or -1 if it is not all there.
func headEnd(buf []byte) int {
	for off := 0; ; {
		i := bytes.IndexByte(buf[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
		if off < len(buf) && buf[off] == '\n' {
			return off + 1
		}
		if off+1 < len(buf) && buf[off] == '\r' && buf[off+1] == '\n' {
			return off + 2
		}
	}
}

// readHeadLines reads a head larger than br's buffer line by line.
func readHeadLines(br *bufio.Reader) ([]byte, error) {
	var head []byte
	lineStart := 0
	for {
		frag, err := br.ReadSlice('\n')
		head = append(head, frag...)
		if len(head) > maxHeaderBytes {
			return nil, fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", maxHeaderBytes)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			return nil, io.ErrUnexpectedEOF
		case err != nil:
			return nil, err
		}
		if line := head[lineStart:]; len(line) == 1 || len(line) == 2 && line[0] == '\r' {
			if lineStart > 0 {
				return head, nil
			}
		}
		lineStart = len(head)
	}
}

// Body framing modes.
const (
	bodyNone = iota
	bodyLength
	bodyChunked
	bodyUntilClose
)

// respBody is the body of the response in flight; it hands its connection back (or closes it)
// when the body ends or is closed.
type respBody struct {
	t      *Transport
	lc     *conn
	br     *bufio.Reader
	mode   int
	n      int64 // bytes left: of the body (length) or of the current chunk (chunked)
	crlf   bool  // a chunk's data was read, its CRLF not yet
	done   bool  // the whole body was read
	closed bool
	keep   bool // the connection may serve another request after the body
	err    error
	ctx    context.Context
}

// start frames resp's body as net/http's readTransfer does (RFC 9112 6.3), with its header
// edits: Transfer-Encoding removed, Content-Length removed when chunked and deduplicated,
// Connection removed when it says close (HTTP/1.1), Trailer removed when chunked. keep is false
// when the request asked to close the connection.
func (b *respBody) start(ctx context.Context, t *Transport, lc *conn, resp *http.Response, req *http.Request, keep bool) error {
	*b = respBody{t: t, lc: lc, br: lc.br, ctx: ctx}
	h := resp.Header
	hasClose := hasTokens(h["Connection"], "close")
	if resp.ProtoMinor == 0 {
		resp.Close = hasClose || !hasTokens(h["Connection"], "keep-alive")
	} else {
		if hasClose {
			delete(h, "Connection")
		}
		resp.Close = hasClose
	}
	chunked := false
	if te, ok := h["Transfer-Encoding"]; ok {
		delete(h, "Transfer-Encoding")
		if resp.ProtoMinor >= 1 {
			if len(te) != 1 {
				return fmt.Errorf("too many transfer encodings: %q", te)
			}
			if !strings.EqualFold(te[0], "chunked") {
				return fmt.Errorf("unsupported transfer encoding: %q", te[0])
			}
			chunked = true
		}
	}
	cl := int64(-1)
	if v := h["Content-Length"]; len(v) > 0 {
		first := textproto.TrimString(v[0])
		for _, x := range v[1:] {
			if textproto.TrimString(x) != first {
				return fmt.Errorf("http: message cannot contain multiple Content-Length headers; got %q", v)
			}
		}
		if len(v) > 1 {
			h["Content-Length"] = []string{first}
		}
		if first == "" {
			return errors.New("invalid empty Content-Length")
		}
		n, err := strconv.ParseUint(first, 10, 63)
		if err != nil {
			return fmt.Errorf("bad Content-Length %q", first)
		}
		cl = int64(n)
	}
	code := resp.StatusCode
	bodyAllowed := code/100 != 1 && code != http.StatusNoContent && code != http.StatusNotModified
	length := cl // net/http's realLength
	switch {
	case req.Method == http.MethodHead, !bodyAllowed:
		length = 0
	case chunked:
		delete(h, "Content-Length")
		length = -1
	}
	resp.ContentLength = length
	if req.Method == http.MethodHead {
		resp.ContentLength = cl
	}
	if vv, ok := h["Trailer"]; ok && chunked {
		delete(h, "Trailer")
		for _, v := range vv {
			for f := range strings.SplitSeq(v, ",") {
				switch http.CanonicalHeaderKey(textproto.TrimString(f)) {
				case "Transfer-Encoding", "Trailer", "Content-Length":
					return fmt.Errorf("bad trailer key %q", f)
				}
			}
		}
	}
	if length == -1 && !chunked && bodyAllowed {
		resp.Close = true
	}
	switch {
	case chunked && req.Method != http.MethodHead && bodyAllowed:
		b.mode = bodyChunked
		resp.TransferEncoding = []string{"chunked"}
	case chunked:
		resp.TransferEncoding = []string{"chunked"}
	case length > 0:
		b.mode, b.n = bodyLength, length
	case length < 0:
		b.mode = bodyUntilClose
	}
	// A switch of protocols leaves the connection to another protocol, which the Transport
	// does not speak.
	b.keep = keep && !resp.Close && code != http.StatusSwitchingProtocols
	if b.mode == bodyNone {
		b.finish()
		resp.Body = http.NoBody
		return nil
	}
	resp.Body = b
	if wantsGzip(req) && strings.EqualFold(h.Get("Content-Encoding"), "gzip") {
		delete(h, "Content-Encoding")
		delete(h, "Content-Length")
		resp.ContentLength, resp.Uncompressed = -1, true
		resp.Body = &gzipBody{src: b}
	}
	return nil
}

func hasTokens(vv []string, token string) bool {
	for _, v := range vv {
		if hasToken(v, token) {
			return true
		}
	}
	return false
}

// finish ends the exchange once the body is all read: the connection goes back to the
// idle set or is closed.
func (b *respBody) finish() {
	if b.done {
		return
	}
	b.done = true
	t, lc := b.t, b.lc
	t.setCur(nil, time.Time{})
	if b.keep && lc.br.Buffered() == 0 {
		lc.served++
		lc.br.Reset(nil)
		readers.Put(lc.br)
		lc.br = nil
		t.putIdle(lc)
		return
	}
	lc.close() // asked to close, framed by close, or unsolicited bytes after the response
}

// fail ends the exchange on an error: the connection's state is unknown, so it is closed.
func (b *respBody) fail(err error) error {
	if b.err == nil {
		if cerr := b.ctx.Err(); cerr != nil {
			err = cerr
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
		b.done = true
		b.t.setCur(nil, time.Time{})
		b.lc.close()
	}
	return b.err
}

func (b *respBody) Read(p []byte) (int, error) {
	switch {
	case b.closed:
		return 0, errBodyClosed
	case b.err != nil:
		return 0, b.err
	case b.done:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	if b.mode == bodyChunked && b.n == 0 {
		if err := b.nextChunk(); err != nil {
			return 0, b.fail(err)
		}
		if b.done {
			return 0, io.EOF
		}
	}
	if b.mode != bodyUntilClose && int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.br.Read(p)
	b.n -= int64(n)
	if err == io.EOF && b.mode == bodyUntilClose {
		b.finish()
		return n, io.EOF
	}
	if err != nil {
		return n, b.fail(err)
	}
	return n, b.afterData()
}

// afterData notes the end of a length-framed body, or of a chunk's data (and, when the last
// chunk is already buffered, of the chunked body), so that EOF comes with the last bytes as in
// net/http. It never blocks.
func (b *respBody) afterData() error {
	switch {
	case b.mode == bodyLength && b.n == 0:
		b.finish()
		return io.EOF
	case b.mode == bodyChunked && b.n == 0:
		b.crlf = true
		if buf, _ := b.br.Peek(b.br.Buffered()); bytes.HasPrefix(buf, lastChunk) {
			_, _ = b.br.Discard(len(lastChunk))
			b.finish()
			return io.EOF
		}
	}
	return nil
}

// lastChunk is the end of a chunk's data, the zero-size chunk and an empty trailer section.
var lastChunk = []byte("\r\n0\r\n\r\n")

// WriteTo hands buffered body bytes to w without copying them through a caller's buffer (and
// without copying at all into io.Discard).
func (b *respBody) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		switch {
		case b.closed:
			return total, errBodyClosed
		case b.err != nil:
			return total, b.err
		case b.done:
			return total, nil
		}
		if b.mode == bodyChunked && b.n == 0 {
			if err := b.nextChunk(); err != nil {
				return total, b.fail(err)
			}
			continue
		}
		if b.br.Buffered() == 0 {
			if _, err := b.br.Peek(1); err != nil {
				if err == io.EOF && b.mode == bodyUntilClose {
					b.finish()
					return total, nil
				}
				return total, b.fail(err)
			}
		}
		m := b.br.Buffered()
		if b.mode != bodyUntilClose && int64(m) > b.n {
			m = int(b.n)
		}
		buf, _ := b.br.Peek(m)
		n, werr := w.Write(buf)
		_, _ = b.br.Discard(n)
		b.n -= int64(n)
		total += int64(n)
		if werr != nil {
			return total, werr
		}
		if err := b.afterData(); err != nil && err != io.EOF {
			return total, err
		}
	}
}

// nextChunk reads the CRLF ending the previous chunk's data, then a chunk-size line; a zero
// size ends the body after the trailer section.
func (b *respBody) nextChunk() error {
	if b.crlf {
		line, err := b.readLine()
		if err != nil {
			return err
		}
		if len(line) != 0 {
			return errors.New("malformed chunked encoding")
		}
		b.crlf = false
	}
	line, err := b.readLine()
	if err != nil {
		return err
	}
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	size, err := strconv.ParseUint(string(bytes.TrimRight(line, " \t")), 16, 63)
	if err != nil {
		return errors.New("invalid byte in chunk length")
	}
	if size > 0 {
		b.n = int64(size)
		return nil
	}
	for { // trailer section, discarded: the Transport does not expose trailers
		line, err := b.readLine()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			b.finish()
			return nil
		}
	}
}

// readLine reads a line of at most maxLine bytes without its CRLF.
func (b *respBody) readLine() ([]byte, error) {
	line, err := b.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxLine {
		return nil, errors.New("header line too long")
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// Close ends the body; before its end it closes the connection, as net/http does.
func (b *respBody) Close() error {
	if b.closed {
		return nil
	}
	if !b.done {
		_ = b.fail(errBodyClosed)
	}
	b.closed = true
	return nil
}

// gzipBody decompresses a gzip-encoded body on first read (net/http's transparent gzip).
type gzipBody struct {
	src *respBody
	zr  *gzip.Reader
	err error
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.zr == nil {
		zr, err := gzip.NewReader(g.src)
		if err != nil {
			g.err = err
			return 0, err
		}
		g.zr = zr
	}
	n, err := g.zr.Read(p)
	if err != nil {
		g.err = err
	}
	return n, err
}

func (g *gzipBody) Close() error { return g.src.Close() }
