package k6script

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dop251/goja"

	"github.com/dailydoco/ddp-verify/load"
)

// httpModule is the "k6/http" module.
func (r *runtime) httpModule() goja.Value {
	withBody := func(method string) func(string, goja.Value, goja.Value) goja.Value {
		return func(u string, body, params goja.Value) goja.Value { return r.request(method, u, body, params) }
	}
	noBody := func(method string) func(string, goja.Value) goja.Value {
		return func(u string, params goja.Value) goja.Value { return r.request(method, u, nil, params) }
	}
	return r.newModule("k6/http", map[string]any{
		"get":     noBody(http.MethodGet),
		"head":    noBody(http.MethodHead),
		"post":    withBody(http.MethodPost),
		"put":     withBody(http.MethodPut),
		"patch":   withBody(http.MethodPatch),
		"del":     withBody(http.MethodDelete),
		"options": withBody(http.MethodOptions),
		"request": func(method, u string, body, params goja.Value) goja.Value {
			return r.request(strings.ToUpper(method), u, body, params)
		},
	})
}

// reqParams are the supported fields of k6's request params.
type reqParams struct {
	headers http.Header
	step    string
	timeout time.Duration
}

// request sends one request and returns k6's response object. Transport errors do not throw:
// the response has status 0, error and error_code (as in k6).
func (r *runtime) request(method, rawURL string, body, params goja.Value) goja.Value {
	fn := "k6/http." + strings.ToLower(method)
	h := r.needHost(fn)
	p := r.parseParams(fn, params)
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return r.errorResponse(rawURL, fmt.Sprintf("invalid URL %q", rawURL), 1020)
	}
	payload, form := r.encodeBody(fn, body)
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(payload))
	if err != nil {
		return r.errorResponse(rawURL, err.Error(), 1020)
	}
	if payload == nil {
		req.Body, req.ContentLength = nil, 0
	}
	req.Header = p.headers
	if form && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	step := p.step
	if step == "" {
		step = u.Path
		if step == "" {
			step = "/"
		}
	}
	ctx := r.ctx
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	res, err := h.do(ctx, step, req)
	if err != nil {
		if r.ctx.Err() != nil {
			r.throwf("%s: %v", fn, r.ctx.Err()) // the iteration was interrupted
		}
		return r.errorResponse(rawURL, err.Error(), errorCode(err))
	}
	return r.response(rawURL, res)
}

// parseParams reads headers, tags.name and timeout; any other field throws.
func (r *runtime) parseParams(fn string, v goja.Value) reqParams {
	p := reqParams{headers: http.Header{}}
	o, ok := v.(*goja.Object)
	if !ok {
		return p
	}
	for _, k := range o.Keys() {
		val := o.Get(k)
		switch k {
		case "headers":
			if ho, ok := val.(*goja.Object); ok {
				for _, hk := range ho.Keys() {
					p.headers.Set(hk, ho.Get(hk).String())
				}
			}
		case "tags":
			p.step = r.parseTags(fn, val)
		case "timeout":
			d, err := jsDuration(val.Export())
			if err != nil {
				r.throwf("%s: params.timeout: %v", fn, err)
			}
			p.timeout = d
		default:
			r.throwf("%s: params.%s is not supported", fn, k)
		}
	}
	return p
}

func (r *runtime) parseTags(fn string, v goja.Value) string {
	o, ok := v.(*goja.Object)
	if !ok {
		return ""
	}
	name := ""
	for _, k := range o.Keys() {
		if k != "name" {
			r.throwf("%s: params.tags.%s is not supported (only tags.name, which becomes the step)", fn, k)
		}
		name = o.Get(k).String()
	}
	return name
}

// encodeBody returns the request body: a string as is, an ArrayBuffer's bytes, or an object
// form-encoded (form is then true).
func (r *runtime) encodeBody(fn string, v goja.Value) (payload []byte, form bool) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil, false
	}
	switch x := v.Export().(type) {
	case string:
		return []byte(x), false
	case goja.ArrayBuffer:
		return x.Bytes(), false
	case map[string]any:
		vals := url.Values{}
		for k, e := range x {
			switch e.(type) {
			case string, int64, float64, bool:
				vals.Set(k, fmt.Sprint(e))
			default:
				r.throwf("%s: body field %q: only strings, numbers and booleans can be form-encoded (files and nested objects are not supported)", fn, k)
			}
		}
		return []byte(vals.Encode()), true
	}
	r.throwf("%s: a body of type %s is not supported (string, ArrayBuffer or object)", fn, v.ExportType())
	return nil, false
}

