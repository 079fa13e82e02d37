//go:build !linux

package localstore

import (
	"errors"
	"net"
)

type remotePart struct {
	addr uintptr
	n    int64
}

func readProcess(int, []remotePart, []byte) error {
	return errors.New("reading another process's memory needs Linux")
}

func peerPID(*net.UnixConn) int { return 0 }
