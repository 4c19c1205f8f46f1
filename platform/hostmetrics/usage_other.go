//go:build !unix

package hostmetrics

import "errors"

var errNoHostMetrics = errors.New("host metrics are read on Unix only")

// Self is this process's usage; Unix only.
func Self() (Usage, error) { return Usage{}, errNoHostMetrics }

func filesystemBytes(string) (size, avail float64, err error) { return 0, 0, errNoHostMetrics }
