// Package gateway is the reference platform's ingress, standing in for the cloud load balancer
// and the ingress controller: it routes each public route to a healthy replica of its service,
// probes every replica's /ready, retries idempotent requests on another replica, and limits
// each client IP per route class (the plan's API 10k, web 1k, video 100 requests per minute)
// with 429 and Retry-After. The client IP is taken from X-Forwarded-For when the connection
// comes from a trusted proxy, as behind the real load balancer, so that a load generator can
// present each virtual user as its own client.
package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/metrics"
	"github.com/dailydoco/ddp-verify/platform/routes"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// Backend is one replica the gateway may route to.
type Backend struct {
	Service string `json:"service"`
	Name    string `json:"name"` // replica name, e.g. api-2
	Node    string `json:"node"`
	Zone    string `json:"zone"`
	URL     string `json:"url"` // http://127.x.y.z:port
}

// Config configures a gateway.
type Config struct {
	RateLimits      topology.RateLimits
	TrustedProxies  []string // CIDR networks
	HealthInterval  time.Duration
	Retries         int
	UpstreamTimeout time.Duration
	// MaxBody bounds a buffered request body (retries need it whole).
	MaxBody int64
	Logger  *slog.Logger
}

// Gateway is an http.Handler. Create it with [New]; run its health checks with [Gateway.Run].
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	trusted []netip.Prefix
	match   *routes.Matcher
	limits  *limiter
	rt      http.RoundTripper

	mu       sync.RWMutex
	backends map[string][]*backend // by service
	next     atomic.Uint64
	// fromSlices: the backends are a cluster's ready endpoints (FollowEndpointSlices), not
	// probed by the gateway.
	fromSlices atomic.Bool

	http      *metrics.HTTP
	limited   *prometheus.CounterVec
	retries   *prometheus.CounterVec
	backendUp *prometheus.GaugeVec
}

type backend struct {
	Backend
	healthy atomic.Bool
	fails   atomic.Int32 // consecutive failed probes
	// downUntil (Unix nanoseconds) keeps a ready endpoint that refused a connection out of
	// the rotation for passiveFailTimeout, when routing from EndpointSlices.
	downUntil atomic.Int64
}

// usable reports whether b may take a request now.
func (b *backend) usable(now time.Time) bool {
	return b.healthy.Load() && now.UnixNano() >= b.downUntil.Load()
}

// failureThreshold is how many probes in a row must fail (time out or answer not ready)
// before a replica leaves the rotation; a refused connection removes it at once.
const failureThreshold = 2

// New returns a gateway over backends, its metrics registered with reg.
func New(cfg Config, backends []Backend, reg prometheus.Registerer) (*Gateway, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 8 << 20
	}
	g := &Gateway{
		cfg: cfg, log: cfg.Logger, match: routes.NewMatcher(),
		limits: newLimiter(cfg.RateLimits),
		rt: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       60 * time.Second,
			ResponseHeaderTimeout: cfg.UpstreamTimeout,
		},
		http: metrics.NewHTTP(reg, metrics.GatewayDuration),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dailydoco_gateway_rate_limited_total", Help: "Requests refused with 429, by route class.",
		}, []string{"class"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dailydoco_gateway_retries_total", Help: "Requests retried on another replica, by service.",
		}, []string{"service"}),
		backendUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dailydoco_gateway_backend_up", Help: "1 if the gateway routes to the replica (its last probe passed).",
		}, []string{"service", "replica", "node", "zone"}),
	}
	for _, c := range cfg.TrustedProxies {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, err
		}
		g.trusted = append(g.trusted, p)
	}
	reg.MustRegister(g.limited, g.retries, g.backendUp)
	g.SetBackends(backends)
	return g, nil
}

// SetBackends replaces the replicas routed to. Replicas already known keep their health;
// new ones are routed to once a probe passes.
func (g *Gateway) SetBackends(bs []Backend) {
	g.mu.Lock()
	old := map[string]*backend{}
	for _, list := range g.backends {
		for _, b := range list {
			old[b.URL] = b
		}
	}
	g.backends = map[string][]*backend{}
	for _, b := range bs {
		nb := &backend{Backend: b}
		if o, ok := old[b.URL]; ok && o.Backend == b {
			nb.healthy.Store(o.healthy.Load())
			nb.downUntil.Store(o.downUntil.Load())
		}
		delete(old, b.URL)
		g.backends[b.Service] = append(g.backends[b.Service], nb)
	}
	g.mu.Unlock()
	for _, o := range old {
		g.backendUp.DeleteLabelValues(o.Service, o.Name, o.Node, o.Zone)
	}
}

