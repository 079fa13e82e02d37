package localstore

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// remotePart is a range of another process's memory.
type remotePart struct {
	addr uintptr
	n    int64
}

// maxReadv bounds one process_vm_readv (the kernel moves at most
// MAX_RW_COUNT, a little under 2 GiB, per call).
const maxReadv = 1 << 30

// maxIovecs bounds the ranges of one process_vm_readv (the kernel's
// IOV_MAX).
const maxIovecs = 1024

// readProcess copies parts of process pid's memory, in order, into dst
// (exactly as long as the parts together): up to maxIovecs parts at a
// time, in one system call (a shuffle's map output comes in hundreds).
func readProcess(pid int, parts []remotePart, dst []byte) error {
	off := 0
	var remote []unix.RemoteIovec
	for len(parts) > 0 {
		remote = remote[:0]
		var n int64
		for len(parts) > 0 && len(remote) < maxIovecs {
			p := parts[0]
			if p.n > maxReadv-n {
				if len(remote) > 0 {
					break
				}
				// A part larger than one call moves: its first piece now,
				// the rest next time.
				remote = append(remote, unix.RemoteIovec{Base: p.addr, Len: int(maxReadv)})
				parts[0] = remotePart{addr: p.addr + uintptr(maxReadv), n: p.n - maxReadv}
				n = maxReadv
				break
			}
			if p.n > 0 {
				remote = append(remote, unix.RemoteIovec{Base: p.addr, Len: int(p.n)})
				n += p.n
			}
			parts = parts[1:]
		}
		if n == 0 {
			continue
		}
		if int64(len(dst)-off) < n {
			return fmt.Errorf("the parts hold more than the %d bytes expected", len(dst))
		}
		local := []unix.Iovec{{Base: &dst[off], Len: uint64(n)}}
		got, err := unix.ProcessVMReadv(pid, local, remote, 0)
		if err != nil {
			return fmt.Errorf("process_vm_readv of %d bytes from pid %d: %w", n, pid, err)
		}
		if int64(got) != n {
			// (a range the writer does not map: it stops there)
			return fmt.Errorf("process_vm_readv read %d of %d bytes from pid %d", got, n, pid)
		}
		off += got
	}
	if off != len(dst) {
		return fmt.Errorf("read %d bytes of %d", off, len(dst))
	}
	return nil
}

// peerPID is the pid of the process at the other end of c (0 if unknown).
func peerPID(c *net.UnixConn) int {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	pid := 0
	raw.Control(func(fd uintptr) {
		if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
	})
	return pid
}
