package main

import (
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dailydoco/ddp-verify/agents"
	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/run"
)

// maxAgents bounds `run --agents`: each agent is a process with its own engine.
const maxAgents = 64

// indexEnv is where a Kubernetes Indexed Job gives each pod its completion index.
const indexEnv = "JOB_COMPLETION_INDEX"

func newAgentCmd(errOut io.Writer) *cobra.Command {
	var coordinator string
	index := -1
	cmd := &cobra.Command{
		Use:   "agent --coordinator URL [--index I]",
		Short: "Run one load agent of a run spread over several (run --agents starts them)",
		Long: `Joins the coordinator of a run (run --agents), takes the plan and its execution segment,
starts at the common start time, reports its measurements every second and stops when the
coordinator says so or its schedule ends. When the coordinator stops answering for 10 s it stops
its load by itself (exit 3). The index defaults to $` + indexEnv + `, as a Kubernetes Indexed Job
sets it. SIGTERM stops the load, and the final report is still sent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if coordinator == "" {
				return exitcode.BadInputf("--coordinator is required")
			}
			if index < 0 {
				v, ok := os.LookupEnv(indexEnv)
				n, err := strconv.Atoi(v)
				if !ok || err != nil || n < 0 {
					return exitcode.BadInputf("--index is required (or $%s, a Kubernetes Indexed Job's completion index)", indexEnv)
				}
				index = n
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			log := slog.New(slog.NewTextHandler(errOut, nil)).With("agent", index)
			err := agents.RunAgent(ctx, agents.AgentConfig{Coordinator: coordinator, Index: index, Build: run.AgentWorkload, Logger: log})
			if err != nil && ctx.Err() == nil {
				return exitcode.New(exitcode.Infra, err)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&coordinator, "coordinator", "", "the coordinator's URL (printed by the run, or the run's Service in a cluster)")
	cmd.Flags().IntVar(&index, "index", -1, "this agent's index, 0-based (default $"+indexEnv+")")
	return cmd
}
