package dailydoco

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/load"
)

// Errors callers branch on. An [*APIError] matches ErrRateLimited when its status is 429.
var (
	ErrRateLimited = errors.New("rate limited (429)")
	ErrBadBody     = errors.New("response body has the wrong shape")
	ErrDeadline    = errors.New("gave up waiting: deadline passed")
	ErrVideoFailed = errors.New("video processing failed")
)

// APIError is an answer with a status the step did not expect.
type APIError struct {
	Step   string
	Status int
	// Code and Message come from the platform's {"error":{...}} body when it has one.
	Code, Message string
	Class         load.ErrorClass
}

func (e *APIError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s: status %d (%s): %s", e.Step, e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("%s: status %d", e.Step, e.Status)
}

// Is makes errors.Is(err, ErrRateLimited) true for throttled requests.
func (e *APIError) Is(target error) bool {
	return target == ErrRateLimited && e.Status == http.StatusTooManyRequests
}

// Engine trend names of the journey-level timings (they also feed [Metrics]).
const (
	TrendDashboardLoad = "dashboard_load"
	TrendFinishToReady = "finish_to_ready"
	TrendExportReady   = "export_ready"
)

// Config is what every client of a run shares. The zero value is not usable: BaseURL is
// required. It is read concurrently by all VUs and must not change once the run starts.
type Config struct {
	// BaseURL is the platform's public address, e.g. http://127.0.7.1:8080.
	BaseURL string
	// Metrics receives the journey-level timings; nil records them as engine trends only.
	Metrics *Metrics
	// Poll is the backoff of waiting for a video; zero fields take [DefaultPoll]'s.
	Poll Backoff
	// ExportPoll is the backoff of waiting for an export; zero fields take [DefaultExportPoll]'s.
	ExportPoll Backoff
	// UploadSpeed is how many media seconds are uploaded per wall second. Zero or 1 uploads
	// live, each chunk as soon as the recording has produced it (what the desktop app does);
	// tests raise it to keep realistic media durations and short runs. Negative uploads
	// without pauses.
	UploadSpeed float64
	// MaxChunkBytes bounds a chunk below the server's max_chunk_bytes; zero means 1 MiB.
	MaxChunkBytes int64
	// AddrOffset is added to VU ids before they become client addresses ([ClientAddr]), so
	// that generators of a distributed run (each numbering its VUs from 1) present distinct
	// users to the gateway.
	AddrOffset int64
	// Retries is how many times a request answered 429 or 503 with Retry-After is sent
	// again, each time after the delay the server asked for (at most [MaxRetryAfter]). Zero
	// means [DefaultRetries]; negative never sends it again, but still waits the delay
	// before the call returns, so that the VU's next request honours it.
	Retries int
}

func (c *Config) retries() int {
	switch {
	case c.Retries < 0:
		return 0
	case c.Retries == 0:
		return DefaultRetries
	}
	return c.Retries
}

// Client calls the API on behalf of one VU during one iteration: create it per iteration with
// [New] (a VU must not be kept across iterations) and carry the token over in the user's
// state with [Client.SetToken].
type Client struct {
	vu      *load.VU
	cfg     *Config
	journey string
	xff     string
	token   string
	sent    int
}

// New returns a client for vu whose steps are named "<journey>.<step>".
func New(vu *load.VU, cfg *Config, journey string) *Client {
	return &Client{vu: vu, cfg: cfg, journey: journey, xff: ClientAddr(vu.ID() + cfg.AddrOffset)}
}

// SetToken sets the bearer token sent with authenticated calls (from [Client.Login]).
func (c *Client) SetToken(tok string) { c.token = tok }

// Requests returns how many requests this client has sent (answered or not).
func (c *Client) Requests() int { return c.sent }

// Token returns the bearer token.
func (c *Client) Token() string { return c.token }

// ClientAddr returns the address VU id presents in X-Forwarded-For: 198.18.0.0 + id, wrapping
// inside 198.18.0.0/15 (RFC 2544's benchmarking range, 131072 addresses), skipping the
// network and broadcast addresses. Distinct VUs get distinct addresses up to 131070 VUs.
func ClientAddr(id int64) string {
	const size = 1 << 17
	m := (id - 1) % (size - 2)
	if m < 0 {
		m += size - 2
	}
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, uint32(198)<<24|uint32(18)<<16+uint32(m)+1)
	return ip.String()
}

