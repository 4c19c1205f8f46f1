package kubecluster

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// serviceProxy does kube-proxy's job in the cluster's network namespace, the way kube-proxy's
// original userspace mode did it: it listens on each Service's cluster IP and TCP ports and
// forwards every connection to one of the Service's ready endpoints from its EndpointSlices
// (round robin; an endpoint that refuses is skipped for the next), so pods reach Services by
// their cluster IPs (the service links in their environment). Headless Services, UDP and
// session affinity are not served.
type serviceProxy struct {
	log    *slog.Logger
	slices discoverylisters.EndpointSliceLister
	mu     sync.Mutex
	ports  map[string]*proxyPort // by cluster IP:port
	next   atomic.Uint64
}

// proxyPort is one Service port being served.
type proxyPort struct {
	ln        net.Listener
	namespace string
	service   string
	portName  string
}

// startServiceProxy serves the cluster's Services until ctx is done.
func startServiceProxy(ctx context.Context, client kubernetes.Interface, log *slog.Logger) {
	f := informers.NewSharedInformerFactory(client, 0)
	p := &serviceProxy{log: log.With("component", "service-proxy"), slices: f.Discovery().V1().EndpointSlices().Lister(), ports: map[string]*proxyPort{}}
	_ = f.Discovery().V1().EndpointSlices().Informer() // registered before Start
	svcs := f.Core().V1().Services().Informer()
	_, _ = svcs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.serve(obj.(*corev1.Service)) },
		UpdateFunc: func(_, obj any) { p.serve(obj.(*corev1.Service)) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if s, ok := obj.(*corev1.Service); ok {
				p.stop(s, nil)
			}
		},
	})
	f.Start(ctx.Done())
	go func() {
		<-ctx.Done()
		f.Shutdown()
		p.mu.Lock()
		defer p.mu.Unlock()
		for key, pp := range p.ports {
			pp.ln.Close()
			delete(p.ports, key)
		}
	}()
}

// serve opens a listener for each TCP port of s and closes those of ports it no longer has.
func (p *serviceProxy) serve(s *corev1.Service) {
	ip := s.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone {
		return
	}
	keep := map[string]bool{}
	for _, port := range s.Spec.Ports {
		if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
			continue
		}
		key := net.JoinHostPort(ip, strconv.Itoa(int(port.Port)))
		keep[key] = true
		p.mu.Lock()
		_, open := p.ports[key]
		p.mu.Unlock()
		if open {
			continue
		}
		ln, err := net.Listen("tcp", key)
		if err != nil {
			p.log.Warn("cannot serve a service port", "service", s.Namespace+"/"+s.Name, "addr", key, "err", err)
			continue
		}
		pp := &proxyPort{ln: ln, namespace: s.Namespace, service: s.Name, portName: port.Name}
		p.mu.Lock()
		p.ports[key] = pp
		p.mu.Unlock()
		go p.accept(pp)
	}
	p.stop(s, keep)
}

// stop closes the listeners of s's ports not in keep.
func (p *serviceProxy) stop(s *corev1.Service, keep map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, pp := range p.ports {
		if pp.namespace == s.Namespace && pp.service == s.Name && !keep[key] {
			pp.ln.Close()
			delete(p.ports, key)
		}
	}
}

func (p *serviceProxy) accept(pp *proxyPort) {
	for {
		conn, err := pp.ln.Accept()
		if err != nil {
			return // closed
		}
		go p.forward(pp, conn)
	}
}

// forward connects conn to a ready endpoint of the port's Service and copies both ways; with
// none, the connection is closed at once (as a connection to a Service without endpoints is
// refused).
func (p *serviceProxy) forward(pp *proxyPort, conn net.Conn) {
	defer conn.Close()
	addrs := p.endpoints(pp)
	start := int(p.next.Add(1))
	for i := range addrs {
		up, err := net.DialTimeout("tcp", addrs[(start+i)%len(addrs)], time.Second)
		if err != nil {
			continue
		}
		defer up.Close()
		done := make(chan struct{})
		go func() {
			_, _ = io.Copy(up, conn)
			closeWrite(up)
			close(done)
		}()
		_, _ = io.Copy(conn, up)
		closeWrite(conn)
		<-done
		return
	}
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// endpoints lists the ready endpoint addresses of the port's Service, for the slice port of
// the same name.
func (p *serviceProxy) endpoints(pp *proxyPort) []string {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: pp.service})
	slices, _ := p.slices.EndpointSlices(pp.namespace).List(sel) // the informer's cache
	var out []string
	for _, s := range slices {
		var port int32
		for _, sp := range s.Ports {
			name := ""
			if sp.Name != nil {
				name = *sp.Name
			}
			if sp.Port != nil && name == pp.portName {
				port = *sp.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if (e.Conditions.Ready == nil || *e.Conditions.Ready) && len(e.Addresses) > 0 {
				out = append(out, net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(port))))
			}
		}
	}
	return out
}
