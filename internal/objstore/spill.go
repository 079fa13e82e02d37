package objstore

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/ids"
)

// stagingBytes is the size of the buffer that coalesces small objects into
// one write; objects of a quarter of it or more are written directly.
const stagingBytes = 1 << 20

// checksum is the CRC-32C of b (hardware-accelerated on amd64 and arm64).
func checksum(b []byte) uint32 {
	return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
}

// spillFile is a segment of fused small objects or the file of one large
// object. Its fields are guarded by Store.mu, except the handle, which is
// opened once, outside mu, by the first goroutine that needs it.
type spillFile struct {
	name      string
	size      int64 // bytes allocated: written or being written
	live      int   // objects whose copy here is live, written or being written
	liveBytes int64
	refs      int  // reads and writes in flight; the file stays open while > 0
	sealed    bool // nothing more is appended
	removed   bool
	queued    bool // waiting for compaction
	noCompact bool // a compaction of this file failed; do not retry
	entries   map[*entry]struct{}

	once sync.Once
	path string
	fh   *os.File
	err  error
}

// spillBatch is the objects one Put writes to disk, with their reserved
// places.
type spillBatch struct {
	items []spillItem
	files []*spillFile // one reference each (a file may appear twice)
	bytes int64
}

type spillItem struct {
	e    *entry
	f    *spillFile
	off  int64
	data []byte
	mem  *objMem // data's arena memory, pinned while it is written
	crc  uint32
}

// reserve marks es as being spilled and gives each a place on disk. Objects
// in memory leave the budget now; their memory copies stay readable until
// finish. Callers have checked that the disk has room.
func (s *Store) reserve(es []*entry) *spillBatch {
	b := &spillBatch{items: make([]spillItem, 0, len(es))}
	for _, e := range es {
		if e.list != nil {
			e.list.remove(e)
			s.memBytes -= e.size
			s.memObjects--
		}
		e.writing = true
		s.writingBytes += e.size
		s.writingObjects++
		f, off := s.allocate(e.size)
		s.addDiskCopy(e, f, off)
		if n := len(b.files); n == 0 || b.files[n-1] != f {
			f.refs++
			b.files = append(b.files, f)
		}
		if e.mem != nil {
			e.mem.pins++
		}
		b.items = append(b.items, spillItem{e: e, f: f, off: off, data: e.data, mem: e.mem})
		b.bytes += e.size
	}
	return b
}

// allocate reserves size bytes in a spill file: at the end of the open
// segment for a small object, in a new file of its own for a large one.
func (s *Store) allocate(size int64) (*spillFile, int64) {
	if size >= s.largeBytes {
		f := s.newFile("obj")
		f.sealed = true
		f.size = size
		s.diskAlloc += size
		return f, 0
	}
	if s.cur == nil || s.cur.sealed || s.cur.size+size > s.segmentBytes {
		if old := s.cur; old != nil {
			old.sealed = true
			s.maybeCompact(old)
		}
		s.cur = s.newFile("seg")
	}
	f := s.cur
	off := f.size
	f.size += size
	s.diskAlloc += size
	return f, off
}

func (s *Store) newFile(kind string) *spillFile {
	s.fileSeq++
	f := &spillFile{name: fmt.Sprintf("%s-%06d.spill", kind, s.fileSeq), entries: make(map[*entry]struct{})}
	s.files[f] = struct{}{}
	return f
}

func (s *Store) addDiskCopy(e *entry, f *spillFile, off int64) {
	e.loc, e.off = f, off
	f.live++
	f.liveBytes += e.size
	f.entries[e] = struct{}{}
	s.diskLive += e.size
	s.diskObjects++
}

// unlinkDiskCopy marks e's disk copy dead without looking at its file.
func (s *Store) unlinkDiskCopy(e *entry) *spillFile {
	f := e.loc
	f.live--
	f.liveBytes -= e.size
	delete(f.entries, e)
	s.diskLive -= e.size
	s.diskObjects--
	e.loc = nil
	return f
}

// dropDiskCopy marks e's disk copy dead and appends its file to remove if
// the file is now unused.
func (s *Store) dropDiskCopy(e *entry, remove []*spillFile) []*spillFile {
	return s.checkFile(s.unlinkDiskCopy(e), remove)
}

// release ends one read or write of f.
func (s *Store) release(f *spillFile, remove []*spillFile) []*spillFile {
	f.refs--
	return s.checkFile(f, remove)
}

// checkFile removes f if nothing in it is live or in flight, and queues it
// for compaction if it is mostly dead.
func (s *Store) checkFile(f *spillFile, remove []*spillFile) []*spillFile {
	if f.removed {
		return remove
	}
	if f.live == 0 && f.refs == 0 {
		return append(remove, s.dropFile(f))
	}
	s.maybeCompact(f)
	return remove
}

// dropFile forgets f; removeFiles deletes it, outside mu.
func (s *Store) dropFile(f *spillFile) *spillFile {
	f.removed = true
	delete(s.files, f)
	s.diskAlloc -= f.size
	if s.cur == f {
		s.cur = nil
	}
	return f
}

// removeFiles closes and deletes files dropped under mu. Nothing else uses
// them any more: they had no live objects and no I/O in flight.
func (s *Store) removeFiles(fs []*spillFile) {
	for _, f := range fs {
		f.once.Do(func() {}) // a file never opened stays unopened
		if f.fh != nil {
			f.fh.Close()
		}
		if f.path == "" {
			continue
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("removing a spill file failed", "file", f.path, "error", err)
		}
	}
}

