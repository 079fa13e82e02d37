package objstore

import (
	"fmt"
	"math"
	"time"

	"github.com/shoal-dev/shoal/internal/arena"
	"github.com/shoal-dev/shoal/internal/bigbuf"
	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/ids"
)

// The store's memory. With an arena (Config.Arena) an object's memory copy
// lives in it: written in place (Reserve, then Seal), reused without zeroing
// once the object is gone, and mapped by the node's executors, which read it
// without a copy. Arena memory is reused, so a reader pins what it reads
// (Acquire) and lets go (the release function); an object evicted, spilled
// or deleted while pinned keeps its memory until the last reader let go.
// Spills pin what they write, too. Without an arena, memory copies are
// buffers on the Go heap, which the garbage collector keeps for as long as a
// reader holds them, and pins are not needed.
//
// The memory budget (Config.MemoryBytes) is what the store counts; the
// arena is sized a little larger (ArenaSize), because pinned memory of
// objects already out of the budget, and fragmentation, can leave the arena
// short of a span the budget has room for. Then the object goes on the Go
// heap instead: never refused for that reason.

// objMem is the arena memory of one object's memory copy.
type objMem struct {
	span arena.Span
	pins int
	// dropped: the copy left the store while pinned; its span is freed
	// when the last pin goes.
	dropped bool
}

// Arena returns the store's shared memory, or nil when its memory copies
// are on the Go heap.
func (s *Store) Arena() *arena.Arena { return s.arena }

// closeArena closes the arena once no reader pins any of it: pinned spans
// belong to readers that have not let go yet (a node stopping with its
// executors still reading), and a mapping closed under them would fault.
func (s *Store) closeArena() {
	if s.arena == nil {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.arena.Stats().Live > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // (a stop is rare: polling is enough)
	}
	if n := s.arena.Stats().Live; n > 0 {
		s.log.Warn("closing the object store with objects still pinned by readers", "spans", n)
		return // left mapped: the process is ending
	}
	s.arena.Close()
}

// ArenaSize is the size of an arena for a store whose memory budget is
// budget: the budget and an eighth, at least 64 MiB more.
func ArenaSize(budget int64) int64 {
	return budget + max(budget/8, 64<<20)
}

// allocLocked returns memory for a copy of n bytes: a span of the arena
// when there is one and it fits, else a buffer on the Go heap (mem nil).
// Called with s.mu held.
func (s *Store) allocLocked(n int64) ([]byte, *objMem) {
	if s.arena != nil && n > 0 {
		if sp, ok := s.arena.Alloc(n); ok {
			return s.arena.Bytes(sp), &objMem{span: sp}
		}
		s.counters.arenaMisses++
	}
	return nil, nil
}

// dropMemLocked lets go of e's memory copy: its span goes back to the
// arena now, or when the last pin goes. Called with s.mu held.
func (s *Store) dropMemLocked(e *entry) {
	e.data = nil
	m := e.mem
	e.mem = nil
	if m == nil {
		return
	}
	if m.pins > 0 {
		m.dropped = true
		s.pinnedBytes += m.span.Len
		return
	}
	s.arena.Free(m.span)
}

// unpinLocked ends one pin of m. Called with s.mu held.
func (s *Store) unpinLocked(m *objMem) {
	if m == nil {
		return
	}
	m.pins--
	if m.pins == 0 && m.dropped {
		m.dropped = false
		s.pinnedBytes -= m.span.Len
		s.arena.Free(m.span)
	}
}

// sharedSize and sharedUsed describe the arena (0 without one).
func (s *Store) sharedSize() int64 {
	if s.arena == nil {
		return 0
	}
	return s.arena.Size()
}

func (s *Store) sharedUsed() int64 {
	if s.arena == nil {
		return 0
	}
	return s.arena.Stats().Used
}

// TrimToBudget gives back to the kernel free shared memory past the
// memory budget (with a sixteenth of it to spare, and the memory readers
// still pin), whatever its age, and returns how much. Freed memory stays
// with the arena for reuse (fresh pages cost more than the copy into
// them), but a store whose objects come and go in sizes its free extents
// do not fit takes fresh pages again and again: an 8x-budget shuffle's
// store held its whole arena, the budget and 64 MiB more.
func (s *Store) TrimToBudget() int64 {
	if s.arena == nil || s.memLimit == math.MaxInt64 {
		return 0
	}
	s.mu.Lock()
	limit := s.memLimit + s.memLimit/16 + s.pinnedBytes
	s.mu.Unlock()
	n, err := s.arena.TrimTo(limit)
	if err != nil {
		s.log.Warn("giving shared memory past the budget back to the kernel failed", "error", err)
	}
	return n
}

