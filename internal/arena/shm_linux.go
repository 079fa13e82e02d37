package arena

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// Linux constants that package syscall lacks.
const (
	mfdCloexec        = 0x1
	fallocPunchHole   = 0x2 | 0x1 // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
	madvPopulateWrite = 23        // Linux 5.14
	seekData          = 3
	seekHole          = 4
)

// memfdCreateTrap is memfd_create's system call number, 0 where unknown
// (New then uses a file in /dev/shm).
func memfdCreateTrap() uintptr {
	switch runtime.GOARCH {
	case "amd64":
		return 319
	case "arm64", "riscv64", "loong64":
		return 279
	case "386":
		return 356
	case "arm":
		return 385
	case "ppc64", "ppc64le":
		return 360
	case "s390x":
		return 350
	}
	return 0
}

func memfdCreate(name string) (*os.File, error) {
	trap := memfdCreateTrap()
	if trap == 0 {
		return nil, fmt.Errorf("memfd_create: %w", syscall.ENOSYS)
	}
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return nil, err
	}
	fd, _, errno := syscall.Syscall(trap, uintptr(unsafe.Pointer(p)), mfdCloexec, 0)
	if errno != 0 {
		return nil, fmt.Errorf("memfd_create: %w", errno)
	}
	return os.NewFile(fd, "memfd:"+name), nil
}

// openShared returns a descriptor of size bytes of shared memory and a
// read-only descriptor of the same memory for other processes, and says
// where the memory lives. Without dir it is a memfd, else (or when
// memfd_create fails) an unlinked file in dir, /dev/shm or os.TempDir(),
// the first with room for size bytes.
func openShared(name string, size int64, dir string) (rw, ro *os.File, where string, err error) {
	var errs []error
	if dir == "" {
		rw, ro, err = openMemfd(name, size)
		if err == nil {
			return rw, ro, "memfd", nil
		}
		errs = append(errs, err)
	}
	dirs := []string{dir}
	if dir == "" {
		dirs = []string{"/dev/shm", os.TempDir()}
	}
	for _, d := range dirs {
		rw, ro, err = openUnlinked(d, name, size)
		if err == nil {
			return rw, ro, d, nil
		}
		errs = append(errs, err)
	}
	return nil, nil, "", fmt.Errorf("no shared memory for a %d-byte arena: %w", size, errors.Join(errs...))
}

func openMemfd(name string, size int64) (rw, ro *os.File, err error) {
	rw, err = memfdCreate(name)
	if err != nil {
		return nil, nil, err
	}
	// Reopening through /proc gives a new open file description that is
	// read-only: a process that receives it can neither write to the
	// memory nor map it writable.
	ro, err = os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", rw.Fd()), os.O_RDONLY, 0)
	if err == nil {
		err = rw.Truncate(size)
	}
	if err != nil {
		rw.Close()
		if ro != nil {
			ro.Close()
		}
		return nil, nil, fmt.Errorf("memfd: %w", err)
	}
	return rw, ro, nil
}

// openUnlinked creates a file of size bytes in dir and removes its name.
// A file system without room for it is refused up front: a write to a
// page that tmpfs cannot back would kill the process with SIGBUS (Docker's
// /dev/shm is 64 MiB by default).
func openUnlinked(dir, name string, size int64) (rw, ro *os.File, err error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	if avail := int64(fs.Bavail) * fs.Bsize; avail < size {
		return nil, nil, fmt.Errorf("%s has %d bytes free, fewer than %d", dir, avail, size)
	}
	rw, err = os.CreateTemp(dir, name+"-*")
	if err != nil {
		return nil, nil, err
	}
	path := rw.Name()
	defer os.Remove(path)
	ro, err = os.Open(path)
	if err == nil {
		err = rw.Truncate(size)
	}
	if err != nil {
		rw.Close()
		if ro != nil {
			ro.Close()
		}
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return rw, ro, nil
}

// release gives the pages of [off, off+n) back to the kernel and returns
// how many bytes of memory they held, found with SEEK_DATA/SEEK_HOLE so
// that pages never written, or already released, are not counted.
func release(fd int, mem []byte, off, n int64) (int64, error) {
	held, err := heldBytes(fd, off, off+n)
	if err != nil || held == 0 {
		return 0, err
	}
	err = syscall.Fallocate(fd, fallocPunchHole, off, n)
	if errors.Is(err, syscall.EOPNOTSUPP) {
		err = syscall.Madvise(mem[off:off+n], syscall.MADV_REMOVE)
	}
	if err != nil {
		return 0, fmt.Errorf("releasing %d bytes at offset %d: %w", n, off, err)
	}
	return held, nil
}

// heldBytes returns the bytes of [lo, hi) that hold data.
func heldBytes(fd int, lo, hi int64) (int64, error) {
	var held int64
	for pos := lo; pos < hi; {
		d, err := syscall.Seek(fd, pos, seekData)
		switch {
		case errors.Is(err, syscall.ENXIO):
			return held, nil // no data after pos
		case errors.Is(err, syscall.EINVAL):
			return hi - lo, nil // no SEEK_DATA here: assume it all
		case err != nil:
			return 0, fmt.Errorf("seeking data in [%d, %d): %w", lo, hi, err)
		case d >= hi:
			return held, nil
		}
		h, err := syscall.Seek(fd, d, seekHole)
		if err != nil {
			return 0, fmt.Errorf("seeking a hole in [%d, %d): %w", lo, hi, err)
		}
		held += min(h, hi) - d
		pos = h
	}
	return held, nil
}

func mapShared(fd int, size int64, writable bool) ([]byte, error) {
	prot := syscall.PROT_READ
	if writable {
		prot |= syscall.PROT_WRITE
	}
	return syscall.Mmap(fd, 0, int(size), prot, syscall.MAP_SHARED)
}

func unmap(mem []byte) error { return syscall.Munmap(mem) }

func sizeOf(fd int) (int64, error) {
	var st syscall.Stat_t
	err := syscall.Fstat(fd, &st)
	return st.Size, err
}

// adviseHugePages asks for transparent huge pages; advice only.
func adviseHugePages(mem []byte) { _ = syscall.Madvise(mem, syscall.MADV_HUGEPAGE) }

// populate faults in every page of mem for writing.
func populate(mem []byte, page int64) {
	if populateRange(mem) == nil {
		return
	}
	for i := int64(0); i < int64(len(mem)); i += page { // before Linux 5.14
		mem[i] = 0
	}
}

func populateRange(mem []byte) error { return syscall.Madvise(mem, madvPopulateWrite) }
