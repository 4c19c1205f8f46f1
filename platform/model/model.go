// Package model is the processing-time model of the reference platform's video pipeline: how long
// a video of a given resolution and media duration holds how much of a GPU, how long the AI
// authenticity step takes, and what realtime ratio results. The GPU and AI workers sleep for
// exactly these durations; [Simulate] replays the same model as a discrete-event simulation so
// that the calibration (the default topology meets the plan, one GPU node does not) is a fast,
// exact test instead of an hour-long run. docs/platform.md explains the figures.
package model

import (
	"fmt"
	"math"
	"time"
)

// Resolution of a capture, as the API accepts it.
type Resolution string

// The resolutions the platform processes.
const (
	R4K    Resolution = "4k"
	R1080p Resolution = "1080p"
	R720p  Resolution = "720p"
)

// Resolutions lists the supported resolutions, largest first.
var Resolutions = []Resolution{R4K, R1080p, R720p}

// GPUCost is what transcoding one resolution takes: Slots quarter-GPU time slices held for
// SecondsPerMediaSecond seconds per second of media.
type GPUCost struct {
	Slots                 int     `yaml:"slots" json:"slots"`
	SecondsPerMediaSecond float64 `yaml:"seconds_per_media_second" json:"seconds_per_media_second"`
}

// Model holds the figures of the processing-time model. All durations are model seconds; Speed
// converts them to wall time.
type Model struct {
	// Speed compresses the model's clock: a step of d model seconds takes d/Speed wall seconds,
	// and realtime ratios are computed in model seconds, so they do not change with Speed.
	// 1 (the default) is real time; tests use larger values to keep media durations realistic
	// and runs short.
	Speed float64 `yaml:"speed" json:"speed"`
	// SlotsPerGPU is how many time slices one GPU is cut into (4: a quarter GPU each).
	SlotsPerGPU int `yaml:"slots_per_gpu" json:"slots_per_gpu"`
	// GPU is the transcode cost per resolution.
	GPU map[Resolution]GPUCost `yaml:"gpu" json:"gpu"`
	// ThumbnailSeconds is the thumbnail generation after the transcode, on one slot.
	ThumbnailSeconds float64 `yaml:"thumbnail_seconds" json:"thumbnail_seconds"`
	// AI step (transcript summary and authenticity score) on the memory pool:
	// AIFixedSeconds + AISecondsPerMediaSecond x media seconds, one of AISlotsPerNode slots.
	AIFixedSeconds          float64 `yaml:"ai_fixed_seconds" json:"ai_fixed_seconds"`
	AISecondsPerMediaSecond float64 `yaml:"ai_seconds_per_media_second" json:"ai_seconds_per_media_second"`
	AISlotsPerNode          int     `yaml:"ai_slots_per_node" json:"ai_slots_per_node"`
	// DueRatio orders the queue: a video is due DueRatio x its media seconds after it was
	// accepted, and the job due first goes first (earliest deadline first against the plan's
	// 2x realtime objective). 0 is first come, first served.
	DueRatio float64 `yaml:"due_ratio" json:"due_ratio"`
	// ReserveSeconds: once the oldest waiting GPU job has waited this long, workers stop
	// taking smaller jobs past it, so that a job needing a whole GPU is not starved.
	ReserveSeconds float64 `yaml:"reserve_seconds" json:"reserve_seconds"`
	// Export rendering: ExportFixedSeconds + ExportSecondsPerMediaSecond x media seconds.
	ExportFixedSeconds          float64 `yaml:"export_fixed_seconds" json:"export_fixed_seconds"`
	ExportSecondsPerMediaSecond float64 `yaml:"export_seconds_per_media_second" json:"export_seconds_per_media_second"`
}

// Default returns the calibrated model (docs/platform.md, "Processing-time model").
func Default() Model {
	return Model{
		Speed:       1,
		SlotsPerGPU: 4,
		GPU: map[Resolution]GPUCost{
			R4K:    {Slots: 4, SecondsPerMediaSecond: 0.45},
			R1080p: {Slots: 2, SecondsPerMediaSecond: 0.30},
			R720p:  {Slots: 1, SecondsPerMediaSecond: 0.25},
		},
		ThumbnailSeconds:            1,
		AIFixedSeconds:              1,
		AISecondsPerMediaSecond:     0.1,
		AISlotsPerNode:              4,
		ReserveSeconds:              10,
		DueRatio:                    2,
		ExportFixedSeconds:          0.5,
		ExportSecondsPerMediaSecond: 0.01,
	}
}

