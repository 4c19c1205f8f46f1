// Package api is the DailyDoco Pro API service of the reference platform: accounts and logins,
// capture upload in chunks, video status, AI results and exports with signed, expiring download
// URLs. It keeps no state: everything lives in the data tier, and login tokens are signed with
// the cluster's secret so that every replica accepts every token without a lookup.
//
// Errors are JSON {"error":{"code":"...","message":"..."}} with stable codes: 400 for invalid
// input, 401 without a valid token, 403 for another user's resource, 404, 409 for a conflict with
// the resource's state, 413 for an oversized chunk, 503 when the data tier cannot be reached.
// The defect fields of [Config] (added latency, a share of 500 answers) break it on purpose,
// for the gate-mutation suite only (topology.Defects).
package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dailydoco/ddp-verify/platform/datatier"
	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/model"
	"github.com/dailydoco/ddp-verify/platform/routes"
)

// Config is the API service's configuration.
type Config struct {
	// Secret signs login tokens and download URLs; every replica of a cluster shares it.
	Secret        []byte
	MaxChunkBytes int64
	TokenTTL      time.Duration
	DownloadTTL   time.Duration
	Model         model.Model

	// Defects of the gate-mutation suite (topology.Defects); their zero values are a healthy
	// API. They break it on purpose and must never be set in a real verification.

	// AddedLatency is waited at the start of every request, inside its service time.
	AddedLatency time.Duration
	// ErrorShare is the share of requests, in [0, 1], answered 500 internal_error without
	// being handled, spread evenly over the replica's requests in arrival order.
	ErrorShare float64
}

// Service serves the API. Create it with [New].
type Service struct {
	db       *datatier.Client
	cfg      Config
	now      func() time.Time
	requests atomic.Uint64 // requests so far, for Config.ErrorShare
}

// New returns the API service over the data tier client db.
func New(db *datatier.Client, cfg Config) *Service {
	return &Service{db: db, cfg: cfg, now: time.Now}
}

// Handler returns the API's routes (routes.All whose service is api) on a ServeMux, so that the
// matched pattern is known to the metrics middleware wrapping it.
func (s *Service) Handler() *http.ServeMux {
	handlers := map[string]func(http.ResponseWriter, *http.Request) error{
		"POST /api/v1/users":                       s.register,
		"POST /api/v1/sessions":                    s.login,
		"GET /api/v1/me":                           s.authed(s.me),
		"POST /api/v1/captures":                    s.authed(s.startCapture),
		"PUT /api/v1/captures/{id}/chunks/{index}": s.authed(s.putChunk),
		"POST /api/v1/captures/{id}/finish":        s.authed(s.finish),
		"GET /api/v1/videos":                       s.authed(s.videos),
		"GET /api/v1/videos/{id}":                  s.authed(s.video),
		"GET /api/v1/videos/{id}/ai":               s.authed(s.aiResults),
		"POST /api/v1/videos/{id}/exports":         s.authed(s.createExport),
		"GET /api/v1/exports/{id}":                 s.authed(s.export),
		"GET /api/v1/exports/{id}/download":        s.download,
	}
	mux := http.NewServeMux()
	for _, rt := range routes.All {
		if rt.Service != "api" {
			continue
		}
		h := handlers[rt.Pattern]
		if h == nil {
			panic("api: no handler for route " + rt.Pattern)
		}
		mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := s.defects(r); err != nil {
				jsonhttp.WriteError(w, err)
				return
			}
			if err := h(w, r); err != nil {
				jsonhttp.WriteError(w, apiError(err))
			}
		})
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if err := s.defects(r); err != nil {
			jsonhttp.WriteError(w, err)
			return
		}
		jsonhttp.WriteError(w, jsonhttp.Errorf(http.StatusNotFound, "route_not_found", "no route %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// defects applies the API's defects to one request before it is handled: the added latency,
// then the error share. A non-nil error is the answer, and the request is not handled.
func (s *Service) defects(r *http.Request) error {
	if d := s.cfg.AddedLatency; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done(): // the client left: handle it as any cancelled request
			t.Stop()
		}
	}
	if share := s.cfg.ErrorShare; share > 0 {
		// Request n fails when it takes floor(n x share) past floor((n-1) x share): exactly
		// share of every 1/share requests, evenly spread (share 0.25: the 4th, 8th, ...).
		n := float64(s.requests.Add(1))
		if math.Floor(n*share) > math.Floor((n-1)*share) {
			return jsonhttp.Errorf(http.StatusInternalServerError, "internal_error", "this request failed on purpose (defect api_error_share)")
		}
	}
	return nil
}

