package k6script

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// cookies is response.cookies: the cookies the response sets, by name, each a list of k6's
// cookie objects.
func (o *responseObject) cookies() goja.Value {
	byName := o.r.rt.NewObject()
	if o.res == nil {
		return byName
	}
	lists := map[string][]any{}
	var names []string
	for _, c := range (&http.Response{Header: o.res.Header}).Cookies() {
		if _, seen := lists[c.Name]; !seen {
			names = append(names, c.Name)
		}
		var expires int64
		if !c.Expires.IsZero() {
			expires = c.Expires.UnixMilli()
		}
		lists[c.Name] = append(lists[c.Name], map[string]any{"name": c.Name, "value": c.Value, "domain": c.Domain,
			"path": c.Path, "http_only": c.HttpOnly, "secure": c.Secure, "max_age": c.MaxAge, "expires": expires})
	}
	for _, n := range names {
		_ = byName.Set(n, lists[n])
	}
	return byName
}

// cookieJar is http.cookieJar(): the jar of the VU (or of setup or teardown) running the call,
// with k6's methods cookiesForURL, set, delete and clear.
func (r *runtime) cookieJar() goja.Value {
	jar := r.needHost("k6/http.cookieJar").jar()
	o := r.guarded("k6/http CookieJar")
	parse := func(method, raw string) *url.URL {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" || u.Host == "" {
			r.throwf("CookieJar.%s: invalid URL %q", method, raw)
		}
		return u
	}
	_ = o.Set("cookiesForURL", func(raw string) map[string][]string {
		out := map[string][]string{}
		for _, c := range jar.Cookies(parse("cookiesForURL", raw)) {
			out[c.Name] = append(out[c.Name], c.Value)
		}
		return out
	})
	_ = o.Set("set", func(raw, name, value string, opts goja.Value) {
		u := parse("set", raw)
		c := &http.Cookie{Name: name, Value: value}
		r.cookieOptions(c, opts)
		jar.SetCookies(u, []*http.Cookie{c})
	})
	_ = o.Set("delete", func(raw, name string) {
		u := parse("delete", raw)
		expireCookies(jar, u, func(c *http.Cookie) bool { return c.Name == name })
	})
	_ = o.Set("clear", func(raw string) {
		u := parse("clear", raw)
		expireCookies(jar, u, func(*http.Cookie) bool { return true })
	})
	return o
}

// cookieOptions reads CookieJar.set's options: domain, path, expires (a date string),
// max_age, secure, http_only.
func (r *runtime) cookieOptions(c *http.Cookie, v goja.Value) {
	o, ok := v.(*goja.Object)
	if !ok {
		return
	}
	for _, k := range o.Keys() {
		val := o.Get(k)
		switch k {
		case "domain":
			c.Domain = val.String()
		case "path":
			c.Path = val.String()
		case "expires":
			t, err := http.ParseTime(val.String())
			if err != nil {
				t, err = time.Parse(time.RFC3339, val.String())
			}
			if err != nil {
				r.throwf("CookieJar.set: options.expires: %q is not a date (RFC 1123 or RFC 3339)", val.String())
			}
			c.Expires = t
		case "max_age":
			c.MaxAge = int(val.ToInteger())
		case "secure":
			c.Secure = val.ToBoolean()
		case "http_only":
			c.HttpOnly = val.ToBoolean()
		default:
			r.throwf("CookieJar.set: options.%s is not supported", k)
		}
	}
}

// expireCookies removes the cookies of u that match: a cookie jar forgets a cookie set again
// with a negative max-age under the same domain, path and name, and the jar does not say which
// path a cookie has, so each path from u's down to "/" is tried, host-only and for the host's
// domain.
func expireCookies(jar http.CookieJar, u *url.URL, match func(*http.Cookie) bool) {
	var gone []*http.Cookie
	for _, c := range jar.Cookies(u) {
		if !match(c) {
			continue
		}
		for _, path := range pathsOf(u.Path) {
			gone = append(gone, &http.Cookie{Name: c.Name, Path: path, MaxAge: -1},
				&http.Cookie{Name: c.Name, Path: path, Domain: u.Hostname(), MaxAge: -1})
		}
	}
	if len(gone) > 0 {
		jar.SetCookies(u, gone)
	}
}

// pathsOf is p and each of its parent paths, down to "/".
func pathsOf(p string) []string {
	out := []string{"/"}
	if !strings.HasPrefix(p, "/") {
		return out
	}
	for p = strings.TrimSuffix(p, "/"); p != ""; p = p[:strings.LastIndex(p, "/")] {
		out = append(out, p)
	}
	return out
}
