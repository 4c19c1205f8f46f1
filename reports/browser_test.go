package reports_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/internal/testenv"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/reports/reportstest"
)

var screenshotPath = flag.String("screenshot", "", "also write the report screenshot to this path (e.g. ../docs/report.png)")

// chromium finds the browser; when it is missing the test fails with the command that
// installs it (testenv.Missing).
func chromium(t *testing.T) string {
	t.Helper()
	return testenv.LookPath(t, testenv.Chromium, "chromium", "chromium-browser", "google-chrome")
}

// pageResult is what the browser saw while loading one page.
type pageResult struct {
	requests []string // every URL the page requested, data: URLs excluded
	problems []string // console errors, uncaught exceptions, browser log errors (CSP, failed loads)
	png      []byte
	// lowConfidence are the page's low-confidence flags as rendered.
	lowConfidence []lowConfidenceFlag
}

// recordingServer serves pages on loopback and records every request that reaches it.
type recordingServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newRecordingServer(t *testing.T, pages map[string][]byte) *recordingServer {
	rs := &recordingServer{}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		rs.seen = append(rs.seen, r.URL.Path)
		rs.mu.Unlock()
		page, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	}))
	t.Cleanup(rs.Close)
	return rs
}

func (rs *recordingServer) requests() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.seen...)
}

// lowConfidenceProbe lists, as JSON, every low-confidence flag of the page with its text, its
// rendered size and whether it is shown.
const lowConfidenceProbe = `JSON.stringify([...document.querySelectorAll(".low-confidence")].map(e => {
  const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
  return {text: e.textContent, title: e.title, width: r.width, height: r.height,
    shown: cs.display !== "none" && cs.visibility !== "hidden" && cs.opacity !== "0"};
}))`

// lowConfidenceFlag is one low-confidence flag as the browser rendered it.
type lowConfidenceFlag struct {
	Text, Title   string
	Width, Height float64
	Shown         bool
}

