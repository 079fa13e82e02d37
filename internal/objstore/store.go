package objstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-dev/shoal/internal/arena"
	"github.com/shoal-dev/shoal/internal/bigbuf"
	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/ids"
)

// Sentinel errors.
var (
	// ErrFull is wrapped by the error of a Put that neither memory nor
	// disk can take.
	ErrFull = errors.New("object store full")
	// ErrNotFound is returned by Read for an object the store does not hold.
	ErrNotFound = errors.New("object not in the store")
	// ErrClosed is returned by Put and Read after Close.
	ErrClosed = errors.New("object store closed")
)

// Values of Config.MemoryBytes and Config.DiskBytes that are not sizes.
const (
	// NoLimit as MemoryBytes lets memory grow without bound (never spill).
	NoLimit int64 = -1
	// NoSpill as DiskBytes turns spilling off: a Put past the memory
	// budget fails with ErrFull.
	NoSpill int64 = -1
)

// DefaultSegmentBytes is the default size of a spill segment file.
const DefaultSegmentBytes = 64 << 20

// A Put that must spill frees up to 1/16 of the memory budget (at most
// 4 MiB) beyond what it needs.
const (
	spillAheadFraction = 16
	maxSpillAhead      = 4 << 20
)

// Config configures a Store. The zero value is a store sized for the
// machine (see the package documentation for the defaults).
type Config struct {
	// MemoryBytes is the memory budget. 0: 30% of the available memory;
	// NoLimit: unbounded.
	MemoryBytes int64
	// DiskBytes bounds the bytes of the spill files. 0: the free space of
	// SpillDir's file system minus a margin; NoSpill: no spilling.
	DiskBytes int64
	// SpillDir is where the store makes its own spill directory
	// (shoal-objstore-*) on the first spill. Default: os.TempDir().
	SpillDir string
	// SegmentBytes is the size of the files small objects are fused into.
	// Default: DefaultSegmentBytes. Objects of SegmentBytes/4 or more get
	// their own file.
	SegmentBytes int64
	// SharedMemory keeps the objects' memory copies in a shared-memory
	// arena of the store's own (memory.go), which executors map to read
	// objects without a copy (Arena); ignored without a memory limit.
	SharedMemory bool
	// WarmBytes of the shared memory are written once when the store
	// opens (arena.Warm), before Open returns, so that the first objects
	// stored do not pay for first-touch page faults (costly in virtual
	// machines, as Ray's preallocate_plasma_memory). 0: none.
	WarmBytes int64
	Logger    *slog.Logger
}

// Store holds a node's objects. It is safe for concurrent use.
type Store struct {
	log       *slog.Logger
	arena     *arena.Arena // nil: memory copies on the Go heap
	memLimit  int64        // math.MaxInt64 when unbounded
	diskLimit int64        // 0 when spilling is off
	// bufferLimit bounds an object held in a Go heap buffer on its way to
	// disk (larger than the memory budget, or no room in it): half the
	// machine's available memory when the store opened. A declared size
	// past it is refused before anything is allocated (a PUT declaring
	// 60 GiB once killed a node with "runtime: out of memory").
	bufferLimit  int64
	spillParent  string
	segmentBytes int64
	largeBytes   int64
	staging      sync.Pool // *[]byte write-coalescing buffers, never handed out

	dirMu      sync.Mutex // guards dir and dirClosed; never held with mu
	dir        string
	dirClosed  bool
	dirName    atomic.Pointer[string] // dir, for error messages under mu
	compactors sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	objects    map[ids.ID]*entry
	totalBytes int64
	// In-memory objects that count against the budget, in two lists by
	// last use: dirty (memory only; evicting one means writing it) and
	// clean (with a disk copy; evicting one costs no I/O). Victims are
	// taken from the colder of the two tails, by their use tick.
	dirty, clean lruList
	tick         uint64
	// memBytes/memObjects: objects in memory that count against the budget
	// (all in-memory objects except those being written to disk).
	memBytes   int64
	memObjects int
	// reservedBytes: memory reserved (Reserve, restores in flight) for
	// objects not in the store yet; counted in memBytes too. pinnedBytes:
	// arena memory of copies that left the store while pinned.
	reservedBytes, pinnedBytes int64
	// writingBytes/writingObjects: objects being written to disk; they are
	// still in memory until the write completes.
	writingBytes   int64
	writingObjects int
	// diskLive/diskObjects: objects with a copy in a spill file (or one
	// being written); diskAlloc: bytes of the spill files, dead ones too.
	diskLive    int64
	diskObjects int
	diskAlloc   int64
	files       map[*spillFile]struct{}
	cur         *spillFile // the segment small objects are appended to
	fileSeq     int
	compactQ    []*spillFile
	compacting  bool
	gen         int // incremented by Clear
	counters    counters

	// beforeSpillWrite, if set (by tests), runs after a Put has reserved
	// its spill and before it writes, without mu.
	beforeSpillWrite func()
}

