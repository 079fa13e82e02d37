package arena

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// policy holds the allocator's tunables. defaultPolicy is what New uses;
// tests and benchmarks compare others (doc.go has the measurements).
type policy struct {
	page      int64 // extent granularity: every extent is a multiple of it
	hugeAlign int64 // extents of at least this size start on a multiple of it; 0: no alignment
	slabMax   int64 // requests up to this size are served from size classes; 0: none
	slabChunk int64 // the extent a size class carves its slots from
}

const hugePage = 2 << 20

// defaultPolicy is plain best fit over pages: BenchmarkChurn measured
// huge-page alignment and size classes to fail more allocations (doc.go).
func defaultPolicy(page int64) policy {
	return policy{page: page}
}

// errBadFree is wrapped by the panic of a Free of a span that is not
// allocated (a double free, a stale span or a span of another arena).
var errBadFree = errors.New("arena: free of a span that is not allocated")

// freeExtent is a run of free pages. Pages in [dirtyLo, dirtyHi) may still
// hold memory (they were written since they were last trimmed); the rest of
// the extent is known to have none. since is when that range last grew.
type freeExtent struct {
	off, len         int64
	dirtyLo, dirtyHi int64
	since            int64
}

func (e freeExtent) end() int64 { return e.off + e.len }

// clipped is e's dirty range cut to [lo, hi) as the extent [lo, hi).
func (e freeExtent) clipped(lo, hi int64) freeExtent {
	d := freeExtent{off: lo, len: hi - lo, since: e.since}
	d.dirtyLo, d.dirtyHi = max(e.dirtyLo, lo), min(e.dirtyHi, hi)
	if d.dirtyLo >= d.dirtyHi {
		d.dirtyLo, d.dirtyHi = 0, 0
	}
	return d
}

func (e freeExtent) dirty() bool { return e.dirtyLo < e.dirtyHi }

// joined is two adjacent extents (lo just below hi) as one. Its dirty range
// is the hull of theirs, which can only overstate it: Trim then finds no
// memory in the clean middle, and counts only what it really releases.
func joined(lo, hi freeExtent) freeExtent {
	j := freeExtent{off: lo.off, len: lo.len + hi.len}
	switch {
	case !lo.dirty():
		j.dirtyLo, j.dirtyHi, j.since = hi.dirtyLo, hi.dirtyHi, hi.since
	case !hi.dirty():
		j.dirtyLo, j.dirtyHi, j.since = lo.dirtyLo, lo.dirtyHi, lo.since
	default:
		j.dirtyLo, j.dirtyHi, j.since = lo.dirtyLo, hi.dirtyHi, max(lo.since, hi.since)
	}
	return j
}

// liveSpan is the allocator's record of an allocated span.
type liveSpan struct {
	len, cap int64
	gen      uint64
	slab     *slab // nil for a span that is an extent of its own
}

// allocator is the arena's bookkeeping over offsets, without memory or a
// lock: Arena holds its mutex around every call.
type allocator struct {
	pol  policy
	size int64

	// Free extents: by length for best fit, by start and end for coalescing
	// (a freed extent finds its neighbours in O(1)).
	bySize  sizeIndex
	byStart map[int64]freeExtent
	byEnd   map[int64]int64 // end offset → start offset

	live    map[int64]liveSpan // allocated spans by offset
	gen     uint64             // of the last span allocated
	classes []sizeClass

	used, requested int64 // of live spans
	trimming        int64 // bytes taken out by Trim while it releases them
	allocs, frees   int64
	failed          int64
}

func newAllocator(size int64, pol policy) *allocator {
	a := &allocator{
		pol:     pol,
		size:    size,
		bySize:  newSizeIndex(uint64(size) ^ 0x9e3779b97f4a7c15),
		byStart: make(map[int64]freeExtent),
		byEnd:   make(map[int64]int64),
		live:    make(map[int64]liveSpan),
		gen:     rand.Uint64() >> 16, // arenas count from different places
		classes: sizeClasses(pol.slabMax),
	}
	if size > 0 {
		a.addFree(freeExtent{off: 0, len: size})
	}
	return a
}

