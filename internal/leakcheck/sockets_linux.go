package leakcheck

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ownSockets returns the local ports of the TCP connections this process
// holds to remote port port: the sockets among its file descriptors
// (/proc/self/fd), looked up in /proc/self/net/tcp and tcp6.
func ownSockets(port int) ([]int, error) {
	links, err := filepath.Glob("/proc/self/fd/*")
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, l := range links {
		target, err := os.Readlink(l)
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue // no IPv6, say
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || !inodes[fields[9]] || fields[3] == "0A" { // 0A: listening
				continue
			}
			if hexPort(fields[2]) == port {
				ports = append(ports, hexPort(fields[1]))
			}
		}
		f.Close()
	}
	return ports, nil
}

// hexPort returns the port of an address of /proc/net/tcp ("0100007F:1538").
func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return -1
	}
	p, err := strconv.ParseInt(addr[i+1:], 16, 32)
	if err != nil {
		return -1
	}
	return int(p)
}
