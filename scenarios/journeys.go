package scenarios

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
)

// Journey is one user journey, run by a VU as one iteration.
type Journey interface {
	Run(ctx context.Context, s *Session) error
}

// JourneyFunc adapts a function to Journey.
type JourneyFunc func(ctx context.Context, s *Session) error

// Run calls f(ctx, s).
func (f JourneyFunc) Run(ctx context.Context, s *Session) error { return f(ctx, s) }

var (
	regMu    sync.RWMutex
	registry = map[string]Journey{}
)

// Register makes j available to profiles under name. Like database/sql drivers, journeys
// register from init; a duplicate name is a programming error and panics.
func Register(name string, j Journey) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup || j == nil {
		panic("scenarios: Register called twice or with nil for journey " + name)
	}
	registry[name] = j
}

// Lookup returns the journey registered under name.
func Lookup(name string) (Journey, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	j, ok := registry[name]
	return j, ok
}

// Names returns the registered journey names, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// The built-in journeys. Each step is followed by a think pause (see docs/journeys.md for the
// request counts the rate model uses; TestJourneysOnPlatform checks each journey's requests per run against them).
const (
	JourneyRegistration = "registration"
	JourneyCapture      = "capture"
	JourneyPipeline     = "pipeline"
	JourneyExport       = "export"
	JourneyBrowse       = "browse"
)

func init() {
	Register(JourneyRegistration, JourneyFunc(registration))
	Register(JourneyCapture, JourneyFunc(capture))
	Register(JourneyPipeline, JourneyFunc(pipeline))
	Register(JourneyExport, JourneyFunc(export))
	Register(JourneyBrowse, JourneyFunc(browse))
}

// registration: a new visitor signs up, logs in and lands on the dashboard (3 steps).
func registration(ctx context.Context, s *Session) error {
	c := s.Client
	email, password := s.newCredentials()
	if _, err := c.Register(ctx, email, password, fmt.Sprintf("Load User %d", s.VU.ID())); err != nil {
		return err
	}
	if err := s.Think(ctx); err != nil {
		return err
	}
	if _, err := c.Login(ctx, email, password); err != nil {
		return err
	}
	s.User.Email, s.User.Password, s.User.Token = email, password, c.Token()
	if err := s.Think(ctx); err != nil {
		return err
	}
	if _, err := c.Dashboard(ctx); err != nil {
		return err
	}
	return s.Think(ctx)
}

// browse: dashboard, the video list, then the newest video, or the account page when there is
// none (3 steps; the same request count either way, so the rate does not drift as users
// accumulate videos).
func browse(ctx context.Context, s *Session) error {
	c := s.Client
	if _, err := c.Dashboard(ctx); err != nil {
		return err
	}
	if err := s.Think(ctx); err != nil {
		return err
	}
	vs, err := c.Videos(ctx)
	if err != nil {
		return err
	}
	if err := s.Think(ctx); err != nil {
		return err
	}
	if len(vs) > 0 {
		_, err = c.Video(ctx, vs[0].ID)
	} else {
		_, err = c.Me(ctx)
	}
	if err != nil {
		return err
	}
	return s.Think(ctx)
}

// record starts a capture from the media mix, uploads it as it is recorded, and finishes it.
// It returns the queued video and when Finish returned.
func record(ctx context.Context, s *Session) (dailydoco.Video, time.Time, error) {
	c := s.Client
	class, secs := s.Media.Draw(s.VU.Rand())
	cp, err := c.StartCapture(ctx, dailydoco.CaptureSpec{
		Title: fmt.Sprintf("%s by vu %d", class.Name, s.VU.ID()), Resolution: class.Resolution, MediaSeconds: secs,
	})
	if err != nil {
		return dailydoco.Video{}, time.Time{}, err
	}
	if _, err := c.UploadChunks(ctx, cp); err != nil {
		return dailydoco.Video{}, time.Time{}, err
	}
	v, err := c.Finish(ctx, cp.ID)
	if err != nil {
		return v, time.Time{}, err
	}
	s.Videos++
	return v, s.VU.Now(), nil
}

// capture: record a capture and leave it to the pipeline (1 step).
func capture(ctx context.Context, s *Session) error {
	if _, _, err := record(ctx, s); err != nil {
		return err
	}
	return s.Think(ctx)
}

// makeReady records a capture and waits until the pipeline made it ready.
func makeReady(ctx context.Context, s *Session) (dailydoco.Video, error) {
	v, finished, err := record(ctx, s)
	if err != nil {
		return v, err
	}
	return s.Client.WaitReady(ctx, v.ID, finished)
}

// pipeline: record, wait until processed, read the AI results (1 step).
func pipeline(ctx context.Context, s *Session) error {
	v, err := makeReady(ctx, s)
	if err != nil {
		return err
	}
	if _, err := s.Client.AIResults(ctx, v.ID); err != nil {
		return err
	}
	return s.Think(ctx)
}

// ExportFormats are the formats the export journey asks for, drawn uniformly.
var ExportFormats = []string{"mp4", "webm", "gif", "html"}

// export: open the video list and export the newest ready video, making one first when there
// is none; wait for the rendering and download it through its signed URL (2 steps).
func export(ctx context.Context, s *Session) error {
	c := s.Client
	vs, err := c.Videos(ctx)
	if err != nil {
		return err
	}
	if err := s.Think(ctx); err != nil {
		return err
	}
	i := slices.IndexFunc(vs, func(v dailydoco.Video) bool { return v.Status == dailydoco.VideoReady })
	var v dailydoco.Video
	if i >= 0 {
		v = vs[i]
	} else if v, err = makeReady(ctx, s); err != nil {
		return err
	}
	format := ExportFormats[s.VU.Rand().IntN(len(ExportFormats))]
	requested := s.VU.Now()
	e, err := c.RequestExport(ctx, v.ID, format)
	if err != nil {
		return err
	}
	if e, err = c.WaitExport(ctx, e, requested); err != nil {
		return err
	}
	if _, err := c.Download(ctx, e); err != nil {
		return err
	}
	return s.Think(ctx)
}
