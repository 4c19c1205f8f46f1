package gateway

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// KubernetesRouting routes each service to the ready endpoints of a Kubernetes Service, read
// from its EndpointSlices as an ingress controller (ingress-nginx, the AWS load balancer
// controller in IP mode) reads them: an endpoint takes requests while the EndpointSlice
// controller reports it ready, so readiness, pod deletion and rescheduling change routing when
// they would on a cluster. The gateway does not probe the endpoints itself.
type KubernetesRouting struct {
	Namespace string
	// Services maps a routed service (api, dashboard) to the name of its Kubernetes Service.
	Services map[string]string
}

// passiveFailTimeout is how long an endpoint that refused a connection is left out of the
// rotation when the EndpointSlices still list it ready (nginx's max_fails 1, fail_timeout 10s).
const passiveFailTimeout = 10 * time.Second

// FollowEndpointSlices keeps g's backends the ready endpoints of the Services that k names
// until ctx is done. It returns once the slices have been listed once, so that the gateway
// routes from the start.
func FollowEndpointSlices(ctx context.Context, client kubernetes.Interface, k KubernetesRouting, g *Gateway) error {
	names := make([]string, 0, len(k.Services))
	byName := map[string]string{}
	for svc, name := range k.Services {
		names = append(names, name)
		byName[name] = svc
	}
	sel, err := labels.NewRequirement(discoveryv1.LabelServiceName, selection.In, names)
	if err != nil {
		return fmt.Errorf("kubernetes routing: %w", err)
	}
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(k.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel.String() }))
	inf := f.Discovery().V1().EndpointSlices()
	lister := inf.Lister()
	g.routeFromSlices()
	update := func() { g.SetEndpoints(readyEndpoints(lister, byName)) }
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { update() },
		UpdateFunc: func(any, any) { update() },
		DeleteFunc: func(any) { update() },
	})
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return fmt.Errorf("kubernetes routing: the EndpointSlices of %v could not be listed: %w", names, ctx.Err())
	}
	update()
	go func() {
		<-ctx.Done()
		f.Shutdown()
	}()
	return nil
}

// readyEndpoints lists the ready endpoints of the slices as backends, in a stable order.
func readyEndpoints(lister discoverylisters.EndpointSliceLister, byName map[string]string) []Backend {
	slices, _ := lister.List(labels.Everything()) // the informer's cache: never an error
	var out []Backend
	for _, s := range slices {
		svc, ok := byName[s.Labels[discoveryv1.LabelServiceName]]
		if !ok || len(s.Ports) == 0 || s.Ports[0].Port == nil {
			continue
		}
		port := strconv.Itoa(int(*s.Ports[0].Port))
		for _, e := range s.Endpoints {
			if (e.Conditions.Ready != nil && !*e.Conditions.Ready) || len(e.Addresses) == 0 {
				continue // nil means ready (the API's rule)
			}
			b := Backend{Service: svc, URL: "http://" + net.JoinHostPort(e.Addresses[0], port), Name: e.Addresses[0]}
			if e.TargetRef != nil {
				b.Name = e.TargetRef.Name
			}
			if e.NodeName != nil {
				b.Node = *e.NodeName
			}
			if e.Zone != nil {
				b.Zone = *e.Zone
			}
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out
}
