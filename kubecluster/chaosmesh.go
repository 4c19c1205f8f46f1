package kubecluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
)

// The Chaos Mesh controller manager's files in its assets directory (hack/chaos-mesh.sh builds
// the binary from the Chaos Mesh source snapshot and copies the snapshot's CRDs beside it).
const (
	ChaosMeshBinary = "chaos-controller-manager"
	ChaosMeshCRDs   = "crd.yaml"
	// ChaosMeshNamespace is where the controller's own objects live, as a Helm install puts them.
	ChaosMeshNamespace = "chaos-mesh"
)

// ChaosMeshKinds are the chaos kinds whose objects the API server sends to the controller's
// admission webhooks (defaulting and validation), as a Chaos Mesh install registers them: the
// kinds the harness creates.
var ChaosMeshKinds = []string{"PodChaos", "NetworkChaos", "AWSChaos"}

// ChaosMesh is the real Chaos Mesh controller manager running against the cluster.
type ChaosMesh struct {
	// MetricsURL is the controller's Prometheus endpoint.
	MetricsURL string
	// WebhookURL is its admission webhook server (TLS, signed by the cluster's CA).
	WebhookURL string
	// Log is the controller's log file.
	Log string

	proc *process
}

// PID is the controller process's id, for its memory figures.
func (m *ChaosMesh) PID() int { return m.proc.cmd.Process.Pid }

// Exited returns how the controller ended, as an error; nil while it runs.
func (m *ChaosMesh) Exited() error {
	if m.proc.exited() {
		return m.proc.failure()
	}
	return nil
}

// StartChaosMesh installs Chaos Mesh into the cluster from assets (a directory holding
// [ChaosMeshBinary] and [ChaosMeshCRDs]): its CRDs, its namespace, a serving certificate for
// its webhook server signed by the cluster's CA, the controller manager as a process of the
// cluster (leader election off, no chaos-daemon: the pod, AWS and other cloud kinds work, the
// network and in-container kinds do not), and the admission webhooks of [ChaosMeshKinds]
// pointing at it, so the API server defaults and validates chaos objects exactly as in a
// Chaos Mesh install. It returns once the controller serves and the CRDs are established; the
// controller stops with the control plane.
func (c *ControlPlane) StartChaosMesh(ctx context.Context, assets string) (*ChaosMesh, error) {
	bin := filepath.Join(assets, ChaosMeshBinary)
	crds := filepath.Join(assets, ChaosMeshCRDs)
	for _, f := range []string{bin, crds} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("kubecluster: chaos mesh: %s missing; build it with hack/chaos-mesh.sh (it prints the directory)", f)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultStartTimeout)
	defer cancel()
	if err := c.installCRDs(ctx, crds); err != nil {
		return nil, fmt.Errorf("kubecluster: chaos mesh CRDs: %w", err)
	}
	if err := c.ensureNamespace(ctx, ChaosMeshNamespace); err != nil {
		return nil, fmt.Errorf("kubecluster: chaos mesh: %w", err)
	}
	// The controller reads tls.crt and tls.key from CERTS_DIR, as a Secret mounted there.
	sub, err := c.pki.under("chaos-mesh")
	if err != nil {
		return nil, err
	}
	certs := sub.dir
	if err := sub.issue("tls.crt", "tls.key", pkix.Name{CommonName: "chaos-mesh-controller-manager"}, x509.ExtKeyUsageServerAuth,
		[]net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}); err != nil {
		return nil, fmt.Errorf("kubecluster: chaos mesh webhook certificate: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	m := &ChaosMesh{
		MetricsURL: "http://127.0.0.1:" + strconv.Itoa(ports[0]) + "/metrics",
		WebhookURL: "https://127.0.0.1:" + strconv.Itoa(ports[1]),
		Log:        filepath.Join(c.dir, "logs", ChaosMeshBinary+".log"),
	}
	env := []string{
		"KUBECONFIG=" + c.Kubeconfig, "ENABLE_LEADER_ELECTION=false", "CERTS_DIR=" + certs,
		"WEBHOOK_HOST=127.0.0.1", "WEBHOOK_PORT=" + strconv.Itoa(ports[1]),
		"METRICS_HOST=127.0.0.1", "METRICS_PORT=" + strconv.Itoa(ports[0]),
		// Security mode checks each creator's RBAC on the selected pods through the
		// validate-auth webhook; the admin the harness runs as could do everything anyway.
		"SECURITY_MODE=false", "NAMESPACE=" + ChaosMeshNamespace, "PPROF_ADDR=0",
	}
	m.proc, err = startProcessEnv(c.launch, ChaosMeshBinary, bin, m.Log, env)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, m.proc)
	c.log.Info("starting", "component", ChaosMeshBinary, "pid", m.PID())
	if err := c.awaitHealthy(ctx, m.proc, httpCheck(m.MetricsURL, nil)); err != nil {
		return nil, err
	}
	if err := c.awaitHealthy(ctx, m.proc, tlsDial(strings.TrimPrefix(m.WebhookURL, "https://"))); err != nil {
		return nil, err
	}
	if err := c.registerWebhooks(ctx, m.WebhookURL); err != nil {
		return nil, fmt.Errorf("kubecluster: chaos mesh webhooks: %w", err)
	}
	return m, nil
}

