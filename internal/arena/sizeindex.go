package arena

// extentKey orders free extents by length, then by offset: the first key at
// or above (n, 0) is the best fit for n bytes, and among equal lengths the
// lowest address (address-ordered best fit).
type extentKey struct{ len, off int64 }

func (k extentKey) less(o extentKey) bool {
	return k.len < o.len || k.len == o.len && k.off < o.off
}

// sizeIndex is an ordered set of extentKeys: a treap (a binary search tree
// kept balanced in expectation by random heap priorities), so that insert,
// delete and the best-fit search are O(log n). Nodes are recycled through a
// free list so that churn does not allocate.
type sizeIndex struct {
	root  *treapNode
	n     int
	rng   uint64 // xorshift state for priorities
	spare *treapNode
}

type treapNode struct {
	key         extentKey
	prio        uint64
	left, right *treapNode
}

func newSizeIndex(seed uint64) sizeIndex {
	return sizeIndex{rng: seed | 1}
}

func (s *sizeIndex) len() int { return s.n }

func (s *sizeIndex) insert(k extentKey) {
	nd := s.spare
	if nd != nil {
		s.spare = nd.left
		*nd = treapNode{}
	} else {
		nd = new(treapNode)
	}
	s.rng ^= s.rng << 13
	s.rng ^= s.rng >> 7
	s.rng ^= s.rng << 17
	nd.key, nd.prio = k, s.rng
	s.root = insertNode(s.root, nd)
	s.n++
}

func insertNode(t, nd *treapNode) *treapNode {
	if t == nil {
		return nd
	}
	if nd.prio > t.prio {
		nd.left, nd.right = split(t, nd.key)
		return nd
	}
	if nd.key.less(t.key) {
		t.left = insertNode(t.left, nd)
	} else {
		t.right = insertNode(t.right, nd)
	}
	return t
}

// delete removes k and reports whether it was present.
func (s *sizeIndex) delete(k extentKey) bool {
	var removed *treapNode
	s.root = deleteNode(s.root, k, &removed)
	if removed == nil {
		return false
	}
	removed.left, removed.right = s.spare, nil
	s.spare = removed
	s.n--
	return true
}

func deleteNode(t *treapNode, k extentKey, removed **treapNode) *treapNode {
	if t == nil {
		return nil
	}
	switch {
	case k.less(t.key):
		t.left = deleteNode(t.left, k, removed)
	case t.key.less(k):
		t.right = deleteNode(t.right, k, removed)
	default:
		*removed = t
		return merge(t.left, t.right)
	}
	return t
}

// ceil returns the smallest key at or above k.
func (s *sizeIndex) ceil(k extentKey) (extentKey, bool) {
	var best *treapNode
	for t := s.root; t != nil; {
		if t.key.less(k) {
			t = t.right
		} else {
			best, t = t, t.left
		}
	}
	if best == nil {
		return extentKey{}, false
	}
	return best.key, true
}

// max returns the largest key.
func (s *sizeIndex) max() (extentKey, bool) {
	t := s.root
	if t == nil {
		return extentKey{}, false
	}
	for t.right != nil {
		t = t.right
	}
	return t.key, true
}

// split cuts t into the keys below k and those at or above it.
func split(t *treapNode, k extentKey) (lo, hi *treapNode) {
	if t == nil {
		return nil, nil
	}
	if t.key.less(k) {
		t.right, hi = split(t.right, k)
		return t, hi
	}
	lo, t.left = split(t.left, k)
	return lo, t
}

// merge joins two treaps whose keys are all in lo below those in hi.
func merge(lo, hi *treapNode) *treapNode {
	switch {
	case lo == nil:
		return hi
	case hi == nil:
		return lo
	case lo.prio > hi.prio:
		lo.right = merge(lo.right, hi)
		return lo
	default:
		hi.left = merge(lo, hi.left)
		return hi
	}
}
