package shoal

import (
	"reflect"
	"sync"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/ids"
)

// Futures and actor handles may travel inside values: a task can return a
// struct holding futures, a Put can store a slice of them, an actor handle
// can be an argument. The object that carries them holds a reference on
// each (so they live as long as it does), and whoever decodes them borrows
// their objects from the head for as long as the decoded handles live.

// heldRef is implemented by *Future and *ActorHandle.
type heldRef interface {
	heldID() (ids.ID, bool)
	bind(c *client.Client)
}

var heldRefType = reflect.TypeFor[heldRef]()

// mayHold caches, per type, whether a value of it can contain a heldRef.
var mayHold sync.Map // reflect.Type -> bool

func typeMayHold(t reflect.Type) bool {
	if v, ok := mayHold.Load(t); ok {
		return v.(bool)
	}
	// Assume yes while working on t, so that recursive types terminate.
	mayHold.Store(t, true)
	r := computeMayHold(t)
	mayHold.Store(t, r)
	return r
}

func computeMayHold(t reflect.Type) bool {
	if t.Implements(heldRefType) || reflect.PointerTo(t).Implements(heldRefType) {
		return true
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return typeMayHold(t.Elem())
	case reflect.Map:
		return typeMayHold(t.Key()) || typeMayHold(t.Elem())
	case reflect.Interface:
		return true
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && typeMayHold(f.Type) {
				return true
			}
		}
	}
	return false
}

// walkRefs calls visit for every future and actor handle inside v (in the
// parts a codec encodes: exported fields, elements, map entries).
func walkRefs(v any, visit func(heldRef)) {
	if v == nil || !typeMayHold(reflect.TypeOf(v)) {
		return
	}
	walkValue(reflect.ValueOf(v), visit, map[uintptr]bool{})
}

func walkValue(v reflect.Value, visit func(heldRef), seen map[uintptr]bool) {
	if !v.IsValid() || !typeMayHold(v.Type()) {
		return
	}
	if v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
	}
	if v.CanInterface() {
		if h, ok := v.Interface().(heldRef); ok {
			visit(h)
			return
		}
	}
	if v.CanAddr() && v.Addr().CanInterface() {
		if h, ok := v.Addr().Interface().(heldRef); ok {
			visit(h)
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := v.Pointer()
		if seen[p] {
			return
		}
		seen[p] = true
		walkValue(v.Elem(), visit, seen)
	case reflect.Interface:
		walkValue(v.Elem(), visit, seen)
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkValue(v.Index(i), visit, seen)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			walkValue(it.Key(), visit, seen)
			walkValue(it.Value(), visit, seen)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			if t.Field(i).IsExported() {
				walkValue(v.Field(i), visit, seen)
			}
		}
	}
}

// nestedIDs lists the objects of the futures and actor handles inside v.
func nestedIDs(v any) [][]byte {
	var out [][]byte
	walkRefs(v, func(h heldRef) {
		if id, ok := h.heldID(); ok {
			if f, ok := h.(interface{ clientRef() *client.Ref }); ok && f.clientRef() != nil {
				f.clientRef().Export() // the head must know it before the value names it
			}
			out = append(out, id.Bytes())
		}
	})
	return out
}

// bindNested attaches the futures and actor handles decoded inside v to c,
// borrowing their objects.
func bindNested(c *client.Client, v any) {
	walkRefs(v, func(h heldRef) { h.bind(c) })
}
