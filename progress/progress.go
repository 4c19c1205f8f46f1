// Package progress shows long work as it happens: a block redrawn in place on a terminal, or
// one plain line per update elsewhere (CI logs). A run shows its stage, users, requests per
// second, p95, error rate, videos in queue and faults in force; the load command shows the
// load figures only.
package progress

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/internal/printable"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
)

// Status is one progress sample. Its stage and fault names come from a profile and are
// printed with their control characters escaped (package printable): a name holding an
// escape sequence must not redraw the terminal.
type Status struct {
	Elapsed, Total time.Duration
	Stage          string
	StageLeft      time.Duration
	Live           load.Live
	// Platform says whether Queue and Faults are known: a run against a platform has them, an
	// ad-hoc load has not (and shows neither).
	Platform bool
	// Queue is the number of videos waiting or processing; NaN when unknown.
	Queue float64
	// Faults are the faults in force now.
	Faults []string
}

// StageAt names the stage of the timeline in progress at elapsed and the time left in it.
func StageAt(tl profile.Timeline, elapsed time.Duration) (string, time.Duration) {
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

// New returns a progress writer; tty selects the in-place view.
func New(w io.Writer, tty bool) *Progress { return &Progress{w: w, tty: tty} }

// Update prints s.
func (p *Progress) Update(s Status) {
	if p == nil || p.w == nil {
		return
	}
	if !p.tty {
		fmt.Fprintln(p.w, s.line())
		return
	}
	p.redraw(s.block())
}

// line is the plain one-line view.
func (s Status) line() string {
	line := fmt.Sprintf("[%s/%s] stage=%s users=%d rps=%.1f p95=%s errors=%.2f%%",
		clockText(s.Elapsed), clockText(s.Total), printable.String(s.Stage), s.Live.VUs, s.Live.RPS, s.Live.P95.Round(time.Millisecond), 100*s.Live.ErrorRate)
	if s.Platform {
		line += fmt.Sprintf(" queue=%s faults=%s", s.queue(), s.faults())
	} else {
		line += fmt.Sprintf(" requests=%d dropped=%d", s.Live.Requests, s.Live.Dropped)
	}
	if warn := strings.Join(s.warnings(), "; "); warn != "" {
		line += " warn=" + strings.ReplaceAll(warn, " ", "")
	}
	return line
}

// block is the terminal view, always four lines so that it redraws in place.
func (s Status) block() []string {
	figures := fmt.Sprintf("  users %-6d rps %-8.1f p95 %-8s errors %.2f%%", s.Live.VUs, s.Live.RPS, s.Live.P95.Round(time.Millisecond), 100*s.Live.ErrorRate)
	third := fmt.Sprintf("  requests %d, dropped iterations %d", s.Live.Requests, s.Live.Dropped)
	if s.Platform {
		figures += "   videos in queue " + s.queue()
		third = "  faults in force: " + s.faults()
	}
	lines := []string{fmt.Sprintf("  %s / %s   stage %s (%s left)", clockText(s.Elapsed), clockText(s.Total), printable.String(s.Stage), clockText(s.StageLeft)), figures, third, ""}
	if warn := strings.Join(s.warnings(), "; "); warn != "" {
		lines[3] = "  early warning: " + warn
	}
	return lines
}

func (s Status) queue() string {
	if math.IsNaN(s.Queue) {
		return "-"
	}
	return fmt.Sprintf("%.0f", s.Queue)
}

func (s Status) faults() string {
	if len(s.Faults) == 0 {
		return "none"
	}
	return printable.String(strings.Join(s.Faults, ","))
}

// redraw moves the cursor up over the last block and draws lines over it.
func (p *Progress) redraw(lines []string) {
	var b strings.Builder
	if p.lines > 0 {
		fmt.Fprintf(&b, "\033[%dA", p.lines)
	}
	for _, l := range lines {
		b.WriteString("\033[2K")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	p.lines = len(lines)
	io.WriteString(p.w, b.String())
}

// Clear removes the terminal view (at the end of the work, before a summary is printed).
func (p *Progress) Clear() {
	if p == nil || p.w == nil || !p.tty || p.lines == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\033[%dA", p.lines)
	for range p.lines {
		b.WriteString("\033[2K\n")
	}
	fmt.Fprintf(&b, "\033[%dA", p.lines)
	p.lines = 0
	io.WriteString(p.w, b.String())
}

func clockText(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// Follow shows the engine's live figures every interval until done closes: the view of an
// ad-hoc load, whose stages stageAt names.
func Follow(p *Progress, eng *load.Engine, total time.Duration, stageAt func(time.Duration) (string, time.Duration), every time.Duration, done <-chan struct{}) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			p.Clear()
			return
		case <-t.C:
			l := eng.Live()
			stage, left := stageAt(l.Elapsed)
			p.Update(Status{Elapsed: l.Elapsed, Total: total, Stage: stage, StageLeft: left, Live: l, Queue: math.NaN()})
		}
	}
}
