// Package mapcompact rebuilds Go maps that have emptied out. A Go map
// never gives back the room it grew to: the head's object directory, after
// 50,000 tasks in flight and back down to a chain of 2,000, still spans the
// memory of 50,000 entries, and each lookup of the few left lands on its
// own cache line of that span (and a map churned at a steady size fills
// with deleted slots that lookups step over). The maps on the task path
// (the head's directory, a client's references) count their deletions
// here and are rebuilt at the size they hold once they have lost many
// times that, and either churn at about their size or have stayed small
// while work went on: not when they were only drained, as a burst of work
// drains them before the next one fills them again (rebuilding each time
// made every burst grow its maps anew: `shoal bench`'s
// single_client_put_calls, 20,000 Puts then their releases a round, ran at
// 0.83× the build without rebuilds).
package mapcompact

// minDeletes is the fewest deletions after which a map is rebuilt: a small
// map is never worth it.
const minDeletes = 4096

// Tracker is what Deleted keeps of a map: its deletions and sizes since it
// was made. The zero value is a map just made.
type Tracker struct {
	deletes int  // since the map was made
	peak    int  // the most entries it held since (as deletions saw it)
	small   bool // it holds an eighth of its peak or less
	smallAt int  // its entries when it last became small
	since   int  // deletions since it last became small
}

// Deleted counts a deletion the caller made from *m and replaces *m with a
// copy sized to what it holds once the deletions since it was made pass
// eight times its size (and minDeletes), and either it holds half its peak
// or more and the deletions pass eight times that peak too (steady churn;
// maps filled and drained in bursts meet it every eighth burst at most),
// or, since it fell to an eighth of its peak, it has lost more entries
// than it held then (and minDeletes/4 more): it stayed small while work
// went on, rather than being drained. The copy costs
// about the room the map grew to, which those deletions paid for: at most
// one step each.
//
// The caller must not be ranging over *m while deleting from it (the range
// would go on over the old map, which no longer sees deletions).
func Deleted[K comparable, V any](m *map[K]V, t *Tracker) {
	n := len(*m)
	t.deletes++
	t.peak = max(t.peak, n+1) // (n+1: its size before this deletion)
	switch {
	case n > t.peak/8:
		t.small = false
	case !t.small:
		t.small, t.smallAt, t.since = true, n, 1
	default:
		t.since++
	}
	if t.deletes < minDeletes || t.deletes < 8*n {
		return
	}
	steady := n >= t.peak/2 && t.deletes >= 8*t.peak
	stayedSmall := t.small && t.since > t.smallAt+minDeletes/4
	if !steady && !stayedSmall {
		return
	}
	fresh := make(map[K]V, n)
	for k, v := range *m {
		fresh[k] = v
	}
	*m, *t = fresh, Tracker{peak: n}
}
