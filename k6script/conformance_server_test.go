package k6script

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// conformanceServer answers as httpbin does (the service k6's documentation examples call),
// for the routes the conformance scripts use:
//
//	/get                  the request as JSON: method, url, args, headers
//	/cookies              the request's cookies as {"cookies": {name: value}}
//	/cookies/set?k=v      sets each query parameter as a cookie (path /) and redirects to /cookies
//	/cookies/attributes   sets one cookie with every attribute k6's response.cookies reports
//	/bytes/N              N bytes: 0, 1, 2, ... (mod 256)
//	POST /post            the request's body as {"data": ...}
//	/conn                 the client's address and port (a new port: a new connection)
//	/redirect/N           redirects N times, then to /get
//	/status/CODE          answers CODE
//	/json                 a fixed JSON document
//	/barrier/KEY?n=N      answers 200 once N requests with KEY are in flight together (504
//	                      after 10 s): proof that a batch is sent in parallel, without timing
func conformanceServer(t *testing.T) (*httptest.Server, *requestLog) {
	log := &requestLog{}
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		headers := map[string]string{}
		for k, vs := range r.Header {
			headers[k] = strings.Join(vs, ", ")
		}
		args := map[string]string{}
		for k, vs := range r.URL.Query() {
			args[k] = vs[0]
		}
		writeJSON(w, map[string]any{"method": r.Method, "url": "http://" + r.Host + r.URL.RequestURI(), "args": args, "headers": headers})
	})
	mux.HandleFunc("/bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n < 0 || n > 1<<20 {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		_, _ = w.Write(b)
	})
	mux.HandleFunc("POST /post", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		writeJSON(w, map[string]any{"data": string(b), "contentType": r.Header.Get("Content-Type")})
	})
	mux.HandleFunc("/conn", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(r.RemoteAddr)) })
	mux.HandleFunc("/cookies", func(w http.ResponseWriter, r *http.Request) {
		cookies := map[string]string{}
		for _, c := range r.Cookies() {
			if _, dup := cookies[c.Name]; dup {
				cookies[c.Name] += "," + c.Value // both a jar's and a param's cookie were sent
				continue
			}
			cookies[c.Name] = c.Value
		}
		writeJSON(w, map[string]any{"cookies": cookies})
	})
	mux.HandleFunc("/cookies/set", func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range r.URL.Query() {
			http.SetCookie(w, &http.Cookie{Name: k, Value: vs[0], Path: "/"})
		}
		http.Redirect(w, r, "/cookies", http.StatusFound)
	})
	mux.HandleFunc("/cookies/attributes", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", Path: "/app", MaxAge: 3600, HttpOnly: true, Secure: true,
			Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)})
		http.SetCookie(w, &http.Cookie{Name: "pref", Value: "dark"})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/redirect/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n < 1 {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		to := "/get"
		if n > 1 {
			to = "/redirect/" + strconv.Itoa(n-1)
		}
		http.Redirect(w, r, to, http.StatusFound)
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.PathValue("code"))
		if err != nil {
			http.Error(w, "bad code", http.StatusBadRequest)
			return
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"slideshow": map[string]any{"author": "Yours Truly", "title": "Sample",
			"slides": []any{map[string]any{"title": "Wake up", "type": "all"}, map[string]any{"title": "Overview", "type": "all", "items": []string{"a", "b"}}}}})
	})
	var mu sync.Mutex
	barriers := map[string]chan struct{}{}
	waiting := map[string]int{}
	mux.HandleFunc("/barrier/{key}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		mu.Lock()
		if barriers[key] == nil {
			barriers[key] = make(chan struct{})
		}
		open := barriers[key]
		waiting[key]++
		if waiting[key] == n {
			close(open)
		}
		mu.Unlock()
		select {
		case <-open:
			w.WriteHeader(http.StatusOK)
		case <-time.After(10 * time.Second):
			w.WriteHeader(http.StatusGatewayTimeout)
		}
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r.Method + " " + r.URL.RequestURI())
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, log
}

// requestLog is every request the server received, as "METHOD URI".
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) add(s string) {
	l.mu.Lock()
	l.reqs = append(l.reqs, s)
	l.mu.Unlock()
}

func (l *requestLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs {
		if r == s {
			n++
		}
	}
	return n
}
