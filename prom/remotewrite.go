package prom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/prompb"
)

// Pusher sends the samples of a client_golang Gatherer to a Prometheus remote-write endpoint
// (remote-write 1.0: protobuf WriteRequest, snappy block compression). It is how a load
// generator's registry reaches an external Prometheus when nothing scrapes it.
//
// The zero value is not usable: URL and Gatherer are required.
type Pusher struct {
	// URL of the receiver, e.g. http://prometheus:9090/api/v1/write.
	URL      string
	Gatherer prometheus.Gatherer
	// ExtraLabels are added to every series (e.g. instance, job); they override gathered labels.
	ExtraLabels map[string]string
	// Client defaults to an http.Client with a 10 s timeout.
	Client *http.Client
	// Now stamps samples that carry no timestamp; defaults to time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Push gathers once and sends every sample in one request.
func (p *Pusher) Push(ctx context.Context) error {
	if p.URL == "" || p.Gatherer == nil {
		return errors.New("prom: Pusher needs URL and Gatherer")
	}
	mfs, err := p.Gatherer.Gather()
	if err != nil {
		return fmt.Errorf("prom: gather for remote write: %w", err)
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	req := WriteRequest(mfs, p.ExtraLabels, now())
	raw, err := req.Marshal()
	if err != nil {
		return fmt.Errorf("prom: encode remote write request: %w", err)
	}
	body := snappy.Encode(nil, raw)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("prom: remote write to %s: %w", p.URL, err)
	}
	hreq.Header.Set("Content-Encoding", "snappy")
	hreq.Header.Set("Content-Type", "application/x-protobuf")
	hreq.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	hreq.Header.Set("User-Agent", "ddp-verify")
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(hreq)
	if err != nil {
		return fmt.Errorf("prom: remote write to %s: %w", p.URL, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("prom: remote write to %s: %s: %s", p.URL, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// Run pushes every interval until ctx is done, then pushes once more so the final values
// arrive. Failed pushes are logged and retried at the next tick; Run returns the last
// push's error.
func (p *Pusher) Run(ctx context.Context, interval time.Duration) error {
	log := p.Logger
	if log == nil {
		log = discardLogger()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return p.Push(fctx)
		case <-t.C:
			if err := p.Push(ctx); err != nil && ctx.Err() == nil {
				log.Warn("remote write failed", "url", p.URL, "err", err)
			}
		}
	}
}

// WriteRequest converts gathered metric families into a remote-write 1.0 request the way a
// Prometheus scrape would store them: histograms become _bucket (with le), _sum and _count
// series, summaries become quantile, _sum and _count series. Samples without a timestamp get
// ts.
func WriteRequest(mfs []*dto.MetricFamily, extra map[string]string, ts time.Time) *prompb.WriteRequest {
	req := &prompb.WriteRequest{}
	def := ts.UnixMilli()
	add := func(name string, m *dto.Metric, extraName string, extraValue string, v float64) {
		lbls := map[string]string{}
		for _, lp := range m.GetLabel() {
			lbls[lp.GetName()] = lp.GetValue()
		}
		if extraName != "" {
			lbls[extraName] = extraValue
		}
		for k, v := range extra {
			lbls[k] = v
		}
		lbls["__name__"] = name
		keys := make([]string, 0, len(lbls))
		for k := range lbls {
			keys = append(keys, k)
		}
		sort.Strings(keys) // remote write requires sorted label names
		series := prompb.TimeSeries{Labels: make([]prompb.Label, 0, len(keys))}
		for _, k := range keys {
			series.Labels = append(series.Labels, prompb.Label{Name: k, Value: lbls[k]})
		}
		t := def
		if m.TimestampMs != nil {
			t = m.GetTimestampMs()
		}
		series.Samples = []prompb.Sample{{Value: v, Timestamp: t}}
		req.Timeseries = append(req.Timeseries, series)
	}
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				add(name, m, "", "", m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, m, "", "", m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add(name, m, "", "", m.GetUntyped().GetValue())
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				sawInf := false
				for _, b := range h.GetBucket() {
					if math.IsInf(b.GetUpperBound(), +1) {
						sawInf = true
					}
					add(name+"_bucket", m, "le", formatFloat(b.GetUpperBound()), float64(b.GetCumulativeCount()))
				}
				if !sawInf {
					add(name+"_bucket", m, "le", "+Inf", float64(h.GetSampleCount()))
				}
				add(name+"_sum", m, "", "", h.GetSampleSum())
				add(name+"_count", m, "", "", float64(h.GetSampleCount()))
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				for _, q := range s.GetQuantile() {
					add(name, m, "quantile", formatFloat(q.GetQuantile()), q.GetValue())
				}
				add(name+"_sum", m, "", "", s.GetSampleSum())
				add(name+"_count", m, "", "", float64(s.GetSampleCount()))
			}
		}
	}
	return req
}

// formatFloat writes label values as the Prometheus text format does (le="0.1", le="+Inf").
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, +1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
