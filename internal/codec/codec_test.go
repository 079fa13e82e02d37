package codec

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

type record struct {
	Name   string
	Count  int64
	Score  float64
	Tags   []string
	Counts map[string]int64
	When   time.Time
}

func TestRoundTrip(t *testing.T) {
	when := time.Date(2026, 11, 22, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name string
		in   any
		out  func() any
	}{
		{"int", 42, func() any { return new(int) }},
		{"string", "héllo", func() any { return new(string) }},
		{"float slice", []float64{1.5, -2, 3e300}, func() any { return new([]float64) }},
		{"struct", record{"a", 7, 0.5, []string{"x"}, map[string]int64{"k": 1}, when}, func() any { return new(record) }},
		{"bytes", []byte{0, 1, 2, 255}, func() any { return new([]byte) }},
		{"empty bytes", []byte{}, func() any { return new([]byte) }},
		{"map", map[string]int{"a": 1}, func() any { return new(map[string]int) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := Encode(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			out := tt.out()
			if err := Decode(data, out); err != nil {
				t.Fatal(err)
			}
			got := reflect.ValueOf(out).Elem().Interface()
			if !reflect.DeepEqual(got, tt.in) {
				t.Fatalf("got %#v, want %#v", got, tt.in)
			}
		})
	}
}

func TestRawBytesAreNotCopiedOnDecode(t *testing.T) {
	data, _ := Encode([]byte("payload"))
	var out []byte
	if err := Decode(data, &out); err != nil {
		t.Fatal(err)
	}
	if &out[0] != &data[1] {
		t.Fatal("raw decode copied the payload")
	}
	tag, payload, err := Parts([]byte("payload"))
	if err != nil || tag != TagRaw || !bytes.Equal(payload, []byte("payload")) {
		t.Fatalf("Parts = %v %q %v", tag, payload, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	intData, _ := Encode(5)
	tests := []struct {
		name      string
		data      []byte
		into      any
		malformed bool
	}{
		{"empty", nil, new(int), true},
		{"unknown tag", []byte{99, 1}, new(int), true},
		{"truncated cbor", []byte{byte(TagCBOR), 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, new([]int), true},
		{"wrong type", intData, new(string), false},
		{"raw into int", []byte{byte(TagRaw), 1}, new(int), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Decode(tt.data, tt.into)
			if err == nil {
				t.Fatal("expected an error")
			}
			if errors.Is(err, ErrMalformed) != tt.malformed {
				t.Fatalf("malformed=%v for %v", errors.Is(err, ErrMalformed), err)
			}
		})
	}
}

// A huge declared array length in a tiny message must not allocate.
func TestNoAllocationFromDeclaredLength(t *testing.T) {
	data := []byte{byte(TagCBOR), 0x9a, 0x7f, 0xff, 0xff, 0xff} // array of 2^31-1 items, no items
	allocs := testing.AllocsPerRun(10, func() {
		var v []int64
		if err := Decode(data, &v); err == nil {
			t.Fatal("decoded a truncated array")
		}
	})
	if allocs > 20 {
		t.Fatalf("%v allocations decoding a 6-byte message", allocs)
	}
}

func FuzzDecode(f *testing.F) {
	for _, v := range []any{1, "s", []int{1, 2}, map[string]any{"a": []any{1.5, "x"}}, record{Name: "r"}, []byte("raw")} {
		b, _ := Encode(v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a any
		_ = Decode(data, &a)
		var r record
		_ = Decode(data, &r)
		var s []string
		_ = Decode(data, &s)
	})
}
