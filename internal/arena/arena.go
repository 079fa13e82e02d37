package arena

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Options configure New. The zero value is the default.
type Options struct {
	// Name labels the memory in /proc/<pid>/fd and maps ("shoal-arena").
	Name string
	// Prefault takes the page faults of the whole arena in New, in one
	// system call (MADV_POPULATE_WRITE), rather than one by one in first
	// writes, at the price of holding all of Size from the start (until
	// Trim gives free extents back). doc.go has what it gains.
	Prefault bool

	dir string // tests: an unlinked file in dir instead of a memfd
}

// Span is an allocated range of an arena: Len bytes from offset Off. Its
// capacity (Len rounded up) is the allocator's business. Only Alloc makes
// spans: a span also carries a generation, so that freeing it twice, or
// after its memory went to another span, is caught.
type Span struct {
	Off, Len int64
	gen      uint64
}

// minTrim is the smallest free extent Trim releases: smaller holes are
// soon reused, and their pages would only be faulted in again.
const minTrim = hugePage

// trimPiece bounds what Trim takes out of the free extents at a time: the
// pages are released without the lock, and this much free memory is
// unavailable to Alloc meanwhile.
const trimPiece = 64 << 20

// Arena is one region of shared memory and its allocator.
//
// Locks: trimMu (Trim and Close, one at a time) is taken before mu (the
// allocator); a Trim holds mu only to take an extent out and to put it
// back, never while it releases the pages, so Alloc and Free never wait
// for the kernel.
type Arena struct {
	trimMu sync.Mutex
	mu     sync.Mutex
	alloc  *allocator // guarded by mu

	mem    []byte // the mapping, fixed from New to Close
	rw, ro *os.File
	fd     int
	where  string
	start  time.Time // the clock of free extents' ages
	closed atomic.Bool
}

// New returns an arena of size bytes (rounded up to the page size) of
// shared memory: a memfd, or where memfd_create is unavailable an unlinked
// file in /dev/shm or else os.TempDir(), mapped read-write. The mapping is
// advised to use transparent huge pages (advice only: shared memory gets
// them only where /sys/kernel/mm/transparent_hugepage/shmem_enabled allows).
func New(size int64, opts Options) (*Arena, error) {
	return newArena(size, opts, defaultPolicy(int64(os.Getpagesize())))
}

func newArena(size int64, opts Options, pol policy) (*Arena, error) {
	if size <= 0 {
		return nil, fmt.Errorf("arena: size %d is not positive", size)
	}
	size = alignUp(size, pol.page)
	name := opts.Name
	if name == "" {
		name = "shoal-arena"
	}
	rw, ro, where, err := openShared(name, size, opts.dir)
	if err != nil {
		return nil, fmt.Errorf("arena: %w", err)
	}
	// Refuse a writable reopen through /proc/<pid>/fd to a process that
	// holds ro by mistake (not to root, nor to one that chmods it back).
	_ = rw.Chmod(0o400)
	fd := int(rw.Fd())
	mem, err := mapShared(fd, size, true)
	if err != nil {
		rw.Close()
		ro.Close()
		return nil, fmt.Errorf("arena: mapping %d bytes of %s: %w", size, where, err)
	}
	adviseHugePages(mem)
	a := &Arena{alloc: newAllocator(size, pol), mem: mem, rw: rw, ro: ro, fd: fd, where: where, start: time.Now()}
	if opts.Prefault {
		populate(mem, pol.page)
		a.alloc.prefaulted(a.now())
	}
	return a, nil
}

// Alloc allocates n bytes (a page for n = 0). It reports false, at once,
// when no free extent can hold them: the caller spills or reports the
// store full. The memory is not zeroed: it holds whatever its last span
// left there (zeros if it was never written or was trimmed), and the
// caller overwrites it.
func (a *Arena) Alloc(n int64) (Span, bool) {
	if a.closed.Load() {
		return Span{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.alloc.alloc(n)
}

// Free returns s to the arena. Freeing a span that is not allocated (freed
// already, or its memory reallocated since, or a span of another arena)
// panics, leaving the arena as it was: the caller's accounting is broken,
// and going on could hand one buffer to two objects.
func (a *Arena) Free(s Span) {
	now := a.now()
	a.mu.Lock()
	err := a.alloc.free(s, now)
	a.mu.Unlock()
	if err != nil {
		panic(err)
	}
}

// Bytes returns s's memory, writable, with length and capacity s.Len. It is
// valid until s is freed.
func (a *Arena) Bytes(s Span) []byte {
	if a.closed.Load() {
		panic("arena: Bytes after Close")
	}
	if s.Off < 0 || s.Len < 0 || s.Off > int64(len(a.mem))-s.Len {
		panic(fmt.Sprintf("arena: span [%d, +%d) is outside the arena's %d bytes", s.Off, s.Len, len(a.mem)))
	}
	return a.mem[s.Off : s.Off+s.Len : s.Off+s.Len]
}

// Populate faults in the pages of s for writing, in one system call
// (MADV_POPULATE_WRITE, Linux 5.14+), ahead of a fill that would otherwise
// take its page faults one by one: worth it for a span of fresh or trimmed
// memory, a no-op for memory already in place (see BenchmarkWrite).
func (a *Arena) Populate(s Span) error {
	b := a.Bytes(s)
	if len(b) == 0 {
		return nil
	}
	// madvise wants a page-aligned start; the span's capacity covers the
	// rounded range.
	lo := s.Off &^ (a.alloc.pol.page - 1)
	if err := populateRange(a.mem[lo : s.Off+s.Len]); err != nil {
		return fmt.Errorf("arena: populating [%d, +%d): %w", s.Off, s.Len, err)
	}
	return nil
}

// File returns a read-only descriptor of the arena's memory, to hand to
// processes of this machine (SendFile) that Map it. The arena owns it:
// Close closes it.
func (a *Arena) File() *os.File { return a.ro }

// Where says where the memory lives: "memfd", or the directory of the
// unlinked file that holds it.
func (a *Arena) Where() string { return a.where }

// Size returns the arena's size in bytes.
func (a *Arena) Size() int64 { return int64(len(a.mem)) }

// Stats returns the arena's accounting. While a Trim runs, the extent it
// is releasing counts as free but not in LargestFree or FreeExtents.
func (a *Arena) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.alloc.stats()
}

// Trim gives back to the kernel the memory of free extents of at least
// 2 MiB that have been free for olderThan or more, and returns how many
// bytes of memory that released. A released extent that is allocated again
// faults in fresh, zeroed pages. Memory is released without holding the
// allocator's lock, 64 MiB at a time; meanwhile that piece is not
// available to Alloc.
func (a *Arena) Trim(olderThan time.Duration) (int64, error) {
	return a.trim(a.now()-int64(olderThan), func(*allocator) int64 { return trimPiece })
}

// Resident returns a bound of the arena's memory that holds pages: its
// live spans and what of its free extents was written since last trimmed
// (memory never written, or trimmed, holds none).
func (a *Arena) Resident() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.alloc.resident()
}

