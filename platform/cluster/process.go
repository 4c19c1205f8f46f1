package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/dailydoco/ddp-verify/platform/datatier"
	"github.com/dailydoco/ddp-verify/platform/gateway"
	"github.com/dailydoco/ddp-verify/platform/node"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// Roles of platform processes: the argument of `ddp-verify platform <role>`.
const (
	RoleDataTier = "datatier"
	RoleGateway  = "gateway"
	RoleNode     = "node"
)

// Roles lists every process role.
var Roles = []string{RoleDataTier, RoleGateway, RoleNode}

// The child protocol, on the child's standard streams:
//   - the supervisor writes the role's spec as one JSON line on stdin;
//   - the child writes readyLine on stdout once it serves;
//   - later stdin lines are commands (partition on|off, for nodes);
//   - stdin closing means the supervisor is gone: the child stops.
const readyLine = "ready"

// RunProcess is the body of one platform process, whether started as
// `ddp-verify platform <role>` or as a re-executed test binary. It returns when ctx is done or
// in reaches EOF.
func RunProcess(ctx context.Context, role string, in io.Reader, out io.Writer, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	br := bufio.NewReader(in)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read %s spec from stdin: %w", role, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := func() { fmt.Fprintln(out, readyLine) }
	// commands applies later lines; EOF (the supervisor died or let go) stops the process.
	commands := func(apply func(string) error) {
		go func() {
			defer cancel()
			sc := bufio.NewScanner(br)
			for sc.Scan() {
				if err := apply(strings.TrimSpace(sc.Text())); err != nil {
					log.Warn("bad command", "err", err)
				}
			}
		}()
	}
	switch role {
	case RoleDataTier:
		var spec datatier.Spec
		if err := json.Unmarshal(line, &spec); err != nil {
			return fmt.Errorf("decode data tier spec: %w", err)
		}
		commands(noCommands)
		return datatier.Run(ctx, spec, log, ready)
	case RoleGateway:
		var spec gateway.Spec
		if err := json.Unmarshal(line, &spec); err != nil {
			return fmt.Errorf("decode gateway spec: %w", err)
		}
		commands(noCommands)
		return gateway.Run(ctx, spec, log, ready)
	case RoleNode:
		var spec node.Spec
		if err := json.Unmarshal(line, &spec); err != nil {
			return fmt.Errorf("decode node spec: %w", err)
		}
		n := node.New(spec, log)
		commands(func(cmd string) error {
			switch {
			case cmd == cmdPartitionOn:
				n.SetPartitioned(true)
			case cmd == cmdPartitionOff:
				n.SetPartitioned(false)
			case strings.HasPrefix(cmd, cmdReplicaAdd):
				var r topology.Replica
				if err := json.Unmarshal([]byte(strings.TrimPrefix(cmd, cmdReplicaAdd)), &r); err != nil {
					return fmt.Errorf("decode replica: %w", err)
				}
				return n.AddReplica(r)
			case strings.HasPrefix(cmd, cmdReplicaRemove):
				return n.RemoveReplica(strings.TrimPrefix(cmd, cmdReplicaRemove))
			default:
				return fmt.Errorf("unknown command %q", cmd)
			}
			return nil
		})
		return n.Run(ctx, ready)
	}
	return fmt.Errorf("unknown platform process role %q (want one of %v)", role, Roles)
}

// Commands a node obeys on stdin.
const (
	cmdPartitionOn   = "partition on"
	cmdPartitionOff  = "partition off"
	cmdReplicaAdd    = "replica add "    // + the replica as JSON
	cmdReplicaRemove = "replica remove " // + the replica's name
)

func noCommands(cmd string) error { return fmt.Errorf("unknown command %q", cmd) }
