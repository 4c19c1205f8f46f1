package datatier

import (
	"time"

	"github.com/dailydoco/ddp-verify/platform/model"
)

// Video states.
const (
	StateQueued     = "queued"
	StateProcessing = "processing"
	StateAI         = "ai"
	StateReady      = "ready"
	StateFailed     = "failed"
)

// Job stages: the GPU transcode and thumbnail, then the AI step.
const (
	StageGPU = "gpu"
	StageAI  = "ai"
)

// User is an account. PasswordHash only travels between the API and the data tier.
type User struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	PasswordHash string    `json:"password_hash,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// Session is a login.
type Session struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Capture is an upload session: chunks arrive until it is finished and becomes a video.
type Capture struct {
	ID           string           `json:"id"`
	UserID       string           `json:"user_id"`
	Title        string           `json:"title"`
	Resolution   model.Resolution `json:"resolution"`
	MediaSeconds float64          `json:"media_seconds"`
	Chunks       int              `json:"chunks"`
	Bytes        int64            `json:"bytes"`
	State        string           `json:"state"` // open, finished
	VideoID      string           `json:"video_id,omitempty"`
	CreatedAt    time.Time        `json:"created_at"`
}

// Video is an accepted capture moving through the pipeline.
type Video struct {
	ID                  string           `json:"id"`
	UserID              string           `json:"user_id"`
	CaptureID           string           `json:"capture_id"`
	Title               string           `json:"title"`
	Resolution          model.Resolution `json:"resolution"`
	MediaSeconds        float64          `json:"media_seconds"`
	State               string           `json:"state"`
	AcceptedAt          time.Time        `json:"accepted_at"`
	ProcessingStartedAt *time.Time       `json:"processing_started_at,omitempty"`
	GPUDoneAt           *time.Time       `json:"gpu_done_at,omitempty"`
	AIStartedAt         *time.Time       `json:"ai_started_at,omitempty"`
	ReadyAt             *time.Time       `json:"ready_at,omitempty"`
	FailedAt            *time.Time       `json:"failed_at,omitempty"`
	GPUNode             string           `json:"gpu_node,omitempty"`
	AINode              string           `json:"ai_node,omitempty"`
	GPUAttempts         int              `json:"gpu_attempts"`
	Thumbnail           string           `json:"thumbnail,omitempty"`
	Summary             string           `json:"summary,omitempty"`
	AuthenticityScore   *float64         `json:"authenticity_score,omitempty"`
	Error               string           `json:"error,omitempty"`
}

// Export is a rendering of a ready video in some format.
type Export struct {
	ID          string    `json:"id"`
	VideoID     string    `json:"video_id"`
	UserID      string    `json:"user_id"`
	Format      string    `json:"format"`
	RequestedAt time.Time `json:"requested_at"`
	ReadyAt     time.Time `json:"ready_at"`
}

// Job is a unit of queued work as a worker leases it.
type Job struct {
	ID             string           `json:"id"`
	VideoID        string           `json:"video_id"`
	Stage          string           `json:"stage"`
	Slots          int              `json:"slots"`
	Resolution     model.Resolution `json:"resolution"`
	MediaSeconds   float64          `json:"media_seconds"`
	EnqueuedAt     time.Time        `json:"enqueued_at"`
	LeasedAt       time.Time        `json:"leased_at"`
	LeaseExpiresAt time.Time        `json:"lease_expires_at"`
	Attempts       int              `json:"attempts"`
}

// LeaseRequest asks for the oldest job of Stage needing at most MaxSlots slots, waiting up to
// Wait for one to arrive.
type LeaseRequest struct {
	Stage    string        `json:"stage"`
	Worker   string        `json:"worker"`
	Node     string        `json:"node"`
	MaxSlots int           `json:"max_slots"`
	Wait     time.Duration `json:"wait"`
	// RequestID names this request. A worker whose request failed or was cancelled sends its
	// ID as Abandon with the next one: a job that request leased unseen is queued again.
	RequestID string `json:"request_id,omitempty"`
	Abandon   string `json:"abandon,omitempty"`
	// Skip lists resolutions the worker does not process: their jobs are never leased to it
	// and never reserve its slots (they wait for a worker that takes them, without holding
	// up the jobs behind them).
	Skip []model.Resolution `json:"skip,omitempty"`
}

// CompleteRequest reports a job's results.
type CompleteRequest struct {
	Worker            string  `json:"worker"`
	Node              string  `json:"node"`
	Thumbnail         string  `json:"thumbnail,omitempty"`
	Summary           string  `json:"summary,omitempty"`
	AuthenticityScore float64 `json:"authenticity_score,omitempty"`
	// Error, when set, reports that the step failed: the video fails with this error
	// instead of moving on, and leaves the pipeline with result "failed".
	Error string `json:"error,omitempty"`
}

// Stats counts videos by fate, from the database: the authority on "no accepted video lost".
type Stats struct {
	Accepted   int64 `json:"accepted"`
	Ready      int64 `json:"ready"`
	Failed     int64 `json:"failed"`
	InPipeline int64 `json:"in_pipeline"`
	QueuedJobs int64 `json:"queued_jobs"`
	LeasedJobs int64 `json:"leased_jobs"`
	// Waiting counts jobs waiting for a worker by stage (as dailydoco_queue_waiting).
	Waiting map[string]int `json:"waiting"`
}
