// Package registry maps function names to the code that runs them. Remote
// functions are registered at package init in every binary of a job, so the
// driver and its executors hold the same registry; its fingerprint lets an
// executor refuse to run a job whose driver registered something else.
package registry

import (
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Invoker runs a function on encoded arguments and returns its result value.
type Invoker func(ctx context.Context, args [][]byte) (any, error)

// MethodInvoker runs an actor method on the actor's instance.
type MethodInvoker func(ctx context.Context, self any, args [][]byte) (any, error)

// Entry is one registered function, actor constructor or actor method.
type Entry struct {
	Name   string
	Params []reflect.Type
	Result reflect.Type
	// Invoke runs a function, or an actor constructor (its result is the
	// instance).
	Invoke Invoker
	// Method, for an actor method, runs it on an instance.
	Method MethodInvoker
	// Actor marks an actor constructor.
	Actor bool
	// Nested lists the objects (futures, actor handles) inside a result, so
	// that the result holds references on them.
	Nested func(v any) [][]byte
	// StoreResult: results go to the node's store whatever their size,
	// never inline in messages (set while registering, before any call).
	StoreResult bool
}

// Signature is the entry's Go signature, e.g. "func(int, string) []float64".
func (e *Entry) Signature() string {
	parts := make([]string, len(e.Params))
	for i, p := range e.Params {
		parts[i] = p.String()
	}
	return fmt.Sprintf("func(%s) %s", strings.Join(parts, ", "), e.Result)
}

// The process-wide registry of functions: the one piece of global mutable
// state, written by package init functions.
var functions = struct {
	sync.RWMutex
	byName map[string]*Entry
}{byName: map[string]*Entry{}}

// Register adds e. Registering a name twice is a programming error found
// at start-up, so it panics with the two signatures, as http.HandleFunc and
// flag do for duplicates.
func Register(e *Entry) {
	if e.Name == "" {
		panic("shoal: a remote function needs a name")
	}
	functions.Lock()
	defer functions.Unlock()
	if old, ok := functions.byName[e.Name]; ok {
		panic(fmt.Sprintf("shoal: remote function %q registered twice (%s and %s)", e.Name, old.Signature(), e.Signature()))
	}
	functions.byName[e.Name] = e
}

// Lookup finds a function by name.
func Lookup(name string) (*Entry, bool) {
	functions.RLock()
	defer functions.RUnlock()
	e, ok := functions.byName[name]
	return e, ok
}

// Names lists the registered names in order.
func Names() []string {
	functions.RLock()
	defer functions.RUnlock()
	names := make([]string, 0, len(functions.byName))
	for n := range functions.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Fingerprint hashes every registered name and signature.
func Fingerprint() []byte {
	h := sha256.New()
	for _, n := range Names() {
		e, _ := Lookup(n)
		fmt.Fprintf(h, "%s %s\n", n, e.Signature())
	}
	return h.Sum(nil)
}

// Describe lists up to max registered names for an error message.
func Describe(max int) string {
	names := Names()
	if len(names) == 0 {
		return "no functions"
	}
	more := ""
	if len(names) > max {
		more = fmt.Sprintf(" and %d more", len(names)-max)
		names = slices.Clip(names[:max])
	}
	return fmt.Sprintf("%d functions: %s%s", len(Names()), strings.Join(names, ", "), more)
}

// ArgError is returned by an Invoker whose argument could not be decoded
// into the parameter's type.
type ArgError struct {
	Index int // 0-based
	Want  reflect.Type
	Err   error
}

func (e *ArgError) Error() string {
	return fmt.Sprintf("argument %d: cannot decode it as %s: %v", e.Index+1, e.Want, e.Err)
}

func (e *ArgError) Unwrap() error { return e.Err }
