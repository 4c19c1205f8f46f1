//go:build !linux

package kubecluster

import "syscall"

// childAttr puts a child in its own process group. Without Linux's parent-death signal, a
// harness killed with SIGKILL leaves its cluster running here.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
