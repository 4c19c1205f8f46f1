package datatier

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver, registered as "sqlite"

	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/model"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// schema is portable SQL: it runs unchanged on SQLite and PostgreSQL. Times are Unix
// nanoseconds in BIGINT columns and IDs are generated here, so nothing depends on either
// database's date or sequence functions. Only the "?" placeholders would need rebinding to
// "$n" for PostgreSQL's driver.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS users (
		id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
		password_hash TEXT NOT NULL, created_at BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS sessions (
		id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id),
		created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS captures (
		id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), title TEXT NOT NULL,
		resolution TEXT NOT NULL, media_seconds DOUBLE PRECISION NOT NULL,
		chunks INTEGER NOT NULL, bytes BIGINT NOT NULL, state TEXT NOT NULL,
		video_id TEXT, created_at BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS capture_chunks (
		capture_id TEXT NOT NULL REFERENCES captures(id), idx INTEGER NOT NULL,
		bytes BIGINT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (capture_id, idx))`,
	`CREATE TABLE IF NOT EXISTS videos (
		id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id),
		capture_id TEXT NOT NULL REFERENCES captures(id), title TEXT NOT NULL,
		resolution TEXT NOT NULL, media_seconds DOUBLE PRECISION NOT NULL, state TEXT NOT NULL,
		accepted_at BIGINT NOT NULL, processing_started_at BIGINT, gpu_done_at BIGINT,
		ai_started_at BIGINT, ready_at BIGINT, failed_at BIGINT,
		gpu_node TEXT NOT NULL DEFAULT '', ai_node TEXT NOT NULL DEFAULT '',
		gpu_attempts INTEGER NOT NULL DEFAULT 0, thumbnail TEXT NOT NULL DEFAULT '',
		summary TEXT NOT NULL DEFAULT '', authenticity_score DOUBLE PRECISION,
		error TEXT NOT NULL DEFAULT '')`,
	`CREATE INDEX IF NOT EXISTS videos_user ON videos (user_id, accepted_at)`,
	`CREATE TABLE IF NOT EXISTS jobs (
		id TEXT PRIMARY KEY, video_id TEXT NOT NULL REFERENCES videos(id), stage TEXT NOT NULL,
		slots INTEGER NOT NULL, resolution TEXT NOT NULL, media_seconds DOUBLE PRECISION NOT NULL,
		state TEXT NOT NULL, enqueued_at BIGINT NOT NULL, leased_at BIGINT,
		lease_owner TEXT NOT NULL DEFAULT '', lease_node TEXT NOT NULL DEFAULT '',
		lease_expires_at BIGINT NOT NULL DEFAULT 0, lease_request TEXT NOT NULL DEFAULT '',
		attempts INTEGER NOT NULL DEFAULT 0, done_at BIGINT, due_at BIGINT NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS jobs_pending ON jobs (stage, state, due_at)`,
	`CREATE INDEX IF NOT EXISTS jobs_open ON jobs (state, stage)`,
	`CREATE TABLE IF NOT EXISTS exports (
		id TEXT PRIMARY KEY, video_id TEXT NOT NULL REFERENCES videos(id),
		user_id TEXT NOT NULL REFERENCES users(id), format TEXT NOT NULL,
		requested_at BIGINT NOT NULL, ready_at BIGINT NOT NULL)`,
}

// Store is the data tier's database. All its methods are safe for concurrent use.
type Store struct {
	db           *sql.DB
	maxAttempts  int
	model        model.Model
	lostHandoffs float64 // the lost_handoff_share defect; 0 on a healthy platform
}

// Open opens (creating if needed) the SQLite database at path. A job is failed after it was
// leased maxAttempts times without completing; m's DueRatio, ReserveSeconds and Speed order
// the queue (see Lease).
func Open(ctx context.Context, path string, maxAttempts int, m model.Model) (*Store, error) {
	// WAL with synchronous=NORMAL survives a process crash (the data tier's SIGKILL) without
	// losing committed transactions; only an OS crash could lose the last ones.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and serialising in Go is cheaper than
	// retrying busy transactions.
	db.SetMaxOpenConns(1)
	for _, q := range schema {
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, fmt.Errorf("create schema in %s: %w", path, err)
		}
	}
	return &Store{db: db, maxAttempts: maxAttempts, model: m}, nil
}

// LoseHandoffs breaks the store on purpose, for the gate-mutation suite only
// (topology.Defects.LostHandoffShare): of the videos topology.Affected picks under share,
// Complete records the GPU step done and never queues the AI step, so the video is lost.
func (s *Store) LoseHandoffs(share float64) { s.lostHandoffs = share }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// NewID returns a random identifier with prefix.
func NewID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // never fails
	return prefix + "_" + hex.EncodeToString(b[:])
}

func ns(t time.Time) int64 { return t.UnixNano() }

func fromNS(v int64) time.Time { return time.Unix(0, v).UTC() }

func optTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromNS(v.Int64)
	return &t
}

func notFound(what, id string) error {
	return jsonhttp.Errorf(http.StatusNotFound, what+"_not_found", "no %s %q", what, id)
}

func forbidden(what, id string) error {
	return jsonhttp.Errorf(http.StatusForbidden, "forbidden", "%s %q belongs to another user", what, id)
}

// tx runs f in a transaction, committing only if f succeeds and ctx is still live, so that a
// caller that went away (a worker whose long poll was cancelled) never gets work it cannot see.
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := ctx.Err(); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// CreateUser adds a user; 409 email_taken if the address is registered.
func (s *Store) CreateUser(ctx context.Context, email, name, passwordHash string, now time.Time) (User, error) {
	u := User{ID: NewID("usr"), Email: email, Name: name, CreatedAt: now.UTC()}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE email = ?`, email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return jsonhttp.Errorf(http.StatusConflict, "email_taken", "%s is already registered", email)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			u.ID, email, name, passwordHash, ns(now))
		return err
	})
	return u, err
}