// apiError keeps the data tier's coded errors and turns failures to reach it into 503.
func apiError(err error) error {
	var e *jsonhttp.Error
	if errors.As(err, &e) {
		return e
	}
	return jsonhttp.Errorf(http.StatusServiceUnavailable, "datatier_unavailable", "the data tier did not answer: %v", err)
}

func badRequest(code, format string, args ...any) error {
	return jsonhttp.Errorf(http.StatusBadRequest, code, format, args...)
}

const maxJSON = 16 << 10

// --- accounts -------------------------------------------------------------------------------

type registerReq struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

type userResp struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func publicUser(u datatier.User) userResp { return userResp{u.ID, u.Email, u.Name, u.CreatedAt} }

func (s *Service) register(w http.ResponseWriter, r *http.Request) error {
	var in registerReq
	if err := jsonhttp.Decode(r, maxJSON, &in); err != nil {
		return err
	}
	in.Email = strings.ToLower(strings.TrimSpace(in.Email))
	switch {
	case len(in.Email) < 3 || len(in.Email) > 254 || !strings.Contains(in.Email, "@"):
		return badRequest("invalid_email", "email must be an address like dev@example.com")
	case len(in.Password) < 8 || len(in.Password) > 128:
		return badRequest("invalid_password", "password must be 8 to 128 characters")
	case len(in.Name) > 100:
		return badRequest("invalid_name", "name must be at most 100 characters")
	}
	salt := datatier.NewID("salt")
	u, err := s.db.CreateUser(r.Context(), in.Email, in.Name, salt+"$"+hashPassword(salt, in.Password))
	if err != nil {
		return err
	}
	jsonhttp.Write(w, http.StatusCreated, publicUser(u))
	return nil
}

// hashPassword is a salted SHA-256: a model of a password hash that costs microseconds, so
// that load tests measure the platform, not a key-derivation function.
func hashPassword(salt, password string) string {
	h := sha256.Sum256([]byte(salt + "\x00" + password))
	return hex.EncodeToString(h[:])
}

type loginReq struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type loginResp struct {
	Token     string    `json:"token"`
	TokenType string    `json:"token_type"`
	ExpiresAt time.Time `json:"expires_at"`
	UserID    string    `json:"user_id"`
}

func (s *Service) login(w http.ResponseWriter, r *http.Request) error {
	var in loginReq
	if err := jsonhttp.Decode(r, maxJSON, &in); err != nil {
		return err
	}
	bad := jsonhttp.Errorf(http.StatusUnauthorized, "invalid_credentials", "unknown email or wrong password")
	u, err := s.db.UserByEmail(r.Context(), strings.ToLower(strings.TrimSpace(in.Email)))
	if jsonhttp.Code(err) == "user_not_found" {
		return bad
	}
	if err != nil {
		return err
	}
	salt, hash, _ := strings.Cut(u.PasswordHash, "$")
	if !hmac.Equal([]byte(hash), []byte(hashPassword(salt, in.Password))) {
		return bad
	}
	se, err := s.db.CreateSession(r.Context(), u.ID, s.cfg.TokenTTL)
	if err != nil {
		return err
	}
	jsonhttp.Write(w, http.StatusOK, loginResp{Token: s.token(u.ID, se.ID, se.ExpiresAt), TokenType: "Bearer", ExpiresAt: se.ExpiresAt, UserID: u.ID})
	return nil
}

func (s *Service) sign(parts ...string) string {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte(strings.Join(parts, "|")))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// token is ddp1.<user>.<session>.<expiry unix>.<signature>.
func (s *Service) token(userID, sessionID string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return strings.Join([]string{"ddp1", userID, sessionID, e, s.sign("token", userID, sessionID, e)}, ".")
}

