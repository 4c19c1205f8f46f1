package prom

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	_ "github.com/prometheus/prometheus/discovery/file"       // registers file_sd_configs
	_ "github.com/prometheus/prometheus/discovery/kubernetes" // registers kubernetes_sd_configs
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	apiv1 "github.com/prometheus/prometheus/web/api/v1"
	"go.yaml.in/yaml/v3"
)

// Defaults applied by [New] to zero fields of [Options].
const (
	DefaultScrapeInterval = time.Second
	DefaultLookbackDelta  = 5 * time.Minute
	DefaultRetention      = 15 * 24 * time.Hour
	DefaultListenAddress  = "127.0.0.1:0"
)

// Job is one scrape job: static targets, file_sd files, a Kubernetes cluster's pods, or
// several of these.
type Job struct {
	// Name becomes the job label.
	Name string
	// Targets are host:port addresses scraped over HTTP.
	Targets []string
	// FileSD are file_sd_configs files (JSON or YAML target groups); Prometheus re-reads them
	// when they change, so a supervisor can add targets while a run is in progress.
	FileSD []string
	// MetricsPath defaults to /metrics.
	MetricsPath string
	// Labels are added to every series of the static targets.
	Labels map[string]string
	// Interval overrides Options.ScrapeInterval for this job.
	Interval time.Duration
	// DropMetrics are metric names whose series are dropped after the scrape (a
	// metric_relabel_configs drop rule), as a real Prometheus may be configured to keep
	// what a platform exports out of its TSDB.
	DropMetrics []string
	// Kubernetes, when set, discovers the job's targets from a cluster's pods or nodes with
	// Prometheus's own kubernetes_sd (watching the API server).
	Kubernetes *KubernetesSD
}

// KubernetesSD discovers the pods of a Kubernetes cluster as scrape targets, as the
// conventional kubernetes-pods job of a cluster's Prometheus does: a pod annotated
// prometheus.io/scrape "true" is scraped at its IP and the port of prometheus.io/port (else
// each container port it declares), at the path of prometheus.io/path (else the job's), and
// its series get the labels namespace, pod, node, and app (the pod's
// app.kubernetes.io/name label). With Role "node" it discovers the nodes the same way: a node
// annotated prometheus.io/scrape "true" is scraped at its InternalIP and the port of
// prometheus.io/port, and its series get the labels node, zone and pool (the node's
// topology.kubernetes.io/zone and eks.amazonaws.com/nodegroup labels): node_exporter's
// series of each machine.
type KubernetesSD struct {
	// Kubeconfig is the kubeconfig file of the cluster (its current context).
	Kubeconfig string
	// Namespaces limits the pod discovery to these namespaces (all when empty).
	Namespaces []string
	// Role is "pod" (the default) or "node".
	Role string
}

// Options configure [New]. Only Dir is required.
type Options struct {
	// Dir holds the TSDB. It is created if missing.
	Dir string
	// ListenAddress is where the HTTP API listens; it must be a loopback address.
	// Default 127.0.0.1:0 (a free port; see [Server.URL]).
	ListenAddress string
	// ScrapeInterval is the default interval (and timeout) of every job. Default 1 s.
	ScrapeInterval time.Duration
	Jobs           []Job
	// Retention defaults to 15 days.
	Retention time.Duration
	// LookbackDelta is PromQL's staleness window for instant lookups. Default 5 m.
	LookbackDelta time.Duration
	// RemoteWriteReceiver enables POST /api/v1/write (remote-write 1.0 and 2.0).
	RemoteWriteReceiver bool
	// RuleFiles are Prometheus rule files (recording and alerting rules) that Prometheus's
	// own rule manager evaluates every EvaluationInterval over the TSDB, writing the ALERTS
	// and ALERTS_FOR_STATE series and the recorded series back into it; /api/v1/rules and
	// /api/v1/alerts serve their state. Alerts go to no Alertmanager.
	RuleFiles []string
	// EvaluationInterval defaults to ScrapeInterval.
	EvaluationInterval time.Duration
	// RuleSourceURL, when set, is another Prometheus whose data the rules query (through its
	// HTTP API's instant queries) instead of this TSDB's: the rules of a platform whose own
	// Prometheus runs none are evaluated here, and their ALERTS written here.
	RuleSourceURL string
	// Logger defaults to a logger that discards everything.
	Logger *slog.Logger
}