// User finds a user by ID or, if id is empty, by email; the password hash is included.
func (s *Store) User(ctx context.Context, id, email string) (User, error) {
	q, arg := `SELECT id, email, name, password_hash, created_at FROM users WHERE id = ?`, id
	if id == "" {
		q, arg = `SELECT id, email, name, password_hash, created_at FROM users WHERE email = ?`, email
	}
	var u User
	var created int64
	err := s.db.QueryRowContext(ctx, q, arg).Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("user", arg)
	}
	u.CreatedAt = fromNS(created)
	return u, err
}

// CreateSession records a login of userID valid for ttl.
func (s *Store) CreateSession(ctx context.Context, userID string, ttl time.Duration, now time.Time) (Session, error) {
	se := Session{ID: NewID("ses"), UserID: userID, ExpiresAt: now.Add(ttl).UTC()}
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		se.ID, userID, ns(now), ns(se.ExpiresAt))
	return se, err
}

// CreateCapture opens an upload session.
func (s *Store) CreateCapture(ctx context.Context, userID, title string, res model.Resolution, mediaSeconds float64, now time.Time) (Capture, error) {
	c := Capture{ID: NewID("cap"), UserID: userID, Title: title, Resolution: res, MediaSeconds: mediaSeconds, State: "open", CreatedAt: now.UTC()}
	_, err := s.db.ExecContext(ctx, `INSERT INTO captures (id, user_id, title, resolution, media_seconds, chunks, bytes, state, created_at) VALUES (?, ?, ?, ?, ?, 0, 0, 'open', ?)`,
		c.ID, userID, title, string(res), mediaSeconds, ns(now))
	return c, err
}

func (s *Store) capture(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id, userID string) (Capture, error) {
	var c Capture
	var video sql.NullString
	var created int64
	err := q.QueryRowContext(ctx, `SELECT id, user_id, title, resolution, media_seconds, chunks, bytes, state, video_id, created_at FROM captures WHERE id = ?`, id).
		Scan(&c.ID, &c.UserID, &c.Title, &c.Resolution, &c.MediaSeconds, &c.Chunks, &c.Bytes, &c.State, &video, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return c, notFound("capture", id)
	}
	if err != nil {
		return c, err
	}
	c.VideoID, c.CreatedAt = video.String, fromNS(created)
	if userID != "" && c.UserID != userID {
		return c, forbidden("capture", id)
	}
	return c, nil
}