type counters struct {
	spills, spilledBytes     int64
	restores, restoredBytes  int64
	rangeReads               int64 // ranges read from spill files (AcquireRange)
	compactions, movedBytes  int64
	spillFailures, readFails int64
	arenaMisses              int64 // copies put on the Go heap: the arena had no span
}

// entry is one object. Its state is one of:
//   - in memory only (inMem, loc == nil), in the LRU;
//   - in memory with a disk copy (inMem, loc != nil), in the LRU; evicting
//     it drops the memory copy and costs no I/O;
//   - being spilled (inMem, writing, loc != nil), not in the LRU: Get reads
//     the memory copy until the write completes;
//   - on disk only (!inMem, loc != nil).
type entry struct {
	id      ids.ID
	size    int64
	data    []byte
	mem     *objMem // data's memory in the arena; nil for the Go heap
	inMem   bool
	writing bool
	deleted bool
	loc     *spillFile
	off     int64
	crc     uint32
	// LRU links and last use, while in s.dirty or s.clean.
	prev, next *entry
	list       *lruList
	used       uint64
}

// New returns a memory-only store that holds at most limit bytes (0: no
// limit); a Put past the limit fails with ErrFull. It is the simple
// constructor for tests and for callers that do not spill; Open makes a
// store that spills to disk.
func New(limit int64) *Store {
	if limit <= 0 {
		limit = NoLimit
	}
	s, err := Open(Config{MemoryBytes: limit, DiskBytes: NoSpill})
	if err != nil {
		// Open fails only on settings that need the file system, and a
		// memory-only store has none.
		panic(fmt.Sprintf("objstore: opening a memory-only store: %v", err))
	}
	return s
}

