package k6script

import (
	"fmt"
	"time"

	"github.com/dailydoco/ddp-verify/load"
)

// settings are the options about neither execution nor thresholds: the lifecycle's time
// limits and the HTTP client's behaviour.
type settings struct {
	setupTimeout, teardownTimeout time.Duration
	noConnectionReuse, insecure   bool
	discardBodies                 bool
	userAgent                     string
	maxRedirects                  int
}

// k6's defaults.
const (
	defaultLifecycleTimeout = 60 * time.Second
	defaultRedirects        = 10
)

// readSettings reads the settings from the options, with k6's defaults.
func (s *Script) readSettings() error {
	f := &fields{where: "options", m: s.options}
	st := settings{setupTimeout: defaultLifecycleTimeout, teardownTimeout: defaultLifecycleTimeout, maxRedirects: defaultRedirects}
	if _, ok := s.options["setupTimeout"]; ok {
		st.setupTimeout = f.dur("setupTimeout")
	}
	if _, ok := s.options["teardownTimeout"]; ok {
		st.teardownTimeout = f.dur("teardownTimeout")
	}
	st.noConnectionReuse = f.boolean("noConnectionReuse")
	st.insecure = f.boolean("insecureSkipTLSVerify")
	st.discardBodies = f.boolean("discardResponseBodies")
	s.tags = f.tags("tags")
	st.userAgent = f.str("userAgent")
	if v, ok := s.options["maxRedirects"]; ok {
		n, whole := wholeNumber(v)
		if !whole {
			f.fail("maxRedirects", "want a whole number >= 0, got %v", v)
		}
		st.maxRedirects = n
	}
	if st.setupTimeout <= 0 || st.teardownTimeout <= 0 {
		f.fail("setupTimeout", "setupTimeout and teardownTimeout must be positive")
	}
	if err := f.err(); err != nil {
		return fmt.Errorf("k6 script %s: %w", s.path, err)
	}
	s.settings = st
	return nil
}

// HTTPOptions returns base with the script's HTTP options applied: noConnectionReuse,
// userAgent and insecureSkipTLSVerify (which only ever turns checks off when base has them off
// already or the script asks).
func (s *Script) HTTPOptions(base load.HTTPOptions) load.HTTPOptions {
	st := s.settings
	base.DisableKeepAlives = base.DisableKeepAlives || st.noConnectionReuse
	base.InsecureSkipVerify = base.InsecureSkipVerify || st.insecure
	if st.userAgent != "" {
		base.UserAgent = st.userAgent
	}
	return base
}

// httpOptions are the options [Script.HTTPOptions] applies to the engine's client.
var httpOptions = set("noConnectionReuse", "userAgent", "insecureSkipTLSVerify")

// HTTPOptionNames are the script's options that configure the engine's HTTP client, which a
// caller running the script's functions in an engine of its own must apply
// ([Script.HTTPOptions]) or refuse.
func (s *Script) HTTPOptionNames() []string {
	var names []string
	for _, k := range sortedKeys(s.options) {
		if httpOptions[k] {
			names = append(names, k)
		}
	}
	return names
}