// PutChunk stores chunk index of a capture; putting the same index again replaces it.
func (s *Store) PutChunk(ctx context.Context, captureID, userID string, index int, size int64, sha string) (Capture, error) {
	var c Capture
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = s.capture(ctx, tx, captureID, userID); err != nil {
			return err
		}
		if c.State != "open" {
			return jsonhttp.Errorf(http.StatusConflict, "capture_finished", "capture %q is finished; start a new one", captureID)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO capture_chunks (capture_id, idx, bytes, sha256) VALUES (?, ?, ?, ?)
			ON CONFLICT (capture_id, idx) DO UPDATE SET bytes = excluded.bytes, sha256 = excluded.sha256`, captureID, index, size, sha); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM capture_chunks WHERE capture_id = ?`, captureID).Scan(&c.Chunks, &c.Bytes); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE captures SET chunks = ?, bytes = ? WHERE id = ?`, c.Chunks, c.Bytes, captureID)
		return err
	})
	return c, err
}

// FinishCapture accepts the capture as a video and enqueues its GPU step, which needs
// slots(resolution) GPU slots. Finishing again returns the same video with created false.
func (s *Store) FinishCapture(ctx context.Context, captureID, userID string, slots func(model.Resolution) int, now time.Time) (v Video, created bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		c, err := s.capture(ctx, tx, captureID, userID)
		if err != nil {
			return err
		}
		if c.State == "finished" {
			v, err = s.video(ctx, tx, c.VideoID, userID)
			return err
		}
		if c.Chunks == 0 {
			return jsonhttp.Errorf(http.StatusConflict, "no_chunks", "capture %q has no chunks; upload at least one before finishing", captureID)
		}
		v = Video{ID: NewID("vid"), UserID: c.UserID, CaptureID: c.ID, Title: c.Title, Resolution: c.Resolution,
			MediaSeconds: c.MediaSeconds, State: StateQueued, AcceptedAt: now.UTC()}
		if _, err := tx.ExecContext(ctx, `INSERT INTO videos (id, user_id, capture_id, title, resolution, media_seconds, state, accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			v.ID, v.UserID, v.CaptureID, v.Title, string(v.Resolution), v.MediaSeconds, v.State, ns(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE captures SET state = 'finished', video_id = ? WHERE id = ?`, v.ID, c.ID); err != nil {
			return err
		}
		created = true
		return s.enqueue(ctx, tx, v, StageGPU, slots(v.Resolution), now)
	})
	return v, created, err
}

// enqueue adds a job of v, due DueRatio x its media seconds after v was accepted.
func (s *Store) enqueue(ctx context.Context, tx *sql.Tx, v Video, stage string, slots int, now time.Time) error {
	due := v.AcceptedAt.Add(s.model.Wall(s.model.DueRatio * v.MediaSeconds))
	_, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, video_id, stage, slots, resolution, media_seconds, state, enqueued_at, due_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)`,
		NewID("job"), v.ID, stage, slots, string(v.Resolution), v.MediaSeconds, ns(now), ns(due))
	return err
}

const videoColumns = `id, user_id, capture_id, title, resolution, media_seconds, state, accepted_at,
	processing_started_at, gpu_done_at, ai_started_at, ready_at, failed_at, gpu_node, ai_node,
	gpu_attempts, thumbnail, summary, authenticity_score, error`

type scanner interface{ Scan(...any) error }

func scanVideo(r scanner) (Video, error) {
	var v Video
	var accepted int64
	var started, gpuDone, aiStarted, ready, failed sql.NullInt64
	var score sql.NullFloat64
	err := r.Scan(&v.ID, &v.UserID, &v.CaptureID, &v.Title, &v.Resolution, &v.MediaSeconds, &v.State, &accepted,
		&started, &gpuDone, &aiStarted, &ready, &failed, &v.GPUNode, &v.AINode, &v.GPUAttempts, &v.Thumbnail, &v.Summary, &score, &v.Error)
	if err != nil {
		return v, err
	}
	v.AcceptedAt = fromNS(accepted)
	v.ProcessingStartedAt, v.GPUDoneAt, v.AIStartedAt, v.ReadyAt, v.FailedAt = optTime(started), optTime(gpuDone), optTime(aiStarted), optTime(ready), optTime(failed)
	if score.Valid {
		v.AuthenticityScore = &score.Float64
	}
	return v, nil
}

func (s *Store) video(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id, userID string) (Video, error) {
	v, err := scanVideo(q.QueryRowContext(ctx, `SELECT `+videoColumns+` FROM videos WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return v, notFound("video", id)
	}
	if err == nil && userID != "" && v.UserID != userID {
		return v, forbidden("video", id)
	}
	return v, err
}

// Video returns a video; with userID set, only that user's.
func (s *Store) Video(ctx context.Context, id, userID string) (Video, error) {
	return s.video(ctx, s.db, id, userID)
}

// Videos lists a user's latest videos, newest first.
func (s *Store) Videos(ctx context.Context, userID string, limit int) ([]Video, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+videoColumns+` FROM videos WHERE user_id = ? ORDER BY accepted_at DESC LIMIT ?`, userID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Video{}
	for rows.Next() {
		v, err := scanVideo(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// CreateExport records an export of a ready video, ready at readyAt.
func (s *Store) CreateExport(ctx context.Context, videoID, userID, format string, now, readyAt time.Time) (Export, error) {
	e := Export{ID: NewID("exp"), VideoID: videoID, UserID: userID, Format: format, RequestedAt: now.UTC(), ReadyAt: readyAt.UTC()}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		v, err := s.video(ctx, tx, videoID, userID)
		if err != nil {
			return err
		}
		if v.State != StateReady {
			return jsonhttp.Errorf(http.StatusConflict, "video_not_ready", "video %q is %s; exports need a ready video", videoID, v.State)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO exports (id, video_id, user_id, format, requested_at, ready_at) VALUES (?, ?, ?, ?, ?, ?)`,
			e.ID, videoID, v.UserID, format, ns(now), ns(readyAt))
		return err
	})
	return e, err
}

