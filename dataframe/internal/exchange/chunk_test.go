package exchange

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// A vec of n random rows of type t: with nulls, as a constant, or plain.
func randomVec(r *rand.Rand, t types.Type, n int, nulls, constant bool) *coldata.Vec {
	m := n
	if constant {
		m = 1
	}
	v := coldata.NewVec(t, m)
	for i := range m {
		switch t.ID {
		case types.Int64, types.Decimal:
			v.I64[i] = r.Int64N(1 << 40)
		case types.Float64:
			v.F64[i] = r.Float64()
		case types.Int32, types.Date:
			v.I32[i] = r.Int32()
		}
	}
	v.Const = constant
	if nulls {
		v.Nulls = make([]bool, m)
		for i := range v.Nulls {
			v.Nulls[i] = r.IntN(4) == 0
		}
	}
	return v
}

// The per-type hash loops give the hashes of the row-by-row loop.
func TestHashFastMatchesRows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, id := range []types.ID{types.Int64, types.Decimal, types.Float64, types.Int32, types.Date} {
		typ := types.Type{ID: id}
		if id == types.Decimal {
			typ = types.DecimalType(2)
		}
		v := randomVec(r, typ, 1000, false, false)
		h := &Hasher{dict: map[*coldata.Strings][]uint64{}}
		fast, rows := make([]uint64, 1000), make([]uint64, 1000)
		if !h.hashFast(fast, v, nil, 1) {
			t.Fatalf("%v: no fast loop", id)
		}
		h.hashRows(rows, v, nil, 1)
		if !slices.Equal(fast, rows) {
			t.Fatalf("%v: the fast loop's hashes differ", id)
		}
	}
	var words coldata.Strings
	for i := range 10 {
		words.AppendString(fmt.Sprint("w", i))
	}
	v := &coldata.Vec{Type: types.Type{ID: types.String}, Dict: &words, I32: make([]int32, 500)}
	for i := range v.I32 {
		v.I32[i] = r.Int32N(10)
	}
	h := &Hasher{dict: map[*coldata.Strings][]uint64{}}
	fast, rows := make([]uint64, 500), make([]uint64, 500)
	if !h.hashFast(fast, v, nil, 2) {
		t.Fatal("dictionary strings: no fast loop")
	}
	h.hashRows(rows, v, nil, 2)
	if !slices.Equal(fast, rows) {
		t.Fatal("dictionary strings: the fast loop's hashes differ")
	}
}

// Fixed-width columns that get nulls or constants part way through a
// chunk, and reducers whose rows span many chunks: each reducer reads back
// exactly the rows the in-memory exchange gives it, in the same order.
func TestMapOutputChunks(t *testing.T) {
	s := types.Schema{
		{Name: "k", Type: types.Type{ID: types.Int64}, Nullable: true},
		{Name: "f", Type: types.Type{ID: types.Float64}, Nullable: true},
		{Name: "d", Type: types.DecimalType(2), Nullable: true},
		{Name: "i", Type: types.Type{ID: types.Int32}, Nullable: true},
	}
	key, err := expr.Resolve(expr.Col("k"), s)
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []Spec{{Kind: Hash, Keys: []*expr.Expr{key}, Partitions: 3}, {Kind: Single}} {
		t.Run(string(spec.Kind), func(t *testing.T) {
			r := rand.New(rand.NewPCG(5, 6))
			w, err := NewMapOutputWriter(spec, s)
			if err != nil {
				t.Fatal(err)
			}
			mem, err := NewMemory(spec, s, 1)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 40 {
				n := 1 + r.IntN(4096)
				b := &coldata.Batch{N: n}
				for c, f := range s {
					b.Vecs = append(b.Vecs, randomVec(r, f.Type, n, i > 10 && r.IntN(3) == 0, c > 0 && i > 20 && r.IntN(4) == 0))
				}
				if i%5 == 0 {
					for j := 0; j < n; j += 2 {
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
			stored := append([]byte{0}, data...)
			render := func(bs []*coldata.Batch) []string {
				var out []string
				for _, b := range bs {
					for k := range b.Len() {
						i := k
						if b.Sel != nil {
							i = int(b.Sel[k])
						}
						row := ""
						for _, v := range b.Vecs {
							j := i
							if v.Const {
								j = 0
							}
							switch {
							case v.IsNull(j):
								row += "null "
							case v.I64 != nil:
								row += fmt.Sprint(v.I64[j], " ")
							case v.F64 != nil:
								row += fmt.Sprint(v.F64[j], " ")
							default:
								row += fmt.Sprint(v.I32[j], " ")
							}
						}
						out = append(out, row)
					}
				}
				return out
			}
			for p, seg := range segs {
				got, err := DecodeSegment(s, stored[1+seg.Offset:1+seg.Offset+seg.Length])
				if err != nil {
					t.Fatal(err)
				}
				want, _ := mem.Read(nil, p)
				g, wn := render(got), render(want)
				if !slices.Equal(g, wn) {
					t.Fatalf("reducer %d: %d rows read back, want %d (or they differ)", p, len(g), len(wn))
				}
				if int64(len(g)) != seg.Rows {
					t.Fatalf("reducer %d: index says %d rows, read %d", p, seg.Rows, len(g))
				}
			}
		})
	}
}