func (a *allocator) addFree(e freeExtent) {
	a.byStart[e.off] = e
	a.byEnd[e.end()] = e.off
	a.bySize.insert(extentKey{e.len, e.off})
}

func (a *allocator) removeFree(e freeExtent) {
	delete(a.byStart, e.off)
	delete(a.byEnd, e.end())
	a.bySize.delete(extentKey{e.len, e.off})
}

// putExtent returns e to the free extents, joined with its free neighbours.
func (a *allocator) putExtent(e freeExtent) {
	if prevOff, ok := a.byEnd[e.off]; ok {
		prev := a.byStart[prevOff]
		a.removeFree(prev)
		e = joined(prev, e)
	}
	if next, ok := a.byStart[e.end()]; ok {
		a.removeFree(next)
		e = joined(e, next)
	}
	a.addFree(e)
}

// takeExtent carves n bytes (a multiple of the page) from the best-fitting
// free extent. A span of at least a huge page starts on a huge page
// boundary if some free extent allows it; else it goes unaligned.
func (a *allocator) takeExtent(n int64) (int64, bool) {
	k, ok := a.bySize.ceil(extentKey{n, 0})
	if !ok {
		return 0, false
	}
	if align := a.pol.hugeAlign; align > 0 && n >= align {
		// The best fit may not hold an aligned n; an extent of
		// n+align-page always does. Try a few candidates in best-fit
		// order, then jump there.
		c, found := k, true
		for tries := 0; found; tries++ {
			if start := alignUp(c.off, align); start+n <= c.off+c.len {
				a.carve(c.off, start, n)
				return start, true
			}
			next := extentKey{c.len, c.off + 1}
			if sure := (extentKey{n + align - a.pol.page, 0}); tries == 8 && next.less(sure) {
				next = sure
			}
			c, found = a.bySize.ceil(next)
		}
	}
	a.carve(k.off, k.off, n)
	return k.off, true
}

// carve allocates [start, start+n) from the free extent at off, which
// holds it; what is left on either side stays free.
func (a *allocator) carve(off, start, n int64) {
	e := a.byStart[off]
	a.removeFree(e)
	if start > e.off {
		a.addFree(e.clipped(e.off, start))
	}
	if start+n < e.end() {
		a.addFree(e.clipped(start+n, e.end()))
	}
}

func alignUp(x, align int64) int64 { return (x + align - 1) / align * align }

// alloc allocates n bytes.
func (a *allocator) alloc(n int64) (Span, bool) {
	if n < 0 {
		return Span{}, false
	}
	var rec liveSpan
	var off int64
	if c := a.classFor(n); c != nil {
		o, sl, ok := a.slabAlloc(c)
		if !ok {
			a.failed++
			return Span{}, false
		}
		off, rec = o, liveSpan{cap: c.size, slab: sl}
	} else {
		capacity := max(alignUp(n, a.pol.page), a.pol.page)
		o, ok := a.takeExtent(capacity)
		if !ok {
			a.failed++
			return Span{}, false
		}
		off, rec = o, liveSpan{cap: capacity}
	}
	a.gen++
	rec.len, rec.gen = n, a.gen
	a.live[off] = rec
	a.used += rec.cap
	a.requested += n
	a.allocs++
	return Span{Off: off, Len: n, gen: rec.gen}, true
}

