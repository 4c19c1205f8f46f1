package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/reports/reportstest"
	"github.com/dailydoco/ddp-verify/verdict"
)

// workflow is the part of a GitHub Actions workflow that decides how a step's script runs.
type workflow struct {
	Defaults struct {
		Run struct {
			Shell string `yaml:"shell"`
		} `yaml:"run"`
	} `yaml:"defaults"`
	Jobs map[string]struct {
		Steps []struct {
			Name  string `yaml:"name"`
			Run   string `yaml:"run"`
			Shell string `yaml:"shell"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// githubShell is the command line GitHub Actions runs a bash step's script with: without a
// shell named, `bash -e`, so a pipeline's status is its last command's (docs: "Workflow syntax",
// jobs.<job_id>.steps[*].shell); with `shell: bash`, -o pipefail too.
func githubShell(shell string) ([]string, error) {
	switch shell {
	case "":
		return []string{"bash", "-e"}, nil
	case "bash":
		return []string{"bash", "--noprofile", "--norc", "-eo", "pipefail"}, nil
	}
	return nil, errors.New("shell " + shell + " is not one this test runs")
}

// nightlyStep returns the script and the shell of the nightly workflow's step called name.
func nightlyStep(t *testing.T, name string) (script string, shell []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", ".github", "workflows", "nightly-verify.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	for _, job := range wf.Jobs {
		for _, step := range job.Steps {
			if step.Name != name {
				continue
			}
			sh := step.Shell
			if sh == "" {
				sh = wf.Defaults.Run.Shell
			}
			shell, err := githubShell(sh)
			if err != nil {
				t.Fatal(err)
			}
			return step.Run, shell
		}
	}
	t.Fatalf("nightly-verify.yml has no step %q", name)
	return "", nil
}

// The nightly workflow's claim that it "fails the job on a regression too": its compare step,
// run as GitHub runs it (the workflow's shell; this test binary playing bin/ddp-verify), fails
// when last night's good run was better and passes when nothing changed. Before the workflow
// named its shell, `compare | tee` ran without pipefail and a regression passed.
func TestNightlyWorkflowFailsOnARegression(t *testing.T) {
	script, shell := nightlyStep(t, "Compare with the last good run")
	good := reportstest.Launch(time.Minute)
	worse := reportstest.Launch(time.Minute)
	worse.RunID = "worse"
	v := 0.131
	worse.SLOs[0].Value, worse.SLOs[0].Status = &v, verdict.Fail
	for _, tc := range []struct {
		name    string
		tonight *reports.Run
		wantOK  bool
	}{{"unchanged", reportstest.Launch(time.Minute), true}, {"regressed", worse, false}} {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			writeRunTo(t, filepath.Join(work, "baseline"), good)
			writeRunTo(t, filepath.Join(work, "out"), tc.tonight)
			actAsCLI(t, filepath.Join(work, "bin", "ddp-verify"))
			cmd := exec.Command(shell[0], append(shell[1:], "-c", script)...)
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "OUT=out", "GITHUB_STEP_SUMMARY="+filepath.Join(work, "summary.md"))
			out, err := cmd.CombinedOutput()
			if ok := err == nil; ok != tc.wantOK {
				t.Errorf("the compare step ended with %v, want success %v:\n%s", err, tc.wantOK, out)
			}
			summary, _ := os.ReadFile(filepath.Join(work, "summary.md"))
			if said := strings.Contains(string(summary), "no regression"); said != tc.wantOK {
				t.Errorf("the job summary says \"no regression\": %v, want %v:\n%s", said, tc.wantOK, summary)
			}
		})
	}
}

func writeRunTo(t *testing.T, dir string, r *reports.Run) {
	t.Helper()
	if err := reports.WriteRunDir(dir, r); err != nil {
		t.Fatal(err)
	}
}

// actAsCLI writes at path a script that runs this test binary as the ddp-verify command.
func actAsCLI(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\n" + envActAsCLI + "=1 exec '" + os.Args[0] + "' \"$@\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}
