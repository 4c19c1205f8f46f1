package topology

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/dailydoco/ddp-verify/platform/model"
)

// Defects break the reference platform on purpose. They exist only for the gate-mutation
// suite: tests that run a verification against a platform with one defect and prove that the
// go/no-go gate says NO-GO, for the reason that defect should cause. A real verification must
// never set one; the supervisor logs a warning at start when any is set.
//
// Every field's zero value is the healthy platform, so the zero Defects changes nothing. Each
// defect acts where the behaviour it breaks lives (the workers, the API, the cost exporter,
// the control API), so the harness sees it only through the platform's metrics and answers,
// as it would see a real bug. docs/platform.md ("Defects for the gate-mutation suite") lists
// the objective of the default SLO set each one should make fail.
//
// Autoscaling needs no defect: autoscaler.enabled: false turns off the cluster autoscaler, and
// a service without max_replicas is not scaled horizontally.
type Defects struct {
	// GPUSlowdown multiplies the GPU time of every video (its transcode and its thumbnail):
	// 3 makes every GPU step take three times the model's time. 0 (unset) and 1 are the
	// model's speed; at most MaxGPUSlowdown.
	GPUSlowdown float64 `yaml:"gpu_slowdown,omitempty" json:"gpu_slowdown,omitempty"`
	// HungResolution makes every GPU job of this resolution hang: a worker leases it, holds
	// its slots and renews its lease as a hung but live process would, and never completes
	// it, so the job is never leased again and the video never leaves processing.
	HungResolution model.Resolution `yaml:"hung_resolution,omitempty" json:"hung_resolution,omitempty"`
	// UnclaimedResolution is a resolution no GPU worker takes: its videos stay queued, holding
	// no slot and never reserving one, while every other video is processed as usual.
	UnclaimedResolution model.Resolution `yaml:"unclaimed_resolution,omitempty" json:"unclaimed_resolution,omitempty"`
	// AIFailureShare is the share of videos, in [0, 1], whose AI step fails after running:
	// the video ends failed (dailydoco_videos_processed_total{result="failed"}). A video fails
	// when a hash of its ID falls below the share, so the decision for a video is the same on
	// every attempt and in every run, and the share of failed videos is AIFailureShare on
	// average (exactly for 0 and 1).
	AIFailureShare float64 `yaml:"ai_failure_share,omitempty" json:"ai_failure_share,omitempty"`
	// LostHandoffShare is the share of videos, in [0, 1], that the data tier loses between the
	// GPU step and the AI step: it records the GPU step done and never queues the AI step, so
	// the video is neither processed, nor failed, nor in any queue (the lost message between
	// two stages). Videos are picked by a hash of their ID, as for AIFailureShare.
	LostHandoffShare float64 `yaml:"lost_handoff_share,omitempty" json:"lost_handoff_share,omitempty"`
	// APIAddedLatency is added to the service time of every API request, before the request
	// is handled, inside what http_server_request_duration_seconds measures. It must be below
	// gateway.upstream_timeout, or the gateway would cut requests off instead.
	APIAddedLatency Duration `yaml:"api_added_latency,omitempty" json:"api_added_latency,omitempty"`
	// APIErrorShare is the share of API requests, in [0, 1], that each API replica answers
	// 500 internal_error without handling them (so nothing they asked for happens). The
	// failures are spread evenly over each replica's requests in arrival order: with 0.25
	// the 4th, 8th, 12th ... request fails. 500 is not retried by the gateway, so clients
	// see every one.
	APIErrorShare float64 `yaml:"api_error_share,omitempty" json:"api_error_share,omitempty"`
	// PriceFactor multiplies every instance's hourly price (and its GPU share) in the cost
	// exporter, over whatever price table is in use; the managed services' fixed costs are
	// unchanged. 0 (unset) and 1 are the table's prices; at most MaxPriceFactor.
	PriceFactor float64 `yaml:"price_factor,omitempty" json:"price_factor,omitempty"`
	// IgnoreRestores makes the control API accept every valid restore of a node or zone,
	// answer with a change as usual, and restore nothing: killed nodes stay down, partitioned
	// ones stay cut off, a powered-off zone stays unschedulable. Requests it would reject
	// (unknown_node, not_faulted, zone_faulted ...) are still rejected.
	IgnoreRestores bool `yaml:"ignore_restores,omitempty" json:"ignore_restores,omitempty"`
}

