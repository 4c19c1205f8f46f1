package run

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/internal/yamlfile"
)

// Config is a run configuration file (`run --config ddp-verify.yaml`): the settings of one
// environment, so that a nightly job or a launch review runs with a short command line. Every
// field is the same as the `run` flag of the same name; a flag given on the command line wins
// over the file.
type Config struct {
	Profile          string   `yaml:"profile"`
	Target           string   `yaml:"target"`
	PrometheusURL    string   `yaml:"prometheus_url"`
	RemoteWriteURL   string   `yaml:"remote_write_url"`
	ExpectJobs       []string `yaml:"expect_jobs"`
	SLO              string   `yaml:"slo"`
	Topology         string   `yaml:"topology"`
	Out              string   `yaml:"out"`
	TimeScale        *float64 `yaml:"time_scale"`
	Force            bool     `yaml:"force"`
	Seed             *uint64  `yaml:"seed"`
	Agents           int      `yaml:"agents"`
	Baseline         string   `yaml:"baseline"`
	DrainTimeout     string   `yaml:"drain_timeout"`
	RecoveryTimeout  string   `yaml:"recovery_timeout"`
	PreflightTimeout string   `yaml:"preflight_timeout"`
	// AlertmanagerConfig routes the alerts that fired (--alertmanager-config).
	AlertmanagerConfig string `yaml:"alertmanager_config"`
	// AlertRules is the rule file the run evaluates (--alert-rules).
	AlertRules string      `yaml:"alert_rules"`
	Chaos      ChaosConfig `yaml:"chaos"`
	Auth       AuthConfig  `yaml:"auth"`
	// FixedCosts declares a URL target's managed-service costs (no flag: a block only).
	FixedCosts *FixedCosts `yaml:"fixed_costs"`

	// doc locates the file's fields for error messages; nil for an empty file.
	doc  *yamlfile.Document
	file string
}

// AuthConfig names a header every load request carries and the environment variable that
// holds its value (the token itself never goes in the file).
type AuthConfig struct {
	Header   string `yaml:"header"`
	TokenEnv string `yaml:"token_env"`
}

// ChaosConfig selects and bounds the chaos backend. Backend "none" skips the profile's faults
// (--no-chaos); "mesh" runs them as Chaos Mesh objects (URL targets); empty keeps the default
// (the local platform's own backend for the local target).
type ChaosConfig struct {
	Backend      string   `yaml:"backend"`
	Kubeconfig   string   `yaml:"kubeconfig"`
	Context      string   `yaml:"context"`
	Namespaces   []string `yaml:"namespaces"`
	MaxNodeShare *float64 `yaml:"max_node_share"`
	PoolLabel    string   `yaml:"pool_label"`
	// AWSSecret, AWSEndpoint and AWSRegion make node failures and zone power losses stop EC2
	// instances (AWSChaos ec2-stop); see the --aws-* flags.
	AWSSecret   string `yaml:"aws_secret"`
	AWSEndpoint string `yaml:"aws_endpoint"`
	AWSRegion   string `yaml:"aws_region"`
}

// LoadConfig reads a run configuration strictly: an unknown field or a value of the wrong type
// is an error naming the file, the line and the field. An empty file, or one of comments only,
// sets nothing.
func LoadConfig(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, badInput("read config: %w", err)
	}
	return ParseConfig(file, data)
}

// ParseConfig is [LoadConfig] on the text of the file named file.
func ParseConfig(file string, data []byte) (*Config, error) {
	c := Config{file: file}
	doc, err := yamlfile.Decode(file, data, &c)
	if errors.Is(err, yamlfile.ErrEmpty) {
		return &c, nil
	}
	if err != nil {
		return nil, exitcode.New(exitcode.BadInput, err)
	}
	c.doc = doc
	problems := yamlfile.Validator{Doc: doc}
	bad := func(flag, format string, args ...any) { problems.Fail(configPath(flag), format, args...) }
	switch c.Chaos.Backend {
	case "", "none", "mesh":
	default:
		bad("chaos-backend", "unknown backend %q (none, or mesh for a URL target)", c.Chaos.Backend)
	}
	if t := c.Target; t != "" && t != "local" && t != "kubernetes" && !strings.HasPrefix(t, "http://") && !strings.HasPrefix(t, "https://") {
		bad("target", "want local, kubernetes or the URL of a running platform (got %q)", t)
	}
	if v := c.Chaos.MaxNodeShare; v != nil && (*v <= 0 || *v > 1) {
		bad("max-node-share", "want a share in (0, 1] (got %g)", *v)
	}
	if v := c.TimeScale; v != nil && !(*v > 0) {
		bad("time-scale", "must be positive (got %g)", *v)
	}
	if v := c.Seed; v != nil && *v == 0 {
		bad("seed", "must be at least 1")
	}
	if c.FixedCosts != nil {
		c.FixedCosts.check(&problems, "fixed_costs")
	}
	if err := problems.Err(); err != nil {
		return nil, exitcode.New(exitcode.BadInput, err)
	}
	return &c, nil
}

