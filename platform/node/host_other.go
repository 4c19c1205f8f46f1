//go:build !unix

package node

import (
	"errors"
	"time"
)

var errNoHostMetrics = errors.New("host metrics are read on Unix only")

func processCPU() (user, system time.Duration, err error) { return 0, 0, errNoHostMetrics }

func filesystemBytes(string) (size, avail float64, err error) { return 0, 0, errNoHostMetrics }
