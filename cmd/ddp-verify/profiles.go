package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/run"
	"github.com/dailydoco/ddp-verify/slo"
)

func newProfilesCmd(out io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "profiles",
		Short: "List the built-in profiles with duration, peak users and faults",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDURATION\tPEAK USERS\tFAULTS\tDESCRIPTION")
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
	)
	cmd := &cobra.Command{
		Use:   "plan --profile NAME|FILE",
		Short: "Print a profile's resolved timeline (stages, faults, windows); touches nothing",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			p, err := loadProfile(name, timeScale)
			if err != nil {
				return err
			}
			spec, err := loadSLO(sloFile)
			if err != nil {
				return err
			}
			topo, err := loadTopology(topoFile)
			if err != nil {
				return err
			}
			return run.WritePlan(out, p, spec, topo, namespaces)
		},
	}
	cmd.Flags().StringVar(&name, "profile", "", "built-in profile name or path to a profile YAML file")
	cmd.Flags().Float64Var(&timeScale, "time-scale", 1, "multiply stage, fault and window durations by this factor")
	cmd.Flags().StringVar(&sloFile, "slo", "", "SLO file (default: the built-in DailyDoco Pro set)")
	cmd.Flags().StringVar(&topoFile, "topology", "", "topology the manifests are resolved against (default: the built-in reference topology)")
	cmd.Flags().StringSliceVar(&namespaces, "namespace", nil, "namespaces the faults may hit (default dailydoco-prod)")
	_ = cmd.MarkFlagRequired("profile")
	return cmd
}

// loadSLO loads an SLO file, or the built-in set when file is empty.
func loadSLO(file string) (*slo.Spec, error) {
	var (
		spec *slo.Spec
		err  error
	)
	if file == "" {
		spec, err = slo.Default()
	} else {
		spec, err = slo.Load(file)
	}
	if err != nil {
		return nil, withExitCode(exitBadInput, err)
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
		return nil, withExitCode(exitBadInput, err)
	}
	return t, nil
}

// loadProfile loads and scales a profile; every failure is bad input (exit 2).
func loadProfile(name string, timeScale float64) (*profile.Profile, error) {
	p, err := profile.Load(name)
	if err != nil {
		return nil, withExitCode(exitBadInput, err)
	}
	if timeScale != 1 {
		if p, err = p.Scaled(timeScale); err != nil {
			return nil, withExitCode(exitBadInput, fmt.Errorf("--time-scale: %w", err))
		}
	}
	return p, nil
}
