// Package prom is ddp-verify's embedded Prometheus: the real Prometheus TSDB, scrape manager,
// service discovery (static and file_sd) and PromQL engine, in process, behind the real
// Prometheus HTTP API (package web/api/v1) on a loopback address.
//
// Because the HTTP API is Prometheus's own handler code, client_golang's api/prometheus/v1 and
// Grafana talk to it unchanged: responses have the same JSON shapes, error types and warnings as
// a Prometheus 3 server's. The package slo queries it only through that client.
//
// # Usage
//
//	srv, err := prom.New(ctx, prom.Options{
//		Dir:  "reports/run/tsdb",
//		Jobs: []prom.Job{{Name: "platform", Targets: []string{"127.0.0.1:9100"}}},
//	})
//	...
//	client, _ := api.NewClient(api.Config{Address: srv.URL()})
//	...
//	err = srv.Close() // stops scraping, then writes the in-memory head to a block
//
// A closed directory can be reopened by another process with [OpenReadOnly], which serves the
// same API over the saved data without writing to the directory.
//
// [Pusher] is the other direction: it sends a client_golang registry's samples to an external
// Prometheus with the remote-write 1.0 protocol (protobuf, snappy).
package prom