// loadPage opens url in headless Chromium driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe): no port, no extra dependency, and the protocol reports console
// calls, exceptions, CSP violations and every network request precisely.
func loadPage(t *testing.T, bin, url string, width, height int) pageResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	toChrome, chromeIn, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	chromeOut, fromChrome, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--remote-debugging-pipe", "--user-data-dir="+t.TempDir(), "--no-first-run",
		"--no-default-browser-check", "--disable-extensions", "--disable-sync", "--disable-component-update",
		"--hide-scrollbars", "--force-device-scale-factor=1", "about:blank")
	// fd 3 is what Chromium reads commands from, fd 4 where it writes replies and events.
	cmd.ExtraFiles = []*os.File{toChrome, fromChrome}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	_ = toChrome.Close()
	_ = fromChrome.Close()
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = chromeIn.Close()
		_ = cmd.Process.Kill()
		<-done
	})
	go func() {
		_ = cmd.Wait()
		_ = chromeOut.Close()
		close(done)
	}()

	c := &cdpConn{w: chromeIn, r: bufio.NewReader(chromeOut)}
	must := func(session, method string, params any) json.RawMessage {
		t.Helper()
		res, err := c.call(session, method, params)
		if err != nil {
			t.Fatalf("%s: %v\nchromium stderr:\n%s", method, err, stderr.String())
		}
		return res
	}
	var target struct {
		TargetID string `json:"targetId"`
	}
	json.Unmarshal(must("", "Target.createTarget", map[string]any{"url": "about:blank"}), &target)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	json.Unmarshal(must("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}), &attached)
	s := attached.SessionID
	for _, domain := range []string{"Page", "Runtime", "Log", "Network"} {
		must(s, domain+".enable", map[string]any{})
	}
	must(s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false})
	c.events = nil // about:blank's own events are not the page's
	must(s, "Page.navigate", map[string]any{"url": url})
	if err := c.waitEvent("Page.loadEventFired"); err != nil {
		t.Fatalf("wait for load: %v\nchromium stderr:\n%s", err, stderr.String())
	}
	var shot struct {
		Data string `json:"data"`
	}
	json.Unmarshal(must(s, "Page.captureScreenshot", map[string]any{"format": "png"}), &shot)
	// A round trip after the screenshot flushes any event queued before it; it also reads how
	// the page shows its low-confidence flags.
	var flags struct {
		Result struct {
			Value string `json:"value"`
		} `json:"result"`
	}
	json.Unmarshal(must(s, "Runtime.evaluate", map[string]any{"expression": lowConfidenceProbe}), &flags)

	var res pageResult
	if err := json.Unmarshal([]byte(flags.Result.Value), &res.lowConfidence); err != nil {
		t.Fatalf("decode the page's low-confidence flags %q: %v", flags.Result.Value, err)
	}
	res.png, err = base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	for _, ev := range c.events {
		var p struct {
			Type    string                `json:"type"`
			Args    []struct{ Value any } `json:"args"`
			Request struct {
				URL string `json:"url"`
			} `json:"request"`
			Entry struct {
				Level, Text, URL string
			} `json:"entry"`
			ExceptionDetails struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		_ = json.Unmarshal(ev.Params, &p)
		switch ev.Method {
		case "Network.requestWillBeSent":
			if !strings.HasPrefix(p.Request.URL, "data:") {
				res.requests = append(res.requests, p.Request.URL)
			}
		case "Runtime.consoleAPICalled":
			if p.Type == "error" || p.Type == "assert" || p.Type == "warning" {
				res.problems = append(res.problems, fmt.Sprintf("console.%s: %v", p.Type, p.Args))
			}
		case "Runtime.exceptionThrown":
			res.problems = append(res.problems, "exception: "+p.ExceptionDetails.Text+" "+p.ExceptionDetails.Exception.Description)
		case "Log.entryAdded":
			if p.Entry.Level == "error" || p.Entry.Level == "warning" {
				res.problems = append(res.problems, "log "+p.Entry.Level+": "+p.Entry.Text+" "+p.Entry.URL)
			}
		}
	}
	_, _ = c.call("", "Browser.close", map[string]any{})
	return res
}

// cdpConn is a minimal DevTools protocol client: NUL-terminated JSON messages on a pipe.
type cdpConn struct {
	w      io.Writer
	r      *bufio.Reader
	id     int
	events []cdpMsg
}

type cdpMsg struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func (c *cdpConn) read() (cdpMsg, error) {
	b, err := c.r.ReadBytes(0)
	if err != nil {
		return cdpMsg{}, fmt.Errorf("read from chromium: %w", err)
	}
	var m cdpMsg
	if err := json.Unmarshal(b[:len(b)-1], &m); err != nil {
		return cdpMsg{}, fmt.Errorf("decode %q: %w", b, err)
	}
	return m, nil
}

func (c *cdpConn) call(session, method string, params any) (json.RawMessage, error) {
	c.id++
	msg := map[string]any{"id": c.id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := c.w.Write(append(b, 0)); err != nil {
		return nil, fmt.Errorf("write to chromium: %w", err)
	}
	for {
		m, err := c.read()
		if err != nil {
			return nil, err
		}
		if m.ID == c.id {
			if m.Error != nil {
				return nil, errors.New(m.Error.Message)
			}
			return m.Result, nil
		}
		if m.Method != "" {
			c.events = append(c.events, m)
		}
	}
}

func (c *cdpConn) waitEvent(method string) error {
	for _, e := range c.events {
		if e.Method == method {
			return nil
		}
	}
	for {
		m, err := c.read()
		if err != nil {
			return err
		}
		if m.Method != "" {
			c.events = append(c.events, m)
		}
		if m.Method == method {
			return nil
		}
	}
}

// TestBrowserDetectsProblems proves the harness below can fail: a page with a console error,
// an exception and an extra request must be caught.
func TestBrowserDetectsProblems(t *testing.T) {
	bin := chromium(t)
	bad := []byte(`<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>
<img src="/pixel.png"><script>console.error("boom"); undefinedFunction();</script></body></html>`)
	srv := newRecordingServer(t, map[string][]byte{"/bad.html": bad})
	res := loadPage(t, bin, srv.URL+"/bad.html", 400, 300)
	if got := srv.requests(); len(got) < 2 {
		t.Errorf("server saw %v, want the page and /pixel.png", got)
	}
	if len(res.requests) < 2 {
		t.Errorf("browser reported requests %v, want the page and /pixel.png", res.requests)
	}
	var sawConsole, sawException bool
	for _, p := range res.problems {
		sawConsole = sawConsole || strings.Contains(p, "boom")
		sawException = sawException || strings.Contains(p, "undefinedFunction")
	}
	if !sawConsole || !sawException {
		t.Errorf("problems %q: want the console error and the exception", res.problems)
	}
}

// TestReportInBrowser opens the realistic report in headless Chromium: the page must load
// with no console error and request nothing but itself.
func TestReportInBrowser(t *testing.T) {
	bin := chromium(t)
	var page bytes.Buffer
	if err := reports.WriteHTML(&page, reportstest.Launch(time.Second)); err != nil {
		t.Fatal(err)
	}
	srv := newRecordingServer(t, map[string][]byte{"/report.html": page.Bytes()})
	res := loadPage(t, bin, srv.URL+"/report.html", 1280, 2400)

	if got := srv.requests(); len(got) != 1 || got[0] != "/report.html" {
		t.Errorf("server saw requests %v, want only /report.html", got)
	}
	if len(res.requests) != 1 {
		t.Errorf("browser made requests %v, want only the page itself", res.requests)
	}
	if len(res.problems) > 0 {
		t.Errorf("browser reported problems:\n%s", strings.Join(res.problems, "\n"))
	}
	img, err := png.Decode(bytes.NewReader(res.png))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2400 {
		t.Errorf("screenshot is %dx%d, want 1280x2400", b.Dx(), b.Dy())
	}
	// The fixture's one low-confidence objective is flagged, visibly, with why on hover.
	if len(res.lowConfidence) != 1 {
		t.Fatalf("low-confidence flags %+v, want exactly one", res.lowConfidence)
	}
	if f := res.lowConfidence[0]; !f.Shown || f.Width < 20 || f.Height < 8 || f.Text != "low confidence" || !strings.Contains(f.Title, "would need about 31m0s to decide") {
		t.Errorf("low-confidence flag %+v is not shown as it should be", f)
	}
	out := *screenshotPath
	if out == "" {
		out = t.TempDir() + "/report.png"
	}
	if err := os.WriteFile(out, res.png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)
}
