package cluster_test

import (
	"testing"

	"github.com/dailydoco/ddp-verify/platform/platformtest"
)

// The test binary doubles as every platform process (platformtest.Exec).
func TestMain(m *testing.M) { platformtest.Main(m) }
