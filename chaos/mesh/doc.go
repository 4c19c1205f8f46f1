// Package mesh is the Chaos Mesh backend of the chaos engine: it turns faults into typed
// PodChaos, NetworkChaos and AWSChaos objects in a Kubernetes cluster and confirms them from
// the objects' conditions and records.
//
// # Objects
//
//   - zone-outage power-loss: a PodChaos pod-failure selecting Running pods in the explicit
//     namespaces with nodeSelectors on topology.kubernetes.io/zone; the zone's nodes are
//     cordoned for the window. With [Options.AWS], one AWSChaos ec2-stop per node of the zone
//     instead (AWS FIS's AZ power interruption), created together, without cordons.
//   - zone-outage partition: a NetworkChaos partition, direction both, between the pods on
//     the zone's nodes and the pods on every other zone's nodes, resolved from the Node
//     labels at injection.
//   - node-failure: a PodChaos pod-failure on nodes [names] plus a cordon, or with
//     [Options.AWS] one AWSChaos ec2-stop per node, the instance taken from spec.providerID.
//   - pod-kill: a PodChaos pod-kill of the exact pods selected.
//   - network-delay: a NetworkChaos delay of the selected pods.
//
// Every object carries the labels [LabelManagedBy], [LabelRunID] and [LabelFault] and a
// spec.duration, so Chaos Mesh recovers the cluster even if ddp-verify dies. After create
// the backend never writes a chaos object's spec or status (chaos kinds have no status
// subresource; the controller owns status): it only reads them and deletes them. Cordons
// are marked with the [LabelCordonedBy] label so that recovery and [Backend.Cleanup]
// uncordon only nodes this tool cordoned.
//
// Injection is confirmed when the AllInjected condition is True, recovery when the object is
// gone or, while its finalizer runs, AllRecovered is True. Per-pod times come from the
// records' events. NetworkChaos partitionBehavior is never set, so the objects are accepted
// by CRDs that predate it.
package mesh