// Open returns a store configured by cfg, filling in the defaults. It fails
// if a setting is invalid or SpillDir cannot be used; the spill directory
// itself is created on the first spill.
func Open(cfg Config) (*Store, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "objstore")
	s := &Store{
		log:     log,
		objects: make(map[ids.ID]*entry),
		files:   make(map[*spillFile]struct{}),
	}
	switch {
	case cfg.MemoryBytes == NoLimit:
		s.memLimit = math.MaxInt64
	case cfg.MemoryBytes < 0:
		return nil, fmt.Errorf("object store memory must be positive, 0 (default) or -1 (no limit); got %d", cfg.MemoryBytes)
	case cfg.MemoryBytes == 0:
		b, how := defaultMemoryBytes(systemMemorySources())
		s.memLimit = b
		log.Info("object store memory budget", "bytes", b, "size", bytesize.Format(b), "from", how)
	default:
		s.memLimit = cfg.MemoryBytes
	}
	s.bufferLimit = defaultBufferLimit(systemMemorySources())
	s.staging.New = func() any {
		b := make([]byte, 0, stagingBytes)
		return &b
	}
	s.segmentBytes = cfg.SegmentBytes
	if s.segmentBytes <= 0 {
		s.segmentBytes = DefaultSegmentBytes
	}
	s.largeBytes = max(s.segmentBytes/4, 1)
	if cfg.SharedMemory && s.memLimit != math.MaxInt64 {
		a, err := arena.New(ArenaSize(s.memLimit), arena.Options{Name: "shoal-objstore"})
		if err != nil {
			return nil, fmt.Errorf("object store: %w", err)
		}
		s.arena = a
		log.Debug("object store memory is shared", "arena", bytesize.Format(a.Size()), "where", a.Where())
		if cfg.WarmBytes > 0 {
			start := time.Now()
			n := a.Warm(context.Background(), cfg.WarmBytes)
			log.Info("object store memory warmed", "bytes", bytesize.Format(n), "took", time.Since(start).Round(time.Millisecond))
		}
	}
	if cfg.DiskBytes == NoSpill {
		return s, nil
	}
	if cfg.DiskBytes < 0 {
		return nil, fmt.Errorf("object store disk must be positive, 0 (default) or -1 (no spilling); got %d", cfg.DiskBytes)
	}
	s.spillParent = cfg.SpillDir
	if s.spillParent == "" {
		s.spillParent = os.TempDir()
	}
	if fi, err := os.Stat(s.spillParent); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("object store spill directory %s is not a directory", s.spillParent)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("object store spill directory: %w", err)
	}
	s.diskLimit = cfg.DiskBytes
	if s.diskLimit == 0 {
		b, how, err := defaultDiskBytes(s.spillParent)
		if err != nil {
			return nil, fmt.Errorf("sizing the object store's disk budget (set it with --object-store-disk): %w", err)
		}
		s.diskLimit = b
		log.Info("object store disk budget", "bytes", b, "size", bytesize.Format(b), "from", how, "spill_dir", s.spillParent)
		if b == 0 {
			log.Warn("object store cannot spill: no free space under the spill directory", "spill_dir", s.spillParent)
		}
	}
	return s, nil
}

// Put stores data under id. With an arena the bytes are copied into it (a
// writer that can write in place uses Reserve); without, the store keeps
// data without copying it, so the caller must not modify it afterwards.
// Storing an id twice keeps the first value (an object's bytes never
// change) and reports added=false. A Put past the memory budget first
// spills the coldest objects to disk; when neither memory nor disk can take
// data, Put fails at once with an error wrapping ErrFull.
func (s *Store) Put(id ids.ID, data []byte) (added bool, err error) {
	n := int64(len(data))
	if s.arena == nil || n == 0 || n > s.memLimit {
		return s.putSlice(id, data)
	}
	r, err := s.Reserve(id, n)
	if err != nil {
		return false, err
	}
	if r.Exists() {
		return false, nil
	}
	bigbuf.CopyInto(r.Data, data)
	return r.Seal()
}

// putSlice stores data itself as id's bytes (no arena, or an object that
// goes straight to disk).
func (s *Store) putSlice(id ids.ID, data []byte) (added bool, err error) {
	n := int64(len(data))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false, fmt.Errorf("storing object %s: %w", id.Short(), ErrClosed)
	}
	if _, ok := s.objects[id]; ok {
		s.mu.Unlock()
		return false, nil
	}
	e := &entry{id: id, size: n, data: data, inMem: true}
	b, ok := s.roomLocked(n)
	switch {
	case ok:
		s.insertResident(e)
	case s.diskAlloc+n <= s.diskLimit && n > 0:
		// Memory cannot make room (the object is larger than the budget,
		// or the rest is being spilled already): the object goes straight
		// to disk.
		s.objects[id] = e
		s.totalBytes += n
		b = s.reserve([]*entry{e})
	default:
		err := s.fullError(id, n)
		s.mu.Unlock()
		return false, err
	}
	s.mu.Unlock()
	if err := s.writeBatch(id, b, e); err != nil {
		return false, err
	}
	return true, nil
}

// roomLocked makes room in memory for n more bytes: the coldest objects
// with a disk copy leave memory, and others are reserved for spilling (b,
// for writeBatch once s.mu is released). ok is false when no choice frees
// enough. Called with s.mu held.
func (s *Store) roomLocked(n int64) (b *spillBatch, ok bool) {
	if s.memBytes+n <= s.memLimit {
		return nil, true
	}
	clean, dirty, ok := s.pickVictims(n)
	if !ok {
		return nil, false
	}
	for _, v := range clean {
		s.evict(v)
	}
	if len(dirty) == 0 {
		return nil, true
	}
	return s.reserve(dirty), true
}

