package kubecluster

import "syscall"

// childAttr kills a child with the harness (SIGKILL on its death), in its own process group
// so that a Ctrl-C at the terminal reaches only the harness, which stops the cluster in order.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
