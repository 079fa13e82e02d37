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

// readProcess copies parts of process pid's memory, in order, into dst
// (exactly as long as the parts together).
func readProcess(pid int, parts []remotePart, dst []byte) error {
	off := 0
	for _, p := range parts {
		for done := int64(0); done < p.n; {
			n := min(p.n-done, maxReadv)
			local := []unix.Iovec{{Base: &dst[off], Len: uint64(n)}}
			remote := []unix.RemoteIovec{{Base: p.addr + uintptr(done), Len: int(n)}}
			got, err := unix.ProcessVMReadv(pid, local, remote, 0)
			if err != nil {
				return fmt.Errorf("process_vm_readv of %d bytes from pid %d: %w", n, pid, err)
			}
			if got <= 0 {
				return fmt.Errorf("process_vm_readv read nothing from pid %d", pid)
			}
			done += int64(got)
			off += got
		}
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
