package datatier

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/model"
)

// Client calls the data tier. Errors the data tier answers come back as *jsonhttp.Error.
type Client struct {
	c jsonhttp.Client
}

// NewClient returns a client of the data tier at baseURL (http://host:port) that sends token
// (the platform's data tier secret, Config.Token) with every request, using hc (nil for
// http.DefaultClient).
func NewClient(baseURL, token string, hc *http.Client) *Client {
	return &Client{c: jsonhttp.Client{BaseURL: baseURL, HTTP: hc, Header: http.Header{"Authorization": {"Bearer " + token}}}}
}

// CreateUser registers a user.
func (c *Client) CreateUser(ctx context.Context, email, name, passwordHash string) (User, error) {
	var u User
	return u, c.c.Do(ctx, http.MethodPost, "/v1/users", createUserReq{email, name, passwordHash}, &u)
}

// User returns a user by ID.
func (c *Client) User(ctx context.Context, id string) (User, error) {
	var u User
	return u, c.c.Do(ctx, http.MethodGet, "/v1/users/"+url.PathEscape(id), nil, &u)
}

// UserByEmail returns a user by email, with its password hash.
func (c *Client) UserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	return u, c.c.Do(ctx, http.MethodGet, "/v1/users?email="+url.QueryEscape(email), nil, &u)
}

// CreateSession records a login.
func (c *Client) CreateSession(ctx context.Context, userID string, ttl time.Duration) (Session, error) {
	var s Session
	return s, c.c.Do(ctx, http.MethodPost, "/v1/sessions", createSessionReq{userID, ttl}, &s)
}

// CreateCapture opens an upload session.
func (c *Client) CreateCapture(ctx context.Context, userID, title string, res model.Resolution, mediaSeconds float64) (Capture, error) {
	var cp Capture
	return cp, c.c.Do(ctx, http.MethodPost, "/v1/captures", createCaptureReq{userID, title, res, mediaSeconds}, &cp)
}

// PutChunk records a chunk of a capture.
func (c *Client) PutChunk(ctx context.Context, captureID, userID string, index int, size int64, sha string) (Capture, error) {
	var cp Capture
	return cp, c.c.Do(ctx, http.MethodPut, "/v1/captures/"+url.PathEscape(captureID)+"/chunks/"+strconv.Itoa(index), putChunkReq{userID, size, sha}, &cp)
}

// FinishCapture accepts a capture as a video; created is false if it already was.
func (c *Client) FinishCapture(ctx context.Context, captureID, userID string) (v Video, created bool, err error) {
	var r finishResp
	err = c.c.Do(ctx, http.MethodPost, "/v1/captures/"+url.PathEscape(captureID)+"/finish", finishReq{userID}, &r)
	return r.Video, r.Created, err
}

// Video returns a video of userID ("" for any user).
func (c *Client) Video(ctx context.Context, id, userID string) (Video, error) {
	var v Video
	return v, c.c.Do(ctx, http.MethodGet, "/v1/videos/"+url.PathEscape(id)+"?user_id="+url.QueryEscape(userID), nil, &v)
}

// Videos lists a user's latest videos.
func (c *Client) Videos(ctx context.Context, userID string, limit int) ([]Video, error) {
	var r struct {
		Videos []Video `json:"videos"`
	}
	err := c.c.Do(ctx, http.MethodGet, "/v1/videos?user_id="+url.QueryEscape(userID)+"&limit="+strconv.Itoa(limit), nil, &r)
	return r.Videos, err
}

// CreateExport records an export ready at readyAt.
func (c *Client) CreateExport(ctx context.Context, userID, videoID, format string, readyAt time.Time) (Export, error) {
	var e Export
	return e, c.c.Do(ctx, http.MethodPost, "/v1/exports", createExportReq{userID, videoID, format, readyAt}, &e)
}

// Export returns an export of userID ("" for any user).
func (c *Client) Export(ctx context.Context, id, userID string) (Export, error) {
	var e Export
	return e, c.c.Do(ctx, http.MethodGet, "/v1/exports/"+url.PathEscape(id)+"?user_id="+url.QueryEscape(userID), nil, &e)
}

// Lease long-polls for a job; nil, nil when none came within req.Wait.
func (c *Client) Lease(ctx context.Context, req LeaseRequest) (*Job, error) {
	var j Job
	err := c.c.Do(ctx, http.MethodPost, "/v1/jobs/lease", req, &j)
	if errors.Is(err, jsonhttp.ErrNoContent) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// Renew extends a lease; a *jsonhttp.Error with code lease_lost means the job went to another
// worker.
func (c *Client) Renew(ctx context.Context, jobID, worker string) (time.Time, error) {
	var r renewResp
	return r.LeaseExpiresAt, c.c.Do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(jobID)+"/renew", renewReq{worker}, &r)
}

// Complete reports a finished job.
func (c *Client) Complete(ctx context.Context, jobID string, req CompleteRequest) error {
	return c.c.Do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(jobID)+"/complete", req, nil)
}

// Stats counts videos by fate.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	return s, c.c.Do(ctx, http.MethodGet, "/v1/stats", nil, &s)
}