// Step returns the full step name of step in this client's journey.
func (c *Client) Step(step string) string {
	if c.journey == "" {
		return step
	}
	return c.journey + "." + step
}

// validator is a response type that can check its own shape.
type validator interface{ validate() error }

// call sends one request as step and decodes the answer into out when its status is want.
// body (nil for none) opens the request body afresh for each attempt. An answer 429 or 503
// with Retry-After is honoured (see [Client.retryAfter]): the request is sent again after the
// delay, up to Config.Retries times. Checks "<step> status" (of the last answer) and, with
// out, "<step> body" are recorded.
func (c *Client) call(ctx context.Context, step, method, path string, body func() io.Reader, size int64, ctype string, auth bool, want int, out validator) (*load.Response, error) {
	full := c.Step(step)
	var resp *load.Response
	for attempt := 0; ; attempt++ {
		var err error
		if resp, err = c.send(ctx, full, method, path, body, size, ctype, auth); err != nil {
			return nil, err
		}
		if resp.Status == want {
			break
		}
		wait, ok := c.retryAfter(resp)
		if !ok {
			break
		}
		// Honour the delay even when no retry is left: the VU's next request, in this
		// iteration or the next, must not come sooner than the server asked.
		if c.vu.Sleep(ctx, wait) != nil || attempt >= c.cfg.retries() {
			break
		}
	}
	if !c.vu.Check(full+" status", resp.Status == want) {
		return resp, apiError(full, resp)
	}
	if out != nil {
		err := json.Unmarshal(resp.Body, out)
		if err == nil {
			err = out.validate()
		}
		if !c.vu.Check(full+" body", err == nil) {
			return resp, fmt.Errorf("%s: %w: %v", full, ErrBadBody, err)
		}
	}
	return resp, nil
}

// send sends one attempt of a call.
func (c *Client) send(ctx context.Context, full, method, path string, body func() io.Reader, size int64, ctype string, auth bool) (*load.Response, error) {
	var r io.Reader
	if body != nil {
		r = body()
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), r)
	if err != nil {
		return nil, fmt.Errorf("%s: build request: %w", full, err)
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("X-Forwarded-For", c.xff)
	if auth {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	c.sent++
	resp, err := c.vu.HTTP().Do(ctx, full, req)
	if err != nil {
		// Already classified by the engine (*load.RequestError); counted as a failed request.
		return nil, fmt.Errorf("%s: %w", full, err)
	}
	return resp, nil
}

// retryAfter returns how long to wait before the next request after resp: for a 429 or 503
// that carries a valid Retry-After, its delay bounded by [MaxRetryAfter]; ok is false for any
// other answer.
func (c *Client) retryAfter(resp *load.Response) (time.Duration, bool) {
	if resp.Status != http.StatusTooManyRequests && resp.Status != http.StatusServiceUnavailable {
		return 0, false
	}
	return RetryAfter(resp.Header, c.vu.Now())
}

// MaxRetryAfter bounds the wait a Retry-After header can impose: a longer one is cut to it, so
// that no answer parks a VU for the rest of a run.
const MaxRetryAfter = time.Minute

// DefaultRetries is how many times a request answered 429 or 503 with Retry-After is sent
// again when Config.Retries is zero.
const DefaultRetries = 2

// RetryAfter reads a Retry-After header (RFC 9110 10.2.3): delay-seconds, or an HTTP-date
// taken relative to the answer's own Date header when it has a valid one (so that the two
// clocks never need to agree) and to now otherwise. The delay is bounded to [0,
// MaxRetryAfter]; ok is false when the header is absent or malformed.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) || err == nil && secs > uint64(MaxRetryAfter/time.Second):
			return MaxRetryAfter, true
		case err != nil:
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		now = date
	}
	return min(max(at.Sub(now), 0), MaxRetryAfter), true
}

func (c *Client) url(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	return strings.TrimSuffix(c.cfg.BaseURL, "/") + path
}

func apiError(step string, r *load.Response) *APIError {
	e := &APIError{Step: step, Status: r.Status, Class: load.Class4xx}
	if r.Status >= 500 {
		e.Class = load.Class5xx
	} else if r.Status < 400 {
		e.Class = load.ClassOther // a success the step did not expect (e.g. 200 for 201)
	}
	var b apiErrorBody
	if json.Unmarshal(r.Body, &b) == nil {
		e.Code, e.Message = b.Error.Code, b.Error.Message
	}
	return e
}

