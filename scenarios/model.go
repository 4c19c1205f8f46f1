package scenarios

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
)

// RateModel predicts the load N users put on the platform from the journey mix, the think
// time and the media mix, by renewal-reward: a user runs journey j with probability p_j, which
// sends R_j requests and takes T_j seconds (think pauses, live recording, waiting for the
// pipeline), so one user sends Σp_j·R_j / Σp_j·T_j requests per second. Request service times
// are left out unless RequestLatency is set (milliseconds against seconds of think time).
// Expectations over the media mix are integrated numerically over each class's duration range.
// docs/journeys.md derives every R_j and T_j; TestJourneysOnPlatform checks the R_j against the
// journeys running on the reference platform.
type RateModel struct {
	Weights map[string]float64
	Think   Think
	Media   MediaMix // nil: DefaultMedia
	// DashboardAssets is how many static assets the dashboard page references (2 on the
	// reference platform: app.css and app.js).
	DashboardAssets int
	ChunkBytes      int64   // 0: 1 MiB, the reference platform's max_chunk_bytes
	UploadSpeed     float64 // 0: 1, live
	Poll            dailydoco.Backoff
	ExportPoll      dailydoco.Backoff
	// ReadyRatio is the assumed time from finish to ready as a multiple of the media duration
	// (0: 0.5; the reference pipeline takes ~0.43 of a 60 s 1080p capture when idle).
	ReadyRatio float64
	// ExportSeconds is the assumed rendering time of an export (0: 1 s).
	ExportSeconds float64
	// ReadyShare is the share of export journeys whose user already has a ready video; the
	// others make one first. It grows during a run from 0; bound the result with 0 and 1.
	ReadyShare     float64
	RequestLatency time.Duration
}

// JourneyCost is the expected cost of one run of a journey.
type JourneyCost struct {
	Requests float64 // requests sent
	Seconds  float64 // wall time, think pauses included
	Videos   float64 // videos finished
}

// Rates is what a RateModel predicts for Users users.
type Rates struct {
	Users             int
	RequestsPerMinute float64
	VideosPerHour     float64
	JourneysPerMinute float64
	Journeys          map[string]JourneyCost
}

func (m RateModel) withDefaults() RateModel {
	if m.Media == nil {
		m.Media = DefaultMedia
	}
	if m.ChunkBytes <= 0 {
		m.ChunkBytes = 1 << 20
	}
	if m.UploadSpeed <= 0 {
		m.UploadSpeed = 1
	}
	m.Poll = m.Poll.WithDefaults(dailydoco.DefaultPoll)
	m.ExportPoll = m.ExportPoll.WithDefaults(dailydoco.DefaultExportPoll)
	if m.ReadyRatio <= 0 {
		m.ReadyRatio = 0.5
	}
	if m.ExportSeconds <= 0 {
		m.ExportSeconds = 1
	}
	return m
}

// samplesPerClass is the resolution of the numeric integration over a class's durations.
const samplesPerClass = 400

// mediaCost is the expected cost of record (start, chunks, finish) and of waiting for ready.
func (m RateModel) mediaCost() (rec, wait JourneyCost) {
	total := 0.0
	for _, c := range m.Media {
		total += c.Share
	}
	for _, c := range m.Media {
		w := c.Share / total / samplesPerClass
		for k := range samplesPerClass {
			secs := c.MinSeconds + (float64(k)+0.5)/samplesPerClass*(c.MaxSeconds-c.MinSeconds)
			plan := dailydoco.PlanUpload(c.Resolution, secs, m.ChunkBytes)
			rec.Requests += w * float64(2+plan.Chunks)
			rec.Seconds += w * secs / m.UploadSpeed
			n := m.Poll.Polls(time.Duration(m.ReadyRatio * secs * float64(time.Second)))
			wait.Requests += w * float64(n)
			wait.Seconds += w * waited(m.Poll, n).Seconds()
		}
	}
	rec.Videos = 1
	return rec, wait
}

