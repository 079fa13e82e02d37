package codec

import (
	"errors"
	"runtime"
	"testing"
)

// cborArray is a CBOR array of n copies of item.
func cborArray(n int, item []byte) []byte {
	b := []byte{byte(TagCBOR), 0x9a, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	for range n {
		b = append(b, item...)
	}
	return b
}

// allocated reports the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecodeGrowth: hostile values, small on the wire, decoded into any,
// either decode within 40× their size or are refused before decoding
// (ErrTooLarge); honest ones decode; typed targets are not estimated.
func TestDecodeGrowth(t *testing.T) {
	const n = 1 << 18
	tests := []struct {
		name    string
		item    []byte
		refused bool
	}{
		{"nulls", []byte{0xf6}, false},      // 16×
		{"small ints", []byte{0x01}, false}, // 16×
		{"large ints", []byte{0x19, 0x10, 0x00}, false},
		{"strings", []byte{0x63, 'a', 'b', 'c'}, false},
		{"pairs", []byte{0x82, 0x01, 0x02}, false},
		{"empty arrays", []byte{0x80}, true}, // 40×
		{"empty byte strings", []byte{0x40}, true},
		{"empty maps", []byte{0xa0}, true},                // 64×
		{"one-pair maps", []byte{0xa1, 0x01, 0x01}, true}, // 117×
		{"tags", []byte{0xc1, 0x01}, false},
		{"indefinite arrays", []byte{0x9f, 0xff}, false}, // 20×
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := cborArray(n, tc.item)
			var err error
			grew := allocated(func() {
				var v any
				err = Decode(data, &v)
			})
			if refused := errors.Is(err, ErrTooLarge); refused != tc.refused || err != nil && !refused {
				t.Fatalf("refused: %v (%v), want %v", refused, err, tc.refused)
			}
			if grew >= 40*uint64(len(data)) {
				t.Fatalf("%d bytes decoded into any allocated %d bytes (%.0f×)", len(data), grew, float64(grew)/float64(len(data)))
			}
		})
	}
	t.Run("typed target", func(t *testing.T) {
		var v [][]int
		if err := Decode(cborArray(n, []byte{0x80}), &v); err != nil || len(v) != n {
			t.Fatalf("%d %v", len(v), err)
		}
	})
	t.Run("small values", func(t *testing.T) {
		var v any
		if err := Decode(cborArray(1000, []byte{0xa1, 0x01, 0x01}), &v); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("too many items", func(t *testing.T) {
		var v []int
		err := Decode([]byte{byte(TagCBOR), 0x9a, 0x10, 0, 0, 0, 0}, &v)
		if err == nil || !errors.Is(err, ErrMalformed) {
			t.Fatalf("an array of 2^28 items: %v", err)
		}
	})
}
