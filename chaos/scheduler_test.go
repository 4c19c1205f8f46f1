package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"k8s.io/utils/clock"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/chaos/chaostest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func nodeFault(id string, at, d time.Duration) chaos.Fault {
	return chaos.Fault{ID: id, Kind: chaos.NodeFailure, At: at, Duration: d, Target: chaos.Target{Node: "n-" + id}}
}

var fullCycle = []string{"select", "inject", "wait-injected", "recover", "wait-recovered"}

func TestSchedulerRunsFaultsAtTheirOffsets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &chaostest.Backend{}
		faults := []chaos.Fault{
			nodeFault("late", 25*time.Second, 5*time.Second),
			nodeFault("early", 10*time.Second, 30*time.Second),
		}
		start := time.Now()
		res, err := chaos.NewScheduler(b, faults, chaos.WithClock(clock.RealClock{})).Run(t.Context())
		require.NoError(t, err)
		require.Len(t, res, 2)

		late, early := res[0], res[1]
		for _, c := range []struct {
			r                                   chaos.Result
			submitted, injected, requested, rec time.Duration
		}{
			{late, 25 * time.Second, 25 * time.Second, 30 * time.Second, 30 * time.Second},
			{early, 10 * time.Second, 10 * time.Second, 40 * time.Second, 40 * time.Second},
		} {
			assert.Equal(t, chaos.Recovered, c.r.Phase, c.r.Fault.ID)
			assert.Equal(t, start.Add(c.submitted), c.r.Submitted.Tool, c.r.Fault.ID)
			assert.Equal(t, start.Add(c.submitted), c.r.TargetsSelected.Tool, c.r.Fault.ID)
			assert.Equal(t, start.Add(c.injected), c.r.Injected.Tool, c.r.Fault.ID)
			assert.Equal(t, start.Add(c.requested), c.r.RecoveryRequested.Tool, c.r.Fault.ID)
			assert.Equal(t, start.Add(c.rec), c.r.Recovered.Tool, c.r.Fault.ID)
			// The backend's own times are kept beside the tool's.
			assert.Equal(t, start.Add(c.submitted-time.Second), c.r.Submitted.Backend, c.r.Fault.ID)
			assert.Equal(t, start.Add(c.injected-time.Millisecond), c.r.Injected.Backend, c.r.Fault.ID)
			assert.Equal(t, start.Add(c.rec-2*time.Millisecond), c.r.Recovered.Backend, c.r.Fault.ID)
			assert.Equal(t, c.r.Fault.Duration, c.r.InForce(), c.r.Fault.ID)
			assert.Equal(t, []string{"node-" + c.r.Fault.ID}, c.r.Targets)
			assert.Equal(t, fullCycle, b.CallsFor(c.r.Fault.ID))
		}
	})
}

func TestSchedulerRecoversOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &chaostest.Backend{}
		faults := []chaos.Fault{nodeFault("held", 0, time.Hour), nodeFault("later", 2*time.Hour, time.Minute)}
		ctx, cancel := context.WithCancel(t.Context())
		sched := chaos.NewScheduler(b, faults)
		start := time.Now()
		var (
			res []chaos.Result
			err error
		)
		done := make(chan struct{})
		go func() { defer close(done); res, err = sched.Run(ctx) }()

		time.Sleep(10 * time.Minute) // virtual time in the synctest bubble: the clock jumps 10 minutes
		synctest.Wait()
		active := sched.Active()
		require.Len(t, active, 1, "one fault in force for the progress line")
		assert.Equal(t, "held", active[0].Fault.ID)
		assert.Equal(t, chaos.Injected, active[0].Phase)
		all := sched.Results()
		require.Len(t, all, 2, "every fault's record, pending ones too")
		assert.Equal(t, chaos.Pending, all[1].Phase)
		all[0].Phase = chaos.Left // a snapshot: changing it changes nothing in the scheduler
		assert.Equal(t, chaos.Injected, sched.Results()[0].Phase)

		cancel() // Ctrl-C
		<-done
		require.NoError(t, err, "a cancelled run that recovered everything is not an error")
		assert.Equal(t, chaos.Recovered, res[0].Phase)
		assert.Equal(t, start.Add(10*time.Minute), res[0].Recovered.Tool)
		assert.Equal(t, chaos.Skipped, res[1].Phase)
		assert.Empty(t, b.CallsFor("later"))
		assert.Empty(t, sched.Active())
		assert.Equal(t, res, sched.Results(), "the records Run returned")
	})
}

func TestSchedulerRecoversEverythingOnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("API server said no")
		b := &chaostest.Backend{InjectErr: map[string]error{"bad": boom}}
		faults := []chaos.Fault{
			nodeFault("good", 0, time.Hour),
			nodeFault("bad", 5*time.Minute, time.Minute),
			nodeFault("never", 2*time.Hour, time.Minute),
		}
		start := time.Now()
		res, err := chaos.NewScheduler(b, faults).Run(t.Context())
		require.ErrorIs(t, err, boom)
		assert.ErrorContains(t, err, "fault bad: inject")
		assert.Equal(t, chaos.Recovered, res[0].Phase)
		assert.Equal(t, start.Add(5*time.Minute), res[0].Recovered.Tool, "recovered when the other fault failed, not after its hour")
		assert.Equal(t, chaos.Failed, res[1].Phase)
		assert.Contains(t, res[1].Error, "API server said no")
		assert.Equal(t, chaos.Skipped, res[2].Phase)
	})
}

