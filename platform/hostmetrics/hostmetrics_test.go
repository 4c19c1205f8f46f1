package hostmetrics

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The collector speaks node_exporter's names for the instance type it stands for: a
// g4dn.xlarge has 4 vCPUs (user, system and idle each) and 16 GiB, the process's resident
// memory is not available, and the filesystem is the real one the node works in.
func TestCollectorStandsForItsInstanceType(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(New("g4dn.xlarge", t.TempDir(), Self))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]*dto.Metric{}
	for _, f := range families {
		got[f.GetName()] = f.GetMetric()
	}
	if n := len(got["node_cpu_seconds_total"]); n != 4*3 {
		t.Errorf("%d node_cpu_seconds_total series, want 12 (4 vCPUs x user, system, idle)", n)
	}
	total := got["node_memory_MemTotal_bytes"][0].GetGauge().GetValue()
	avail := got["node_memory_MemAvailable_bytes"][0].GetGauge().GetValue()
	if total != 16<<30 || avail >= total || avail <= 0 {
		t.Errorf("memory total %v available %v, want 16 GiB and less available", total, avail)
	}
	size := got["node_filesystem_size_bytes"][0].GetGauge().GetValue()
	free := got["node_filesystem_avail_bytes"][0].GetGauge().GetValue()
	if size <= 0 || free <= 0 || free > size {
		t.Errorf("filesystem size %v available %v", size, free)
	}
}

// Idle time is a counter: it never goes back, even when the processes' CPU time grows faster
// than the wall clock over the instance's vCPUs.
func TestCollectorIdleNeverGoesBack(t *testing.T) {
	h := New("m5.xlarge", t.TempDir(), Self)
	idle := func() float64 {
		ch := make(chan prometheus.Metric, 64)
		h.collectCPU(ch, Usage{})
		close(ch)
		var v float64
		for m := range ch {
			var d dto.Metric
			if err := m.Write(&d); err != nil {
				t.Fatal(err)
			}
			for _, l := range d.GetLabel() {
				if l.GetName() == "mode" && l.GetValue() == "idle" {
					v = d.GetCounter().GetValue()
				}
			}
		}
		return v
	}
	h.idle = 1e9 // as if an earlier scrape had seen more idle time than there is now
	if v := idle(); v != 1e9 {
		t.Errorf("idle went back to %v", v)
	}
}

// ProcessUsage reads /proc as getrusage counts: this process's CPU time, read both ways after
// it has burnt some, agrees within /proc's resolution (10 ms ticks, plus the time the second
// reading itself takes), and its resident memory is some.
func TestProcessUsageAgreesWithGetrusage(t *testing.T) {
	for x := 0; ; x++ {
		u, err := Self()
		if err != nil {
			t.Fatal(err)
		}
		if u.CPU() >= 200*time.Millisecond {
			break
		}
		_ = fmt.Sprint(x) // burn CPU
	}
	before, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ProcessUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	after, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	if got.CPU() < before.CPU()-30*time.Millisecond || got.CPU() > after.CPU()+30*time.Millisecond {
		t.Errorf("/proc says %v of CPU, getrusage %v before and %v after", got.CPU(), before.CPU(), after.CPU())
	}
	if got.Resident <= 0 || math.Abs(got.Resident-after.Resident) > after.Resident/2 {
		t.Errorf("/proc says %v resident bytes, statm of self %v", got.Resident, after.Resident)
	}
	if _, err := ProcessUsage(1 << 30); err == nil {
		t.Error("a process that does not exist has a usage")
	}
}

// A source that cannot read its processes makes the scrape fail for the CPU and memory
// series (Prometheus records the target down), never a machine that looks idle.
func TestCollectorFailsWithItsSource(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(New("m5.xlarge", t.TempDir(), func() (Usage, error) { return Usage{}, errors.New("no such process") }))
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Errorf("gather: %v, want the source's error", err)
	}
}