func jsonBody(v any) (func() io.Reader, int64) {
	b, _ := json.Marshal(v) // plain structs and maps of strings: cannot fail
	return func() io.Reader { return bytes.NewReader(b) }, int64(len(b))
}

// Register creates an account (POST /api/v1/users, 201), step "register".
func (c *Client) Register(ctx context.Context, email, password, name string) (User, error) {
	var u User
	b, n := jsonBody(map[string]string{"email": email, "password": password, "name": name})
	_, err := c.call(ctx, "register", http.MethodPost, "/api/v1/users", b, n, "application/json", false, http.StatusCreated, &u)
	return u, err
}

// Login opens a session (POST /api/v1/sessions, 200), step "login", and keeps its token.
func (c *Client) Login(ctx context.Context, email, password string) (Session, error) {
	var s Session
	b, n := jsonBody(map[string]string{"email": email, "password": password})
	if _, err := c.call(ctx, "login", http.MethodPost, "/api/v1/sessions", b, n, "application/json", false, http.StatusOK, &s); err != nil {
		return s, err
	}
	c.token = s.Token
	return s, nil
}

// Me returns the logged-in user (GET /api/v1/me), step "me".
func (c *Client) Me(ctx context.Context) (User, error) { return c.me(ctx, "me") }

func (c *Client) me(ctx context.Context, step string) (User, error) {
	var u User
	_, err := c.call(ctx, step, http.MethodGet, "/api/v1/me", nil, 0, "", true, http.StatusOK, &u)
	return u, err
}

// StartCapture opens a capture session (POST /api/v1/captures, 201), step "capture_start".
func (c *Client) StartCapture(ctx context.Context, spec CaptureSpec) (Capture, error) {
	var cp Capture
	b, n := jsonBody(spec)
	_, err := c.call(ctx, "capture_start", http.MethodPost, "/api/v1/captures", b, n, "application/json", true, http.StatusCreated, &cp)
	return cp, err
}

// PutChunk uploads chunk index of capture id: size bytes generated from the capture and index
// (PUT /api/v1/captures/{id}/chunks/{index}, 200), step "capture_chunk".
func (c *Client) PutChunk(ctx context.Context, id string, index int, size int64) (Capture, error) {
	var cp Capture
	path := "/api/v1/captures/" + id + "/chunks/" + strconv.Itoa(index)
	_, err := c.call(ctx, "capture_chunk", http.MethodPut, path, func() io.Reader { return ChunkReader(id, index, size) }, size, "application/octet-stream", true, http.StatusOK, &cp)
	return cp, err
}

// UploadChunks uploads the whole media of cp (its resolution's [Bitrate] times its media
// seconds) in chunks of the server's max_chunk_bytes (bounded by Config.MaxChunkBytes),
// paced by Config.UploadSpeed: chunk i leaves when the recording has produced it. It returns
// the capture as the last chunk left it.
func (c *Client) UploadChunks(ctx context.Context, cp Capture) (Capture, error) {
	plan := PlanUpload(cp.Resolution, cp.MediaSeconds, c.chunkBytes(cp.MaxChunkBytes))
	start := c.vu.Now()
	last := cp
	for i := range plan.Chunks {
		if due := c.uploadDue(plan, i); due > 0 {
			if err := c.vu.Sleep(ctx, due-c.vu.Now().Sub(start)); err != nil {
				return last, err
			}
		}
		var err error
		if last, err = c.PutChunk(ctx, cp.ID, i, plan.Size(i)); err != nil {
			return last, err
		}
	}
	if last.Chunks != plan.Chunks || last.Bytes != plan.Bytes {
		c.vu.Check(c.Step("capture_chunk")+" complete", false)
		return last, fmt.Errorf("%s: %w: server holds %d chunks, %d bytes; sent %d, %d", c.Step("capture_chunk"), ErrBadBody, last.Chunks, last.Bytes, plan.Chunks, plan.Bytes)
	}
	return last, nil
}

func (c *Client) chunkBytes(server int64) int64 {
	limit := c.cfg.MaxChunkBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	if server > 0 && server < limit {
		return server
	}
	return limit
}

// uploadDue is when chunk i may leave, from the upload's start: when the recording has
// produced its last byte, at UploadSpeed media seconds per wall second.
func (c *Client) uploadDue(p UploadPlan, i int) time.Duration {
	speed := c.cfg.UploadSpeed
	if speed < 0 {
		return 0
	}
	if speed == 0 {
		speed = 1
	}
	return time.Duration(p.MediaAt(i) / speed * float64(time.Second))
}

