package arena

import "sort"

// sizeClass serves requests up to size bytes from slots of that size,
// carved from chunks (slabs) taken from the extents.
type sizeClass struct {
	size    int64
	partial *slab // slabs with a free slot, doubly linked
}

// slab is one chunk of a size class.
type slab struct {
	off        int64
	class      *sizeClass
	nslots     int
	free       []int32 // indices of free slots, used as a stack
	prev, next *slab
}

// sizeClasses returns classes up to max: four per power of two from
// 256 bytes (1.25, 1.5, 1.75 and 2 times the previous power), so that
// rounding wastes at most 20% of a request. All are multiples of 64 bytes,
// so slots keep Arrow's 64-byte alignment.
func sizeClasses(max int64) []sizeClass {
	var cs []sizeClass
	for p := int64(256); p <= max; p *= 2 {
		for _, q := range []int64{4, 5, 6, 7} {
			if s := p * q / 4; s <= max {
				cs = append(cs, sizeClass{size: s})
			}
		}
	}
	return cs
}

// classFor returns the class that serves n bytes, nil when n goes to an
// extent of its own.
func (a *allocator) classFor(n int64) *sizeClass {
	if n > a.pol.slabMax || len(a.classes) == 0 {
		return nil
	}
	i := sort.Search(len(a.classes), func(i int) bool { return a.classes[i].size >= n })
	return &a.classes[i]
}

func (c *sizeClass) link(s *slab) {
	s.prev, s.next = nil, c.partial
	if c.partial != nil {
		c.partial.prev = s
	}
	c.partial = s
}

func (c *sizeClass) unlink(s *slab) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		c.partial = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	}
	s.prev, s.next = nil, nil
}

func (a *allocator) slabAlloc(c *sizeClass) (int64, *slab, bool) {
	s := c.partial
	if s == nil {
		off, ok := a.takeExtent(a.pol.slabChunk)
		if !ok {
			return 0, nil, false
		}
		n := int(a.pol.slabChunk / c.size)
		s = &slab{off: off, class: c, nslots: n, free: make([]int32, n)}
		for i := range s.free {
			s.free[i] = int32(n - 1 - i) // lowest slot on top
		}
		c.link(s)
	}
	i := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	if len(s.free) == 0 {
		c.unlink(s)
	}
	return s.off + int64(i)*c.size, s, true
}

// slabFree returns a slot; a slab whose slots are all free goes back to
// the extents at once, so that freeing everything leaves one extent.
func (a *allocator) slabFree(s *slab, off, now int64) {
	c := s.class
	if len(s.free) == 0 {
		c.link(s)
	}
	s.free = append(s.free, int32((off-s.off)/c.size))
	if len(s.free) < s.nslots {
		return
	}
	c.unlink(s)
	end := s.off + a.pol.slabChunk
	a.putExtent(freeExtent{off: s.off, len: a.pol.slabChunk, dirtyLo: s.off, dirtyHi: end, since: now})
}
