package kubecluster

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
)

// PodNetwork is the pod address range of a cluster in its own network namespace (the one
// [RunInNetworkNamespace] makes): Kubernetes' customary 10.244.0.0/16. Its addresses are what
// the API server accepts in EndpointSlices, where it refuses loopback ones, so the real
// EndpointSlice controller publishes the pods' endpoints and Services can be routed.
var PodNetwork = netip.MustParsePrefix("10.244.0.0/16")

// ServiceNetwork is the range the API server gives Services their cluster IPs from
// (--service-cluster-ip-range); in the cluster's own network namespace it is on the loopback
// interface too, where the service proxy listens.
var ServiceNetwork = netip.MustParsePrefix("10.0.0.0/24")

// netnsEnv marks the process [RunInNetworkNamespace] started.
const netnsEnv = "DDP_KUBECLUSTER_NETNS"

// InNetworkNamespace reports whether this process runs in a network namespace that
// [RunInNetworkNamespace] made (and [SetUpPodNetwork] prepared).
func InNetworkNamespace() bool { return os.Getenv(netnsEnv) == "1" }

// checkPodNetwork fails unless the addresses of p and of [ServiceNetwork] can be listened on
// here: they must be on one of this network namespace's interfaces.
func checkPodNetwork(p netip.Prefix) error {
	if !p.IsValid() {
		return nil
	}
	for _, r := range []netip.Prefix{p, ServiceNetwork} {
		probe := r.Masked().Addr().Next().Next()
		if err := reachable(probe); err != nil {
			return fmt.Errorf("network %s is not on this machine's interfaces (%v): run the cluster in its own network namespace (kubecluster.RunInNetworkNamespace and SetUpPodNetwork)", r, err)
		}
	}
	return nil
}

// reachable listens on addr and connects to it: a socket can be bound to an address that no
// interface that is up carries (a new network namespace's), so binding alone proves nothing.
func reachable(addr netip.Addr) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(addr.String(), "0"))
	if err != nil {
		return err
	}
	defer ln.Close()
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}

// interfaceAddr is p's first address with p's length, as an interface carries it
// (10.244.0.1/16: every address of p local).
func interfaceAddr(p netip.Prefix) string {
	return netip.PrefixFrom(p.Masked().Addr().Next(), p.Bits()).String()
}
