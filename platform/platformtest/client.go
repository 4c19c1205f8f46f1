package platformtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
)

// Client drives the public API through the gateway as one user from one client IP. It is a
// test helper, not the load generator's client: it knows only what the journeys need.
type Client struct {
	BaseURL string
	HTTP    *http.Client
	// IP is sent as X-Forwarded-For, so that the gateway counts this client on its own.
	IP    string
	Token string
}

// Video is the API's video status.
type Video struct {
	ID                  string     `json:"id"`
	Status              string     `json:"status"`
	Resolution          string     `json:"resolution"`
	MediaSeconds        float64    `json:"media_seconds"`
	AcceptedAt          time.Time  `json:"accepted_at"`
	ProcessingStartedAt *time.Time `json:"processing_started_at"`
	GPUDoneAt           *time.Time `json:"gpu_done_at"`
	AIStartedAt         *time.Time `json:"ai_started_at"`
	ReadyAt             *time.Time `json:"ready_at"`
	GPUNode             string     `json:"gpu_node"`
	AINode              string     `json:"ai_node"`
	GPUAttempts         int        `json:"gpu_attempts"`
	ThumbnailURL        string     `json:"thumbnail_url"`
}

// Export is the API's export status.
type Export struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	DownloadURL string `json:"download_url"`
}

// Do sends a request; body is JSON-encoded unless it is []byte. A non-2xx answer is returned as
// *jsonhttp.Error carrying the response's Retry-After in its message if present.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.Raw(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return jsonhttp.DecodeResponse(resp, out)
}

// Raw sends a request and returns the response unread.
func (c *Client) Raw(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/octet-stream"
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.IP != "" {
		req.Header.Set("X-Forwarded-For", c.IP)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	return hc.Do(req)
}

// Signup registers email and logs in, keeping the token.
func (c *Client) Signup(ctx context.Context, email string) error {
	cred := map[string]string{"email": email, "password": "correct horse battery", "name": "Test User"}
	if err := c.Do(ctx, http.MethodPost, "/api/v1/users", cred, nil); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	var login struct {
		Token string `json:"token"`
	}
	delete(cred, "name")
	if err := c.Do(ctx, http.MethodPost, "/api/v1/sessions", cred, &login); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	c.Token = login.Token
	return nil
}

// Upload starts a capture, uploads chunks of chunkBytes each and finishes it.
func (c *Client) Upload(ctx context.Context, resolution string, mediaSeconds float64, chunks, chunkBytes int) (Video, error) {
	var cp struct {
		ID string `json:"id"`
	}
	if err := c.Do(ctx, http.MethodPost, "/api/v1/captures", map[string]any{"title": "demo", "resolution": resolution, "media_seconds": mediaSeconds}, &cp); err != nil {
		return Video{}, fmt.Errorf("start capture: %w", err)
	}
	chunk := bytes.Repeat([]byte{'x'}, chunkBytes)
	for i := 0; i < chunks; i++ {
		if err := c.Do(ctx, http.MethodPut, fmt.Sprintf("/api/v1/captures/%s/chunks/%d", cp.ID, i), chunk, nil); err != nil {
			return Video{}, fmt.Errorf("upload chunk %d: %w", i, err)
		}
	}
	var v Video
	if err := c.Do(ctx, http.MethodPost, "/api/v1/captures/"+cp.ID+"/finish", nil, &v); err != nil {
		return v, fmt.Errorf("finish: %w", err)
	}
	return v, nil
}

// Video returns a video's status.
func (c *Client) Video(ctx context.Context, id string) (Video, error) {
	var v Video
	return v, c.Do(ctx, http.MethodGet, "/api/v1/videos/"+id, nil, &v)
}

// WaitReady polls a video every poll until it is ready (or failed, an error).
// A 503 (no healthy upstream yet, as right after a restore) is polled through as a client
// retries it; it is returned only if the context ends first.
func (c *Client) WaitReady(ctx context.Context, id string, poll time.Duration) (Video, error) {
	for {
		v, err := c.Video(ctx, id)
		var apiErr *jsonhttp.Error
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusServiceUnavailable && ctx.Err() == nil {
			select {
			case <-ctx.Done():
				return v, fmt.Errorf("video %s: %w (the last answer: %v)", id, ctx.Err(), err)
			case <-time.After(poll):
			}
			continue
		}
		if err != nil {
			return v, err
		}
		switch v.Status {
		case "ready":
			return v, nil
		case "failed":
			return v, fmt.Errorf("video %s failed", id)
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("video %s still %s: %w", id, v.Status, ctx.Err())
		case <-time.After(poll):
		}
	}
}
