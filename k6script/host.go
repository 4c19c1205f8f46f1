package k6script

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"time"

	"github.com/dailydoco/ddp-verify/load"
)

// host is what the modules record into and send through: a VU of the engine during the load,
// or a plain client for setup and teardown.
type host interface {
	do(ctx context.Context, step string, req *http.Request, o load.RequestOptions) (*load.Response, error)
	batch(ctx context.Context, reqs []load.BatchRequest) []load.BatchResult
	// jar is the cookie jar the requests use (k6's per-VU jar).
	jar() http.CookieJar
	check(name string, ok bool, tags map[string]string)
	trend(name, step string, d time.Duration)
	sleep(ctx context.Context, d time.Duration) error
	now() time.Time
	// engineVU is the engine's VU (for k6/execution), nil outside the load.
	engineVU() *load.VU
}

// vuHost is an engine VU: requests, checks and group durations are counted in the run's
// metrics.
type vuHost struct{ vu *load.VU }

func (h vuHost) do(ctx context.Context, step string, req *http.Request, o load.RequestOptions) (*load.Response, error) {
	return h.vu.HTTP().DoWith(ctx, step, req, o)
}
func (h vuHost) batch(ctx context.Context, reqs []load.BatchRequest) []load.BatchResult {
	return h.vu.HTTP().Batch(ctx, reqs)
}
func (h vuHost) jar() http.CookieJar { return h.vu.HTTP().Jar() }
func (h vuHost) check(name string, ok bool, tags map[string]string) {
	h.vu.CheckTagged(name, ok, tags)
}
func (h vuHost) trend(name, step string, d time.Duration)         { h.vu.Trend(name, step, d) }
func (h vuHost) sleep(ctx context.Context, d time.Duration) error { return h.vu.Sleep(ctx, d) }
func (h vuHost) now() time.Time                                   { return h.vu.Now() }
func (h vuHost) engineVU() *load.VU                               { return h.vu }

// plainHost serves setup() and teardown(): plain net/http requests (with a cookie jar of their
// own, as k6's setup has) that are not part of the engine's metrics (checks and groups are
// logged at debug level).
type plainHost struct {
	cookies   *cookiejar.Jar
	log       *slog.Logger
	transport http.RoundTripper
	userAgent string
}

// lifecycleTimeout bounds setup's and teardown's requests, as k6's default request timeout.
const lifecycleTimeout = 60 * time.Second

// newPlainHost returns setup's or teardown's host, with the script's HTTP options (st).
func newPlainHost(log *slog.Logger, st settings) plainHost {
	jar, _ := cookiejar.New(nil)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = st.noConnectionReuse
	if st.insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the script asked (insecureSkipTLSVerify)
	}
	return plainHost{cookies: jar, log: log, transport: tr, userAgent: st.userAgent}
}

func (h plainHost) do(ctx context.Context, _ string, req *http.Request, o load.RequestOptions) (*load.Response, error) {
	client := &http.Client{Timeout: lifecycleTimeout, Jar: ownCookies{h.cookies, o.OwnCookies}, Transport: h.transport}
	if h.userAgent != "" && req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", h.userAgent)
	}
	if o.Timeout > 0 {
		client.Timeout = o.Timeout
	}
	if o.Redirects >= 0 {
		client.CheckRedirect = func(_ *http.Request, via []*http.Request) error {
			if len(via) > o.Redirects {
				return http.ErrUseLastResponse
			}
			return nil
		}
	}
	start := time.Now()
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, &load.RequestError{Class: classify(err), Err: err}
	}
	defer resp.Body.Close()
	var body []byte
	if o.DiscardBody {
		_, err = io.Copy(io.Discard, resp.Body)
	} else {
		body, err = io.ReadAll(resp.Body)
	}
	if err != nil {
		return nil, &load.RequestError{Class: classify(err), Err: err}
	}
	d := time.Since(start)
	return &load.Response{Status: resp.StatusCode, Proto: resp.Proto, Header: resp.Header, Body: body,
		Location: resp.Request.URL, Timings: load.Timings{Duration: d}}, nil
}

// batch sends setup's and teardown's batches one request after another.
func (h plainHost) batch(ctx context.Context, reqs []load.BatchRequest) []load.BatchResult {
	out := make([]load.BatchResult, len(reqs))
	for i, r := range reqs {
		res, err := h.do(ctx, r.Step, r.Request, r.Options)
		out[i] = load.BatchResult{Response: res, Err: err}
	}
	return out
}

func (h plainHost) jar() http.CookieJar { return h.cookies }

// ownCookies leaves out the jar's cookies that the request sets itself.
type ownCookies struct {
	*cookiejar.Jar
	own []string
}

func (j ownCookies) Cookies(u *url.URL) []*http.Cookie {
	return slices.DeleteFunc(j.Jar.Cookies(u), func(c *http.Cookie) bool { return slices.Contains(j.own, c.Name) })
}

func (h plainHost) check(name string, ok bool, _ map[string]string) {
	h.log.Debug("check outside the load (not counted)", "check", name, "ok", ok)
}

func (h plainHost) trend(name, step string, d time.Duration) {
	h.log.Debug("trend outside the load (not counted)", "metric", name, "step", step, "duration", d)
}

func (h plainHost) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h plainHost) now() time.Time { return time.Now() }

func (h plainHost) engineVU() *load.VU { return nil }
