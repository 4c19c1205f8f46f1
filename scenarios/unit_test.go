package scenarios

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
)

func TestThinkExpectedMatchesSamples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		th   Think
	}{
		{"profile exponential", Think{Distribution: "exponential", Mean: 14 * time.Second, Min: 2 * time.Second, Max: 120 * time.Second}},
		{"tight clamp", Think{Distribution: "exponential", Mean: 5 * time.Second, Min: 1 * time.Second, Max: 6 * time.Second}},
		{"unclamped", Think{Mean: 3 * time.Second}},
		{"uniform", Think{Distribution: "uniform", Min: time.Second, Max: 9 * time.Second}},
		{"constant", Think{Distribution: "constant", Mean: 7 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			const n = 200000
			var sum float64
			for range n {
				d := tc.th.Sample(r)
				if d < tc.th.Min || (tc.th.Max > 0 && d > tc.th.Max) {
					t.Fatalf("sample %v outside [%v, %v]", d, tc.th.Min, tc.th.Max)
				}
				sum += d.Seconds()
			}
			got, want := sum/n, tc.th.Expected().Seconds()
			// The sample mean's standard error is below 0.3% of the mean here; 1% is > 3 sigma.
			if math.Abs(got-want) > 0.01*want {
				t.Errorf("sample mean %.3fs, Expected() %.3fs", got, want)
			}
		})
	}
}

