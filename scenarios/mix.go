package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
	"github.com/dailydoco/ddp-verify/load"
)

// Target is where and how the journeys run: the platform's address and the options every
// user shares.
type Target struct {
	// BaseURL is the platform's public address (the gateway), e.g. http://127.0.7.1:8080.
	BaseURL string
	// Metrics receives the journey-level timings for Prometheus (register it beside the
	// engine's collector); nil keeps them in the engine's trends only.
	Metrics *dailydoco.Metrics
	// Media is the capture mix; nil means DefaultMedia.
	Media MediaMix
	// UploadSpeed, Poll, ExportPoll and MaxChunkBytes are passed to the client (see
	// dailydoco.Config); zero values are the realistic defaults (live upload).
	UploadSpeed   float64
	Poll          dailydoco.Backoff
	ExportPoll    dailydoco.Backoff
	MaxChunkBytes int64
	// AddrOffset shifts the VUs' client addresses (see dailydoco.Config.AddrOffset).
	AddrOffset int64
	// RunID makes account e-mails unique across runs against a persistent platform; empty
	// uses the time the mix was built.
	RunID string
}

// User is what a VU remembers across iterations: its account.
type User struct {
	Email, Password, Token string
	// Accounts counts the accounts this VU created (each registration journey is a new user).
	Accounts int
}

// Session is one iteration of one VU: its client, its user, and the shared settings.
type Session struct {
	VU     *load.VU
	Client *dailydoco.Client
	User   *User
	Media  MediaMix
	think  Think
	runID  string
	// Videos counts the videos this iteration finished.
	Videos int
}

// Think pauses for one draw of the think-time distribution (on the engine's clock).
func (s *Session) Think(ctx context.Context) error {
	return s.VU.Sleep(ctx, s.think.Sample(s.VU.Rand()))
}

func (s *Session) newCredentials() (email, password string) {
	s.User.Accounts++
	email = fmt.Sprintf("vu%d.%d.%s@loadtest.dailydoco.test", s.VU.ID(), s.User.Accounts, s.runID)
	return email, "pw-" + strconv.FormatUint(s.VU.Rand().Uint64(), 36)
}

// Mix is a load.Scenario that runs one journey per iteration, drawn by weight. A VU without an
// account (its first iteration, or after its token was refused) registers first, whatever the
// draw, since every other journey needs a logged-in user. On its first iteration a VU also
// waits a uniform fraction of one mean think time before acting, so that users started in
// the same instant (a stage that adds hundreds) do not move in lockstep.
//
// Under an arrival-rate executor ([Mix.ForArrivals]) an iteration is one arrival of a user
// action: it starts when the schedule says, without the phase pause, and a VU without an
// account registers and then runs the drawn journey in the same iteration, so that every
// arrival does what the profile offers (a capture scenario offers one video per arrival).
type Mix struct {
	arrivals bool
	names    []string
	journeys []Journey
	cum      []float64 // cumulative weights, for the draw
	think    Think
	media    MediaMix
	cfg      dailydoco.Config
	runID    string

	mu    sync.Mutex
	users map[int64]*User
	stats map[string]*JourneyStats
}

// JourneyStats accumulates the journeys a Mix ran to the end (not interrupted): the
// renewal-reward sums that measure a run's request rate per user as Requests/Seconds,
// independent of where in their journeys users were when the run started or stopped.
type JourneyStats struct {
	Runs, Failed int
	Requests     int
	Seconds      float64 // wall time of the journeys, think pauses included
	Videos       int
}

// TrendJourneyDuration is the engine trend of whole journeys (tag step = journey name).
const TrendJourneyDuration = "journey_duration"

// Stats returns a copy of the per-journey statistics so far.
func (m *Mix) Stats() map[string]JourneyStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]JourneyStats, len(m.stats))
	for k, v := range m.stats {
		out[k] = *v
	}
	return out
}

var _ load.Scenario = (*Mix)(nil)

