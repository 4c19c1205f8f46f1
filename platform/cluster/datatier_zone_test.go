package cluster_test

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/cluster"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
)

// With data_tier.zone set, the data tier runs in that zone: a power loss of the zone takes it
// down with the zone's nodes, and restoring the zone brings it back first, on the same database,
// so a video accepted before the outage is still processed.
func TestDataTierPlacedInAZone(t *testing.T) {
	t.Parallel()
	topo := platformtest.Topology()
	topo.DataTier.Zone = "us-east-1a"
	c := platformtest.Start(t, topo)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	user := &platformtest.Client{BaseURL: c.GatewayURL(), HTTP: &http.Client{Timeout: 10 * time.Second}, IP: "198.18.7.1"}
	if err := user.Signup(ctx, "zone@example.test"); err != nil {
		t.Fatal(err)
	}
	video, err := user.Upload(ctx, "1080p", 60, 2, 4096)
	if err != nil {
		t.Fatal(err)
	}
	dtAddr := strings.TrimPrefix(c.DataTierURL(), "http://")

	var ch cluster.Change
	if err := control(t, c, "POST", "/v1/zones/us-east-1a/power-loss", &ch); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ch.Targets, cluster.RoleDataTier) {
		t.Fatalf("power loss targets %v, want the data tier among them", ch.Targets)
	}
	if conn, err := net.DialTimeout("tcp", dtAddr, time.Second); err == nil {
		conn.Close()
		t.Fatal("the data tier still accepts connections after its zone lost power")
	}

	if err := control(t, c, "POST", "/v1/zones/us-east-1a/restore", &ch); err != nil {
		t.Fatal(err)
	}
	if len(ch.Targets) == 0 || ch.Targets[0] != cluster.RoleDataTier {
		t.Errorf("restore targets %v, want the data tier first", ch.Targets)
	}
	ready, err := user.WaitReady(ctx, video.ID, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("the video accepted before the outage: %v", err)
	}
	if ready.ID != video.ID {
		t.Errorf("got video %s, want %s", ready.ID, video.ID)
	}
}

// The default places the data tier outside the zones (managed, multi-AZ): a zone power loss
// leaves it running.
func TestDataTierOutsideTheZonesByDefault(t *testing.T) {
	t.Parallel()
	c := platformtest.Start(t, platformtest.Topology())
	var ch cluster.Change
	if err := control(t, c, "POST", "/v1/zones/us-east-1a/power-loss", &ch); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(ch.Targets, cluster.RoleDataTier) {
		t.Errorf("power loss targets %v include the managed data tier", ch.Targets)
	}
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(c.DataTierURL(), "http://"), time.Second)
	if err != nil {
		t.Fatalf("the managed data tier went down with a zone: %v", err)
	}
	conn.Close()
}
