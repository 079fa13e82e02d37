package runtimeenv

import (
	"os"
	"syscall"
)

// sysStamp returns the inode, device and status-change time of fi, which
// the pack cache adds to size and modification time to notice a file
// replaced or rewritten in place.
func sysStamp(fi os.FileInfo) (ino, dev uint64, ctime int64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0
	}
	return st.Ino, uint64(st.Dev), st.Ctim.Sec*1e9 + st.Ctim.Nsec
}

// openNoFollow opens a file for reading, refusing a symbolic link (a file
// swapped for a link after the walk is not followed out of the tree).
func openNoFollow(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
