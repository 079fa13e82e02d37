package objstore

import (
	"cmp"
	"fmt"
	"slices"
)

// A compaction copies the live objects of a mostly dead segment to the open
// segment, then the old segment is removed. It runs in one goroutine, started
// when there is work and ending when there is none, so an idle store runs no
// goroutine.

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
// than half dead.
func (s *Store) maybeCompact(f *spillFile) {
	if !f.sealed || f.removed || f.queued || f.noCompact || s.closed ||
		f.live == 0 || f.size < s.largeBytes || f.liveBytes*2 >= f.size {
		return
	}
	f.queued = true
	s.compactQ = append(s.compactQ, f)
	if !s.compacting {
		s.compacting = true
		s.compactors.Add(1)
		go s.compactLoop()
	}
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

// planCompaction decides how to empty f: objects that are in memory too
// just lose their disk copy; the others get a place in the open segment.
func (s *Store) planCompaction(f *spillFile) (*compactJob, []*spillFile) {
	if f.removed || f.live == 0 {
		f.queued = false
		return nil, nil
	}
	var move []*entry
	var moveBytes int64
	for e := range f.entries {
		switch {
		case e.writing:
			// Still being written into f; it stays.
		case e.inMem:
			s.unlinkDiskCopy(e)
		default:
			move = append(move, e)
			moveBytes += e.size
		}
	}
	f.queued = false
	if len(move) == 0 || s.diskAlloc+moveBytes > s.diskLimit {
		if len(move) > 0 {
			s.log.Debug("not compacting a spill file: no disk room to copy its live objects",
				"file", f.name, "live_bytes", moveBytes)
		}
		return nil, s.checkFile(f, nil)
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
// writes them to their new places, without holding mu.
func (s *Store) copyLive(job *compactJob, buf *[]byte) error {
	src, err := s.handle(job.f)
	if err != nil {
		return err
	}
	for _, it := range job.items {
		if int64(cap(*buf)) < it.size {
			*buf = make([]byte, it.size)
		}
		b := (*buf)[:it.size]
		if _, err := src.ReadAt(b, it.off); err != nil {
			return fmt.Errorf("reading spill file %s at offset %d: %w", job.f.path, it.off, err)
		}
		if checksum(b) != it.crc {
			return fmt.Errorf("spill file %s: %d bytes at offset %d fail their checksum", job.f.path, it.size, it.off)
		}
		dst, err := s.handle(it.nf)
		if err != nil {
			return err
		}
		if _, err := dst.WriteAt(b, it.noff); err != nil {
			return fmt.Errorf("writing spill file %s: %w", it.nf.path, err)
		}
	}
	return nil
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
