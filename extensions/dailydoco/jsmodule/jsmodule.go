// Package jsmodule is the DailyDoco client as the JavaScript module "k6/x/dailydoco", the
// equivalent of an xk6 extension for the k6 scripts package k6script runs: a script imports it
// and drives the same typed client the built-in journeys use (package dailydoco), so its
// requests carry the same step names, its checks the same names, and its journey-level
// timings land in the same trends and Prometheus histogram.
//
//	import dailydoco from "k6/x/dailydoco";
//
//	export default function () {
//	  const c = dailydoco.client("capture"); // steps "capture.<step>"
//	  c.login(__ENV.EMAIL, __ENV.PASSWORD);
//	  const v = c.capture({ title: "demo", resolution: "1080p", media_seconds: 45 });
//	  c.waitReady(v);
//	}
//
// docs/scripts.md lists every function.
package jsmodule

import (
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/dop251/goja"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
	"github.com/dailydoco/ddp-verify/k6script"
	"github.com/dailydoco/ddp-verify/load"
)

// Name is the module's import path.
const Name = "k6/x/dailydoco"

// TrendJourneyDuration is the engine trend that journey() records (the built-in journeys'
// journey_duration, tag step = the journey's name).
const TrendJourneyDuration = "journey_duration"

// Extension returns the module for k6script.WithExtension: the clients it makes use cfg
// (its BaseURL is the default base URL; Metrics, polls, upload speed and chunk bound as the
// built-in journeys' Target gives them).
func Extension(cfg dailydoco.Config) k6script.Extension {
	return k6script.Extension{
		Name:    Name,
		Exports: []string{"client", "journey", "draw", "random"},
		New: func(m *k6script.ModuleContext) map[string]any {
			mod := &module{m: m, cfg: cfg}
			return map[string]any{"client": mod.client, "journey": mod.journey, "draw": mod.draw,
				"random": func() float64 { return mod.vu("random").Rand().Float64() }}
		},
	}
}

type module struct {
	m   *k6script.ModuleContext
	cfg dailydoco.Config
}

// vu is the running call's VU; the client's calls need one (not the init code, setup or
// teardown).
func (mod *module) vu(fn string) *load.VU {
	vu := mod.m.VU()
	if vu == nil {
		mod.m.Throw("%s.%s: only in a VU's iteration (not in the init code, setup or teardown)", Name, fn)
	}
	return vu
}

// client(journey, {baseURL}) returns a client whose requests are the steps "<journey>.<step>".
func (mod *module) client(journey string, opts goja.Value) *goja.Object {
	vu := mod.vu("client")
	cfg := mod.cfg
	if o, ok := opts.(*goja.Object); ok {
		for _, k := range o.Keys() {
			switch k {
			case "baseURL":
				cfg.BaseURL = o.Get(k).String()
			default:
				mod.m.Throw("%s.client: option %q is not supported (baseURL is)", Name, k)
			}
		}
	}
	if cfg.BaseURL == "" {
		mod.m.Throw("%s.client: no base URL (give {baseURL: ...})", Name)
	}
	return (&client{mod: mod, vu: vu, c: dailydoco.New(vu, &cfg, journey), finished: map[string]time.Time{}, requested: map[string]time.Time{}}).object()
}

// journey(name, fn) runs fn as one journey: its duration is the journey_duration trend tagged
// with name, as the built-in mix records each journey. fn's exception is rethrown.
func (mod *module) journey(name string, fn goja.Callable) goja.Value {
	vu := mod.vu("journey")
	if fn == nil {
		mod.m.Throw("%s.journey(%q): want a function", Name, name)
	}
	start := vu.Now()
	v, err := fn(goja.Undefined())
	if mod.m.Context().Err() == nil {
		vu.Trend(TrendJourneyDuration, name, vu.Now().Sub(start))
	}
	if err != nil {
		panic(err)
	}
	return v
}

// draw(weights) picks a key of weights ({name: weight}) by weight with the VU's own random
// source (seeded from the run's seed, as the built-in mix draws).
func (mod *module) draw(weights map[string]float64) string {
	vu := mod.vu("draw")
	names, total := slices.Sorted(maps.Keys(weights)), 0.0
	for _, n := range names {
		if w := weights[n]; w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			mod.m.Throw("%s.draw: weight of %q is %v, want >= 0", Name, n, w)
		}
		total += weights[n]
	}
	if total <= 0 {
		mod.m.Throw("%s.draw: want at least one positive weight", Name)
	}
	x := vu.Rand().Float64() * total
	for _, n := range names {
		if x < weights[n] {
			return n
		}
		x -= weights[n]
	}
	return names[len(names)-1]
}