// TrimTo gives back to the kernel the memory of free extents of at least
// 2 MiB, whatever their age, until Resident is at most limit (or no such
// extent is left), and returns how many bytes of memory that released: a
// store keeps its memory within its budget so, paying for fresh pages when
// it allocates there again.
func (a *Arena) TrimTo(limit int64) (int64, error) {
	return a.trim(a.now(), func(al *allocator) int64 {
		return min(trimPiece, alignUp(al.resident()-limit, al.pol.page))
	})
}

// trim releases free extents freed at cutoff or before, each time at most
// as much as piece says (0 or less: stop).
func (a *Arena) trim(cutoff int64, piece func(*allocator) int64) (int64, error) {
	a.trimMu.Lock()
	defer a.trimMu.Unlock()
	if a.closed.Load() {
		return 0, errClosed
	}
	var released int64
	cursor := extentKey{minTrim, 0}
	for {
		a.mu.Lock()
		most := piece(a.alloc)
		var off, n, since int64
		ok := false
		if most > 0 {
			off, n, since, ok = a.alloc.takeForTrim(&cursor, most, cutoff)
		}
		a.mu.Unlock()
		if !ok {
			return released, nil
		}
		r, err := release(a.fd, a.mem, off, n)
		a.mu.Lock()
		if err != nil {
			a.alloc.putUntrimmed(off, n, since)
		} else {
			a.alloc.putTrimmed(off, n)
		}
		a.mu.Unlock()
		if err != nil {
			return released, fmt.Errorf("arena: trim: %w", err)
		}
		released += r
	}
}

var errClosed = errors.New("arena: closed")

// Close unmaps the arena and closes its descriptors. Spans' memory must no
// longer be used; processes that mapped the arena keep their mappings,
// and the memory lives until the last of them is unmapped.
func (a *Arena) Close() error {
	a.trimMu.Lock()
	defer a.trimMu.Unlock()
	if a.closed.Swap(true) {
		return errClosed
	}
	return errors.Join(unmap(a.mem), a.rw.Close(), a.ro.Close())
}

// now reads the arena's monotonic clock, in nanoseconds.
func (a *Arena) now() int64 { return int64(time.Since(a.start)) }

// warmChunk is what Warm writes at a time.
const warmChunk = 64 << 20

// Warm writes the first limit bytes of free memory once (zeros, 64 MiB
// at a time, each taken as a span while it is written so that Alloc never
// hands it out half-warm), so that the objects later written there do not
// pay for first-touch page faults: in a virtual machine the first write to
// a page costs more than the copy itself (doc.go), and populating pages
// (Options.Prefault) does not take that cost, a write does. It stops at
// ctx's end, when the arena has no free chunk left, or after limit, and
// returns how many bytes it warmed. Meant to run in the background at
// start; memory Trim gives back is cold again.
func (a *Arena) Warm(ctx context.Context, limit int64) int64 {
	var held []Span
	var warmed int64
	for warmed < limit && ctx.Err() == nil {
		sp, ok := a.Alloc(min(warmChunk, limit-warmed))
		if !ok {
			break
		}
		fillWarm(a.Bytes(sp))
		held = append(held, sp)
		warmed += sp.Len
	}
	for _, sp := range held {
		a.Free(sp)
	}
	return warmed
}

// Offset reports where b, a slice of the arena's memory (of a span's
// Bytes), starts in it; ok is false when b is not in the arena.
func (a *Arena) Offset(b []byte) (off int64, ok bool) {
	if len(a.mem) == 0 || len(b) == 0 {
		return 0, false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(a.mem)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if p < base || p+uintptr(len(b)) > base+uintptr(len(a.mem)) {
		return 0, false
	}
	return int64(p - base), true
}

// fillWarm writes a non-zero pattern over b: pages of zeros are what a
// hypervisor reclaims or merges (free page reporting, same-page merging),
// after which the next write to them costs the host's fault again.
func fillWarm(b []byte) {
	if len(b) == 0 {
		return
	}
	b[0] = 0xA5
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}
