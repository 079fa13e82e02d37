package arena

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// SendFile sends f's descriptor over a Unix stream connection (SCM_RIGHTS)
// with header, which says what it is (an arena's size, say). The message
// is the header's length (4 bytes, little-endian) and the header, with the
// descriptor attached to its first byte.
func SendFile(c *net.UnixConn, f *os.File, header []byte) error {
	if len(header) > MaxHeader {
		return fmt.Errorf("arena: sending a file: a %d-byte header is over the %d-byte limit", len(header), MaxHeader)
	}
	msg := make([]byte, 4+len(header))
	binary.LittleEndian.PutUint32(msg, uint32(len(header)))
	copy(msg[4:], header)
	conn, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("arena: sending %s: %w", f.Name(), err)
	}
	var n int
	cerr := conn.Control(func(fd uintptr) {
		n, _, err = c.WriteMsgUnix(msg, syscall.UnixRights(int(fd)), nil)
	})
	if err == nil && n < len(msg) {
		_, err = c.Write(msg[n:]) // the rest of a long header
	}
	if err = errors.Join(cerr, err); err != nil {
		return fmt.Errorf("arena: sending %s: %w", f.Name(), err)
	}
	return nil
}

// RecvFile receives a file and its header sent by SendFile. The
// descriptor is close-on-exec.
func RecvFile(c *net.UnixConn) (*os.File, []byte, error) {
	var size [4]byte
	oob := make([]byte, syscall.CmsgSpace(4*4)) // room to see (and close) a few extra descriptors
	n, oobn, flags, _, err := c.ReadMsgUnix(size[:], oob)
	if err != nil {
		return nil, nil, fmt.Errorf("arena: receiving a file: %w", err)
	}
	fds, perr := parseRights(oob[:oobn])
	var f *os.File
	if len(fds) == 1 {
		f = os.NewFile(uintptr(fds[0]), "arena")
	} else {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}
	switch {
	case perr != nil:
		err = perr
	case flags&syscall.MSG_CTRUNC != 0:
		err = errors.New("control message truncated (too many descriptors)")
	case len(fds) != 1:
		err = fmt.Errorf("%d descriptors in the message, want 1", len(fds))
	case n < len(size):
		_, err = io.ReadFull(c, size[n:])
	}
	var header []byte
	if err == nil {
		if l := binary.LittleEndian.Uint32(size[:]); l > MaxHeader {
			err = fmt.Errorf("a %d-byte header is over the %d-byte limit", l, MaxHeader)
		} else {
			header = make([]byte, l)
			_, err = io.ReadFull(c, header)
		}
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, nil, fmt.Errorf("arena: receiving a file: %w", err)
	}
	return f, header, nil
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_RIGHTS {
			got, err := syscall.ParseUnixRights(&m)
			if err != nil {
				return fds, err
			}
			fds = append(fds, got...)
		}
	}
	return fds, nil
}
