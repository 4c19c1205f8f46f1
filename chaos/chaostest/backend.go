// Package chaostest has test doubles for package chaos.
package chaostest

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/dailydoco/ddp-verify/chaos"
)

// Backend is a [chaos.Backend] whose behaviour per fault ID is set by the test, and which
// records every call. It stands in for a platform so that the scheduler's timing and undo
// logic, and a run's sequencing, can be tested without one; the real backends have their own
// tests against real servers. The zero value injects and recovers every fault at once.
type Backend struct {
	mu sync.Mutex
	// InjectErr and WaitInjectedErr make a fault's Inject or WaitInjected fail.
	InjectErr       map[string]error
	WaitInjectedErr map[string]error
	// HangInjected and HangRecovered make WaitInjected / WaitRecovered block until their
	// context ends, as a backend whose platform never confirms does.
	HangInjected  map[string]bool
	HangRecovered map[string]bool
	Impact        map[string]chaos.Impact
	// OnInjected, when set, is called each time a fault is confirmed in force.
	OnInjected func()
	calls      []string
}

func (b *Backend) record(call string, f chaos.Fault) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, call+" "+f.ID)
}

func (b *Backend) Select(_ context.Context, f chaos.Fault) (chaos.Impact, error) {
	b.record("select", f)
	if im, ok := b.Impact[f.ID]; ok {
		return im, nil
	}
	return chaos.Impact{Nodes: []string{"node-" + f.ID}, TotalNodes: 10}, nil
}

func (b *Backend) Inject(_ context.Context, f chaos.Fault, im chaos.Impact) (*chaos.Injection, error) {
	b.record("inject", f)
	if err := b.InjectErr[f.ID]; err != nil {
		return nil, err
	}
	return &chaos.Injection{Fault: f, Impact: im, Objects: []string{"obj-" + f.ID}, SubmittedAt: time.Now().Add(-time.Second)}, nil
}

func (b *Backend) WaitInjected(ctx context.Context, inj *chaos.Injection) (time.Time, error) {
	b.record("wait-injected", inj.Fault)
	if b.HangInjected[inj.Fault.ID] {
		<-ctx.Done()
		return time.Time{}, ctx.Err()
	}
	if err := b.WaitInjectedErr[inj.Fault.ID]; err != nil {
		return time.Time{}, err
	}
	if b.OnInjected != nil {
		b.OnInjected()
	}
	return time.Now().Add(-time.Millisecond), nil
}

func (b *Backend) Recover(_ context.Context, inj *chaos.Injection) (time.Time, error) {
	b.record("recover", inj.Fault)
	return time.Now(), nil
}

func (b *Backend) WaitRecovered(ctx context.Context, inj *chaos.Injection) (time.Time, error) {
	b.record("wait-recovered", inj.Fault)
	if b.HangRecovered[inj.Fault.ID] {
		<-ctx.Done()
		return time.Time{}, ctx.Err()
	}
	return time.Now().Add(-2 * time.Millisecond), nil
}

func (b *Backend) Cleanup(context.Context, string) (chaos.CleanupReport, error) {
	return chaos.CleanupReport{}, nil
}

func (b *Backend) CallsFor(id string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, c := range b.calls {
		if strings.HasSuffix(c, " "+id) {
			out = append(out, strings.TrimSuffix(c, " "+id))
		}
	}
	return out
}

// Calls lists every call so far as "call fault-id".
func (b *Backend) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...)
}

var _ chaos.Backend = (*Backend)(nil)
