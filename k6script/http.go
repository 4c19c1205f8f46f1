package k6script

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dop251/goja"
	"github.com/tidwall/gjson"

	"github.com/dailydoco/ddp-verify/load"
)

// httpModule is the "k6/http" module.
func (r *runtime) httpModule() goja.Value {
	// The verbs take goja's FunctionCall: no reflection on the path of every request.
	withBody := func(method string) func(goja.FunctionCall) goja.Value {
		return func(c goja.FunctionCall) goja.Value {
			return r.request(method, c.Argument(0).String(), c.Argument(1), c.Argument(2))
		}
	}
	noBody := func(method string) func(goja.FunctionCall) goja.Value {
		return func(c goja.FunctionCall) goja.Value {
			return r.request(method, c.Argument(0).String(), nil, c.Argument(1))
		}
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
		"batch":     r.batch,
		"cookieJar": r.cookieJar,
	})
}

// reqParams are the supported fields of k6's request params.
type reqParams struct {
	headers      http.Header
	step         string
	opts         load.RequestOptions
	responseType string // text, binary or none
}

// prepared is a request ready to send, or the response of one that could not be built.
type prepared struct {
	url          string
	step         string
	req          *http.Request
	opts         load.RequestOptions
	responseType string
	invalid      goja.Value // the error response when the request could not be built
}

// request sends one request and returns k6's response object. Transport errors do not throw:
// the response has status 0, error and error_code (as in k6).
func (r *runtime) request(method, rawURL string, body, params goja.Value) goja.Value {
	fn := "k6/http." + strings.ToLower(method)
	h := r.needHost(fn)
	p := r.prepare(fn, method, rawURL, body, params)
	if p.invalid != nil {
		return p.invalid
	}
	res, err := h.do(r.ctx, p.step, p.req, p.opts)
	return r.respond(fn, p, res, err)
}

// prepare builds a request from k6's arguments: the URL, the body and the params.
func (r *runtime) prepare(fn, method, rawURL string, body, params goja.Value) prepared {
	p := r.parseParams(fn, params)
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return prepared{invalid: r.errorResponse(rawURL, fmt.Sprintf("invalid URL %q", rawURL), 1020)}
	}
	payload, form := r.encodeBody(fn, body)
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(payload))
	if err != nil {
		return prepared{invalid: r.errorResponse(rawURL, err.Error(), 1020)}
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
	return prepared{url: rawURL, step: step, req: req, opts: p.opts, responseType: p.responseType}
}

// respond turns a request's outcome into k6's response object; an interrupted iteration
// throws.
func (r *runtime) respond(fn string, p prepared, res *load.Response, err error) goja.Value {
	if err != nil {
		if r.ctx.Err() != nil {
			r.throwf("%s: %v", fn, r.ctx.Err()) // the iteration was interrupted
		}
		return r.errorResponse(p.url, err.Error(), errorCode(err))
	}
	return r.response(res, p.responseType)
}

// parseParams reads headers, cookies, tags.name, timeout and redirects; any other field throws.
func (r *runtime) parseParams(fn string, v goja.Value) reqParams {
	p := reqParams{headers: http.Header{}, opts: load.RequestOptions{Redirects: r.s.settings.maxRedirects}, responseType: "text"}
	if r.s.settings.discardBodies {
		p.responseType = "none"
	}
	o, _ := v.(*goja.Object)
	for _, k := range objectKeys(o) {
		val := o.Get(k)
		switch k {
		case "headers":
			if ho, ok := val.(*goja.Object); ok {
				for _, hk := range ho.Keys() {
					p.headers.Set(hk, ho.Get(hk).String())
				}
			}
		case "cookies":
			p.opts.OwnCookies = r.parseCookies(fn, val, p.headers)
		case "tags":
			p.step, p.opts.Tags = r.parseTags(fn, val)
		case "timeout":
			d, err := jsDuration(val.Export())
			if err != nil {
				r.throwf("%s: params.timeout: %v", fn, err)
			}
			p.opts.Timeout = d
		case "responseType":
			switch t := val.String(); t {
			case "text", "binary", "none":
				p.responseType = t
			default:
				r.throwf("%s: params.responseType: %q is not one of text, binary, none", fn, t)
			}
		case "redirects":
			n, ok := wholeNumber(val.Export())
			if !ok {
				r.throwf("%s: params.redirects: want a whole number >= 0, got %s", fn, val)
			}
			p.opts.Redirects = n
		default:
			r.throwf("%s: params.%s is not supported", fn, k)
		}
	}
	p.opts.DiscardBody = p.responseType == "none"
	p.opts.Tags = r.metricTags(p.opts.Tags)
	return p
}

