package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dailydoco/ddp-verify/chaos/mesh"
	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/run"
	"github.com/dailydoco/ddp-verify/slo"
)

func newProfilesCmd(out io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "profiles",
		Short: "List the built-in profiles with duration, peak virtual users (all scenarios, arrival pools at maxVUs) and faults",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDURATION\tPEAK VUS\tFAULTS\tDESCRIPTION")
			for _, name := range profile.Builtin() {
				p, err := profile.Load(name)
				if err != nil {
					return err
				}
				faults := "-"
				if len(p.Chaos) > 0 {
					faults = ""
					for i, f := range p.Chaos {
						if i > 0 {
							faults += ", "
						}
						faults += f.Fault
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", p.Name, p.Timeline().Duration, p.PeakVUs(), faults, p.Description)
			}
			return tw.Flush()
		},
	}
}

func newPlanCmd(out io.Writer) *cobra.Command {
	var (
		name       string
		timeScale  float64
		sloFile    string
		topoFile   string
		namespaces []string
		force      bool
		agents     int
		agentJob   run.AgentJob
		aws        mesh.AWSOptions
	)
	cmd := &cobra.Command{
		Use:   "plan --profile NAME|FILE",
		Short: "Print a profile's resolved timeline (stages, faults, windows); touches nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			plan, spec, err := resolve(name, timeScale, sloFile, force)
			if err != nil {
				return err
			}
			topo, err := loadTopology(topoFile)
			if err != nil {
				return err
			}
			var awsOpts *mesh.AWSOptions
			if (&meshFlags{}).awsOn(cmd) {
				awsOpts = &aws
			}
			if err := run.WritePlan(out, plan, spec, topo, namespaces, awsOpts); err != nil {
				return err
			}
			if agents > 0 {
				return run.WriteAgentJob(out, agentJob, agents)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "profile", "", "built-in profile name or path to a profile YAML file")
	cmd.Flags().Float64Var(&timeScale, "time-scale", 1, "multiply stage, fault and window durations by this factor")
	cmd.Flags().StringVar(&sloFile, "slo", "", "SLO file (default: the built-in DailyDoco Pro set)")
	cmd.Flags().StringVar(&topoFile, "topology", "", "topology the manifests are resolved against (default: the built-in reference topology)")
	cmd.Flags().StringSliceVar(&namespaces, "namespace", nil, "namespaces the faults may hit (default dailydoco-prod)")
	cmd.Flags().StringVar(&aws.SecretName, "aws-secret", "", "print node failures and zone power losses as AWSChaos ec2-stop objects, with the credentials of this Secret (as run --aws-secret)")
	cmd.Flags().StringVar(&aws.Endpoint, "aws-endpoint", "", "as --aws-secret, calling this EC2 endpoint")
	cmd.Flags().StringVar(&aws.Region, "aws-region", "", "as --aws-secret, in this region (default: each node's, from its zone)")
	cmd.Flags().BoolVar(&force, "force", false, forceUsage)
	cmd.Flags().IntVar(&agents, "agents", 0, "also print the Indexed Job that runs this many load agents with run --agents-on kubernetes")
	cmd.Flags().StringVar(&agentJob.Namespace, "agents-namespace", "default", "namespace of the agents' Job")
	cmd.Flags().StringVar(&agentJob.Image, "agents-image", "ddp-verify", "the image that runs `ddp-verify agent`")
	_ = cmd.MarkFlagRequired("profile")
	return cmd
}

// forceUsage is the help of run's and plan's --force.
const forceUsage = "accept more VUs or a higher arrival rate than this machine's estimated capacity (the error states the estimate)"

// resolve resolves the profile at the time scale and loads its SLO set: the file given, else
// the profile's, else the built-in one. Every failure is bad input (exit 2). force lifts the
// bound of this machine's capacity on the profile's VUs and rates.
func resolve(name string, timeScale float64, sloFile string, force bool) (*profile.Plan, *slo.Spec, error) {
	var opts []profile.Option
	if force {
		opts = append(opts, profile.Force())
	}
	plan, err := profile.Resolve(name, timeScale, opts...)
	if err != nil {
		return nil, nil, exitcode.New(exitcode.BadInput, err)
	}
	if sloFile == "" && plan.Profile.SLO != "default" {
		sloFile = plan.Profile.SLO
	}
	spec, err := loadSLO(sloFile)
	if err != nil {
		return nil, nil, err
	}
	return plan, spec, nil
}

// loadSLO loads an SLO file, or the built-in set when file is empty.
func loadSLO(file string) (*slo.Spec, error) {
	load := slo.Default
	if file != "" {
		load = func() (*slo.Spec, error) { return slo.Load(file) }
	}
	spec, err := load()
	if err != nil {
		return nil, exitcode.New(exitcode.BadInput, err)
	}
	return spec, nil
}

// loadTopology loads a topology file, or the built-in reference topology when file is empty.
func loadTopology(file string) (*topology.Topology, error) {
	if file == "" {
		return topology.Default(), nil
	}
	t, err := topology.Load(file)
	if err != nil {
		return nil, exitcode.New(exitcode.BadInput, err)
	}
	return t, nil
}
