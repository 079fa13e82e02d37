package arena

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// ErrOutOfRange is returned by View.Bytes for a range outside the view.
var ErrOutOfRange = errors.New("arena: range outside the mapped arena")

// View is an arena mapped read-only by another process (an executor),
// which reads objects in place. A write through its memory faults: the
// process dies of SIGSEGV, or panics with a runtime.Error in a goroutine
// that called debug.SetPanicOnFault(true).
type View struct {
	mem    []byte
	closed atomic.Bool
}

// Map maps the first size bytes of an arena's file, as received from
// File (and RecvFile), read-only and shared: the view sees what the arena's
// owner writes. The file must hold at least size bytes (a read past its end
// would kill the process with SIGBUS).
func Map(f *os.File, size int64) (*View, error) {
	if size <= 0 {
		return nil, fmt.Errorf("arena: mapping %d bytes: size is not positive", size)
	}
	conn, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("arena: mapping %s: %w", f.Name(), err)
	}
	var mem []byte
	cerr := conn.Control(func(fd uintptr) {
		var fileSize int64
		if fileSize, err = sizeOf(int(fd)); err != nil {
			return
		}
		if fileSize < size {
			err = fmt.Errorf("the file holds %d bytes, fewer than %d", fileSize, size)
			return
		}
		mem, err = mapShared(int(fd), size, false)
	})
	if err = errors.Join(cerr, err); err != nil {
		return nil, fmt.Errorf("arena: mapping %d bytes of %s: %w", size, f.Name(), err)
	}
	return &View{mem: mem}, nil
}

// Bytes returns the n bytes at offset off, read-only (writing to them
// faults), with length and capacity n. They stay valid until Close.
func (v *View) Bytes(off, n int64) ([]byte, error) {
	if v.closed.Load() {
		return nil, errClosed
	}
	if off < 0 || n < 0 || off > int64(len(v.mem))-n {
		return nil, fmt.Errorf("%w: [%d, +%d) of %d bytes", ErrOutOfRange, off, n, len(v.mem))
	}
	return v.mem[off : off+n : off+n], nil
}

// Size returns the mapped size in bytes.
func (v *View) Size() int64 { return int64(len(v.mem)) }

// Close unmaps the view; slices from Bytes must no longer be used.
func (v *View) Close() error {
	if v.closed.Swap(true) {
		return errClosed
	}
	return unmap(v.mem)
}
