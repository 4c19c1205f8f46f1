// Package dashboards builds the deployment plan's five Grafana dashboards (section 7.1: system
// overview, application performance, video processing pipeline, user activity, cost tracking)
// as Grafana dashboard JSON, from code. Every panel queries Prometheus with the names the
// reference platform exports (which are also node_exporter's, kube-state-metrics' and
// OpenCost's), so the same dashboards work against a real cluster.
package dashboards

import "strings"

// Dashboard is the subset of Grafana's dashboard JSON model the plan's dashboards use.
type Dashboard struct {
	UID           string   `json:"uid"`
	Title         string   `json:"title"`
	Tags          []string `json:"tags"`
	Refresh       string   `json:"refresh"`
	SchemaVersion int      `json:"schemaVersion"`
	Time          Range    `json:"time"`
	Panels        []Panel  `json:"panels"`
}

// Range is a dashboard's default time range.
type Range struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Panel is one time series or stat panel.
type Panel struct {
	ID          int         `json:"id"`
	Title       string      `json:"title"`
	Type        string      `json:"type"`
	Datasource  Datasource  `json:"datasource"`
	GridPos     GridPos     `json:"gridPos"`
	FieldConfig FieldConfig `json:"fieldConfig"`
	Targets     []Target    `json:"targets"`
}

// Datasource names the Prometheus data source by its type; Grafana picks the default one.
type Datasource struct {
	Type string `json:"type"`
}

// GridPos places a panel on Grafana's 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// FieldConfig carries the panel's unit.
type FieldConfig struct {
	Defaults struct {
		Unit string `json:"unit"`
	} `json:"defaults"`
}

// Target is one PromQL query of a panel.
type Target struct {
	RefID        string `json:"refId"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat,omitempty"`
}

// query is a panel's query with its legend.
type query struct{ expr, legend string }

// panelSpec is what a dashboard declares per panel; layout is derived.
type panelSpec struct {
	title, kind, unit string
	queries           []query
}

// build lays the panels out two to a row (stats four to a row) and numbers them.
func build(uid, title string, specs []panelSpec) Dashboard {
	d := Dashboard{UID: uid, Title: title, Tags: []string{"dailydoco"}, Refresh: "30s", SchemaVersion: 39,
		Time: Range{From: "now-6h", To: "now"}}
	x, y, rowH := 0, 0, 0
	for i, s := range specs {
		w, h := 12, 8
		if s.kind == "stat" {
			w, h = 6, 4
		}
		if x+w > 24 {
			x, y, rowH = 0, y+rowH, 0
		}
		p := Panel{ID: i + 1, Title: s.title, Type: s.kind, Datasource: Datasource{Type: "prometheus"},
			GridPos: GridPos{H: h, W: w, X: x, Y: y}}
		p.FieldConfig.Defaults.Unit = s.unit
		for j, q := range s.queries {
			p.Targets = append(p.Targets, Target{RefID: string(rune('A' + j)), Expr: q.expr, LegendFormat: q.legend})
		}
		d.Panels = append(d.Panels, p)
		x, rowH = x+w, max(rowH, h)
	}
	return d
}

// All returns the plan's five dashboards.
func All() []Dashboard {
	return []Dashboard{systemOverview(), applicationPerformance(), videoPipeline(), userActivity(), costTracking()}
}

