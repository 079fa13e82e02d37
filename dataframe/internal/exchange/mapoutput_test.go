package exchange

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

var testSchema = types.Schema{
	{Name: "k", Type: types.Type{ID: types.Int64}},
	{Name: "s", Type: types.Type{ID: types.String}, Nullable: true},
	{Name: "d", Type: types.DecimalType(2)},
	{Name: "f", Type: types.Type{ID: types.Float64}},
	{Name: "day", Type: types.Type{ID: types.Date}},
}

// testBatch makes n rows; strings are dictionary-encoded in every other
// batch (each batch with a dictionary of its own).
func testBatch(r *rand.Rand, n int, dict bool) *coldata.Batch {
	k, d, f, day := coldata.NewVec(testSchema[0].Type, n), coldata.NewVec(testSchema[2].Type, n), coldata.NewVec(testSchema[3].Type, n), coldata.NewVec(testSchema[4].Type, n)
	s := &coldata.Vec{Type: testSchema[1].Type, Nulls: make([]bool, n)}
	var words coldata.Strings
	for i := range 7 {
		words.AppendString(fmt.Sprintf("word-%d-%d", i, r.IntN(100)))
	}
	for i := range n {
		k.I64[i] = r.Int64N(1000)
		d.I64[i] = r.Int64N(1_000_000)
		f.F64[i] = r.Float64()
		day.I32[i] = int32(r.IntN(10000))
		w := r.IntN(words.Len())
		if dict {
			s.I32 = append(s.I32, int32(w))
		} else {
			s.Str.Append(words.Get(w))
		}
		s.Nulls[i] = r.IntN(10) == 0
	}
	if dict {
		s.Dict = &words
	}
	return &coldata.Batch{N: n, Vecs: []*coldata.Vec{k, s, d, f, day}}
}

// rowKey renders row i of b for comparisons.
func rowKey(b *coldata.Batch, i int) string {
	s := "<null>"
	if !b.Vecs[1].IsNull(i) {
		s = string(b.Vecs[1].Bytes(i))
	}
	return fmt.Sprint(b.Vecs[0].I64[i], s, b.Vecs[2].I64[i], b.Vecs[3].F64[i], b.Vecs[4].I32[i])
}

// A map output routes every row to the partition the in-memory exchange
// routes it to, and each reducer reads its rows back from its segment
// alone, in place.
func TestMapOutputRoundTrip(t *testing.T) {
	key, err := expr.Resolve(expr.Col("k"), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"hash", Spec{Kind: Hash, Keys: []*expr.Expr{key}, Partitions: 7}},
		{"hash one partition", Spec{Kind: Hash, Keys: []*expr.Expr{key}, Partitions: 1}},
		{"broadcast", Spec{Kind: Broadcast}},
		{"single", Spec{Kind: Single}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
			w, err := NewMapOutputWriter(tc.spec, testSchema)
			if err != nil {
				t.Fatal(err)
			}
			w.Origin = "node-7"
			mem, err := NewMemory(tc.spec, testSchema, 1)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 9 {
				b := testBatch(r, 1+r.IntN(3000), i%2 == 0)
				if i%3 == 0 { // a selection vector
					b.Sel = []int32{0}
					for j := 2; j < b.N; j += 3 {
						b.Sel = append(b.Sel, int32(j))
					}
				}
				w.Write(b)
				if err := mem.Write(nil, 0, b); err != nil {
					t.Fatal(err)
				}
			}
			data, segs, err := w.Finish()
			if err != nil {
				t.Fatal(err)
			}
			stored := append([]byte{0xEE}, data...) // as a node stores it: a tag byte first
			parsed, err := SplitMapOutput(stored[1:])
			if err != nil || len(parsed) != len(segs) {
				t.Fatalf("SplitMapOutput: %v %v", parsed, err)
			}
			var rows, size int64
			for _, sg := range segs {
				rows += sg.Rows
				size += sg.Length
			}
			if h, err := ParseHeader(stored[1 : 1+HeaderSize]); err != nil || h.Segments != len(segs) || h.Origin != "node-7" || h.Rows != rows || h.Bytes != size {
				t.Fatalf("ParseHeader: %+v, %v; want %d segments, %d rows, %d bytes, from node-7", h, err, len(segs), rows, size)
			}
			nonEmpty, err := ParseNonEmpty(stored[1+HeaderSize:1+HeaderSize+NonEmptySize(len(segs))], len(segs))
			if err != nil {
				t.Fatal(err)
			}
			for p, seg := range parsed {
				if nonEmpty.Has(p) != (seg.Rows > 0) {
					t.Fatalf("segment %d: %d rows, the bitmap says non-empty: %v", p, seg.Rows, nonEmpty.Has(p))
				}
				if seg != segs[p] {
					t.Fatalf("segment %d: index says %+v, writer said %+v", p, seg, segs[p])
				}
				if (1+seg.Offset)%8 != 0 {
					t.Fatalf("segment %d starts at %d: not 8-byte aligned where stored", p, seg.Offset)
				}
				got, err := DecodeSegment(testSchema, stored[1+seg.Offset:1+seg.Offset+seg.Length])
				if err != nil {
					t.Fatal(err)
				}
				want, err := mem.Read(nil, p)
				if err != nil {
					t.Fatal(err)
				}
				rowsOf := func(bs []*coldata.Batch) map[string]int {
					m := map[string]int{}
					for _, b := range bs {
						for i := range b.Len() {
							m[rowKey(b, i)]++
						}
					}
					return m
				}
				g, wnt := rowsOf(got), rowsOf(want)
				if len(g) != len(wnt) {
					t.Fatalf("reducer %d: %d distinct rows, want %d", p, len(g), len(wnt))
				}
				n := int64(0)
				for k, c := range wnt {
					if g[k] != c {
						t.Fatalf("reducer %d: row %q %d times, want %d", p, k, g[k], c)
					}
					n += int64(c)
				}
				if seg.Rows != n {
					t.Fatalf("reducer %d: index says %d rows, it has %d", p, seg.Rows, n)
				}
			}
		})
	}
}

