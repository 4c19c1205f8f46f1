package model

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Workload is a steady stream of videos for [Simulate]: of one resolution and duration, or
// drawn from Mix when it is set.
type Workload struct {
	VideosPerHour float64    // Poisson arrival rate, in model hours
	Resolution    Resolution // of every video, without a Mix
	MediaSeconds  float64    // of every video, without a Mix
	Mix           []Class
	Hours         float64 // how long videos arrive
	Seed          uint64  // arrivals are reproducible
}

// Class is one kind of video in a mix: a resolution and a uniform range of durations, drawn
// with probability Share / (sum of shares).
type Class struct {
	Resolution             Resolution
	MinSeconds, MaxSeconds float64
	Share                  float64
}

func (w Workload) draw(r *rand.Rand) video {
	if len(w.Mix) == 0 {
		return video{res: w.Resolution, media: w.MediaSeconds}
	}
	total := 0.0
	for _, c := range w.Mix {
		total += c.Share
	}
	x := r.Float64() * total
	c := w.Mix[len(w.Mix)-1]
	for _, k := range w.Mix {
		if x < k.Share {
			c = k
			break
		}
		x -= k.Share
	}
	return video{res: c.Resolution, media: c.MinSeconds + r.Float64()*(c.MaxSeconds-c.MinSeconds)}
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
		v := w.draw(rng)
		v.arrived = t
		s.push(event{at: t, kind: evArrive, v: v})
	}
	var ratios []float64
	completedInWindow := 0
	for s.events.Len() > 0 {
		e := heap.Pop(&s.events).(event)
		s.now = e.at
		switch e.kind {
		case evArrive:
			s.arrived++
			// The queue is ordered by due time: arrival + DueRatio x media seconds.
			i := sort.Search(len(s.gpuQueue), func(i int) bool { return s.due(s.gpuQueue[i]) > s.due(e.v) })
			s.gpuQueue = slices.Insert(s.gpuQueue, i, e.v)
		case evTranscodeDone:
			s.free[e.node] += m.GPU[e.v.res].Slots - 1
			s.push(event{at: s.now + m.ThumbnailSeconds, kind: evThumbnailDone, node: e.node, v: e.v})
		case evThumbnailDone:
			s.free[e.node]++
			s.aiQueue = append(s.aiQueue, e.v)
		case evAIDone:
			s.aiFree++
			ratios = append(ratios, (s.now-e.v.arrived)/e.v.media)
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

type video struct {
	arrived float64
	res     Resolution
	media   float64
}

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

func (s *sim) due(v video) float64 { return v.arrived + s.m.DueRatio*v.media }

func (s *sim) push(e event) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.events, e)
}

// dispatch starts what can start, as the data tier leases: each node takes the oldest waiting
// video that fits its free slots, except that once the oldest has waited ReserveSeconds, no
// node takes a smaller one past it (so a 4K video is not starved by 1080p ones).
func (s *sim) dispatch() {
	for started := true; started; {
		started = false
		for node := range s.free {
			i := s.pick(s.free[node])
			if i < 0 {
				continue
			}
			v := s.gpuQueue[i]
			s.gpuQueue = append(s.gpuQueue[:i:i], s.gpuQueue[i+1:]...)
			s.free[node] -= s.m.GPU[v.res].Slots
			s.push(event{at: s.now + s.m.TranscodeSeconds(v.res, v.media), kind: evTranscodeDone, node: node, v: v})
			started = true
		}
	}
	s.maxQueue = max(s.maxQueue, len(s.gpuQueue))
	for len(s.aiQueue) > 0 && s.aiFree > 0 {
		v := s.aiQueue[0]
		s.aiQueue = s.aiQueue[1:]
		s.aiFree--
		s.push(event{at: s.now + s.m.AISeconds(v.media), kind: evAIDone, v: v})
	}
}

// pick returns the index of the video a node with free slots takes, or -1.
func (s *sim) pick(free int) int {
	if len(s.gpuQueue) == 0 || free == 0 {
		return -1
	}
	if s.m.GPU[s.gpuQueue[0].res].Slots <= free {
		return 0
	}
	if s.now-s.gpuQueue[0].arrived >= s.m.ReserveSeconds {
		return -1
	}
	for i, v := range s.gpuQueue {
		if s.m.GPU[v.res].Slots <= free {
			return i
		}
	}
	return -1
}