// configFields maps run flags to their field paths in the file.
var configFields = map[string]string{
	"profile": "profile", "target": "target", "prometheus-url": "prometheus_url",
	"remote-write-url": "remote_write_url", "expect-job": "expect_jobs", "slo": "slo",
	"topology": "topology", "out": "out", "time-scale": "time_scale", "force": "force", "seed": "seed", "baseline": "baseline",
	"drain-timeout": "drain_timeout", "recovery-timeout": "recovery_timeout", "preflight-timeout": "preflight_timeout",
	"chaos-backend": "chaos.backend", "kubeconfig": "chaos.kubeconfig",
	"context": "chaos.context", "namespace": "chaos.namespaces",
	"max-node-share": "chaos.max_node_share", "pool-label": "chaos.pool_label",
	"aws-secret": "chaos.aws_secret", "aws-endpoint": "chaos.aws_endpoint", "aws-region": "chaos.aws_region",
	"auth-header": "auth.header", "auth-token-env": "auth.token_env",
}

// configPath is the field path of the file's setting for flag; "no-chaos" is chaos backend
// "none".
func configPath(flag string) string {
	if flag == "no-chaos" {
		return "chaos.backend"
	}
	return configFields[flag]
}

// Flags lists the settings of the file as run flag values, in a stable order. "no-chaos" is
// set for chaos backend "none".
func (c *Config) Flags() [][2]string {
	var out [][2]string
	add := func(flag, v string) {
		if v != "" {
			out = append(out, [2]string{flag, v})
		}
	}
	add("profile", c.Profile)
	add("target", c.Target)
	add("prometheus-url", c.PrometheusURL)
	add("remote-write-url", c.RemoteWriteURL)
	add("expect-job", strings.Join(c.ExpectJobs, ","))
	add("slo", c.SLO)
	add("topology", c.Topology)
	add("out", c.Out)
	if c.TimeScale != nil {
		add("time-scale", strconv.FormatFloat(*c.TimeScale, 'g', -1, 64))
	}
	if c.Force {
		add("force", "true")
	}
	if c.Seed != nil {
		add("seed", strconv.FormatUint(*c.Seed, 10))
	}
	if c.Agents != 0 {
		add("agents", strconv.Itoa(c.Agents))
	}
	add("baseline", c.Baseline)
	add("drain-timeout", c.DrainTimeout)
	add("recovery-timeout", c.RecoveryTimeout)
	add("preflight-timeout", c.PreflightTimeout)
	add("alertmanager-config", c.AlertmanagerConfig)
	add("alert-rules", c.AlertRules)
	if c.Chaos.Backend == "none" {
		add("no-chaos", "true")
	} else {
		add("chaos-backend", c.Chaos.Backend)
	}
	add("kubeconfig", c.Chaos.Kubeconfig)
	add("context", c.Chaos.Context)
	add("namespace", strings.Join(c.Chaos.Namespaces, ","))
	if c.Chaos.MaxNodeShare != nil {
		add("max-node-share", strconv.FormatFloat(*c.Chaos.MaxNodeShare, 'g', -1, 64))
	}
	add("pool-label", c.Chaos.PoolLabel)
	add("aws-secret", c.Chaos.AWSSecret)
	add("aws-endpoint", c.Chaos.AWSEndpoint)
	add("aws-region", c.Chaos.AWSRegion)
	add("auth-header", c.Auth.Header)
	add("auth-token-env", c.Auth.TokenEnv)
	return out
}

// FieldError describes a value of the file that its flag refused: a *yamlfile.FieldError
// with the file, the line that set it and its field path, whose message is err's text.
func (c *Config) FieldError(flag string, err error) error {
	path := configPath(flag)
	line, ok := c.doc.Lookup(path)
	if !ok {
		line = 0
	}
	return &yamlfile.FieldError{Source: c.file, Line: line, Field: path, Msg: err.Error()}
}
