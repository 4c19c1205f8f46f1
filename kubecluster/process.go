package kubecluster

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// launcher starts the cluster's processes from one goroutine locked to its OS thread: Linux's
// parent-death signal, which every child gets set (so that a harness killed with SIGKILL leaves
// no process behind), fires when the thread that forked the child exits, and Go may end other
// threads at any time. The thread lives until [launcher.close].
type launcher struct {
	mu     sync.Mutex
	closed bool
	reqs   chan launch
}

type launch struct {
	cmd  *exec.Cmd
	done chan error
}

func newLauncher() *launcher {
	l := &launcher{reqs: make(chan launch)}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, at close
		for r := range l.reqs {
			r.done <- r.cmd.Start()
		}
	}()
	return l
}

// errClosed is returned by a launcher that was closed: the cluster is stopping.
var errClosed = errors.New("the cluster is stopping")

// start starts cmd with the parent-death signal set.
func (l *launcher) start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = childAttr()
	done := make(chan error, 1)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errClosed
	}
	l.reqs <- launch{cmd: cmd, done: done}
	l.mu.Unlock()
	return <-done
}

func (l *launcher) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.reqs)
	}
}

// process is one of the cluster's processes, its output in its log file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// startProcess starts bin with args through l, its output in logPath.
func startProcess(l *launcher, name, bin, logPath string, args ...string) (*process, error) {
	return startProcessEnv(l, name, bin, logPath, nil, args...)
}

// startProcessEnv is [startProcess] with env added to this process's environment.
func startProcessEnv(l *launcher, name, bin, logPath string, env []string, args ...string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	if err := l.start(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to end (SIGTERM) and kills it after grace.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// failure says how the process ended, with the last lines of its log.
func (p *process) failure() error {
	return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", p.name, p.err, p.log, tail(p.log, 5))
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log)"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return "(empty log)"
	}
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}
