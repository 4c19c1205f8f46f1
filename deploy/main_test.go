package deploy_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
)

// TestMain makes this test binary the program of the chart's pods on the local cluster (their
// image, ddp-verify, runs it with the arguments "platform pod SERVICE"), as the ddp-verify
// binary is outside tests.
func TestMain(m *testing.M) {
	if kubeclustertest.IsPod() {
		code, ok := kubeclustertest.PlatformPod(os.Args[1:])
		if !ok {
			fmt.Fprintf(os.Stderr, "a pod of the deploy tests with arguments %q, not a platform service\n", os.Args[1:])
			code = 2
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}