// TrimIdle gives back to the kernel the shared memory that has been free
// for olderThan (arena.Trim), and returns how much.
func (s *Store) TrimIdle(olderThan time.Duration) int64 {
	if s.arena == nil {
		return 0
	}
	n, err := s.arena.Trim(olderThan)
	if err != nil {
		s.log.Warn("giving idle shared memory back to the kernel failed", "error", err)
	}
	return n
}

// unpin is unpinLocked without the lock held.
func (s *Store) unpin(m *objMem) {
	if m == nil {
		return
	}
	s.mu.Lock()
	s.unpinLocked(m)
	s.mu.Unlock()
}

// Acquire returns the bytes of id, reading them back from disk if the
// object was spilled, and keeps them valid until release is called (once).
// The bytes are read-only.
func (s *Store) Acquire(id ids.ID) (data []byte, release func(), err error) {
	data, m, ok, err := s.read(id, true, false)
	if err == nil && !ok {
		err = fmt.Errorf("object %s: %w", id.Short(), ErrNotFound)
	}
	if err != nil {
		return nil, nil, err
	}
	return data, s.releaseOf(m), nil
}

// AcquireShared is Acquire for readers of the arena (internal/localstore):
// ok is false, with no error, when id cannot be handed out from it: not
// here, on the Go heap, or spilled with no room in the arena to restore it
// (then it is not read at all: a reader of a range of it, such as a
// shuffle's reducer, takes only that range from the spill file through
// AcquireRange: reading each whole object for each reader had a 2 GiB
// shuffle over 256 MiB of budgets read 32 GB into the node's heap).
func (s *Store) AcquireShared(id ids.ID) (data []byte, release func(), ok bool, err error) {
	data, m, ok, err := s.read(id, true, true)
	if err != nil || !ok {
		return nil, nil, false, err
	}
	if m == nil {
		return nil, nil, false, nil // (on the Go heap)
	}
	return data, s.releaseOf(m), true, nil
}

// releaseOf returns the function that ends a reader's pin of m (once).
func (s *Store) releaseOf(m *objMem) func() {
	if m == nil {
		return func() {}
	}
	var done bool
	return func() {
		if !done {
			done = true
			s.unpin(m)
		}
	}
}

// inRange reports whether [off, off+n) lies within size bytes, without
// overflowing (a peer's request names both).
func inRange(off, n, size int64) bool {
	return off >= 0 && n >= 0 && off <= size && n <= size-off
}

// AcquireRange returns bytes [off, off+n) of id and the object's size,
// valid until release is called (once). An object in memory is sliced in
// place; a spilled one has only that range read from its spill file (not
// restored: a shuffle's reducers each read a small part of many spilled
// map outputs, and restoring each whole one per reader cost 100x the bytes
// and evicted the others). A range read from disk is not checked against
// the object's checksum, which covers the whole object.
func (s *Store) AcquireRange(id ids.ID, off, n int64) (data []byte, size int64, release func(), err error) {
	s.mu.Lock()
	e, ok := s.objects[id]
	if !ok || e.inMem {
		s.mu.Unlock()
		data, release, err := s.Acquire(id)
		if err != nil {
			return nil, 0, nil, err
		}
		if !inRange(off, n, int64(len(data))) {
			release()
			return nil, int64(len(data)), nil, fmt.Errorf("range [%d, +%d) is past the end of object %s (%d bytes)", off, n, id.Short(), len(data))
		}
		return data[off : off+n], int64(len(data)), release, nil
	}
	size = e.size
	if !inRange(off, n, size) {
		s.mu.Unlock()
		return nil, size, nil, fmt.Errorf("range [%d, +%d) is past the end of object %s (%d bytes)", off, n, id.Short(), size)
	}
	f, at := e.loc, e.off
	f.refs++
	s.counters.rangeReads++
	s.mu.Unlock()
	buf := make([]byte, n)
	fh, err := s.handle(f)
	if err == nil {
		if _, rerr := fh.ReadAt(buf, at+off); rerr != nil {
			err = fmt.Errorf("reading bytes [%d, +%d) of object %s from spill file %s: %w", off, n, id.Short(), f.path, rerr)
		}
	}
	s.mu.Lock()
	remove := s.release(f, nil)
	s.mu.Unlock()
	s.removeFiles(remove)
	if err != nil {
		return nil, size, nil, err
	}
	return buf, size, func() {}, nil
}

