package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dailydoco/ddp-verify/profile"
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
		name      string
		timeScale float64
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
			return p.WritePlan(out)
		},
	}
	cmd.Flags().StringVar(&name, "profile", "", "built-in profile name or path to a profile YAML file")
	cmd.Flags().Float64Var(&timeScale, "time-scale", 1, "multiply stage, fault and window durations by this factor")
	_ = cmd.MarkFlagRequired("profile")
	return cmd
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
