package load

import (
	"context"
	"net/http"
	"sync"
)

// BatchRequest is one request of [Client.Batch].
type BatchRequest struct {
	Step    string
	Request *http.Request
	Options RequestOptions
}

// BatchResult is the outcome of one request of a batch: its response, or the error
// [Client.DoWith] returned.
type BatchResult struct {
	Response *Response
	Err      error
}

// Batch limits, k6's defaults for its batch and batchPerHost options.
const (
	BatchParallel = 20 // requests in flight at once
	BatchPerHost  = 6  // of them to one host
)

// Batch sends reqs in parallel, as k6's http.batch does: at most [BatchParallel] at once and
// [BatchPerHost] to one host, each from a client of its own that shares the VU's cookie jar,
// and returns when all have ended, their results in the order of reqs. Each request is timed
// and counted as [Client.Do]'s are. Like every Client method, Batch is called from the VU's
// goroutine only.
func (c *Client) Batch(ctx context.Context, reqs []BatchRequest) []BatchResult {
	out := make([]BatchResult, len(reqs))
	clients := c.batchClients(min(len(reqs), BatchParallel))
	free := make(chan *Client, len(clients))
	for _, bc := range clients {
		free <- bc
	}
	perHost := map[string]chan struct{}{}
	var wg sync.WaitGroup
	for i, r := range reqs {
		host := r.Request.URL.Host
		if perHost[host] == nil {
			perHost[host] = make(chan struct{}, BatchPerHost)
		}
		slot := perHost[host]
		slot <- struct{}{}
		bc := <-free
		wg.Go(func() {
			defer func() { <-slot; free <- bc }()
			res, err := bc.DoWith(ctx, r.Step, r.Request, r.Options)
			out[i] = BatchResult{Response: res, Err: err}
		})
	}
	wg.Wait()
	for _, bc := range clients {
		bc.rec.flush()
	}
	return out
}

// batchClients returns n clients for a batch, made on first use and kept for the VU's later
// batches: each records into its own buffer (flushed when the batch ends) and keeps cookies in
// the VU's jar.
func (c *Client) batchClients(n int) []*Client {
	for len(c.batch) < n {
		bc := newClientWith(c.vu, &recorder{st: c.vu.eng.store}, c.jar.lazyJar)
		bc.DiscardBody = c.DiscardBody
		c.batch = append(c.batch, bc)
	}
	return c.batch[:n]
}
