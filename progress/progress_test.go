package progress

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/load"
)

func TestProgressPlainAndTerminal(t *testing.T) {
	s := Status{Elapsed: 65 * time.Second, Total: 2 * time.Minute, Stage: "hold", StageLeft: 35 * time.Second,
		Live:     load.Live{VUs: 50, RPS: 12.5, P95: 142 * time.Millisecond, ErrorRate: 0.02, Requests: 100},
		Platform: true, Queue: 3, Faults: []string{"general-node"}}
	var plain bytes.Buffer
	New(&plain, false).Update(s)
	want := "[1:05/2:00] stage=hold users=50 rps=12.5 p95=142ms errors=2.00% queue=3 faults=general-node warn=p95142ms>100ms;errors2.0%>1%\n"
	if plain.String() != want {
		t.Errorf("plain line\n got %q\nwant %q", plain.String(), want)
	}
	var tty bytes.Buffer
	p := New(&tty, true)
	p.Update(s)
	s.Queue = math.NaN()
	p.Update(s)
	out := tty.String()
	if !strings.Contains(out, "\033[4A") || !strings.Contains(out, "videos in queue -") || !strings.Contains(out, "faults in force: general-node") {
		t.Errorf("terminal view does not redraw in place:\n%q", out)
	}
}

// An ad-hoc load has no platform: no queue, no faults, but its request and drop counts.
func TestProgressWithoutPlatform(t *testing.T) {
	s := Status{Elapsed: 5 * time.Second, Total: 30 * time.Second, Stage: "1/3",
		Live: load.Live{VUs: 10, RPS: 99.5, P95: 3 * time.Millisecond, Requests: 500, Dropped: 2}, Queue: math.NaN()}
	var plain bytes.Buffer
	New(&plain, false).Update(s)
	if want := "[0:05/0:30] stage=1/3 users=10 rps=99.5 p95=3ms errors=0.00% requests=500 dropped=2\n"; plain.String() != want {
		t.Errorf("plain line\n got %q\nwant %q", plain.String(), want)
	}
	var tty bytes.Buffer
	p := New(&tty, true)
	p.Update(s)
	p.Clear()
	if out := tty.String(); strings.Contains(out, "queue") || strings.Contains(out, "faults") || !strings.Contains(out, "dropped iterations 2") || !strings.HasSuffix(out, "\033[4A") {
		t.Errorf("terminal view %q", out)
	}
}

// Stage and fault names come from a profile: their control characters are escaped, in the
// plain line and in the block redrawn on a terminal, so a name cannot move the cursor or
// clear the screen. The view's own escape sequences are the only ones written.
func TestProgressEscapesNames(t *testing.T) {
	s := Status{Elapsed: time.Second, Total: time.Minute, Stage: "hold\x1b[2J", Platform: true, Queue: 1, Faults: []string{"node\r\x1b[1A"}}
	var plain bytes.Buffer
	New(&plain, false).Update(s)
	if out := plain.String(); strings.ContainsAny(out, "\x1b\r") || !strings.Contains(out, `stage=hold\x1b[2J`) || !strings.Contains(out, `faults=node\r\x1b[1A`) {
		t.Errorf("plain line %q", out)
	}
	var tty bytes.Buffer
	New(&tty, true).Update(s)
	out := strings.ReplaceAll(tty.String(), "\033[2K", "")
	if strings.ContainsAny(out, "\x1b\r") || !strings.Contains(out, `stage hold\x1b[2J`) {
		t.Errorf("terminal block %q", out)
	}
}