// free releases s at clock reading now (for Trim's ages); the error wraps
// errBadFree, and nothing changes, when s is not allocated.
func (a *allocator) free(s Span, now int64) error {
	rec, ok := a.live[s.Off]
	switch {
	case s.gen == 0:
		return fmt.Errorf("%w: span [%d, +%d) was not made by Alloc", errBadFree, s.Off, s.Len)
	case !ok:
		return fmt.Errorf("%w: nothing is allocated at offset %d (double free, or a span of another arena?)", errBadFree, s.Off)
	case rec.gen != s.gen || rec.len != s.Len:
		return fmt.Errorf("%w: span at offset %d (%d bytes, generation %d) was freed and its memory reallocated (now %d bytes, generation %d)",
			errBadFree, s.Off, s.Len, s.gen, rec.len, rec.gen)
	}
	delete(a.live, s.Off)
	a.used -= rec.cap
	a.requested -= rec.len
	a.frees++
	if rec.slab != nil {
		a.slabFree(rec.slab, s.Off, now)
		return nil
	}
	a.putExtent(freeExtent{off: s.Off, len: rec.cap, dirtyLo: s.Off, dirtyHi: s.Off + rec.cap, since: now})
	return nil
}

// prefaulted records that the whole arena, still free, holds memory.
func (a *allocator) prefaulted(now int64) {
	e := a.byStart[0]
	a.removeFree(e)
	e.dirtyLo, e.dirtyHi, e.since = e.off, e.end(), now
	a.addFree(e)
}

// takeForTrim takes out of the free extents, for Trim to release, at most
// maxLen bytes of the dirty range of an extent whose range has not grown
// since cutoff. It looks at extents from *cursor up in size order (the key
// of the smallest extent worth trimming, at first) and leaves *cursor at
// the extent it took from, whose rest comes next. The caller gives the
// range back with putTrimmed, or putUntrimmed if it could not release it.
func (a *allocator) takeForTrim(cursor *extentKey, maxLen, cutoff int64) (off, n, since int64, ok bool) {
	for k, found := a.bySize.ceil(*cursor); found; k, found = a.bySize.ceil(extentKey{k.len, k.off + 1}) {
		e := a.byStart[k.off]
		if !e.dirty() || e.since > cutoff {
			continue
		}
		*cursor = k
		lo, hi := e.dirtyLo, min(e.dirtyHi, e.dirtyLo+maxLen)
		a.carve(e.off, lo, hi-lo)
		a.trimming += hi - lo
		return lo, hi - lo, e.since, true
	}
	return 0, 0, 0, false
}

// resident is used memory and the dirty ranges of free extents (and what
// a trim is releasing): a bound of the memory that holds pages.
func (a *allocator) resident() int64 {
	n := a.used + a.trimming
	for _, e := range a.byStart {
		n += e.dirtyHi - e.dirtyLo
	}
	return n
}

// putTrimmed gives back a range from takeForTrim, now holding no memory.
func (a *allocator) putTrimmed(off, n int64) {
	a.trimming -= n
	a.putExtent(freeExtent{off: off, len: n})
}

// putUntrimmed gives back a range from takeForTrim as it was.
func (a *allocator) putUntrimmed(off, n, since int64) {
	a.trimming -= n
	a.putExtent(freeExtent{off: off, len: n, dirtyLo: off, dirtyHi: off + n, since: since})
}

// Stats is a snapshot of an arena's accounting.
type Stats struct {
	Size          int64   // bytes of the arena
	Used          int64   // bytes held by live spans, each rounded up to its capacity
	Requested     int64   // bytes asked for by live spans
	Free          int64   // Size - Used
	LargestFree   int64   // the largest free extent: no larger allocation can succeed
	FreeExtents   int     // number of free extents
	Fragmentation float64 // 1 - LargestFree/Free; 0 when Free is 0
	Live          int64   // live spans
	Allocs, Frees int64   // successful calls since New
	Failed        int64   // allocations refused for want of a free extent
}

func (a *allocator) stats() Stats {
	s := Stats{
		Size:        a.size,
		Used:        a.used,
		Requested:   a.requested,
		Free:        a.size - a.used,
		FreeExtents: a.bySize.len(),
		Live:        int64(len(a.live)),
		Allocs:      a.allocs,
		Frees:       a.frees,
		Failed:      a.failed,
	}
	if k, ok := a.bySize.max(); ok {
		s.LargestFree = k.len
	}
	if s.Free > 0 {
		s.Fragmentation = 1 - float64(s.LargestFree)/float64(s.Free)
	}
	return s
}
