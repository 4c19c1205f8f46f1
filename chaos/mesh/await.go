package mesh

import (
	"context"
	"fmt"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// errTimedOut is returned by await when its own bound (not the caller's context) expired.
var errTimedOut = fmt.Errorf("timed out")

// await calls check with each state of obj until it reports done, bounded by timeout.
// It watches the object when the client can, because the controller's last status before
// an object goes (AllRecovered and the Recover events) is visible only in the watch's
// Deleted event; a poller would often see only "gone". Without watch support it polls.
func (b *Backend) await(ctx context.Context, obj client.Object, timeout time.Duration, check func(o client.Object, gone bool) (bool, error)) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	key := client.ObjectKeyFromObject(obj)
	wc, canWatch := b.c.(client.WithWatch)
	fail := func(err error) error {
		if parent.Err() == nil && ctx.Err() != nil {
			return errTimedOut
		}
		return err
	}
	replayed := false
	for {
		err := b.c.Get(ctx, key, obj) // on error obj keeps the last state read
		gone := apierrors.IsNotFound(err)
		if err != nil && !gone {
			return fail(fmt.Errorf("read %s: %w", describe(obj), err))
		}
		if gone && canWatch && !replayed && obj.GetResourceVersion() != "" {
			// The object went before this look (a fast controller): its last states, with
			// the controller's final status, are still in the watch history after the
			// version last read, up to the Deleted event.
			replayed = true
			w, err := wc.Watch(ctx, listFor(obj), client.InNamespace(key.Namespace),
				client.MatchingFields{"metadata.name": key.Name},
				&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: obj.GetResourceVersion()}})
			if err == nil {
				done, err := consume(ctx, w, check)
				w.Stop()
				if done || err != nil {
					return err
				}
			}
		}
		if done, err := check(obj, gone); done || err != nil {
			return err
		}
		if !canWatch {
			t := time.NewTimer(b.opts.PollInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return fail(ctx.Err())
			case <-t.C:
			}
			continue
		}
		w, err := wc.Watch(ctx, listFor(obj), client.InNamespace(key.Namespace),
			client.MatchingFields{"metadata.name": key.Name},
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: obj.GetResourceVersion()}})
		if err != nil {
			return fail(fmt.Errorf("watch %s: %w", describe(obj), err))
		}
		done, err := consume(ctx, w, check)
		w.Stop()
		if done || err != nil {
			return err
		}
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		// The watch ended (expired resource version, server restart): read again and rewatch.
	}
}

func consume(ctx context.Context, w watch.Interface, check func(o client.Object, gone bool) (bool, error)) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, nil
			}
			o, isObj := ev.Object.(client.Object)
			switch {
			case ev.Type == watch.Error || !isObj:
				return false, nil
			case ev.Type == watch.Deleted:
				if done, err := check(o, false); done || err != nil {
					return done, err
				}
				return check(o, true)
			default:
				if done, err := check(o, false); done || err != nil {
					return done, err
				}
			}
		}
	}
}

func listFor(obj client.Object) client.ObjectList {
	switch obj.(type) {
	case *v1alpha1.PodChaos:
		return &v1alpha1.PodChaosList{}
	case *v1alpha1.NetworkChaos:
		return &v1alpha1.NetworkChaosList{}
	case *v1alpha1.AWSChaos:
		return &v1alpha1.AWSChaosList{}
	}
	panic(fmt.Sprintf("mesh: no list type for %T", obj))
}