// userOf checks the bearer token and returns its user.
func (s *Service) userOf(r *http.Request) (string, error) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return "", jsonhttp.Errorf(http.StatusUnauthorized, "missing_token", "send Authorization: Bearer <token> from POST /api/v1/sessions")
	}
	p := strings.Split(tok, ".")
	if len(p) != 5 || p[0] != "ddp1" || !hmac.Equal([]byte(p[4]), []byte(s.sign("token", p[1], p[2], p[3]))) {
		return "", jsonhttp.Errorf(http.StatusUnauthorized, "invalid_token", "the token is not one this platform issued; log in again")
	}
	exp, _ := strconv.ParseInt(p[3], 10, 64)
	if s.now().Unix() >= exp {
		return "", jsonhttp.Errorf(http.StatusUnauthorized, "token_expired", "the token expired; log in again")
	}
	return p[1], nil
}

func (s *Service) authed(h func(http.ResponseWriter, *http.Request, string) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		uid, err := s.userOf(r)
		if err != nil {
			return err
		}
		return h(w, r, uid)
	}
}

func (s *Service) me(w http.ResponseWriter, r *http.Request, uid string) error {
	u, err := s.db.User(r.Context(), uid)
	if err != nil {
		return err
	}
	jsonhttp.Write(w, http.StatusOK, publicUser(u))
	return nil
}

// --- capture upload -------------------------------------------------------------------------

type captureReq struct {
	Title        string           `json:"title"`
	Resolution   model.Resolution `json:"resolution"`
	MediaSeconds float64          `json:"media_seconds"`
}

type captureResp struct {
	ID            string           `json:"id"`
	State         string           `json:"state"`
	Title         string           `json:"title"`
	Resolution    model.Resolution `json:"resolution"`
	MediaSeconds  float64          `json:"media_seconds"`
	Chunks        int              `json:"chunks"`
	Bytes         int64            `json:"bytes"`
	MaxChunkBytes int64            `json:"max_chunk_bytes"`
	VideoID       string           `json:"video_id,omitempty"`
}

// MaxMediaSeconds is the longest capture accepted (4 hours).
const MaxMediaSeconds = 4 * 3600

func (s *Service) captureResp(c datatier.Capture) captureResp {
	return captureResp{c.ID, c.State, c.Title, c.Resolution, c.MediaSeconds, c.Chunks, c.Bytes, s.cfg.MaxChunkBytes, c.VideoID}
}

func (s *Service) startCapture(w http.ResponseWriter, r *http.Request, uid string) error {
	var in captureReq
	if err := jsonhttp.Decode(r, maxJSON, &in); err != nil {
		return err
	}
	if !in.Resolution.Valid() {
		return badRequest("invalid_resolution", "resolution must be 4k, 1080p or 720p, not %q", in.Resolution)
	}
	if !(in.MediaSeconds > 0 && in.MediaSeconds <= MaxMediaSeconds) {
		return badRequest("invalid_media_seconds", "media_seconds must be above 0 and at most %d", MaxMediaSeconds)
	}
	if len(in.Title) > 200 {
		return badRequest("invalid_title", "title must be at most 200 characters")
	}
	c, err := s.db.CreateCapture(r.Context(), uid, in.Title, in.Resolution, in.MediaSeconds)
	if err != nil {
		return err
	}
	jsonhttp.Write(w, http.StatusCreated, s.captureResp(c))
	return nil
}

// MaxChunks bounds the chunk index of a capture.
const MaxChunks = 10000

