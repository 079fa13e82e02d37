package head

// ring keeps the last max items added, in order.
type ring[T any] struct {
	items []T
	next  int // the oldest once full
	max   int
}

func newRing[T any](max int) ring[T] { return ring[T]{max: max} }

// add appends v, overwriting the oldest item once full; it reports whether
// it did.
func (r *ring[T]) add(v T) (overwrote bool) {
	if len(r.items) < r.max {
		if r.items == nil {
			// All of it at once, not by doubling: the span ring (6.4 MB)
			// grew while chains of tasks ran, each step a copy under the
			// head's lock into memory never touched (which this VM's host
			// makes dear); pages not written yet stay free to the system.
			r.items = make([]T, 0, r.max)
		}
		r.items = append(r.items, v)
		return false
	}
	r.items[r.next] = v
	r.next = (r.next + 1) % r.max
	return true
}

func (r *ring[T]) len() int { return len(r.items) }

// at returns the i-th oldest item.
func (r *ring[T]) at(i int) T { return r.items[(r.next+i)%len(r.items)] }

// ordered returns a copy of the items, oldest first.
func (r *ring[T]) ordered() []T {
	out := make([]T, 0, len(r.items))
	out = append(out, r.items[r.next:]...)
	return append(out, r.items[:r.next]...)
}
