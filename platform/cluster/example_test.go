package cluster_test

import (
	"context"
	"fmt"
	"log"

	"github.com/dailydoco/ddp-verify/platform/cluster"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// Start runs the plan's cluster with the production ExecFunc (`<executable> platform <role>`);
// tests use platformtest.Start instead, which re-executes the test binary.
func ExampleStart() {
	exec, err := cluster.SelfExec()
	if err != nil {
		log.Fatal(err)
	}
	c, err := cluster.Start(context.Background(), cluster.Options{Topology: topology.Default(), Exec: exec})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Stop()
	fmt.Println("gateway:", c.GatewayURL())
	fmt.Println("file_sd:", c.FileSDPath())
	for _, n := range c.Nodes() {
		fmt.Println(n.Name, n.Zone, n.Pool, n.Addr, n.State)
	}
	// A node failure, as the chaos engine injects it through the control API.
	if _, err := c.KillNode("gpu-1a-1"); err != nil {
		log.Fatal(err)
	}
}