// awaitHealthy waits until healthy says so, or the process ends, or ctx expires.
func (c *ControlPlane) awaitHealthy(ctx context.Context, p *process, healthy func(context.Context) error) error {
	for {
		err := healthy(ctx)
		if err == nil {
			c.log.Info("healthy", "component", p.name)
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("kubecluster: %w", p.failure())
		case <-ctx.Done():
			return fmt.Errorf("kubecluster: %s not healthy in time (%v); last lines of %s:\n%s", p.name, err, p.log, tail(p.log, 5))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tlsDial is a health check: a TLS handshake with addr succeeds (the server has its
// certificate loaded).
func tlsDial(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} // only that it serves TLS is checked
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installCRDs creates every CRD of a multi-document YAML file (or finds it there) and waits
// until each is established.
func (c *ControlPlane) installCRDs(ctx context.Context, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var names []string
	for i := 1; ; i++ {
		var obj unstructured.Unstructured
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		if obj.Object == nil {
			continue
		}
		if obj.GetKind() != "CustomResourceDefinition" {
			return fmt.Errorf("%s: document %d is a %s, not a CustomResourceDefinition", path, i, obj.GetKind())
		}
		if _, err := dyn.Resource(crdGVR).Create(ctx, &obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s: %w", obj.GetName(), err)
		}
		names = append(names, obj.GetName())
	}
	for _, n := range names {
		err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			crd, err := dyn.Resource(crdGVR).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, cond := range conds {
				m, _ := cond.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("%s not established: %w", n, err)
		}
	}
	return nil
}

func (c *ControlPlane) ensureNamespace(ctx context.Context, name string) error {
	cs, err := c.Client()
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// registerWebhooks points the API server at the controller's defaulting and validation
// webhooks for [ChaosMeshKinds] (controller-runtime's paths), trusting the cluster's CA.
func (c *ControlPlane) registerWebhooks(ctx context.Context, base string) error {
	cs, err := c.Client()
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(c.pki.path(caCertFile))
	if err != nil {
		return err
	}
	fail := admissionv1.Fail
	none := admissionv1.SideEffectClassNone
	hook := func(prefix, kind string) (string, admissionv1.WebhookClientConfig, []admissionv1.RuleWithOperations) {
		resource := strings.ToLower(kind)
		url := base + "/" + prefix + "-chaos-mesh-org-v1alpha1-" + resource
		rules := []admissionv1.RuleWithOperations{{
			Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
			Rule:       admissionv1.Rule{APIGroups: []string{"chaos-mesh.org"}, APIVersions: []string{"v1alpha1"}, Resources: []string{resource}},
		}}
		return prefix[:1] + resource + ".chaos-mesh.org", admissionv1.WebhookClientConfig{URL: &url, CABundle: caPEM}, rules
	}
	mutating := &admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "chaos-mesh-mutation"}}
	validating := &admissionv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "chaos-mesh-validation"}}
	for _, kind := range ChaosMeshKinds {
		name, cfg, rules := hook("mutate", kind)
		mutating.Webhooks = append(mutating.Webhooks, admissionv1.MutatingWebhook{Name: name, ClientConfig: cfg, Rules: rules,
			FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, TimeoutSeconds: ptr.To[int32](5)})
		name, cfg, rules = hook("validate", kind)
		validating.Webhooks = append(validating.Webhooks, admissionv1.ValidatingWebhook{Name: name, ClientConfig: cfg, Rules: rules,
			FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, TimeoutSeconds: ptr.To[int32](5)})
	}
	if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mutating, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, validating, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}