// writeBatch writes a spill batch reserved for storing id, without s.mu
// held, and ends it. If the write failed, the victims are back in memory,
// and e (the new object, if it is in the store already) is taken out
// rather than go over the memory budget.
func (s *Store) writeBatch(id ids.ID, b *spillBatch, e *entry) error {
	if b == nil {
		return nil
	}
	if s.beforeSpillWrite != nil {
		s.beforeSpillWrite()
	}
	werr := s.write(b)

	s.mu.Lock()
	remove := s.finish(b, werr)
	if werr != nil && e != nil && !e.deleted && s.objects[id] == e {
		remove = append(remove, s.deleteLocked(e)...)
	}
	var ferr error
	if werr != nil {
		ferr = s.spillError(id, b, werr)
	}
	s.mu.Unlock()
	s.removeFiles(remove)
	return ferr
}

// Get returns the bytes of id, reading them back from disk if the object
// was spilled. The slice must not be modified; it stays valid after the
// object is spilled or deleted (with an arena, it is a copy: readers that
// need no copy use Acquire). An object whose spill file cannot be read is
// logged and reported missing; Read returns that error instead.
func (s *Store) Get(id ids.ID) ([]byte, bool) {
	b, _, ok, err := s.read(id, false, false)
	if err != nil {
		if !errors.Is(err, ErrClosed) {
			s.log.Error("reading a spilled object failed", "object", id.Short(), "error", err)
		}
		return nil, false
	}
	return b, ok
}

// Read is Get with the reason when there are no bytes: ErrNotFound, or why
// a spilled copy could not be read back.
func (s *Store) Read(id ids.ID) ([]byte, error) {
	b, _, ok, err := s.read(id, false, false)
	if err == nil && !ok {
		err = fmt.Errorf("object %s: %w", id.Short(), ErrNotFound)
	}
	return b, err
}

// read returns the bytes of id; ok is false, with no error, if the store
// does not hold it. With pin, arena memory comes pinned (m, to unpin);
// without, arena memory is copied out. With sharedOnly, ok is false too
// for a spilled object that cannot be restored into the arena (no room):
// it is not read into a buffer of the Go heap.
func (s *Store) read(id ids.ID, pin, sharedOnly bool) (data []byte, m *objMem, ok bool, err error) {
	s.mu.Lock()
	e, ok := s.objects[id]
	if !ok {
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return nil, nil, false, fmt.Errorf("reading object %s: %w", id.Short(), ErrClosed)
		}
		return nil, nil, false, nil
	}
	if e.inMem {
		if e.list != nil {
			s.touch(e)
			e.list.moveToFront(e)
		}
		d, m := e.data, e.mem
		if m != nil {
			m.pins++
		}
		s.mu.Unlock()
		return s.handOut(d, m, pin), m, true, nil
	}
	f, off, crc := e.loc, e.off, e.crc
	f.refs++
	// Read it straight into its memory copy when memory has room for it
	// (objects with a disk copy leave memory for it: no I/O).
	var buf []byte
	keep := s.makeRoomClean(e.size)
	if keep {
		s.memBytes += e.size
		s.reservedBytes += e.size
		buf, m = s.allocLocked(e.size)
	}
	if sharedOnly && m == nil {
		if keep {
			s.memBytes -= e.size
			s.reservedBytes -= e.size
		}
		remove := s.release(f, nil)
		s.mu.Unlock()
		s.removeFiles(remove)
		return nil, nil, false, nil
	}
	s.mu.Unlock()
	if buf == nil {
		buf = make([]byte, e.size)
	}

	err = s.readSpilled(f, off, crc, buf)

	s.mu.Lock()
	remove := s.release(f, nil)
	if keep {
		s.memBytes -= e.size
		s.reservedBytes -= e.size
	}
	if err != nil {
		s.counters.readFails++
		if m != nil {
			s.arena.Free(m.span)
			m = nil
		}
	} else {
		s.counters.restores++
		s.counters.restoredBytes += e.size
		if keep && !e.deleted && !e.inMem && e.loc == f && s.memBytes+e.size <= s.memLimit {
			e.data, e.mem, e.inMem = buf, m, true
			s.memBytes += e.size
			s.memObjects++
			s.touch(e)
			s.clean.pushFront(e)
		} else if m != nil {
			// Not kept (deleted, or restored by another reader meanwhile):
			// the reader's alone, freed when it lets go.
			m.dropped = true
			s.pinnedBytes += m.span.Len
		}
		if m != nil {
			m.pins++
		}
	}
	s.mu.Unlock()
	s.removeFiles(remove)
	if err != nil {
		return nil, nil, false, fmt.Errorf("object %s: reading its spilled copy: %w", id.Short(), err)
	}
	return s.handOut(buf, m, pin), m, true, nil
}

