package kubecluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
)

// AggregatedAPI is an API group served beside the API server and reached through it (its
// aggregation layer), as metrics-server or prometheus-adapter are on EKS: an APIService
// names a Service in kube-system whose endpoint is this server's address in the pod network.
type AggregatedAPI struct {
	// Name is the APIService's (version.group).
	Name string
	// Addr is where the server listens.
	Addr   netip.AddrPort
	srv    *http.Server
	done   chan struct{}
	remove func(context.Context) error
}

// APIGroup names what [Cluster.ServeAPI] serves: an API group version and the Service that
// fronts it in kube-system.
type APIGroup struct {
	Group, Version, Service string
}

// aggregatedAPIAddr is where the cluster's aggregated APIs listen: the pod network's second
// address (the first is the interface's; the node agents' pods start at x.x.1.1).
func (c *Cluster) aggregatedAPIAddr() netip.Addr { return c.podNetwork.Masked().Addr().Next().Next() }

// AvailableTimeout bounds how long [Cluster.ServeAPI] waits for the API server to call the
// new API group available.
const AvailableTimeout = time.Minute

// ServeAPI serves g with h over TLS and registers it with the API server, which proxies the
// group's requests to it once it is Available. The server trusts only the API server's
// proxy: a client certificate of the front-proxy CA with the front-proxy client's name
// (authentication is the API server's; it has authorised the request before proxying it).
// The cluster must have its pod network: the API server refuses loopback endpoints.
func (c *Cluster) ServeAPI(ctx context.Context, g APIGroup, h http.Handler) (*AggregatedAPI, error) {
	if !c.podNetwork.IsValid() {
		return nil, errors.New("kubecluster: an aggregated API needs the cluster's pod network (its Service's endpoint cannot be a loopback address)")
	}
	a := &AggregatedAPI{Name: g.Version + "." + g.Group, done: make(chan struct{})}
	cfg, err := c.aggregatedTLS(g)
	if err != nil {
		return nil, fmt.Errorf("kubecluster: %s: %w", a.Name, err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(c.aggregatedAPIAddr().String(), "0"))
	if err != nil {
		return nil, fmt.Errorf("kubecluster: %s: %w", a.Name, err)
	}
	a.Addr = netip.MustParseAddrPort(ln.Addr().String())
	a.srv = &http.Server{Handler: onlyFromTheAPIServer(h), TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(a.done)
		_ = a.srv.ServeTLS(ln, "", "")
	}()
	if a.remove, err = c.registerAPIService(ctx, g, a.Name, a.Addr); err != nil {
		a.Close()
		return nil, fmt.Errorf("kubecluster: %s: %w", a.Name, err)
	}
	return a, nil
}

// Close unregisters the API group and stops its server.
func (a *AggregatedAPI) Close() {
	if a.remove != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = a.remove(ctx)
		cancel()
	}
	_ = a.srv.Close()
	<-a.done
}

