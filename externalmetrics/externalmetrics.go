// Package externalmetrics serves Kubernetes' external metrics API
// (external.metrics.k8s.io/v1beta1), where the HPA controller reads the values of the
// External metrics an autoscaler names, from Prometheus queries: what prometheus-adapter's
// external rules or KEDA's Prometheus scaler do on EKS. A metric is served only when it is
// named in advance; its value in a namespace for a label selector is
//
//	sum(METRIC{namespace="NS", SELECTOR...})
//
// and a query without a result is an error the autoscaler sees, never a zero.
package externalmetrics

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation"
	emv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
)

// The API group and version served.
const (
	Group   = "external.metrics.k8s.io"
	Version = "v1beta1"
)

// QueryTimeout bounds one Prometheus query.
const QueryTimeout = 5 * time.Second

// Querier runs an instant query: the part of client_golang's Prometheus API used here.
type Querier interface {
	Query(ctx context.Context, query string, ts time.Time, opts ...promv1.Option) (model.Value, promv1.Warnings, promv1.Infos, error)
}

// Handler serves the API for metrics, whose values q computes.
type Handler struct {
	q       Querier
	metrics []string
	log     *slog.Logger
}

var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// New is a handler serving metrics (Prometheus metric names) from q; log may be nil.
func New(q Querier, metrics []string, log *slog.Logger) (*Handler, error) {
	if len(metrics) == 0 {
		return nil, fmt.Errorf("externalmetrics: no metric to serve")
	}
	for _, m := range metrics {
		if !metricName.MatchString(m) {
			return nil, fmt.Errorf("externalmetrics: %q is not a Prometheus metric name", m)
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{q: q, metrics: metrics, log: log}, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, r.Method+" is not served: the API is read-only")
		return
	}
	gv := Group + "/" + Version
	switch path := strings.Trim(r.URL.Path, "/"); path {
	case "apis":
		writeJSON(w, &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{h.group()}})
	case "apis/" + Group:
		g := h.group()
		g.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
		writeJSON(w, &g)
	case "apis/" + gv:
		writeJSON(w, h.resources())
	default:
		rest, ok := strings.CutPrefix(path, "apis/"+gv+"/namespaces/")
		ns, metric, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || ns == "" || strings.Contains(metric, "/") {
			writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "no such path: "+r.URL.Path)
			return
		}
		h.serveValue(w, r, ns, metric)
	}
}

func (h *Handler) group() metav1.APIGroup {
	v := metav1.GroupVersionForDiscovery{GroupVersion: Group + "/" + Version, Version: Version}
	return metav1.APIGroup{Name: Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v}
}

// resources lists each served metric as a namespaced resource, as prometheus-adapter does.
func (h *Handler) resources() *metav1.APIResourceList {
	l := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: Group + "/" + Version}
	for _, m := range h.metrics {
		l.APIResources = append(l.APIResources, metav1.APIResource{Name: m, Namespaced: true, Kind: "ExternalMetricValueList", Verbs: metav1.Verbs{"get"}})
	}
	return l
}

// serveValue answers one metric's value in ns for the request's label selector.
func (h *Handler) serveValue(w http.ResponseWriter, r *http.Request, ns, metric string) {
	if !h.serves(metric) {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("external metric %q is not served (served: %s)", metric, strings.Join(h.metrics, ", ")))
		return
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("namespace %q: %s", ns, strings.Join(errs, "; ")))
		return
	}
	sel, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, "labelSelector: "+err.Error())
		return
	}
	query, err := Query(metric, ns, sel)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	v, at, err := h.value(r.Context(), query)
	if err != nil {
		h.log.Warn("external metric", "metric", metric, "namespace", ns, "query", query, "err", err)
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, err.Error())
		return
	}
	writeJSON(w, &emv1beta1.ExternalMetricValueList{
		TypeMeta: metav1.TypeMeta{Kind: "ExternalMetricValueList", APIVersion: Group + "/" + Version},
		Items: []emv1beta1.ExternalMetricValue{{
			MetricName: metric, MetricLabels: map[string]string{}, Timestamp: metav1.NewTime(at),
			Value: *resource.NewMilliQuantity(int64(math.Round(v*1000)), resource.DecimalSI),
		}},
	})
}

func (h *Handler) serves(metric string) bool {
	for _, m := range h.metrics {
		if m == metric {
			return true
		}
	}
	return false
}

// Query is the PromQL query for metric in ns with the label selector sel: the sum of the
// matching series. Every selector operator has its matcher (in and notin as anchored
// regular expressions of the quoted values; exists as a non-empty value).
func Query(metric, ns string, sel labels.Selector) (string, error) {
	reqs, selectable := sel.Requirements()
	if !selectable {
		return "", fmt.Errorf("labelSelector %q selects nothing", sel)
	}
	matchers := []string{`namespace="` + ns + `"`}
	for _, req := range reqs {
		key := req.Key()
		if !model.LegacyValidation.IsValidLabelName(key) {
			return "", fmt.Errorf("labelSelector: %q is not a Prometheus label name", key)
		}
		if key == "namespace" {
			return "", fmt.Errorf("labelSelector: the namespace is the request's, not a label to select")
		}
		vals := req.Values().List()
		var alts []string
		for _, v := range vals {
			alts = append(alts, regexp.QuoteMeta(v))
		}
		switch req.Operator() {
		case selection.Equals, selection.DoubleEquals:
			matchers = append(matchers, key+"="+strconv.Quote(vals[0]))
		case selection.NotEquals:
			matchers = append(matchers, key+"!="+strconv.Quote(vals[0]))
		case selection.In:
			matchers = append(matchers, key+"=~"+strconv.Quote(strings.Join(alts, "|")))
		case selection.NotIn:
			matchers = append(matchers, key+"!~"+strconv.Quote(strings.Join(alts, "|")))
		case selection.Exists:
			matchers = append(matchers, key+`!=""`)
		case selection.DoesNotExist:
			matchers = append(matchers, key+`=""`)
		default:
			return "", fmt.Errorf("labelSelector: operator %q on %q is not supported", req.Operator(), key)
		}
	}
	return "sum(" + metric + "{" + strings.Join(matchers, ",") + "})", nil
}

// value runs query: one finite sample, or an error that says what came back instead.
func (h *Handler) value(ctx context.Context, query string) (float64, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	val, _, _, err := h.q.Query(ctx, query, time.Now())
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("query %s: %w", query, err)
	}
	vec, ok := val.(model.Vector)
	if !ok {
		return 0, time.Time{}, fmt.Errorf("query %s returned a %s, not a vector", query, val.Type())
	}
	if len(vec) != 1 {
		return 0, time.Time{}, fmt.Errorf("query %s: no series (no data is not a zero)", query)
	}
	v := float64(vec[0].Value)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, time.Time{}, fmt.Errorf("query %s: value %v is not a number a quantity can carry", query, v)
	}
	return v, vec[0].Timestamp.Time(), nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// writeStatus answers an error as the API server does: a Status object.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(&metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Message: "externalmetrics: " + msg, Reason: reason, Code: int32(code),
	})
}
