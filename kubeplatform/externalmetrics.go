package kubeplatform

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dailydoco/ddp-verify/externalmetrics"
	"github.com/dailydoco/ddp-verify/kubecluster"
)

// ExternalMetricsService is the Service in kube-system that fronts the external metrics API.
const ExternalMetricsService = "ddp-verify-external-metrics"

// ServeExternalMetrics serves the External metrics that the HorizontalPodAutoscalers in
// namespace name (the chart's GPU workers scale on their backlog) with the values of
// Prometheus queries on q, through the cluster's aggregation layer, as prometheus-adapter or
// KEDA serve them on EKS. Without such an autoscaler it serves nothing and returns nil.
func ServeExternalMetrics(ctx context.Context, c *kubecluster.Cluster, namespace string, q externalmetrics.Querier, log *slog.Logger) (*kubecluster.AggregatedAPI, error) {
	client, err := c.Client()
	if err != nil {
		return nil, err
	}
	hpas, err := client.AutoscalingV2().HorizontalPodAutoscalers(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubeplatform: list the autoscalers: %w", err)
	}
	names := externalMetricNames(hpas.Items)
	if len(names) == 0 {
		return nil, nil
	}
	h, err := externalmetrics.New(q, names, log)
	if err != nil {
		return nil, fmt.Errorf("kubeplatform: %w", err)
	}
	return c.ServeAPI(ctx, kubecluster.APIGroup{Group: externalmetrics.Group, Version: externalmetrics.Version, Service: ExternalMetricsService}, h)
}

// externalMetricNames are the External metrics hpas name, sorted, each once.
func externalMetricNames(hpas []autoscalingv2.HorizontalPodAutoscaler) []string {
	var names []string
	for _, h := range hpas {
		for _, m := range h.Spec.Metrics {
			if m.Type == autoscalingv2.ExternalMetricSourceType && m.External != nil {
				names = append(names, m.External.Metric.Name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
