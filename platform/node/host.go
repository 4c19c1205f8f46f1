package node

import (
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/platform/topology"
)

// hostCollector exports the node's machine under node_exporter's metric names, so that the
// plan's alert rules (platform/alerts) query the reference platform as they would a real
// cluster. A reference node is one process standing for an instance of its type:
//
//   - node_cpu_seconds_total{cpu, mode}: the process's user and system CPU time spread over
//     the instance type's vCPUs, the rest of the time since the node started as idle;
//   - node_memory_MemTotal_bytes is the instance type's memory, node_memory_MemAvailable_bytes
//     that less the process's resident memory;
//   - node_filesystem_size_bytes and node_filesystem_avail_bytes{mountpoint="/"} are the real
//     filesystem the node process works in (which every node of the reference platform
//     shares: they are processes on one machine).
type hostCollector struct {
	vcpus  int
	memory float64
	dir    string
	start  time.Time

	mu   sync.Mutex
	idle float64 // idle seconds per vCPU last exported: counters never go back

	cpu, memTotal, memAvail, fsSize, fsAvail *prometheus.Desc
}

func newHostCollector(instanceType, dir string) *hostCollector {
	it := topology.InstanceTypes[instanceType]
	fs := []string{"mountpoint", "fstype", "device"}
	return &hostCollector{
		vcpus: max(it.VCPUs, 1), memory: float64(it.MemoryGiB) * (1 << 30), dir: dir, start: time.Now(),
		cpu:      prometheus.NewDesc("node_cpu_seconds_total", "Seconds the CPUs spent in each mode (node_exporter's name).", []string{"cpu", "mode"}, nil),
		memTotal: prometheus.NewDesc("node_memory_MemTotal_bytes", "Memory of the instance type (node_exporter's name).", nil, nil),
		memAvail: prometheus.NewDesc("node_memory_MemAvailable_bytes", "Memory of the instance type less the node's resident memory (node_exporter's name).", nil, nil),
		fsSize:   prometheus.NewDesc("node_filesystem_size_bytes", "Size of the filesystem the node works in (node_exporter's name).", fs, nil),
		fsAvail:  prometheus.NewDesc("node_filesystem_avail_bytes", "Bytes of that filesystem available to the node (node_exporter's name).", fs, nil),
	}
}

func (h *hostCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{h.cpu, h.memTotal, h.memAvail, h.fsSize, h.fsAvail} {
		ch <- d
	}
}

func (h *hostCollector) Collect(ch chan<- prometheus.Metric) {
	h.collectCPU(ch)
	ch <- prometheus.MustNewConstMetric(h.memTotal, prometheus.GaugeValue, h.memory)
	if rss, err := residentBytes(); err == nil {
		ch <- prometheus.MustNewConstMetric(h.memAvail, prometheus.GaugeValue, math.Max(h.memory-rss, 0))
	} else {
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

// collectCPU spreads the process's CPU time evenly over the vCPUs.
func (h *hostCollector) collectCPU(ch chan<- prometheus.Metric) {
	userCPU, systemCPU, err := processCPU()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(h.cpu, err)
		return
	}
	n := float64(h.vcpus)
	user, system := userCPU.Seconds()/n, systemCPU.Seconds()/n
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

// residentBytes is this process's resident memory (Linux: /proc/self/statm).
func residentBytes() (float64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0, os.ErrInvalid
	}
	pages, err := strconv.ParseFloat(fields[1], 64)
	if err != nil {
		return 0, err
	}
	return pages * float64(os.Getpagesize()), nil
}