// Finish closes the capture and hands it to the pipeline (POST .../finish, 202), step
// "capture_finish". The returned video is queued; its AcceptedAt starts finish-to-ready.
func (c *Client) Finish(ctx context.Context, id string) (Video, error) {
	var v Video
	_, err := c.call(ctx, "capture_finish", http.MethodPost, "/api/v1/captures/"+id+"/finish", nil, 0, "", true, http.StatusAccepted, &v)
	return v, err
}

// Video returns one video (GET /api/v1/videos/{id}), step "video_view".
func (c *Client) Video(ctx context.Context, id string) (Video, error) {
	return c.video(ctx, "video_view", id)
}

func (c *Client) video(ctx context.Context, step, id string) (Video, error) {
	var v Video
	_, err := c.call(ctx, step, http.MethodGet, "/api/v1/videos/"+id, nil, 0, "", true, http.StatusOK, &v)
	return v, err
}

// Videos lists the user's newest videos (GET /api/v1/videos), step "videos_list".
func (c *Client) Videos(ctx context.Context) ([]Video, error) { return c.videos(ctx, "videos_list") }

func (c *Client) videos(ctx context.Context, step string) ([]Video, error) {
	var l videoList
	_, err := c.call(ctx, step, http.MethodGet, "/api/v1/videos", nil, 0, "", true, http.StatusOK, &l)
	return l.Videos, err
}

// WaitReady polls the video (step "video_poll") with Config.Poll's backoff until it is ready,
// failed ([ErrVideoFailed]) or the deadline passed ([ErrDeadline]). finishedAt is when Finish
// returned (VU clock); the time from it to the poll that saw "ready" is recorded as
// finish_to_ready, which is what the user waits, at most one poll interval more than the
// pipeline's own time.
func (c *Client) WaitReady(ctx context.Context, id string, finishedAt time.Time) (Video, error) {
	var v Video
	err := c.poll(ctx, c.cfg.Poll.WithDefaults(DefaultPoll), func() (bool, error) {
		var err error
		if v, err = c.video(ctx, "video_poll", id); err != nil {
			return false, err
		}
		switch v.Status {
		case VideoReady:
			return true, nil
		case VideoFailed:
			return false, fmt.Errorf("%s: video %s: %w: %s", c.Step("video_poll"), id, ErrVideoFailed, v.Error)
		}
		return false, nil
	})
	if err == nil {
		c.observe(TrendFinishToReady, c.vu.Now().Sub(finishedAt))
	}
	return v, err
}

// poll calls try after each of b's delays until it reports done, fails, or the next wait
// would end past b's deadline.
func (c *Client) poll(ctx context.Context, b Backoff, try func() (bool, error)) error {
	deadline := c.vu.Now().Add(b.Deadline)
	for attempt := 0; ; attempt++ {
		d := b.Delay(attempt)
		if c.vu.Now().Add(d).After(deadline) {
			return fmt.Errorf("%w after %v (%d polls)", ErrDeadline, b.Deadline, attempt)
		}
		if err := c.vu.Sleep(ctx, d); err != nil {
			return err
		}
		done, err := try()
		if done || err != nil {
			return err
		}
	}
}

// AIResults reads the AI step's output of a ready video (GET .../ai), step "ai_results".
func (c *Client) AIResults(ctx context.Context, id string) (AIResult, error) {
	var a AIResult
	_, err := c.call(ctx, "ai_results", http.MethodGet, "/api/v1/videos/"+id+"/ai", nil, 0, "", true, http.StatusOK, &a)
	return a, err
}

// RequestExport asks for an export of a ready video (POST .../exports, 202), step
// "export_request".
func (c *Client) RequestExport(ctx context.Context, videoID, format string) (Export, error) {
	var e Export
	b, n := jsonBody(map[string]string{"format": format})
	_, err := c.call(ctx, "export_request", http.MethodPost, "/api/v1/videos/"+videoID+"/exports", b, n, "application/json", true, http.StatusAccepted, &e)
	return e, err
}

// Export returns an export's status (GET /api/v1/exports/{id}), step "export_status".
func (c *Client) Export(ctx context.Context, id string) (Export, error) {
	var e Export
	_, err := c.call(ctx, "export_status", http.MethodGet, "/api/v1/exports/"+id, nil, 0, "", true, http.StatusOK, &e)
	return e, err
}

