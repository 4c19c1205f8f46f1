package run

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
)

// Status is one progress sample of a running verification.
type Status struct {
	Elapsed, Total time.Duration
	Stage          string
	StageLeft      time.Duration
	Live           load.Live
	// Queue is the number of videos waiting or processing; NaN when unknown.
	Queue float64
	// Faults are the faults in force now.
	Faults []string
}

// stageAt names the stage in progress at elapsed and the time left in it.
func stageAt(tl profile.Timeline, elapsed time.Duration) (string, time.Duration) {
	for _, s := range tl.Stages {
		if elapsed >= s.Start && elapsed < s.End {
			return s.Name, s.End - elapsed
		}
	}
	if elapsed >= tl.Duration {
		return "draining", 0
	}
	return "-", 0
}

// warnings are early signs that an SLO is in danger, from the live view alone.
func (s Status) warnings() []string {
	var w []string
	if s.Live.Requests > 0 && s.Live.P95 > 100*time.Millisecond {
		w = append(w, fmt.Sprintf("p95 %s > 100ms", s.Live.P95.Round(time.Millisecond)))
	}
	if s.Live.ErrorRate > 0.01 {
		w = append(w, fmt.Sprintf("errors %.1f%% > 1%%", 100*s.Live.ErrorRate))
	}
	return w
}

// Progress writes live status: on a terminal it redraws one block in place; elsewhere (CI
// logs) it prints one plain line per call.
type Progress struct {
	w     io.Writer
	tty   bool
	lines int // lines drawn by the last redraw
}

// NewProgress returns a progress writer; tty selects the in-place view.
func NewProgress(w io.Writer, tty bool) *Progress { return &Progress{w: w, tty: tty} }

// Update prints s.
func (p *Progress) Update(s Status) {
	if p == nil || p.w == nil {
		return
	}
	queue := "-"
	if !math.IsNaN(s.Queue) {
		queue = fmt.Sprintf("%.0f", s.Queue)
	}
	faults := "none"
	if len(s.Faults) > 0 {
		faults = strings.Join(s.Faults, ",")
	}
	warn := strings.Join(s.warnings(), "; ")
	if !p.tty {
		line := fmt.Sprintf("[%s/%s] stage=%s users=%d rps=%.1f p95=%s errors=%.2f%% queue=%s faults=%s",
			clockText(s.Elapsed), clockText(s.Total), s.Stage, s.Live.VUs, s.Live.RPS, s.Live.P95.Round(time.Millisecond),
			100*s.Live.ErrorRate, queue, faults)
		if warn != "" {
			line += " warn=" + strings.ReplaceAll(warn, " ", "")
		}
		fmt.Fprintln(p.w, line)
		return
	}
	var b strings.Builder
	if p.lines > 0 {
		fmt.Fprintf(&b, "\033[%dA", p.lines)
	}
	lines := []string{
		fmt.Sprintf("  %s / %s   stage %s (%s left)", clockText(s.Elapsed), clockText(s.Total), s.Stage, clockText(s.StageLeft)),
		fmt.Sprintf("  users %-6d rps %-8.1f p95 %-8s errors %.2f%%   videos in queue %s",
			s.Live.VUs, s.Live.RPS, s.Live.P95.Round(time.Millisecond), 100*s.Live.ErrorRate, queue),
		fmt.Sprintf("  faults in force: %s", faults),
	}
	if warn != "" {
		lines = append(lines, "  early warning: "+warn)
	} else {
		lines = append(lines, "")
	}
	for _, l := range lines {
		b.WriteString("\033[2K")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	p.lines = len(lines)
	io.WriteString(p.w, b.String())
}

func clockText(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
