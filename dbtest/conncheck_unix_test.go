//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package dbtest

import (
	"net"
	"testing"
	"time"
)

// loopbackPair returns both ends of a TCP connection on loopback.
func loopbackPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestSocketAliveWhileADriverReads: a driver's own goroutine blocked in a
// read of the connection (pgx's background reader after a slow write)
// must not make the check wait with it for a message that never comes.
func TestSocketAliveWhileADriverReads(t *testing.T) {
	client, server := loopbackPair(t)
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, 16)
		n, _ := client.Read(b)
		got <- b[:n]
	}()
	time.Sleep(50 * time.Millisecond) // let the reader block
	done := make(chan bool, 1)
	go func() {
		alive, known := socketAlive(client)
		done <- alive && known
	}()
	select {
	case ok := <-done:
		if !ok {
			t.Error("socketAlive = false on an open, quiet connection")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("socketAlive waited for the driver's read")
	}
	if _, err := server.Write([]byte("Z")); err != nil {
		t.Fatal(err)
	}
	if b := <-got; string(b) != "Z" {
		t.Errorf("the driver's read got %q, want %q: the check must not take the server's bytes", b, "Z")
	}
}

// TestSocketAliveClosedOrTalking: a server that closed the connection, or
// sent something unasked, is not alive; a quiet one is.
func TestSocketAliveClosedOrTalking(t *testing.T) {
	client, server := loopbackPair(t)
	if alive, known := socketAlive(client); !alive || !known {
		t.Fatalf("quiet connection: alive=%v known=%v, want true true", alive, known)
	}
	server.Write([]byte("E"))
	time.Sleep(50 * time.Millisecond)
	if alive, _ := socketAlive(client); alive {
		t.Error("a server that sent something unasked: alive = true")
	}
	client2, server2 := loopbackPair(t)
	server2.Close()
	time.Sleep(50 * time.Millisecond)
	if alive, _ := socketAlive(client2); alive {
		t.Error("a server that closed the connection: alive = true")
	}
}
