package model

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"sort"
)

// Workload is a steady stream of identical videos for [Simulate].
type Workload struct {
	VideosPerHour float64    // Poisson arrival rate, in model hours
	Resolution    Resolution // of every video
	MediaSeconds  float64    // of every video
	Hours         float64    // how long videos arrive
	Seed          uint64     // arrivals are reproducible
}

// Cluster is the capacity [Simulate] schedules on: GPU nodes of one GPU each (g4dn.xlarge) and
// memory nodes with m.AISlotsPerNode AI slots each.
type Cluster struct {
	GPUNodes    int
	MemoryNodes int
}

// SimResult is what a simulated workload produced. Ratios are of videos that reached ready,
// as dailydoco_video_processing_realtime_ratio records them.
type SimResult struct {
	Arrived, Completed int
	// CompletedPerHour counts videos that reached ready while videos were arriving.
	CompletedPerHour float64
	P50Ratio         float64
	P95Ratio         float64
	MaxQueue         int // most videos waiting for a GPU at once
}

// Simulate replays the worker's scheduling under m without a clock: the oldest waiting video
// that fits a node's free slots starts there; it holds its resolution's slots for the
// transcode, keeps one slot for the thumbnail, then waits for an AI slot on the memory pool.
// Lease and network latencies are not modelled (they are milliseconds against seconds).
func Simulate(m Model, c Cluster, w Workload) SimResult {
	s := sim{m: m, w: w, free: make([]int, c.GPUNodes), aiFree: c.MemoryNodes * m.AISlotsPerNode}
	for i := range s.free {
		s.free[i] = m.SlotsPerGPU
	}
	rng := rand.New(rand.NewPCG(w.Seed, 0x5eed))
	end := w.Hours * 3600
	for t := rng.ExpFloat64() * 3600 / w.VideosPerHour; t < end; t += rng.ExpFloat64() * 3600 / w.VideosPerHour {
		s.push(event{at: t, kind: evArrive})
	}
	var ratios []float64
	completedInWindow := 0
	for s.events.Len() > 0 {
		e := heap.Pop(&s.events).(event)
		s.now = e.at
		switch e.kind {
		case evArrive:
			s.arrived++
			s.gpuQueue = append(s.gpuQueue, video{arrived: e.at})
		case evTranscodeDone:
			s.free[e.node] += m.GPU[w.Resolution].Slots - 1
			s.push(event{at: s.now + m.ThumbnailSeconds, kind: evThumbnailDone, node: e.node, v: e.v})
		case evThumbnailDone:
			s.free[e.node]++
			s.aiQueue = append(s.aiQueue, e.v)
		case evAIDone:
			s.aiFree++
			ratios = append(ratios, (s.now-e.v.arrived)/w.MediaSeconds)
			if s.now <= end {
				completedInWindow++
			}
		}
		s.dispatch()
	}
	r := SimResult{Arrived: s.arrived, Completed: len(ratios), MaxQueue: s.maxQueue}
	if w.Hours > 0 {
		r.CompletedPerHour = float64(completedInWindow) / w.Hours
	}
	sort.Float64s(ratios)
	r.P50Ratio, r.P95Ratio = quantile(ratios, 0.5), quantile(ratios, 0.95)
	return r
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	return sorted[int(math.Ceil(q*float64(len(sorted))))-1]
}

type video struct{ arrived float64 }

type evKind int

const (
	evArrive evKind = iota
	evTranscodeDone
	evThumbnailDone
	evAIDone
)

type event struct {
	at   float64
	kind evKind
	node int
	v    video
	seq  int // FIFO among equal times keeps runs reproducible
}

type events []event

func (e events) Len() int { return len(e) }
func (e events) Less(i, j int) bool {
	if e[i].at != e[j].at {
		return e[i].at < e[j].at
	}
	return e[i].seq < e[j].seq
}
func (e events) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)   { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

type sim struct {
	m                 Model
	w                 Workload
	now               float64
	events            events
	seq               int
	free              []int
	aiFree            int
	gpuQueue, aiQueue []video
	arrived, maxQueue int
}

func (s *sim) push(e event) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.events, e)
}

func (s *sim) dispatch() {
	need := s.m.GPU[s.w.Resolution].Slots
	for len(s.gpuQueue) > 0 {
		node := -1
		for i, f := range s.free {
			if f >= need {
				node = i
				break
			}
		}
		if node < 0 {
			break
		}
		v := s.gpuQueue[0]
		s.gpuQueue = s.gpuQueue[1:]
		s.free[node] -= need
		s.push(event{at: s.now + s.m.TranscodeSeconds(s.w.Resolution, s.w.MediaSeconds), kind: evTranscodeDone, node: node, v: v})
	}
	s.maxQueue = max(s.maxQueue, len(s.gpuQueue))
	for len(s.aiQueue) > 0 && s.aiFree > 0 {
		v := s.aiQueue[0]
		s.aiQueue = s.aiQueue[1:]
		s.aiFree--
		s.push(event{at: s.now + s.m.AISeconds(s.w.MediaSeconds), kind: evAIDone, v: v})
	}
}
