package load_test

import (
	"testing"

	"github.com/dailydoco/ddp-verify/load/loadtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	loadtest.ServeIfChild()
	goleak.VerifyTestMain(m)
}