// handOut returns data, pinned by m, to a reader: as it is if the reader
// pins it (or it is on the Go heap), else a copy, and m's pin ends.
func (s *Store) handOut(data []byte, m *objMem, pin bool) []byte {
	if m == nil || pin {
		return data
	}
	c := bigbuf.Concat(data)
	s.unpin(m)
	return c
}

// Has reports whether id is stored, in memory or on disk.
func (s *Store) Has(id ids.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.objects[id]
	return ok
}

// Delete removes id from memory and disk and reports whether it was there.
func (s *Store) Delete(id ids.ID) bool {
	s.mu.Lock()
	e, ok := s.objects[id]
	var remove []*spillFile
	if ok {
		remove = s.deleteLocked(e)
	}
	s.mu.Unlock()
	s.removeFiles(remove)
	return ok
}

// Stats returns the number of objects held and their bytes, in memory and
// on disk together. Usage breaks them down.
func (s *Store) Stats() (objects int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.objects), s.totalBytes
}

// Usage is a snapshot of what a store holds and has done.
type Usage struct {
	// Objects and Bytes count every object once, wherever it is.
	Objects int
	Bytes   int64
	// MemoryObjects/MemoryBytes are in memory and count against
	// MemoryLimit (math.MaxInt64: no limit).
	MemoryObjects int
	MemoryBytes   int64
	MemoryLimit   int64
	// SpillingObjects/SpillingBytes are being written to disk right now
	// (still in memory too, outside the budget).
	SpillingObjects int
	SpillingBytes   int64
	// SpilledObjects/SpilledBytes have a copy on disk (some of them are
	// in memory too, after a restore). SpillFileBytes is the size of the
	// spill files, including deleted objects not yet reclaimed; it is
	// what counts against DiskLimit (0: spilling off).
	SpilledObjects int
	SpilledBytes   int64
	SpillFiles     int
	SpillFileBytes int64
	DiskLimit      int64
	SpillDir       string // empty until the first spill
	// Cumulative counters.
	Spills         int64 // objects written to disk
	SpillWrites    int64 // bytes written to disk for them
	Restores       int64 // objects read back from disk
	RestoredBytes  int64
	RangeReads     int64 // byte ranges read from disk without restoring their object
	Compactions    int64 // spill files compacted
	CompactedBytes int64 // live bytes moved by compactions
	SpillFailures  int64 // spills that failed (disk errors)
	// Shared memory (Config.SharedMemory): the arena's size and bytes in
	// use; PinnedBytes is memory that left the store while readers
	// pinned it (freed when they let go); HeapCopies counts memory copies
	// put on the Go heap because the arena had no span for them.
	SharedSize, SharedBytes, PinnedBytes int64
	HeapCopies                           int64
	ReadFailures                         int64 // restores that failed (disk errors)
}

