package k6script

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/dop251/goja"

	"github.com/dailydoco/ddp-verify/load"
)

// batch is http.batch(requests): an array or an object of requests, each a URL (GET), an array
// [method, url, body, params] or an object {method, url, body, params}; they are sent in
// parallel (load.Client.Batch) and the responses come back in the same shape, as in k6.
func (r *runtime) batch(requests goja.Value) goja.Value {
	const fn = "k6/http.batch"
	h := r.needHost(fn)
	o, ok := requests.(*goja.Object)
	if !ok {
		r.throwf("%s: want an array or an object of requests", fn)
	}
	keys := o.Keys()
	isArray := o.ClassName() == "Array"
	all := make([]prepared, len(keys))
	var send []load.BatchRequest
	var sent []int
	for i, k := range keys {
		all[i] = r.batchEntry(fn, k, o.Get(k))
		if all[i].invalid == nil {
			send = append(send, load.BatchRequest{Step: all[i].step, Request: all[i].req, Options: all[i].opts})
			sent = append(sent, i)
		}
	}
	results := h.batch(r.ctx, send)
	responses := make([]goja.Value, len(keys))
	for i, p := range all {
		responses[i] = p.invalid
	}
	for j, i := range sent {
		responses[i] = r.respond(fn, all[i], results[j].Response, results[j].Err)
	}
	if isArray {
		return r.rt.NewArray(toAny(responses)...)
	}
	out := r.rt.NewObject()
	for i, k := range keys {
		_ = out.Set(k, responses[i])
	}
	return out
}

// batchEntry reads one request of a batch.
func (r *runtime) batchEntry(fn, key string, v goja.Value) prepared {
	o, isObj := v.(*goja.Object)
	if !isObj {
		return r.prepare(fn, http.MethodGet, v.String(), nil, nil)
	}
	if o.ClassName() == "Array" {
		arg := func(i int) goja.Value {
			if e := o.Get(strconv.Itoa(i)); e != nil {
				return e
			}
			return goja.Undefined()
		}
		if goja.IsUndefined(arg(1)) {
			r.throwf("%s: request %s: want [method, url, body, params]", fn, key)
		}
		return r.prepare(fn, strings.ToUpper(arg(0).String()), arg(1).String(), arg(2), arg(3))
	}
	method, u := http.MethodGet, o.Get("url")
	for _, k := range o.Keys() {
		switch k {
		case "method":
			method = strings.ToUpper(o.Get(k).String())
		case "url", "body", "params":
		default:
			r.throwf("%s: request %s: field %q is not supported (method, url, body, params)", fn, key, k)
		}
	}
	if u == nil || goja.IsUndefined(u) {
		r.throwf("%s: request %s: want a url", fn, key)
	}
	return r.prepare(fn, method, u.String(), o.Get("body"), o.Get("params"))
}

func toAny(vs []goja.Value) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}
