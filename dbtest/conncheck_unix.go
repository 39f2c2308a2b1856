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
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		// The socket is non-blocking: EAGAIN means nothing to read.
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		alive = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true
	})
	return alive && err == nil, true
}
