package datatier

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/model"
)

// The data tier answers only requests that carry the platform's token: without it nobody can
// read a password hash (GET /v1/users?email=) or mint a session (POST /v1/sessions), whatever
// the route. With it, the same requests work.
func TestDataTierRequiresItsToken(t *testing.T) {
	t.Parallel()
	srv := NewServer(newStore(t), Config{Lease: time.Second, MaxAttempts: 3, Model: model.Default(), Token: "s3cret"}, prometheus.NewRegistry())
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	u, err := NewClient(ts.URL, "s3cret", nil).CreateUser(ctx, "victim@example.com", "V", "salt$hash")
	if err != nil {
		t.Fatal(err)
	}
	requests := []struct{ method, path, body string }{
		{http.MethodGet, "/v1/users?email=victim%40example.com", ""},
		{http.MethodGet, "/v1/users/" + u.ID, ""},
		{http.MethodPost, "/v1/sessions", `{"user_id":"` + u.ID + `","ttl":3600000000000}`},
		{http.MethodPost, "/v1/users", `{"email":"intruder@example.com","name":"I","password_hash":"x"}`},
		{http.MethodGet, "/v1/stats", ""},
		{http.MethodGet, "/v1/no-such-route", ""},
	}
	for _, auth := range []string{"", "Bearer wrong", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret"} {
		for _, rq := range requests {
			req, _ := http.NewRequestWithContext(ctx, rq.method, ts.URL+rq.path, strings.NewReader(rq.body))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			err = jsonhttp.DecodeResponse(resp, nil)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || jsonhttp.Code(err) != "unauthorized" {
				t.Errorf("%s %s with Authorization %q: %d %v, want 401 unauthorized", rq.method, rq.path, auth, resp.StatusCode, err)
			}
		}
	}
	// The token is what opens it: the same reads and writes succeed with it.
	c := NewClient(ts.URL, "s3cret", nil)
	if got, err := c.UserByEmail(ctx, "victim@example.com"); err != nil || got.ID != u.ID {
		t.Errorf("with the token: user %+v, %v", got, err)
	}
	if _, err := c.CreateSession(ctx, u.ID, time.Hour); err != nil {
		t.Errorf("with the token: session: %v", err)
	}
	if _, err := NewClient(ts.URL, "", nil).Stats(ctx); jsonhttp.Code(err) != "unauthorized" {
		t.Errorf("client without a token: %v, want unauthorized", err)
	}
}

// A server built without a token refuses everyone, including a client that sends none.
func TestDataTierWithoutTokenRefusesAll(t *testing.T) {
	t.Parallel()
	srv := NewServer(newStore(t), Config{Lease: time.Second, MaxAttempts: 3, Model: model.Default()}, prometheus.NewRegistry())
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	for _, tok := range []string{"", "anything"} {
		if _, err := NewClient(ts.URL, tok, nil).Stats(context.Background()); jsonhttp.Code(err) != "unauthorized" {
			t.Errorf("token %q: %v, want unauthorized", tok, err)
		}
	}
}
