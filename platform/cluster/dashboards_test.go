package cluster_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/dashboards"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
)

// Every query of every panel of the plan's dashboards selects series a running reference
// platform exports, once a user has signed up, logged in, made a video, exported it and
// opened the dashboard: no panel ships over a metric or a label nobody sets.
func TestDashboardQueriesSelectExportedSeries(t *testing.T) {
	t.Parallel()
	c := platformtest.Start(t, nil)
	cl := signup(t, c, "198.51.100.41")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := cl.Upload(ctx, "1080p", 20, 1, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.WaitReady(ctx, v.ID, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := cl.Do(ctx, http.MethodPost, "/api/v1/videos/"+v.ID+"/exports", map[string]string{"format": "mp4"}, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := cl.Raw(ctx, http.MethodGet, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	scraped := scrapeRole(t, c, "", "") // every process
	for _, d := range dashboards.All() {
		for _, p := range d.Panels {
			for _, q := range p.Targets {
				missing, err := scraped.Unselected(q.Expr)
				if err != nil {
					t.Fatalf("%s / %s: %v", d.Title, p.Title, err)
				}
				for _, sel := range missing {
					t.Errorf("%s / %s: no exported series matches %s with the labels it groups by", d.Title, p.Title, sel)
				}
			}
		}
	}
}