// response builds k6's response object.
func (r *runtime) response(rawURL string, res *load.Response) goja.Value {
	o := r.guarded("k6/http response")
	body := string(res.Body)
	headers := r.rt.NewObject()
	for k, vs := range res.Header {
		_ = headers.Set(http.CanonicalHeaderKey(k), strings.Join(vs, ", "))
	}
	code := 0
	if res.Status >= 400 {
		code = 1000 + res.Status
	}
	for k, v := range map[string]any{
		"status": res.Status, "body": body, "headers": headers, "url": rawURL,
		"proto": res.Proto, "error": "", "error_code": code, "timings": r.timings(res.Timings),
		"json": func(call goja.FunctionCall) goja.Value { return r.parseJSON(body, call) },
	} {
		_ = o.Set(k, v)
	}
	return o
}

func (r *runtime) timings(t load.Timings) *goja.Object {
	o := r.rt.NewObject()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for k, d := range map[string]time.Duration{"blocked": t.Blocked, "connecting": t.Connecting,
		"tls_handshaking": t.TLSHandshaking, "sending": t.Sending, "waiting": t.Waiting,
		"receiving": t.Receiving, "duration": t.Duration} {
		_ = o.Set(k, ms(d))
	}
	return o
}

// parseJSON is response.json(): the whole body; a selector throws.
func (r *runtime) parseJSON(body string, call goja.FunctionCall) goja.Value {
	if len(call.Arguments) > 0 && !goja.IsUndefined(call.Arguments[0]) {
		r.throwf("k6/http: response.json(selector): the selector argument is not supported")
	}
	parse, _ := goja.AssertFunction(r.rt.Get("JSON").ToObject(r.rt).Get("parse"))
	v, err := parse(goja.Undefined(), r.rt.ToValue(body))
	if err != nil {
		panic(err)
	}
	return v
}

// errorResponse is the response of a request that got no response.
func (r *runtime) errorResponse(rawURL, msg string, code int) goja.Value {
	o := r.guarded("k6/http response")
	for k, v := range map[string]any{
		"status": 0, "body": "", "headers": r.rt.NewObject(), "url": rawURL, "proto": "",
		"error": msg, "error_code": code, "timings": r.timings(load.Timings{}),
		"json": func(goja.FunctionCall) goja.Value {
			r.throwf("k6/http: response.json(): the request failed (%s)", msg)
			return nil
		},
	} {
		_ = o.Set(k, v)
	}
	return o
}

// errorCode maps a failed request to k6's error codes: 1050 timeout, 1210 dial (connect),
// 1220 reset by peer, 1300 TLS, 1000 anything else.
func errorCode(err error) int {
	var re *load.RequestError
	if !errors.As(err, &re) {
		return 1000
	}
	switch re.Class {
	case load.ClassTimeout:
		return 1050
	case load.ClassConnect:
		return 1210
	case load.ClassReset:
		return 1220
	case load.ClassTLS:
		return 1300
	}
	return 1000
}

// classify is the error class of a setup/teardown request (the engine's client has its own).
func classify(err error) load.ErrorClass {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return load.ClassTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return load.ClassConnect
	case errors.Is(err, syscall.ECONNRESET):
		return load.ClassReset
	}
	return load.ClassOther
}

// jsDuration reads a k6 duration: a string such as "1m30s" or a number of milliseconds.
func jsDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case int64:
		return msDuration(float64(x))
	case float64:
		return msDuration(x)
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return msDuration(f)
		}
		d, err := time.ParseDuration(x)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (want e.g. \"30s\", \"1m30s\" or milliseconds)", x)
		}
		if d < 0 {
			return 0, fmt.Errorf("%q is negative", x)
		}
		return d, nil
	}
	return 0, fmt.Errorf("%v is not a duration (want e.g. \"30s\", \"1m30s\" or milliseconds)", v)
}

func msDuration(ms float64) (time.Duration, error) {
	if ms < 0 {
		return 0, fmt.Errorf("%v is negative", ms)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}