func TestSchedulerRecoversAFaultThatWasNotConfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &chaostest.Backend{WaitInjectedErr: map[string]error{"slow": errors.New("not AllInjected after 2m0s")}}
		res, err := chaos.NewScheduler(b, []chaos.Fault{nodeFault("slow", 0, time.Hour)}).Run(t.Context())
		require.ErrorContains(t, err, "fault slow: confirm injection: not AllInjected after 2m0s")
		assert.Equal(t, chaos.Failed, res[0].Phase)
		assert.Equal(t, fullCycle, b.CallsFor("slow"), "what was applied is recovered")
		assert.False(t, res[0].Recovered.Tool.IsZero())
	})
}

func TestSchedulerBoundsTheRecoveryWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &chaostest.Backend{HangRecovered: map[string]bool{"stuck": true}}
		faults := []chaos.Fault{nodeFault("stuck", 0, 10*time.Minute), nodeFault("fine", 0, 10*time.Minute)}
		start := time.Now()
		res, err := chaos.NewScheduler(b, faults, chaos.WithRecoveryTimeout(2*time.Minute)).Run(t.Context())
		var left *chaos.LeftoverError
		require.ErrorAs(t, err, &left)
		require.Len(t, left.Faults, 1)
		assert.Equal(t, "stuck", left.Faults[0].Fault.ID)
		assert.ErrorContains(t, err, "obj-stuck")
		assert.ErrorContains(t, err, "node-stuck")
		assert.ErrorContains(t, err, "recovery not confirmed within 2m0s")
		assert.ErrorContains(t, err, "ddp-verify chaos cleanup")
		assert.Equal(t, chaos.Left, res[0].Phase)
		assert.Equal(t, chaos.Recovered, res[1].Phase)
		assert.Equal(t, start.Add(12*time.Minute), time.Now(), "Run returned when the bound expired")
	})
}

func TestSchedulerBoundsRecoveryAfterCancelDuringInjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &chaostest.Backend{HangInjected: map[string]bool{"f": true}}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		var res []chaos.Result
		go func() {
			var err error
			res, err = chaos.NewScheduler(b, []chaos.Fault{nodeFault("f", 0, time.Hour)}).Run(ctx)
			done <- err
		}()
		time.Sleep(time.Minute) // virtual time in the synctest bubble: the clock jumps a minute
		cancel()
		require.NoError(t, <-done)
		assert.Equal(t, fullCycle, b.CallsFor("f"), "an object whose injection was never confirmed is still recovered")
		assert.Equal(t, chaos.Recovered, res[0].Phase)
		assert.True(t, res[0].Injected.Tool.IsZero())
	})
}

func TestSchedulerRefusesByGuardrailsBeforeInjecting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &chaostest.Backend{Impact: map[string]chaos.Impact{
			"dns": {Pods: []chaos.Pod{{Namespace: "kube-system", Name: "coredns-1"}}, TotalPods: 100, Namespaces: []string{"kube-system"}},
		}}
		f := chaos.Fault{ID: "dns", Kind: chaos.PodKill, Duration: time.Minute, Target: chaos.Target{Namespace: "kube-system", Selector: map[string]string{"k8s-app": "kube-dns"}}}
		res, err := chaos.NewScheduler(b, []chaos.Fault{f}, chaos.WithGuardrails(chaos.Guardrails{Namespaces: []string{"kube-system"}})).Run(t.Context())
		require.ErrorIs(t, err, chaos.ErrRefused)
		assert.Equal(t, chaos.Refused, res[0].Phase)
		assert.Equal(t, []string{"select"}, b.CallsFor("dns"))
		assert.Equal(t, []string{"kube-system/coredns-1"}, res[0].Targets)
	})
}

func TestSchedulerRejectsInvalidFaults(t *testing.T) {
	b := &chaostest.Backend{}
	faults := []chaos.Fault{nodeFault("a", 0, time.Minute), nodeFault("a", 0, 0)}
	_, err := chaos.NewScheduler(b, faults).Run(t.Context())
	require.Error(t, err)
	assert.ErrorContains(t, err, "chaos[1].duration: must be positive")
	assert.ErrorContains(t, err, `chaos[1].id: "a" is already used by chaos[0]`)
	assert.Empty(t, b.Calls())
}

func ExampleScheduler() {
	// A run orchestrator builds the scheduler from the profile's faults and a backend.
	faults := []chaos.Fault{{ID: "gpu-node", Kind: chaos.NodeFailure, At: 0, Duration: time.Millisecond,
		Target: chaos.Target{Pool: "gpu", Count: 1}}}
	sched := chaos.NewScheduler(&chaostest.Backend{}, faults,
		chaos.WithGuardrails(chaos.Guardrails{Namespaces: []string{"dailydoco"}}))
	results, err := sched.Run(context.Background())
	fmt.Println(results[0].Phase, results[0].Targets, err)
	// Output: recovered [node-gpu-node] <nil>
}