// Export returns an export; with userID set, only that user's.
func (s *Store) Export(ctx context.Context, id, userID string) (Export, error) {
	var e Export
	var req, ready int64
	err := s.db.QueryRowContext(ctx, `SELECT id, video_id, user_id, format, requested_at, ready_at FROM exports WHERE id = ?`, id).
		Scan(&e.ID, &e.VideoID, &e.UserID, &e.Format, &req, &ready)
	if errors.Is(err, sql.ErrNoRows) {
		return e, notFound("export", id)
	}
	if err != nil {
		return e, err
	}
	e.RequestedAt, e.ReadyAt = fromNS(req), fromNS(ready)
	if userID != "" && e.UserID != userID {
		return e, forbidden("export", id)
	}
	return e, nil
}

// Finished describes a video that left the pipeline, for the metrics.
type Finished struct {
	Video  Video
	Result string // success or failed
}

// Lease gives req.Worker the pending job of req.Stage due first (a queued job, or a leased one
// whose lease expired because its worker disappeared) if it fits req.MaxSlots. If it does not
// fit, the worker gets the next due job that fits, unless the first has waited ReserveSeconds:
// then nothing, so that slots drain until a worker can take it (a 4K video needs a whole GPU).
// A job leased maxAttempts times fails its video instead. Jobs of the resolutions in req.Skip
// are passed over, as if they were not there. With no job, Lease returns nil and
// when the next lease of the stage expires (zero if none is held), so that the caller can wait.
func (s *Store) Lease(ctx context.Context, req LeaseRequest, lease time.Duration, now time.Time) (job *Job, nextExpiry time.Time, failed []Finished, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		job, failed = nil, nil
		if req.Abandon != "" {
			if err := s.abandon(ctx, tx, req.Worker, req.Abandon); err != nil {
				return err
			}
		}
		pending, skip := pendingQuery(req.Skip)
		for {
			var j Job
			var enq int64
			scan := func(maxSlots int) error {
				return tx.QueryRowContext(ctx, pending, append([]any{req.Stage, maxSlots, ns(now)}, skip...)...).
					Scan(&j.ID, &j.VideoID, &j.Stage, &j.Slots, &j.Resolution, &j.MediaSeconds, &enq, &j.Attempts)
			}
			err := scan(math.MaxInt32) // the job due first, whatever it needs
			if err == nil && j.Slots > req.MaxSlots {
				if now.Sub(fromNS(enq)) >= s.model.Wall(s.model.ReserveSeconds) {
					err = sql.ErrNoRows // reserved for a worker with room for it
				} else {
					err = scan(req.MaxSlots)
				}
			}
			if errors.Is(err, sql.ErrNoRows) {
				var next sql.NullInt64
				if err := tx.QueryRowContext(ctx, `SELECT MIN(lease_expires_at) FROM jobs WHERE stage = ? AND state = 'leased'`, req.Stage).Scan(&next); err != nil {
					return err
				}
				if next.Valid {
					nextExpiry = fromNS(next.Int64)
				}
				return nil
			}
			if err != nil {
				return err
			}
			if j.Attempts >= s.maxAttempts {
				f, err := s.failJob(ctx, tx, j, fmt.Sprintf("%s step leased %d times without completing", j.Stage, j.Attempts), now)
				if err != nil {
					return err
				}
				failed = append(failed, f)
				continue
			}
			j.EnqueuedAt, j.LeasedAt, j.LeaseExpiresAt, j.Attempts = fromNS(enq), now.UTC(), now.Add(lease).UTC(), j.Attempts+1
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'leased', lease_owner = ?, lease_node = ?, leased_at = ?, lease_expires_at = ?, lease_request = ?, attempts = ? WHERE id = ?`,
				req.Worker, req.Node, ns(now), ns(j.LeaseExpiresAt), req.RequestID, j.Attempts, j.ID); err != nil {
				return err
			}
			q, args := `UPDATE videos SET state = 'processing', processing_started_at = COALESCE(processing_started_at, ?), gpu_node = ?, gpu_attempts = ? WHERE id = ?`,
				[]any{ns(now), req.Node, j.Attempts, j.VideoID}
			if j.Stage == StageAI {
				q, args = `UPDATE videos SET state = 'ai', ai_started_at = COALESCE(ai_started_at, ?), ai_node = ? WHERE id = ?`,
					[]any{ns(now), req.Node, j.VideoID}
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
			job = &j
			return nil
		}
	})
	return job, nextExpiry, failed, err
}

// pendingQuery selects the pending job due first of a stage that fits a number of slots,
// leaving out the resolutions in skip; its arguments are the stage, the slots, now, then
// skipArgs.
func pendingQuery(skip []model.Resolution) (query string, skipArgs []any) {
	notIn := ""
	if len(skip) > 0 {
		notIn = " AND resolution NOT IN (?" + strings.Repeat(", ?", len(skip)-1) + ")"
		for _, r := range skip {
			skipArgs = append(skipArgs, string(r))
		}
	}
	return `SELECT id, video_id, stage, slots, resolution, media_seconds, enqueued_at, attempts FROM jobs
		WHERE stage = ? AND slots <= ? AND (state = 'queued' OR (state = 'leased' AND lease_expires_at < ?))` + notIn + `
		ORDER BY due_at, enqueued_at, id LIMIT 1`, skipArgs
}

// abandon undoes the lease that worker's request requestID obtained if the worker never saw
// the answer (its poll was cancelled): the job is queued again as if never leased.
func (s *Store) abandon(ctx context.Context, tx *sql.Tx, worker, requestID string) error {
	var id, stage, videoID string
	var attempts int
	err := tx.QueryRowContext(ctx, `SELECT id, stage, video_id, attempts FROM jobs WHERE lease_request = ? AND lease_owner = ? AND state = 'leased'`,
		requestID, worker).Scan(&id, &stage, &videoID, &attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	attempts--
	if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'queued', lease_owner = '', lease_node = '', lease_request = '', lease_expires_at = 0, attempts = ? WHERE id = ?`, attempts, id); err != nil {
		return err
	}
	q := `UPDATE videos SET gpu_attempts = ? WHERE id = ?`
	args := []any{attempts, videoID}
	if attempts == 0 {
		q, args = `UPDATE videos SET state = 'queued', processing_started_at = NULL, gpu_node = '', gpu_attempts = 0 WHERE id = ?`, []any{videoID}
		if stage == StageAI {
			q = `UPDATE videos SET state = 'ai', ai_started_at = NULL, ai_node = '' WHERE id = ?`
		}
	} else if stage == StageAI {
		return nil
	}
	_, err = tx.ExecContext(ctx, q, args...)
	return err
}

