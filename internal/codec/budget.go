package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sync"
)

// The memory a CBOR value takes once decoded into interfaces (any,
// []any, map[string]any, ...) is not bounded by its length the way a typed
// value's is: every item becomes an interface, every array a slice header,
// every map a hash table. Measured (TestDecodeGrowth): a list of nulls
// grows 16× into []any, of empty arrays 40×, of empty maps 64×, of
// one-pair maps 117×. A value whose decoded form is estimated (decodedCost)
// past max(decodeFloor, maxGrowth × its length) is refused before it is
// decoded. Typed targets, whose growth the Go types bound (at most 8× for
// []int64 of small integers), are not estimated, nor are values too short
// to reach decodeFloor at any growth.
const (
	maxGrowth   = 32
	decodeFloor = 1 << 20
	// worstPerByte bounds the decoded bytes per encoded byte of any item
	// (a one-pair map: 3 bytes, about 390 decoded).
	worstPerByte = 128
)

// ErrTooLarge is wrapped by the error of a value whose decoded form would
// take far more memory than its encoding.
var ErrTooLarge = errors.New("value would grow too much when decoded")

// checkGrowth refuses data when decoding it into the value v points to
// could take more than its budget.
func checkGrowth(data []byte, v any) error {
	if len(data)*worstPerByte <= decodeFloor || !holdsInterface(reflect.TypeOf(v)) {
		return nil
	}
	budget := max(decodeFloor, maxGrowth*int64(len(data)))
	cost, _, ok := decodedCost(data, 0, 0, budget)
	if ok && cost > budget {
		return fmt.Errorf("%w: %d bytes of CBOR would take over %d bytes decoded into %T (the limit is %d× the encoding); decode into a typed value (a struct, a typed slice or map), which holds it compactly",
			ErrTooLarge, len(data), budget, v, maxGrowth)
	}
	return nil
}

var interfaceTypes sync.Map // reflect.Type -> bool

// holdsInterface reports whether values of type t may hold interfaces
// (where decoded CBOR grows most).
func holdsInterface(t reflect.Type) bool {
	if t == nil {
		return true
	}
	if v, ok := interfaceTypes.Load(t); ok {
		return v.(bool)
	}
	r := holdsInterfaceWalk(t, map[reflect.Type]bool{})
	interfaceTypes.Store(t, r)
	return r
}

func holdsInterfaceWalk(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return holdsInterfaceWalk(t.Elem(), seen)
	case reflect.Map:
		return holdsInterfaceWalk(t.Key(), seen) || holdsInterfaceWalk(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsInterfaceWalk(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}

// decodedCost estimates, from above, the bytes the CBOR item at data[off:]
// takes decoded into interfaces, and returns the offset after it. It stops
// early (ok true, cost over budget) once the estimate passes budget, and
// reports ok false for input that is not well formed (the decoder then
// says what is wrong). Per item: an interface (16 bytes), plus a boxed
// number (8), a string's or byte slice's header and bytes, a slice header
// (24) for an array, a hash table for a map (48, and 40 per pair with at
// least a group of 8), a cbor.Tag (24).
func decodedCost(data []byte, off, depth int, budget int64) (cost int64, next int, ok bool) {
	if depth > maxNestedLevels || off >= len(data) {
		return 0, off, false
	}
	major, info := data[off]>>5, data[off]&0x1f
	off++
	cost = 16
	if info == 31 { // indefinite length
		switch major {
		case 2, 3, 4, 5:
		default:
			return 0, off, false
		}
		c, n, off, ok := itemsCost(data, off, depth, -1, budget-cost-48)
		cost += 48 + c
		if ok && major == 5 {
			cost += 40 * max(int64(n)/2, 8)
		}
		return cost, off, ok
	}
	arg, off, ok := readArg(data, off, info)
	if !ok {
		return 0, off, false
	}
	switch major {
	case 0, 1:
		if arg > 255 || major == 1 {
			cost += 8
		}
		return cost, off, true
	case 2, 3:
		if arg > uint64(len(data)-off) {
			return 0, off, false
		}
		return cost + 24 + int64(arg), off + int(arg), true
	case 4, 5:
		items := arg
		if major == 5 {
			if arg > uint64(len(data)) {
				return 0, off, false
			}
			items = 2 * arg
			cost += 48 + 40*int64(max(arg, 8))
		} else {
			cost += 24
		}
		if items > uint64(len(data)-off) { // (every item takes a byte at least)
			return 0, off, false
		}
		c, _, off, ok := itemsCost(data, off, depth, int(items), budget-cost)
		return cost + c, off, ok
	case 6:
		c, o, ok := decodedCost(data, off, depth+1, budget)
		return cost + 24 + c, o, ok
	default: // simple values and floats
		if info >= 25 {
			cost += 8
		}
		return cost, off, true
	}
}

// itemsCost sums decodedCost over the items of a container at data[off:]:
// count of them, or with count < 0 up to a break byte (an indefinite
// length), which it consumes. It returns how many items it read and stops
// early once the sum passes budget.
func itemsCost(data []byte, off, depth, count int, budget int64) (cost int64, n, next int, ok bool) {
	for ; count < 0 || n < count; n++ {
		if count < 0 {
			if off >= len(data) {
				return 0, n, off, false
			}
			if data[off] == 0xff {
				return cost, n, off + 1, true
			}
		}
		c, o, ok := decodedCost(data, off, depth+1, budget)
		if !ok {
			return 0, n, o, false
		}
		cost, off = cost+c, o
		if cost > budget {
			return cost, n, off, true
		}
	}
	return cost, n, off, true
}

// readArg reads the argument of an item head whose additional information
// is info, from data[off:].
func readArg(data []byte, off int, info byte) (uint64, int, bool) {
	var n int
	switch {
	case info < 24:
		return uint64(info), off, true
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	default:
		return 0, off, false
	}
	if len(data)-off < n {
		return 0, off, false
	}
	var b [8]byte
	copy(b[8-n:], data[off:off+n])
	return binary.BigEndian.Uint64(b[:]), off + n, true
}