// routeFromSlices switches the gateway to a cluster's endpoints: [Gateway.SetEndpoints] sets
// them, readiness is the cluster's, and [Gateway.Run] no longer probes.
func (g *Gateway) routeFromSlices() { g.fromSlices.Store(true) }

// SetEndpoints replaces the replicas routed to with endpoints a cluster reports ready: each
// takes requests at once.
func (g *Gateway) SetEndpoints(bs []Backend) {
	g.SetBackends(bs)
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, list := range g.backends {
		for _, b := range list {
			b.healthy.Store(true)
			g.backendUp.WithLabelValues(b.Service, b.Name, b.Node, b.Zone).Set(1)
		}
	}
}

// Backends returns the replicas and whether each is routed to now.
func (g *Gateway) Backends() map[string]bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := map[string]bool{}
	now := time.Now()
	for _, list := range g.backends {
		for _, b := range list {
			out[b.Name] = b.usable(now)
		}
	}
	return out
}

// Run probes every replica each HealthInterval until ctx is done.
func (g *Gateway) Run(ctx context.Context) {
	t := time.NewTicker(g.cfg.HealthInterval)
	defer t.Stop()
	for {
		g.CheckNow(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckNow probes every replica once, in parallel, and waits for the answers; it does nothing
// when the replicas are a cluster's endpoints.
func (g *Gateway) CheckNow(ctx context.Context) {
	if g.fromSlices.Load() {
		return
	}
	g.mu.RLock()
	var all []*backend
	for _, list := range g.backends {
		all = append(all, list...)
	}
	g.mu.RUnlock()
	var wg sync.WaitGroup
	for _, b := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Probes time out after a second, as Kubernetes' do by default.
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			err := g.probe(pctx, b.URL+"/ready")
			if ctx.Err() != nil {
				return
			}
			ok := err == nil
			if ok {
				b.fails.Store(0)
			} else if b.fails.Add(1) < failureThreshold && !isDialError(err) && b.healthy.Load() {
				return // one slow or failed probe is not enough
			}
			if was := b.healthy.Swap(ok); was != ok {
				g.log.Info("replica health changed", "replica", b.Name, "node", b.Node, "healthy", ok)
			}
			v := 0.0
			if ok {
				v = 1
			}
			g.backendUp.WithLabelValues(b.Service, b.Name, b.Node, b.Zone).Set(v)
		}()
	}
	wg.Wait()
}

func (g *Gateway) probe(ctx context.Context, url string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := g.rt.RoundTrip(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// pick returns the next healthy replica of service not in tried, round-robin.
func (g *Gateway) pick(service string, tried map[*backend]bool) *backend {
	g.mu.RLock()
	defer g.mu.RUnlock()
	list := g.backends[service]
	n := uint64(len(list))
	if n == 0 {
		return nil
	}
	start := g.next.Add(1)
	now := time.Now()
	for i := uint64(0); i < n; i++ {
		b := list[(start+i)%n]
		if b.usable(now) && !tried[b] {
			return b
		}
	}
	return nil
}

// ClientIP is the address a request counts against: the connection's peer, or, when the peer
// is a trusted proxy, the rightmost X-Forwarded-For address that is not a trusted proxy.
func (g *Gateway) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !g.isTrusted(peer) {
		return host
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for _, p := range strings.Split(h, ",") {
			if p = strings.TrimSpace(p); p != "" {
				hops = append(hops, p)
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return hops[i] // a garbled hop is not a proxy we trust: count against it
		}
		if !g.isTrusted(a) || i == 0 {
			return a.String()
		}
	}
	return host
}

func (g *Gateway) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range g.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// ServeHTTP routes one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	route, matched := g.match.Match(r)
	label := "unmatched"
	if matched {
		label = route.Path()
	}
	sw := &metrics.StatusWriter{ResponseWriter: w}
	// The service label names the service the request was for (api or dashboard).
	defer func() { g.http.Observe(route.Service, label, r.Method, sw.Status(), time.Since(start)) }()

	client := g.ClientIP(r)
	if wait, ok := g.limits.allow(route.Class, client, start); !ok {
		g.limited.WithLabelValues(string(route.Class)).Inc()
		sw.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		jsonhttp.WriteError(sw, jsonhttp.Errorf(http.StatusTooManyRequests, "rate_limited",
			"more than %d %s requests per minute from %s; retry after %s", g.limits.perMinute(route.Class), route.Class, client, wait.Round(time.Millisecond)))
		return
	}
	var body []byte
	if r.Body != nil && r.ContentLength != 0 {
		b, err := io.ReadAll(http.MaxBytesReader(sw, r.Body, g.cfg.MaxBody))
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			jsonhttp.WriteError(sw, jsonhttp.Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request bodies are limited to %d bytes", g.cfg.MaxBody))
			return
		}
		if err != nil {
			jsonhttp.WriteError(sw, jsonhttp.Errorf(http.StatusBadRequest, "bad_body", "reading the request body failed: %v", err))
			return
		}
		body = b
	}
	tried := map[*backend]bool{}
	for attempt := 0; ; attempt++ {
		b := g.pick(route.Service, tried)
		if b == nil {
			jsonhttp.WriteError(sw, jsonhttp.Errorf(http.StatusServiceUnavailable, "no_healthy_upstream", "no healthy %s replica can take the request; retry shortly", route.Service))
			return
		}
		tried[b] = true
		resp, err := g.forward(r, b, body, client)
		canRetry := attempt < g.cfg.Retries
		if err != nil {
			if r.Context().Err() != nil {
				return // the client left; the replica did nothing wrong
			}
			if isDialError(err) {
				g.markDown(b)
			}
			g.log.Debug("upstream failed", "replica", b.Name, "err", err)
			// A request that never reached the replica is safe to send elsewhere.
			if canRetry && (route.Idempotent || isDialError(err)) && r.Context().Err() == nil {
				g.retries.WithLabelValues(route.Service).Inc()
				continue
			}
			jsonhttp.WriteError(sw, jsonhttp.Errorf(http.StatusBadGateway, "upstream_unavailable", "the %s replica failed: %v", route.Service, err))
			return
		}
		if canRetry && route.Idempotent && (resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout) {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			g.retries.WithLabelValues(route.Service).Inc()
			continue
		}
		copyResponse(sw, resp)
		return
	}
}

// markDown stops routing to a replica that refused a connection (it is gone), rather than
// paying a failed dial per request: until a probe passes, or for passiveFailTimeout when the
// replicas are a cluster's endpoints, which the cluster will update.
func (g *Gateway) markDown(b *backend) {
	if g.fromSlices.Load() {
		b.downUntil.Store(time.Now().Add(passiveFailTimeout).UnixNano())
		return
	}
	b.healthy.Store(false)
}

func isDialError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

func (g *Gateway) forward(r *http.Request, b *backend, body []byte, client string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.UpstreamTimeout)
	out, err := http.NewRequestWithContext(ctx, r.Method, b.URL+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, err
	}
	out.ContentLength = int64(len(body))
	if body == nil {
		out.Body = http.NoBody
	}
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
		out.Header.Set("X-Forwarded-For", prior+", "+host)
	} else {
		out.Header.Set("X-Forwarded-For", host)
	}
	out.Header.Set("X-Client-IP", client)
	resp, err := g.rt.RoundTrip(out)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelBody) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func copyResponse(w http.ResponseWriter, resp *http.Response) {
	defer resp.Body.Close()
	for _, h := range hopHeaders {
		resp.Header.Del(h)
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body) // a client that left mid-body needs nothing more
}

// limiter holds one token bucket per client IP and class: limit tokens, refilled at limit per
// minute, so a client may make up to limit requests in any minute.
type limiter struct {
	limits map[routes.Class]int
	mu     sync.Mutex
	bucket map[string]*bucket
	swept  time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiter(l topology.RateLimits) *limiter {
	return &limiter{
		limits: map[routes.Class]int{routes.ClassAPI: l.API, routes.ClassWeb: l.Web, routes.ClassVideo: l.Video},
		bucket: map[string]*bucket{},
	}
}

func (l *limiter) perMinute(c routes.Class) int { return l.limits[c] }

// allow takes a token for client in class c, or says how long until one is available.
func (l *limiter) allow(c routes.Class, client string, now time.Time) (time.Duration, bool) {
	n := l.limits[c]
	if n <= 0 {
		return 0, true
	}
	key := string(c) + "|" + client
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		// A bucket idle for a minute is full again: forgetting it changes nothing.
		for k, b := range l.bucket {
			if now.Sub(b.last) > time.Minute {
				delete(l.bucket, k)
			}
		}
		l.swept = now
	}
	b := l.bucket[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(float64(n)/60), n)}
		l.bucket[key] = b
	}
	b.last = now
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}
