package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
)

// TestMain lets this test binary stand in for ddp-verify: `platform up` re-executes its own
// binary as `<exe> platform <role>`, and under test that binary is this one.
func TestMain(m *testing.M) {
	if os.Getenv(envActAsCLI) == "1" {
		// A test runs this binary as the ddp-verify command itself (see runCLI).
		os.Exit(cli(os.Args[1:]))
	}
	if len(os.Args) > 2 && os.Args[1] == "platform" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		root := newRootCmd(os.Stdout, os.Stderr)
		root.SetArgs(os.Args[1:])
		err := root.ExecuteContext(ctx)
		stop()
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(exitcode.Infra)
		}
		os.Exit(exitcode.Go)
	}
	platformtest.Main(m)
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPlatformUpServesAndStopsOnInterrupt(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	root := newRootCmd(&out, &errOut)
	root.SetArgs([]string{"platform", "up", "--dir", dir})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "nodes:") {
		select {
		case err := <-done:
			t.Fatalf("platform up ended early: %v\n%s", err, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("platform up printed no endpoints:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond) // polling interval, with the deadline above
	}
	gatewayURL := regexp.MustCompile(`gateway: +(\S+)`).FindStringSubmatch(out.String())[1]
	resp, err := http.Get(gatewayURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("dashboard through the gateway: %s", resp.Status)
	}
	targets := regexp.MustCompile(`http://\S+/metrics`).FindAllString(out.String(), -1)
	if len(targets) != 10 {
		t.Errorf("%d metrics targets printed, want 10 (gateway, data tier, supervisor, 7 nodes):\n%s", len(targets), out.String())
	}
	for _, target := range targets {
		resp, err := http.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", target, resp.Status)
		}
	}

	cancel() // Ctrl-C
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("platform up after interrupt: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("platform up did not stop")
	}
	if _, err := http.Get(gatewayURL + "/"); err == nil {
		t.Error("the gateway still answers after stop")
	}
	// Every process logged and exited: no log grows after the stop.
	logs, _ := os.ReadDir(dir + "/logs")
	if len(logs) != 9 {
		t.Errorf("%d process logs, want 9", len(logs))
	}
}

func TestPlatformUpBadTopologyIsBadInput(t *testing.T) {
	f := t.TempDir() + "/topo.yaml"
	os.WriteFile(f, []byte("name: x\nzones: [us-east-1a]\npools:\n  - {name: general, instance_type: m5.2xlarge, nodes: 1, colour: red}\n"), 0o644)
	_, errOut, code := execute(t, "platform", "up", "--topology", f)
	if code != exitcode.BadInput || !strings.Contains(errOut, "topo.yaml:4: pools[0].colour: unknown field") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// The hidden process command speaks the supervisor's protocol on stdin and stdout.
func TestPlatformProcessCommandRejectsBadSpec(t *testing.T) {
	var out bytes.Buffer
	root := newRootCmd(&out, io.Discard)
	root.SetIn(strings.NewReader("{not json}\n"))
	root.SetArgs([]string{"platform", "datatier"})
	err := root.Execute()
	if exitcode.Of(err) != exitcode.Infra || !strings.Contains(err.Error(), "decode data tier spec") {
		t.Errorf("err = %v", err)
	}
	if sc := bufio.NewScanner(&out); sc.Scan() {
		t.Errorf("printed %q before failing", sc.Text())
	}
}

// `platform pod` refuses an unknown service as bad input, and a pod started without its
// environment ends as an infrastructure failure naming what is missing.
func TestPlatformPodRefuses(t *testing.T) {
	out, code := executeCombined(t, "platform", "pod", "gateway")
	if code != exitcode.BadInput || !strings.Contains(out, `unknown service "gateway"`) {
		t.Errorf("platform pod gateway: exit %d, %q", code, out)
	}
	t.Setenv("POD_IP", "")
	t.Setenv("DDP_DATATIER_TOKEN", "")
	out, code = executeCombined(t, "platform", "pod", "datatier")
	if code != exitcode.Infra || !strings.Contains(out, "$POD_IP is not set") || !strings.Contains(out, "$DDP_DATATIER_TOKEN is not set") {
		t.Errorf("platform pod datatier without its environment: exit %d, %q", code, out)
	}
}