// handle returns f's open file, creating it (and the spill directory) on
// first use.
func (s *Store) handle(f *spillFile) (*os.File, error) {
	f.once.Do(func() {
		dir, err := s.ensureDir()
		if err != nil {
			f.err = err
			return
		}
		f.path = filepath.Join(dir, f.name)
		f.fh, f.err = os.OpenFile(f.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if f.err != nil {
			f.err = fmt.Errorf("creating spill file: %w", f.err)
		}
	})
	return f.fh, f.err
}

// ensureDir creates the store's spill directory on first use.
func (s *Store) ensureDir() (string, error) {
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	if s.dirClosed {
		return "", ErrClosed
	}
	if s.dir != "" {
		return s.dir, nil
	}
	if err := os.MkdirAll(s.spillParent, 0o700); err != nil {
		return "", fmt.Errorf("creating the spill directory (set it with --spill-dir): %w", err)
	}
	dir, err := os.MkdirTemp(s.spillParent, "shoal-objstore-*")
	if err != nil {
		return "", fmt.Errorf("creating the spill directory (set it with --spill-dir): %w", err)
	}
	s.dir = dir
	s.dirName.Store(&dir)
	s.log.Info("spilling objects to disk", "dir", dir, "memory_limit", bytesize.Format(s.memLimit), "disk_limit", bytesize.Format(s.diskLimit))
	return dir, nil
}

// spillDirName returns the spill directory, or "" before the first spill.
func (s *Store) spillDirName() string {
	if p := s.dirName.Load(); p != nil {
		return *p
	}
	return ""
}

// write writes a batch to its reserved places, without holding mu. Runs of
// small objects that are contiguous in one file are coalesced into one
// write through a staging buffer that is never handed out.
func (s *Store) write(b *spillBatch) error {
	bufp := s.staging.Get().(*[]byte)
	defer s.staging.Put(bufp)
	buf := (*bufp)[:0]
	var runFile *os.File
	var runPath string
	var runOff int64
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := runFile.WriteAt(buf, runOff)
		buf = buf[:0]
		if err != nil {
			return fmt.Errorf("writing spill file %s: %w", runPath, err)
		}
		return nil
	}
	for i := range b.items {
		it := &b.items[i]
		it.crc = checksum(it.data)
		fh, err := s.handle(it.f)
		if err != nil {
			return err
		}
		small := len(it.data) < stagingBytes/4
		if len(buf) > 0 && (!small || fh != runFile || runOff+int64(len(buf)) != it.off || len(buf)+len(it.data) > cap(buf)) {
			if err := flush(); err != nil {
				return err
			}
		}
		if small {
			if len(buf) == 0 {
				runFile, runPath, runOff = fh, it.f.path, it.off
			}
			buf = append(buf, it.data...)
			continue
		}
		if _, err := fh.WriteAt(it.data, it.off); err != nil {
			return fmt.Errorf("writing spill file %s: %w", it.f.path, err)
		}
	}
	return flush()
}

// finish ends a batch: written objects leave memory; if the write failed,
// they go back to memory as they were and their disk places are dead.
func (s *Store) finish(b *spillBatch, werr error) []*spillFile {
	var remove []*spillFile
	for i := range b.items {
		it := &b.items[i]
		e := it.e
		s.unpinLocked(it.mem)
		if e.deleted || !e.writing {
			continue // deleted or cleared meanwhile; already accounted
		}
		e.writing = false
		s.writingBytes -= e.size
		s.writingObjects--
		if werr == nil {
			e.crc = it.crc
			s.dropMemLocked(e)
			e.inMem = false
			continue
		}
		remove = s.dropDiskCopy(e, remove)
		s.memBytes += e.size
		s.memObjects++
		s.dirty.pushBack(e)
	}
	if werr == nil {
		s.counters.spills += int64(len(b.items))
		s.counters.spilledBytes += b.bytes
	} else {
		s.counters.spillFailures++
	}
	for _, f := range b.files {
		if werr != nil && !f.sealed {
			f.sealed = true // do not append to a file that failed
		}
		if werr != nil && s.cur == f {
			s.cur = nil
		}
		remove = s.release(f, remove)
	}
	return remove
}

// spillError explains a failed spill. A file system out of space is
// reported as ErrFull too.
func (s *Store) spillError(id ids.ID, b *spillBatch, err error) error {
	what := fmt.Sprintf("spilling %d objects (%s) to make room for it", len(b.items), bytesize.Format(b.bytes))
	if len(b.items) == 1 && b.items[0].e.id == id {
		what = "writing it to disk"
	}
	s.log.Warn("spilling objects to disk failed", "object", id.Short(), "objects", len(b.items), "bytes", b.bytes, "error", err)
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: object %s: %s: the file system is out of space: %w; %s; %s",
			ErrFull, id.Short(), what, err, s.memoryClause(), s.diskClause(s.spillDirName()))
	}
	return fmt.Errorf("storing object %s: %s: %w", id.Short(), what, err)
}

// readSpilled reads an object's disk copy into buf, its size, and checks
// it.
func (s *Store) readSpilled(f *spillFile, off int64, crc uint32, buf []byte) error {
	fh, err := s.handle(f)
	if err != nil {
		return err
	}
	size := len(buf)
	if _, err := fh.ReadAt(buf, off); err != nil {
		return fmt.Errorf("reading %d bytes at offset %d of spill file %s: %w", size, off, f.path, err)
	}
	if got := checksum(buf); got != crc {
		return fmt.Errorf("spill file %s: %d bytes at offset %d have checksum %08x, want %08x (the file was changed or the disk is failing)",
			f.path, size, off, got, crc)
	}
	return nil
}