// Verification is the dashboard to watch a verification run on, beside the plan's five: the
// load generator's own view (users, requests, latency and errors as the users saw them,
// dropped arrivals), each fault's recovery time and the alerts firing. Its queries read the
// series ddp-verify's generator exports (ddp_vus, ddp_client_*, ddp_fault_recovery_seconds),
// which a run's Prometheus scrapes or receives by remote write, and Prometheus's ALERTS.
func Verification() Dashboard {
	return build("dailydoco-verification", "DailyDoco: verification run", []panelSpec{
		{"Virtual users", "stat", "none", []query{{`sum(ddp_vus)`, ""}}},
		{"Requests per second (client)", "stat", "reqps", []query{{`sum(rate(ddp_client_requests_total[1m]))`, ""}}},
		{"Client error rate", "stat", "percentunit", []query{{`(sum(rate(ddp_client_request_errors_total[1m])) or vector(0)) / sum(rate(ddp_client_requests_total[1m]))`, ""}}},
		{"Alerts firing", "stat", "none", []query{{`count(ALERTS{alertstate="firing"}) or vector(0)`, ""}}},
		{"Client p95 latency by scenario", "timeseries", "s", []query{{`histogram_quantile(0.95, sum by (le, scenario) (rate(ddp_client_request_duration_seconds_bucket[1m])))`, "{{scenario}}"}}},
		{"Requests per second by scenario", "timeseries", "reqps", []query{{`sum by (scenario) (rate(ddp_client_requests_total[1m]))`, "{{scenario}}"}}},
		{"Iterations completed and dropped per second", "timeseries", "ops", []query{
			{`sum by (scenario) (rate(ddp_iterations_total[1m]))`, "{{scenario}} completed"},
			{`sum by (scenario) (rate(ddp_iterations_dropped_total[1m]))`, "{{scenario}} dropped"}}},
		{"Fault recovery time against its objective", "timeseries", "s", []query{
			{`ddp_fault_recovery_seconds`, "{{fault}}"}, {`ddp_fault_recovery_objective_seconds`, "{{fault}} objective"}}},
		{"Alerts firing by name and severity", "timeseries", "none", []query{{`sum by (alertname, severity) (ALERTS{alertstate="firing"})`, "{{alertname}} ({{severity}})"}}},
	})
}

// apiRequests are the API's and dashboard's user requests (probes and metrics excluded).
const apiRequests = `http_server_request_duration_seconds_count{http_route!~"/(healthz?|readyz?|livez|metrics)"}`

func systemOverview() Dashboard {
	return build("dailydoco-system", "DailyDoco: system overview", []panelSpec{
		{"Nodes Ready", "stat", "none", []query{{`sum(kube_node_status_condition{condition="Ready",status="true"})`, ""}}},
		{"Nodes not Ready", "stat", "none", []query{{`sum(kube_node_status_condition{condition="Ready",status="false"})`, ""}}},
		{"Requests per second", "stat", "reqps", []query{{`sum(rate(` + apiRequests + `[5m]))`, ""}}},
		{"Availability (5m)", "stat", "percentunit", []query{{`1 - ((sum(rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m])) or vector(0)) / sum(rate(` + apiRequests + `[5m])))`, ""}}},
		{"CPU by node", "timeseries", "percent", []query{{`100 * (1 - avg by (node) (rate(node_cpu_seconds_total{mode="idle"}[5m])))`, "{{node}}"}}},
		{"Memory by node", "timeseries", "percent", []query{{`100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)`, "{{node}}"}}},
		{"Disk by node", "timeseries", "percent", []query{{`100 * (1 - node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"})`, "{{node}}"}}},
		{"Replicas by service", "timeseries", "none", []query{{`sum by (service) (ddp_platform_replicas)`, "{{service}}"}}},
	})
}

func applicationPerformance() Dashboard {
	return build("dailydoco-application", "DailyDoco: application performance", []panelSpec{
		{"API p95 latency", "timeseries", "s", []query{{`histogram_quantile(0.95, sum by (le) (rate(` + bucket(apiRequests) + `[5m])))`, "p95"}}},
		{"p95 latency by route", "timeseries", "s", []query{{`histogram_quantile(0.95, sum by (le, http_route) (rate(` + bucket(apiRequests) + `[5m])))`, "{{http_route}}"}}},
		{"Requests per second by status", "timeseries", "reqps", []query{{`sum by (http_response_status_code) (rate(` + apiRequests + `[5m]))`, "{{http_response_status_code}}"}}},
		{"Error rate", "timeseries", "percent", []query{{`100 * (sum(rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m])) or vector(0)) / sum(rate(` + apiRequests + `[5m]))`, "5xx %"}}},
		{"Gateway p95 latency by service", "timeseries", "s", []query{{`histogram_quantile(0.95, sum by (le, service) (rate(dailydoco_gateway_request_duration_seconds_bucket[5m])))`, "{{service}}"}}},
		{"Healthy backends by service", "timeseries", "none", []query{{`sum by (service) (dailydoco_gateway_backend_up)`, "{{service}}"}}},
	})
}

