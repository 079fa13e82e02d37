//go:build !linux

package runtimeenv

import "os"

// sysStamp returns nothing beyond size and modification time on systems
// where the pack cache does not read inode numbers and status-change times.
func sysStamp(fi os.FileInfo) (ino, dev uint64, ctime int64) { return 0, 0, 0 }

// openNoFollow opens a file for reading.
func openNoFollow(p string) (*os.File, error) { return os.Open(p) }
