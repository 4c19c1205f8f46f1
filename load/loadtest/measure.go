package loadtest

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// CPUSeconds is the user and system CPU time of a rusage.
func CPUSeconds(ru *syscall.Rusage) float64 {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// SelfCPU is this process's CPU time so far, in seconds: benchmarks take its delta.
func SelfCPU(tb testing.TB) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return CPUSeconds(&ru)
}

// RSSKiB is this process's resident memory (VmRSS) in KiB; it skips the benchmark where
// /proc/self/status does not exist.
func RSSKiB(tb testing.TB) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return n
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}

// PeakRSS samples this process's RSS every 100 ms from now until the returned function is
// called, which returns the highest reading in KiB.
func PeakRSS(tb testing.TB) (stop func() float64) {
	peak := RSSKiB(tb)
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				peak = max(peak, RSSKiB(tb))
			}
		}
	}()
	return func() float64 {
		close(done)
		<-sampled
		return peak
	}
}

// ReportPerVU reports the memory a run of vus VUs took, (peak - before) KiB per VU, as the
// benchmark's KiB/VU metric, and logs it against target with the run's requests.
func ReportPerVU(b *testing.B, before, peak float64, vus int, reqs, failed uint64, target string) {
	perVU := (peak - before) / float64(vus)
	b.ReportMetric(perVU, "KiB/VU")
	b.Logf("RSS before %.0f KiB, peak %.0f KiB: %.1f KiB per VU (%s); %d requests, %d failed", before, peak, perVU, target, reqs, failed)
}

// Wrk runs wrk (at path) against url with conns connections for d and returns how many
// requests it sent and the CPU-seconds it used: the reference the engine's requests per
// CPU-second are compared with.
func Wrk(b *testing.B, path, url string, conns int, d time.Duration) (requests, cpuSeconds float64) {
	cmd := exec.Command(path, "-t2", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(int(d.Seconds()))+"s", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(\d+) requests in`).FindSubmatch(out)
	if m == nil {
		b.Fatalf("wrk output without a request count:\n%s", out)
	}
	requests, _ = strconv.ParseFloat(string(m[1]), 64)
	return requests, CPUSeconds(cmd.ProcessState.SysUsage().(*syscall.Rusage))
}