// waited is the time n polls of b take.
func waited(b dailydoco.Backoff, n int) time.Duration {
	var t time.Duration
	for i := range n {
		t += b.Delay(i)
	}
	return t
}

// Costs returns the expected cost of each built-in journey.
func (m RateModel) Costs() map[string]JourneyCost {
	m = m.withDefaults()
	th := m.Think.Expected().Seconds()
	dash := float64(1 + m.DashboardAssets + 2)
	rec, wait := m.mediaCost()
	pe := m.ExportPoll.Polls(time.Duration(m.ExportSeconds * float64(time.Second)))
	ready := JourneyCost{Requests: rec.Requests + wait.Requests, Seconds: rec.Seconds + wait.Seconds, Videos: 1}
	miss := 1 - m.ReadyShare
	out := map[string]JourneyCost{
		JourneyRegistration: {Requests: 2 + dash, Seconds: 3 * th},
		JourneyBrowse:       {Requests: dash + 2, Seconds: 3 * th},
		JourneyCapture:      {Requests: rec.Requests, Seconds: rec.Seconds + th, Videos: 1},
		JourneyPipeline:     {Requests: ready.Requests + 1, Seconds: ready.Seconds + th, Videos: 1},
		JourneyExport: {
			Requests: 1 + miss*ready.Requests + 1 + float64(pe) + 1,
			Seconds:  2*th + miss*ready.Seconds + waited(m.ExportPoll, pe).Seconds(),
			Videos:   miss,
		},
	}
	for k, c := range out {
		c.Seconds += c.Requests * m.RequestLatency.Seconds()
		out[k] = c
	}
	return out
}

// Rates predicts the steady-state rates of users users.
func (m RateModel) Rates(users int) (Rates, error) {
	costs := m.Costs()
	names := make([]string, 0, len(m.Weights))
	for n := range m.Weights {
		names = append(names, n)
	}
	sort.Strings(names)
	var wsum, req, secs, vids float64
	var errs []error
	for _, n := range names {
		c, ok := costs[n]
		w := m.Weights[n]
		if !ok || !(w > 0) {
			errs = append(errs, fmt.Errorf("journey %q: unknown to the model or weight not positive", n))
			continue
		}
		wsum += w
		req += w * c.Requests
		secs += w * c.Seconds
		vids += w * c.Videos
	}
	if len(errs) > 0 {
		return Rates{}, errors.Join(errs...)
	}
	if wsum == 0 || secs == 0 {
		return Rates{}, errors.New("rate model: no journey, or no journey takes time")
	}
	u := float64(users)
	return Rates{
		Users:             users,
		RequestsPerMinute: u * 60 * req / secs,
		VideosPerHour:     u * 3600 * vids / secs,
		JourneysPerMinute: u * 60 * wsum / secs,
		Journeys:          costs,
	}, nil
}

// ArrivalRates predicts the rates of an arrival-rate scenario whose iterations start perHour
// times an hour, each running one journey drawn by weight (think pauses hold a VU, they do not
// change how many iterations start).
func (m RateModel) ArrivalRates(perHour float64) (Rates, error) {
	costs := m.Costs()
	var wsum, req, vids float64
	var errs []error
	for n, w := range m.Weights {
		c, ok := costs[n]
		if !ok || !(w > 0) {
			errs = append(errs, fmt.Errorf("journey %q: unknown to the model or weight not positive", n))
			continue
		}
		wsum += w
		req += w * c.Requests
		vids += w * c.Videos
	}
	if err := errors.Join(errs...); err != nil {
		return Rates{}, err
	}
	if wsum == 0 {
		return Rates{}, errors.New("rate model: no journey")
	}
	return Rates{
		RequestsPerMinute: perHour / 60 * req / wsum,
		VideosPerHour:     perHour * vids / wsum,
		JourneysPerMinute: perHour / 60,
		Journeys:          costs,
	}, nil
}