func (s *Store) failJob(ctx context.Context, tx *sql.Tx, j Job, reason string, now time.Time) (Finished, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'done', done_at = ? WHERE id = ?`, ns(now), j.ID); err != nil {
		return Finished{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE videos SET state = 'failed', failed_at = ?, error = ? WHERE id = ?`, ns(now), reason, j.VideoID); err != nil {
		return Finished{}, err
	}
	v, err := s.video(ctx, tx, j.VideoID, "")
	return Finished{Video: v, Result: "failed"}, err
}

func errLeaseLost(jobID, worker string) error {
	return jsonhttp.Errorf(http.StatusConflict, "lease_lost", "job %q is not leased to %q any more; drop it", jobID, worker)
}

// Renew extends worker's lease of job by lease.
func (s *Store) Renew(ctx context.Context, jobID, worker string, lease time.Duration, now time.Time) (time.Time, error) {
	exp := now.Add(lease).UTC()
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND state = 'leased' AND lease_owner = ?`, ns(exp), jobID, worker)
	if err != nil {
		return exp, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return exp, errLeaseLost(jobID, worker)
	}
	return exp, nil
}

// Complete finishes worker's job: after the GPU stage the video moves to the AI queue
// (aiSlots slots), after the AI stage it is ready and returned as finished. A job reported
// with an Error fails its video, returned as finished with result "failed". A worker that
// lost its lease to another gets 409 lease_lost and changes nothing.
func (s *Store) Complete(ctx context.Context, jobID string, req CompleteRequest, aiSlots int, now time.Time) (*Finished, error) {
	var fin *Finished
	err := s.tx(ctx, func(tx *sql.Tx) error {
		fin = nil
		var stage, state, owner, videoID string
		err := tx.QueryRowContext(ctx, `SELECT stage, state, lease_owner, video_id FROM jobs WHERE id = ?`, jobID).Scan(&stage, &state, &owner, &videoID)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("job", jobID)
		}
		if err != nil {
			return err
		}
		if state != "leased" || owner != req.Worker {
			return errLeaseLost(jobID, req.Worker)
		}
		if req.Error != "" {
			f, err := s.failJob(ctx, tx, Job{ID: jobID, VideoID: videoID}, fmt.Sprintf("%s step failed: %s", stage, req.Error), now)
			fin = &f
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'done', done_at = ? WHERE id = ?`, ns(now), jobID); err != nil {
			return err
		}
		if stage == StageGPU {
			if _, err := tx.ExecContext(ctx, `UPDATE videos SET state = 'ai', gpu_done_at = ?, gpu_node = ?, thumbnail = ? WHERE id = ?`,
				ns(now), req.Node, req.Thumbnail, videoID); err != nil {
				return err
			}
			if topology.Affected("lost-handoff", videoID, s.lostHandoffs) {
				return nil
			}
			v, err := s.video(ctx, tx, videoID, "")
			if err != nil {
				return err
			}
			return s.enqueue(ctx, tx, v, StageAI, aiSlots, now)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE videos SET state = 'ready', ready_at = ?, ai_node = ?, summary = ?, authenticity_score = ? WHERE id = ?`,
			ns(now), req.Node, req.Summary, req.AuthenticityScore, videoID); err != nil {
			return err
		}
		v, err := s.video(ctx, tx, videoID, "")
		fin = &Finished{Video: v, Result: "success"}
		return err
	})
	return fin, err
}

// Stats counts videos and jobs.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN state = 'ready' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0)
		FROM videos`).Scan(&st.Accepted, &st.Ready, &st.Failed)
	if err != nil {
		return st, err
	}
	st.InPipeline = st.Accepted - st.Ready - st.Failed
	err = s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'leased' THEN 1 ELSE 0 END), 0)
		FROM jobs WHERE state <> 'done'`).Scan(&st.QueuedJobs, &st.LeasedJobs)
	return st, err
}

// VideoCount is a group of [Store.VideoCounts]: the videos in one state of one resolution.
type VideoCount struct {
	State      string
	Resolution model.Resolution
}

// queryer is what the read queries run on: the database, or a transaction for a consistent
// snapshot (Pipeline).
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Pipeline is the video pipeline at one instant, read in one transaction, so that its parts
// agree: the videos accepted less those processed or failed are exactly the backlog's jobs
// (read one query after the other, a video finishing in between would look lost).
type Pipeline struct {
	Counts         map[VideoCount]int64
	Depth, Waiting map[string]int // by stage (QueueDepth)
	// Oldest is when the oldest unfinished video was accepted; zero when none is unfinished.
	Oldest time.Time
}

// Pipeline reads the counts, the backlog and the oldest unfinished video in one transaction.
func (s *Store) Pipeline(ctx context.Context, now time.Time) (Pipeline, error) {
	var p Pipeline
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if p.Counts, err = videoCounts(ctx, tx); err != nil {
			return err
		}
		if p.Depth, p.Waiting, err = queueDepth(ctx, tx, now); err != nil {
			return err
		}
		p.Oldest, _, err = oldestUnfinished(ctx, tx)
		return err
	})
	return p, err
}

// VideoCounts counts every accepted video by state and resolution.
func (s *Store) VideoCounts(ctx context.Context) (map[VideoCount]int64, error) {
	return videoCounts(ctx, s.db)
}

func videoCounts(ctx context.Context, q queryer) (map[VideoCount]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT state, resolution, COUNT(*) FROM videos GROUP BY state, resolution`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[VideoCount]int64{}
	for rows.Next() {
		var k VideoCount
		var n int64
		if err := rows.Scan(&k.State, &k.Resolution, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// OldestUnfinished is when the oldest accepted video that is neither processed nor failed was
// accepted; ok is false when every accepted video has finished.
func (s *Store) OldestUnfinished(ctx context.Context) (at time.Time, ok bool, err error) {
	return oldestUnfinished(ctx, s.db)
}

func oldestUnfinished(ctx context.Context, q queryer) (at time.Time, ok bool, err error) {
	var v sql.NullInt64
	err = q.QueryRowContext(ctx, `SELECT MIN(accepted_at) FROM videos WHERE state NOT IN ('ready', 'failed')`).Scan(&v)
	if err != nil || !v.Valid {
		return time.Time{}, false, err
	}
	return fromNS(v.Int64), true, nil
}

// QueueDepth counts unfinished jobs per stage: all of them (waiting or in progress), and those
// waiting for a worker (queued, or leased with an expired lease). Every accepted video that is
// not yet processed has exactly one unfinished job, so the first sum is the pipeline's backlog.
func (s *Store) QueueDepth(ctx context.Context, now time.Time) (depth, waiting map[string]int, err error) {
	return queueDepth(ctx, s.db, now)
}

func queueDepth(ctx context.Context, q queryer, now time.Time) (depth, waiting map[string]int, err error) {
	rows, err := q.QueryContext(ctx, `SELECT stage,
		COUNT(*),
		COALESCE(SUM(CASE WHEN state = 'queued' OR lease_expires_at < ? THEN 1 ELSE 0 END), 0)
		FROM jobs WHERE state <> 'done' GROUP BY stage`, ns(now))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	depth, waiting = map[string]int{StageGPU: 0, StageAI: 0}, map[string]int{StageGPU: 0, StageAI: 0}
	for rows.Next() {
		var stage string
		var d, w int
		if err := rows.Scan(&stage, &d, &w); err != nil {
			return nil, nil, err
		}
		depth[stage], waiting[stage] = d, w
	}
	return depth, waiting, rows.Err()
}