// Server is a running embedded Prometheus. Its methods are safe for concurrent use.
type Server struct {
	db       *tsdb.DB
	scrape   *scrape.Manager
	rules    *rules.Manager // nil without rule files
	discCanc context.CancelFunc
	http     *http.Server
	url      string
	logger   *slog.Logger
	wg       sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// New opens (or creates) the TSDB in o.Dir, starts discovery and scraping of o.Jobs and serves
// the Prometheus HTTP API. ctx bounds start-up only; stop the server with [Server.Close].
func New(ctx context.Context, o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("prom: Options.Dir is required")
	}
	// Defaults first (the logger among them): every part built below keeps its own copy.
	o.setDefaults()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, err := scrapeConfig(o)
	if err != nil {
		return nil, err
	}
	ln, err := listenLoopback(o.ListenAddress)
	if err != nil {
		return nil, err
	}

	// Each server has its own registry, so that two servers in one process (tests, or an
	// embedded run evaluated beside a reopened baseline) never collide on metric registration.
	reg := prometheus.NewRegistry()
	topts := tsdb.DefaultOptions()
	topts.RetentionDuration = o.Retention.Milliseconds()
	db, err := tsdb.Open(o.Dir, o.Logger.With("component", "tsdb"), reg, topts, nil)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("prom: open TSDB in %s: %w", o.Dir, err)
	}

	sm, dm, discCancel, err := newScraping(o, cfg, db, reg)
	if err != nil {
		db.Close()
		ln.Close()
		return nil, err
	}

	engine := newEngine(o, reg)
	s := &Server{db: db, scrape: sm, discCanc: discCancel, logger: o.Logger, url: "http://" + ln.Addr().String()}
	if s.rules, err = newRuleManager(o, engine, db, reg); err != nil {
		discCancel()
		db.Close()
		ln.Close()
		return nil, err
	}
	h := newAPIHandler(apiParams{
		engine:     engine,
		queryable:  db,
		appendable: db,
		remoteRW:   o.RemoteWriteReceiver,
		targets:    sm,
		pools:      sm,
		admin:      adminStats{db},
		dir:        o.Dir,
		config:     cfg,
		logger:     o.Logger,
		reg:        reg,
		listen:     ln.Addr().String(),
		rules:      s.rulesRetriever(),
	})
	s.http = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}

	if s.rules != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.rules.Run() }()
	}
	s.wg.Add(3)
	go func() { defer s.wg.Done(); _ = dm.Run() }()
	go func() { defer s.wg.Done(); _ = sm.Run(dm.SyncCh()) }()
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("prometheus API server stopped", "err", err)
		}
	}()
	return s, nil
}

// newScraping builds the scrape manager, appending to db, and the service discovery that feeds
// it, both configured by cfg; the returned cancel stops the discovery.
func newScraping(o Options, cfg *config.Config, db *tsdb.DB, reg *prometheus.Registry) (*scrape.Manager, *discovery.Manager, context.CancelFunc, error) {
	sm, err := scrape.NewManager(&scrape.Options{
		DiscoveryReloadInterval:  model.Duration(time.Second),
		DiscoveryReloadOnStartup: true,
	}, o.Logger.With("component", "scrape"), nil, nil, db, reg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("prom: scrape manager: %w", err)
	}
	if err := sm.ApplyConfig(cfg); err != nil {
		return nil, nil, nil, fmt.Errorf("prom: apply scrape config: %w", err)
	}
	sdMetrics, err := discovery.CreateAndRegisterSDMetrics(reg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("prom: discovery metrics: %w", err)
	}
	// Discovery outlives New's ctx (start-up only), so it gets its own context, cancelled by Close.
	discCtx, discCancel := context.WithCancel(context.Background())
	dm := discovery.NewManager(discCtx, o.Logger.With("component", "discovery"), reg, sdMetrics,
		discovery.Name("scrape"), discovery.Updatert(time.Second))
	sdCfgs := make(map[string]discovery.Configs, len(cfg.ScrapeConfigs))
	for _, sc := range cfg.ScrapeConfigs {
		sdCfgs[sc.JobName] = sc.ServiceDiscoveryConfigs
	}
	if err := dm.ApplyConfig(sdCfgs); err != nil {
		discCancel()
		return nil, nil, nil, fmt.Errorf("prom: apply discovery config: %w", err)
	}
	return sm, dm, discCancel, nil
}

