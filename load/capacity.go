package load

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// Capacity is an estimate of the load one machine can generate: how many VUs it can hold at
// once and how many iterations it can start per second. A profile asking for more would not
// run as written (the generator would swap, be killed for memory, or fall behind its schedule
// and report its own lateness as the target's latency), so loaders refuse it unless told to
// go ahead. The zero Capacity bounds nothing.
type Capacity struct {
	// VUs is the most VUs at once; 0 for no bound.
	VUs int64
	// Rate is the most iteration starts per second; 0 for no bound.
	Rate float64
	// VUsBasis and RateBasis say how VUs and Rate were estimated, for messages.
	VUsBasis, RateBasis string
}

// Figures behind [MachineCapacity].
const (
	// MemoryPerVU is the memory one VU is budgeted: BenchmarkMemoryPerVU (make bench) measures
	// 30-33 KiB of resident memory per idle-ish VU against a budget of 64 KiB, and a journey's
	// VU carries more state (cookies, account, media buffers) than the benchmark's.
	MemoryPerVU = 64 << 10
	// StartsPerCPUSecond is the iterations one CPU can start per second: make bench measures
	// about 75-85 thousand requests per CPU-second in the closed model with no think time,
	// and an iteration sends at least one request.
	StartsPerCPUSecond = 100_000
	// assumedMemory stands in for the available memory where it cannot be read.
	assumedMemory = 2 << 30
)

// Bounded reports whether c bounds anything.
func (c Capacity) Bounded() bool { return c.VUs > 0 || c.Rate > 0 }

// CheckVUs says, with the estimate, that n VUs at once is more than c holds; nil when it is
// not, or c bounds no VUs.
func (c Capacity) CheckVUs(n int64) error {
	if c.VUs <= 0 || n <= c.VUs {
		return nil
	}
	return fmt.Errorf("%d VUs is more than this machine can hold: about %d (%s)", n, c.VUs, c.VUsBasis)
}

// CheckRate says, with the estimate, that perSecond iteration starts per second is more than
// c can start; nil when it is not, or c bounds no rate.
func (c Capacity) CheckRate(perSecond float64) error {
	if c.Rate <= 0 || perSecond <= c.Rate {
		return nil
	}
	return fmt.Errorf("%.6g iterations per second is more than this machine can start: about %.6g (%s)", perSecond, c.Rate, c.RateBasis)
}

// CapacityFor is the capacity of a machine with avail bytes of memory available and cpus
// CPUs: half the memory for VUs at [MemoryPerVU] each (the rest is for the metrics, the local
// platform and Prometheus), and [StartsPerCPUSecond] per CPU. source says where avail was
// read.
func CapacityFor(avail uint64, source string, cpus int) Capacity {
	cpus = max(cpus, 1)
	return Capacity{
		VUs:       int64(avail / 2 / MemoryPerVU),
		Rate:      float64(cpus * StartsPerCPUSecond),
		VUsBasis:  fmt.Sprintf("half of %s %s at %d KiB per VU", gib(avail), source, MemoryPerVU>>10),
		RateBasis: fmt.Sprintf("%d CPU(s) at %d iteration starts per second each", cpus, StartsPerCPUSecond),
	}
}

// MachineCapacity estimates this machine's capacity ([CapacityFor]) from the memory
// available now (Linux: MemAvailable, bounded by the cgroup's memory limit; elsewhere 2 GiB
// is assumed) and the CPUs. It is measured once per process.
func MachineCapacity() Capacity { return machineCapacity() }

var machineCapacity = sync.OnceValue(func() Capacity {
	avail, source := availableMemory()
	return CapacityFor(avail, source, runtime.NumCPU())
})

// availableMemory reads the memory available to this process and says where it came from.
func availableMemory() (uint64, string) {
	avail, ok := memAvailable()
	if !ok {
		return assumedMemory, "memory (assumed: available memory unknown on " + runtime.GOOS + ")"
	}
	source := "available memory"
	// In a container the cgroup's limit may be far below the host's free memory.
	if limit, ok := cgroupMemoryLeft(); ok && limit < avail {
		avail, source = limit, "memory left under the cgroup limit"
	}
	return avail, source
}

// memAvailable reads MemAvailable from /proc/meminfo.
func memAvailable() (uint64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			kib, err := strconv.ParseUint(f[1], 10, 64)
			return kib << 10, err == nil
		}
	}
	return 0, false
}

// cgroupMemoryLeft is memory.max minus memory.current of the process's cgroup (v2), when a
// limit is set.
func cgroupMemoryLeft() (uint64, bool) {
	read := func(name string) (uint64, bool) {
		b, err := os.ReadFile("/sys/fs/cgroup/" + name)
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return v, err == nil
	}
	limit, ok := read("memory.max") // "max" when unlimited: not a number
	if !ok {
		return 0, false
	}
	used, _ := read("memory.current")
	if used >= limit {
		return 0, true
	}
	return limit - used, true
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
