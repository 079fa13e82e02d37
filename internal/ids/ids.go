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
	"errors"
	"fmt"
	"iter"
	"slices"
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

// AbbrevLen is how many hex digits Abbrev keeps: 48 random bits, as docker
// shows container IDs.
const AbbrevLen = 12

// Abbrev returns the form in which nodes and jobs (random IDs) are shown
// everywhere people read them (startup lines, logs, events, status, the
// dashboard): the first AbbrevLen hex digits of String. Any unique prefix of
// String names them in commands (Resolve). Tasks, objects and actors come
// from a Generator, whose IDs share their first half: they use Short.
func (id ID) Abbrev() string { return id.String()[:AbbrevLen] }

// AbbrevHex is Abbrev for an ID already in its hex form (as the public API
// and the autoscaler carry node IDs).
func AbbrevHex(s string) string { return s[:min(len(s), AbbrevLen)] }

// Short returns a shortened form of a Generator's ID (a task, object or
// actor) for logs and messages: the last 4 bytes of the prefix and the
// counter, enough to tell IDs apart in one cluster.
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

// Sentinel errors of Resolve.
var (
	ErrNoMatch   = errors.New("no such ID")
	ErrAmbiguous = errors.New("ambiguous ID prefix")
)

// Resolve returns the one ID among candidates that prefix names: the whole
// ID (returned even when it is not a candidate: a job that ended, say) or
// any unique prefix of its hex form, as git and docker take them. what
// names the kind in errors ("node", "job"). When the prefix is ambiguous
// the error lists the candidates, each by as many digits as tell them apart
// and then what describe (if set) says of it. The error wraps ErrNoMatch or
// ErrAmbiguous when the prefix names none or several.
func Resolve(what, prefix string, candidates iter.Seq[ID], describe func(ID) string) (ID, error) {
	p := strings.ToLower(strings.TrimSpace(prefix))
	if id, err := Parse(p); err == nil {
		return id, nil
	}
	if p == "" {
		return Nil, fmt.Errorf("no %s ID given", what)
	}
	if len(p) > 2*Size || strings.Trim(p, "0123456789abcdef") != "" {
		return Nil, fmt.Errorf("%q is not a %s ID or a prefix of one (hex digits, as status shows them)", prefix, what)
	}
	var matches []string
	for id := range candidates {
		if h := id.String(); strings.HasPrefix(h, p) && !slices.Contains(matches, h) {
			matches = append(matches, h)
		}
	}
	switch len(matches) {
	case 0:
		return Nil, &matchError{fmt.Sprintf("no %s has an ID starting with %q", what, prefix), ErrNoMatch}
	case 1:
		return Parse(matches[0])
	}
	slices.Sort(matches)
	width := AbbrevLen // enough digits to tell every candidate apart
	for i := 1; i < len(matches); i++ {
		for width < 2*Size && matches[i][:width] == matches[i-1][:width] {
			width++
		}
	}
	var b strings.Builder
	for _, h := range matches {
		b.WriteString("\n  ")
		b.WriteString(h[:width])
		if describe != nil {
			id, _ := Parse(h)
			if d := describe(id); d != "" {
				b.WriteString("  " + d)
			}
		}
	}
	return Nil, &matchError{fmt.Sprintf("%q names %d %ss; give more of the ID:%s", prefix, len(matches), what, b.String()), ErrAmbiguous}
}

// matchError is an error of Resolve: its message, and the sentinel it
// matches.
type matchError struct {
	msg  string
	kind error
}

func (e *matchError) Error() string { return e.msg }
func (e *matchError) Unwrap() error { return e.kind }

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