// URL is the base URL of the HTTP API, e.g. http://127.0.0.1:41234 (the API is under /api/v1).
func (s *Server) URL() string { return s.url }

// Appender returns an appender on the TSDB, for data that does not come from scraping
// (tests, imported samples). The caller must Commit or Rollback it.
func (s *Server) Appender(ctx context.Context) storage.Appender { return s.db.Appender(ctx) }

// Queryable is the TSDB as a storage.Queryable, for callers that run PromQL in process.
func (s *Server) Queryable() storage.Queryable { return s.db }

// Close stops scraping (scrape loops write their staleness markers first), stops the HTTP API,
// writes the in-memory head to a persistent block and closes the TSDB. It is idempotent;
// every call returns the first call's error.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		// Order matters: scraping must stop before the TSDB closes, or the last scrape's
		// appends race the close; the API stops before the TSDB so no query sees a closed DB.
		s.scrape.Stop()
		if s.rules != nil {
			s.rules.Stop()
		}
		s.discCanc()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		herr := s.http.Shutdown(ctx)
		s.wg.Wait()
		s.scrape.UnregisterMetrics()
		cerr := s.persistHead()
		derr := s.db.Close()
		s.closeErr = errors.Join(herr, cerr, derr)
	})
	return s.closeErr
}

// persistHead compacts everything in the head into a block, so that the directory is readable
// from blocks alone, including by Prometheus versions whose WAL format differs from ours.
func (s *Server) persistHead() error {
	h := s.db.Head()
	if h.NumSeries() == 0 || h.MinTime() > h.MaxTime() {
		return nil
	}
	if err := s.db.CompactHead(tsdb.NewRangeHead(h, h.MinTime(), h.MaxTime())); err != nil {
		return fmt.Errorf("prom: persist head: %w", err)
	}
	return nil
}

// setDefaults fills the options left at their zero value.
func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = discardLogger()
	}
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = DefaultScrapeInterval
	}
	if o.LookbackDelta <= 0 {
		o.LookbackDelta = DefaultLookbackDelta
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.ListenAddress == "" {
		o.ListenAddress = DefaultListenAddress
	}
	if o.EvaluationInterval <= 0 {
		o.EvaluationInterval = o.ScrapeInterval
	}
}

// newRuleManager loads o.RuleFiles into Prometheus's rule manager (not started); nil when
// there are none. A file that does not load is an error naming it.
func newRuleManager(o Options, engine *promql.Engine, db *tsdb.DB, reg prometheus.Registerer) (*rules.Manager, error) {
	if len(o.RuleFiles) == 0 {
		return nil, nil
	}
	query := rules.EngineQueryFunc(engine, db)
	if o.RuleSourceURL != "" {
		var err error
		if query, err = remoteQueryFunc(o.RuleSourceURL); err != nil {
			return nil, err
		}
	}
	m := rules.NewManager(&rules.ManagerOptions{
		AppendableV2:    db,
		Queryable:       db,
		QueryFunc:       query,
		NotifyFunc:      func(context.Context, string, ...*rules.Alert) {},
		Logger:          o.Logger.With("component", "rules"),
		Registerer:      reg,
		OutageTolerance: time.Hour,
		ForGracePeriod:  10 * time.Minute,
		ResendDelay:     time.Minute,
	})
	if err := m.Update(o.EvaluationInterval, o.RuleFiles, labels.EmptyLabels(), "", nil); err != nil {
		return nil, fmt.Errorf("prom: rule files %v: %w", o.RuleFiles, err)
	}
	return m, nil
}

// rulesRetriever is the rule manager for the API, nil without one.
func (s *Server) rulesRetriever() apiv1.RulesRetriever {
	if s.rules == nil {
		return nil
	}
	return s.rules
}

func newEngine(o Options, reg prometheus.Registerer) *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{
		Logger:               o.Logger.With("component", "promql"),
		Reg:                  reg,
		MaxSamples:           50_000_000,
		Timeout:              2 * time.Minute,
		LookbackDelta:        o.LookbackDelta,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		NoStepSubqueryIntervalFn: func(int64) int64 {
			return o.ScrapeInterval.Milliseconds()
		},
	})
}