// wholeNumber reads a number >= 0 without a fraction.
func wholeNumber(v any) (int, bool) {
	switch x := v.(type) {
	case int64:
		return int(x), x >= 0
	case float64:
		return int(x), x >= 0 && x == float64(int(x))
	}
	return 0, false
}

// parseCookies adds params.cookies to the request's Cookie header: {name: value} or
// {name: {value, replace}}; it returns the names with replace: true, whose jar cookies are
// then not sent.
func (r *runtime) parseCookies(fn string, v goja.Value, headers http.Header) (replaced []string) {
	o, ok := v.(*goja.Object)
	if !ok {
		r.throwf("%s: params.cookies: want an object of name: value", fn)
	}
	req := &http.Request{Header: headers}
	for _, name := range o.Keys() {
		val := o.Get(name)
		if co, isObj := val.(*goja.Object); isObj {
			for _, k := range co.Keys() {
				if k != "value" && k != "replace" {
					r.throwf("%s: params.cookies.%s.%s is not supported (value and replace are)", fn, name, k)
				}
			}
			if co.Get("replace") != nil && co.Get("replace").ToBoolean() {
				replaced = append(replaced, name)
			}
			val = co.Get("value")
			if val == nil {
				r.throwf("%s: params.cookies.%s: want a value", fn, name)
			}
		}
		req.AddCookie(&http.Cookie{Name: name, Value: val.String()})
	}
	return replaced
}

