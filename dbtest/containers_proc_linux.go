package dbtest

import (
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// isGoCommand reports whether process pid is the go command.
func isGoCommand(pid int) bool {
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return err == nil && filepath.Base(exe) == "go"
}

// watchProcess returns a function that waits until process pid is gone.
// A pidfd names the process itself, so a later process with the same pid
// cannot be mistaken for it.
func watchProcess(pid int) func() {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return pollProcess(pid)
	}
	return func() {
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				return
			}
		}
	}
}