// listenLoopback refuses non-loopback addresses: the API has no authentication.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("prom: listen address %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("prom: listen address %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("prom: listen on %s: %w", addr, err)
	}
	return ln, nil
}

// scrapeConfig renders the jobs as a Prometheus configuration file and loads it with
// Prometheus's own loader, so defaults and validation are exactly Prometheus's.
func scrapeConfig(o Options) (*config.Config, error) {
	var f configFile
	f.Global.ScrapeInterval = model.Duration(o.ScrapeInterval).String()
	f.Global.ScrapeTimeout = f.Global.ScrapeInterval
	seen := map[string]bool{}
	for i, j := range o.Jobs {
		if j.Name == "" {
			return nil, fmt.Errorf("prom: jobs[%d]: name is required", i)
		}
		if seen[j.Name] {
			return nil, fmt.Errorf("prom: jobs[%d]: duplicate job name %q", i, j.Name)
		}
		seen[j.Name] = true
		if k := j.Kubernetes; k != nil && k.Role != "" && k.Role != "pod" && k.Role != "node" {
			return nil, fmt.Errorf("prom: jobs[%d] (%s): kubernetes role %q: want pod or node", i, j.Name, k.Role)
		}
		f.ScrapeConfigs = append(f.ScrapeConfigs, jobConfig(j, o.ScrapeInterval))
	}
	sort.SliceStable(f.ScrapeConfigs, func(a, b int) bool { return f.ScrapeConfigs[a].JobName < f.ScrapeConfigs[b].JobName })
	b, err := yaml.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("prom: render scrape config: %w", err)
	}
	cfg, err := config.Load(string(b), o.Logger)
	if err != nil {
		return nil, fmt.Errorf("prom: scrape config: %w", err)
	}
	return cfg, nil
}

// The Prometheus configuration file's shapes, as much of them as the jobs use.
type (
	configFile struct {
		Global struct {
			ScrapeInterval string `yaml:"scrape_interval"`
			ScrapeTimeout  string `yaml:"scrape_timeout"`
		} `yaml:"global"`
		ScrapeConfigs []scrapeJobConfig `yaml:"scrape_configs"`
	}
	scrapeJobConfig struct {
		JobName        string               `yaml:"job_name"`
		ScrapeInterval string               `yaml:"scrape_interval"`
		ScrapeTimeout  string               `yaml:"scrape_timeout"`
		MetricsPath    string               `yaml:"metrics_path,omitempty"`
		StaticConfigs  []staticConfig       `yaml:"static_configs,omitempty"`
		FileSDConfigs  []fileSDConfig       `yaml:"file_sd_configs,omitempty"`
		KubernetesSD   []kubernetesSDConfig `yaml:"kubernetes_sd_configs,omitempty"`
		Relabel        []relabelConfig      `yaml:"relabel_configs,omitempty"`
		MetricRelabel  []relabelConfig      `yaml:"metric_relabel_configs,omitempty"`
	}
	staticConfig struct {
		Targets []string          `yaml:"targets"`
		Labels  map[string]string `yaml:"labels,omitempty"`
	}
	fileSDConfig struct {
		Files []string `yaml:"files"`
	}
	kubernetesSDConfig struct {
		Role           string          `yaml:"role"`
		KubeconfigFile string          `yaml:"kubeconfig_file"`
		Namespaces     *namespaceNames `yaml:"namespaces,omitempty"`
	}
	namespaceNames struct {
		Names []string `yaml:"names"`
	}
	relabelConfig struct {
		SourceLabels []string `yaml:"source_labels,omitempty"`
		Separator    string   `yaml:"separator,omitempty"`
		Regex        string   `yaml:"regex,omitempty"`
		TargetLabel  string   `yaml:"target_label,omitempty"`
		Replacement  string   `yaml:"replacement,omitempty"`
		Action       string   `yaml:"action,omitempty"`
	}
)