// bucket turns a _count selector into its histogram's _bucket selector.
func bucket(countSelector string) string {
	return strings.Replace(countSelector, "_seconds_count", "_seconds_bucket", 1)
}

func videoPipeline() Dashboard {
	return build("dailydoco-pipeline", "DailyDoco: video processing pipeline", []panelSpec{
		{"Videos accepted per hour", "stat", "none", []query{{`sum(rate(dailydoco_videos_accepted_total[15m])) * 3600`, ""}}},
		{"Videos processed per hour", "stat", "none", []query{{`sum(rate(dailydoco_videos_processed_total{result="success"}[15m])) * 3600`, ""}}},
		{"Backlog (queued or processing)", "stat", "none", []query{{`sum(dailydoco_queue_depth)`, ""}}},
		{"Oldest unfinished video", "stat", "s", []query{{`max(dailydoco_queue_oldest_age_seconds)`, ""}}},
		{"Processing time / media length (p50, p95)", "timeseries", "none", []query{
			{`histogram_quantile(0.5, sum by (le) (rate(dailydoco_video_processing_realtime_ratio_bucket[15m])))`, "p50"},
			{`histogram_quantile(0.95, sum by (le) (rate(dailydoco_video_processing_realtime_ratio_bucket[15m])))`, "p95"}}},
		{"Backlog by stage", "timeseries", "none", []query{{`sum by (stage) (dailydoco_queue_depth)`, "{{stage}}"}}},
		{"GPU slots by state", "timeseries", "none", []query{{`sum by (state) (dailydoco_gpu_slots)`, "{{state}}"}}},
		{"Worker jobs by result", "timeseries", "ops", []query{{`sum by (stage, result) (rate(dailydoco_worker_jobs_total[5m]))`, "{{stage}} {{result}}"}}},
	})
}

func userActivity() Dashboard {
	route := func(method, path string) string {
		return `sum(rate(http_server_request_duration_seconds_count{http_request_method="` + method + `",http_route="` + path + `"}[15m])) * 3600`
	}
	return build("dailydoco-users", "DailyDoco: user activity", []panelSpec{
		{"Sign-ups per hour", "timeseries", "none", []query{{route("POST", "/api/v1/users"), "sign-ups"}}},
		{"Logins per hour", "timeseries", "none", []query{{route("POST", "/api/v1/sessions"), "logins"}}},
		{"Captures started and finished per hour", "timeseries", "none", []query{
			{route("POST", "/api/v1/captures"), "started"}, {route("POST", "/api/v1/captures/{id}/finish"), "finished"}}},
		{"Exports per hour", "timeseries", "none", []query{{route("POST", "/api/v1/videos/{id}/exports"), "exports"}}},
		{"Dashboard requests per second", "timeseries", "reqps", []query{{`sum(rate(http_server_request_duration_seconds_count{service="dashboard"}[5m]))`, "dashboard"}}},
	})
}

func costTracking() Dashboard {
	hourly := `(sum(node_total_hourly_cost) + sum(dailydoco_fixed_hourly_cost))`
	return build("dailydoco-cost", "DailyDoco: cost tracking", []panelSpec{
		{"Cost per hour", "stat", "currencyUSD", []query{{hourly, ""}}},
		{"Projected month", "stat", "currencyUSD", []query{{hourly + ` * 730`, ""}}},
		{"Cost per processed video", "stat", "currencyUSD", []query{{hourly + ` / (sum(rate(dailydoco_videos_processed_total{result="success"}[1h])) * 3600)`, ""}}},
		{"Node cost per hour by pool", "timeseries", "currencyUSD", []query{{`sum by (pool) (node_total_hourly_cost)`, "{{pool}}"}}},
		{"Fixed cost per hour by component", "timeseries", "currencyUSD", []query{{`sum by (component) (dailydoco_fixed_hourly_cost)`, "{{component}}"}}},
	})
}