// Validate reports every inconsistency of m, joined.
func (m Model) Validate() []string {
	var errs []string
	if !(m.Speed > 0) || math.IsInf(m.Speed, 0) {
		errs = append(errs, "speed: must be a positive number")
	}
	if m.SlotsPerGPU < 1 {
		errs = append(errs, "slots_per_gpu: must be >= 1")
	}
	for _, r := range Resolutions {
		c, ok := m.GPU[r]
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("gpu.%s: missing", r))
		case c.Slots < 1 || c.Slots > m.SlotsPerGPU:
			errs = append(errs, fmt.Sprintf("gpu.%s.slots: must be between 1 and slots_per_gpu (%d)", r, m.SlotsPerGPU))
		case !(c.SecondsPerMediaSecond > 0):
			errs = append(errs, fmt.Sprintf("gpu.%s.seconds_per_media_second: must be > 0", r))
		}
	}
	for r := range m.GPU {
		if !r.Valid() {
			errs = append(errs, fmt.Sprintf("gpu.%s: unknown resolution (want 4k, 1080p or 720p)", r))
		}
	}
	if m.ThumbnailSeconds < 0 || m.AIFixedSeconds < 0 || m.AISecondsPerMediaSecond < 0 || m.ExportFixedSeconds < 0 || m.ExportSecondsPerMediaSecond < 0 {
		errs = append(errs, "thumbnail, ai and export seconds: must be >= 0")
	}
	if m.ReserveSeconds < 0 || m.DueRatio < 0 {
		errs = append(errs, "reserve_seconds and due_ratio: must be >= 0")
	}
	if m.AISlotsPerNode < 1 {
		errs = append(errs, "ai_slots_per_node: must be >= 1")
	}
	return errs
}

// Valid reports whether r is a supported resolution.
func (r Resolution) Valid() bool {
	for _, x := range Resolutions {
		if r == x {
			return true
		}
	}
	return false
}

// Wall converts model seconds to wall time under m.Speed.
func (m Model) Wall(modelSeconds float64) time.Duration {
	return time.Duration(modelSeconds / m.Speed * float64(time.Second))
}

// TranscodeSeconds is the model time a video holds its resolution's slots.
func (m Model) TranscodeSeconds(r Resolution, mediaSeconds float64) float64 {
	return m.GPU[r].SecondsPerMediaSecond * mediaSeconds
}

// AISeconds is the model time of the AI step for a video.
func (m Model) AISeconds(mediaSeconds float64) float64 {
	return m.AIFixedSeconds + m.AISecondsPerMediaSecond*mediaSeconds
}

// ExportSeconds is the model time to render an export.
func (m Model) ExportSeconds(mediaSeconds float64) float64 {
	return m.ExportFixedSeconds + m.ExportSecondsPerMediaSecond*mediaSeconds
}

// IdleSeconds is the model time from accepting a video to ready on an idle cluster: transcode,
// thumbnail and AI step, with no queue wait.
func (m Model) IdleSeconds(r Resolution, mediaSeconds float64) float64 {
	return m.TranscodeSeconds(r, mediaSeconds) + m.ThumbnailSeconds + m.AISeconds(mediaSeconds)
}

// RealtimeRatio is elapsed wall time converted to model seconds, divided by the media duration:
// below 1 the pipeline keeps up with real time, the plan's objective is below 2.
func (m Model) RealtimeRatio(elapsed time.Duration, mediaSeconds float64) float64 {
	if mediaSeconds <= 0 {
		return 0
	}
	return elapsed.Seconds() * m.Speed / mediaSeconds
}

// SlotSecondsPerVideo is the GPU slot-seconds one video of r and mediaSeconds consumes.
func (m Model) SlotSecondsPerVideo(r Resolution, mediaSeconds float64) float64 {
	return float64(m.GPU[r].Slots)*m.TranscodeSeconds(r, mediaSeconds) + m.ThumbnailSeconds
}

// GPUCapacityPerHour is how many videos of r and mediaSeconds per hour gpus GPUs sustain at
// full utilisation (model hours).
func (m Model) GPUCapacityPerHour(gpus int, r Resolution, mediaSeconds float64) float64 {
	return float64(gpus*m.SlotsPerGPU) * 3600 / m.SlotSecondsPerVideo(r, mediaSeconds)
}
