package objstore

import "syscall"

// fsSpace returns the bytes available to this user and the size of the
// file system holding path.
func fsSpace(path string) (avail, total int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	return int64(st.Bavail) * st.Bsize, int64(st.Blocks) * st.Bsize, nil
}