// NewMix builds the journey mix of weights (journey name to relative weight) for target.
// Unknown journeys and non-positive weights are errors.
func NewMix(weights map[string]float64, think Think, target Target) (*Mix, error) {
	var errs []error
	if target.BaseURL == "" {
		errs = append(errs, errors.New("target: base URL is required"))
	}
	if err := think.Validate(); err != nil {
		errs = append(errs, err)
	}
	media := target.Media
	if media == nil {
		media = DefaultMedia
	}
	if err := media.Validate(); err != nil {
		errs = append(errs, err)
	}
	m := &Mix{think: think, media: media, runID: target.RunID, users: map[int64]*User{}, stats: map[string]*JourneyStats{}}
	if m.runID == "" {
		m.runID = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	names := make([]string, 0, len(weights))
	for n := range weights {
		names = append(names, n)
	}
	sort.Strings(names) // a fixed order keeps seeded draws reproducible
	if len(names) == 0 {
		errs = append(errs, errors.New("journeys: at least one is required"))
	}
	total := 0.0
	for _, n := range names {
		j, ok := Lookup(n)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("journeys.%s: unknown journey (known: %v)", n, Names()))
		case !(weights[n] > 0):
			errs = append(errs, fmt.Errorf("journeys.%s: weight must be positive", n))
		default:
			total += weights[n]
			m.names = append(m.names, n)
			m.journeys = append(m.journeys, j)
			m.cum = append(m.cum, total)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	m.cfg = target.ClientConfig()
	return m, nil
}

// ClientConfig is the configuration of the DailyDoco clients the target's users drive: the
// built-in journeys' and a profile script's (k6/x/dailydoco).
func (t Target) ClientConfig() dailydoco.Config {
	return dailydoco.Config{BaseURL: t.BaseURL, Metrics: t.Metrics, Poll: t.Poll, ExportPoll: t.ExportPoll,
		UploadSpeed: t.UploadSpeed, MaxChunkBytes: t.MaxChunkBytes, AddrOffset: t.AddrOffset}
}

// Draw returns the index of the journey a uniform x in [0, 1) selects.
func (m *Mix) draw(x float64) int {
	x *= m.cum[len(m.cum)-1]
	i := sort.SearchFloat64s(m.cum, x)
	if i < len(m.cum) && m.cum[i] == x {
		i++ // cum[i] is the exclusive upper bound of journey i
	}
	return min(i, len(m.cum)-1)
}

func (m *Mix) record(name string, s *Session, d time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.stats[name]
	if st == nil {
		st = &JourneyStats{}
		m.stats[name] = st
	}
	st.Runs++
	if err != nil {
		st.Failed++
	}
	st.Requests += s.Client.Requests()
	st.Seconds += d.Seconds()
	st.Videos += s.Videos
}

func (m *Mix) user(id int64) (*User, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		u = &User{}
		m.users[id] = u
	}
	return u, ok
}

// Run implements load.Scenario: one journey.
func (m *Mix) Run(ctx context.Context, vu *load.VU) error {
	u, known := m.user(vu.ID())
	if !known && !m.arrivals {
		phase := time.Duration(vu.Rand().Float64() * float64(m.think.Expected()))
		if err := vu.Sleep(ctx, phase); err != nil {
			return err
		}
	}
	if u.Token == "" && m.arrivals {
		reg, _ := Lookup(JourneyRegistration)
		if err := m.run(ctx, vu, u, JourneyRegistration, reg); err != nil {
			return err
		}
	}
	name, j := JourneyRegistration, Journey(nil)
	if u.Token == "" {
		j, _ = Lookup(JourneyRegistration)
	} else {
		i := m.draw(vu.Rand().Float64())
		name, j = m.names[i], m.journeys[i]
	}
	return m.run(ctx, vu, u, name, j)
}

// ForArrivals makes the mix one of an arrival-rate executor's (see [Mix]).
func (m *Mix) ForArrivals() { m.arrivals = true }

// run runs one journey for the VU's user and records it.
func (m *Mix) run(ctx context.Context, vu *load.VU, u *User, name string, j Journey) error {
	c := dailydoco.New(vu, &m.cfg, name)
	c.SetToken(u.Token)
	s := &Session{VU: vu, Client: c, User: u, Media: m.media, think: m.think, runID: m.runID}
	start := vu.Now()
	err := j.Run(ctx, s)
	if ctx.Err() == nil {
		d := vu.Now().Sub(start)
		vu.Trend(TrendJourneyDuration, name, d)
		m.record(name, s, d, err)
	}
	var ae *dailydoco.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		u.Token = "" // log in afresh as a new user next time
	}
	if err != nil {
		return fmt.Errorf("journey %s: %w", name, err)
	}
	return nil
}
