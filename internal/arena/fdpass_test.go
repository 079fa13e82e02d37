//go:build linux

package arena

import (
	"bytes"
	"net"
	"os"
	"syscall"
	"testing"
)

// unixPair returns the two ends of a connected Unix stream socket.
func unixPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
		t.Cleanup(func() { c.Close() })
	}
	return conns[0], conns[1]
}

func TestSendRecvFile(t *testing.T) {
	a := newTestArena(t, 1<<20, Options{}, defaultPolicy(testPage))
	cases := []struct {
		name    string
		headers [][]byte // sent back to back before any is received
		sendErr bool
	}{
		{"no header", [][]byte{nil}, false},
		{"small header", [][]byte{[]byte("arena v1 size=1048576")}, false},
		{"largest header", [][]byte{bytes.Repeat([]byte{7}, MaxHeader)}, false},
		{"header too large", [][]byte{make([]byte, MaxHeader+1)}, true},
		{"several in a row", [][]byte{[]byte("one"), nil, bytes.Repeat([]byte{9}, 5000), []byte("four")}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			send, recv := unixPair(t)
			errs := make(chan error, 1)
			go func() {
				for _, h := range c.headers {
					if err := SendFile(send, a.File(), h); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
			if c.sendErr {
				if err := <-errs; err == nil {
					t.Fatal("SendFile of an oversized header succeeded")
				}
				return
			}
			for i, want := range c.headers {
				f, h, err := RecvFile(recv)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				var st syscall.Stat_t
				if err := syscall.Fstat(int(f.Fd()), &st); err != nil || st.Size != a.Size() {
					t.Errorf("message %d: the received file has %d bytes (%v), want %d", i, st.Size, err, a.Size())
				}
				f.Close()
				if !bytes.Equal(h, want) {
					t.Errorf("message %d: header of %d bytes, want %d", i, len(h), len(want))
				}
			}
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRecvFileWithoutDescriptor(t *testing.T) {
	send, recv := unixPair(t)
	if _, err := send.Write([]byte{0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if f, _, err := RecvFile(recv); err == nil {
		f.Close()
		t.Fatal("RecvFile of a message without a descriptor succeeded")
	}
}
