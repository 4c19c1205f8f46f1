package http1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"

	"github.com/dailydoco/ddp-verify/http1/http1test"
)

// benchBatch is the number of requests in one benchmark op, so that a 1x run (make bench)
// measures a thousand exchanges on a warm connection rather than one.
const benchBatch = 1000

// BenchmarkRoundTrip sends GETs on one keep-alive connection to a loopback server that
// answers from a fixed buffer (it allocates nothing per request, so the allocations counted
// are the client's), through a Transport and through net/http's transport, and reads each
// body to its end. Each op is a batch of benchBatch requests; the figures per request are
// req/s (client and server share the machine's CPUs), ns/req, allocs/req and B/req.
func BenchmarkRoundTrip(b *testing.B) {
	response := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
	srv := http1test.NewRawServer(b, func(c net.Conn, br *bufio.Reader) {
		for {
			for { // the request head, up to its empty line; GETs carry no body
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
			}
			if _, err := c.Write(response); err != nil {
				return
			}
		}
	})
	transports := []struct {
		name string
		rt   http.RoundTripper
	}{{"http1", &Transport{}}, {"nethttp", &http.Transport{}}}
	for _, tc := range transports {
		b.Run(tc.name, func(b *testing.B) {
			defer tc.rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
			if err != nil {
				b.Fatal(err)
			}
			get := func() {
				resp, err := tc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, err = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d, body: %v", resp.StatusCode, err)
				}
			}
			get() // dial before the measurement
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				for range benchBatch {
					get()
				}
			}
			runtime.ReadMemStats(&after)
			n := float64(b.N * benchBatch)
			b.ReportMetric(n/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/req")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/req")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/req")
		})
	}
}