// parseTags reads params.tags: name becomes the request's step, the others are its own tags.
func (r *runtime) parseTags(fn string, v goja.Value) (step string, own map[string]string) {
	own = r.readTags(fn+": params.tags", v)
	step = own["name"]
	delete(own, "name")
	return step, own
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

// response builds k6's response object; responseType says what its body is.
func (r *runtime) response(res *load.Response, responseType string) goja.Value {
	code := 0
	if res.Status >= 400 {
		code = 1000 + res.Status
	}
	return r.rt.NewDynamicObject(&responseObject{r: r, res: res, code: code, responseType: responseType})
}

// responseObject is k6's response, its fields made when a script reads them (most scripts read
// the status and little else, and a VU makes one per request); any other field throws "not
// supported", as the modules' names do.
type responseObject struct {
	r     *runtime
	url   string         // the requested URL, when no response arrived (else res's)
	res   *load.Response // nil when no response arrived
	msg   string         // the error, when no response arrived
	code  int            // error_code
	body  goja.Value     // made once: json() and body share it
	extra map[string]goja.Value
	// responseType is k6's: the body as a string (text), an ArrayBuffer (binary) or null
	// (none: it was read and counted, not kept).
	responseType string
}

// responseFields are the fields a response has, in k6's names.
var responseFields = []string{"status", "body", "headers", "cookies", "url", "proto", "error", "error_code", "timings", "json"}

func (o *responseObject) Get(key string) goja.Value {
	rt := o.r.rt
	if v, ok := o.extra[key]; ok {
		return v
	}
	switch key {
	case "status":
		if o.res == nil {
			return rt.ToValue(0)
		}
		return rt.ToValue(o.res.Status)
	case "body":
		return o.bodyValue()
	case "headers":
		return o.headers()
	case "cookies":
		return o.cookies()
	case "url":
		if o.res != nil {
			return rt.ToValue(o.res.URL())
		}
		return rt.ToValue(o.url)
	case "proto":
		if o.res == nil {
			return rt.ToValue("")
		}
		return rt.ToValue(o.res.Proto)
	case "error":
		return rt.ToValue(o.msg)
	case "error_code":
		return rt.ToValue(o.code)
	case "timings":
		var t load.Timings
		if o.res != nil {
			t = o.res.Timings
		}
		return o.r.timings(t)
	case "json":
		return rt.ToValue(o.json)
	}
	if passthrough[key] {
		return nil
	}
	o.r.throwf("k6/http response.%s is not supported (docs/scripts.md lists what is)", key)
	return nil
}

func (o *responseObject) bodyValue() goja.Value {
	if o.body != nil {
		return o.body
	}
	var b []byte
	if o.res != nil {
		b = o.res.Body
	}
	switch o.responseType {
	case "none":
		o.body = goja.Null()
	case "binary":
		o.body = o.r.rt.ToValue(o.r.rt.NewArrayBuffer(bytes.Clone(b)))
	default:
		o.body = o.r.rt.ToValue(string(b))
	}
	return o.body
}

func (o *responseObject) headers() goja.Value {
	h := o.r.rt.NewObject()
	if o.res != nil {
		for k, vs := range o.res.Header {
			_ = h.Set(http.CanonicalHeaderKey(k), strings.Join(vs, ", "))
		}
	}
	return h
}

// json is response.json(): the whole body; a selector throws, as does a request that failed.
func (o *responseObject) json(call goja.FunctionCall) goja.Value {
	if o.res == nil {
		o.r.throwf("k6/http: response.json(): the request failed (%s)", o.msg)
	}
	if o.responseType == "none" {
		o.r.throwf("k6/http: response.json(): the body was not kept (responseType none, or options.discardResponseBodies)")
	}
	return o.r.parseJSON(o.r.rt.ToValue(string(o.res.Body)), call)
}

// Set keeps what a script assigns to a response (as on k6's plain object).
func (o *responseObject) Set(key string, val goja.Value) bool {
	if o.extra == nil {
		o.extra = map[string]goja.Value{}
	}
	o.extra[key] = val
	return true
}

func (o *responseObject) Has(key string) bool {
	_, ok := o.extra[key]
	return ok || slices.Contains(responseFields, key)
}

func (o *responseObject) Delete(key string) bool {
	delete(o.extra, key)
	return true
}

func (o *responseObject) Keys() []string {
	keys := slices.Clone(responseFields)
	for k := range o.extra {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
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

// parseJSON is response.json(): the whole body, or with a selector (gjson's path syntax, as
// k6's) the value it selects, undefined when it selects nothing.
func (r *runtime) parseJSON(body goja.Value, call goja.FunctionCall) goja.Value {
	if len(call.Arguments) > 0 && !goja.IsUndefined(call.Arguments[0]) {
		text := body.String()
		if !gjson.Valid(text) {
			r.throwf("k6/http: response.json(%q): the body is not valid JSON", call.Arguments[0].String())
		}
		res := gjson.Get(text, call.Arguments[0].String())
		if !res.Exists() {
			return goja.Undefined()
		}
		return r.rt.ToValue(res.Value())
	}
	v, err := r.jsonParse(body)
	if err != nil {
		panic(err)
	}
	return v
}

// errorResponse is the response of a request that got no response.
func (r *runtime) errorResponse(rawURL, msg string, code int) goja.Value {
	return r.rt.NewDynamicObject(&responseObject{r: r, url: rawURL, msg: msg, code: code})
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

// objectKeys are o's own keys; none for nil (an absent argument).
func objectKeys(o *goja.Object) []string {
	if o == nil {
		return nil
	}
	return o.Keys()
}