func TestMapOutputRefusesGarbage(t *testing.T) {
	key, err := expr.Resolve(expr.Col("k"), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	// A valid output of 3 segments, one of them empty (no key hashes to
	// it among these rows: found by trying).
	var valid []byte
	var empty int
	for n := 1; valid == nil; n++ {
		w, err := NewMapOutputWriter(Spec{Kind: Hash, Keys: []*expr.Expr{key}, Partitions: 3}, testSchema)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(testBatch(rand.New(rand.NewPCG(uint64(n), 9)), 2, false))
		data, segs, err := w.Finish()
		if err != nil {
			t.Fatal(err)
		}
		for p, sg := range segs {
			if sg.Rows == 0 {
				valid, empty = data, p
			}
		}
	}
	if _, err := SplitMapOutput(valid); err != nil {
		t.Fatalf("the valid output: %v", err)
	}
	bitmap := HeaderSize
	corrupt := func(f func(b []byte) []byte) []byte { return f(slices.Clone(valid)) }
	for name, data := range map[string][]byte{
		"nil":                          nil,
		"short":                        []byte("short"),
		"old magic":                    corrupt(func(b []byte) []byte { copy(b, "SHX1"); return b }),
		"header only":                  valid[:HeaderSize],
		"cut in the index":             valid[:IndexEntryOffset(3, 2)+5],
		"segment past the end":         corrupt(func(b []byte) []byte { b[IndexEntryOffset(3, 1)+7] = 0x7f; return b }),
		"bitmap marks an empty one":    corrupt(func(b []byte) []byte { b[bitmap] |= 1 << empty; return b }),
		"bitmap misses a full one":     corrupt(func(b []byte) []byte { b[bitmap] &^= 1 << ((empty + 1) % 3); return b }),
		"bitmap marks past its 3 ones": corrupt(func(b []byte) []byte { b[bitmap] |= 1 << 5; return b }),
	} {
		if _, err := SplitMapOutput(data); err == nil {
			t.Errorf("SplitMapOutput(%s) succeeded", name)
		}
	}
}

// FinishParts hands out the rows' buffers themselves: they hold the
// output's bytes until released, also while another writer of the same
// process encodes (the pools must not give them out before).
func TestMapOutputPartsStayUntilReleased(t *testing.T) {
	key, err := expr.Resolve(expr.Col("k"), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Kind: Hash, Keys: []*expr.Expr{key}, Partitions: 5}
	fill := func(seed uint64) *MapOutputWriter {
		w, err := NewMapOutputWriter(spec, testSchema)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(seed, 3))
		for i := range 6 {
			w.Write(testBatch(r, 20000, i%2 == 0))
		}
		return w
	}
	want, _, err := fill(1).Finish()
	if err != nil {
		t.Fatal(err)
	}
	parts, segs, release, err := fill(1).FinishParts()
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2*len(segs) {
		t.Fatalf("%d parts for %d segments: the rows' buffers were copied, not referenced", len(parts), len(segs))
	}
	for range 3 { // other outputs, encoded and released meanwhile
		if _, _, err := fill(2).Finish(); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	for _, p := range parts {
		got = append(got, p...)
	}
	release()
	if string(got) != string(want) {
		t.Fatalf("the parts changed before their release (%d bytes, want %d)", len(got), len(want))
	}
}

// WriteStable keeps large plain batches of a single exchange by reference
// and copies the others (a selection, few rows, or a hash exchange), the
// rows staying in the order written; a segment of strings goes through
// the copy.
func TestWriteStableKeepsOrderAndReferences(t *testing.T) {
	schema := types.Schema{{Name: "k", Type: types.Type{ID: types.Int64}}, {Name: "v", Type: types.Type{ID: types.Float64}, Nullable: true}}
	mk := func(start, n int, sel bool) *coldata.Batch {
		k, v := coldata.NewVec(schema[0].Type, n), coldata.NewVec(schema[1].Type, n)
		v.Nulls = make([]bool, n)
		for i := range n {
			k.I64[i] = int64(start + i)
			v.F64[i] = float64(start+i) / 2
			v.Nulls[i] = (start+i)%11 == 0
		}
		b := &coldata.Batch{N: n, Vecs: []*coldata.Vec{k, v}}
		if sel {
			for i := 0; i < n; i += 2 {
				b.Sel = append(b.Sel, int32(i))
			}
		}
		return b
	}
	w, err := NewMapOutputWriter(Spec{Kind: Single}, schema)
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	var first *coldata.Batch
	at := 0
	for _, tc := range []struct {
		n   int
		sel bool
	}{{5000, false}, {100, false}, {3000, true}, {4096, false}, {2000, false}, {10, false}} {
		b := mk(at, tc.n, tc.sel)
		for r := range b.Len() {
			row := r
			if b.Sel != nil {
				row = int(b.Sel[r])
			}
			want = append(want, b.Vecs[0].I64[row])
		}
		w.WriteStable(b)
		if first == nil {
			first = b
		}
		at += tc.n
	}
	parts, segs, release, err := w.FinishParts()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	referenced := false
	for _, p := range parts {
		referenced = referenced || (len(p) > 0 && unsafe.Pointer(&p[0]) == unsafe.Pointer(&first.Vecs[0].I64[0]))
	}
	if !referenced {
		t.Fatal("the first batch's keys were copied, not kept by reference")
	}
	stored := append([]byte{0xEE}, bytes.Join(parts, nil)...)
	got, err := DecodeSegment(schema, stored[1+segs[0].Offset:1+segs[0].Offset+segs[0].Length])
	if err != nil {
		t.Fatal(err)
	}
	var keys []int64
	for _, b := range got {
		for r := range b.Len() {
			keys = append(keys, b.Vecs[0].I64[r])
			if b.Vecs[1].IsNull(r) != (b.Vecs[0].I64[r]%11 == 0) || (!b.Vecs[1].IsNull(r) && b.Vecs[1].F64[r] != float64(b.Vecs[0].I64[r])/2) {
				t.Fatalf("row with key %d: value %v (null %v)", b.Vecs[0].I64[r], b.Vecs[1].F64[r], b.Vecs[1].IsNull(r))
			}
		}
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("read back %d keys, want %d in the order written", len(keys), len(want))
	}
	if int64(len(want)) != segs[0].Rows {
		t.Fatalf("segment says %d rows, want %d", segs[0].Rows, len(want))
	}
	// Decoding only the values (a scan projecting them) gives the same
	// values, in the same batches, and leaves the keys undecoded.
	only, err := DecodeSegmentColumns(schema, stored[1+segs[0].Offset:1+segs[0].Offset+segs[0].Length], []int{1})
	if err != nil {
		t.Fatal(err)
	}
	if len(only) != len(got) {
		t.Fatalf("%d batches decoding one column, %d decoding both", len(only), len(got))
	}
	for i, b := range only {
		if b.Vecs[0] != nil || b.N != got[i].N {
			t.Fatalf("batch %d: %d rows, keys decoded %v; want %d rows, keys not decoded", i, b.N, b.Vecs[0] != nil, got[i].N)
		}
		for r := range b.Len() {
			if b.Vecs[1].IsNull(r) != got[i].Vecs[1].IsNull(r) || (!b.Vecs[1].IsNull(r) && b.Vecs[1].F64[r] != got[i].Vecs[1].F64[r]) {
				t.Fatalf("batch %d, row %d: the value differs decoded alone", i, r)
			}
		}
	}
}
