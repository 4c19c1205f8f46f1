// Package routes is the public HTTP surface of the reference platform in one table: which
// service answers each route, its rate-limit class and whether the gateway may retry it. The API
// and dashboard services mount their handlers on these patterns; the gateway matches the same
// patterns to pick a backend, a limit and the http_route label.
package routes

import (
	"net/http"
	"strings"
)

// Class is the rate-limit class of a route (the plan's per-IP limits).
type Class string

// Rate-limit classes.
const (
	ClassAPI   Class = "api"   // 10k requests/min per IP
	ClassWeb   Class = "web"   // 1k requests/min per IP
	ClassVideo Class = "video" // 100 requests/min per IP: capture, upload, download
)

// Route is one public route.
type Route struct {
	// Pattern is a net/http.ServeMux pattern with method: "GET /api/v1/videos/{id}".
	Pattern string
	// Service is the topology service that answers it.
	Service string
	Class   Class
	// Idempotent routes may be retried on another replica: safe methods, PUT, and POSTs whose
	// handler is idempotent by design (finishing a capture twice returns the same video).
	Idempotent bool
}

// Path returns the path part of the pattern without a trailing {$}: the http_route label.
func (r Route) Path() string {
	_, p, _ := strings.Cut(r.Pattern, " ")
	return strings.TrimSuffix(p, "{$}")
}

// Method returns the pattern's method.
func (r Route) Method() string {
	m, _, _ := strings.Cut(r.Pattern, " ")
	return m
}

// All is every public route.
var All = []Route{
	{"POST /api/v1/users", "api", ClassAPI, false},
	{"POST /api/v1/sessions", "api", ClassAPI, false},
	{"GET /api/v1/me", "api", ClassAPI, true},
	{"POST /api/v1/captures", "api", ClassVideo, false},
	{"PUT /api/v1/captures/{id}/chunks/{index}", "api", ClassVideo, true},
	{"POST /api/v1/captures/{id}/finish", "api", ClassVideo, true},
	{"GET /api/v1/videos", "api", ClassAPI, true},
	{"GET /api/v1/videos/{id}", "api", ClassAPI, true},
	{"GET /api/v1/videos/{id}/ai", "api", ClassAPI, true},
	{"POST /api/v1/videos/{id}/exports", "api", ClassAPI, false},
	{"GET /api/v1/exports/{id}", "api", ClassAPI, true},
	{"GET /api/v1/exports/{id}/download", "api", ClassVideo, true},
	{"GET /{$}", "dashboard", ClassWeb, true},
	{"GET /static/{file}", "dashboard", ClassWeb, true},
}

// Matcher finds the route of a request.
type Matcher struct {
	mux    *http.ServeMux
	routes map[string]Route
}

// NewMatcher builds a matcher over All.
func NewMatcher() *Matcher {
	m := &Matcher{mux: http.NewServeMux(), routes: map[string]Route{}}
	for _, r := range All {
		m.mux.Handle(r.Pattern, http.NotFoundHandler())
		m.routes[r.Pattern] = r
	}
	return m
}

// Match returns the route r matches. Requests under /api/ that match nothing belong to the API
// service (which answers 404 or 405), everything else to the dashboard.
func (m *Matcher) Match(r *http.Request) (Route, bool) {
	_, pattern := m.mux.Handler(r)
	if rt, ok := m.routes[pattern]; ok {
		return rt, true
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		return Route{Service: "api", Class: ClassAPI}, false
	}
	return Route{Service: "dashboard", Class: ClassWeb}, false
}
