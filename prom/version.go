package prom

// Version is the version of the Prometheus code this package embeds (its TSDB, scraper and
// PromQL engine): the github.com/prometheus/prometheus version go.mod pins (a test keeps the
// two equal).
const Version = "v0.316.0"
