package cluster_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/cluster"
	"github.com/dailydoco/ddp-verify/platform/dashboard"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
)

// scrapeRole scrapes the processes of role (every role when empty) in pool (every pool when
// empty) and merges their metrics.
func scrapeRole(t *testing.T, c *cluster.Cluster, role, pool string) platformtest.Metrics {
	t.Helper()
	var addrs []string
	for _, tg := range c.Targets() {
		if (role == "" || tg.Role == role) && (pool == "" || tg.Pool == pool) {
			addrs = append(addrs, tg.Addr)
		}
	}
	m, err := platformtest.ScrapeAll(addrs...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestJourney runs the whole user journey through the gateway and checks the metrics each step
// left in the process that served it.
func TestJourney(t *testing.T) {
	t.Parallel()
	c := platformtest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := &platformtest.Client{BaseURL: c.GatewayURL(), IP: "198.51.100.10"}

	// Register, login, current user.
	if err := cl.Signup(ctx, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	var me struct{ Email string }
	if err := cl.Do(ctx, http.MethodGet, "/api/v1/me", nil, &me); err != nil || me.Email != "ada@example.com" {
		t.Fatalf("me: %+v %v", me, err)
	}
	// Dashboard load: page, assets, first API calls.
	for _, path := range append([]string{"/"}, dashboard.Assets...) {
		resp, err := cl.Raw(ctx, http.MethodGet, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(b) == 0 {
			t.Fatalf("dashboard %s: %s", path, resp.Status)
		}
		if path == "/" {
			for _, a := range dashboard.Assets {
				if !strings.Contains(string(b), a) {
					t.Errorf("the page does not load %s", a)
				}
			}
		}
	}
	for _, path := range dashboard.FirstAPICalls {
		if err := cl.Do(ctx, http.MethodGet, path, nil, nil); err != nil {
			t.Fatalf("dashboard API call %s: %v", path, err)
		}
	}

	// Capture upload in 3 chunks, finish, poll until ready.
	v, err := cl.Upload(ctx, "1080p", 20, 3, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != "queued" && v.Status != "processing" {
		t.Errorf("status after finish = %q", v.Status)
	}
	v, err = cl.WaitReady(ctx, v.ID, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if v.GPUNode == "" || v.AINode == "" || v.ThumbnailURL == "" {
		t.Errorf("ready video lacks its processing record: %+v", v)
	}

	// AI results, export, download.
	var ai struct {
		Summary           string  `json:"summary"`
		AuthenticityScore float64 `json:"authenticity_score"`
	}
	if err := cl.Do(ctx, http.MethodGet, "/api/v1/videos/"+v.ID+"/ai", nil, &ai); err != nil || ai.Summary == "" || ai.AuthenticityScore < 0.8 || ai.AuthenticityScore > 1 {
		t.Fatalf("ai results: %+v %v", ai, err)
	}
	var ex platformtest.Export
	if err := cl.Do(ctx, http.MethodPost, "/api/v1/videos/"+v.ID+"/exports", map[string]string{"format": "mp4"}, &ex); err != nil {
		t.Fatal(err)
	}
	for ex.Status != "ready" {
		time.Sleep(20 * time.Millisecond) // polling interval; ctx is the deadline
		if err := cl.Do(ctx, http.MethodGet, "/api/v1/exports/"+ex.ID, nil, &ex); err != nil {
			t.Fatal(err)
		}
	}
	anon := &platformtest.Client{BaseURL: c.GatewayURL(), IP: "198.51.100.10"} // a signed URL needs no token
	resp, err := anon.Raw(ctx, http.MethodGet, ex.DownloadURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/mp4" || n != 64<<10 {
		t.Fatalf("download: %s %s %d bytes", resp.Status, resp.Header.Get("Content-Type"), n)
	}
	if err := anon.Do(ctx, http.MethodGet, ex.DownloadURL+"0", nil, nil); err == nil || !strings.Contains(err.Error(), "invalid_signature") {
		t.Errorf("tampered download URL: %v", err)
	}

	// The metrics each step produced.
	gw := scrapeRole(t, c, cluster.RoleGateway, "")
	apiNodes := scrapeRole(t, c, cluster.RoleNode, "general")
	for _, step := range []struct{ method, route, status string }{
		{"POST", "/api/v1/users", "201"},
		{"POST", "/api/v1/sessions", "200"},
		{"GET", "/api/v1/me", "200"},
		{"POST", "/api/v1/captures", "201"},
		{"PUT", "/api/v1/captures/{id}/chunks/{index}", "200"},
		{"POST", "/api/v1/captures/{id}/finish", "202"},
		{"GET", "/api/v1/videos/{id}", "200"},
		{"GET", "/api/v1/videos/{id}/ai", "200"},
		{"POST", "/api/v1/videos/{id}/exports", "202"},
		{"GET", "/api/v1/exports/{id}", "200"},
		{"GET", "/api/v1/exports/{id}/download", "200"},
		{"GET", "/api/v1/exports/{id}/download", "403"},
	} {
		labels := map[string]string{"http_route": step.route, "http_request_method": step.method, "http_response_status_code": step.status}
		if n := apiNodes.Sum("http_server_request_duration_seconds", with(labels, "service", "api")); n < 1 {
			t.Errorf("api replicas recorded no %s %s -> %s", step.method, step.route, step.status)
		}
		if n := gw.Sum("dailydoco_gateway_request_duration_seconds", with(labels, "service", "api")); n < 1 {
			t.Errorf("gateway recorded no %s %s -> %s", step.method, step.route, step.status)
		}
	}
	for _, route := range []string{"/", "/static/{file}"} {
		if n := apiNodes.Sum("http_server_request_duration_seconds", map[string]string{"service": "dashboard", "http_route": route}); n < 1 {
			t.Errorf("dashboard replicas recorded no %s", route)
		}
	}
	if b := apiNodes.Buckets("http_server_request_duration_seconds"); !slices.Contains(b, 0.1) || !slices.Contains(b, 0.09) || !slices.Contains(b, 0.11) {
		t.Errorf("latency buckets %v lack 0.1 and its neighbours", b)
	}
	if n := apiNodes.Sum("http_server_request_duration_seconds", map[string]string{"http_route": "/ready"}); n != 0 {
		t.Errorf("probes are counted as requests (%v)", n)
	}

	dt := scrapeRole(t, c, cluster.RoleDataTier, "")
	if n := dt.Sum("dailydoco_videos_accepted_total", nil); n != 1 {
		t.Errorf("accepted = %v, want 1", n)
	}
	if n := dt.Sum("dailydoco_videos_processed_total", map[string]string{"result": "success", "resolution": "1080p"}); n != 1 {
		t.Errorf("processed = %v, want 1", n)
	}
	if n := dt.Sum("dailydoco_video_processing_realtime_ratio", map[string]string{"resolution": "1080p"}); n != 1 {
		t.Errorf("realtime ratio observations = %v, want 1", n)
	}
	if b := dt.Buckets("dailydoco_video_processing_realtime_ratio"); !slices.Contains(b, 2) {
		t.Errorf("ratio buckets %v lack 2", b)
	}
	if q := dt.Sum("dailydoco_queue_depth", nil); q != 0 {
		t.Errorf("queue depth %v with every video processed", q)
	}
	if _, ok := dt["http_server_request_duration_seconds"]; ok {
		t.Error("the data tier records user-request metrics: sums over them would count requests twice")
	}
	if _, ok := gw["http_server_request_duration_seconds"]; ok {
		t.Error("the gateway records http_server_request_duration_seconds: sums over them would count requests twice")
	}

	gpu := scrapeRole(t, c, cluster.RoleNode, "gpu")
	if n := gpu.Sum("dailydoco_worker_jobs_total", map[string]string{"node": v.GPUNode, "stage": "gpu", "result": "completed"}); n != 1 {
		t.Errorf("GPU node %s completed %v jobs, want 1", v.GPUNode, n)
	}
	if n := gpu.Sum("dailydoco_gpu_slots", map[string]string{"state": "free"}); n != 8 {
		t.Errorf("free GPU slots on the idle pool = %v, want 8 (2 T4s in quarters)", n)
	}
	if n := gpu.Sum("dailydoco_gpu_slots", map[string]string{"node": v.GPUNode, "zone": "us-east-1" + v.GPUNode[len("gpu-1"):len("gpu-1a")], "pool": "gpu"}); n != 4 {
		t.Errorf("slots of %s with its zone and pool labels = %v, want 4", v.GPUNode, n)
	}
	mem := scrapeRole(t, c, cluster.RoleNode, "memory")
	if n := mem.Sum("dailydoco_worker_jobs_total", map[string]string{"node": v.AINode, "stage": "ai", "result": "completed"}); n != 1 {
		t.Errorf("memory node %s completed %v AI jobs, want 1", v.AINode, n)
	}

	sup := scrapeRole(t, c, "supervisor", "")
	if n := len(sup["node_total_hourly_cost"].GetMetric()); n != 7 {
		t.Errorf("%d nodes priced, want 7", n)
	}
	if got := sup.Sum("node_total_hourly_cost", nil); got < 3.2119 || got > 3.2121 {
		t.Errorf("cluster nodes cost $%.4f/h, want 3 x 0.384 + 2 x 0.526 + 2 x 0.504 = 3.212", got)
	}
	if got := sup.Sum("node_gpu_count", nil); got != 2 {
		t.Errorf("GPUs = %v", got)
	}
	if got := sup.Sum("dailydoco_fixed_hourly_cost", nil); got < 10.68 || got > 10.69 {
		t.Errorf("fixed costs $%.3f/h, want 7800/730", got)
	}

	// file_sd lists every process's metrics endpoint.
	b, err := os.ReadFile(c.FileSDPath())
	if err != nil {
		t.Fatal(err)
	}
	var groups []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(b, &groups); err != nil {
		t.Fatal(err)
	}
	if len(groups) != len(c.Targets()) || len(groups) != 3+7 {
		t.Errorf("file_sd has %d targets, want 10", len(groups))
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}
