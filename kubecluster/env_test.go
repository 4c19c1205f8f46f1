package kubecluster_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// A pod's environment is built as a kubelet builds it: the namespace's Services as service
// links, $(VAR) references expanded, keys of Secrets and ConfigMaps; a pod whose Secret does
// not exist yet waits with CreateContainerConfigError and starts once it does.
func TestThePodEnvironmentIsAKubelets(t *testing.T) {
	_, client := startCluster(t, 0, 0)
	ctx := t.Context()
	webApp(t, client, 1, nil, nil) // its Service "web" is a service link of every pod in default
	svc, err := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"mode": "fast"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := pod("env", nil, 0)
	p.Spec.Containers[0].Env = []corev1.EnvVar{
		{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"}}},
		{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "mode"}}},
		{Name: "WEB_URL", Value: "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT_HTTP)/$(MODE)/$$(MODE)"},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "pod env waiting with CreateContainerConfigError for its Secret", func() bool {
		got, err := client.CoreV1().Pods("default").Get(ctx, "env", metav1.GetOptions{})
		if err != nil || len(got.Status.ContainerStatuses) == 0 || got.Status.ContainerStatuses[0].State.Waiting == nil {
			return false
		}
		w := got.Status.ContainerStatuses[0].State.Waiting
		return w.Reason == "CreateContainerConfigError" && strings.Contains(w.Message, `"creds"`)
	})
	if _, err := client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, StringData: map[string]string{"token": "s3cret"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	eventually(t, time.Minute, "pod env running once its Secret exists", func() bool {
		got, err := client.CoreV1().Pods("default").Get(ctx, "env", metav1.GetOptions{})
		if err != nil || got.Status.PodIP == "" {
			return false
		}
		ip = got.Status.PodIP
		_, err = podGet(t, ip, "/health")
		return err == nil
	})
	for name, want := range map[string]string{
		"TOKEN":            "s3cret",
		"MODE":             "fast",
		"WEB_SERVICE_HOST": svc.Spec.ClusterIP,
		"WEB_URL":          "http://" + svc.Spec.ClusterIP + ":8080/fast/$(MODE)",
	} {
		if got, err := podGet(t, ip, "/env/"+name); err != nil || got != want {
			t.Errorf("$%s in the pod = %q (%v), want %q", name, got, err, want)
		}
	}
	if resp, err := http.Get("http://" + ip + ":8080/env/KUBERNETES_PORT"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /env/KUBERNETES_PORT: %v %v, want 404 (no Docker-link variables)", resp, err)
	}
}

// A pod probed for readiness every 5 seconds (the plan's period) stays Ready between its
// probes: readiness changes only on a probe's verdict.
func TestReadinessHoldsBetweenProbes(t *testing.T) {
	_, client := startCluster(t, 0, 0)
	ctx := t.Context()
	p := pod("slow-probe", nil, 0)
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: podPort}}
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 5, FailureThreshold: 3,
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}}}
	if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ready := func() bool {
		got, err := client.CoreV1().Pods("default").Get(ctx, "slow-probe", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range got.Status.Conditions {
			if c.Type == corev1.PodReady {
				return c.Status == corev1.ConditionTrue
			}
		}
		return false
	}
	eventually(t, time.Minute, "pod slow-probe Ready", ready)
	for end := time.Now().Add(12 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if !ready() {
			t.Fatal("pod slow-probe went not Ready between its readiness probes, which all pass")
		}
	}
}
