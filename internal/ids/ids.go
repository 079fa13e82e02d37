// Package ids defines the identities of Shoal's tasks, objects, nodes, jobs
// and sessions: 16-byte values that are unique in space and time, never
// derived from content.
//
// An ID is a random 8-byte prefix, drawn once per Generator from the
// operating system's random source, followed by an 8-byte counter. Two
// processes (or two generators in one process) therefore never produce the
// same ID, and one generator never repeats itself, so a future's identity is
// its ID and nothing else (MISSION.md, scenario 4).
package ids

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"iter"
	"strings"
	"sync/atomic"
)

// Size is the length of every ID in bytes.
const Size = 16

// ID is a task, object, node, job or session identity.
type ID [Size]byte

// Nil is the zero ID; it never names anything.
var Nil ID

// IsNil reports whether id is the zero ID.
func (id ID) IsNil() bool { return id == Nil }

// String returns the ID in hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns a shortened form for logs and messages: the last 4 bytes of
// the prefix and the counter, enough to tell IDs apart in one cluster.
func (id ID) Short() string {
	return fmt.Sprintf("%x-%d", id[4:8], binary.BigEndian.Uint64(id[8:]))
}

// Bytes returns a copy of the ID as a byte slice, for the wire.
func (id ID) Bytes() []byte {
	b := make([]byte, Size)
	copy(b, id[:])
	return b
}

// FromBytes converts wire bytes into an ID. It fails unless b is exactly
// Size bytes long; what names the field in the error.
func FromBytes(what string, b []byte) (ID, error) {
	var id ID
	if len(b) != Size {
		return id, fmt.Errorf("%s must be %d bytes, got %d", what, Size, len(b))
	}
	copy(id[:], b)
	return id, nil
}

// Parse reads an ID from its hex form (String).
func Parse(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != Size {
		return id, fmt.Errorf("%q is not a Shoal ID (want %d hex digits)", s, 2*Size)
	}
	copy(id[:], b)
	return id, nil
}

// Generator hands out IDs with its own random prefix. It is safe for
// concurrent use.
type Generator struct {
	prefix  [8]byte
	counter atomic.Uint64
}

// NewGenerator returns a generator with a fresh random prefix.
func NewGenerator() *Generator {
	g := &Generator{}
	if _, err := rand.Read(g.prefix[:]); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ panics
		// inside Read itself rather than returning an error).
		panic(fmt.Sprintf("ids: reading random prefix: %v", err))
	}
	return g
}

// Prefix is the random part every ID of this generator starts with.
func (g *Generator) Prefix() [8]byte { return g.prefix }

// Next returns a new ID.
func (g *Generator) Next() ID {
	var id ID
	copy(id[:8], g.prefix[:])
	binary.BigEndian.PutUint64(id[8:], g.counter.Add(1))
	return id
}

// Random returns an ID with every byte random, for long-lived identities
// such as nodes and jobs.
func Random() ID {
	var id ID
	_, _ = rand.Read(id[:])
	return id
}

// Resolve finds the one ID among candidates whose hex form (String) starts
// with prefix, as git and docker take a unique prefix of an ID; what names
// the kind of ID in errors. A whole ID is returned even when it is not a
// candidate (a job that ended, say).
func Resolve(what, prefix string, candidates iter.Seq[ID]) (ID, error) {
	prefix = strings.ToLower(strings.TrimSpace(prefix))
	if id, err := Parse(prefix); err == nil {
		return id, nil
	}
	if prefix == "" {
		return Nil, fmt.Errorf("no %s ID given", what)
	}
	if _, err := hex.DecodeString(prefix + strings.Repeat("0", len(prefix)%2)); err != nil || len(prefix) > 2*Size {
		return Nil, fmt.Errorf("%q is not a %s ID or a prefix of one (hex digits)", prefix, what)
	}
	var found []ID
	for id := range candidates {
		if strings.HasPrefix(id.String(), prefix) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return Nil, fmt.Errorf("no %s has an ID starting with %q", what, prefix)
	case 1:
		return found[0], nil
	}
	names := make([]string, 0, 4)
	for _, id := range found[:min(len(found), 4)] {
		names = append(names, id.String())
	}
	return Nil, fmt.Errorf("%d %ss have IDs starting with %q (%s…): give more digits", len(found), what, prefix, strings.Join(names, ", "))
}