// client is one dailydoco.Client in JavaScript.
type client struct {
	mod       *module
	vu        *load.VU
	c         *dailydoco.Client
	finished  map[string]time.Time // video id: when capture() finished it, for waitReady
	requested map[string]time.Time // export id: when requestExport() asked for it, for waitExport
}

func (cl *client) object() *goja.Object {
	o := cl.mod.m.Runtime().NewObject()
	for name, fn := range map[string]any{
		"register": func(email, password, name string) goja.Value {
			return cl.result(cl.c.Register(cl.ctx(), email, password, name))
		},
		"login":    func(email, password string) goja.Value { return cl.result(cl.c.Login(cl.ctx(), email, password)) },
		"setToken": cl.c.SetToken,
		"token":    cl.c.Token,
		"requests": cl.c.Requests,
		"me":       func() goja.Value { return cl.result(cl.c.Me(cl.ctx())) },
		"dashboard": func() goja.Value {
			d, err := cl.c.Dashboard(cl.ctx())
			cl.throwIf(err)
			return cl.toJS(map[string]any{"assets": d.Assets, "requests": d.Requests,
				"duration": float64(d.Duration) / float64(time.Millisecond), "user": d.User, "videos": d.Videos})
		},
		"videos":  func() goja.Value { return cl.result(cl.c.Videos(cl.ctx())) },
		"video":   func(id string) goja.Value { return cl.result(cl.c.Video(cl.ctx(), id)) },
		"capture": cl.capture,
		"waitReady": func(v goja.Value) goja.Value {
			var video dailydoco.Video
			cl.fromJS("waitReady", v, &video)
			finished, ok := cl.finished[video.ID]
			if !ok {
				finished = cl.vu.Now()
			}
			return cl.result(cl.c.WaitReady(cl.ctx(), video.ID, finished))
		},
		"aiResults": func(id string) goja.Value { return cl.result(cl.c.AIResults(cl.ctx(), id)) },
		"requestExport": func(videoID, format string) goja.Value {
			e, err := cl.c.RequestExport(cl.ctx(), videoID, format)
			cl.throwIf(err)
			cl.requested[e.ID] = cl.vu.Now()
			return cl.toJS(e)
		},
		"waitExport": func(v goja.Value) goja.Value {
			var e dailydoco.Export
			cl.fromJS("waitExport", v, &e)
			requested, ok := cl.requested[e.ID]
			if !ok {
				requested = cl.vu.Now()
			}
			return cl.result(cl.c.WaitExport(cl.ctx(), e, requested))
		},
		"download": func(v goja.Value) int64 {
			var e dailydoco.Export
			cl.fromJS("download", v, &e)
			n, err := cl.c.Download(cl.ctx(), e)
			cl.throwIf(err)
			return n
		},
	} {
		_ = o.Set(name, fn)
	}
	return o
}

// capture(spec) starts a capture, uploads its chunks as they are recorded and finishes it,
// returning the queued video (the built-in journeys' record step).
func (cl *client) capture(spec goja.Value) goja.Value {
	var s dailydoco.CaptureSpec
	cl.fromJS("capture", spec, &s)
	ctx := cl.ctx()
	cp, err := cl.c.StartCapture(ctx, s)
	cl.throwIf(err)
	_, err = cl.c.UploadChunks(ctx, cp)
	cl.throwIf(err)
	v, err := cl.c.Finish(ctx, cp.ID)
	cl.throwIf(err)
	cl.finished[v.ID] = cl.vu.Now()
	return cl.toJS(v)
}

func (cl *client) ctx() context.Context { return cl.mod.m.Context() }

func (cl *client) result(v any, err error) goja.Value {
	cl.throwIf(err)
	return cl.toJS(v)
}

// throwIf throws err as a JavaScript Error (an interrupted iteration's error too, which ends
// the call); an answer the step did not expect carries its HTTP status as the error's status.
func (cl *client) throwIf(err error) {
	if err == nil {
		return
	}
	rt := cl.mod.m.Runtime()
	e, nerr := rt.New(rt.Get("Error"), rt.ToValue(Name+": "+err.Error()))
	if nerr != nil {
		panic(nerr)
	}
	var ae *dailydoco.APIError
	if errors.As(err, &ae) {
		_ = e.Set("status", ae.Status)
	}
	panic(e)
}

// toJS makes v a plain JavaScript value (fields by their JSON names).
func (cl *client) toJS(v any) goja.Value { return cl.mod.m.ToJS(v) }

// fromJS reads the JavaScript object v into out.
func (cl *client) fromJS(fn string, v goja.Value, out any) {
	if _, ok := v.(*goja.Object); !ok {
		cl.mod.m.Throw("%s: client.%s: want an object, got %v", Name, fn, v)
	}
	if err := cl.mod.m.FromJS(v, out); err != nil {
		cl.mod.m.Throw("%s: client.%s: %v", Name, fn, err)
	}
}
