// Package taskresult lets a task hand its executor a large []byte result
// as the parts it was built from, not concatenated: the node copies them
// straight from the task's memory into its store, one copy where
// concatenating first takes two and a buffer as large as the result (a
// shuffle's map outputs: that buffer's allocation, zeroing and page faults
// and the concatenation were a fifth of the map tasks' time).
//
// The executor puts a slot into the context of each task it runs (With);
// a task that can give its result in parts offers them (Gather) and, when
// the slot took them, returns a nil []byte. Elsewhere (a function called
// in the driver's process) there is no slot and the task concatenates.
package taskresult

import (
	"context"
	"sync"
)

// Slot holds the parts a task gathered, for its executor.
type Slot struct {
	mu      sync.Mutex
	parts   [][]byte
	release func()
	taken   bool
	closed  bool
}

type slotKey struct{}

// With returns ctx with a new slot for the result of the task it runs.
func With(ctx context.Context) (context.Context, *Slot) {
	s := &Slot{}
	return context.WithValue(ctx, slotKey{}, s), s
}

// Gather offers parts, whose concatenation is the task's []byte result, to
// its executor, and reports whether the executor took them: then the task
// returns a nil []byte, and release is called once the parts are stored
// (or dropped); otherwise the caller keeps them (and their release). The
// parts must stay unchanged until release.
func Gather(ctx context.Context, parts [][]byte, release func()) bool {
	s, _ := ctx.Value(slotKey{}).(*Slot)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.taken || s.closed {
		return false
	}
	s.parts, s.release, s.taken = parts, release, true
	return true
}

// Parts returns what the task gathered (ok false: nothing, its result is
// the value it returned).
func (s *Slot) Parts() (parts [][]byte, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parts, s.taken
}

// Close ends the slot: the gathered parts are let go (their release runs),
// and a later Gather is refused. It is idempotent.
func (s *Slot) Close() {
	s.mu.Lock()
	release := s.release
	s.closed, s.parts, s.release = true, nil, nil
	s.mu.Unlock()
	if release != nil {
		release()
	}
}