// aggregatedTLS is g's server side: a serving certificate of the cluster CA for its
// Service's name, and client certificates of the front-proxy CA required.
func (c *Cluster) aggregatedTLS(g APIGroup) (*tls.Config, error) {
	sub, err := c.pki.under(g.Service)
	if err != nil {
		return nil, err
	}
	host := g.Service + "." + metav1.NamespaceSystem + ".svc"
	if err := sub.issue("tls.crt", "tls.key", pkix.Name{CommonName: host}, x509.ExtKeyUsageServerAuth, nil, []string{host}); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(sub.path("tls.crt"), sub.path("tls.key"))
	if err != nil {
		return nil, err
	}
	frontCA, err := os.ReadFile(c.pki.path(frontProxyCAFile))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(frontCA) {
		return nil, errors.New("front-proxy CA: no certificate")
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// onlyFromTheAPIServer refuses a request whose client certificate, though of the front-proxy
// CA, is not the API server's proxy client's (--requestheader-allowed-names).
func onlyFromTheAPIServer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != frontProxyClientCommon {
			http.Error(w, "only the API server's proxy may call this server", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

var apiServiceResource = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// registerAPIService creates g's Service and EndpointSlice in kube-system, the slice's one
// endpoint addr, and its APIService name, and waits until the API server reports it
// Available; remove deletes the three.
func (c *Cluster) registerAPIService(ctx context.Context, g APIGroup, name string, addr netip.AddrPort) (remove func(context.Context) error, err error) {
	cs, err := c.Client()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	meta := metav1.ObjectMeta{Name: g.Service, Namespace: metav1.NamespaceSystem, Labels: map[string]string{"app.kubernetes.io/managed-by": "ddp-verify"}}
	svc := &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(int32(addr.Port()))}}}}
	// No selector: the Service's one endpoint is this server, in a slice of its own.
	port, ready := int32(addr.Port()), true
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: g.Service, Namespace: meta.Namespace, Labels: map[string]string{
			discoveryv1.LabelServiceName: g.Service, discoveryv1.LabelManagedBy: "ddp-verify"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr.Addr().String()}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: &port}},
	}
	if err := createOrReplace(ctx, func() error {
		_, err := cs.CoreV1().Services(meta.Namespace).Create(ctx, svc, metav1.CreateOptions{})
		return err
	},
		func() error {
			return cs.CoreV1().Services(meta.Namespace).Delete(ctx, meta.Name, metav1.DeleteOptions{})
		}); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	slices := cs.DiscoveryV1().EndpointSlices(meta.Namespace)
	if err := createOrReplace(ctx, func() error { _, err := slices.Create(ctx, slice, metav1.CreateOptions{}); return err },
		func() error { return slices.Delete(ctx, slice.Name, metav1.DeleteOptions{}) }); err != nil {
		return nil, fmt.Errorf("endpointslice: %w", err)
	}
	caPEM, err := os.ReadFile(c.pki.path(caCertFile))
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": name, "labels": map[string]any{"app.kubernetes.io/managed-by": "ddp-verify"}},
		"spec": map[string]any{
			"group": g.Group, "version": g.Version,
			"service":              map[string]any{"namespace": meta.Namespace, "name": meta.Name, "port": int64(443)},
			"caBundle":             base64.StdEncoding.EncodeToString(caPEM), // a []byte field
			"groupPriorityMinimum": int64(100), "versionPriority": int64(100),
		},
	}}
	api := dyn.Resource(apiServiceResource)
	if err := createOrReplace(ctx, func() error { _, err := api.Create(ctx, obj, metav1.CreateOptions{}); return err },
		func() error { return api.Delete(ctx, name, metav1.DeleteOptions{}) }); err != nil {
		return nil, fmt.Errorf("apiservice: %w", err)
	}
	remove = func(ctx context.Context) error {
		return errors.Join(api.Delete(ctx, name, metav1.DeleteOptions{}),
			cs.CoreV1().Services(meta.Namespace).Delete(ctx, meta.Name, metav1.DeleteOptions{}),
			slices.Delete(ctx, slice.Name, metav1.DeleteOptions{}))
	}
	return remove, awaitAvailable(ctx, api, name)
}

// createOrReplace creates an object, deleting a leftover of the same name first.
func createOrReplace(ctx context.Context, create, remove func() error) error {
	err := create()
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	if err := remove(); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	for {
		if err := create(); !apierrors.IsAlreadyExists(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// awaitAvailable waits for the APIService's Available condition, and says the API server's
// reason when it does not come.
func awaitAvailable(ctx context.Context, api dynamic.NamespaceableResourceInterface, name string) error {
	ctx, cancel := context.WithTimeout(ctx, AvailableTimeout)
	defer cancel()
	last := "no status yet"
	for {
		obj, err := api.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] != "Available" {
					continue
				}
				if m["status"] == "True" {
					return nil
				}
				last = fmt.Sprintf("%v: %v", m["reason"], m["message"])
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not Available within %s: %s", AvailableTimeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
