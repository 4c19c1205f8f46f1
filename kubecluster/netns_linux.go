package kubecluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
)

// RunInNetworkNamespace runs argv again in a new network namespace (Linux's CLONE_NEWNET; with
// a user namespace too when not root), with env and the marker [InNetworkNamespace] reads,
// this process's standard input and the given outputs. The child runs in a process group of
// its own, so that a terminal's Ctrl-C reaches it once, passed on with SIGTERM by this process;
// it gets the parent-death signal, so killing this process ends it. It returns the child's
// exit code (128+signal when a signal ended it). The child calls [SetUpPodNetwork] first.
func RunInNetworkNamespace(ctx context.Context, argv, env []string, stdout, stderr io.Writer) (int, error) {
	if len(argv) == 0 {
		return 0, errors.New("kubecluster: no program to run in the network namespace")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append([]string(nil), env...), netnsEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if os.Geteuid() != 0 {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	// The parent-death signal fires when the thread that started the child ends: keep it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("kubecluster: start %s in a new network namespace: %w (it needs root, or unprivileged user namespaces)", argv[0], err)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			ctx = context.Background()
		case err := <-done:
			return exitCode(cmd, err)
		}
	}
}

func exitCode(cmd *exec.Cmd, err error) (int, error) {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 0, err
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return cmd.ProcessState.ExitCode(), nil
}

// SetUpPodNetwork prepares the network namespace this process runs in: its loopback
// interface up, carrying [PodNetwork] and [ServiceNetwork] (so every address of them is local:
// the pods' and the service proxy's), with iproute2's ip.
func SetUpPodNetwork() error {
	if !InNetworkNamespace() {
		return errors.New("kubecluster: not in a network namespace of our own; refusing to change this machine's interfaces")
	}
	if checkPodNetwork(PodNetwork) == nil {
		return nil // prepared already (by the process that started this one)
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", interfaceAddr(PodNetwork), "dev", "lo"},
		{"addr", "add", interfaceAddr(ServiceNetwork), "dev", "lo"},
	} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("kubecluster: ip %v: %v: %s (the pod network needs iproute2's ip)", args, err, out)
		}
	}
	return nil
}
