//go:build darwin || freebsd || netbsd

package scan

import (
	"os"
	"syscall"
)

// changeInfo returns the file's ctime (ns), inode and device.
func changeInfo(fi os.FileInfo) (ctime int64, ino, dev uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0
	}
	return st.Ctimespec.Nano(), uint64(st.Ino), uint64(st.Dev)
}
