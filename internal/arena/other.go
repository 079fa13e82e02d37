//go:build !linux

package arena

import (
	"errors"
	"net"
	"os"
)

// Arenas need Linux (memfd, SCM_RIGHTS, hole punching); elsewhere New and
// Map fail with errors.ErrUnsupported.

func openShared(string, int64, string) (rw, ro *os.File, where string, err error) {
	return nil, nil, "", errors.ErrUnsupported
}

func mapShared(int, int64, bool) ([]byte, error)       { return nil, errors.ErrUnsupported }
func unmap([]byte) error                               { return errors.ErrUnsupported }
func sizeOf(int) (int64, error)                        { return 0, errors.ErrUnsupported }
func adviseHugePages([]byte)                           {}
func populate([]byte, int64)                           {}
func populateRange([]byte) error                       { return errors.ErrUnsupported }
func release(int, []byte, int64, int64) (int64, error) { return 0, errors.ErrUnsupported }

// SendFile needs Linux.
func SendFile(*net.UnixConn, *os.File, []byte) error { return errors.ErrUnsupported }

// RecvFile needs Linux.
func RecvFile(*net.UnixConn) (*os.File, []byte, error) { return nil, nil, errors.ErrUnsupported }
