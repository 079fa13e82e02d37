//go:build !(linux || openbsd || dragonfly || solaris || darwin || freebsd || netbsd)

package scan

import "os"

// changeInfo reports nothing where os.FileInfo carries no ctime and inode
// (Windows, AIX, Plan 9, wasm): sampled files then rest on size, mtime and
// their samples, and no digest is kept.
func changeInfo(os.FileInfo) (ctime int64, ino, dev uint64) { return 0, 0, 0 }
