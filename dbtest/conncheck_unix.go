//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package dbtest

import (
	"net"
	"syscall"
)

// socketChecks says whether socketAlive works here.
const socketChecks = true

// socketAlive reports whether the server has neither closed nc nor sent
// anything unasked, without a round trip: a read from the socket would
// block. known is false when nc has no socket to look at.
func socketAlive(nc net.Conn) (alive, known bool) {
	if t, ok := nc.(interface{ NetConn() net.Conn }); ok { // TLS
		nc = t.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, true
	}
	// Control, not Read: Read waits for the descriptor's read lock, which
	// a driver's own reader holds while it waits for the server (pgx
	// leaves its background reader blocked in a read after a slow write),
	// and would wait with it for a message that never comes. MSG_DONTWAIT
	// keeps the peek from blocking; EAGAIN means nothing to read.
	err = rc.Control(func(fd uintptr) {
		var b [1]byte
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
	})
	return alive && err == nil, true
}
