package dailydoco

import (
	"errors"
	"fmt"
	"time"
)

// These types mirror the API's JSON. They are declared here rather than imported from the
// reference platform because the client must speak to the real DailyDoco Pro as well: the
// harness never imports the system under test.

// Resolution of a capture: 4k, 1080p or 720p.
type Resolution string

// The resolutions the API accepts.
const (
	R4K    Resolution = "4k"
	R1080p Resolution = "1080p"
	R720p  Resolution = "720p"
)

// Video states, in pipeline order.
const (
	VideoQueued     = "queued"
	VideoProcessing = "processing"
	VideoAI         = "ai"
	VideoReady      = "ready"
	VideoFailed     = "failed"
)

// Export states.
const (
	ExportRendering = "rendering"
	ExportReady     = "ready"
)

// User is an account.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func (u *User) validate() error {
	if u.ID == "" || u.Email == "" {
		return errors.New("user without id or email")
	}
	return nil
}

// Session is a login: a bearer token and its expiry.
type Session struct {
	Token     string    `json:"token"`
	TokenType string    `json:"token_type"`
	ExpiresAt time.Time `json:"expires_at"`
	UserID    string    `json:"user_id"`
}

func (s *Session) validate() error {
	if s.Token == "" || s.UserID == "" || s.ExpiresAt.IsZero() {
		return errors.New("session without token, user_id or expires_at")
	}
	return nil
}

// CaptureSpec is what a capture session is started with.
type CaptureSpec struct {
	Title        string     `json:"title"`
	Resolution   Resolution `json:"resolution"`
	MediaSeconds float64    `json:"media_seconds"`
}

// Capture is an upload session.
type Capture struct {
	ID            string     `json:"id"`
	State         string     `json:"state"`
	Title         string     `json:"title"`
	Resolution    Resolution `json:"resolution"`
	MediaSeconds  float64    `json:"media_seconds"`
	Chunks        int        `json:"chunks"`
	Bytes         int64      `json:"bytes"`
	MaxChunkBytes int64      `json:"max_chunk_bytes"`
	VideoID       string     `json:"video_id,omitempty"`
}

func (c *Capture) validate() error {
	if c.ID == "" || c.State == "" || c.Resolution == "" || !(c.MediaSeconds > 0) {
		return errors.New("capture without id, state, resolution or media_seconds")
	}
	return nil
}

// Video is a finished capture going through the pipeline.
type Video struct {
	ID           string     `json:"id"`
	Title        string     `json:"title"`
	Status       string     `json:"status"`
	Resolution   Resolution `json:"resolution"`
	MediaSeconds float64    `json:"media_seconds"`
	AcceptedAt   time.Time  `json:"accepted_at"`
	ReadyAt      *time.Time `json:"ready_at,omitempty"`
	FailedAt     *time.Time `json:"failed_at,omitempty"`
	ThumbnailURL string     `json:"thumbnail_url,omitempty"`
	Error        string     `json:"error,omitempty"`
}

func (v *Video) validate() error {
	switch v.Status {
	case VideoQueued, VideoProcessing, VideoAI, VideoReady, VideoFailed:
	default:
		return fmt.Errorf("video status %q is none of queued, processing, ai, ready, failed", v.Status)
	}
	if v.ID == "" || v.AcceptedAt.IsZero() {
		return errors.New("video without id or accepted_at")
	}
	if v.Status == VideoReady && v.ReadyAt == nil {
		return errors.New("ready video without ready_at")
	}
	return nil
}

// videoList is GET /api/v1/videos.
type videoList struct {
	Videos []Video `json:"videos"`
}

func (l *videoList) validate() error {
	if l.Videos == nil {
		return errors.New("no videos array")
	}
	for i := range l.Videos {
		if err := l.Videos[i].validate(); err != nil {
			return fmt.Errorf("videos[%d]: %w", i, err)
		}
	}
	return nil
}

// AIResult is the AI step's output for a ready video.
type AIResult struct {
	VideoID           string  `json:"video_id"`
	Summary           string  `json:"summary"`
	AuthenticityScore float64 `json:"authenticity_score"`
	Model             string  `json:"model"`
}

func (a *AIResult) validate() error {
	if a.VideoID == "" || a.AuthenticityScore < 0 || a.AuthenticityScore > 1 {
		return errors.New("ai result without video_id or with a score outside [0, 1]")
	}
	return nil
}

// Export is a rendering of a video in a format; DownloadURL is set once it is ready.
type Export struct {
	ID          string     `json:"id"`
	VideoID     string     `json:"video_id"`
	Format      string     `json:"format"`
	Status      string     `json:"status"`
	RequestedAt time.Time  `json:"requested_at"`
	ReadyAt     *time.Time `json:"ready_at,omitempty"`
	DownloadURL string     `json:"download_url,omitempty"`
}

func (e *Export) validate() error {
	switch {
	case e.ID == "" || e.VideoID == "":
		return errors.New("export without id or video_id")
	case e.Status == ExportReady && e.DownloadURL == "":
		return errors.New("ready export without download_url")
	case e.Status != ExportReady && e.Status != ExportRendering:
		return fmt.Errorf("export status %q is neither rendering nor ready", e.Status)
	}
	return nil
}

// apiErrorBody is the platform's error JSON.
type apiErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}
