package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
)

// Every error a client can provoke has its status and stable code.
func TestErrorsAndLimits(t *testing.T) {
	t.Parallel()
	c := platformtest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ada := signup(t, c, "198.51.100.50")
	eve := signup(t, c, "198.51.100.51")
	anon := &platformtest.Client{BaseURL: c.GatewayURL(), IP: "198.51.100.52"}
	var cp struct{ ID string }
	if err := ada.Do(ctx, http.MethodPost, "/api/v1/captures", map[string]any{"resolution": "1080p", "media_seconds": 30}, &cp); err != nil {
		t.Fatal(err)
	}
	if err := anon.Do(ctx, http.MethodPost, "/api/v1/users", map[string]string{"email": "taken@example.com", "password": "12345678"}, nil); err != nil {
		t.Fatal(err)
	}
	max := c.Topology().API.MaxChunkBytes
	tests := []struct {
		name   string
		cl     *platformtest.Client
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"bad JSON", anon, "POST", "/api/v1/users", `{"email":`, 400, "bad_json"},
		{"unknown field", anon, "POST", "/api/v1/users", `{"email":"x@example.com","password":"12345678","admin":true}`, 400, "bad_json"},
		{"wrong type", anon, "POST", "/api/v1/users", `{"email":5}`, 400, "invalid_json_field"},
		{"invalid email", anon, "POST", "/api/v1/users", map[string]string{"email": "nope", "password": "12345678"}, 400, "invalid_email"},
		{"email taken", anon, "POST", "/api/v1/users", map[string]string{"email": "taken@example.com", "password": "12345678"}, 409, "email_taken"},
		{"wrong password", anon, "POST", "/api/v1/sessions", map[string]string{"email": "nobody@example.com", "password": "12345678"}, 401, "invalid_credentials"},
		{"no token", anon, "GET", "/api/v1/me", nil, 401, "missing_token"},
		{"forged token", &platformtest.Client{BaseURL: c.GatewayURL(), IP: "198.51.100.53", Token: "ddp1.u.s.9999999999.0000"}, "GET", "/api/v1/me", nil, 401, "invalid_token"},
		{"bad resolution", ada, "POST", "/api/v1/captures", map[string]any{"resolution": "8k", "media_seconds": 30}, 400, "invalid_resolution"},
		{"bad duration", ada, "POST", "/api/v1/captures", map[string]any{"resolution": "4k", "media_seconds": -1}, 400, "invalid_media_seconds"},
		{"oversized chunk", ada, "PUT", "/api/v1/captures/" + cp.ID + "/chunks/0", bytes.Repeat([]byte{1}, int(max)+1), 413, "chunk_too_large"},
		{"empty chunk", ada, "PUT", "/api/v1/captures/" + cp.ID + "/chunks/0", []byte{}, 400, "empty_chunk"},
		{"bad chunk index", ada, "PUT", "/api/v1/captures/" + cp.ID + "/chunks/x", []byte{1}, 400, "invalid_chunk_index"},
		{"another user's capture", eve, "PUT", "/api/v1/captures/" + cp.ID + "/chunks/0", []byte{1}, 403, "forbidden"},
		{"finish without chunks", ada, "POST", "/api/v1/captures/" + cp.ID + "/finish", nil, 409, "no_chunks"},
		{"unknown video", ada, "GET", "/api/v1/videos/vid_nope", nil, 404, "video_not_found"},
		{"unknown route", ada, "GET", "/api/v1/nothing", nil, 404, "route_not_found"},
		{"bad export format", ada, "POST", "/api/v1/videos/vid_nope/exports", map[string]string{"format": "avi"}, 400, "invalid_format"},
		{"unsigned download", anon, "GET", "/api/v1/exports/exp_x/download", nil, 403, "invalid_signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cl.Do(ctx, tc.method, tc.path, tc.body, nil)
			var je *jsonhttp.Error
			if !errors.As(err, &je) || je.Status != tc.status || je.Code != tc.code {
				t.Errorf("%s %s: %v, want %d %s", tc.method, tc.path, err, tc.status, tc.code)
			}
		})
	}

	// The video class allows 100 requests per minute per client IP, from a token bucket that
	// starts full: the first 100 pass, and once the bucket is empty a request is refused with
	// Retry-After. It refills at 100 per minute meanwhile, so on a busy machine, where 100
	// requests take more than 0.6 s, one or two more pass before the refusal; the exact count
	// is the gateway's unit test (TestRateLimit), this one checks the wiring.
	flood := &platformtest.Client{BaseURL: c.GatewayURL(), IP: "203.0.113.7"}
	limit := c.Topology().Gateway.RateLimits.Video
	for i := 0; i < limit; i++ {
		resp, err := flood.Raw(ctx, "GET", "/api/v1/exports/exp_x/download", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("request %d of %d refused", i+1, limit)
		}
	}
	var refused *http.Response
	var body []byte
	for extra := 0; refused == nil; extra++ {
		if extra == limit {
			t.Fatalf("%d more requests passed after the first %d: the bucket never emptied", extra, limit)
		}
		resp, err := flood.Raw(ctx, "GET", "/api/v1/exports/exp_x/download", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			refused = resp
		case http.StatusForbidden: // passed the limiter; the URL is unsigned
		default:
			t.Fatalf("request %d: %s %s", limit+extra+1, resp.Status, body)
		}
	}
	if ra, _ := strconv.Atoi(refused.Header.Get("Retry-After")); ra < 1 || !bytes.Contains(body, []byte(`"rate_limited"`)) {
		t.Errorf("refusal: Retry-After %q, body %s; want a delay and code rate_limited", refused.Header.Get("Retry-After"), body)
	}
	// Other classes and other clients still pass.
	if err := flood.Do(ctx, "GET", "/api/v1/me", nil, nil); jsonhttp.Code(err) != "missing_token" {
		t.Errorf("API class from the flooding IP: %v, want it unaffected", err)
	}
	other := &platformtest.Client{BaseURL: c.GatewayURL(), IP: "203.0.113.8"}
	if err := other.Do(ctx, "GET", "/api/v1/exports/exp_x/download", nil, nil); jsonhttp.Code(err) != "invalid_signature" {
		t.Errorf("video class from another IP: %v, want it unaffected", err)
	}
	gw := scrapeRole(t, c, "gateway", "")
	if n := gw.Sum("dailydoco_gateway_rate_limited_total", map[string]string{"class": "video"}); n != 1 {
		t.Errorf("rate-limited counter = %v, want 1", n)
	}
	if n := gw.Sum("dailydoco_gateway_request_duration_seconds", map[string]string{"http_response_status_code": "429"}); n != 1 {
		t.Errorf("429s in the gateway's histogram = %v, want 1", n)
	}
}
