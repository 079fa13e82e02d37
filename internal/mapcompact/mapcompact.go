// Package mapcompact rebuilds Go maps that have emptied out. A Go map
// never gives back the room it grew to: the head's object directory, after
// 50,000 tasks in flight and back down to a chain of 2,000, still spans the
// memory of 50,000 entries, and each lookup of the few left lands on its
// own cache line of that span (and a map churned at a steady size fills
// with deleted slots that lookups step over). The maps on the task path
// (the head's directory, a client's references) count their deletions
// here and are rebuilt at the size they hold once they have lost many
// times that.
package mapcompact

// minDeletes is the fewest deletions after which a map is rebuilt: a small
// map is never worth it.
const minDeletes = 4096

// Deleted counts a deletion the caller made from *m and replaces *m with a
// copy sized to what it holds once the deletions since it was made pass
// eight times its size (and minDeletes). The copy costs about the room the
// map grew to, which those deletions paid for: at most one step each.
//
// The caller must not be ranging over *m while deleting from it (the range
// would go on over the old map, which no longer sees deletions).
func Deleted[K comparable, V any](m *map[K]V, deletes *int) {
	*deletes++
	if *deletes < minDeletes || *deletes < 8*len(*m) {
		return
	}
	fresh := make(map[K]V, len(*m))
	for k, v := range *m {
		fresh[k] = v
	}
	*m, *deletes = fresh, 0
}