// Affected reports whether a defect acting on a share of items (videos) affects the item with
// this ID: when a hash of the defect's name and the ID, read as a number in [0, 1), is below
// share. The answer for an item never changes (a retried step meets the same defect), share 0
// affects none and share 1 every one, and over many items the share affected is share.
func Affected(defect, id string, share float64) bool {
	h := sha256.Sum256([]byte(defect + "\x00" + id))
	// The top 53 bits: a float64 in [0, 1) with every value equally likely.
	u := float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53)
	return u < share
}

// Bounds of the defects' factors: far beyond anything that still looks like a platform, so
// that a typo (300 for 3.00) is caught rather than run.
const (
	MaxGPUSlowdown = 100
	MaxPriceFactor = 1000
)

// Any reports whether any defect is set.
func (d Defects) Any() bool { return d != Defects{} }

// List names the defects that are set as "yaml_name=value", in field order, for logs.
func (d Defects) List() []string {
	var out []string
	add := func(name, value string) { out = append(out, name+"="+value) }
	num := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	if d.GPUSlowdown != 0 {
		add("gpu_slowdown", num(d.GPUSlowdown))
	}
	if d.HungResolution != "" {
		add("hung_resolution", string(d.HungResolution))
	}
	if d.UnclaimedResolution != "" {
		add("unclaimed_resolution", string(d.UnclaimedResolution))
	}
	if d.AIFailureShare != 0 {
		add("ai_failure_share", num(d.AIFailureShare))
	}
	if d.LostHandoffShare != 0 {
		add("lost_handoff_share", num(d.LostHandoffShare))
	}
	if d.APIAddedLatency != 0 {
		add("api_added_latency", d.APIAddedLatency.D().String())
	}
	if d.APIErrorShare != 0 {
		add("api_error_share", num(d.APIErrorShare))
	}
	if d.PriceFactor != 0 {
		add("price_factor", num(d.PriceFactor))
	}
	if d.IgnoreRestores {
		add("ignore_restores", "true")
	}
	return out
}

// validateDefects records every problem of t.Defects with bad, under field paths of the YAML
// (defects.gpu_slowdown). It needs the rest of t: the added API latency is checked against
// the gateway's upstream timeout.
func (t *Topology) validateDefects(bad func(path, msg string)) {
	d := t.Defects
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	if f := d.GPUSlowdown; f != 0 && !(finite(f) && f >= 1 && f <= MaxGPUSlowdown) {
		bad("defects.gpu_slowdown", fmt.Sprintf("want a factor from 1 to %d (0 or absent: off), got %v", MaxGPUSlowdown, f))
	}
	for _, r := range []struct {
		field string
		res   model.Resolution
	}{{"hung_resolution", d.HungResolution}, {"unclaimed_resolution", d.UnclaimedResolution}} {
		if r.res != "" && !r.res.Valid() {
			bad("defects."+r.field, fmt.Sprintf("unknown resolution %q (want 4k, 1080p or 720p)", r.res))
		}
	}
	if d.HungResolution != "" && d.HungResolution == d.UnclaimedResolution {
		bad("defects.unclaimed_resolution", fmt.Sprintf("%s is also hung_resolution: a job no worker takes cannot hang; set one of them", d.HungResolution))
	}
	for _, s := range []struct {
		field string
		share float64
	}{{"ai_failure_share", d.AIFailureShare}, {"lost_handoff_share", d.LostHandoffShare}, {"api_error_share", d.APIErrorShare}} {
		if !(s.share >= 0 && s.share <= 1) {
			bad("defects."+s.field, fmt.Sprintf("want a share from 0 to 1, got %v", s.share))
		}
	}
	if l := d.APIAddedLatency; l > 0 && l >= t.Gateway.UpstreamTimeout {
		bad("defects.api_added_latency", fmt.Sprintf("%v is not below gateway.upstream_timeout (%v): the gateway would cut every request off (502) instead of serving it slowly", l.D(), t.Gateway.UpstreamTimeout.D()))
	}
	if f := d.PriceFactor; f != 0 && !(finite(f) && f >= 1 && f <= MaxPriceFactor) {
		bad("defects.price_factor", fmt.Sprintf("want a factor from 1 to %d (0 or absent: off), got %v", MaxPriceFactor, f))
	}
}

// CheckDefects reports every problem of t.Defects, as [Parse] does for a file, for
// topologies built or changed in Go (platformtest.Topology() with a defect set). Each
// problem reads "defects.field: message".
func (t *Topology) CheckDefects() error {
	var errs []error
	t.validateDefects(func(path, msg string) { errs = append(errs, fmt.Errorf("%s: %s", path, msg)) })
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("topology %s: %w", t.Name, err)
	}
	return nil
}
