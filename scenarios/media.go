package scenarios

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
)

// MediaClass is one kind of capture in the media mix: its resolution and a uniform range of
// media durations, drawn with probability Share / (sum of shares).
type MediaClass struct {
	Name                   string
	Resolution             dailydoco.Resolution
	MinSeconds, MaxSeconds float64
	Share                  float64
}

// MediaMix is the population of captures the journeys upload.
type MediaMix []MediaClass

// DefaultMedia is the documented mix (docs/journeys.md): mostly 1080p tutorials of half a
// minute to a minute and a half, some longer 1080p walkthroughs, some short 720p clips and
// some 4K captures. Mean media duration 54 s; average GPU cost about 35 slot-seconds per
// video under the reference model, so 600 videos/hour use ~73% of the two-GPU pool.
var DefaultMedia = MediaMix{
	{Name: "clip-720p", Resolution: dailydoco.R720p, MinSeconds: 20, MaxSeconds: 40, Share: 0.25},
	{Name: "tutorial-1080p", Resolution: dailydoco.R1080p, MinSeconds: 30, MaxSeconds: 90, Share: 0.55},
	{Name: "walkthrough-1080p", Resolution: dailydoco.R1080p, MinSeconds: 90, MaxSeconds: 150, Share: 0.10},
	{Name: "screen-4k", Resolution: dailydoco.R4K, MinSeconds: 20, MaxSeconds: 45, Share: 0.10},
}

// Validate reports classes with no share, a bad range or an unknown resolution.
func (m MediaMix) Validate() error {
	if len(m) == 0 {
		return errors.New("media mix: no classes")
	}
	var errs []error
	for i, c := range m {
		switch {
		case c.Share <= 0:
			errs = append(errs, fmt.Errorf("media mix[%d] %s: share must be positive", i, c.Name))
		case !(c.MinSeconds > 0) || c.MaxSeconds < c.MinSeconds:
			errs = append(errs, fmt.Errorf("media mix[%d] %s: need 0 < minSeconds <= maxSeconds", i, c.Name))
		case c.Resolution != dailydoco.R4K && c.Resolution != dailydoco.R1080p && c.Resolution != dailydoco.R720p:
			errs = append(errs, fmt.Errorf("media mix[%d] %s: unknown resolution %q", i, c.Name, c.Resolution))
		}
	}
	return errors.Join(errs...)
}

// Draw picks a class by share and a duration uniformly in its range.
func (m MediaMix) Draw(r *rand.Rand) (MediaClass, float64) {
	total := 0.0
	for _, c := range m {
		total += c.Share
	}
	x := r.Float64() * total
	c := m[len(m)-1]
	for _, k := range m {
		if x < k.Share {
			c = k
			break
		}
		x -= k.Share
	}
	return c, c.MinSeconds + r.Float64()*(c.MaxSeconds-c.MinSeconds)
}
