package kubeclustertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dailydoco/ddp-verify/platform/pod"
)

// PodPort is where [ServePod] serves.
const PodPort = 8080

// IsPod reports whether this process was started by a node agent of the local cluster as a
// pod's program (image ddp-verify runs the test binary with DDP_LOCAL_POD=1): a TestMain calls
// [ServePod] then instead of the tests.
func IsPod() bool { return os.Getenv("DDP_LOCAL_POD") == "1" }

// ServePod is the tests' pod program: a server on the pod's IP (POD_IP) and [PodPort] whose
// readiness and liveness a test can turn off (POST /unready, POST /die), with /health (answers
// the pod's name, as every other path does), /ready, /pid, /env/NAME (the variable's value;
// 404 when unset), /fetch/NAME (a GET of the URL in variable NAME, its answer passed on) and
// /metrics (test_pod_info{pid}, 1), and POST /burn?share=S, which makes the pod use S of a CPU
// core from then on (busy S of every 100 ms). It returns the exit code once SIGTERM arrives.
func ServePod() int {
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
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE test_pod_info gauge\ntest_pod_info{pid=\"%d\"} 1\n", os.Getpid())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, os.Getenv("POD_NAME")) })
	mux.HandleFunc("GET /env/{name}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := os.LookupEnv(r.PathValue("name"))
		if !ok {
			w.WriteHeader(http.StatusNotFound)
		}
		fmt.Fprint(w, v)
	})
	mux.HandleFunc("GET /fetch/{name}", func(w http.ResponseWriter, r *http.Request) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(os.Getenv(r.PathValue("name")))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
	mux.HandleFunc("POST /unready", func(http.ResponseWriter, *http.Request) { unready.Store(true) })
	mux.HandleFunc("POST /die", func(http.ResponseWriter, *http.Request) { dead.Store(true) })
	mux.HandleFunc("POST /burn", func(w http.ResponseWriter, r *http.Request) {
		share, err := strconv.ParseFloat(r.FormValue("share"), 64)
		if err != nil || share <= 0 || share > 1 {
			http.Error(w, "share: a fraction of a core in (0, 1]", http.StatusBadRequest)
			return
		}
		go burn(share)
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("POD_IP"), strconv.Itoa(PodPort)))
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

// burn uses share of a CPU core until the process ends: busy share of every 100 ms.
func burn(share float64) {
	period := 100 * time.Millisecond
	busy := time.Duration(share * float64(period))
	for x := 0; ; x++ {
		start := time.Now()
		for time.Since(start) < busy {
			x++
		}
		time.Sleep(period - busy)
	}
}

// PlatformPod runs the platform service that a pod's arguments name ("platform pod SERVICE",
// as the Helm chart's pods on the local cluster run the ddp-verify binary) until SIGTERM, and
// returns the exit code; ok is false when the arguments name no platform service, and the
// caller serves [ServePod] or its own program instead.
func PlatformPod(args []string) (code int, ok bool) {
	if len(args) != 3 || args[0] != "platform" || args[1] != "pod" {
		return 0, false
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := pod.Run(ctx, args[2], os.Getenv, log, func() {}); err != nil {
		fmt.Fprintln(os.Stderr, "platform pod "+args[2]+": "+err.Error())
		return 1, true
	}
	return 0, true
}