// WaitExport polls an export with Config.ExportPoll's backoff until it is ready; the time from
// the request (requestedAt, VU clock) is recorded as export_ready.
func (c *Client) WaitExport(ctx context.Context, e Export, requestedAt time.Time) (Export, error) {
	err := error(nil)
	if e.Status != ExportReady {
		err = c.poll(ctx, c.cfg.ExportPoll.WithDefaults(DefaultExportPoll), func() (bool, error) {
			var err error
			e, err = c.Export(ctx, e.ID)
			return err == nil && e.Status == ExportReady, err
		})
	}
	if err == nil {
		c.observe(TrendExportReady, c.vu.Now().Sub(requestedAt))
	}
	return e, err
}

// Download fetches a ready export through its signed URL (no token), step "export_download",
// and returns the bytes received; it checks they match Content-Length.
func (c *Client) Download(ctx context.Context, e Export) (int64, error) {
	resp, err := c.call(ctx, "export_download", http.MethodGet, e.DownloadURL, nil, 0, "", false, http.StatusOK, nil)
	if err != nil {
		return 0, err
	}
	n := int64(len(resp.Body))
	want, perr := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	if !c.vu.Check(c.Step("export_download")+" body", perr == nil && n == want && n > 0) {
		return n, fmt.Errorf("%s: %w: %d bytes for Content-Length %q", c.Step("export_download"), ErrBadBody, n, resp.Header.Get("Content-Length"))
	}
	return n, nil
}

// DashboardLoad is what one dashboard load fetched.
type DashboardLoad struct {
	Assets   []string
	User     User
	Videos   []Video
	Duration time.Duration
	Requests int
}

// assetRef finds the page's same-origin static references, as a browser would follow them.
var assetRef = regexp.MustCompile(`(?i)<(?:script|link|img)\b[^>]*?\b(?:src|href)\s*=\s*"(/static/[^"]+)"`)

// DashboardAssets returns the static assets an HTML page references, in document order.
func DashboardAssets(page []byte) []string {
	var out []string
	for _, m := range assetRef.FindAllSubmatch(page, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// Dashboard loads the web dashboard as a browser with an empty cache would: the page (step
// "dashboard_page"), every static asset it references ("dashboard_asset"), then, when logged
// in, the page's first API calls: the user ("dashboard_me") and the video list
// ("dashboard_videos"). Requests go one after another (a VU has one connection at a time),
// so the figure is an upper bound on what a browser with parallel fetches sees. The whole
// load's duration is recorded as dashboard_load only when every part succeeded: a failed
// load is an error, not a fast load.
func (c *Client) Dashboard(ctx context.Context) (DashboardLoad, error) {
	var d DashboardLoad
	start := c.vu.Now()
	resp, err := c.call(ctx, "dashboard_page", http.MethodGet, "/", nil, 0, "", false, http.StatusOK, nil)
	d.Requests++
	if err != nil {
		return d, err
	}
	page := resp.Body
	if !c.vu.Check(c.Step("dashboard_page")+" body", bytes.Contains(page, []byte("<html"))) {
		return d, fmt.Errorf("%s: %w: not an HTML page", c.Step("dashboard_page"), ErrBadBody)
	}
	d.Assets = DashboardAssets(page)
	for _, a := range d.Assets {
		d.Requests++
		if _, err := c.call(ctx, "dashboard_asset", http.MethodGet, a, nil, 0, "", false, http.StatusOK, nil); err != nil {
			return d, err
		}
	}
	if c.token != "" {
		d.Requests += 2
		if d.User, err = c.me(ctx, "dashboard_me"); err != nil {
			return d, err
		}
		if d.Videos, err = c.videos(ctx, "dashboard_videos"); err != nil {
			return d, err
		}
	}
	d.Duration = c.vu.Now().Sub(start)
	c.observe(TrendDashboardLoad, d.Duration)
	return d, nil
}

// observe records a journey-level timing as an engine trend (tagged with the journey) and in
// the Prometheus histogram.
func (c *Client) observe(name string, d time.Duration) {
	c.vu.Trend(name, c.journey, d)
	c.cfg.Metrics.Observe(name, d)
}

// ChunkReader returns the size bytes of chunk index of capture id: a ChaCha8 stream seeded
// from both, so the same chunk always has the same bytes, and no chunk is ever materialised.
func ChunkReader(id string, index int, size int64) io.Reader {
	seed := sha256.Sum256([]byte(id + "/" + strconv.Itoa(index)))
	return io.LimitReader(rand.NewChaCha8(seed), size)
}
