// Package objstore is a node's object store: immutable encoded values held
// in memory, keyed by object ID, with byte accounting.
//
// Values are never copied on the way out: Get returns the stored slice, which
// callers must treat as read-only. Spilling to disk past a memory budget
// comes with the object-store issue; until then Put refuses a value that
// would take the store past its limit, with an error that says how full the
// store is.
package objstore

import (
	"errors"
	"fmt"
	"sync"

	"github.com/shoal-dev/shoal/internal/ids"
)

// ErrFull is wrapped by the error of a Put that does not fit.
var ErrFull = errors.New("object store full")

// Store holds a node's objects. It is safe for concurrent use.
type Store struct {
	limit int64

	mu      sync.RWMutex
	objects map[ids.ID][]byte
	bytes   int64
}

// New returns a store that holds at most limit bytes (0: no limit).
func New(limit int64) *Store {
	return &Store{limit: limit, objects: make(map[ids.ID][]byte)}
}

// Put stores data under id. Storing an id twice keeps the first value (an
// object's bytes never change) and reports added=false.
func (s *Store) Put(id ids.ID, data []byte) (added bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[id]; ok {
		return false, nil
	}
	n := int64(len(data))
	if s.limit > 0 && s.bytes+n > s.limit {
		return false, fmt.Errorf("%w: object %s needs %d bytes; the store holds %d objects in %d of %d bytes (raise the node's --object-store-memory or release objects)",
			ErrFull, id.Short(), n, len(s.objects), s.bytes, s.limit)
	}
	s.objects[id] = data
	s.bytes += n
	return true, nil
}

// Get returns the stored bytes of id. The slice must not be modified.
func (s *Store) Get(id ids.ID) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.objects[id]
	return b, ok
}

// Has reports whether id is stored.
func (s *Store) Has(id ids.ID) bool {
	_, ok := s.Get(id)
	return ok
}

// Delete removes id and reports whether it was there.
func (s *Store) Delete(id ids.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[id]
	if ok {
		delete(s.objects, id)
		s.bytes -= int64(len(b))
	}
	return ok
}

// Stats returns the number of objects and bytes held.
func (s *Store) Stats() (objects int, bytes int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.objects), s.bytes
}

// Clear deletes every object.
func (s *Store) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.objects)
	s.bytes = 0
}