func (s *Service) putChunk(w http.ResponseWriter, r *http.Request, uid string) error {
	idx, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || idx < 0 || idx >= MaxChunks {
		return badRequest("invalid_chunk_index", "chunk index must be an integer from 0 to %d", MaxChunks-1)
	}
	if r.ContentLength > s.cfg.MaxChunkBytes {
		return jsonhttp.Errorf(http.StatusRequestEntityTooLarge, "chunk_too_large", "a chunk may hold at most %d bytes; split the upload", s.cfg.MaxChunkBytes)
	}
	h := sha256.New()
	n, err := io.Copy(h, http.MaxBytesReader(w, r.Body, s.cfg.MaxChunkBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return jsonhttp.Errorf(http.StatusRequestEntityTooLarge, "chunk_too_large", "a chunk may hold at most %d bytes; split the upload", s.cfg.MaxChunkBytes)
	}
	if err != nil {
		return badRequest("bad_chunk", "reading the chunk failed: %v", err)
	}
	if n == 0 {
		return badRequest("empty_chunk", "a chunk must hold at least one byte")
	}
	c, err := s.db.PutChunk(r.Context(), r.PathValue("id"), uid, idx, n, hex.EncodeToString(h.Sum(nil)))
	if err != nil {
		return err
	}
	jsonhttp.Write(w, http.StatusOK, s.captureResp(c))
	return nil
}

func (s *Service) finish(w http.ResponseWriter, r *http.Request, uid string) error {
	// Finishing is idempotent: the gateway may retry it, and a second call returns the video
	// the first one created.
	v, _, err := s.db.FinishCapture(r.Context(), r.PathValue("id"), uid)
	if err != nil {
		return err
	}
	jsonhttp.Write(w, http.StatusAccepted, s.videoResp(v))
	return nil
}

// --- videos ---------------------------------------------------------------------------------

type videoResp struct {
	ID                  string           `json:"id"`
	Title               string           `json:"title"`
	Status              string           `json:"status"`
	Resolution          model.Resolution `json:"resolution"`
	MediaSeconds        float64          `json:"media_seconds"`
	AcceptedAt          time.Time        `json:"accepted_at"`
	ProcessingStartedAt *time.Time       `json:"processing_started_at,omitempty"`
	GPUDoneAt           *time.Time       `json:"gpu_done_at,omitempty"`
	AIStartedAt         *time.Time       `json:"ai_started_at,omitempty"`
	ReadyAt             *time.Time       `json:"ready_at,omitempty"`
	FailedAt            *time.Time       `json:"failed_at,omitempty"`
	GPUNode             string           `json:"gpu_node,omitempty"`
	AINode              string           `json:"ai_node,omitempty"`
	GPUAttempts         int              `json:"gpu_attempts"`
	ThumbnailURL        string           `json:"thumbnail_url,omitempty"`
	Error               string           `json:"error,omitempty"`
}

func (s *Service) videoResp(v datatier.Video) videoResp {
	return videoResp{v.ID, v.Title, v.State, v.Resolution, v.MediaSeconds, v.AcceptedAt, v.ProcessingStartedAt, v.GPUDoneAt,
		v.AIStartedAt, v.ReadyAt, v.FailedAt, v.GPUNode, v.AINode, v.GPUAttempts, v.Thumbnail, v.Error}
}

func (s *Service) videos(w http.ResponseWriter, r *http.Request, uid string) error {
	vs, err := s.db.Videos(r.Context(), uid, 20)
	if err != nil {
		return err
	}
	out := make([]videoResp, len(vs))
	for i, v := range vs {
		out[i] = s.videoResp(v)
	}
	jsonhttp.Write(w, http.StatusOK, map[string]any{"videos": out})
	return nil
}

func (s *Service) video(w http.ResponseWriter, r *http.Request, uid string) error {
	v, err := s.db.Video(r.Context(), r.PathValue("id"), uid)
	if err != nil {
		return err
	}
	jsonhttp.Write(w, http.StatusOK, s.videoResp(v))
	return nil
}

func notReady(v datatier.Video) error {
	return jsonhttp.Errorf(http.StatusConflict, "video_not_ready", "video %q is %s; poll GET /api/v1/videos/%s until ready", v.ID, v.State, v.ID)
}

func (s *Service) aiResults(w http.ResponseWriter, r *http.Request, uid string) error {
	v, err := s.db.Video(r.Context(), r.PathValue("id"), uid)
	if err != nil {
		return err
	}
	if v.State != datatier.StateReady || v.AuthenticityScore == nil {
		return notReady(v)
	}
	jsonhttp.Write(w, http.StatusOK, map[string]any{
		"video_id": v.ID, "summary": v.Summary, "authenticity_score": *v.AuthenticityScore, "model": "aegnt27-authenticity (simulated)",
	})
	return nil
}

// --- exports --------------------------------------------------------------------------------

// ExportFormats are the formats an export can be rendered in.
var ExportFormats = map[string]string{"mp4": "video/mp4", "webm": "video/webm", "gif": "image/gif", "html": "text/html"}

type exportReq struct {
	Format string `json:"format"`
}

type exportResp struct {
	ID          string     `json:"id"`
	VideoID     string     `json:"video_id"`
	Format      string     `json:"format"`
	Status      string     `json:"status"` // rendering, ready
	RequestedAt time.Time  `json:"requested_at"`
	ReadyAt     *time.Time `json:"ready_at,omitempty"`
	DownloadURL string     `json:"download_url,omitempty"`
	URLExpires  *time.Time `json:"download_url_expires_at,omitempty"`
}

func (s *Service) exportResp(e datatier.Export) exportResp {
	out := exportResp{ID: e.ID, VideoID: e.VideoID, Format: e.Format, Status: "rendering", RequestedAt: e.RequestedAt}
	if now := s.now(); !now.Before(e.ReadyAt) {
		exp := now.Add(s.cfg.DownloadTTL).UTC().Truncate(time.Second)
		ready := e.ReadyAt
		out.Status, out.ReadyAt, out.URLExpires = "ready", &ready, &exp
		es := strconv.FormatInt(exp.Unix(), 10)
		out.DownloadURL = fmt.Sprintf("/api/v1/exports/%s/download?expires=%s&signature=%s", e.ID, es, s.sign("download", e.ID, es))
	}
	return out
}

func (s *Service) createExport(w http.ResponseWriter, r *http.Request, uid string) error {
	var in exportReq
	if err := jsonhttp.Decode(r, maxJSON, &in); err != nil {
		return err
	}
	if _, ok := ExportFormats[in.Format]; !ok {
		return badRequest("invalid_format", "format must be mp4, webm, gif or html, not %q", in.Format)
	}
	v, err := s.db.Video(r.Context(), r.PathValue("id"), uid)
	if err != nil {
		return err
	}
	if v.State != datatier.StateReady {
		return notReady(v)
	}
	// Rendering is modelled as a delay: the export is ready ExportSeconds after the request.
	now := s.now()
	e, err := s.db.CreateExport(r.Context(), uid, v.ID, in.Format, now.Add(s.cfg.Model.Wall(s.cfg.Model.ExportSeconds(v.MediaSeconds))))
	if err != nil {
		return err
	}
	jsonhttp.Write(w, http.StatusAccepted, s.exportResp(e))
	return nil
}

func (s *Service) export(w http.ResponseWriter, r *http.Request, uid string) error {
	e, err := s.db.Export(r.Context(), r.PathValue("id"), uid)
	if err != nil {
		return err
	}
	jsonhttp.Write(w, http.StatusOK, s.exportResp(e))
	return nil
}

// DownloadBytes is the size of a downloaded export (synthetic content).
const DownloadBytes = 64 << 10

// download serves a signed URL: no token, the signature and expiry are the authorisation.
func (s *Service) download(w http.ResponseWriter, r *http.Request) error {
	id, q := r.PathValue("id"), r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || !hmac.Equal([]byte(q.Get("signature")), []byte(s.sign("download", id, q.Get("expires")))) {
		return jsonhttp.Errorf(http.StatusForbidden, "invalid_signature", "the download URL is not signed by this platform; get a fresh one from GET /api/v1/exports/%s", id)
	}
	if s.now().Unix() > exp {
		return jsonhttp.Errorf(http.StatusForbidden, "url_expired", "the download URL expired; get a fresh one from GET /api/v1/exports/%s", id)
	}
	e, err := s.db.Export(r.Context(), id, "")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ExportFormats[e.Format])
	w.Header().Set("Content-Length", strconv.Itoa(DownloadBytes))
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", e.ID+"."+e.Format))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(synthetic(e.ID, DownloadBytes))
	return nil
}

// synthetic returns n deterministic bytes derived from seed.
func synthetic(seed string, n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	h := sha256.Sum256([]byte(seed))
	for len(out) < n {
		out = append(out, h[:]...)
		h = sha256.Sum256(h[:])
	}
	return out[:n]
}
