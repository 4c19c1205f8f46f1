// Package dashboard is the DailyDoco Pro web dashboard of the reference platform: one HTML page
// and its static assets, embedded in the binary. A "dashboard load" is the page, its assets
// ([Assets]) and the page's first API calls ([FirstAPICalls]).
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
)

//go:embed assets
var assets embed.FS

// Assets are the static files the page loads, in the order a browser requests them.
var Assets = []string{"/static/app.css", "/static/app.js"}

// FirstAPICalls are the API calls the page makes when it loads with a token.
var FirstAPICalls = []string{"/api/v1/me", "/api/v1/videos"}

// Handler serves the page at / and the assets under /static/, on a ServeMux so that the matched
// pattern is known to the metrics middleware.
func Handler() *http.ServeMux {
	root, _ := fs.Sub(assets, "assets") // the directory is embedded, so it exists
	static := http.FileServerFS(root)
	index, _ := fs.ReadFile(root, "index.html")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(index)
	})
	mux.HandleFunc("GET /static/{file}", func(w http.ResponseWriter, r *http.Request) {
		if _, err := fs.Stat(root, path.Join("static", r.PathValue("file"))); err != nil {
			http.NotFound(w, r)
			return
		}
		// Static assets are fingerprinted by release in the real platform: cache for a year.
		w.Header().Set("Cache-Control", "public, max-age=31536000")
		static.ServeHTTP(w, r)
	})
	mux.HandleFunc("/", http.NotFound)
	return mux
}
