package kubecluster_test

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dailydoco/ddp-verify/kubecluster"
)

// ec2Call posts one EC2 Query API request signed (in name) with accessKey and returns the HTTP
// status and the body.
func ec2Call(t *testing.T, cloud *kubecluster.Cloud, accessKey string, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, cloud.URL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if accessKey != "" {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+accessKey+"/20261202/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The local cloud answers EC2's StopInstances and StartInstances for the cluster's nodes: a
// stopped instance's node agent is off (its pods' processes gone, its heartbeats stopped, so
// the real node lifecycle controller marks it NotReady), a started one is Ready again. Wrong
// credentials, unknown instances and other actions are EC2 errors that change nothing.
func TestTheCloudStopsAndStartsInstances(t *testing.T) {
	const grace = 8 * time.Second
	c, client := startCluster(t, grace, time.Second)
	cloud, err := c.StartCloud()
	if err != nil {
		t.Fatal(err)
	}
	defer cloud.Close()
	victim := c.Nodes[0].Node.Name
	inst := kubecluster.InstanceID(victim)
	stop := url.Values{"Action": {"StopInstances"}, "Version": {"2016-11-15"}, "InstanceId.1": {inst}}

	for _, tc := range []struct {
		name, key string
		form      url.Values
		status    int
		code      string
	}{
		{"no credentials", "", stop, http.StatusUnauthorized, "AuthFailure"},
		{"another key", "AKIAOTHER", stop, http.StatusUnauthorized, "AuthFailure"},
		{"unknown instance", cloud.AccessKeyID, url.Values{"Action": {"StopInstances"}, "InstanceId.1": {inst}, "InstanceId.2": {"i-nosuch"}}, http.StatusBadRequest, "InvalidInstanceID.NotFound"},
		{"no instance", cloud.AccessKeyID, url.Values{"Action": {"StopInstances"}}, http.StatusBadRequest, "MissingParameter"},
		{"another action", cloud.AccessKeyID, url.Values{"Action": {"TerminateInstances"}, "InstanceId.1": {inst}}, http.StatusBadRequest, "InvalidAction"},
	} {
		status, body := ec2Call(t, cloud, tc.key, tc.form)
		var e struct {
			Code string `xml:"Errors>Error>Code"`
		}
		if err := xml.Unmarshal([]byte(body), &e); err != nil || status != tc.status || e.Code != tc.code {
			t.Errorf("%s: %d %q (%v), want %d %s", tc.name, status, body, err, tc.status, tc.code)
		}
	}
	if !c.Node(victim).PoweredOn() {
		t.Fatalf("node %s powered off by a refused request", victim)
	}

	var answer struct {
		XMLName xml.Name
		Items   []struct {
			ID       string `xml:"instanceId"`
			Current  string `xml:"currentState>name"`
			Previous string `xml:"previousState>name"`
		} `xml:"instancesSet>item"`
	}
	status, body := ec2Call(t, cloud, cloud.AccessKeyID, stop)
	if err := xml.Unmarshal([]byte(body), &answer); err != nil || status != http.StatusOK {
		t.Fatalf("StopInstances: %d %s (%v)", status, body, err)
	}
	if answer.XMLName.Local != "StopInstancesResponse" || len(answer.Items) != 1 || answer.Items[0].ID != inst ||
		answer.Items[0].Previous != "running" || answer.Items[0].Current != "stopping" {
		t.Errorf("StopInstances answered %s", body)
	}
	if c.Node(victim).PoweredOn() {
		t.Fatalf("node %s still powered on after its instance stopped", victim)
	}
	eventually(t, time.Minute, "node "+victim+" NotReady", func() bool { return nodeReady(t, client, victim) != corev1.ConditionTrue })

	status, body = ec2Call(t, cloud, cloud.AccessKeyID, url.Values{"Action": {"StartInstances"}, "InstanceId.1": {inst}})
	answer.Items = nil
	if err := xml.Unmarshal([]byte(body), &answer); err != nil || status != http.StatusOK ||
		answer.XMLName.Local != "StartInstancesResponse" || answer.Items[0].Previous != "stopped" || answer.Items[0].Current != "pending" {
		t.Fatalf("StartInstances: %d %s (%v)", status, body, err)
	}
	eventually(t, time.Minute, "node "+victim+" Ready again", func() bool { return nodeReady(t, client, victim) == corev1.ConditionTrue })

	var actions []string
	for _, call := range cloud.Calls() {
		if call.Err == "" {
			actions = append(actions, call.Action+" "+call.Node)
		}
	}
	if want := []string{"StopInstances " + victim, "StartInstances " + victim}; strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Errorf("cloud calls %v, want %v", actions, want)
	}
}

// A pause image (what Chaos Mesh's pod-failure swaps in) runs as a pause container: the
// container restarts into it, runs, serves nothing, so the pod is not Ready; the original
// image back, it restarts into its program and serves again.
func TestAPauseImageServesNothing(t *testing.T) {
	_, client := startCluster(t, 0, 0)
	ctx := t.Context()
	webApp(t, client, 1, nil, nil)
	var web corev1.Pod
	eventually(t, time.Minute, "the web pod Ready", func() bool {
		for _, p := range readyPods(t, client) {
			web = p
			return true
		}
		return false
	})
	setImage := func(image string) {
		p, err := client.CoreV1().Pods("default").Get(ctx, web.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Spec.Containers[0].Image = image
		if _, err := client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	container := func() corev1.ContainerStatus {
		p, err := client.CoreV1().Pods("default").Get(ctx, web.Name, metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) != 1 {
			t.Fatalf("pod %s: %v, %d container statuses", web.Name, err, len(p.Status.ContainerStatuses))
		}
		return p.Status.ContainerStatuses[0]
	}
	setImage("gcr.io/google-containers/pause:latest")
	eventually(t, time.Minute, "the container restarted into pause, not ready", func() bool {
		st := container()
		_, ready := readyPods(t, client)[web.Name]
		return st.RestartCount >= 1 && st.State.Running != nil && !st.Ready && !ready && strings.HasPrefix(st.ContainerID, "pause://")
	})
	if _, err := podGet(t, web.Status.PodIP, "/health"); err == nil {
		t.Errorf("the paused pod still answers at %s", web.Status.PodIP)
	}
	setImage("ddp-verify")
	eventually(t, time.Minute, "the container back on its program, Ready", func() bool {
		_, ready := readyPods(t, client)[web.Name]
		name, err := podGet(t, web.Status.PodIP, "/health")
		return ready && err == nil && name == web.Name
	})
}
