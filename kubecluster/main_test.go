package kubecluster_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
)

// podPort is where the test's pod program serves.
const podPort = 8080

// TestMain makes this test binary the program of the test's pods (image ddp-verify runs this
// binary, with DDP_LOCAL_POD=1 and POD_IP in its environment): a server on the pod's IP whose readiness and
// liveness a test can turn off.
func TestMain(m *testing.M) {
	if os.Getenv("DDP_LOCAL_POD") == "1" {
		if len(os.Args) == 3 && os.Args[1] == "exit" {
			os.Exit(jobPod(os.Args[2]))
		}
		os.Exit(servePod(os.Getenv("POD_IP")))
	}
	os.Exit(m.Run())
}

func servePod(ip string) int {
	var unready, dead atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		if dead.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
		fmt.Fprintln(w, os.Getenv("POD_NAME"))
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		if unready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/pid", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, os.Getpid()) })
	mux.HandleFunc("POST /unready", func(http.ResponseWriter, *http.Request) { unready.Store(true) })
	mux.HandleFunc("POST /die", func(http.ResponseWriter, *http.Request) { dead.Store(true) })
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(podPort)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() { _ = http.Serve(ln, mux) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	return 0
}

// jobPod is the program of the test's Job pods (args "exit CODE"): it exits with CODE, or 7
// when the Job controller's completion index did not reach its environment.
func jobPod(code string) int {
	if _, err := strconv.Atoi(os.Getenv("JOB_COMPLETION_INDEX")); err != nil {
		fmt.Fprintln(os.Stderr, "no JOB_COMPLETION_INDEX")
		return 7
	}
	n, _ := strconv.Atoi(code)
	return n
}
