package kubeplatform

import (
	"testing"

	"github.com/stretchr/testify/assert"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

func TestExternalMetricNamesAreEachOnce(t *testing.T) {
	ext := func(name string) autoscalingv2.MetricSpec {
		return autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{Metric: autoscalingv2.MetricIdentifier{Name: name}}}
	}
	cpu := autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: "cpu"}}
	hpas := []autoscalingv2.HorizontalPodAutoscaler{
		{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{Metrics: []autoscalingv2.MetricSpec{cpu, ext("queue_b")}}},
		{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{Metrics: []autoscalingv2.MetricSpec{ext("queue_a"), ext("queue_b")}}},
		{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{Metrics: []autoscalingv2.MetricSpec{cpu}}},
	}
	assert.Equal(t, []string{"queue_a", "queue_b"}, externalMetricNames(hpas))
	assert.Empty(t, externalMetricNames(hpas[2:]), "no External metric, nothing to serve")
}