// Reservation is memory for a new object that its writer fills before
// sealing it (Seal) or giving it up (Abort). Data is nil when the store
// holds the object already (Exists): the writer has nothing to write.
type Reservation struct {
	Data []byte
	s    *Store
	id   ids.ID
	mem  *objMem
	// counted: the reservation's bytes count against the memory budget
	// (they are in s.memBytes and s.reservedBytes).
	counted bool
	exists  bool
	done    bool
}

// Exists reports whether the store already holds the object.
func (r *Reservation) Exists() bool { return r.exists }

// Reserve returns memory for an object of n bytes, written in place: in the
// arena when the store has one. It makes room in memory the way Put does
// (spilling the coldest objects); an object that cannot be held in memory is
// given a buffer and goes to disk when sealed. It fails at once, with
// ErrFull, when neither memory nor disk can take the object.
func (s *Store) Reserve(id ids.ID, n int64) (*Reservation, error) {
	r := &Reservation{s: s, id: id}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("storing object %s: %w", id.Short(), ErrClosed)
	}
	if _, ok := s.objects[id]; ok {
		s.mu.Unlock()
		r.exists = true
		return r, nil
	}
	if s.arena == nil || n > s.memLimit || n == 0 {
		// No arena, or an object that goes to disk: a buffer, stored by
		// Put when sealed.
		if n > s.memLimit {
			if err := s.checkBufferLocked(id, n); err != nil {
				s.mu.Unlock()
				return nil, err
			}
		}
		s.mu.Unlock()
		r.Data = bigbuf.Alloc(uint64(n))
		return r, nil
	}
	b, ok := s.roomLocked(n)
	if !ok {
		if s.diskAlloc+n <= s.diskLimit {
			if err := s.checkBufferLocked(id, n); err != nil {
				s.mu.Unlock()
				return nil, err
			}
			s.mu.Unlock()
			r.Data = bigbuf.Alloc(uint64(n)) // straight to disk, when sealed
			return r, nil
		}
		err := s.fullError(id, n)
		s.mu.Unlock()
		return nil, err
	}
	r.counted = true
	s.memBytes += n
	s.reservedBytes += n
	r.Data, r.mem = s.allocLocked(n)
	s.mu.Unlock()
	if err := s.writeBatch(id, b, nil); err != nil {
		r.Abort()
		return nil, err
	}
	if r.Data == nil {
		r.Data = bigbuf.Alloc(uint64(n))
	}
	return r, nil
}

// checkBufferLocked refuses an object of n bytes bound for disk through a
// heap buffer when the disk cannot take it or the buffer would be larger
// than bufferLimit, before anything is allocated.
func (s *Store) checkBufferLocked(id ids.ID, n int64) error {
	if s.diskAlloc+n > s.diskLimit {
		return s.fullError(id, n)
	}
	if n > s.bufferLimit {
		return fmt.Errorf("%w: object %s of %s is larger than the memory budget and than what this node can buffer on its way to disk (%s, half its available memory); store it as smaller objects",
			ErrFull, id.Short(), bytesize.Format(n), bytesize.Format(s.bufferLimit))
	}
	return nil
}

// Seal stores the reservation's bytes as the object; added is false when
// the store held the object already (the bytes are dropped).
func (r *Reservation) Seal() (added bool, err error) {
	if r.done {
		return false, fmt.Errorf("object %s: the reservation was sealed or given up already", r.id.Short())
	}
	r.done = true
	if r.exists {
		return false, nil
	}
	s := r.s
	if !r.counted {
		return s.putSlice(r.id, r.Data)
	}
	s.mu.Lock()
	n := int64(len(r.Data))
	s.memBytes -= n
	s.reservedBytes -= n
	_, dup := s.objects[r.id]
	if s.closed || dup {
		if r.mem != nil {
			s.arena.Free(r.mem.span)
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return false, fmt.Errorf("storing object %s: %w", r.id.Short(), ErrClosed)
		}
		return false, nil
	}
	// (The room was made when the reservation was; other Puts since count
	// it, so it is still there.)
	s.insertResident(&entry{id: r.id, size: n, data: r.Data, mem: r.mem, inMem: true})
	s.mu.Unlock()
	return true, nil
}

// Abort gives the reservation's memory back.
func (r *Reservation) Abort() {
	if r.done {
		return
	}
	r.done = true
	if !r.counted {
		return
	}
	s := r.s
	s.mu.Lock()
	n := int64(len(r.Data))
	s.memBytes -= n
	s.reservedBytes -= n
	if r.mem != nil {
		s.arena.Free(r.mem.span)
	}
	s.mu.Unlock()
}
