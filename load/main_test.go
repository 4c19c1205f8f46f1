package load_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/dailydoco/ddp-verify/load/loadtest"
)

func TestMain(m *testing.M) {
	loadtest.ServeIfChild()
	goleak.VerifyTestMain(m)
}
