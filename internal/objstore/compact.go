package objstore

import (
	"cmp"
	"fmt"
	"os"
	"slices"
)

// A compaction copies the live objects of a mostly dead segment to the open
// segment, then the old segment is removed. It runs in one goroutine, started
// when there is work and ending when there is none, so an idle store runs no
// goroutine.

// compactDeadFraction: compaction starts when dead bytes exceed
// 1/compactDeadFraction of the disk budget.
const compactDeadFraction = 4

type compactJob struct {
	gen   int // Store.gen when planned; a Clear since voids the job
	f     *spillFile
	items []moveItem
	files []*spillFile // files written to, one reference each
	bytes int64
}

type moveItem struct {
	e         *entry
	off, size int64
	crc       uint32
	nf        *spillFile
	noff      int64
}

// maybeCompact queues f for compaction if it is a full segment that is more
// than half dead, and the dead bytes of all spill files are more than a
// quarter of the disk budget. Without that pressure, dead space is left for
// the files to die whole: objects are often deleted in about the order they
// were spilled, and compacting a segment whose objects will die soon anyway
// is wasted I/O. Under pressure, starting the compactor also queues every
// other file that qualifies (files that passed half dead before the
// pressure came would otherwise wait for their next delete).
func (s *Store) maybeCompact(f *spillFile) {
	if !s.compactable(f) || (s.diskAlloc-s.diskLive)*compactDeadFraction <= s.diskLimit {
		return
	}
	f.queued = true
	s.compactQ = append(s.compactQ, f)
	if s.compacting {
		return
	}
	for g := range s.files {
		if s.compactable(g) {
			g.queued = true
			s.compactQ = append(s.compactQ, g)
		}
	}
	s.compacting = true
	s.compactors.Add(1)
	go s.compactLoop()
}

// compactable reports whether f is a full segment, more than half dead, not
// yet queued.
func (s *Store) compactable(f *spillFile) bool {
	return f.sealed && !f.removed && !f.queued && !f.noCompact && !s.closed &&
		f.live > 0 && f.size >= s.largeBytes && f.liveBytes*2 < f.size
}

func (s *Store) compactLoop() {
	defer s.compactors.Done()
	var buf []byte // the loop's own; never handed out
	for {
		s.mu.Lock()
		if len(s.compactQ) == 0 || s.closed {
			s.compactQ = nil
			s.compacting = false
			s.mu.Unlock()
			return
		}
		f := s.compactQ[0]
		s.compactQ = s.compactQ[1:]
		job, remove := s.planCompaction(f)
		s.mu.Unlock()
		s.removeFiles(remove)
		if job == nil {
			continue
		}
		err := s.copyLive(job, &buf)
		s.mu.Lock()
		remove = s.finishCompaction(job, err)
		s.mu.Unlock()
		s.removeFiles(remove)
	}
}

// planCompaction gives each live object of f a place in the open segment.
// Objects that are in memory too are moved as well, so that they stay
// clean (evictable without a write).
func (s *Store) planCompaction(f *spillFile) (*compactJob, []*spillFile) {
	if f.removed || f.live == 0 {
		f.queued = false
		return nil, nil
	}
	var move []*entry
	var moveBytes int64
	for e := range f.entries {
		if !e.writing { // one still being written into f stays
			move = append(move, e)
			moveBytes += e.size
		}
	}
	f.queued = false
	if len(move) == 0 || s.diskAlloc+moveBytes > s.diskLimit {
		// Nothing to move yet, or no room to: leave f until one of its
		// objects dies again (not checkFile, which would queue it again
		// at once and spin).
		if len(move) > 0 {
			s.log.Debug("not compacting a spill file: no disk room to copy its live objects",
				"file", f.name, "live_bytes", moveBytes)
		}
		return nil, nil
	}
	slices.SortFunc(move, func(a, b *entry) int { return cmp.Compare(a.off, b.off) })
	job := &compactJob{gen: s.gen, f: f, items: make([]moveItem, 0, len(move)), bytes: moveBytes}
	f.refs++
	for _, e := range move {
		nf, noff := s.allocate(e.size)
		nf.live++
		nf.liveBytes += e.size
		if n := len(job.files); n == 0 || job.files[n-1] != nf {
			nf.refs++
			job.files = append(job.files, nf)
		}
		job.items = append(job.items, moveItem{e: e, off: e.off, size: e.size, crc: e.crc, nf: nf, noff: noff})
	}
	return job, nil
}

// copyLive reads the objects of a job from the old file, checks them and
// writes them to their new places, without holding mu. Objects that are
// contiguous in their new file are written together, up to about a MiB.
func (s *Store) copyLive(job *compactJob, buf *[]byte) error {
	src, err := s.handle(job.f)
	if err != nil {
		return err
	}
	var run []byte // a prefix of *buf: read, not yet written
	var runFile *os.File
	var runPath string
	var runOff int64
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		_, err := runFile.WriteAt(run, runOff)
		run = run[:0]
		if err != nil {
			return fmt.Errorf("writing spill file %s: %w", runPath, err)
		}
		return nil
	}
	for _, it := range job.items {
		dst, err := s.handle(it.nf)
		if err != nil {
			return err
		}
		if len(run) > 0 && (dst != runFile || runOff+int64(len(run)) != it.noff || int64(len(run))+it.size > int64(cap(run))) {
			if err := flush(); err != nil {
				return err
			}
		}
		if len(run) == 0 {
			if int64(cap(*buf)) < it.size {
				*buf = make([]byte, 0, max(it.size, stagingBytes))
			}
			run = (*buf)[:0]
			runFile, runPath, runOff = dst, it.nf.path, it.noff
		}
		b := run[len(run) : int64(len(run))+it.size]
		if _, err := src.ReadAt(b, it.off); err != nil {
			return fmt.Errorf("reading spill file %s at offset %d: %w", job.f.path, it.off, err)
		}
		if checksum(b) != it.crc {
			return fmt.Errorf("spill file %s: %d bytes at offset %d fail their checksum", job.f.path, it.size, it.off)
		}
		run = run[:int64(len(run))+it.size]
	}
	return flush()
}

// finishCompaction points the moved objects at their new copies. Objects
// deleted meanwhile leave their new copies dead; after a failure all new
// copies are dead and the old file stays as it is.
func (s *Store) finishCompaction(job *compactJob, err error) []*spillFile {
	f := job.f
	for _, it := range job.items {
		e := it.e
		if job.gen != s.gen {
			break // cleared meanwhile: every count was reset
		}
		if err == nil && !e.deleted && e.loc == f && e.off == it.off {
			f.live--
			f.liveBytes -= e.size
			delete(f.entries, e)
			e.loc, e.off = it.nf, it.noff
			it.nf.entries[e] = struct{}{}
			continue
		}
		it.nf.live--
		it.nf.liveBytes -= it.size
	}
	if err != nil {
		f.noCompact = true
		s.log.Warn("compacting a spill file failed", "file", f.name, "error", err)
	} else {
		s.counters.compactions++
		s.counters.movedBytes += job.bytes
	}
	var remove []*spillFile
	for _, nf := range job.files {
		if err != nil {
			nf.sealed = true
			if s.cur == nf {
				s.cur = nil
			}
		}
		remove = s.release(nf, remove)
	}
	return s.release(f, remove)
}