// Usage returns what the store holds in each tier and its counters.
func (s *Store) Usage() Usage {
	dir := s.spillDirName()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters
	return Usage{
		Objects: len(s.objects), Bytes: s.totalBytes,
		MemoryObjects: s.memObjects, MemoryBytes: s.memBytes, MemoryLimit: s.memLimit,
		SpillingObjects: s.writingObjects, SpillingBytes: s.writingBytes,
		SpilledObjects: s.diskObjects, SpilledBytes: s.diskLive,
		SpillFiles: len(s.files), SpillFileBytes: s.diskAlloc, DiskLimit: s.diskLimit, SpillDir: dir,
		Spills: c.spills, SpillWrites: c.spilledBytes, Restores: c.restores, RestoredBytes: c.restoredBytes, RangeReads: c.rangeReads,
		Compactions: c.compactions, CompactedBytes: c.movedBytes,
		SpillFailures: c.spillFailures, ReadFailures: c.readFails,
		SharedSize: s.sharedSize(), SharedBytes: s.sharedUsed(), PinnedBytes: s.pinnedBytes, HeapCopies: c.arenaMisses,
	}
}

// Clear deletes every object, in memory and on disk.
func (s *Store) Clear() {
	s.mu.Lock()
	remove := s.clearLocked()
	s.mu.Unlock()
	s.removeFiles(remove)
}

// Close deletes every object, waits for a running compaction and removes
// the spill directory. Put and Read fail with ErrClosed afterwards. Close
// may be called more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	remove := s.clearLocked()
	s.mu.Unlock()
	s.removeFiles(remove)
	s.compactors.Wait()
	s.closeArena()
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	s.dirClosed = true
	if s.dir == "" {
		return nil
	}
	dir := s.dir
	s.dir = ""
	s.dirName.Store(nil)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing the object store's spill directory: %w", err)
	}
	return nil
}

func (s *Store) clearLocked() []*spillFile {
	s.gen++
	for _, e := range s.objects {
		e.deleted = true
		s.dropMemLocked(e)
		e.loc = nil
		e.prev, e.next, e.list = nil, nil, nil
	}
	clear(s.objects)
	s.dirty, s.clean = lruList{}, lruList{}
	s.totalBytes = 0
	s.memBytes, s.memObjects = 0, 0
	s.writingBytes, s.writingObjects = 0, 0
	s.diskLive, s.diskObjects = 0, 0
	s.compactQ = nil
	s.cur = nil
	var remove []*spillFile
	for f := range s.files {
		f.live, f.liveBytes = 0, 0
		clear(f.entries)
		f.sealed = true
		if f.refs == 0 {
			remove = append(remove, s.dropFile(f))
		}
	}
	return remove
}

// insertResident adds e to memory, counting it against the budget.
func (s *Store) insertResident(e *entry) {
	s.objects[e.id] = e
	s.totalBytes += e.size
	s.memBytes += e.size
	s.memObjects++
	s.touch(e)
	s.dirty.pushFront(e)
}

// touch records a use of e, for the LRU order.
func (s *Store) touch(e *entry) {
	s.tick++
	e.used = s.tick
}

// evict drops the memory copy of an object that has a disk copy.
func (s *Store) evict(e *entry) {
	s.clean.remove(e)
	s.dropMemLocked(e)
	e.inMem = false
	s.memBytes -= e.size
	s.memObjects--
}

// deleteLocked removes e from every tier and returns the files that are now
// empty, for removeFiles.
func (s *Store) deleteLocked(e *entry) []*spillFile {
	delete(s.objects, e.id)
	e.deleted = true
	s.totalBytes -= e.size
	if e.inMem {
		if e.writing {
			s.writingBytes -= e.size
			s.writingObjects--
		} else {
			e.list.remove(e)
			s.memBytes -= e.size
			s.memObjects--
		}
		e.inMem = false
	}
	s.dropMemLocked(e)
	var remove []*spillFile
	if e.loc != nil {
		remove = s.dropDiskCopy(e, remove)
	}
	return remove
}

