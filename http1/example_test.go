package http1_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"time"

	"github.com/dailydoco/ddp-verify/http1"
)

// A Transport under an http.Client, which keeps redirects, cookies and the timeout: plain
// http:// requests go over the Transport's own keep-alive connection, as the trace shows.
// One goroutine uses it; another goroutine would get a Transport of its own.
func ExampleTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	}))
	defer srv.Close()

	tr := &http1.Transport{Trace: &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { fmt.Println("reused connection:", i.Reused) },
	}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for range 2 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, err := io.ReadAll(resp.Body) // read to the end: the connection goes back idle
		resp.Body.Close()
		fmt.Println(resp.Status, string(body), err)
	}
	// Output:
	// reused connection: false
	// 200 OK hello <nil>
	// reused connection: true
	// 200 OK hello <nil>
}
