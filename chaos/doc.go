// Package chaos holds the fault model, the guardrails and the scheduler that injects faults
// at their planned offsets and always undoes them.
//
// # Model
//
// A [Fault] is one planned failure: a [Kind] (zone-outage, node-failure, pod-kill,
// network-delay), an offset from the start of the run ([Fault.At]), how long it stays in
// force ([Fault.Duration]) and a [Target]. [Fault.Validate] reports every problem with the
// field that holds it.
//
// # Backends
//
// A [Backend] turns a fault into real failures: chaos/mesh creates Chaos Mesh objects in a
// Kubernetes cluster, chaos/local kills and isolates the reference platform's node processes
// through its control API. A backend first says what a fault would hit ([Backend.Select],
// the blast radius as an [Impact]), so the scheduler can apply the [Guardrails] uniformly
// before anything is touched.
//
// # Scheduler
//
// [Scheduler.Run] runs every fault on the run's clock and returns one [Result] per fault
// with the tool's own observation times and the backend's times for: submitted, targets
// selected, injected, recovery requested, recovered. Whatever ends the run (the context,
// an error of any fault, or the last fault's recovery) every fault that was submitted is
// recovered, and the wait for each recovery is bounded by [WithRecoveryTimeout]; what could
// not be recovered is reported in a [LeftoverError].
//
//	sched := chaos.NewScheduler(backend, faults,
//		chaos.WithClock(clk), chaos.WithGuardrails(g), chaos.WithLogger(log))
//	results, err := sched.Run(ctx)
package chaos
