// Package hostmetrics exports a machine under node_exporter's metric names, so that the plan's
// alert rules (platform/alerts) and dashboards query the reference platform as they would a
// real cluster. A reference machine is not a real one: it is one or more processes standing
// for an instance of their type, on a host they share with the others:
//
//   - node_cpu_seconds_total{cpu, mode}: the processes' user and system CPU time spread over
//     the instance type's vCPUs, the rest of the time since the machine started as idle;
//   - node_memory_MemTotal_bytes is the instance type's memory, node_memory_MemAvailable_bytes
//     that less the processes' resident memory;
//   - node_filesystem_size_bytes and node_filesystem_avail_bytes{mountpoint="/"} are the real
//     filesystem the machine works in (which every machine of the reference platform shares).
//
// What the processes are is the caller's: a reference node's own process ([Self]), or the
// pods a node agent of the local Kubernetes cluster runs ([Processes]).
package hostmetrics

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/platform/topology"
)

// Usage is what a machine's processes have used: CPU time since they started, and the memory
// resident now.
type Usage struct {
	User, System time.Duration
	Resident     float64 // bytes
}

// Source reads the usage of a machine's processes at the time of a scrape.
type Source func() (Usage, error)

// Collector exports one machine; it is a prometheus.Collector.
type Collector struct {
	vcpus  int
	memory float64
	dir    string
	start  time.Time
	usage  Source

	mu   sync.Mutex
	idle float64 // idle seconds per vCPU last exported: counters never go back

	cpu, memTotal, memAvail, fsSize, fsAvail *prometheus.Desc
}

// New returns the collector of a machine of instanceType that started now, working in dir,
// whose processes' usage usage reads.
func New(instanceType, dir string, usage Source) *Collector {
	it := topology.InstanceTypes[instanceType]
	fs := []string{"mountpoint", "fstype", "device"}
	return &Collector{
		vcpus: max(it.VCPUs, 1), memory: float64(it.MemoryGiB) * (1 << 30), dir: dir, start: time.Now(), usage: usage,
		cpu:      prometheus.NewDesc("node_cpu_seconds_total", "Seconds the CPUs spent in each mode (node_exporter's name).", []string{"cpu", "mode"}, nil),
		memTotal: prometheus.NewDesc("node_memory_MemTotal_bytes", "Memory of the instance type (node_exporter's name).", nil, nil),
		memAvail: prometheus.NewDesc("node_memory_MemAvailable_bytes", "Memory of the instance type less the node's resident memory (node_exporter's name).", nil, nil),
		fsSize:   prometheus.NewDesc("node_filesystem_size_bytes", "Size of the filesystem the node works in (node_exporter's name).", fs, nil),
		fsAvail:  prometheus.NewDesc("node_filesystem_avail_bytes", "Bytes of that filesystem available to the node (node_exporter's name).", fs, nil),
	}
}

// Describe implements prometheus.Collector.
func (h *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{h.cpu, h.memTotal, h.memAvail, h.fsSize, h.fsAvail} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (h *Collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(h.memTotal, prometheus.GaugeValue, h.memory)
	if u, err := h.usage(); err == nil {
		h.collectCPU(ch, u)
		ch <- prometheus.MustNewConstMetric(h.memAvail, prometheus.GaugeValue, math.Max(h.memory-u.Resident, 0))
	} else {
		ch <- prometheus.NewInvalidMetric(h.cpu, err)
		ch <- prometheus.NewInvalidMetric(h.memAvail, err)
	}
	size, avail, err := filesystemBytes(h.dir)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(h.fsSize, err)
		return
	}
	labels := []string{"/", "ext4", "/dev/root"}
	ch <- prometheus.MustNewConstMetric(h.fsSize, prometheus.GaugeValue, size, labels...)
	ch <- prometheus.MustNewConstMetric(h.fsAvail, prometheus.GaugeValue, avail, labels...)
}

// collectCPU spreads the processes' CPU time evenly over the vCPUs.
func (h *Collector) collectCPU(ch chan<- prometheus.Metric, u Usage) {
	n := float64(h.vcpus)
	user, system := u.User.Seconds()/n, u.System.Seconds()/n
	h.mu.Lock()
	h.idle = math.Max(h.idle, time.Since(h.start).Seconds()-user-system)
	idle := h.idle
	h.mu.Unlock()
	for c := range h.vcpus {
		cpu := strconv.Itoa(c)
		ch <- prometheus.MustNewConstMetric(h.cpu, prometheus.CounterValue, user, cpu, "user")
		ch <- prometheus.MustNewConstMetric(h.cpu, prometheus.CounterValue, system, cpu, "system")
		ch <- prometheus.MustNewConstMetric(h.cpu, prometheus.CounterValue, idle, cpu, "idle")
	}
}