// pickVictims chooses, coldest first, the objects to take out of memory so
// that n more bytes fit: objects with a disk copy are dropped, others are
// spilled if the disk has room for them. It frees a little more than it
// must (spillAhead), so that spills are written in batches rather than one
// small object per Put. ok is false if no choice frees enough.
func (s *Store) pickVictims(n int64) (clean, dirty []*entry, ok bool) {
	if n > s.memLimit {
		return nil, nil, false
	}
	need := s.memBytes + n - s.memLimit
	want := need + min(s.memLimit/spillAheadFraction, maxSpillAhead)
	diskRoom := s.diskLimit - s.diskAlloc
	if s.clean.bytes+min(diskRoom, s.dirty.bytes) < need {
		return nil, nil, false // the common way to be full, found at once
	}
	var freed int64
	cd, cc := s.dirty.back(), s.clean.back()
	for freed < want && (cd != nil || cc != nil) {
		var e *entry
		if cc == nil || (cd != nil && cd.used < cc.used) {
			e, cd = cd, cd.prev
		} else {
			e, cc = cc, cc.prev
		}
		switch {
		case e.size == 0:
		case e.loc != nil:
			clean = append(clean, e)
			freed += e.size
		case e.size <= diskRoom:
			dirty = append(dirty, e)
			diskRoom -= e.size
			freed += e.size
		case freed >= need:
			// The disk is what limits us now; what we have is enough.
			return clean, dirty, true
		}
	}
	return clean, dirty, freed >= need
}

// makeRoomClean makes room for n bytes in memory by dropping memory copies
// of objects that have a disk copy, coldest first. It reports whether n
// bytes fit.
func (s *Store) makeRoomClean(n int64) bool {
	need := s.memBytes + n - s.memLimit
	if need <= 0 {
		return true
	}
	if n > s.memLimit || s.clean.bytes < need {
		return false
	}
	for need > 0 {
		e := s.clean.back()
		s.evict(e)
		need -= e.size
	}
	return true
}

// fullError explains why an object of n bytes fits nowhere.
func (s *Store) fullError(id ids.ID, n int64) error {
	return fmt.Errorf("%w: object %s needs %s; %s; %s", ErrFull, id.Short(), bytesize.Format(n), s.memoryClause(), s.diskClause(s.spillDirName()))
}

func (s *Store) memoryClause() string {
	if s.memLimit == math.MaxInt64 {
		return fmt.Sprintf("memory holds %s in %s (no limit)", plural(s.memObjects, "object"), bytesize.Format(s.memBytes))
	}
	c := fmt.Sprintf("memory holds %s in %s", plural(s.memObjects, "object"), bytesize.FormatUsage(s.memBytes, s.memLimit))
	if s.writingObjects > 0 {
		c += fmt.Sprintf(" (%s more, %s, being spilled)", plural(s.writingObjects, "object"), bytesize.Format(s.writingBytes))
	}
	if s.reservedBytes > 0 {
		c += fmt.Sprintf(" (%s of it reserved for objects being written)", bytesize.Format(s.reservedBytes))
	}
	if s.pinnedBytes > 0 {
		c += fmt.Sprintf("; readers still pin %s of objects that left it", bytesize.Format(s.pinnedBytes))
	}
	return c
}

func (s *Store) diskClause(dir string) string {
	const advice = "raise the node's --object-store-memory or --object-store-disk, or release objects (Future.Release) so they can be freed"
	if s.diskLimit <= 0 && s.spillParent == "" {
		return "spilling to disk is off; " + advice
	}
	if dir == "" {
		dir = s.spillParent
	}
	c := fmt.Sprintf("disk holds %s in %s (%s", plural(s.diskObjects, "object"), bytesize.FormatUsage(s.diskAlloc, s.diskLimit), plural(len(s.files), "spill file"))
	if dead := s.diskAlloc - s.diskLive; dead > 0 {
		c += fmt.Sprintf(", %s of them deleted objects not yet reclaimed", bytesize.Format(dead))
	}
	return c + ") at " + dir + "; " + advice
}

// Listing names one stored object.
type Listing struct {
	ID   ids.ID
	Size int64
}

// List returns every object the store holds (in memory or spilled), for a
// node that reports its contents to a head that restarted.
func (s *Store) List() []Listing {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Listing, 0, len(s.objects))
	for id, e := range s.objects {
		if !e.deleted {
			out = append(out, Listing{ID: id, Size: e.size})
		}
	}
	return out
}
