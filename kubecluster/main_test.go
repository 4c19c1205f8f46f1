package kubecluster_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
)

// podPort is where the test's pod program serves.
const podPort = kubeclustertest.PodPort

// TestMain makes this test binary the program of the test's pods (image ddp-verify runs this
// binary, with DDP_LOCAL_POD=1 and POD_IP in its environment): kubeclustertest's pod server,
// or with the arguments "exit CODE" a Job's pod that exits with CODE.
func TestMain(m *testing.M) {
	if kubeclustertest.IsPod() {
		if len(os.Args) == 3 && os.Args[1] == "exit" {
			os.Exit(jobPod(os.Args[2]))
		}
		os.Exit(kubeclustertest.ServePod())
	}
	os.Exit(m.Run())
}

// jobPod is the program of the test's Job pods (args "exit CODE"): it exits with CODE, or 7
// when the Job controller's completion index did not reach its environment.
func jobPod(code string) int {
	if _, err := strconv.Atoi(os.Getenv("JOB_COMPLETION_INDEX")); err != nil {
		fmt.Fprintln(os.Stderr, "no JOB_COMPLETION_INDEX")
		return 7
	}
	n, _ := strconv.Atoi(code)
	return n
}
