package prom

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/route"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/notifications"
	apiv1 "github.com/prometheus/prometheus/web/api/v1"
)

// apiParams are the parts the Prometheus API handler reads from.
type apiParams struct {
	engine     *promql.Engine
	queryable  storage.SampleAndChunkQueryable
	appendable storage.AppendableV2 // nil: read-only
	remoteRW   bool
	targets    apiv1.TargetRetriever
	pools      apiv1.ScrapePoolsRetriever
	admin      apiv1.TSDBAdminStats // nil: the TSDB status endpoints report "unavailable"
	dir        string
	config     *config.Config
	logger     *slog.Logger
	reg        *prometheus.Registry
	listen     string
	rules      apiv1.RulesRetriever // nil: no rules
}

// newAPIHandler builds Prometheus's own /api/v1 handlers (package web/api/v1), so responses,
// errors and warnings are byte-for-byte those of a Prometheus server of the same version.
func newAPIHandler(p apiParams) http.Handler {
	started := time.Now()
	cfg := *p.config
	api := apiv1.NewAPI(
		p.engine,
		p.queryable,
		p.appendable,
		nil, // exemplars are not stored
		func(context.Context) apiv1.ScrapePoolsRetriever { return p.pools },
		func(context.Context) apiv1.TargetRetriever { return p.targets },
		func(context.Context) apiv1.AlertmanagerRetriever { return noAlertmanagers{} },
		func() config.Config { return cfg },
		map[string]string{"storage.tsdb.path": p.dir},
		apiv1.GlobalURLOptions{ListenAddress: p.listen, Host: p.listen, Scheme: "http"},
		func(f http.HandlerFunc) http.HandlerFunc { return f }, // always ready once serving
		p.admin,
		p.dir,
		false, // admin API (delete series, snapshot) stays off
		false, // search API
		0,
		p.logger.With("component", "api"),
		func(context.Context) apiv1.RulesRetriever { return p.rulesOrNone() },
		0, 0, 0, // remote read limits: unlimited
		false, // not an agent
		nil,   // no CORS
		func() (apiv1.RuntimeInfo, error) {
			cwd, _ := os.Getwd()
			return apiv1.RuntimeInfo{StartTime: started, CWD: cwd, ServerTime: time.Now(), ReloadConfigSuccess: true,
				LastConfigTime: started, GoroutineCount: runtime.NumGoroutine(), GOMAXPROCS: runtime.GOMAXPROCS(0)}, nil
		},
		&apiv1.PrometheusVersion{Version: "ddp-verify-embedded", GoVersion: runtime.Version()},
		func() []notifications.Notification { return nil },
		func() (<-chan notifications.Notification, func(), bool) { return nil, func() {}, false },
		p.reg,
		p.reg,
		nil,
		p.remoteRW && p.appendable != nil,
		remoteapi.MessageTypes{remoteapi.WriteV1MessageType, remoteapi.WriteV2MessageType},
		false, false, false, // OTLP receiver off
		0,
		false, false,
		nil,
		nil,
		apiv1.OpenAPIOptions{},
		nil, // default PromQL parser
		false,
		2*time.Minute,
	)
	r := route.New()
	api.Register(r.WithPrefix("/api/v1"))
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", r)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("Healthy.\n")) })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("Ready.\n")) })
	return mux
}

type noAlertmanagers struct{}

func (noAlertmanagers) Alertmanagers() []*url.URL        { return nil }
func (noAlertmanagers) DroppedAlertmanagers() []*url.URL { return nil }

func (p apiParams) rulesOrNone() apiv1.RulesRetriever {
	if p.rules == nil {
		return noRules{}
	}
	return p.rules
}

type noRules struct{}

func (noRules) RuleGroups() []*rules.Group           { return nil }
func (noRules) AlertingRules() []*rules.AlertingRule { return nil }

// noTargets serves a reopened TSDB: nothing is scraped.
type noTargets struct{}

func (noTargets) TargetsActive() map[string][]*scrape.Target  { return map[string][]*scrape.Target{} }
func (noTargets) TargetsDropped() map[string][]*scrape.Target { return map[string][]*scrape.Target{} }
func (noTargets) TargetsDroppedCounts() map[string]int        { return map[string]int{} }
func (noTargets) ScrapePoolConfig(string) (*config.ScrapeConfig, error) {
	return nil, errNoScrapePools
}
func (noTargets) ScrapePools() []string { return nil }

// adminStats adapts *tsdb.DB to the API's TSDB status interface (BlockMetas differs in shape).
type adminStats struct{ *tsdb.DB }

func (a adminStats) BlockMetas() ([]tsdb.BlockMeta, error) { return a.DB.BlockMetas(), nil }

func (a adminStats) Stats(statsByLabelName string, limit int) (*tsdb.Stats, error) {
	return a.DB.Head().Stats(statsByLabelName, limit), nil
}

func (a adminStats) WALReplayStatus() (tsdb.WALReplayStatus, error) {
	return tsdb.WALReplayStatus{}, nil
}