func TestMixDrawFollowsWeights(t *testing.T) {
	t.Parallel()
	m, err := NewMix(map[string]float64{"browse": 3, "capture": 1}, Think{Mean: time.Second}, Target{BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	// names sort to browse, capture: browse owns [0, 0.75), capture [0.75, 1).
	for _, tc := range []struct {
		x    float64
		want string
	}{{0, "browse"}, {0.5, "browse"}, {0.7499, "browse"}, {0.75, "capture"}, {0.99, "capture"}} {
		if got := m.names[m.draw(tc.x)]; got != tc.want {
			t.Errorf("draw(%v) = %s, want %s", tc.x, got, tc.want)
		}
	}
}

func TestNewMixRejects(t *testing.T) {
	t.Parallel()
	_, err := NewMix(map[string]float64{"teleport": 1, "browse": 0}, Think{Distribution: "gamma"}, Target{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"base URL is required", "journeys.teleport: unknown journey", "journeys.browse: weight must be positive", `unknown distribution "gamma"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestFromPlanBuiltins(t *testing.T) {
	t.Parallel()
	for _, name := range profile.Builtin() {
		plan, err := profile.Resolve(name, 1)
		if err != nil {
			t.Fatal(err)
		}
		p := plan.Profile
		scs, err := FromPlan(plan, Target{BaseURL: "http://127.0.0.1:1"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(scs) != len(p.Scenarios) {
			t.Fatalf("%s: %d scenarios, want %d", name, len(scs), len(p.Scenarios))
		}
		for i, sc := range scs {
			if sc.Name != p.Scenarios[i].Name || sc.Executor.Name() != p.Scenarios[i].Executor {
				t.Errorf("%s: scenario %d is %s/%s, want %s/%s", name, i, sc.Name, sc.Executor.Name(), p.Scenarios[i].Name, p.Scenarios[i].Executor)
			}
			if _, ok := sc.Exec.(*Mix); !ok {
				t.Errorf("%s: scenario %d runs %T, want *Mix", name, i, sc.Exec)
			}
		}
		if _, err := load.NewEngine(scs); err != nil {
			t.Errorf("%s: engine rejects the scenarios: %v", name, err)
		}
	}
}

func TestFromPlanLaunchStages(t *testing.T) {
	t.Parallel()
	p, err := profile.Resolve("launch", 1)
	if err != nil {
		t.Fatal(err)
	}
	scs, err := FromPlan(p, Target{BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	rv, ok := scs[0].Executor.(load.RampingVUs)
	if !ok {
		t.Fatalf("executor %T, want load.RampingVUs", scs[0].Executor)
	}
	want := []load.Stage{{Duration: 5 * time.Minute, Target: 100}, {Duration: 10 * time.Minute, Target: 100}, {Duration: 5 * time.Minute, Target: 500}, {Duration: 10 * time.Minute, Target: 500}, {Duration: 5 * time.Minute, Target: 1000}, {Duration: 20 * time.Minute, Target: 1000}, {Duration: 5 * time.Minute, Target: 0}}
	if len(rv.Stages) != len(want) {
		t.Fatalf("stages %v", rv.Stages)
	}
	for i := range want {
		if rv.Stages[i] != want[i] {
			t.Errorf("stage %d = %+v, want %+v", i, rv.Stages[i], want[i])
		}
	}
	if rv.GracefulRampDown != 30*time.Second || scs[0].GracefulStop != 30*time.Second {
		t.Errorf("graceful periods %v/%v, want 30s", rv.GracefulRampDown, scs[0].GracefulStop)
	}
}

func TestFromPlanErrors(t *testing.T) {
	t.Parallel()
	p, err := profile.Parse("x.yaml", []byte(`name: x
scenarios:
  - name: a
    executor: constant-vus
    vus: 1
    duration: 1m
    journeys: {browse: 1}
  - name: b
    executor: constant-vus
    vus: 1
    duration: 1m
    journeys: {moonwalk: 1}
slo: default
`))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan()
	if err != nil {
		t.Fatal(err)
	}
	_, err = FromPlan(plan, Target{BaseURL: "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "scenarios[1] (b): journeys.moonwalk: unknown journey") {
		t.Errorf("error %v, want the unknown journey named with its scenario", err)
	}
}

// The launch profile at its plateau gives about 10k requests per minute (the plan's peak) from
// its 1000 users and its captures together, and offers at least 500 videos per hour (the plan's
// throughput objective) from its captures alone, whether no user or every user already has a
// ready video when it exports.
func TestModelLaunchMixGivesPlanRates(t *testing.T) {
	t.Parallel()
	p, err := profile.Load("launch")
	if err != nil {
		t.Fatal(err)
	}
	users, captures := p.Scenarios[0], p.Scenarios[1]
	plateau := captures.Stages[5]
	if plateau.Name != "captures-hold-1000" {
		t.Fatalf("captures stage 5 is %s, want the plateau", plateau.Name)
	}
	offered, err := RateModel{Weights: captures.Journeys, Think: ThinkFromProfile(captures.ThinkTime), DashboardAssets: 2}.ArrivalRates(plateau.Target)
	if err != nil {
		t.Fatal(err)
	}
	if offered.VideosPerHour < 500 {
		t.Errorf("the captures scenario offers %.0f videos/h, want >= 500", offered.VideosPerHour)
	}
	for _, share := range []float64{0, 0.5, 1} {
		m := RateModel{Weights: users.Journeys, Think: ThinkFromProfile(users.ThinkTime), DashboardAssets: 2, ReadyShare: share}
		r, err := m.Rates(1000)
		if err != nil {
			t.Fatal(err)
		}
		r.RequestsPerMinute += offered.RequestsPerMinute
		r.VideosPerHour += offered.VideosPerHour
		t.Logf("ready share %.1f: %.0f requests/min, %.0f videos/h (%.0f offered by the captures), %.0f journeys/min", share, r.RequestsPerMinute, r.VideosPerHour, offered.VideosPerHour, r.JourneysPerMinute)
		// "About 10k": within 10%, the plan gives one figure and no tolerance.
		if r.RequestsPerMinute < 9000 || r.RequestsPerMinute > 11000 {
			t.Errorf("ready share %.1f: %.0f requests/min, want 10k +- 10%%", share, r.RequestsPerMinute)
		}
		if r.VideosPerHour < 500 {
			t.Errorf("ready share %.1f: %.0f videos/h, want >= 500", share, r.VideosPerHour)
		}
	}
}

// The model's arithmetic on a case worked by hand: browse only, constant 10 s think, two
// assets: 7 requests per 30 s, so 14 requests/min per user.
func TestModelByHand(t *testing.T) {
	t.Parallel()
	m := RateModel{Weights: map[string]float64{"browse": 1}, Think: Think{Distribution: "constant", Mean: 10 * time.Second}, DashboardAssets: 2}
	r, err := m.Rates(10)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.RequestsPerMinute-140) > 1e-9 || r.VideosPerHour != 0 || math.Abs(r.JourneysPerMinute-20) > 1e-9 {
		t.Errorf("rates %+v, want 140 requests/min, 0 videos/h, 20 journeys/min", r)
	}
	// A capture of a fixed 60 s 1080p clip uploaded live: 3.5 Mbit/s x 60 s = 26.25 MB in
	// 26 chunks of 1 MiB, plus start and finish; 60 s of recording and one 10 s think.
	m = RateModel{Weights: map[string]float64{"capture": 1}, Think: Think{Distribution: "constant", Mean: 10 * time.Second},
		Media: MediaMix{{Name: "c", Resolution: "1080p", MinSeconds: 60, MaxSeconds: 60, Share: 1}}}
	c := m.Costs()[JourneyCapture]
	if math.Abs(c.Requests-28) > 1e-6 || math.Abs(c.Seconds-70) > 1e-6 || c.Videos != 1 {
		t.Errorf("capture cost %+v, want 28 requests, 70 s, 1 video", c)
	}
}