// jobConfig is one job's scrape_configs entry; interval is the default scrape interval.
func jobConfig(j Job, interval time.Duration) scrapeJobConfig {
	if j.Interval > 0 {
		interval = j.Interval
	}
	sc := scrapeJobConfig{
		JobName:        j.Name,
		ScrapeInterval: model.Duration(interval).String(),
		ScrapeTimeout:  model.Duration(interval).String(),
		MetricsPath:    j.MetricsPath,
	}
	if len(j.Targets) > 0 {
		sc.StaticConfigs = []staticConfig{{Targets: j.Targets, Labels: j.Labels}}
	}
	if len(j.FileSD) > 0 {
		sc.FileSDConfigs = []fileSDConfig{{Files: j.FileSD}}
	}
	switch {
	case j.Kubernetes == nil:
	case j.Kubernetes.Role == "node":
		sc.KubernetesSD, sc.Relabel = kubernetesNodes(*j.Kubernetes)
	default:
		sc.KubernetesSD, sc.Relabel = kubernetesPods(*j.Kubernetes)
	}
	if len(j.DropMetrics) > 0 {
		sc.MetricRelabel = []relabelConfig{dropMetrics(j.DropMetrics)}
	}
	return sc
}

// kubernetesPods is the pod discovery of k and the kubernetes-pods convention's relabeling:
// annotated Running pods only, their annotated port and path, and the pod's place as labels.
func kubernetesPods(k KubernetesSD) ([]kubernetesSDConfig, []relabelConfig) {
	sd := kubernetesSDConfig{Role: "pod", KubeconfigFile: k.Kubeconfig}
	if len(k.Namespaces) > 0 {
		sd.Namespaces = &namespaceNames{Names: k.Namespaces}
	}
	meta := "__meta_kubernetes_pod_"
	return []kubernetesSDConfig{sd}, []relabelConfig{
		{SourceLabels: []string{meta + "annotation_prometheus_io_scrape"}, Regex: "true", Action: "keep"},
		{SourceLabels: []string{meta + "phase"}, Regex: "Running", Action: "keep"},
		{SourceLabels: []string{meta + "ip", meta + "annotation_prometheus_io_port"}, Separator: ";", Regex: "(.+);([0-9]+)", TargetLabel: "__address__", Replacement: "$1:$2", Action: "replace"},
		{SourceLabels: []string{meta + "annotation_prometheus_io_path"}, Regex: "(.+)", TargetLabel: "__metrics_path__", Replacement: "$1", Action: "replace"},
		{SourceLabels: []string{"__meta_kubernetes_namespace"}, TargetLabel: "namespace", Action: "replace"},
		{SourceLabels: []string{meta + "name"}, TargetLabel: "pod", Action: "replace"},
		{SourceLabels: []string{meta + "node_name"}, TargetLabel: "node", Action: "replace"},
		{SourceLabels: []string{meta + "label_app_kubernetes_io_name"}, TargetLabel: "app", Action: "replace"},
	}
}

// kubernetesNodes is the node discovery of k and the same convention for nodes: annotated
// nodes only, at their InternalIP and annotated port, their name, zone and pool as labels.
func kubernetesNodes(k KubernetesSD) ([]kubernetesSDConfig, []relabelConfig) {
	meta := "__meta_kubernetes_node_"
	return []kubernetesSDConfig{{Role: "node", KubeconfigFile: k.Kubeconfig}}, []relabelConfig{
		{SourceLabels: []string{meta + "annotation_prometheus_io_scrape"}, Regex: "true", Action: "keep"},
		{SourceLabels: []string{meta + "address_InternalIP", meta + "annotation_prometheus_io_port"}, Separator: ";", Regex: "(.+);([0-9]+)", TargetLabel: "__address__", Replacement: "$1:$2", Action: "replace"},
		{SourceLabels: []string{meta + "name"}, TargetLabel: "node", Action: "replace"},
		{SourceLabels: []string{meta + "label_topology_kubernetes_io_zone"}, TargetLabel: "zone", Action: "replace"},
		{SourceLabels: []string{meta + "label_eks_amazonaws_com_nodegroup"}, TargetLabel: "pool", Action: "replace"},
	}
}

// dropMetrics is a metric_relabel_configs rule dropping the series of the named metrics.
func dropMetrics(names []string) relabelConfig {
	quoted := make([]string, len(names))
	for i, m := range names {
		quoted[i] = regexp.QuoteMeta(m)
	}
	return relabelConfig{SourceLabels: []string{"__name__"}, Regex: strings.Join(quoted, "|"), Action: "drop"}
}
