package node

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The host collector speaks node_exporter's names for the instance type it stands for: a
// g4dn.xlarge has 4 vCPUs (user, system and idle each) and 16 GiB, the process's resident
// memory is not available, and the filesystem is the real one the node works in.
func TestHostCollectorStandsForItsInstanceType(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newHostCollector("g4dn.xlarge", t.TempDir()))
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

// Idle time is a counter: it never goes back, even when the process's CPU time grows faster
// than the wall clock over the instance's vCPUs.
func TestHostCollectorIdleNeverGoesBack(t *testing.T) {
	h := newHostCollector("m5.xlarge", t.TempDir())
	idle := func() float64 {
		ch := make(chan prometheus.Metric, 64)
		h.collectCPU(ch)
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
