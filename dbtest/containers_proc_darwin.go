package dbtest

import (
	"bytes"

	"golang.org/x/sys/unix"
)

// isGoCommand reports whether process pid is the go command.
func isGoCommand(pid int) bool {
	p, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return false
	}
	comm := p.Proc.P_comm[:]
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	return string(comm) == "go"
}

// watchProcess returns a function that waits until process pid is gone.
func watchProcess(pid int) func() { return pollProcess(pid) }
